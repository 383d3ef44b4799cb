// SPDX-License-Identifier: GPL-2.0

//! Locks, as mainline: fcntl and OFD locks go to the server (GETLK, SETLK,
//! SETLKW) when it set FUSE_POSIX_LOCKS at INIT, flock(2) locks (SETLK(W)
//! with FUSE_LK_FLOCK) when it set FUSE_FLOCK_LOCKS; otherwise the kernel
//! keeps them itself, local to this machine. Lock owners reach the server
//! only as scrambled ids ([`crate::proto::lock::owner_id`]).
//!
//! A SETLKW waits like any request: killably, and a signal sends INTERRUPT
//! to the server; its EINTR answer restarts the call (`ERESTARTSYS`).

use super::File;
use crate::abi;
use crate::conn::Connection;
use crate::proto::{lock as wire, pod, reply::ReplyKind};
use crate::vfs::{
    self,
    lock::{FileLock, LockCmd, LockDone},
};
use kernel::prelude::*;

/// `file_operations.lock`: fcntl(2) and OFD locks.
pub(crate) fn lock(file: &File, cmd: LockCmd, fl: &mut FileLock<'_>) -> Result<LockDone> {
    let conn = file.inode().sb().data();
    let remote = conn.params().has(u64::from(abi::FUSE_POSIX_LOCKS));
    match cmd {
        LockCmd::Cancel => Ok(LockDone::Done),
        LockCmd::Test if !remote => {
            fl.test_locally(file);
            Ok(LockDone::Done)
        }
        LockCmd::Test => getlk(&conn, file, fl).map(|()| LockDone::Done),
        LockCmd::Set if !remote => fl.set_locally(file),
        LockCmd::Set => setlk(&conn, file, fl, false).map(|()| LockDone::Done),
    }
}

/// `file_operations.flock`: flock(2).
pub(crate) fn flock(file: &File, fl: &mut FileLock<'_>) -> Result {
    let conn = file.inode().sb().data();
    if !conn.params().has(u64::from(abi::FUSE_FLOCK_LOCKS)) {
        return fl.flock_locally(file);
    }
    setlk(&conn, file, fl, true)?;
    if let Some(ff) = file.data() {
        // The kernel holds no lock to drop at the last close: RELEASE asks
        // the server to.
        ff.set_flock_owner(conn.lock_owner_id(fl.owner()));
    }
    Ok(())
}

/// The handle a lock request names.
fn handle(file: &File) -> Result<u64> {
    let inode = file.inode();
    inode.data().check()?;
    Ok(file.data().ok_or(EIO)?.fh)
}

/// GETLK: which lock of another owner would conflict with `fl`.
fn getlk(conn: &Connection, file: &File, fl: &mut FileLock<'_>) -> Result {
    let fh = handle(file)?;
    let arg = wire::lk_in(fh, conn.lock_owner_id(fl.owner()), &fl.wire(), false);
    let reply = conn.request(
        abi::fuse_opcode_FUSE_GETLK,
        file.inode().data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Lock,
    )?;
    let out = pod::read_exact::<abi::fuse_lk_out>(&reply).ok_or(EIO)?;
    // Validated by `proto::reply` already.
    let conflict = wire::getlk_answer(&out).map_err(|_| EIO)?;
    let pid = conflict.map_or(0, |l| conn.pid_ns().to_init_ns(l.pid));
    fl.set_conflict(conflict.as_ref(), pid);
    Ok(())
}

/// SETLK, or SETLKW if the caller waits: take or release `fl` (a flock(2)
/// lock if `flock`).
fn setlk(conn: &Connection, file: &File, fl: &mut FileLock<'_>, flock: bool) -> Result {
    if fl.wants_async_grant() {
        // NFS export's lockd wants asynchronous grants, as mainline: no.
        return Err(vfs::enolck());
    }
    let fh = handle(file)?;
    let opcode = if fl.sleeps() {
        abi::fuse_opcode_FUSE_SETLKW
    } else {
        abi::fuse_opcode_FUSE_SETLK
    };
    let mut lock = fl.wire();
    if !fl.is_unlock() {
        lock.pid = conn.pid_ns().current_tgid();
    }
    let arg = wire::lk_in(fh, conn.lock_owner_id(fl.owner()), &lock, flock);
    match conn.request(
        opcode,
        file.inode().data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Empty,
    ) {
        Ok(_) => Ok(()),
        // Interrupted by a signal: the call restarts (or fails with EINTR
        // if the handler says so).
        Err(e) if e == EINTR => Err(ERESTARTSYS),
        Err(e) => Err(e),
    }
}
