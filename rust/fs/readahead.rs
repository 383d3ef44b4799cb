// SPDX-License-Identifier: GPL-2.0

//! Asynchronous readahead: the READs of a readahead window go to the server
//! as background requests, and their replies fill and unlock the folios, as
//! mainline's `fuse_readahead` does with FUSE_ASYNC_READ. The reader is not
//! held while the next window is read: it waits only for the folio it
//! needs, killably, in the page cache.
//!
//! A READ in flight keeps what it needs until it ends:
//! - its folios stay locked (truncation and other readers wait for them);
//! - its inode, counted for unmount ([`InodeRef`]);
//! - its file's handle: the file may be closed meanwhile, and its RELEASE
//!   then waits for the READ (`writeback::defer_release`), so that the
//!   server never sees a handle released, and perhaps reused for another
//!   file, before a READ that names it. READs are registered by their open
//!   file (`FuseFile::serial`), not by the handle, which several opens may
//!   share.

use super::file::{self as ffile, FuseFile};
use super::writeback::{self, InodeRef};
use super::{inode, Inode, Readahead};
use crate::abi;
use crate::conn::{Completion, Connection, Payload};
use crate::proto::{pod, reply::ReplyKind};
use crate::vfs::{folio::LockedFolio, iov::IovIter, PAGE_SIZE};
use kernel::prelude::*;
use kernel::sync::{Arc, SpinLock};

/// Whether readahead of this mount may be asynchronous: the server said it
/// takes several READs of a file at once (FUSE_ASYNC_READ).
pub(crate) fn enabled(conn: &Connection) -> bool {
    conn.params().has(u64::from(abi::FUSE_ASYNC_READ))
}

/// Sends the READs of the folios of `ra` through the open file `ff`, each
/// of up to `chunk` bytes of whole folios. Stops early when it cannot send
/// one, or when the server is congested and only the asynchronous part of
/// the window is left (as mainline). The folios not taken from `ra` are
/// then the caller's (`read_pages` removes those read ahead of need and
/// unlocks the others, which `read_folio` reads when needed); a folio taken
/// is always sent, or left not up to date for `read_folio` on a failure.
pub(crate) fn send_all(inode: &Inode, ff: &FuseFile, ra: &mut Readahead<'_>, chunk: usize) {
    let conn = inode.sb().data();
    // A folio taken that did not fit the previous READ (a large one).
    let mut carry: Option<LockedFolio> = None;
    loop {
        if carry.is_none() && conn.congested() && ra.only_async_left() {
            return;
        }
        let Ok(mut folios) = KVec::with_capacity(chunk.div_ceil(PAGE_SIZE), GFP_KERNEL) else {
            return;
        };
        let mut len = 0usize;
        let mut pos = 0i64;
        // A READ of whole folios, starting with the one left over by the
        // previous READ; no folio is taken once the READ is full.
        while len < chunk {
            let Some(f) = carry.take().or_else(|| ra.next_folio()) else {
                break;
            };
            if len > 0 && len.saturating_add(f.size()) > chunk {
                carry = Some(f);
                break;
            }
            if len == 0 {
                pos = f.pos();
            }
            len = len.saturating_add(f.size());
            if folios.push(f, GFP_KERNEL).is_err() {
                // The folio went with the failed push (unlocked).
                return;
            }
        }
        if folios.is_empty() || send_one(&conn, inode, ff, pos, len, folios).is_err() {
            return;
        }
    }
}

/// Sends one READ of `len` bytes at `pos` filling `folios`.
fn send_one(
    conn: &Connection,
    inode: &Inode,
    ff: &FuseFile,
    pos: i64,
    len: usize,
    folios: KVec<LockedFolio>,
) -> Result {
    let arg = ffile::read_in(ff, pos, len)?;
    let iref = InodeRef::new(inode)?;
    // A file without a server handle has no RELEASE to order after it.
    let id = if ff.no_release() {
        None
    } else {
        Some(writeback::add_read(inode, ff)?)
    };
    // From here on the READ's state (and, when it is dropped, the end of
    // its registration) lives in `done`, sent or not.
    let state = RaState {
        folios: Some(folios),
        filled: None,
    };
    let done = Arc::pin_init(
        pin_init!(RaRead {
            inode: iref,
            id,
            pos,
            len,
            version: conn.attr_version(),
            state <- kernel::new_spinlock!(state, "fuse_wb::RaRead::state"),
        }),
        GFP_KERNEL,
    );
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            if let Some(id) = id {
                writeback::read_done(conn, inode, id);
            }
            return Err(e);
        }
    };
    conn.request_callback_as_caller(
        abi::fuse_opcode_FUSE_READ,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Data { max: len },
        done,
    )
}

/// A readahead READ in flight.
///
/// # Invariants
///
/// `state.folios` holds, until the completion or the drop takes them,
/// locked folios of `inode` that are contiguous from `pos` and together
/// `len` bytes long (`take_data` takes them out while it fills them, and
/// puts them back); `state.filled` is set only once they hold the reply.
/// `id`, if any, stays registered with the inode (its handle in use) until
/// the drop.
#[pin_data(PinnedDrop)]
struct RaRead {
    inode: InodeRef,
    /// Its registration with the inode (`writeback::add_read`); none for
    /// a file without a server handle.
    id: Option<u64>,
    pos: i64,
    len: usize,
    /// The attribute version before it was sent (for a short READ).
    version: u64,
    #[pin]
    state: SpinLock<RaState>,
}

struct RaState {
    /// Locked until it ends; taken by the completion.
    folios: Option<KVec<LockedFolio>>,
    /// The reply's length, once `take_data` copied it into the folios.
    filled: Option<usize>,
}

impl Completion for RaRead {
    fn take_data(&self, src: &mut IovIter<'_>, len: usize) -> Option<Result> {
        // Copied without the lock held: the server's buffer may fault. Only
        // this reply can complete the request meanwhile (the device took it
        // from the requests being processed), and the caller holds it.
        let mut folios = self.state.lock().folios.take()?;
        let mut left = len;
        let mut res = Ok(());
        for f in folios.iter_mut() {
            let n = left.min(f.size());
            res = f.fill_from_iter(src, n);
            if res.is_err() {
                break;
            }
            left -= n;
        }
        let mut st = self.state.lock();
        st.folios = Some(folios);
        if res.is_ok() {
            st.filled = Some(len);
        }
        Some(res)
    }

    fn complete(
        &self,
        _conn: &Connection,
        _args: &[u8],
        _data: &[KVVec<u8>],
        result: Result<Payload>,
    ) {
        let (folios, filled) = {
            let mut st = self.state.lock();
            (st.folios.take(), st.filled)
        };
        let Some(mut folios) = folios else {
            return;
        };
        let Some(inode) = self.inode.inode() else {
            return;
        };
        // On an error the folios stay not up to date: `read_folio` reads
        // them again and reports it. The size and atime are updated before
        // the folios are unlocked: a reader woken by the unlock reads both
        // (as mainline's `fuse_readpages_end`).
        if let Ok(data) = &result {
            let got = match filled {
                // `take_data` filled them (and zeroed the rest).
                Some(got) => got,
                None => {
                    let mut covered = 0usize;
                    for f in folios.iter_mut() {
                        let size = f.size();
                        let start = covered.min(data.len());
                        let end = covered.saturating_add(size).min(data.len());
                        f.fill(data.get(start..end).unwrap_or(&[]));
                        covered = covered.saturating_add(size);
                    }
                    data.len()
                }
            };
            for f in folios.iter_mut() {
                f.mark_uptodate();
            }
            if got < self.len {
                // CAST: at most `len`, which came from a u32.
                ffile::short_read(inode, self.pos.saturating_add(got as i64), self.version);
            }
        }
        inode::invalidate_atime(inode);
        drop(folios);
    }
}

#[pinned_drop]
impl PinnedDrop for RaRead {
    fn drop(self: Pin<&mut Self>) {
        // Unlock what was never filled (the READ failed to go out) before
        // a deferred RELEASE may go.
        let folios = self.state.lock().folios.take();
        drop(folios);
        if let (Some(inode), Some(id)) = (self.inode.inode(), self.id) {
            writeback::read_done(&inode.sb().data(), inode, id);
        }
    }
}
