// SPDX-License-Identifier: GPL-2.0

//! Open files' handles: those writeback may use, the READs and other
//! requests in flight with each, and the RELEASEs of closed files that are
//! deferred until the last of them ends.

use super::drain::InodeRef;
use super::wait::flush_inode;
use super::{is_wb, Closed, WbInode};
use crate::abi;
use crate::conn::{Connection, Held, Hold};
use crate::fs::file::{self as ffile, FuseFile};
use crate::fs::Inode;
use crate::vfs::wait::WaitMode;
use kernel::prelude::*;
use kernel::rbtree::RBTreeNodeReservation;
use kernel::sync::Arc;

/// Remembers a writable open file: writeback may send its data with `fh`.
pub(crate) fn add_writer(inode: &Inode, ff: &FuseFile) -> Result {
    let id = ff.serial;
    let slot = RBTreeNodeReservation::new(GFP_KERNEL)?;
    {
        let mut g = inode.data().wb.lock();
        let seq = g.next_writer;
        g.next_writer += 1;
        g.writers.insert(slot.into_node(seq, (id, ff.fh)));
    }
    // A handle kept for dirty data may go now.
    send_releases(&inode.sb().data(), inode);
    Ok(())
}

/// The handle writeback uses: an open writable file's, else that of a
/// closed one kept for its dirty data.
pub(super) fn first_writer(g: &WbInode) -> Option<u64> {
    g.writers
        .values()
        .next()
        .map(|w| w.1)
        .or_else(|| g.releases.values().find(|c| c.for_dirty).map(|c| c.fh))
}

/// A writable file is closing: flush what it may have dirtied and stop
/// using its handle. Returns `true` when the handle is still needed (see
/// [`Closed`]): then its RELEASE is sent when it no longer is, not by the
/// caller.
pub(crate) fn remove_writer(inode: &Inode, ff: &FuseFile) -> bool {
    let id = ff.serial;
    let find = |g: &WbInode| g.writers.iter().find(|(_, w)| w.0 == id).map(|(k, _)| *k);
    if find(&inode.data().wb.lock()).is_none() {
        return false;
    }
    let _ = flush_inode(inode);
    let slot = RBTreeNodeReservation::new(GFP_KERNEL);
    let fh = ff.fh;
    let dirty = inode.has_dirty_pages();
    let (node, deferred) = {
        let mut g = inode.data().wb.lock();
        let node = match find(&g) {
            Some(k) => g.writers.remove_node(&k),
            None => None,
        };
        let for_dirty = dirty && g.writers.iter().next().is_none();
        let busy = g.uses(fh, ff.serial);
        let deferred = match slot {
            Ok(slot) if (busy && !ff.no_release()) || for_dirty => {
                let seq = g.next_release;
                g.next_release += 1;
                g.releases
                    .insert(slot.into_node(seq, Closed::of(ff, for_dirty)));
                true
            }
            _ => false,
        };
        (node, deferred)
    };
    drop(node);
    if !deferred {
        // No room to defer it (or nothing in flight): wait here instead.
        let _ = inode
            .sb()
            .data()
            .wb_wait()
            .wait_until(WaitMode::Killable, || {
                !inode.data().wb.lock().uses(fh, ff.serial)
            });
    }
    deferred
}

/// A file that writeback does not use is closing: while READs or other
/// requests of it ([`HandleUse`]) are in flight, its RELEASE is deferred until the last
/// one ends (`read_done` sends it). Returns `true` if it was (then the
/// caller sends none).
pub(crate) fn defer_release(inode: &Inode, ff: &FuseFile) -> bool {
    let (fh, serial) = (ff.fh, ff.serial);
    if ff.no_release() || !inode.data().wb.lock().uses(fh, serial) {
        return false;
    }
    if let Ok(slot) = RBTreeNodeReservation::new(GFP_KERNEL) {
        let mut g = inode.data().wb.lock();
        if g.uses(fh, serial) {
            let seq = g.next_release;
            g.next_release += 1;
            g.releases
                .insert(slot.into_node(seq, Closed::of(ff, false)));
            return true;
        }
        return false;
    }
    // No room to defer it: wait here instead (killably; the READs end when
    // the server answers or the connection is aborted).
    let _ = inode
        .sb()
        .data()
        .wb_wait()
        .wait_until(WaitMode::Killable, || {
            !inode.data().wb.lock().uses(fh, serial)
        });
    false
}

/// Records a READ (or another request, see [`HandleUse`]) of the open file
/// `ff` in flight; returns its id for [`read_done`].
pub(crate) fn add_read(inode: &Inode, ff: &FuseFile) -> Result<u64> {
    let slot = RBTreeNodeReservation::new(GFP_KERNEL)?;
    let mut g = inode.data().wb.lock();
    let id = g.next_read;
    g.next_read = g.next_read.wrapping_add(1);
    g.reads.insert(slot.into_node(id, ff.serial));
    Ok(id)
}

/// A synchronous request that uses an open file's handle (READ, a
/// write-through or direct WRITE, FSYNC, FLUSH), registered as a readahead
/// READ is ([`add_read`]) until the request ends. A caller killed while the
/// server has the request (or while a forced FLUSH is still queued) gives
/// up on it, and its close may follow at once:
/// the file's RELEASE then waits for the request (mainline's caller waits
/// for it instead), so the server never sees a RELEASE before a request
/// that uses the handle.
///
/// # Invariants
///
/// `id` is registered with `inode` (with `add_read`) until the drop.
pub(crate) struct HandleUse {
    inode: InodeRef,
    id: u64,
}

impl HandleUse {
    /// Registers a request of the open file `ff` of `inode`, as a [`Hold`]
    /// for it; `None` when `ff` has no RELEASE to order after it.
    pub(crate) fn hold(inode: &Inode, ff: &FuseFile) -> Result<Option<Hold>> {
        if ff.no_release() {
            return Ok(None);
        }
        let iref = InodeRef::new(inode)?;
        let id = add_read(inode, ff)?;
        // INVARIANT: registered just above. Without memory for the `Arc`,
        // the value is dropped, which ends the registration.
        let h = Arc::new(Self { inode: iref, id }, GFP_KERNEL)?;
        Ok(Some(h as Hold))
    }
}

impl Held for HandleUse {
    // The request changes nothing the kernel mirrors: a killed caller
    // asks the server to interrupt it, as any other.
    fn mirrored(&self) -> bool {
        false
    }
}

// The drop may run in the server's write(2) or an abort, and may then drop
// the last reference to the inode (a killed task's file, closed and
// unlinked meanwhile): eviction must never wait for the server (as with
// readahead READs, writeback WRITEs and RELEASE holds).
impl Drop for HandleUse {
    fn drop(&mut self) {
        if let Some(inode) = self.inode.inode() {
            read_done(&inode.sb().data(), inode, self.id);
        }
    }
}

/// The READ or other request `id` ([`add_read`]) ended (or was never
/// sent): a RELEASE waiting for it may go.
pub(crate) fn read_done(conn: &Connection, inode: &Inode, id: u64) {
    let node = inode.data().wb.lock().reads.remove_node(&id);
    drop(node);
    send_releases(conn, inode);
    conn.wb_wait().wake_up_all();
}

/// Sends the RELEASEs of closed files whose handle is no longer needed:
/// no WRITE in flight uses it, and one kept for dirty data has none left
/// to write (or an open writable file took over).
pub(crate) fn send_releases(conn: &Connection, inode: &Inode) {
    if inode.data().wb.lock().releases.iter().next().is_none() {
        return;
    }
    loop {
        let dirty = inode.has_dirty_pages();
        let node = {
            let mut g = inode.data().wb.lock();
            let writers = g.writers.iter().next().is_some();
            let ready = g
                .releases
                .iter()
                .find(|(_, c)| !g.uses(c.fh, c.serial) && (!c.for_dirty || !dirty || writers))
                .map(|(k, _)| *k);
            match ready {
                Some(k) => g.releases.remove_node(&k),
                None => None,
            }
        };
        let Some(node) = node else { return };
        let (_, c) = node.to_key_value();
        if c.release {
            ffile::release_handle(conn, inode, abi::fuse_opcode_FUSE_RELEASE, &c.release_in());
        }
    }
}

/// The inode is evicted: the handles still kept (their dirty data went
/// with the page cache) are released, each RELEASE before the lookups are
/// given back. Returns the RELEASE arguments.
pub(crate) fn take_releases(inode: &Inode) -> KVec<abi::fuse_release_in> {
    let mut out = KVec::new();
    let mut g = inode.data().wb.lock();
    while let Some(k) = g.releases.iter().next().map(|(k, _)| *k) {
        let Some(node) = g.releases.remove_node(&k) else {
            break;
        };
        let (_, c) = node.to_key_value();
        // GFP_ATOMIC under the spinlock; a RELEASE that finds no room is
        // lost (the server frees the handle with the node or at unmount).
        if c.release && out.push(c.release_in(), GFP_ATOMIC).is_err() {
            continue;
        }
    }
    out
}

/// The handle of some writable open file of `inode`, if any (for SETATTR;
/// not one kept for dirty data, whose RELEASE does not wait for SETATTRs).
pub(crate) fn any_writer_fh(inode: &Inode) -> Option<u64> {
    inode.data().wb.lock().writers.values().next().map(|w| w.1)
}

/// `drop_inode`: whether the inode may go once unused. Not while it still
/// has dirty data for the server (that of a writer killed before it could
/// write it, see [`Closed`]): it stays cached until the flusher wrote it.
pub(crate) fn may_drop(inode: &Inode) -> bool {
    !(inode.nlink() > 0 && is_wb(inode) && inode.has_dirty_pages())
}
