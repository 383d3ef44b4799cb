// SPDX-License-Identifier: GPL-2.0

//! SETATTR: truncate, chmod, chown, utimes, and (write-back mode) flushing
//! the kernel-owned c/mtime to the server.

use super::{inode as finode, writeback};
use crate::abi;
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

fn send(inode: &Inode, sa: &SetAttr) -> Result<abi::fuse_attr_out> {
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
    let reply = conn.request(
        abi::fuse_opcode_FUSE_SETATTR,
        inode.fuse().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Attr,
    )?;
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
    let _drain = if truncate && wb {
        Some(writeback::drain(inode)?)
    } else {
        None
    };
    let version = conn.attr_version();
    let out = send(inode, &sa)?;
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
        inode.truncate_setsize(size);
    }
    Ok(())
}

/// `super_operations.write_inode`: in write-back mode, the kernel-owned
/// c/mtime go to the server with SETATTR (waiting for it only for
/// data-integrity writeback, so the flusher never blocks on a server).
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
    if sync {
        let version = conn.attr_version();
        let out = send(inode, &sa)?;
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
        )
        .or_else(|e| if e == vfs::enotconn() { Ok(()) } else { Err(e) })
    }
}
