// SPDX-License-Identifier: GPL-2.0

//! Batches: contiguous dirty folios copied into one WRITE, sent in the
//! background; the reply ends the span, a short WRITE resends the rest.

use super::drain::InodeRef;
use super::handles::{first_writer, send_releases};
use crate::abi;
use crate::conn::{Completion, Connection, Data, Payload, DATA_CHUNK};
use crate::fs::Inode;
use crate::proto::pod;
use crate::proto::reply::ReplyKind;
use crate::proto::request::{IN_HEADER, WRITE_IN};
use crate::proto::write::{self as pw, Span};
use crate::vfs;
use crate::vfs::folio::LockedFolio;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::RBTreeNodeReservation;
use kernel::sync::Arc;

/// Size of the pieces a WRITE's data is copied into (never reallocated).
pub(super) const CHUNK: usize = DATA_CHUNK;

/// Largest background writeback data in flight per connection, in bytes:
/// the `max_inflight_mb` parameter, but at most 1/32 of RAM, and at least
/// 1 MiB. (The copies also count as pages under writeback against the
/// mount's strict dirty limit: see `SuperBlock::account_writeback`.)
pub(super) fn max_inflight() -> u64 {
    let param = u64::from(vfs::max_inflight_mb_param().clamp(1, 4096)) << 20;
    let ram = vfs::totalram_pages().saturating_mul(vfs::PAGE_SIZE as u64) / 32;
    param.min(ram).max(1 << 20)
}

pub(super) fn has_room(conn: &Connection) -> bool {
    conn.is_aborted() || conn.stats().wb_bytes.load(Ordering::Acquire) < max_inflight()
}

/// A WRITE being built from consecutive folios.
pub(super) struct Batch {
    /// Room for `fuse_in_header` and `fuse_write_in`.
    msg: KVVec<u8>,
    data: Data,
    /// Bytes in `data`.
    len: usize,
    /// Pages copied into `data`, counted as under writeback.
    pub(super) pages: i64,
    pub(super) id: u64,
    pos: i64,
    fh: u64,
    cap: usize,
    next_index: u64,
    /// The last folio was cropped at EOF: nothing may follow.
    closed: bool,
}

impl Batch {
    /// Starts a WRITE at the folio `index`, recording its (empty) span.
    pub(super) fn new(inode: &Inode, index: u64, cap: usize) -> Result<Self> {
        let mut msg = KVVec::with_capacity(IN_HEADER + WRITE_IN, GFP_KERNEL)?;
        msg.extend_with(IN_HEADER + WRITE_IN, 0, GFP_KERNEL)?;
        // A pointer per chunk of a full batch: never reallocated.
        let data = KVec::with_capacity(cap.div_ceil(CHUNK).max(1), GFP_KERNEL)?;
        let slot = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let pos = i64::try_from(index.saturating_mul(vfs::PAGE_SIZE as u64)).map_err(|_| EINVAL)?;
        // Nothing may fail once the span is recorded.
        let (id, fh) = {
            let mut g = inode.data().wb.lock();
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

    pub(super) fn can_take(&self, index: u64, size: usize) -> bool {
        !self.closed && index == self.next_index && self.len + size <= self.cap
    }

    /// Copies the first `n` bytes of `folio` and extends the span over it.
    pub(super) fn add(&mut self, inode: &Inode, folio: &LockedFolio, n: usize) -> Result {
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
        if let Some(s) = inode.data().wb.lock().inflight.get_mut(&self.id) {
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
pub(super) fn finish(
    conn: &Connection,
    inode: &Inode,
    id: u64,
    len: usize,
    pages: i64,
    result: Result,
) {
    if !super::is_wb(inode) {
        // Write-through mode (a shared mapping's pages): the server set the
        // file's times; the next stat must ask it (as mainline after a
        // writeback WRITE). Before the WRITE stops counting as in flight,
        // so whoever waited for it sees the invalidation.
        inode.data().invalidate_attrs(conn);
    }
    let node = inode.data().wb.lock().inflight.remove_node(&id);
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
pub(super) struct WbWrite {
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
pub(super) fn resend(
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
pub(super) fn tail(data: &[KVVec<u8>], mut skip: usize, left: usize) -> Result<Data> {
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
pub(super) fn queue_write(
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
        inode.data().nodeid(),
        msg,
        data,
        ReplyKind::Write { max: len as u64 },
        done,
    )
}

/// Sends a finished batch. Its span ends here on failure.
pub(super) fn send(conn: &Connection, inode: &Inode, mut b: Batch) {
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
