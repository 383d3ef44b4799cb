// SPDX-License-Identifier: GPL-2.0

//! The write-back cache: buffered writes into the page cache
//! (`write_begin`/`write_end`), and `writepages`, which sends contiguous
//! dirty folios to the server as large background WRITEs.
//!
//! Who owns a folio's data at each step:
//! 1. a writer dirties the folio under its lock (`write_begin`/`write_end`,
//!    or a page fault through `page_mkwrite`), after waiting until no WRITE
//!    covering the folio is in flight;
//! 2. `writepages` locks it, copies it into a WRITE message and records the
//!    folio's index in the inode's in-flight spans *before* unlocking it; the
//!    folio is clean at once (no temp pages; the message is the copy);
//! 3. the server's reply (or an abort) ends the span: a short WRITE resends
//!    the rest from the same message, an error goes to the mapping (errseq:
//!    fsync and close report it), and waiters wake.
//!
//! Since a folio can only be dirtied while no span covers it, and a span is
//! recorded before its folio is unlocked, two WRITEs of the same range are
//! never in flight together: the newest data always wins.
//!
//! Size-changing operations (truncate, fallocate, O_TRUNC, copy_file_range)
//! take a [`Drain`]: new writeback waits while every WRITE in flight ends, so
//! no WRITE sent before a truncate can land after it.
//!
//! Files: `buffered` (writes and faults into the page cache), `batch`
//! (folios copied into WRITEs, their replies and resends), `handles` (the
//! handles writeback uses, deferred RELEASEs), `wait` (waiting for WRITEs
//! in flight, flushing data and times), `drain` (inode references held by
//! requests, size changes), `behind` (write-behind work items); here: an
//! inode's writeback state, `writepages` and `launder_folio`.

mod batch;
mod behind;
mod buffered;
mod drain;
mod handles;
mod wait;

pub(crate) use behind::{wait_behind, wait_unreferenced, write_behind};
pub(crate) use buffered::{page_mkwrite, write_begin, write_end, zero_past_eof};
pub(crate) use drain::{drain, settled, InodeRef};
pub(crate) use handles::{
    add_read, add_writer, any_writer_fh, defer_release, may_drop, read_done, remove_writer,
    send_releases, take_releases, HandleUse,
};
pub(crate) use wait::{
    flush_inode, flush_range, times_sent, wait_all, wait_bytes, wait_conn, wait_times, TimesFlush,
};

use crate::abi;
use crate::conn::Connection;
use crate::fs::Inode;
use crate::proto::write::{self as pw, Span};
use crate::vfs::{
    self,
    folio::{LockedFolio, WritebackCtl},
    wait::WaitMode,
};
use batch::{finish, has_room, send, Batch};
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use wait::wait_range;

/// An inode's writeback state (under `FuseInode::wb`).
pub(crate) struct WbInode {
    inflight: RBTree<u64, Span>,
    next_id: u64,
    /// Writable open files, oldest first: sequence -> (`FuseFile::serial`,
    /// handle).
    writers: RBTree<u64, (u64, u64)>,
    next_writer: u64,
    /// Drains in progress: no new writeback starts while non-zero.
    nowrite: u32,
    /// `writepages` calls building WRITEs right now.
    active: u32,
    /// The sequential write stream, for write-behind.
    behind: pw::Behind,
    /// READs (readahead or synchronous) and other requests that use a
    /// handle ([`HandleUse`]) in flight:
    /// id -> the open file each is for, by its `FuseFile::serial` (its
    /// RELEASE waits for them, see `handles`).
    reads: RBTree<u64, u64>,
    next_read: u64,
    /// Closed files whose handle is still needed, oldest first.
    releases: RBTree<u64, Closed>,
    next_release: u64,
    /// Background SETATTRs of the times (`write_inode`) not answered yet.
    times_pending: u32,
    /// The first error one of them got, for the next `wait_times`.
    times_err: Option<Error>,
}

impl WbInode {
    /// Empty state.
    pub(crate) fn new() -> Self {
        Self {
            inflight: RBTree::new(),
            next_id: 0,
            writers: RBTree::new(),
            next_writer: 0,
            nowrite: 0,
            active: 0,
            behind: pw::Behind::default(),
            reads: RBTree::new(),
            next_read: 0,
            releases: RBTree::new(),
            next_release: 0,
            times_pending: 0,
            times_err: None,
        }
    }

    fn covers(&self, first: u64, last: u64) -> bool {
        self.inflight.values().any(|s| s.covers(first, last))
    }

    fn idle(&self) -> bool {
        self.active == 0 && self.inflight.iter().next().is_none()
    }

    /// Whether a writeback WRITE in flight uses handle `fh`, or a READ or
    /// another request ([`add_read`], [`HandleUse`]) the open file
    /// `serial` ([`FuseFile::serial`](crate::fs::file::FuseFile)).
    fn uses(&self, fh: u64, serial: u64) -> bool {
        self.inflight.values().any(|s| s.fh == fh) || self.reads.values().any(|&f| f == serial)
    }
}

/// A closed file whose handle is still needed: WRITEs or READs in flight
/// use it (the server must not see its RELEASE before them: it
/// could reuse the handle for another file meanwhile), or, with
/// `for_dirty`, it was the last writable file and dirty data that it
/// could not write at close (its writer was killed while a truncate held
/// writeback) still needs a handle to reach the server, as mainline keeps
/// a file for writeback until its last WRITE.
#[derive(Clone, Copy)]
struct Closed {
    fh: u64,
    /// The open file's [`FuseFile::serial`](crate::fs::file::FuseFile).
    serial: u64,
    /// Open flags, for RELEASE.
    flags: u32,
    /// The flock owner to unlock at RELEASE ([`FuseFile::flock_owner`]).
    flock_owner: Option<u64>,
    for_dirty: bool,
    /// Send RELEASE (not for a server without OPEN).
    release: bool,
}

impl Closed {
    /// The closed file `ff`, kept for its dirty data if `for_dirty`.
    fn of(ff: &crate::fs::file::FuseFile, for_dirty: bool) -> Self {
        Closed {
            fh: ff.fh,
            serial: ff.serial,
            flags: ff.flags,
            flock_owner: ff.flock_owner(),
            for_dirty,
            release: !ff.no_release(),
        }
    }

    fn release_in(&self) -> abi::fuse_release_in {
        crate::proto::request::release_in(self.fh, self.flags, self.flock_owner)
    }
}

/// Whether `inode` is cached write-back: a regular file of a mount with
/// `allow_wbcache` whose server agreed.
pub(crate) fn is_wb(inode: &Inode) -> bool {
    inode.kind() == vfs::inode::Kind::Reg && inode.sb().data().has_writeback_cache()
}

fn page_index(pos: i64) -> u64 {
    // CAST: file positions are non-negative.
    (pos.max(0) as u64) / vfs::PAGE_SIZE as u64
}

/// Marks a `writepages` call active unless a drain is in progress; a
/// data-integrity pass of a user task waits (killably) for the drain
/// instead. A kernel thread (the flusher, for sync(2)) never waits: a drain
/// lasts as long as the server takes to answer, and nothing could end the
/// wait of a kernel thread; the data stays dirty for a later pass.
fn enter(inode: &Inode, sync: bool) -> Result<bool> {
    loop {
        {
            let mut g = inode.data().wb.lock();
            if g.nowrite == 0 {
                g.active += 1;
                return Ok(true);
            }
        }
        if !sync || vfs::current_is_kthread() {
            return Ok(false);
        }
        inode
            .sb()
            .data()
            .wb_wait()
            .wait_until(WaitMode::Killable, || inode.data().wb.lock().nowrite == 0)
            .map_err(|_| EINTR)?;
    }
}

struct Active<'a>(&'a Inode);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        {
            let mut g = self.0.data().wb.lock();
            g.active = g.active.saturating_sub(1);
        }
        self.0.sb().data().wb_wait().wake_up_all();
    }
}

/// `writepages`: sends the dirty folios `ctl` hands out, contiguous ones
/// together, up to `max_write` and `max_pages` per WRITE.
///
/// It never waits for the server. Background writeback (the flusher,
/// write-behind) stops when the data in flight is at its bound, without
/// claiming progress, so the flusher does not spin on it. Data-integrity
/// writeback (fsync, close, sync) sends everything even past the bound: it
/// copies dirty pages, which the mount's strict dirty limit bounds, and a
/// wait for room could not end in the flusher (no signal reaches a kernel
/// thread) nor for a writer being killed (whose data must still go out).
pub(crate) fn writepages(inode: &Inode, ctl: &mut WritebackCtl<'_>) -> Result {
    inode.data().check()?;
    let sync = ctl.sync_all();
    if !enter(inode, sync)? {
        return Ok(());
    }
    let _active = Active(inode);
    let conn = inode.sb().data();
    let params = conn.params();
    let cap =
        pw::writeback_pages(params.max_write, params.max_pages, vfs::PAGE_SIZE) * vfs::PAGE_SIZE;
    let mut batch: Option<Batch> = None;
    let mut last = Ok(());
    while let Some(mut folio) = ctl.next(last) {
        last = Ok(());
        let index = folio.index();
        if batch
            .as_ref()
            .is_some_and(|b| !b.can_take(index, folio.size()))
        {
            if let Some(b) = batch.take() {
                send(&conn, inode, b);
            }
        }
        if batch.is_none() {
            match open_batch(&conn, inode, ctl, &mut folio, cap, sync) {
                Ok(Some(b)) => batch = Some(b),
                Ok(None) => continue,
                Err(e) => {
                    last = Err(e);
                    continue;
                }
            }
        }
        let n = pw::crop_to_size(folio.pos() as u64, folio.size(), inode.size());
        if n == 0 {
            // Past EOF (truncated meanwhile): nothing to send.
            folio.written_out();
            continue;
        }
        let Some(b) = batch.as_mut() else { continue };
        match b.add(inode, &folio, n) {
            Ok(()) => folio.written_out(),
            Err(e) => {
                folio.redirty(ctl);
                last = Err(e);
            }
        }
    }
    if let Some(b) = batch.take() {
        send(&conn, inode, b);
    }
    // Dirty folios past EOF were dropped without a WRITE: a handle kept
    // for dirty data may have none left.
    send_releases(&conn, inode);
    Ok(())
}

/// A new batch of at most `cap` bytes starting at `folio`; `None` when
/// background writeback is at the in-flight bound (the iteration stops,
/// the folio stays dirty). An error leaves the folio dirty, unless there is
/// no writable handle (EIO): then its data cannot be sent at all.
fn open_batch(
    conn: &Connection,
    inode: &Inode,
    ctl: &mut WritebackCtl<'_>,
    folio: &mut LockedFolio,
    cap: usize,
    sync: bool,
) -> Result<Option<Batch>> {
    if !sync && !has_room(conn) {
        conn.stats().wb_budget_stops.fetch_add(1, Ordering::Relaxed);
        folio.redirty(ctl);
        ctl.stop();
        return Ok(None);
    }
    match Batch::new(inode, folio.index(), cap) {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            if e == EIO {
                folio.written_out();
            } else {
                folio.redirty(ctl);
            }
            Err(e)
        }
    }
}

/// `launder_folio`: write one dirty folio now and wait for the reply
/// (before the page cache drops it, e.g. O_DIRECT or invalidation).
///
/// On failure the folio keeps its data dirty (the caller then keeps the
/// folio), except when no writable handle exists, where it cannot be sent
/// at all (as `writepages`). Once the WRITE is sent, its data is in it: a
/// killed wait for the reply loses nothing.
pub(crate) fn launder_folio(inode: &Inode, folio: &mut LockedFolio) -> Result {
    if !folio.clear_dirty_for_io() {
        return Ok(());
    }
    let index = folio.index();
    if let Err(e) = wait_range(inode, index, index) {
        folio.mark_dirty();
        return Err(e);
    }
    // As `writepages`: nothing is sent while a truncate or fallocate drains
    // writeback (its request may be with the server: a WRITE now could land
    // after it and regrow the file). The folio stays dirty and cached.
    if !enter(inode, false)? {
        folio.mark_dirty();
        return Err(EBUSY);
    }
    let active = Active(inode);
    let conn = inode.sb().data();
    let mut b = match Batch::new(inode, index, folio.size()) {
        Ok(b) => b,
        Err(e) => {
            if e != EIO {
                folio.mark_dirty();
            }
            return Err(e);
        }
    };
    let id = b.id;
    let n = pw::crop_to_size(folio.pos() as u64, folio.size(), inode.size());
    if n > 0 {
        if let Err(e) = b.add(inode, folio, n) {
            folio.mark_dirty();
            // The span was recorded by `Batch::new`: end it.
            finish(&conn, inode, id, 0, b.pages, Ok(()));
            return Err(e);
        }
    }
    folio.written_out();
    send(&conn, inode, b);
    // The span (or its end) is recorded: a drain now waits for it.
    drop(active);
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            !inode
                .data()
                .wb
                .lock()
                .inflight
                .iter()
                .any(|(k, _)| *k == id)
        })
        .map_err(|_| EINTR)
}
