// SPDX-License-Identifier: GPL-2.0

//! User buffers described by an `iov_iter` (read_iter / write_iter).
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h)

use crate::vfs::bindings;
use kernel::prelude::*;

/// Where one read of a message device puts one message: the reader's
/// buffer ([`IovIter`], read(2)) or pages for a pipe
/// ([`super::pipe::PipePages`], splice(2)).
pub(crate) trait MsgDst {
    /// The most bytes it can take.
    fn room(&self) -> usize;

    /// Makes ready for a message of `len` bytes (at most [`Self::room`]),
    /// before its first byte is written.
    fn begin(&mut self, len: usize) -> Result;

    /// Appends all of `data` (within the `len` given to `begin`).
    fn write_all(&mut self, data: &[u8]) -> Result;
}

impl MsgDst for IovIter<'_> {
    fn room(&self) -> usize {
        self.len()
    }

    fn begin(&mut self, _len: usize) -> Result {
        Ok(())
    }

    fn write_all(&mut self, data: &[u8]) -> Result {
        IovIter::write_all(self, data)
    }
}

/// An `iov_iter` borrowed for the duration of a `read_iter`/`write_iter` call.
///
/// # Invariants
///
/// `ptr` is a valid `iov_iter` for the lifetime `'a`, used by one thread.
pub(crate) struct IovIter<'a> {
    ptr: *mut bindings::iov_iter,
    _p: core::marker::PhantomData<&'a mut bindings::iov_iter>,
}

impl<'a> IovIter<'a> {
    /// Wraps a raw `iov_iter`.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid and exclusively ours for `'a`.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::iov_iter) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            ptr,
            _p: core::marker::PhantomData,
        }
    }

    /// Bytes left in the buffer.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::fusewb_iov_iter_count(self.ptr) }
    }

    /// Copies all of `data` to the user buffer, advancing it.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> Result {
        if data.len() > self.len() {
            return Err(EFAULT);
        }
        // SAFETY: `data` is valid for reads of its length; `ptr` is valid.
        let n = unsafe { bindings::_copy_to_iter(data.as_ptr().cast(), data.len(), self.ptr) };
        if n == data.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Fills all of `buf` from the user buffer, advancing it.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result {
        if buf.len() > self.len() {
            return Err(EFAULT);
        }
        // SAFETY: `buf` is valid for writes of its length; `ptr` is valid.
        let n = unsafe { bindings::_copy_from_iter(buf.as_mut_ptr().cast(), buf.len(), self.ptr) };
        if n == buf.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Appends up to `n` bytes from the user buffer to `dst`, advancing it,
    /// without initialising the room first; returns how many were copied
    /// (fewer on a fault).
    pub(crate) fn read_into(&mut self, n: usize, dst: &mut KVVec<u8>) -> Result<usize> {
        let n = n.min(self.len());
        dst.reserve(n, GFP_KERNEL)?;
        let spare = dst.spare_capacity_mut();
        let n = n.min(spare.len());
        // SAFETY: `spare` is valid for writes of `n` bytes (`MaybeUninit<u8>`
        // has `u8`'s layout); `ptr` is valid.
        let got = unsafe { bindings::_copy_from_iter(spare.as_mut_ptr().cast(), n, self.ptr) };
        let got = got.min(n);
        // SAFETY: The first `got <= n` bytes of the spare capacity were
        // written by `_copy_from_iter`.
        unsafe { dst.set_len(dst.len() + got) };
        Ok(got)
    }

    /// Copies up to `data.len()` bytes to the user buffer, advancing it;
    /// returns how many were copied (fewer on a fault).
    pub(crate) fn write_some(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.len());
        // SAFETY: `data` is valid for reads of `n` bytes; `ptr` is valid.
        unsafe { bindings::_copy_to_iter(data.as_ptr().cast(), n, self.ptr) }
    }

    /// Writes up to `n` zero bytes to the user buffer, advancing it;
    /// returns how many were written (fewer on a fault).
    pub(crate) fn zero(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        // SAFETY: `ptr` is a valid iterator (type invariant).
        unsafe { bindings::iov_iter_zero(n, self.ptr) }
    }

    /// Moves the buffer back by `n` bytes (consumed but not used).
    pub(crate) fn revert(&mut self, n: usize) {
        // SAFETY: `ptr` is valid; callers revert at most what they consumed.
        unsafe { bindings::iov_iter_revert(self.ptr, n) }
    }

    /// The raw pointer, for the VFS helpers in this module.
    pub(crate) fn as_ptr(&mut self) -> *mut bindings::iov_iter {
        self.ptr
    }
}
