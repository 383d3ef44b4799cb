// SPDX-License-Identifier: GPL-2.0

//! SETATTR: truncate, chmod, chown, utimes, and (write-back mode) flushing
//! the kernel-owned c/mtime to the server.

use super::{inode as finode, writeback};
use crate::abi;
use crate::conn::Hold;
use crate::proto::{
    attr, pod,
    reply::ReplyKind,
    write::{self as pw, SetAttr, SetTime},
};
use crate::vfs::{
    self,
    inode::{Iattr, Inode},
};
use kernel::prelude::*;

/// Sends SETATTR; `hold` (a drain of writeback) lasts until the server
/// answered, even if the caller is killed first.
fn send(inode: &Inode, sa: &SetAttr, hold: Option<Hold>) -> Result<abi::fuse_attr_out> {
    let conn = inode.sb().conn();
    let params = conn.params();
    let mut sa = *sa;
    let gran = params.time_gran;
    if let SetTime::At(s, n) = sa.mtime {
        let (s, n) = pw::round_time(s, n, gran);
        sa.mtime = SetTime::At(s, n);
    }
    if let Some((s, n)) = sa.ctime {
        sa.ctime = Some(pw::round_time(s, n, gran));
    }
    let arg = pw::setattr_in(&sa, params.minor);
    let (op, nodeid) = (abi::fuse_opcode_FUSE_SETATTR, inode.fuse().nodeid());
    let args = [pod::bytes_of(&arg)];
    let reply = match hold {
        Some(h) => conn.request_holding(op, nodeid, &args, ReplyKind::Attr, h),
        None => conn.request(op, nodeid, &args, ReplyKind::Attr),
    }?;
    let out = pod::read_exact::<abi::fuse_attr_out>(&reply).ok_or(EIO)?;
    if out.attr.mode & attr::S_IFMT != inode.mode() & attr::S_IFMT {
        inode.make_bad();
        return Err(EIO);
    }
    Ok(out)
}

/// `inode_operations.setattr` (after `setattr_prepare`).
pub(crate) fn setattr(inode: &Inode, ia: &Iattr<'_>) -> Result {
    inode.fuse().check()?;
    let conn = inode.sb().conn();
    let wb = writeback::is_wb(inode);
    let mut sa = SetAttr::NONE;
    sa.mode = ia.mode();
    sa.uid = ia.uid().map(|u| conn.user_ns.uid_of(u));
    sa.gid = ia.gid().map(|g| conn.user_ns.gid_of(g));
    // CAST: the VFS checked the new size is non-negative.
    sa.size = ia.size().map(|s| s as u64);
    sa.atime = ia.atime();
    sa.mtime = ia.mtime();
    sa.fh = ia.file().and_then(|f| f.fuse()).map(|ff| ff.fh);
    if wb && sa.mtime == SetTime::Now {
        // The kernel owns the times: set them itself (as mainline).
        let now = inode.now();
        sa.mtime = SetTime::At(now.0, now.1);
    }
    if wb {
        // Local times that have not reached the server ride along, so a
        // chmod after a write is one SETATTR.
        if sa.mtime == SetTime::Omit {
            let m = inode.mtime();
            sa.mtime = SetTime::At(m.0, m.1);
        }
        sa.ctime = Some(inode.now());
    }
    let truncate = sa.size.is_some();
    let drain = if truncate && wb {
        Some(writeback::drain(inode)?)
    } else {
        None
    };
    let version = conn.attr_version();
    let out = send(inode, &sa, drain.clone().map(|d| d as Hold))?;
    finode::change_attributes(
        inode,
        &out.attr,
        out.attr_valid,
        out.attr_valid_nsec,
        version,
    );
    if wb {
        if let SetTime::At(s, n) = sa.mtime {
            inode.set_mtime((s, n));
        }
        if let Some(c) = sa.ctime {
            inode.set_ctime(c);
        }
    }
    if let Some(size) = ia.size() {
        if wb && size > inode.size() {
            writeback::zero_past_eof(inode, inode.size());
        }
        inode.truncate_setsize(size);
    }
    drop(drain);
    Ok(())
}

/// `super_operations.write_inode`: in write-back mode, the kernel-owned
/// c/mtime go to the server with SETATTR, waited for only in
/// data-integrity writeback of a user task (fsync, close). The flusher
/// never waits for the server, not even for sync(2): no signal could end
/// its wait, and sync(2) waits for the flusher uninterruptibly.
pub(crate) fn write_inode(inode: &Inode, sync: bool) -> Result {
    if !writeback::is_wb(inode) || inode.fuse().is_bad() {
        return Ok(());
    }
    let conn = inode.sb().conn();
    let m = inode.mtime();
    let sa = SetAttr {
        mtime: SetTime::At(m.0, m.1),
        ctime: Some(inode.ctime()),
        fh: writeback::any_writer_fh(inode),
        ..SetAttr::NONE
    };
    if sync && !vfs::current_is_kthread() {
        let version = conn.attr_version();
        let out = send(inode, &sa, None)?;
        finode::change_attributes(
            inode,
            &out.attr,
            out.attr_valid,
            out.attr_valid_nsec,
            version,
        );
        Ok(())
    } else {
        let arg = pw::setattr_in(&sa, conn.params().minor);
        conn.request_background(
            abi::fuse_opcode_FUSE_SETATTR,
            inode.fuse().nodeid(),
            &[pod::bytes_of(&arg)],
            ReplyKind::Attr,
            None,
        )
        .or_else(|e| if e == vfs::enotconn() { Ok(()) } else { Err(e) })
    }
}
