// SPDX-License-Identifier: GPL-2.0

//! SETATTR: truncate, chmod, chown, utimes, and (write-back mode) flushing
//! the kernel-owned c/mtime to the server.

use super::{inode as finode, writeback};
use super::{Iattr, Inode};
use crate::abi;
use crate::conn::{Connection, Hold, Outcome};
use crate::proto::{
    attr, pod,
    reply::ReplyKind,
    write::{self as pw, SetAttr, SetTime},
};
use crate::vfs;
use kernel::prelude::*;

/// SETATTR's arguments for `sa`, times rounded to the server's granularity.
fn setattr_arg(conn: &Connection, sa: &SetAttr) -> abi::fuse_setattr_in {
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
    pw::setattr_in(&sa, params.minor)
}

/// Sends SETATTR; `hold` (a drain of writeback) lasts until the server
/// answered, even if the caller is killed first. `None`: the caller was
/// killed while the server had the request (only with a `hold`).
fn send(inode: &Inode, sa: &SetAttr, hold: Option<Hold>) -> Result<Option<abi::fuse_attr_out>> {
    let conn = inode.sb().data();
    let arg = setattr_arg(&conn, sa);
    let (op, nodeid) = (abi::fuse_opcode_FUSE_SETATTR, inode.data().nodeid());
    let args = [pod::bytes_of(&arg)];
    let reply = match hold {
        Some(h) => match conn.request_holding(op, nodeid, &args, ReplyKind::Attr, h) {
            Outcome::Reply(r) => r?,
            Outcome::Unknown => return Ok(None),
        },
        None => conn.request(op, nodeid, &args, ReplyKind::Attr)?,
    };
    let out = pod::read_exact::<abi::fuse_attr_out>(&reply).ok_or(EIO)?;
    if !attr::same_type(out.attr.mode, inode.mode()) {
        super::inode::make_bad(inode);
        return Err(EIO);
    }
    Ok(Some(out))
}

/// The SETATTR that `ia` asks for. In write-back mode the kernel owns the
/// times: it sets "now" itself (as mainline), and local times that have
/// not reached the server ride along, so a chmod after a write is one
/// SETATTR.
fn setattr_args(inode: &Inode, conn: &Connection, ia: &Iattr<'_>, wb: bool) -> SetAttr {
    let mut sa = SetAttr::NONE;
    // A server that clears suid/sgid itself does not get the mode the VFS
    // derived from the cached one (mainline's fuse_setattr).
    if !(ia.kills_privs() && conn.params().server_kills_privs()) {
        sa.mode = ia.mode();
    }
    sa.uid = ia.uid().map(|u| conn.user_ns.uid_of(u));
    sa.gid = ia.gid().map(|g| conn.user_ns.gid_of(g));
    // CAST: the VFS checked the new size is non-negative.
    sa.size = ia.size().map(|s| s as u64);
    sa.atime = ia.atime();
    sa.mtime = ia.mtime();
    sa.fh = ia.file().and_then(|f| f.data()).map(|ff| ff.fh);
    if conn.params().server_kills_privs() {
        // The server clears them when asked: on a chown of anything but a
        // directory, and a truncate by someone without CAP_FSETID.
        let chown = sa.uid.is_some() || sa.gid.is_some();
        sa.kill_suidgid = (chown && inode.kind() != vfs::inode::Kind::Dir)
            || (sa.size.is_some() && !vfs::cred::current_has_fsetid());
    }
    if wb {
        // A size change is a modification: its times are the kernel's to
        // set, whether or not the caller asked (mainline's fuse_do_setattr
        // adds ATTR_MTIME | ATTR_CTIME when the size changes).
        let resized = sa
            .size
            .is_some_and(|s| i64::try_from(s).ok() != Some(inode.size()));
        match sa.mtime {
            SetTime::Now => {
                let now = inode.now();
                sa.mtime = SetTime::At(now.0, now.1);
            }
            SetTime::Omit if resized => {
                let now = inode.now();
                sa.mtime = SetTime::At(now.0, now.1);
            }
            SetTime::Omit => {
                let m = inode.mtime();
                sa.mtime = SetTime::At(m.0, m.1);
            }
            SetTime::At(..) => {}
        }
        sa.ctime = Some(inode.now());
    }
    sa
}

/// `inode_operations.setattr` (after `setattr_prepare`).
pub(crate) fn setattr(inode: &Inode, ia: &Iattr<'_>) -> Result {
    inode.data().check()?;
    let conn = inode.sb().data();
    if ia.kills_privs()
        && conn.params().server_kills_privs()
        && ia.size().is_none()
        && ia.uid().is_none()
        && ia.gid().is_none()
        && matches!(ia.atime(), SetTime::Omit)
        && matches!(ia.mtime(), SetTime::Omit)
    {
        // Only the suid/sgid clearing of a write (file_remove_privs): the
        // server does it itself.
        return Ok(());
    }
    let wb = writeback::is_wb(inode);
    let sa = setattr_args(inode, &conn, ia, wb);
    if wb {
        // A chmod, chown or explicit times go after the dirty data: a WRITE
        // arriving later would otherwise change the mtime (or, with
        // KILLPRIV, the mode) on the server again (mainline's
        // fuse_do_setattr: write_inode_now and fuse_set_nowrite).
        let explicit = |t: SetTime| matches!(t, SetTime::At(..));
        if sa.size.is_none()
            && (sa.mode.is_some()
                || sa.uid.is_some()
                || sa.gid.is_some()
                || explicit(ia.mtime())
                || explicit(ia.atime()))
        {
            inode.write_and_wait_range(0, i64::MAX)?;
            writeback::wait_all(inode)?;
        }
        // Older background SETATTRs of the times must not land after ours.
        writeback::times_sent(inode)?;
    }
    // A size change drains writeback (and other size changes) until the
    // server answered, even if we are killed first (see `Drain`).
    let drain = match sa.size {
        Some(_) => Some(writeback::drain(inode)?),
        None => None,
    };
    let version = conn.attr_version();
    let out = send(inode, &sa, drain.clone().map(|d| d as Hold))?;
    match &out {
        Some(out) => finode::change_attributes(
            inode,
            &out.attr,
            out.attr_valid,
            out.attr_valid_nsec,
            version,
        ),
        // Killed while the server has it: the change may happen at any
        // time, so the cache follows it now (below); the attributes (and
        // ACLs, which a chmod may change) are asked again.
        None => {
            inode.data().invalidate_attrs(&conn);
            super::acl::forget_cached(&conn, inode);
        }
    }
    if wb {
        if let SetTime::At(s, n) = sa.mtime {
            inode.set_mtime((s, n));
        }
        if let Some(c) = sa.ctime {
            inode.set_ctime(c);
        }
    }
    if let Some(size) = ia.size() {
        if size > inode.size() {
            writeback::zero_past_eof(inode, inode.size());
        }
        inode.truncate_setsize(size);
        // A handle kept for dirty data may have none left.
        writeback::send_releases(&conn, inode);
    }
    drop(drain);
    match out {
        Some(_) => Ok(()),
        None => Err(EINTR),
    }
}

/// `super_operations.write_inode`: in write-back mode, the kernel-owned
/// c/mtime go to the server with SETATTR, always in the background: this
/// runs with the inode's `I_SYNC` held, which `sync(2)` (in the flusher)
/// waits for uninterruptibly, so it must never wait for the server. Those
/// who need the times on the server (fsync, close) wait for them after
/// (`writeback::wait_times`), killably and without `I_SYNC`.
pub(crate) fn write_inode(inode: &Inode, _sync: bool) -> Result {
    if !writeback::is_wb(inode) || inode.data().is_bad() {
        return Ok(());
    }
    let conn = inode.sb().data();
    let m = inode.mtime();
    let sa = SetAttr {
        mtime: SetTime::At(m.0, m.1),
        ctime: Some(inode.ctime()),
        fh: writeback::any_writer_fh(inode),
        ..SetAttr::NONE
    };
    let arg = setattr_arg(&conn, &sa);
    let done = match writeback::TimesFlush::new(inode) {
        Ok(d) => d,
        // Being evicted (pinned by the flusher's I_SYNC alone): nothing to
        // keep the times for.
        Err(e) if e == vfs::estale() => return Ok(()),
        Err(e) => return Err(e),
    };
    conn.request_callback(
        abi::fuse_opcode_FUSE_SETATTR,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Attr,
        done,
    )
    .or_else(|e| if e == vfs::enotconn() { Ok(()) } else { Err(e) })
}
