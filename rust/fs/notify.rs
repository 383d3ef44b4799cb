// SPDX-License-Identifier: GPL-2.0

//! The server's notifications, as mainline's `fuse_reverse_inval_inode`
//! and `fuse_reverse_inval_entry`: INVAL_INODE (attributes, and cached data
//! of a range: in write-back mode dirty data is written back first, never
//! dropped), INVAL_ENTRY (a name is stale, or only expired) and DELETE (a
//! name is gone: the dentry turns negative, the inode loses its link),
//! STORE (data into the page cache) and RETRIEVE (cached data back to the
//! server in a NOTIFY_REPLY).
//!
//! They run in the server's write(2), while the mount lives: unmounting
//! waits for one in progress ([`TypedLink::with_sb`]).

use super::{inode as finode, writeback, FuseWb, Inode, SuperBlock};
use crate::abi;
use crate::conn::{Connection, Data, Notifications};
use crate::proto::{
    notify::{self as wire, Notification},
    pod,
};
use crate::vfs::{self, dentry::Dentry, folio::LockedFolio, inode::Kind, sb::TypedLink};
use kernel::prelude::*;
use kernel::sync::Arc;

/// The notification handler of one mount.
pub(crate) struct Notifier {
    link: TypedLink<FuseWb>,
}

impl Notifier {
    /// The handler of the mount of `sb`.
    pub(crate) fn new(sb: &SuperBlock) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Notifier {
                link: sb.typed_link(),
            },
            GFP_KERNEL,
        )?)
    }
}

impl Notifications for Notifier {
    fn notify(&self, conn: &Connection, n: Notification<'_>) -> Result {
        let done = self.link.with_sb(|sb| match n {
            Notification::InvalInode { nodeid, off, len } => {
                inval_inode(conn, sb, nodeid, off, len)
            }
            Notification::InvalEntry {
                parent,
                name,
                expire_only,
            } => inval_entry(conn, sb, parent, name, None, expire_only),
            Notification::Delete {
                parent,
                child,
                name,
            } => inval_entry(conn, sb, parent, name, Some(child), false),
            // Handled by the connection itself.
            Notification::Poll { .. } => Ok(()),
            Notification::Store {
                nodeid,
                offset,
                data,
            } => store(conn, sb, nodeid, offset, data),
            Notification::Retrieve {
                unique,
                nodeid,
                offset,
                size,
            } => retrieve(conn, sb, unique, nodeid, offset, size),
        });
        // Unmounted meanwhile (the connection ends with the mount): as
        // after the end of the connection.
        done.unwrap_or(Err(ENODEV))
    }
}

/// INVAL_INODE: the attributes of node `nodeid` are stale, and the cached
/// data of the range [`wire::inval_range`] gives.
fn inval_inode(conn: &Connection, sb: &SuperBlock, nodeid: u64, off: i64, len: i64) -> Result {
    let inode = vfs::inode::ilookup(sb, nodeid).ok_or(ENOENT)?;
    inode.data().invalidate_attrs(conn);
    // getfacl reads the VFS's cached ACL without looking at the attributes.
    super::acl::forget_cached(conn, &inode);
    let Some((start, end)) = wire::inval_range(off, len) else {
        return Ok(());
    };
    match inode.kind() {
        // A cached symlink target (CACHE_SYMLINKS) is read again.
        Kind::Link => {
            inode.invalidate_pages();
            return Ok(());
        }
        Kind::Reg => {}
        _ => return Ok(()),
    }
    if writeback::is_wb(&inode) {
        // Dirty data is newer than the server's: it goes there first, in
        // batches (what is still dirty then is laundered page by page).
        let _ = inode.write_and_wait_range(start, end);
        let _ = writeback::wait_all(&inode);
    }
    inode.invalidate_range(start, end);
    Ok(())
}

/// INVAL_ENTRY (`child` None) or DELETE of `name` in directory `parent`.
fn inval_entry(
    conn: &Connection,
    sb: &SuperBlock,
    parent: u64,
    name: &[u8],
    child: Option<u64>,
    expire_only: bool,
) -> Result {
    let dir = vfs::inode::ilookup(sb, parent).ok_or(ENOENT)?;
    let _locked = dir.lock_parent();
    if dir.kind() != Kind::Dir {
        return Err(ENOTDIR);
    }
    let alias = Dentry::alias_of(&dir).ok_or(ENOENT)?;
    let entry = alias.cached_child(name)?.ok_or(ENOENT)?;
    drop(alias);
    // The directory changed: its attributes are stale.
    dir.data().invalidate_attrs(conn);
    if !expire_only {
        entry.invalidate();
    }
    entry.set_expiry(0);
    let (Some(child), Some(inode)) = (child, entry.inode()) else {
        return Ok(());
    };
    delete(conn, &entry, inode, child)
}

/// DELETE of the positive `entry` whose node should be `child`.
fn delete(conn: &Connection, entry: &Dentry<FuseWb>, inode: &Inode, child: u64) -> Result {
    {
        let locked = inode.lock();
        if inode.data().nodeid() != child {
            return Err(ENOENT);
        }
        entry.delete_by_server(&locked)?;
        inode.data().invalidate_attrs(conn);
    }
    entry.make_negative();
    Ok(())
}

/// STORE: `data` goes into the page cache of node `nodeid` at `offset`,
/// as mainline's `fuse_notify_store`: the size grows to cover it, a folio
/// it fills (or fills up to the end of the file) becomes valid.
fn store(conn: &Connection, sb: &SuperBlock, nodeid: u64, offset: u64, data: &[u8]) -> Result {
    let inode = vfs::inode::ilookup(sb, nodeid).ok_or(ENOENT)?;
    if inode.kind() != Kind::Reg {
        return Err(EINVAL);
    }
    // Both fit in i64: checked by `proto::notify`.
    let start = i64::try_from(offset).map_err(|_| EINVAL)?;
    let len = i64::try_from(data.len()).map_err(|_| EINVAL)?;
    let end = start.checked_add(len).ok_or(EINVAL)?;
    if end > inode.size() {
        finode::stored(&inode, conn, end);
    }
    let file_size = inode.size().max(end);
    let mut pos = start;
    let mut rest = data;
    while !rest.is_empty() {
        let index = u64::try_from(pos).map_err(|_| EINVAL)? / vfs::PAGE_SIZE as u64;
        let mut folio = LockedFolio::grab(&inode, index)?;
        let off = usize::try_from(pos - folio.pos()).map_err(|_| EINVAL)?;
        let n = folio.write_at(off, rest);
        if n == 0 {
            return Err(EINVAL);
        }
        let n64 = i64::try_from(n).map_err(|_| EINVAL)?;
        if !folio.is_uptodate() && off == 0 && (n == folio.size() || pos + n64 == file_size) {
            folio.zero(n, folio.size() - n);
            folio.mark_uptodate();
        }
        drop(folio);
        pos += n64;
        rest = rest.get(n..).unwrap_or_default();
    }
    Ok(())
}

/// RETRIEVE: up to `size` bytes (at most `max_write`, not past the end of
/// the file) of node `nodeid`'s cached data from `offset`, as far as the
/// page cache holds it valid without a gap, go back to the server in a
/// NOTIFY_REPLY with its `unique`, as mainline's `fuse_retrieve`.
fn retrieve(
    conn: &Connection,
    sb: &SuperBlock,
    unique: u64,
    nodeid: u64,
    offset: u64,
    size: u32,
) -> Result {
    let inode = vfs::inode::ilookup(sb, nodeid).ok_or(ENOENT)?;
    let file_size = u64::try_from(inode.size()).unwrap_or(0);
    let want = u64::from(size.min(conn.params().max_write));
    let num = file_size.saturating_sub(offset).min(want);
    let mut data = Data::new();
    let mut got: u64 = 0;
    while got < num {
        let pos = offset + got;
        let Some(folio) = LockedFolio::lookup(&inode, pos / vfs::PAGE_SIZE as u64) else {
            break;
        };
        if !folio.is_uptodate() {
            break;
        }
        let start = pos.saturating_sub(u64::try_from(folio.pos()).unwrap_or(0));
        let start = usize::try_from(start).map_err(|_| EINVAL)?;
        let n = usize::try_from(num - got).unwrap_or(usize::MAX);
        let mut chunk = KVVec::new();
        folio.append_range(start, n, &mut chunk)?;
        drop(folio);
        if chunk.is_empty() {
            break;
        }
        got += chunk.len() as u64;
        data.push(chunk, GFP_KERNEL)?;
    }
    let arg = abi::fuse_notify_retrieve_in {
        offset,
        // CAST: at most `max_write`, a u32.
        size: got as u32,
        ..Default::default()
    };
    conn.send_oneway(
        abi::fuse_opcode_FUSE_NOTIFY_REPLY,
        unique,
        nodeid,
        &[pod::bytes_of(&arg)],
        data,
    )
}
