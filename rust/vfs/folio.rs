// SPDX-License-Identifier: GPL-2.0

//! Folios of the page cache and the address space operations.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h)

use super::file::File;
use super::inode::Inode;
use crate::bindings;
use kernel::ffi::c_int;

/// A locked page-cache folio; unlocked when dropped.
///
/// # Invariants
///
/// `ptr` is a valid, locked folio that this object is responsible for
/// unlocking; the page cache holds a reference on it while it is locked.
pub(crate) struct LockedFolio {
    ptr: *mut bindings::folio,
}

impl LockedFolio {
    /// Takes over a locked folio.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid locked folio whose unlock the caller hands over.
    unsafe fn from_raw(ptr: *mut bindings::folio) -> Self {
        // INVARIANT: Per the caller.
        Self { ptr }
    }

    /// The file offset of the folio's first byte.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: Valid folio (type invariant).
        unsafe { bindings::fusewb_folio_pos(self.ptr) }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: Valid folio (type invariant).
        unsafe { bindings::fusewb_folio_size(self.ptr) }
    }

    /// Copies `data` into the folio at `offset`, page by page, and zeroes
    /// the rest of the folio.
    pub(crate) fn fill(&mut self, data: &[u8]) {
        let size = self.size();
        let n = data.len().min(size);
        let mut done = 0;
        while done < n {
            let page_off = done % super::PAGE_SIZE;
            let chunk = (super::PAGE_SIZE - page_off).min(n - done);
            // SAFETY: The folio is locked and valid; `done < size`, so the
            // mapping covers `chunk` bytes within one page.
            unsafe {
                let dst = bindings::fusewb_kmap_local_folio(self.ptr, done).cast::<u8>();
                core::ptr::copy_nonoverlapping(data.as_ptr().add(done), dst, chunk);
                bindings::fusewb_kunmap_local(dst.cast());
            }
            done += chunk;
        }
        if n < size {
            // SAFETY: Zeroing `[n, size)` of a locked, valid folio.
            unsafe { bindings::fusewb_folio_zero_range(self.ptr, n, size - n) };
        }
    }

    /// Marks the contents valid.
    pub(crate) fn mark_uptodate(&mut self) {
        // SAFETY: Locked, valid folio.
        unsafe { bindings::fusewb_folio_mark_uptodate(self.ptr) }
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We own the lock (type invariant).
        unsafe { bindings::folio_unlock(self.ptr) }
    }
}

/// The folios of a readahead request, handed out locked and in order.
///
/// # Invariants
///
/// `ractl` is the valid `readahead_control` of an ongoing `readahead` call.
pub(crate) struct Readahead<'a> {
    ractl: *mut bindings::readahead_control,
    _p: core::marker::PhantomData<&'a File>,
}

impl<'a> Readahead<'a> {
    /// File offset of the first folio.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: Valid control (type invariant).
        unsafe { bindings::fusewb_readahead_pos(self.ractl) }
    }

    /// Bytes still to read.
    pub(crate) fn len(&self) -> usize {
        // SAFETY: Valid control (type invariant).
        unsafe { bindings::fusewb_readahead_length(self.ractl) }
    }

    /// The open file the readahead is for, if any.
    pub(crate) fn file(&self) -> Option<&'a File> {
        // SAFETY: Valid control; `file` is NULL or a live file of ours.
        let f = unsafe { (*self.ractl).file };
        // SAFETY: See above.
        (!f.is_null()).then(|| unsafe { File::from_raw(f) })
    }

    /// The next folio, locked (the page cache keeps its reference).
    pub(crate) fn next_folio(&mut self) -> Option<LockedFolio> {
        // SAFETY: Valid control; returns a locked folio or NULL.
        let f = unsafe { bindings::fusewb_readahead_folio(self.ractl) };
        // SAFETY: `readahead_folio` hands the locked folio to us to unlock.
        (!f.is_null()).then(|| unsafe { LockedFolio::from_raw(f) })
    }
}

pub(crate) struct Aops(pub(crate) bindings::address_space_operations);
// SAFETY: Immutable table only read by the kernel.
unsafe impl Sync for Aops {}

/// Address space operations of regular files.
pub(crate) static AOPS: Aops = Aops(bindings::address_space_operations {
    read_folio: Some(read_folio_callback),
    readahead: Some(readahead_callback),
    // SAFETY: All-zero means "no operation" for the other fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

/// # Safety
///
/// Called by the page cache with a locked folio of one of our files and the
/// file (possibly NULL) it is read for.
unsafe extern "C" fn read_folio_callback(
    file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: The folio's mapping host is our inode while the folio is locked.
    let inode =
        unsafe { Inode::from_raw((*(*folio).__bindgen_anon_1.__bindgen_anon_1.mapping).host) };
    // SAFETY: NULL or a live file of ours.
    let file = (!file.is_null()).then(|| unsafe { File::from_raw(file) });
    // SAFETY: The folio is locked and we must unlock it.
    let lf = unsafe { LockedFolio::from_raw(folio) };
    match crate::fs::file::read_folio(inode, file, lf) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the page cache with a valid readahead control of one of ours.
unsafe extern "C" fn readahead_callback(ractl: *mut kernel::bindings::readahead_control) {
    let ractl = ractl.cast::<bindings::readahead_control>();
    // SAFETY: The mapping's host is our inode.
    let inode = unsafe { Inode::from_raw((*(*ractl).mapping).host) };
    // INVARIANT: `ractl` is valid for this call.
    let mut ra = Readahead {
        ractl,
        _p: core::marker::PhantomData,
    };
    crate::fs::file::readahead(inode, &mut ra);
}
