// SPDX-License-Identifier: GPL-2.0

//! Waiting for WRITEs in flight, and flushing an inode's data and times.

use super::drain::InodeRef;
use super::page_index;
use crate::conn::{Completion, Connection, Payload};
use crate::fs::Inode;
use crate::vfs;
use crate::vfs::wait::WaitMode;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Waits (killably) until no WRITE covering pages `first..=last` is in flight.
pub(crate) fn wait_range(inode: &Inode, first: u64, last: u64) -> Result {
    let conn = inode.sb().data();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            !inode.data().wb.lock().covers(first, last)
        })
        .map_err(|_| EINTR)
}

/// Waits until no WRITE covering the byte range `pos..pos+len` is in flight.
pub(crate) fn wait_bytes(inode: &Inode, pos: i64, len: usize) -> Result {
    if len == 0 {
        return Ok(());
    }
    let end = pos.saturating_add(len as i64 - 1);
    wait_range(inode, page_index(pos), page_index(end))
}

/// Waits until the inode has no WRITE in flight.
pub(crate) fn wait_all(inode: &Inode) -> Result {
    let conn = inode.sb().data();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            inode.data().wb.lock().inflight.iter().next().is_none()
        })
        .map_err(|_| EINTR)
}

/// Waits until the connection has no writeback WRITE in flight (sync).
pub(crate) fn wait_conn(conn: &Connection) -> Result {
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            conn.stats().wb_requests.load(Ordering::Acquire) == 0 || conn.is_aborted()
        })
        .map_err(|_| EINTR)
}

/// Waits (killably) until the background SETATTRs of the times that
/// `write_inode` sent for `inode` were answered; returns the first error
/// one of them got since the last call.
pub(crate) fn wait_times(inode: &Inode) -> Result {
    inode
        .sb()
        .data()
        .wb_wait()
        .wait_until(WaitMode::Killable, || {
            inode.data().wb.lock().times_pending == 0 || inode.sb().data().is_aborted()
        })
        .map_err(|_| EINTR)?;
    match inode.data().wb.lock().times_err.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Writes the inode's dirty data and kernel-owned times to the server and
/// waits (killably) until both were answered (close, the end of a shared
/// mapping). Unlike `write_inode_now`, it never waits for the server while
/// holding the inode's `I_SYNC` (see `attr::write_inode`).
pub(crate) fn flush_inode(inode: &Inode) -> Result {
    let data = inode.write_and_wait_range(0, i64::MAX);
    let times = inode.sync_metadata();
    let waited = wait_all(inode);
    data.and(times).and(waited).and(wait_times(inode))
}

/// A background SETATTR of the times (see [`wait_times`]).
pub(crate) struct TimesFlush(InodeRef);

impl TimesFlush {
    /// Counts a SETATTR of `inode`'s times as pending until it ends.
    pub(crate) fn new(inode: &Inode) -> Result<Arc<Self>> {
        let done = Arc::new(TimesFlush(InodeRef::new(inode)?), GFP_KERNEL)?;
        inode.data().wb.lock().times_pending += 1;
        Ok(done)
    }
}

impl Completion for TimesFlush {
    fn complete(&self, _: &Connection, _: &[u8], _: &[KVVec<u8>], result: Result<Payload>) {
        let (Some(inode), Err(e)) = (self.0.inode(), result) else {
            return;
        };
        let mut g = inode.data().wb.lock();
        if e != vfs::enotconn() && g.times_err.is_none() {
            g.times_err = Some(e);
        }
    }
}

impl Drop for TimesFlush {
    /// The request ended (after `complete`), or was never sent: either way
    /// nobody waits for it any more.
    fn drop(&mut self) {
        let Some(inode) = self.0.inode() else { return };
        {
            let mut g = inode.data().wb.lock();
            g.times_pending = g.times_pending.saturating_sub(1);
        }
        inode.sb().data().wb_wait().wake_up_all();
    }
}

/// Writes back and waits for the byte range `pos..pos+len` (dirty folios
/// and WRITEs in flight), as before a direct READ or WRITE of it.
pub(crate) fn flush_range(inode: &Inode, pos: i64, len: usize) -> Result {
    if len == 0 {
        return Ok(());
    }
    let end = pos.saturating_add(len as i64 - 1);
    inode.write_and_wait_range(pos, end)?;
    wait_bytes(inode, pos, len)
}

/// Waits (killably) until the background SETATTRs of `inode`'s times were
/// answered, without taking their error: before a SETATTR that sets the
/// times, which an older one must not overwrite on the server.
pub(crate) fn times_sent(inode: &Inode) -> Result {
    let conn = inode.sb().data();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            inode.data().wb.lock().times_pending == 0 || conn.is_aborted()
        })
        .map_err(|_| EINTR)
}
