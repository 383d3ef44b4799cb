// SPDX-License-Identifier: GPL-2.0

//! The server's notifications, as mainline's `fuse_reverse_inval_inode`
//! and `fuse_reverse_inval_entry`: INVAL_INODE (attributes, and cached data
//! of a range: in write-back mode dirty data is written back first, never
//! dropped), INVAL_ENTRY (a name is stale, or only expired) and DELETE (a
//! name is gone: the dentry turns negative, the inode loses its link).
//!
//! They run in the server's write(2), while the mount lives: unmounting
//! waits for one in progress ([`TypedLink::with_sb`]).

use super::{writeback, FuseWb, Inode, SuperBlock};
use crate::conn::{Connection, Notifications};
use crate::proto::notify::{self as wire, Notification};
use crate::vfs::{self, dentry::Dentry, inode::Kind, sb::TypedLink};
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
            Notification::Store { .. } | Notification::Retrieve { .. } => Err(vfs::enosys()),
        });
        // Unmounted meanwhile: nothing is cached any more.
        done.unwrap_or(Err(ENOENT))
    }
}

/// INVAL_INODE: the attributes of node `nodeid` are stale, and the cached
/// data of the range [`wire::inval_range`] gives.
fn inval_inode(conn: &Connection, sb: &SuperBlock, nodeid: u64, off: i64, len: i64) -> Result {
    let inode = vfs::inode::ilookup(sb, nodeid).ok_or(ENOENT)?;
    inode.data().invalidate_attrs(conn);
    let Some((start, end)) = wire::inval_range(off, len) else {
        return Ok(());
    };
    if inode.kind() != Kind::Reg {
        return Ok(());
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
        entry.delete_by_server(inode, &locked)?;
        inode.data().invalidate_attrs(conn);
    }
    entry.make_negative();
    Ok(())
}
