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

use super::file::{self as ffile, FuseFile};
use crate::abi;
use crate::conn::{Completion, Connection, Payload};
use crate::proto::{pod, reply::ReplyKind, request::IN_HEADER, write as pw};
use crate::vfs::{
    self,
    file::File,
    folio::{LockedFolio, WritebackCtl},
    inode::Inode,
    wait::WaitMode,
};
use core::mem::size_of;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::sync::Arc;
use kernel::types::ARef;

const WRITE_IN: usize = size_of::<abi::fuse_write_in>();

/// Room a new WRITE batch starts with.
const INITIAL_BATCH: usize = 64 * 1024;

/// One WRITE in flight: the page indices it covers and the handle it uses.
#[derive(Clone, Copy)]
struct Span {
    first: u64,
    /// Inclusive; `first - 1` while the span is still empty.
    last: u64,
    fh: u64,
}

impl Span {
    fn covers(&self, first: u64, last: u64) -> bool {
        self.last >= self.first && self.first <= last && first <= self.last
    }
}

/// An inode's writeback state (under `FuseInode::wb`).
pub(crate) struct WbInode {
    inflight: RBTree<u64, Span>,
    next_id: u64,
    /// Writable open files, oldest first: sequence -> (identity, handle).
    writers: RBTree<u64, (usize, u64)>,
    next_writer: u64,
    /// Drains in progress: no new writeback starts while non-zero.
    nowrite: u32,
    /// `writepages` calls building WRITEs right now.
    active: u32,
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
        }
    }

    fn covers(&self, first: u64, last: u64) -> bool {
        self.inflight.values().any(|s| s.covers(first, last))
    }

    fn idle(&self) -> bool {
        self.active == 0 && self.inflight.iter().next().is_none()
    }
}

/// Whether `inode` is cached write-back: a regular file of a mount with
/// `allow_wbcache` whose server agreed.
pub(crate) fn is_wb(inode: &Inode) -> bool {
    inode.kind() == vfs::inode::Kind::Reg && is_wb_conn(&inode.sb().conn())
}

/// Whether the connection negotiated the write-back cache.
pub(crate) fn is_wb_conn(conn: &Connection) -> bool {
    conn.params().has(u64::from(abi::FUSE_WRITEBACK_CACHE))
}

fn page_index(pos: i64) -> u64 {
    // CAST: file positions are non-negative.
    (pos.max(0) as u64) / vfs::PAGE_SIZE as u64
}

// --- Writable files -----------------------------------------------------

/// Remembers a writable open file: writeback may send its data with `fh`.
pub(crate) fn add_writer(inode: &Inode, ff: &FuseFile) -> Result {
    let id = core::ptr::from_ref(ff) as usize;
    let slot = RBTreeNodeReservation::new(GFP_KERNEL)?;
    let mut g = inode.fuse().wb.lock();
    let seq = g.next_writer;
    g.next_writer += 1;
    g.writers.insert(slot.into_node(seq, (id, ff.fh)));
    Ok(())
}

fn first_writer(g: &WbInode) -> Option<u64> {
    g.writers.values().next().map(|w| w.1)
}

/// A writable file is closing: flush what it may have dirtied, stop using
/// its handle and wait for the WRITEs that use it (RELEASE must follow them).
pub(crate) fn remove_writer(inode: &Inode, ff: &FuseFile) {
    let id = core::ptr::from_ref(ff) as usize;
    let find = |g: &WbInode| g.writers.iter().find(|(_, w)| w.0 == id).map(|(k, _)| *k);
    if find(&inode.fuse().wb.lock()).is_none() {
        return;
    }
    let _ = inode.write_inode_now(true);
    let node = {
        let mut g = inode.fuse().wb.lock();
        match find(&g) {
            Some(k) => g.writers.remove_node(&k),
            None => None,
        }
    };
    drop(node);
    let conn = inode.sb().conn();
    let fh = ff.fh;
    let _ = conn.wb_wait().wait_until(WaitMode::Killable, || {
        !inode.fuse().wb.lock().inflight.values().any(|s| s.fh == fh)
    });
}

// --- Waiting for WRITEs in flight ---------------------------------------

/// Waits (killably) until no WRITE covering pages `first..=last` is in flight.
pub(crate) fn wait_range(inode: &Inode, first: u64, last: u64) -> Result {
    let conn = inode.sb().conn();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            !inode.fuse().wb.lock().covers(first, last)
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
    let conn = inode.sb().conn();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            inode.fuse().wb.lock().inflight.iter().next().is_none()
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

/// While alive, no new writeback starts on the inode and none is in flight.
pub(crate) struct Drain<'a> {
    inode: &'a Inode,
}

/// Stops new writeback of `inode` and waits for what is in flight.
pub(crate) fn drain(inode: &Inode) -> Result<Drain<'_>> {
    inode.fuse().wb.lock().nowrite += 1;
    let guard = Drain { inode };
    let conn = inode.sb().conn();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || inode.fuse().wb.lock().idle())
        .map_err(|_| EINTR)?;
    Ok(guard)
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        {
            let mut g = self.inode.fuse().wb.lock();
            g.nowrite = g.nowrite.saturating_sub(1);
        }
        self.inode.sb().conn().wb_wait().wake_up_all();
    }
}

// --- Buffered writes ----------------------------------------------------

/// `write_begin`: the folio for a write of `len` bytes at `pos`, locked,
/// with no WRITE of it in flight, and read first if the write covers it
/// only partly (with the writer's own handle, which may be write-only).
pub(crate) fn write_begin(
    inode: &Inode,
    file: Option<&File>,
    pos: i64,
    len: usize,
) -> Result<LockedFolio> {
    let index = page_index(pos);
    let mut folio = LockedFolio::grab(inode, index)?;
    wait_range(inode, index, index)?;
    let size = folio.size();
    if folio.is_uptodate() || len >= size {
        return Ok(folio);
    }
    let fpos = folio.pos();
    if inode.size() <= fpos {
        // Nothing on the server here yet: start from zeroes.
        folio.zero(0, size);
        return Ok(folio);
    }
    let data = ffile::read_range(inode, file, fpos, size)?;
    folio.fill(&data);
    folio.mark_uptodate();
    Ok(folio)
}

/// `write_end`: `copied` of `len` bytes were copied into the folio.
/// Extends the size before the folio is dirty, so writeback of it is not
/// cropped away. Returns the bytes accepted.
pub(crate) fn write_end(
    inode: &Inode,
    pos: i64,
    len: usize,
    copied: usize,
    mut folio: LockedFolio,
) -> usize {
    if !folio.is_uptodate() {
        if copied < len {
            // Part of a folio that was never read: retry the whole chunk.
            return 0;
        }
        folio.mark_uptodate();
    }
    let end = pos.saturating_add(copied as i64);
    if end > inode.size() {
        inode.set_size(end);
    }
    if copied > 0 {
        folio.mark_dirty();
    }
    copied
}

/// `page_mkwrite`: a shared mapping is about to dirty `folio` (locked).
pub(crate) fn page_mkwrite(inode: &Inode, folio: &LockedFolio) -> Result {
    wait_range(inode, folio.index(), folio.index())
}

// --- writepages -----------------------------------------------------------

/// Largest writeback data in flight per connection, in bytes: the
/// `max_inflight_mb` parameter, but at most 1/32 of RAM (the copies are not
/// page cache: the dirty limits do not see them), and at least 1 MiB.
fn max_inflight() -> u64 {
    let param = u64::from(vfs::max_inflight_mb_param().clamp(1, 4096)) << 20;
    let ram = vfs::totalram_pages().saturating_mul(vfs::PAGE_SIZE as u64) / 32;
    param.min(ram).max(1 << 20)
}

fn has_room(conn: &Connection) -> bool {
    conn.is_aborted() || conn.stats().wb_bytes.load(Ordering::Acquire) < max_inflight()
}

/// A WRITE being built from consecutive folios.
struct Batch {
    msg: KVVec<u8>,
    id: u64,
    pos: i64,
    fh: u64,
    cap: usize,
    next_index: u64,
    /// The last folio was cropped at EOF: nothing may follow.
    closed: bool,
}

impl Batch {
    /// Starts a WRITE at the folio `index`, recording its (empty) span.
    fn new(inode: &Inode, index: u64, cap: usize) -> Result<Self> {
        // Grown as folios arrive: most batches are far below `cap`.
        let mut msg =
            KVVec::with_capacity(IN_HEADER + WRITE_IN + cap.min(INITIAL_BATCH), GFP_KERNEL)?;
        msg.extend_with(IN_HEADER + WRITE_IN, 0, GFP_KERNEL)?;
        let slot = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let (id, fh) = {
            let mut g = inode.fuse().wb.lock();
            let Some(fh) = first_writer(&g) else {
                drop(g);
                drop(slot);
                // Nobody has the file open for writing: the data cannot be
                // sent. Mainline says EIO too; fsync and close will see it.
                inode.set_mapping_error(EIO);
                return Err(EIO);
            };
            let id = g.next_id;
            g.next_id += 1;
            let span = Span {
                first: index,
                last: index.wrapping_sub(1),
                fh,
            };
            g.inflight.insert(slot.into_node(id, span));
            (id, fh)
        };
        let pos = i64::try_from(index.saturating_mul(vfs::PAGE_SIZE as u64)).map_err(|_| EINVAL)?;
        Ok(Self {
            msg,
            id,
            pos,
            fh,
            cap,
            next_index: index,
            closed: false,
        })
    }

    fn data_len(&self) -> usize {
        self.msg.len() - IN_HEADER - WRITE_IN
    }

    fn can_take(&self, index: u64, size: usize) -> bool {
        !self.closed && index == self.next_index && self.data_len() + size <= self.cap
    }

    /// Copies the first `n` bytes of `folio` and extends the span over it.
    fn add(&mut self, inode: &Inode, folio: &LockedFolio, n: usize) -> Result {
        let at = self.msg.len();
        self.msg.extend_with(n, 0, GFP_KERNEL)?;
        if let Some(dst) = self.msg.get_mut(at..) {
            folio.copy_out(0, dst);
        }
        let pages = folio.size().div_ceil(vfs::PAGE_SIZE) as u64;
        let last = folio.index() + pages - 1;
        if let Some(s) = inode.fuse().wb.lock().inflight.get_mut(&self.id) {
            s.last = last;
        }
        self.next_index = last + 1;
        if n < folio.size() {
            self.closed = true;
        }
        Ok(())
    }
}

/// Ends a span: records the error, updates the counters, wakes waiters.
fn finish(conn: &Connection, inode: &Inode, id: u64, len: usize, result: Result) {
    let node = inode.fuse().wb.lock().inflight.remove_node(&id);
    drop(node);
    if let Err(e) = result {
        inode.set_mapping_error(e);
    }
    if len > 0 {
        conn.stats()
            .wb_bytes
            .fetch_sub(len as u64, Ordering::AcqRel);
        conn.stats().wb_requests.fetch_sub(1, Ordering::AcqRel);
    }
    conn.wb_wait().wake_up_all();
}

/// A writeback WRITE's completion.
struct WbWrite {
    inode: ARef<Inode>,
    id: u64,
    /// Bytes of data this request carries.
    len: usize,
}

impl Completion for WbWrite {
    fn complete(&self, conn: &Connection, args: &[u8], result: Result<Payload>) {
        let res = match result {
            Err(e) => Err(e),
            Ok(p) => match pod::read_exact::<abi::fuse_write_out>(&p) {
                None => Err(EIO),
                Some(out) => match pw::write_outcome(self.len, out.size) {
                    pw::WriteOutcome::Complete => Ok(()),
                    pw::WriteOutcome::Nothing => Err(EIO),
                    pw::WriteOutcome::Short { written } => {
                        // The server took part: send the rest (FreeBSD does;
                        // mainline silently drops it).
                        conn.stats().wb_resends.fetch_add(1, Ordering::Relaxed);
                        conn.stats()
                            .wb_bytes
                            .fetch_sub(written as u64, Ordering::AcqRel);
                        match resend(conn, &self.inode, self.id, args, written) {
                            Ok(()) => return,
                            Err((e, left)) => {
                                finish(conn, &self.inode, self.id, left, Err(e));
                                return;
                            }
                        }
                    }
                },
            },
        };
        finish(conn, &self.inode, self.id, self.len, res);
    }
}

/// Sends what follows the first `written` data bytes of a WRITE whose
/// arguments were `args`. On failure returns the error and the bytes left.
fn resend(
    conn: &Connection,
    inode: &ARef<Inode>,
    id: u64,
    args: &[u8],
    written: usize,
) -> core::result::Result<(), (Error, usize)> {
    let data = args.get(WRITE_IN..).unwrap_or(&[]);
    let rest = data.get(written..).unwrap_or(&[]);
    let left = rest.len();
    let Some(mut arg) = pod::read::<abi::fuse_write_in>(args) else {
        return Err((EIO, left));
    };
    arg.offset = arg.offset.saturating_add(written as u64);
    arg.size = left as u32;
    send_write(conn, inode, id, arg, rest).map_err(|e| (e, left))
}

/// Queues a WRITE of `data` with `arg` for span `id` of `inode`.
fn send_write(
    conn: &Connection,
    inode: &ARef<Inode>,
    id: u64,
    arg: abi::fuse_write_in,
    data: &[u8],
) -> Result {
    let mut msg = KVVec::with_capacity(IN_HEADER + WRITE_IN + data.len(), GFP_KERNEL)?;
    msg.extend_with(IN_HEADER, 0, GFP_KERNEL)?;
    msg.extend_from_slice(pod::bytes_of(&arg), GFP_KERNEL)?;
    msg.extend_from_slice(data, GFP_KERNEL)?;
    queue_write(conn, inode, id, msg)
}

/// Queues a complete WRITE message (header room, `fuse_write_in`, data).
fn queue_write(conn: &Connection, inode: &ARef<Inode>, id: u64, msg: KVVec<u8>) -> Result {
    let len = msg.len() - IN_HEADER - WRITE_IN;
    let done = Arc::new(
        WbWrite {
            inode: inode.clone(),
            id,
            len,
        },
        GFP_KERNEL,
    )?;
    conn.queue_write(
        inode.fuse().nodeid(),
        msg,
        ReplyKind::Write { max: len as u64 },
        done,
    )
}

/// Sends a finished batch. Its span ends here on failure.
fn send(conn: &Connection, inode: &ARef<Inode>, mut b: Batch) {
    let len = b.data_len();
    if len == 0 {
        finish(conn, inode, b.id, 0, Ok(()));
        return;
    }
    let arg = abi::fuse_write_in {
        fh: b.fh,
        // CAST: non-negative.
        offset: b.pos as u64,
        size: len as u32,
        write_flags: abi::FUSE_WRITE_CACHE,
        lock_owner: 0,
        flags: 0,
        padding: 0,
    };
    if let Some(dst) = b.msg.get_mut(IN_HEADER..IN_HEADER + WRITE_IN) {
        dst.copy_from_slice(pod::bytes_of(&arg));
    }
    conn.stats().wb_requests.fetch_add(1, Ordering::AcqRel);
    conn.stats()
        .wb_bytes
        .fetch_add(len as u64, Ordering::AcqRel);
    let id = b.id;
    if let Err(e) = queue_write(conn, inode, id, b.msg) {
        finish(conn, inode, id, len, Err(e));
    }
}

/// Marks a `writepages` call active unless a drain is in progress; a
/// data-integrity pass waits for the drain instead.
fn enter(inode: &Inode, sync: bool) -> Result<bool> {
    loop {
        {
            let mut g = inode.fuse().wb.lock();
            if g.nowrite == 0 {
                g.active += 1;
                return Ok(true);
            }
        }
        if !sync {
            return Ok(false);
        }
        inode
            .sb()
            .conn()
            .wb_wait()
            .wait_until(WaitMode::Killable, || inode.fuse().wb.lock().nowrite == 0)
            .map_err(|_| EINTR)?;
    }
}

struct Active<'a>(&'a Inode);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        {
            let mut g = self.0.fuse().wb.lock();
            g.active = g.active.saturating_sub(1);
        }
        self.0.sb().conn().wb_wait().wake_up_all();
    }
}

/// `writepages`: sends the dirty folios `ctl` hands out, contiguous ones
/// together, up to `max_write` and `max_pages` per WRITE.
pub(crate) fn writepages(inode: &Inode, ctl: &mut WritebackCtl<'_>) -> Result {
    inode.fuse().check()?;
    let sync = ctl.sync_all();
    if !enter(inode, sync)? {
        return Ok(());
    }
    let _active = Active(inode);
    let conn = inode.sb().conn();
    let params = conn.params();
    let cap =
        pw::writeback_pages(params.max_write, params.max_pages, vfs::PAGE_SIZE) * vfs::PAGE_SIZE;
    let me: ARef<Inode> = inode.into();
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
                send(&conn, &me, b);
            }
        }
        if batch.is_none() {
            if !has_room(&conn) {
                if !sync {
                    folio.redirty(ctl);
                    ctl.stop();
                    continue;
                }
                let waited = conn
                    .wb_wait()
                    .wait_until(WaitMode::Killable, || has_room(&conn));
                if waited.is_err() {
                    folio.redirty(ctl);
                    last = Err(EINTR);
                    continue;
                }
            }
            match Batch::new(inode, index, cap) {
                Ok(b) => batch = Some(b),
                Err(e) => {
                    if e == EIO {
                        // No writable handle: the data cannot be sent.
                        folio.written_out();
                    } else {
                        folio.redirty(ctl);
                    }
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
        send(&conn, &me, b);
    }
    Ok(())
}

/// `launder_folio`: write one dirty folio now and wait for the reply
/// (before the page cache drops it, e.g. O_DIRECT or invalidation).
pub(crate) fn launder_folio(inode: &Inode, folio: &mut LockedFolio) -> Result {
    if !folio.clear_dirty_for_io() {
        return Ok(());
    }
    let index = folio.index();
    wait_range(inode, index, index)?;
    let conn = inode.sb().conn();
    let me: ARef<Inode> = inode.into();
    let mut b = Batch::new(inode, index, folio.size())?;
    let id = b.id;
    let n = pw::crop_to_size(folio.pos() as u64, folio.size(), inode.size());
    if n > 0 {
        b.add(inode, folio, n)?;
    }
    folio.written_out();
    send(&conn, &me, b);
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            !inode
                .fuse()
                .wb
                .lock()
                .inflight
                .iter()
                .any(|(k, _)| *k == id)
        })
        .map_err(|_| EINTR)
}

/// The handle of some writable open file of `inode`, if any (for SETATTR).
pub(crate) fn any_writer_fh(inode: &Inode) -> Option<u64> {
    first_writer(&inode.fuse().wb.lock())
}
