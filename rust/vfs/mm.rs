// SPDX-License-Identifier: GPL-2.0

//! Memory maps of regular files: faults come from the page cache; a write
//! fault on a shared map waits for writeback of its folio
//! (`page_mkwrite`); unmapping writes back.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use super::file::File;
use super::folio::LockedFolio;
use super::inode::Inode;
use crate::vfs::bindings;
use kernel::error::Result;
use kernel::prelude::vtable;

/// What mappings of a filesystem's regular files do beyond the page
/// cache's generic faults: the filesystem's side; [`VmVTable`] builds the
/// C table from it.
#[vtable]
pub(crate) trait VmOperations: super::fs_type::FileSystem {
    /// Whether a write fault updates the file's times (when the kernel owns
    /// them); done before the folio is locked, as `file_update_time` wants.
    fn fault_updates_times(inode: &Inode<Self>) -> bool;

    /// A write fault on a shared mapping of `file`: `folio` (locked, still
    /// of `inode`) is about to become writable. An error fails the fault
    /// (SIGBUS, or EFAULT for the kernel's own copies).
    fn page_mkwrite(file: &File<Self>, inode: &Inode<Self>, folio: &LockedFolio) -> Result;

    /// A shared mapping of `inode` goes away.
    fn close_shared(inode: &Inode<Self>);
}

/// The C table of `T`'s mapping operations.
pub(crate) struct VmVTable<T: VmOperations>(core::marker::PhantomData<T>);

impl<T: VmOperations> VmVTable<T> {
    const TABLE: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(bindings::filemap_fault),
        map_pages: Some(bindings::filemap_map_pages),
        page_mkwrite: Some(page_mkwrite_callback::<T>),
        close: Some(close_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The table, for `vma->vm_ops`.
    pub(crate) fn build() -> &'static bindings::vm_operations_struct {
        &Self::TABLE
    }
}

/// # Safety
///
/// Called by the fault handler with a valid fault of a shared mapping of
/// one of our files; `vmf->page` is referenced.
unsafe extern "C" fn page_mkwrite_callback<T: VmOperations>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: Valid fault: its vma maps an open file of ours.
    let (file, page) = unsafe { ((*(*vmf).__bindgen_anon_1.vma).vm_file, (*vmf).page) };
    // SAFETY: The file of a mapping of ours holds its inode.
    let inode = unsafe { Inode::<T>::from_raw((*file).f_inode) };
    // SAFETY: The fault holds a reference on the page and its folio.
    let folio = unsafe { bindings::fusewb_page_folio(page) };
    // SAFETY: Live file of ours.
    let f = unsafe { File::<T>::from_raw(file) };
    if T::fault_updates_times(inode) {
        let _ = f.update_time();
    }
    // SAFETY: A referenced folio; we lock it and (on success) return it
    // locked to the fault handler.
    unsafe { bindings::fusewb_folio_lock(folio) };
    // SAFETY: Locked above; the fault's reference outlives the wrapper.
    let lf = unsafe { LockedFolio::from_locked(folio) };
    if !lf.belongs_to(inode) {
        // Truncated meanwhile: let the fault retry.
        drop(lf);
        return bindings::VM_FAULT_NOPAGE;
    }
    if T::page_mkwrite(f, inode, &lf).is_err() {
        // Killed while a WRITE of the folio is in flight: the page must not
        // become writable. VM_FAULT_RETRY would be taken as success here
        // (`do_page_mkwrite` only stops at NOPAGE or an error), and NOPAGE
        // would make a fault of the kernel's own user copy (read(2) into a
        // shared map of the file) run again and again while the WRITE
        // lasts. With an error the fault handler fixes a kernel copy up
        // (it fails with EFAULT, the fatal signal pending) and a task
        // faulting in user mode dies of its SIGKILL.
        drop(lf);
        return bindings::VM_FAULT_SIGBUS;
    }
    let _ = lf.into_raw();
    bindings::VM_FAULT_LOCKED
}

/// # Safety
///
/// Called when a mapping of one of our files goes away; the file is valid.
unsafe extern "C" fn close_callback<T: VmOperations>(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The vma's file is ours and open.
    let (file, flags) = unsafe { ((*vma).vm_file, (*vma).__bindgen_anon_2.vm_flags) };
    if flags & bindings::VM_SHARED == 0 {
        return;
    }
    // SAFETY: The file of a mapping of ours holds its inode.
    let inode = unsafe { Inode::<T>::from_raw((*file).f_inode) };
    T::close_shared(inode);
}
