// SPDX-License-Identifier: GPL-2.0

//! Pages for a pipe: what a message device's `splice_read` fills.
//!
//! `copy_splice_read` allocates a page for every page of room the caller
//! asks for (libfuse asks for about 1 MiB per request) and frees the
//! unused ones after the read. [`PipePages`] allocates only the pages of
//! the message being read, once its length is known, and moves them into
//! the pipe (as mainline's `fuse_dev_splice_read`).
//!
//! C header: [`include/linux/pipe_fs_i.h`](srctree/include/linux/pipe_fs_i.h)

use super::iov::MsgDst;
use crate::vfs::bindings;
use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;

/// The pages of one message for a pipe.
///
/// # Invariants
///
/// `pages` holds `len.div_ceil(PAGE_SIZE)` pages once `begin` succeeded
/// (none before); `filled <= len <= room`.
pub(crate) struct PipePages {
    room: usize,
    len: usize,
    filled: usize,
    pages: KVec<Option<Page>>,
}

impl PipePages {
    /// Room for at most `len` bytes, and no more than the pipe `pipe` has
    /// free buffers for.
    ///
    /// # Safety
    ///
    /// `pipe` must be valid and locked by the caller (as for `splice_read`).
    pub(crate) unsafe fn new(pipe: *mut bindings::pipe_inode_info, len: usize) -> Self {
        // SAFETY: `pipe` is valid and locked (caller).
        let (used, max) = unsafe {
            (
                bindings::fusewb_pipe_occupancy(pipe),
                bindings::fusewb_pipe_max_usage(pipe),
            )
        };
        // CAST: A pipe has at most u32::MAX buffers; usize is at least 32 bits.
        let free = max.saturating_sub(used) as usize;
        Self {
            room: len.min(free.saturating_mul(PAGE_SIZE)),
            len: 0,
            filled: 0,
            pages: KVec::new(),
        }
    }

    /// Moves the filled pages into `pipe` (as `nosteal` buffers: the pages
    /// are ours, not the page cache's); returns the bytes added, or the
    /// error of the first buffer the pipe refused if none was added.
    /// Pages the pipe did not take are freed.
    ///
    /// # Safety
    ///
    /// `pipe` must be the valid, locked pipe given to [`Self::new`].
    pub(crate) unsafe fn into_pipe(mut self, pipe: *mut bindings::pipe_inode_info) -> isize {
        let mut total: isize = 0;
        let mut left = self.filled;
        for slot in self.pages.iter_mut() {
            if left == 0 {
                break;
            }
            let Some(page) = slot.take() else {
                break;
            };
            let chunk = left.min(PAGE_SIZE);
            left -= chunk;
            // The pipe owns the page's reference from here (it drops it
            // with put_page, through the buffer's ops).
            let page = core::mem::ManuallyDrop::new(page);
            let mut buf = bindings::pipe_buffer {
                page: page.as_ptr(),
                offset: 0,
                // CAST: At most PAGE_SIZE.
                len: chunk as u32,
                ops: core::ptr::addr_of!(bindings::nosteal_pipe_buf_ops),
                flags: 0,
                private: 0,
            };
            // SAFETY: `pipe` is valid and locked (caller); `buf` is a valid
            // buffer whose page reference `add_to_pipe` takes (or releases
            // on failure).
            let r = unsafe { bindings::add_to_pipe(pipe, &mut buf) };
            if r < 0 {
                return if total > 0 { total } else { r };
            }
            // CAST: At most PAGE_SIZE.
            total += chunk as isize;
        }
        total
    }
}

impl MsgDst for PipePages {
    fn room(&self) -> usize {
        self.room
    }

    fn begin(&mut self, len: usize) -> Result {
        if len > self.room || !self.pages.is_empty() {
            return Err(EINVAL);
        }
        let n = len.div_ceil(PAGE_SIZE);
        let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            pages.push(Some(Page::alloc_page(GFP_KERNEL)?), GFP_KERNEL)?;
        }
        // INVARIANT: `len` <= `room`, with its pages.
        self.pages = pages;
        self.len = len;
        Ok(())
    }

    fn write_all(&mut self, mut data: &[u8]) -> Result {
        let end = self.filled.checked_add(data.len()).ok_or(EFAULT)?;
        if end > self.len {
            return Err(EFAULT);
        }
        while !data.is_empty() {
            let (idx, off) = (self.filled / PAGE_SIZE, self.filled % PAGE_SIZE);
            let n = data.len().min(PAGE_SIZE - off);
            let page = self.pages.get(idx).and_then(Option::as_ref).ok_or(EFAULT)?;
            // SAFETY: `data` is valid for reads of `n` bytes; `off + n` is
            // within the page.
            unsafe { page.write_raw(data.as_ptr(), off, n)? };
            data = data.get(n..).unwrap_or_default();
            // INVARIANT: Within `len`, checked above.
            self.filled += n;
        }
        Ok(())
    }
}
