// SPDX-License-Identifier: GPL-2.0

//! Folios of the page cache and the address space operations.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h)

use super::file::File;
use super::fs_type::FileSystem;
use super::inode::{Inode, InodeOperations};
use super::iov::IovIter;
use crate::vfs::bindings;
use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::error::from_result;
use kernel::error::{code::EFAULT, Result};
use kernel::ffi::c_int;
use kernel::prelude::vtable;

/// A locked page-cache folio; unlocked when dropped (and released, if we
/// hold a reference of our own).
///
/// # Invariants
///
/// `ptr` is a valid, locked folio that this object is responsible for
/// unlocking. If `owned`, this object also owns one reference to it;
/// otherwise the page cache (or a writeback batch) holds one while it is
/// locked.
pub(crate) struct LockedFolio {
    ptr: *mut bindings::folio,
    owned: bool,
}

impl LockedFolio {
    /// Takes over a locked folio.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid locked folio whose unlock the caller hands over.
    unsafe fn from_raw(ptr: *mut bindings::folio) -> Self {
        // INVARIANT: Per the caller.
        Self { ptr, owned: false }
    }

    /// Locks and takes a reference on the folio of `inode` at `index`,
    /// creating it if needed (as for a buffered write).
    pub(crate) fn grab<T: FileSystem>(inode: &Inode<T>, index: u64) -> kernel::error::Result<Self> {
        // SAFETY: Live inode with a valid mapping.
        let f = unsafe {
            let mapping = (*inode.as_ptr()).i_mapping;
            bindings::__filemap_get_folio(
                mapping,
                index as usize,
                bindings::FGP_WRITEBEGIN,
                bindings::fusewb_mapping_gfp_mask(mapping),
            )
        };
        if kernel::error::from_err_ptr(f).is_err() || f.is_null() {
            return Err(kernel::error::code::ENOMEM);
        }
        // INVARIANT: `__filemap_get_folio` returned a locked, referenced folio.
        Ok(Self {
            ptr: f,
            owned: true,
        })
    }

    /// The cached folio at `index`, locked, if the page cache has one.
    pub(crate) fn lookup<T: FileSystem>(inode: &Inode<T>, index: u64) -> Option<Self> {
        // SAFETY: Live inode with a valid mapping; FGP_LOCK alone never
        // creates a folio.
        let f = unsafe {
            bindings::__filemap_get_folio(
                (*inode.as_ptr()).i_mapping,
                index as usize,
                bindings::FGP_LOCK,
                0,
            )
        };
        if kernel::error::from_err_ptr(f).is_err() || f.is_null() {
            return None;
        }
        // INVARIANT: `__filemap_get_folio` returned a locked, referenced folio.
        Some(Self {
            ptr: f,
            owned: true,
        })
    }

    /// Takes over the locked, referenced folio of a page fault.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid folio on which the caller holds a reference
    /// for as long as this object lives; the caller locked it.
    pub(crate) unsafe fn from_locked(ptr: *mut bindings::folio) -> Self {
        // INVARIANT: Per the caller.
        Self { ptr, owned: false }
    }

    /// Hands the locked folio to the VFS (which unlocks and releases it).
    pub(crate) fn into_raw(self) -> *mut bindings::folio {
        let p = self.ptr;
        core::mem::forget(self);
        p
    }

    /// The index of the folio's first page in the file.
    pub(crate) fn index(&self) -> u64 {
        // SAFETY: Valid folio (type invariant).
        unsafe { bindings::fusewb_folio_index(self.ptr) as u64 }
    }

    /// Whether the folio still belongs to `inode`'s mapping (not truncated).
    pub(crate) fn belongs_to<T: FileSystem>(&self, inode: &Inode<T>) -> bool {
        // SAFETY: Valid, locked folio; live inode.
        unsafe { bindings::fusewb_folio_mapping(self.ptr) == (*inode.as_ptr()).i_mapping }
    }

    /// Whether the contents are valid.
    pub(crate) fn is_uptodate(&self) -> bool {
        // SAFETY: Valid folio.
        unsafe { bindings::fusewb_folio_test_uptodate(self.ptr) }
    }

    /// Appends the folio's first `n` bytes (clamped to the folio) to `dst`,
    /// without initialising the room first.
    pub(crate) fn append_to(&self, n: usize, dst: &mut KVVec<u8>) -> kernel::error::Result {
        self.append_range(0, n, dst)
    }

    /// Appends `n` bytes of the folio from `start` (clamped to the folio)
    /// to `dst`, without initialising the room first.
    pub(crate) fn append_range(
        &self,
        start: usize,
        n: usize,
        dst: &mut KVVec<u8>,
    ) -> kernel::error::Result {
        let size = self.size();
        let start = start.min(size);
        let n = n.min(size - start);
        dst.reserve(n, GFP_KERNEL)?;
        let spare = dst.spare_capacity_mut();
        let mut done = 0;
        while done < n {
            let at = start + done;
            let page_off = at % super::PAGE_SIZE;
            let chunk = (super::PAGE_SIZE - page_off).min(n - done);
            let Some(to) = spare.get_mut(done..done + chunk) else {
                break;
            };
            // SAFETY: The folio is locked and valid; `at < size`, so the
            // mapping covers `chunk` bytes within one page; `to` has room
            // for `chunk` bytes (`MaybeUninit<u8>` has `u8`'s layout).
            unsafe {
                let src = bindings::fusewb_kmap_local_folio(self.ptr, at).cast::<u8>();
                core::ptr::copy_nonoverlapping(src, to.as_mut_ptr().cast::<u8>(), chunk);
                bindings::fusewb_kunmap_local(src.cast());
            }
            done += chunk;
        }
        // SAFETY: The first `done` bytes of the spare capacity were written
        // above, and `done <= n <= ` the capacity reserved.
        unsafe { dst.set_len(dst.len() + done) };
        Ok(())
    }

    /// Copies `data` into the folio at `start`, page by page (clamped to the
    /// folio); returns the bytes copied.
    pub(crate) fn write_at(&mut self, start: usize, data: &[u8]) -> usize {
        let size = self.size();
        let start = start.min(size);
        let n = data.len().min(size - start);
        let mut done = 0;
        while done < n {
            let at = start + done;
            let page_off = at % super::PAGE_SIZE;
            let chunk = (super::PAGE_SIZE - page_off).min(n - done);
            let Some(from) = data.get(done..done + chunk) else {
                break;
            };
            // SAFETY: The folio is locked and valid; `at < size`, so the
            // mapping covers `chunk` bytes within one page; `from` has
            // `chunk` bytes.
            unsafe {
                let dst = bindings::fusewb_kmap_local_folio(self.ptr, at).cast::<u8>();
                core::ptr::copy_nonoverlapping(from.as_ptr(), dst, chunk);
                bindings::fusewb_kunmap_local(dst.cast());
            }
            done += chunk;
        }
        self.flush_dcache();
        done
    }

    /// Makes what the kernel wrote through its mapping visible to user
    /// mappings of the folio (a no-op where data caches do not alias).
    fn flush_dcache(&mut self) {
        // SAFETY: Locked, valid folio.
        unsafe { bindings::fusewb_flush_dcache_folio(self.ptr) }
    }

    /// Zeroes `len` bytes from `start` (clamped to the folio).
    pub(crate) fn zero(&mut self, start: usize, len: usize) {
        let size = self.size();
        if start >= size {
            return;
        }
        let len = len.min(size - start);
        // SAFETY: Zeroing within a locked, valid folio.
        unsafe { bindings::fusewb_folio_zero_range(self.ptr, start, len) };
    }

    /// Marks the folio dirty (the page cache tags it for writeback).
    pub(crate) fn mark_dirty(&mut self) {
        // SAFETY: Locked folio of a mapping.
        unsafe { bindings::folio_mark_dirty(self.ptr) };
    }

    /// Clears the dirty bit for writing the folio out; false if it was
    /// clean (someone else wrote it).
    pub(crate) fn clear_dirty_for_io(&mut self) -> bool {
        // SAFETY: Locked folio.
        unsafe { bindings::folio_clear_dirty_for_io(self.ptr) }
    }

    /// Passes the folio through writeback state: its contents were copied
    /// into a request that now owns them (the in-flight range is recorded
    /// by the caller), so the folio is clean and free at once.
    pub(crate) fn written_out(&mut self) {
        // SAFETY: Locked folio, just cleaned for I/O.
        unsafe {
            bindings::fusewb_folio_start_writeback(self.ptr);
            bindings::folio_end_writeback(self.ptr);
        }
    }

    /// Puts a folio back to dirty during writeback (it could not be sent).
    pub(crate) fn redirty(&mut self, wbc: &mut WritebackCtl<'_>) {
        // SAFETY: Locked folio under the writeback `wbc` describes.
        unsafe { bindings::folio_redirty_for_writepage(wbc.wbc, self.ptr) };
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
        self.flush_dcache();
    }

    /// Copies `n` bytes (at most the folio's size) from `src` into the
    /// folio, advancing `src`, and zeroes the rest of the folio. Fails with
    /// EFAULT if the user buffer faults: the folio's contents are then
    /// undefined (it must not be marked up to date).
    ///
    /// A fault on the user buffer may wait for a folio lock, also one the
    /// caller holds (a READ's other folios): a server whose buffer maps the
    /// very pages it is answering for waits until it is killed, as on
    /// mainline, which copies from the buffer with the pages locked too.
    pub(crate) fn fill_from_iter(&mut self, src: &mut IovIter<'_>, n: usize) -> Result {
        let size = self.size();
        let n = n.min(size);
        if n > 0 {
            // SAFETY: The folio is locked and valid; a `struct folio` starts
            // with its head `struct page` (`&folio->page`, FOLIO_MATCH in
            // mm_types.h), and `copy_page_from_iter` handles the compound
            // page's other pages for `[0, n)`, `n <= size`. `src` is a valid
            // iterator.
            let got = unsafe {
                bindings::copy_page_from_iter(self.ptr.cast::<bindings::page>(), 0, n, src.as_ptr())
            };
            if got != n {
                return Err(EFAULT);
            }
        }
        if n < size {
            // SAFETY: Zeroing `[n, size)` of a locked, valid folio.
            unsafe { bindings::fusewb_folio_zero_range(self.ptr, n, size - n) };
        }
        self.flush_dcache();
        Ok(())
    }

    /// Marks the contents valid.
    pub(crate) fn mark_uptodate(&mut self) {
        // SAFETY: Locked, valid folio.
        unsafe { bindings::fusewb_folio_mark_uptodate(self.ptr) }
    }
}

// SAFETY: The duty to unlock a folio (and to put the reference, if owned)
// may move between tasks: the kernel's read completions unlock folios from
// whatever context ends the I/O, and nothing here is tied to the locking
// task.
unsafe impl Send for LockedFolio {}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We own the lock, and a reference if `owned` (type invariant).
        unsafe {
            bindings::folio_unlock(self.ptr);
            if self.owned {
                bindings::fusewb_folio_put(self.ptr);
            }
        }
    }
}

/// A writeback pass over one file (`writepages`): its folios come out
/// locked and cleaned for I/O, in ascending order.
///
/// # Invariants
///
/// `mapping` and `wbc` are valid for the `writepages` call that made this
/// object; `prev` is NULL or the folio the iteration returned last.
pub(crate) struct WritebackCtl<'a> {
    mapping: *mut bindings::address_space,
    wbc: *mut bindings::writeback_control,
    prev: *mut bindings::folio,
    err: c_int,
    /// `stop` was called: the next `next` ends the iteration.
    stopped: bool,
    _p: core::marker::PhantomData<&'a mut bindings::writeback_control>,
}

impl WritebackCtl<'_> {
    /// Whether this is data-integrity writeback (fsync, sync): every dirty
    /// folio must be written and waited for.
    pub(crate) fn sync_all(&self) -> bool {
        // SAFETY: Valid wbc (type invariant).
        unsafe { (*self.wbc).sync_mode == bindings::WB_SYNC_ALL as _ }
    }

    /// The next folio to write, after reporting the last one's result.
    /// The returned folio must be dropped (unlocked) before the next call.
    /// The iteration must run until this returns `None`.
    pub(crate) fn next(&mut self, last: kernel::error::Result) -> Option<LockedFolio> {
        let mut err = match last {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        if self.stopped && err == 0 {
            // Ends background writeback at once (`writeback_iter` stops at
            // the first error); `next` reports no error for it below.
            err = kernel::error::code::EAGAIN.to_errno();
        }
        // SAFETY: Valid mapping and wbc; `prev` is what the iteration
        // returned last (or NULL to start), per the type invariants.
        let f = unsafe { bindings::writeback_iter(self.mapping, self.wbc, self.prev, &mut err) };
        self.prev = f;
        if f.is_null() {
            self.err = if self.stopped && err == kernel::error::code::EAGAIN.to_errno() {
                0
            } else {
                err
            };
            return None;
        }
        // SAFETY: `writeback_iter` returns a locked folio that the batch
        // keeps referenced; we unlock it (LockedFolio's drop).
        Some(unsafe { LockedFolio::from_raw(f) })
    }

    /// Ends background writeback early: the iteration stops after the
    /// current folio, which the caller re-dirtied (the VFS counts it as
    /// skipped, not written). Unlike using up `nr_to_write`, this claims no
    /// progress, so the flusher does not call again at once and spin.
    /// Only for `WB_SYNC_NONE` (a data-integrity pass goes on after errors).
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
    }

    /// The first error the iteration saw.
    fn result(&self) -> c_int {
        self.err
    }
}

/// The folios of a readahead request, handed out locked and in order.
///
/// # Invariants
///
/// `ractl` is the valid `readahead_control` of an ongoing `readahead` call.
pub(crate) struct Readahead<'a, T> {
    ractl: *mut bindings::readahead_control,
    _p: core::marker::PhantomData<&'a File<T>>,
}

impl<'a, T: FileSystem> Readahead<'a, T> {
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

    /// Whether only the asynchronous part of the window is left to read
    /// (the pages read ahead of need, which the reader does not wait for).
    pub(crate) fn only_async_left(&self) -> bool {
        // SAFETY: Valid control (type invariant); `ra` is NULL or the live
        // readahead state of the file.
        let ra = unsafe { (*self.ractl).ra };
        if ra.is_null() {
            return false;
        }
        // SAFETY: Non-null: see above. Other readers of the file update
        // it without a lock: read once, as READ_ONCE.
        let async_size =
            unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*ra).async_size)) } as usize;
        async_size >= self.len() / crate::vfs::PAGE_SIZE
    }

    /// The open file the readahead is for, if any.
    pub(crate) fn file(&self) -> Option<&'a File<T>> {
        // SAFETY: Valid control; `file` is NULL or a live file of ours.
        let f = unsafe { (*self.ractl).file };
        // SAFETY: See above.
        (!f.is_null()).then(|| unsafe { File::<T>::from_raw(f) })
    }

    /// The next folio, locked (the page cache keeps its reference).
    pub(crate) fn next_folio(&mut self) -> Option<LockedFolio> {
        // SAFETY: Valid control; returns a locked folio or NULL.
        let f = unsafe { bindings::fusewb_readahead_folio(self.ractl) };
        // SAFETY: `readahead_folio` hands the locked folio to us to unlock.
        (!f.is_null()).then(|| unsafe { LockedFolio::from_raw(f) })
    }
}

/// The address space operations of a filesystem's regular files: the
/// filesystem's side of the contract. [`AopsVTable`] builds the C table
/// from it.
#[vtable]
pub(crate) trait AddressSpaceOperations: FileSystem {
    /// Reads `folio` (locked; unlocked when done, on success marked
    /// up to date) of `inode`, for `file` if known.
    fn read_folio(inode: &Inode<Self>, file: Option<&File<Self>>, folio: LockedFolio) -> Result;

    /// Reads ahead the folios of `ra`.
    fn readahead(inode: &Inode<Self>, ra: &mut Readahead<'_, Self>);

    /// Writes back dirty folios as `ctl` asks (memalloc_nofs scope).
    fn writepages(inode: &Inode<Self>, ctl: &mut WritebackCtl<'_>) -> Result;

    /// Prepares a buffered write of `len` bytes at `pos`: the folio to copy
    /// into, locked and referenced.
    fn write_begin(
        inode: &Inode<Self>,
        file: Option<&File<Self>>,
        pos: i64,
        len: usize,
    ) -> Result<LockedFolio>;

    /// Ends a buffered write that copied `copied` of `len` bytes into
    /// `folio`; returns the bytes accepted.
    fn write_end(
        inode: &Inode<Self>,
        pos: i64,
        len: usize,
        copied: usize,
        folio: LockedFolio,
    ) -> usize;

    /// Writes a dirty folio that is about to be invalidated (memalloc_nofs
    /// scope); the folio stays locked.
    fn launder_folio(inode: &Inode<Self>, folio: &mut LockedFolio) -> Result;
}

/// The C table of `T`'s address space operations.
pub(crate) struct AopsVTable<T: AddressSpaceOperations>(core::marker::PhantomData<T>);

impl<T: AddressSpaceOperations> AopsVTable<T> {
    const TABLE: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(read_folio_callback::<T>),
        readahead: Some(readahead_callback::<T>),
        writepages: Some(writepages_callback::<T>),
        write_begin: Some(write_begin_callback::<T>),
        write_end: Some(write_end_callback::<T>),
        launder_folio: Some(launder_folio_callback::<T>),
        dirty_folio: Some(bindings::filemap_dirty_folio),
        migrate_folio: Some(bindings::filemap_migrate_folio),
        // Direct I/O is done by read_iter/write_iter; this only lets O_DIRECT
        // opens succeed.
        direct_IO: Some(bindings::noop_direct_IO),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The table, for `i_mapping->a_ops`.
    pub(crate) fn build() -> &'static bindings::address_space_operations {
        &Self::TABLE
    }
}

/// The C table of the address space of a symlink whose target is kept in
/// the page cache: `page_get_link_raw` reads page 0 through `read_folio`,
/// which asks `T::readlink`.
pub(crate) struct LinkAopsVTable<T: InodeOperations>(core::marker::PhantomData<T>);

impl<T: InodeOperations> LinkAopsVTable<T> {
    const TABLE: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(link_read_folio_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The table, for `i_mapping->a_ops`.
    pub(crate) fn build() -> &'static bindings::address_space_operations {
        &Self::TABLE
    }
}

/// # Safety
///
/// Called by the page cache with the locked folio at index 0 of one of our
/// symlinks.
unsafe extern "C" fn link_read_folio_callback<T: InodeOperations>(
    _file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: The folio's mapping host is our inode while the folio is locked.
    let inode =
        unsafe { Inode::<T>::from_raw((*(*folio).__bindgen_anon_1.__bindgen_anon_1.mapping).host) };
    // SAFETY: The folio is locked and we must unlock it.
    let mut lf = unsafe { LockedFolio::from_raw(folio) };
    from_result(|| {
        // NUL-terminated; the rest of the folio is zeroed.
        let target = T::readlink(inode)?;
        if target.len() > lf.size() {
            return Err(kernel::error::code::EIO);
        }
        lf.fill(&target);
        lf.mark_uptodate();
        Ok(0)
    })
}

/// # Safety
///
/// Called by the page cache with a locked folio of one of our files and the
/// file (possibly NULL) it is read for.
unsafe extern "C" fn read_folio_callback<T: AddressSpaceOperations>(
    file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: The folio's mapping host is our inode while the folio is locked.
    let inode =
        unsafe { Inode::<T>::from_raw((*(*folio).__bindgen_anon_1.__bindgen_anon_1.mapping).host) };
    // SAFETY: NULL or a live file of ours.
    let file = (!file.is_null()).then(|| unsafe { File::<T>::from_raw(file) });
    // SAFETY: The folio is locked and we must unlock it.
    let lf = unsafe { LockedFolio::from_raw(folio) };
    from_result(|| {
        T::read_folio(inode, file, lf)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the page cache with a valid readahead control of one of ours.
unsafe extern "C" fn readahead_callback<T: AddressSpaceOperations>(
    ractl: *mut kernel::bindings::readahead_control,
) {
    let ractl = ractl.cast::<bindings::readahead_control>();
    // SAFETY: The mapping's host is our inode.
    let inode = unsafe { Inode::<T>::from_raw((*(*ractl).mapping).host) };
    // INVARIANT: `ractl` is valid for this call.
    let mut ra = Readahead::<T> {
        ractl,
        _p: core::marker::PhantomData,
    };
    T::readahead(inode, &mut ra);
}

/// # Safety
///
/// Called by the VFS with a mapping of one of our regular files and a valid
/// writeback control.
unsafe extern "C" fn writepages_callback<T: AddressSpaceOperations>(
    mapping: *mut bindings::address_space,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // SAFETY: The mapping's host is our inode.
    let inode = unsafe { Inode::<T>::from_raw((*mapping).host) };
    let _nofs = super::NoFsScope::new();
    // INVARIANT: Valid for this call; the iteration has not started.
    let mut ctl = WritebackCtl {
        mapping,
        wbc,
        prev: core::ptr::null_mut(),
        err: 0,
        stopped: false,
        _p: core::marker::PhantomData,
    };
    from_result(|| {
        T::writepages(inode, &mut ctl)?;
        Ok(ctl.result())
    })
}

/// # Safety
///
/// Called by `generic_perform_write` under the inode lock, for an open file
/// of ours (or NULL), with valid out-pointers.
unsafe extern "C" fn write_begin_callback<T: AddressSpaceOperations>(
    file: *mut bindings::file,
    mapping: *mut bindings::address_space,
    pos: i64,
    len: kernel::ffi::c_uint,
    foliop: *mut *mut bindings::folio,
    _fsdata: *mut *mut kernel::ffi::c_void,
) -> c_int {
    // SAFETY: The mapping's host is our inode; `file` is NULL or ours.
    let (inode, file) = unsafe {
        (
            Inode::<T>::from_raw((*mapping).host),
            (!file.is_null()).then(|| File::<T>::from_raw(file)),
        )
    };
    from_result(|| {
        let folio = T::write_begin(inode, file, pos, len as usize)?;
        // SAFETY: Valid out-pointer; write_end gets the folio back.
        unsafe { *foliop = folio.into_raw() };
        Ok(0)
    })
}

/// # Safety
///
/// Called by `generic_perform_write` with the folio `write_begin` returned
/// (locked, referenced), after copying `copied` bytes into it.
unsafe extern "C" fn write_end_callback<T: AddressSpaceOperations>(
    _file: *mut bindings::file,
    mapping: *mut bindings::address_space,
    pos: i64,
    len: kernel::ffi::c_uint,
    copied: kernel::ffi::c_uint,
    folio: *mut bindings::folio,
    _fsdata: *mut kernel::ffi::c_void,
) -> c_int {
    // SAFETY: The mapping's host is our inode.
    let inode = unsafe { Inode::<T>::from_raw((*mapping).host) };
    // INVARIANT: write_begin handed over a locked folio with a reference,
    // which write_end must unlock and release.
    let f = LockedFolio {
        ptr: folio,
        owned: true,
    };
    let n = T::write_end(inode, pos, len as usize, copied as usize, f);
    // CAST: at most `copied`, a c_uint.
    n as c_int
}

/// # Safety
///
/// Called by `invalidate_inode_pages2*` with a locked, dirty folio of ours.
unsafe extern "C" fn launder_folio_callback<T: AddressSpaceOperations>(
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: The folio is locked, so its mapping is stable and ours.
    let inode = unsafe { Inode::<T>::from_raw((*bindings::fusewb_folio_mapping(folio)).host) };
    // SAFETY: Locked by the caller, who unlocks it: wrap without owning
    // the lock by forgetting the wrapper after use.
    let mut f = unsafe { LockedFolio::from_raw(folio) };
    let _nofs = super::NoFsScope::new();
    let r = T::launder_folio(inode, &mut f);
    core::mem::forget(f);
    from_result(|| {
        r?;
        Ok(0)
    })
}
