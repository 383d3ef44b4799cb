// SPDX-License-Identifier: GPL-2.0

//! Names and metadata: LOOKUP and dentry revalidation, GETATTR, permission
//! checks and ACCESS, READLINK, STATFS. (Making and removing names is in
//! `names`.)

use super::inode;
use super::names::name_z;
use super::{Dentry, Inode};
use crate::abi;
use crate::conn::Connection;
use crate::proto::{pod, reply::ReplyKind, time};
use crate::vfs::inode::flags::{
    MAY_ACCESS, MAY_CHDIR, MAY_EXEC, MAY_NOT_BLOCK, MAY_READ, MAY_WRITE,
};
use crate::vfs::{self, cred, inode::Kind};
use kernel::prelude::*;
use kernel::types::ARef;

/// Whether the current task may use this mount at all: anyone with
/// `allow_other`, otherwise only the mounting user (all of its ids), as
/// mainline's `fuse_allow_current_process`.
pub(crate) fn allow_current(conn: &Connection) -> bool {
    if conn.opts.allow_other {
        return conn.user_ns.current_in();
    }
    cred::current_is_exactly(conn.user_id, conn.group_id)
}

/// Sends LOOKUP of `name` in directory `parent` and returns the entry
/// (node id 0 for a negative entry with a timeout).
fn lookup_entry(conn: &Connection, parent: u64, name: &[u8]) -> Result<abi::fuse_entry_out> {
    let z = name_z(name)?;
    let reply = conn.request(
        abi::fuse_opcode_FUSE_LOOKUP,
        parent,
        &[&z],
        ReplyKind::Entry,
    )?;
    pod::read_exact::<abi::fuse_entry_out>(&reply).ok_or(EIO)
}

/// `inode_operations.lookup`.
pub(crate) fn lookup(dir: &Inode, dentry: &Dentry) -> Result<Option<ARef<Dentry>>> {
    dir.data().check()?;
    let conn = dir.sb().data();
    let name = dentry.name();
    let dirops = inode::lock_dir(dir, &conn)?;
    let version = conn.attr_version();
    let (entry, inode) = match lookup_entry(&conn, dir.data().nodeid(), name) {
        Ok(e) if e.nodeid == 0 => (Some(e), None),
        Ok(e) => {
            let i = inode::iget_entry(dir.sb(), &e, version);
            match i {
                Ok(i) => (Some(e), Some(i)),
                Err(err) => {
                    // The server counted this lookup: give it back.
                    conn.forget(e.nodeid, 1);
                    return Err(err);
                }
            }
        }
        // A plain ENOENT is a negative entry, cached already expired: its
        // next lookup asks the server again (as mainline).
        Err(e) if e == ENOENT => (None, None),
        Err(e) => return Err(e),
    };
    drop(dirops);
    let alias = dentry.splice(inode)?;
    let d = alias.as_deref().unwrap_or(dentry);
    let expiry = entry.map_or(0, |e| {
        time::expiry(vfs::jiffies(), e.entry_valid, e.entry_valid_nsec, vfs::HZ)
    });
    d.set_expiry(expiry);
    Ok(alias)
}

/// `dentry_operations.d_revalidate`: an entry within its timeout is valid;
/// an expired one is looked up again and stays valid if the server still
/// names the same node.
pub(crate) fn revalidate(dentry: &Dentry, rcu: bool, flags: u32) -> Result<bool> {
    let inode = dentry.inode();
    if let Some(i) = inode {
        if i.data().is_bad() {
            return Ok(false);
        }
    }
    let force = flags
        & (vfs::dentry::flags::LOOKUP_EXCL
            | vfs::dentry::flags::LOOKUP_REVAL
            | vfs::dentry::flags::LOOKUP_RENAME_TARGET)
        != 0;
    if !force && time::is_valid(dentry.expiry(), vfs::jiffies()) {
        return Ok(true);
    }
    // Negative dentries are always looked up again.
    let Some(inode) = inode else { return Ok(false) };
    if rcu {
        return Err(ECHILD);
    }
    let conn = inode.sb().data();
    let parent = dentry.parent();
    let Some(pdir) = parent.inode() else {
        return Ok(false);
    };
    let version = conn.attr_version();
    let e = match lookup_entry(&conn, pdir.data().nodeid(), dentry.name()) {
        Ok(e) => e,
        Err(e) if e == ENOMEM || e == EINTR => return Err(e),
        Err(_) => return Ok(false),
    };
    if e.nodeid == 0 {
        return Ok(false);
    }
    if e.nodeid != inode.data().nodeid() {
        conn.forget(e.nodeid, 1);
        return Ok(false);
    }
    inode.data().inc_nlookup();
    if !crate::proto::attr::same_type(e.attr.mode, inode.mode()) {
        super::inode::make_bad(inode);
        return Ok(false);
    }
    inode::change_attributes(inode, &e.attr, e.attr_valid, e.attr_valid_nsec, version);
    dentry.set_expiry(time::expiry(
        vfs::jiffies(),
        e.entry_valid,
        e.entry_valid_nsec,
        vfs::HZ,
    ));
    Ok(true)
}

/// Sends GETATTR and applies the reply to `inode`.
pub(crate) fn refresh(inode: &Inode) -> Result {
    refresh_by(inode, None)
}

/// As `refresh`, for a regular file through its open file `ff` when there
/// is one with a server handle: FUSE_GETATTR_FH with the handle (as
/// mainline's fuse_update_attributes), which a server may need for a file
/// unlinked while open.
pub(crate) fn refresh_by(inode: &Inode, ff: Option<&super::file::FuseFile>) -> Result {
    let conn = inode.sb().data();
    let version = conn.attr_version();
    let mut arg = abi::fuse_getattr_in::default();
    if let Some(ff) = ff.filter(|f| !f.no_release() && inode.kind() == Kind::Reg) {
        arg.getattr_flags = abi::FUSE_GETATTR_FH;
        arg.fh = ff.fh;
    }
    let reply = conn.request(
        abi::fuse_opcode_FUSE_GETATTR,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Attr,
    )?;
    let out = pod::read_exact::<abi::fuse_attr_out>(&reply).ok_or(EIO)?;
    if !crate::proto::attr::same_type(out.attr.mode, inode.mode()) {
        // The node changed type under us: the inode is stale.
        super::inode::make_bad(inode);
        return Err(EIO);
    }
    inode::change_attributes(
        inode,
        &out.attr,
        out.attr_valid,
        out.attr_valid_nsec,
        version,
    );
    Ok(())
}

/// Refreshes the attributes if their timeout expired (through the open
/// file `ff`, if given: see `refresh_by`).
pub(crate) fn update_attributes(inode: &Inode, ff: Option<&super::file::FuseFile>) -> Result {
    inode.data().check()?;
    if inode.data().attr_valid() {
        return Ok(());
    }
    refresh_by(inode, ff)
}

/// `inode_operations.getattr`: fresh attributes into the inode (the glue
/// then fills `stat` from it).
pub(crate) fn getattr(inode: &Inode, mask: u32, flags: u32) -> Result {
    let conn = inode.sb().data();
    if !allow_current(&conn) {
        return Err(EACCES);
    }
    inode.data().check()?;
    let sync =
        flags & vfs::inode::flags::AT_STATX_SYNC_TYPE == vfs::inode::flags::AT_STATX_FORCE_SYNC;
    let dont =
        flags & vfs::inode::flags::AT_STATX_SYNC_TYPE == vfs::inode::flags::AT_STATX_DONT_SYNC;
    // A READ may have changed atime on the server (mainline's inval_mask).
    let stale = !inode.data().attr_valid()
        || (mask & vfs::inode::flags::STATX_ATIME != 0 && inode.data().atime_stale());
    if sync || (!dont && stale) {
        refresh(inode)?;
    }
    Ok(())
}

/// ACCESS, unless the server said ENOSYS once (then everything is allowed,
/// as mainline).
fn access(inode: &Inode, mask: i32) -> Result {
    let conn = inode.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_ACCESS) {
        return Ok(());
    }
    let arg = abi::fuse_access_in {
        mask: (mask & (MAY_READ | MAY_WRITE | MAY_EXEC)) as u32,
        padding: 0,
    };
    conn.request_optional(
        abi::fuse_opcode_FUSE_ACCESS,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        None,
    )
}

/// `inode_operations.permission`, as mainline's `fuse_permission`.
pub(crate) fn permission(inode: &Inode, mask: i32) -> Result {
    inode.data().check()?;
    let conn = inode.sb().data();
    if !allow_current(&conn) {
        return Err(EACCES);
    }
    let nonblock = mask & MAY_NOT_BLOCK != 0;
    let mut refreshed = false;
    let is_reg = inode.kind() == Kind::Reg;
    if (conn.default_permissions() || (mask & MAY_EXEC != 0 && is_reg))
        && !inode.data().attr_valid()
    {
        if nonblock {
            return Err(ECHILD);
        }
        refresh(inode)?;
        refreshed = true;
    }
    if conn.default_permissions() {
        let r = inode.generic_permission(mask);
        if r == Err(EACCES) && !refreshed {
            if nonblock {
                return Err(ECHILD);
            }
            refresh(inode)?;
            return inode.generic_permission(mask);
        }
        return r;
    }
    if mask & (MAY_ACCESS | MAY_CHDIR) != 0 {
        if nonblock {
            return Err(ECHILD);
        }
        return access(inode, mask);
    }
    if mask & MAY_EXEC != 0 && is_reg && inode.mode() & 0o111 == 0 {
        if refreshed {
            return Err(EACCES);
        }
        if nonblock {
            return Err(ECHILD);
        }
        refresh(inode)?;
        if inode.mode() & 0o111 == 0 {
            return Err(EACCES);
        }
    }
    Ok(())
}

/// READLINK: the target, NUL-terminated, in a kmalloc'ed buffer.
pub(crate) fn readlink(inode: &Inode) -> Result<KVec<u8>> {
    inode.data().check()?;
    let conn = inode.sb().data();
    let max = vfs::PAGE_SIZE - 1;
    let reply = conn.request(
        abi::fuse_opcode_FUSE_READLINK,
        inode.data().nodeid(),
        &[],
        ReplyKind::Data { max },
    );
    inode::invalidate_atime(inode);
    let reply = reply?;
    if reply.is_empty() || reply.contains(&0) {
        return Err(EIO);
    }
    let mut t = KVec::with_capacity(reply.len() + 1, GFP_KERNEL)?;
    t.extend_from_slice(&reply, GFP_KERNEL)?;
    t.push(0, GFP_KERNEL)?;
    Ok(t)
}

/// STATFS of the filesystem `dentry` is on.
pub(crate) fn statfs(dentry: &Dentry) -> Result<abi::fuse_kstatfs> {
    let inode = dentry.inode().ok_or(EIO)?;
    let conn = inode.sb().data();
    if !allow_current(&conn) {
        return Ok(abi::fuse_kstatfs {
            bsize: 512,
            namelen: 255,
            ..Default::default()
        });
    }
    let reply = conn.request(
        abi::fuse_opcode_FUSE_STATFS,
        inode.data().nodeid(),
        &[],
        ReplyKind::Statfs,
    )?;
    Ok(pod::read_exact::<abi::fuse_statfs_out>(&reply)
        .ok_or(EIO)?
        .st)
}
