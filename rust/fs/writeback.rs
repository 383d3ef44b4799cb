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
use crate::conn::{Completion, Connection, Data, Payload, DATA_CHUNK};
use crate::proto::{
    pod,
    reply::ReplyKind,
    request::{IN_HEADER, WRITE_IN},
    write::{self as pw, Span},
};
use crate::vfs::{
    self,
    file::File,
    folio::{LockedFolio, WritebackCtl},
    inode::Inode,
    wait::WaitMode,
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::sync::Arc;
use kernel::types::ARef;
use kernel::workqueue;

/// Size of the pieces a WRITE's data is copied into (never reallocated).
const CHUNK: usize = DATA_CHUNK;

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
    /// The sequential write stream, for write-behind.
    behind: pw::Behind,
    /// Closed writable files whose handle is still needed, oldest first.
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

    fn uses(&self, fh: u64) -> bool {
        self.inflight.values().any(|s| s.fh == fh)
    }
}

/// A closed writable file whose handle is still needed: WRITEs in flight
/// use it (the server must not see its RELEASE before them), or, with
/// `for_dirty`, it was the last writable file and dirty data that it
/// could not write at close (its writer was killed while a truncate held
/// writeback) still needs a handle to reach the server, as mainline keeps
/// a file for writeback until its last WRITE.
#[derive(Clone, Copy)]
struct Closed {
    fh: u64,
    /// Open flags, for RELEASE.
    flags: u32,
    for_dirty: bool,
    /// Send RELEASE (not for a server without OPEN).
    release: bool,
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
    {
        let mut g = inode.fuse().wb.lock();
        let seq = g.next_writer;
        g.next_writer += 1;
        g.writers.insert(slot.into_node(seq, (id, ff.fh)));
    }
    // A handle kept for dirty data may go now.
    send_releases(&inode.sb().conn(), inode);
    Ok(())
}

/// The handle writeback uses: an open writable file's, else that of a
/// closed one kept for its dirty data.
fn first_writer(g: &WbInode) -> Option<u64> {
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
    let id = core::ptr::from_ref(ff) as usize;
    let find = |g: &WbInode| g.writers.iter().find(|(_, w)| w.0 == id).map(|(k, _)| *k);
    if find(&inode.fuse().wb.lock()).is_none() {
        return false;
    }
    let _ = flush_inode(inode);
    let slot = RBTreeNodeReservation::new(GFP_KERNEL);
    let fh = ff.fh;
    let dirty = inode.has_dirty_pages();
    let (node, deferred) = {
        let mut g = inode.fuse().wb.lock();
        let node = match find(&g) {
            Some(k) => g.writers.remove_node(&k),
            None => None,
        };
        let for_dirty = dirty && g.writers.iter().next().is_none();
        let busy = g.uses(fh);
        let deferred = match slot {
            Ok(slot) if (busy && !ff.no_release()) || for_dirty => {
                let seq = g.next_release;
                g.next_release += 1;
                let c = Closed {
                    fh,
                    flags: ff.flags,
                    for_dirty,
                    release: !ff.no_release(),
                };
                g.releases.insert(slot.into_node(seq, c));
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
            .conn()
            .wb_wait()
            .wait_until(WaitMode::Killable, || {
                !inode.fuse().wb.lock().inflight.values().any(|s| s.fh == fh)
            });
    }
    deferred
}

/// Sends the RELEASEs of closed files whose handle is no longer needed:
/// no WRITE in flight uses it, and one kept for dirty data has none left
/// to write (or an open writable file took over).
pub(crate) fn send_releases(conn: &Connection, inode: &Inode) {
    if inode.fuse().wb.lock().releases.iter().next().is_none() {
        return;
    }
    loop {
        let dirty = inode.has_dirty_pages();
        let node = {
            let mut g = inode.fuse().wb.lock();
            let writers = g.writers.iter().next().is_some();
            let ready = g
                .releases
                .iter()
                .find(|(_, c)| !g.uses(c.fh) && (!c.for_dirty || !dirty || writers))
                .map(|(k, _)| *k);
            match ready {
                Some(k) => g.releases.remove_node(&k),
                None => None,
            }
        };
        let Some(node) = node else { return };
        let (_, c) = node.to_key_value();
        if c.release {
            ffile::release_handle(conn, inode, abi::fuse_opcode_FUSE_RELEASE, c.fh, c.flags);
        }
    }
}

/// The inode is evicted: the handles still kept (their dirty data went
/// with the page cache) are released, each RELEASE before the lookups are
/// given back. Returns the `(handle, flags)` pairs to release.
pub(crate) fn take_releases(inode: &Inode) -> KVec<(u64, u32)> {
    let mut out = KVec::new();
    let mut g = inode.fuse().wb.lock();
    while let Some(k) = g.releases.iter().next().map(|(k, _)| *k) {
        let Some(node) = g.releases.remove_node(&k) else {
            break;
        };
        let (_, c) = node.to_key_value();
        // GFP_ATOMIC under the spinlock; a RELEASE that finds no room is
        // lost (the server frees the handle with the node or at unmount).
        if c.release && out.push((c.fh, c.flags), GFP_ATOMIC).is_err() {
            continue;
        }
    }
    out
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

/// Waits (killably) until the background SETATTRs of the times that
/// `write_inode` sent for `inode` were answered; returns the first error
/// one of them got since the last call.
pub(crate) fn wait_times(inode: &Inode) -> Result {
    inode
        .sb()
        .conn()
        .wb_wait()
        .wait_until(WaitMode::Killable, || {
            inode.fuse().wb.lock().times_pending == 0 || inode.sb().conn().is_aborted()
        })
        .map_err(|_| EINTR)?;
    match inode.fuse().wb.lock().times_err.take() {
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
        inode.fuse().wb.lock().times_pending += 1;
        Ok(done)
    }
}

impl Completion for TimesFlush {
    fn complete(&self, _: &Connection, _: &[u8], _: &[KVVec<u8>], result: Result<Payload>) {
        let (Some(inode), Err(e)) = (self.0.inode(), result) else {
            return;
        };
        let mut g = inode.fuse().wb.lock();
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
            let mut g = inode.fuse().wb.lock();
            g.times_pending = g.times_pending.saturating_sub(1);
        }
        inode.sb().conn().wb_wait().wake_up_all();
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

/// Write-behind, after a buffered write of `start..end`: once a sequential
/// stream has a full WRITE's worth of whole pages behind it, hand them to
/// writeback now instead of when the flusher comes. A large copy then
/// streams full-size WRITEs to the server while the writer goes on, and its
/// dirty pages do not pile up to the dirty limit first. The copying into
/// the WRITE runs in a work item, in parallel with the writer. Best effort:
/// the writeback bound and errors are handled by `writepages`.
pub(crate) fn write_behind(inode: &Inode, start: i64, end: i64) {
    if !vfs::write_behind_param() {
        return;
    }
    let (Ok(start), Ok(end)) = (u64::try_from(start), u64::try_from(end)) else {
        return;
    };
    let params = inode.sb().conn().params();
    let batch =
        pw::writeback_pages(params.max_write, params.max_pages, vfs::PAGE_SIZE) * vfs::PAGE_SIZE;
    let range = {
        let mut g = inode.fuse().wb.lock();
        pw::write_behind(
            &mut g.behind,
            start,
            end,
            batch as u64,
            vfs::PAGE_SIZE as u64,
        )
    };
    let Some((from, to)) = range else { return };
    let (Ok(from), Ok(last)) = (i64::try_from(from), i64::try_from(to - 1)) else {
        return;
    };
    let conn: Arc<Connection> = inode.sb().conn().into();
    let me: ARef<Inode> = inode.into();
    conn.stats().behind_works.fetch_add(1, Ordering::AcqRel);
    let c = conn.clone();
    let spawned = workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
        // Errors reach the mapping; fsync and close report them.
        let _ = me.start_writeback_range(from, last);
        // The inode reference goes before the count: unmount waits for it.
        drop(me);
        behind_done(&c);
    });
    if spawned.is_err() {
        // The closure (and its references) is gone: do it here.
        behind_done(&conn);
        let _ = inode.start_writeback_range(from, last);
    }
}

fn behind_done(conn: &Connection) {
    conn.stats().behind_works.fetch_sub(1, Ordering::AcqRel);
    conn.wb_wait().wake_up_all();
}

/// Waits until no write-behind work item of the connection holds an inode
/// (before unmount writes back). Killable: [`wait_unreferenced`] is what
/// unmount relies on.
pub(crate) fn wait_behind(conn: &Connection) {
    let _ = conn.wb_wait().wait_until(WaitMode::Killable, || {
        conn.stats().behind_works.load(Ordering::Acquire) == 0
    });
}

/// After the connection was aborted, before unmount evicts the inodes:
/// waits until no write-behind work item and no writeback WRITE completion
/// holds an inode reference any more. Neither waits for the server (the
/// work items start writeback without waiting, and an aborted connection
/// ends every request), so the wait is short and need not be killable;
/// it must not be, or a killed `umount` would free the superblock under
/// them.
pub(crate) fn wait_unreferenced(conn: &Connection) {
    let _ = conn.wb_wait().wait_until(WaitMode::Uninterruptible, || {
        let st = conn.stats();
        st.behind_works.load(Ordering::Acquire) == 0
            && st.wb_inode_refs.load(Ordering::Acquire) == 0
    });
}

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
            .conn()
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
        let conn: Arc<Connection> = inode.sb().conn().into();
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
    let conn = inode.sb().conn();
    // Claimed in the wait's condition, under the lock that checks it.
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            let mut g = inode.fuse().wb.lock();
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
        .wait_until(WaitMode::Killable, || inode.fuse().wb.lock().idle())
        .map_err(|_| EINTR)?;
    Ok(guard)
}

/// Waits (killably) until no size change of `inode` is in progress, before
/// a WRITE that does not go through writeback (direct I/O, write-through):
/// one left by a killed truncate may still be with the server.
pub(crate) fn settled(inode: &Inode) -> Result {
    inode
        .sb()
        .conn()
        .wb_wait()
        .wait_until(WaitMode::Killable, || inode.fuse().wb.lock().nowrite == 0)
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

fn end_drain(inode: &Inode) {
    {
        let mut g = inode.fuse().wb.lock();
        g.nowrite = g.nowrite.saturating_sub(1);
    }
    inode.sb().conn().wb_wait().wake_up_all();
}

impl Drop for Drain {
    fn drop(&mut self) {
        if let Some(inode) = self.0.inode() {
            end_drain(inode);
        }
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
    if pos > inode.size() {
        // The bytes between the old EOF and the write become file data:
        // zeroes, not what a shared mapping stored past the old EOF.
        zero_past_eof(inode, inode.size());
    }
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

/// The size grows from `old` (a write past EOF, or a truncate, fallocate
/// or copy that extends the file): the bytes of the cached folio holding
/// the old EOF that lie past it must read as zeros from now on. A shared mapping may have stored
/// there (it maps whole pages); those bytes were never file data, and
/// writeback would otherwise send them as such. Mainline gets the same by
/// writing back and invalidating around every size change.
pub(crate) fn zero_past_eof(inode: &Inode, old: i64) {
    let Ok(old) = u64::try_from(old) else { return };
    let off = (old % vfs::PAGE_SIZE as u64) as usize;
    if off == 0 {
        return;
    }
    let Some(mut folio) = LockedFolio::lookup(inode, old / vfs::PAGE_SIZE as u64) else {
        return;
    };
    // CAST: the folio holds byte `old`, so the difference is within it.
    let start = (old as i64).saturating_sub(folio.pos()) as usize;
    let size = folio.size();
    if start < size {
        folio.zero(start, size - start);
    }
}

/// `page_mkwrite`: a shared mapping is about to dirty `folio` (locked).
pub(crate) fn page_mkwrite(inode: &Inode, folio: &LockedFolio) -> Result {
    wait_range(inode, folio.index(), folio.index())
}

// --- writepages -----------------------------------------------------------

/// Largest background writeback data in flight per connection, in bytes:
/// the `max_inflight_mb` parameter, but at most 1/32 of RAM, and at least
/// 1 MiB. (The copies also count as pages under writeback against the
/// mount's strict dirty limit: see `SuperBlock::account_writeback`.)
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
    /// Room for `fuse_in_header` and `fuse_write_in`.
    msg: KVVec<u8>,
    data: Data,
    /// Bytes in `data`.
    len: usize,
    /// Pages copied into `data`, counted as under writeback.
    pages: i64,
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
        let mut msg = KVVec::with_capacity(IN_HEADER + WRITE_IN, GFP_KERNEL)?;
        msg.extend_with(IN_HEADER + WRITE_IN, 0, GFP_KERNEL)?;
        // A pointer per chunk of a full batch: never reallocated.
        let data = KVec::with_capacity(cap.div_ceil(CHUNK).max(1), GFP_KERNEL)?;
        let slot = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let pos = i64::try_from(index.saturating_mul(vfs::PAGE_SIZE as u64)).map_err(|_| EINVAL)?;
        // Nothing may fail once the span is recorded.
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
            let span = Span::empty(index, fh);
            g.inflight.insert(slot.into_node(id, span));
            (id, fh)
        };
        Ok(Self {
            msg,
            data,
            len: 0,
            pages: 0,
            id,
            pos,
            fh,
            cap,
            next_index: index,
            closed: false,
        })
    }

    fn can_take(&self, index: u64, size: usize) -> bool {
        !self.closed && index == self.next_index && self.len + size <= self.cap
    }

    /// Copies the first `n` bytes of `folio` and extends the span over it.
    fn add(&mut self, inode: &Inode, folio: &LockedFolio, n: usize) -> Result {
        let room = self.data.last().map_or(0, |c| c.capacity() - c.len());
        if room < n {
            let want = CHUNK.min(self.cap.saturating_sub(self.len)).max(n);
            self.data
                .push(KVVec::with_capacity(want, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let Some(chunk) = self.data.last_mut() else {
            return Err(ENOMEM);
        };
        let before = chunk.len();
        folio.append_to(n, chunk)?;
        self.len += chunk.len() - before;
        let pages = folio.size().div_ceil(vfs::PAGE_SIZE) as u64;
        // CAST: a folio has few pages.
        self.pages += pages as i64;
        inode.sb().account_writeback(pages as i64);
        let last = folio.index() + pages - 1;
        if let Some(s) = inode.fuse().wb.lock().inflight.get_mut(&self.id) {
            s.last = Some(last);
        }
        self.next_index = last + 1;
        if n < folio.size() {
            self.closed = true;
        }
        Ok(())
    }
}

/// Ends a span of `pages` pages: records the error, updates the counters,
/// wakes waiters.
fn finish(conn: &Connection, inode: &Inode, id: u64, len: usize, pages: i64, result: Result) {
    let node = inode.fuse().wb.lock().inflight.remove_node(&id);
    drop(node);
    send_releases(conn, inode);
    if let Err(e) = result {
        inode.set_mapping_error(e);
    }
    if pages != 0 {
        inode.sb().account_writeback(-pages);
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
///
/// It lives as long as its request, which the device's read and write
/// paths may still hold after the request ended. Its inode reference is
/// counted in `wb_inode_refs` until it is dropped, so that unmount waits
/// for the last `iput` (see [`wait_unreferenced`]).
///
struct WbWrite {
    inode: InodeRef,
    id: u64,
    /// Bytes of data this request carries.
    len: usize,
    /// Pages of the span, counted as under writeback until it ends.
    pages: i64,
}

impl Completion for WbWrite {
    fn complete(
        &self,
        conn: &Connection,
        args: &[u8],
        data: &[KVVec<u8>],
        result: Result<Payload>,
    ) {
        let Some(inode) = self.inode.inode() else {
            return;
        };
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
                        match resend(conn, inode, self.id, args, data, written, self.pages) {
                            Ok(()) => return,
                            Err((e, left)) => {
                                finish(conn, inode, self.id, left, self.pages, Err(e));
                                return;
                            }
                        }
                    }
                },
            },
        };
        finish(conn, inode, self.id, self.len, self.pages, res);
    }
}

/// Sends what follows the first `written` bytes of `data`, the data of a
/// WRITE whose arguments were `args`. On failure returns the error and the
/// bytes left.
fn resend(
    conn: &Connection,
    inode: &Inode,
    id: u64,
    args: &[u8],
    data: &[KVVec<u8>],
    written: usize,
    pages: i64,
) -> core::result::Result<(), (Error, usize)> {
    let total = data.iter().fold(0usize, |n, c| n.saturating_add(c.len()));
    let left = total.saturating_sub(written);
    let Some(mut arg) = pod::read::<abi::fuse_write_in>(args) else {
        return Err((EIO, left));
    };
    arg.offset = arg.offset.saturating_add(written as u64);
    arg.size = left as u32;
    let rest = tail(data, written, left).map_err(|e| (e, left))?;
    let mut msg =
        KVVec::with_capacity(IN_HEADER + WRITE_IN, GFP_KERNEL).map_err(|e| (e.into(), left))?;
    msg.extend_with(IN_HEADER, 0, GFP_KERNEL)
        .and_then(|()| msg.extend_from_slice(pod::bytes_of(&arg), GFP_KERNEL))
        .map_err(|e| (e.into(), left))?;
    queue_write(conn, inode, id, msg, rest, pages).map_err(|e| (e, left))
}

/// A copy of the `left` bytes of `data` that follow its first `skip` bytes.
fn tail(data: &[KVVec<u8>], mut skip: usize, left: usize) -> Result<Data> {
    let mut out = KVec::with_capacity(left.div_ceil(CHUNK).max(1), GFP_KERNEL)?;
    let mut cur: KVVec<u8> = KVVec::new();
    for c in data {
        let mut piece = c.as_slice();
        if skip >= piece.len() {
            skip -= piece.len();
            continue;
        }
        piece = piece.get(skip..).unwrap_or(&[]);
        skip = 0;
        while !piece.is_empty() {
            if cur.len() == cur.capacity() {
                if !cur.is_empty() {
                    out.push(core::mem::replace(&mut cur, KVVec::new()), GFP_KERNEL)?;
                }
                cur = KVVec::with_capacity(CHUNK, GFP_KERNEL)?;
            }
            let n = (cur.capacity() - cur.len()).min(piece.len());
            let (now, later) = piece.split_at(n);
            cur.extend_from_slice(now, GFP_KERNEL)?;
            piece = later;
        }
    }
    if !cur.is_empty() {
        out.push(cur, GFP_KERNEL)?;
    }
    Ok(out)
}

/// Queues a WRITE: `msg` has room for the header and holds `fuse_write_in`;
/// its data is `data`; its span has `pages` pages.
fn queue_write(
    conn: &Connection,
    inode: &Inode,
    id: u64,
    msg: KVVec<u8>,
    data: Data,
    pages: i64,
) -> Result {
    let len = data.iter().fold(0usize, |n, c| n.saturating_add(c.len()));
    // An inode being evicted (pinned by the flusher's I_SYNC alone) can
    // get no WRITE that outlives this call: ESTALE ends its span.
    let done = Arc::new(
        WbWrite {
            inode: InodeRef::new(inode)?,
            id,
            len,
            pages,
        },
        GFP_KERNEL,
    )?;
    conn.queue_write(
        inode.fuse().nodeid(),
        msg,
        data,
        ReplyKind::Write { max: len as u64 },
        done,
    )
}

/// Sends a finished batch. Its span ends here on failure.
fn send(conn: &Connection, inode: &Inode, mut b: Batch) {
    let (len, pages) = (b.len, b.pages);
    if len == 0 {
        finish(conn, inode, b.id, 0, pages, Ok(()));
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
    if let Err(e) = queue_write(conn, inode, id, b.msg, b.data, pages) {
        finish(conn, inode, id, len, pages, Err(e));
    }
}

/// Marks a `writepages` call active unless a drain is in progress; a
/// data-integrity pass of a user task waits (killably) for the drain
/// instead. A kernel thread (the flusher, for sync(2)) never waits: a drain
/// lasts as long as the server takes to answer, and nothing could end the
/// wait of a kernel thread; the data stays dirty for a later pass.
fn enter(inode: &Inode, sync: bool) -> Result<bool> {
    loop {
        {
            let mut g = inode.fuse().wb.lock();
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
///
/// It never waits for the server. Background writeback (the flusher,
/// write-behind) stops when the data in flight is at its bound, without
/// claiming progress, so the flusher does not spin on it. Data-integrity
/// writeback (fsync, close, sync) sends everything even past the bound: it
/// copies dirty pages, which the mount's strict dirty limit bounds, and a
/// wait for room could not end in the flusher (no signal reaches a kernel
/// thread) nor for a writer being killed (whose data must still go out).
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
            if !sync && !has_room(&conn) {
                conn.stats().wb_budget_stops.fetch_add(1, Ordering::Relaxed);
                folio.redirty(ctl);
                ctl.stop();
                continue;
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
        send(&conn, inode, b);
    }
    // Dirty folios past EOF were dropped without a WRITE: a handle kept
    // for dirty data may have none left.
    send_releases(&conn, inode);
    Ok(())
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
    let conn = inode.sb().conn();
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
                .fuse()
                .wb
                .lock()
                .inflight
                .iter()
                .any(|(k, _)| *k == id)
        })
        .map_err(|_| EINTR)
}

/// The handle of some writable open file of `inode`, if any (for SETATTR;
/// not one kept for dirty data, whose RELEASE does not wait for SETATTRs).
pub(crate) fn any_writer_fh(inode: &Inode) -> Option<u64> {
    inode.fuse().wb.lock().writers.values().next().map(|w| w.1)
}

/// Waits (killably) until the background SETATTRs of `inode`'s times were
/// answered, without taking their error: before a SETATTR that sets the
/// times, which an older one must not overwrite on the server.
pub(crate) fn times_sent(inode: &Inode) -> Result {
    let conn = inode.sb().conn();
    conn.wb_wait()
        .wait_until(WaitMode::Killable, || {
            inode.fuse().wb.lock().times_pending == 0 || conn.is_aborted()
        })
        .map_err(|_| EINTR)
}

/// `drop_inode`: whether the inode may go once unused. Not while it still
/// has dirty data for the server (that of a writer killed before it could
/// write it, see [`Closed`]): it stays cached until the flusher wrote it.
pub(crate) fn may_drop(inode: &Inode) -> bool {
    !(inode.nlink() > 0 && is_wb(inode) && inode.has_dirty_pages())
}
