// SPDX-License-Identifier: GPL-2.0

//! Inode references held by requests, and drains: size changes wait while
//! every WRITE in flight ends, and hold new writeback off until answered.

use crate::conn::Connection;
use crate::fs::Inode;
use crate::vfs;
use crate::vfs::wait::WaitMode;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ARef;

/// An inode reference that unmount waits for (see [`wait_unreferenced`]):
/// for objects that may outlive the request or task that made them (a
/// writeback WRITE's completion, a request's [`Hold`]).
///
/// [`Hold`]: crate::conn::Hold
pub(crate) struct InodeRef(Option<ARef<Inode>>);

impl InodeRef {
    /// A counted reference to `inode`; ESTALE if it is being evicted (the
    /// flusher may hold it only by `I_SYNC`: see [`Inode::try_ref`]).
    pub(crate) fn new(inode: &Inode) -> Result<Self> {
        let r = inode.try_ref().ok_or_else(vfs::estale)?;
        inode
            .sb()
            .data()
            .stats()
            .wb_inode_refs
            .fetch_add(1, Ordering::AcqRel);
        Ok(Self(Some(r)))
    }

    /// The inode.
    pub(crate) fn inode(&self) -> Option<&Inode> {
        self.0.as_deref()
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        let Some(inode) = self.0.take() else { return };
        let conn: Arc<Connection> = inode.sb().data().into();
        // The inode reference goes first: unmount may go on once the count
        // is zero.
        drop(inode);
        conn.stats().wb_inode_refs.fetch_sub(1, Ordering::AcqRel);
        conn.wb_wait().wake_up_all();
    }
}

impl crate::conn::Held for InodeRef {}

/// A size change in progress (truncate, fallocate, O_TRUNC open, the
/// target of copy_file_range), in either mode: while alive, no new
/// writeback starts on the inode, none is in flight, no other size change
/// starts and no direct or write-through WRITE is sent ([`settled`]).
///
/// Shared between the task that changes the size (holding the inode lock)
/// and its request to the server ([`Connection::request_holding`]). A task
/// killed while the server has the request mirrors the change in the page
/// cache anyway (the server may make it at any time) and returns, but the
/// drain lasts until the server answered: nothing the kernel sends later
/// may overtake the change. If the server then fails it, the file's next
/// `fsync` reports EIO: the cache and the server may differ.
pub(crate) struct Drain(InodeRef);

/// Starts a size change of `inode`: waits (killably) until no other one
/// is in progress, stops new writeback and waits for what is in flight.
pub(crate) fn drain(inode: &Inode) -> Result<Arc<Drain>> {
    let conn = inode.sb().data();
    // Claimed in the wait's condition, under the lock that checks it.
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            let mut g = inode.data().wb.lock();
            if g.nowrite != 0 {
                return false;
            }
            g.nowrite = 1;
            true
        })
        .map_err(|_| EINTR)?;
    let guard = match InodeRef::new(inode).and_then(|r| Ok(Arc::new(Drain(r), GFP_KERNEL)?)) {
        Ok(g) => g,
        Err(e) => {
            end_drain(inode);
            return Err(e);
        }
    };
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || inode.data().wb.lock().idle())
        .map_err(|_| EINTR)?;
    Ok(guard)
}

/// Waits (killably) until no size change of `inode` is in progress, before
/// a WRITE that does not go through writeback (direct I/O, write-through):
/// one left by a killed truncate may still be with the server.
pub(crate) fn settled(inode: &Inode) -> Result {
    inode
        .sb()
        .data()
        .wb_wait()
        .wait_until(WaitMode::Killable, || inode.data().wb.lock().nowrite == 0)
        .map_err(|_| EINTR)
}

impl crate::conn::Held for Drain {
    fn orphaned(&self, ok: bool) {
        if let (false, Some(inode)) = (ok, self.0.inode()) {
            // The kernel mirrored a change the server did not make.
            inode.set_mapping_error(EIO);
        }
    }
}

pub(super) fn end_drain(inode: &Inode) {
    {
        let mut g = inode.data().wb.lock();
        g.nowrite = g.nowrite.saturating_sub(1);
    }
    inode.sb().data().wb_wait().wake_up_all();
}

impl Drop for Drain {
    fn drop(&mut self) {
        if let Some(inode) = self.0.inode() {
            end_drain(inode);
        }
    }
}
