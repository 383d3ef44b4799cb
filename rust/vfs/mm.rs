// SPDX-License-Identifier: GPL-2.0

//! Memory maps of regular files: faults come from the page cache; a write
//! fault on a shared map waits for writeback of its folio
//! (`page_mkwrite`); unmapping writes back.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use super::folio::LockedFolio;
use super::inode::Inode;
use crate::bindings;

pub(crate) struct VmOps(pub(crate) bindings::vm_operations_struct);
// SAFETY: Immutable table only read by the kernel.
unsafe impl Sync for VmOps {}

/// Operations of mappings of our regular files.
pub(crate) static VM_OPS: VmOps = VmOps(bindings::vm_operations_struct {
    fault: Some(bindings::filemap_fault),
    map_pages: Some(bindings::filemap_map_pages),
    page_mkwrite: Some(page_mkwrite_callback),
    close: Some(close_callback),
    // SAFETY: All-zero means "no operation" for the other fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

/// # Safety
///
/// Called by the fault handler with a valid fault of a shared mapping of
/// one of our files; `vmf->page` is referenced.
unsafe extern "C" fn page_mkwrite_callback(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: Valid fault: its vma maps an open file of ours.
    let (file, page) = unsafe { ((*(*vmf).__bindgen_anon_1.vma).vm_file, (*vmf).page) };
    // SAFETY: The file of a mapping of ours holds its inode.
    let inode = unsafe { Inode::from_raw((*file).f_inode) };
    // SAFETY: The fault holds a reference on the page and its folio.
    let folio = unsafe { bindings::fusewb_page_folio(page) };
    // SAFETY: Live file of ours.
    let f = unsafe { super::file::File::from_raw(file) };
    if crate::fs::writeback::is_wb(inode) {
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
    if crate::fs::writeback::page_mkwrite(inode, &lf).is_err() {
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
unsafe extern "C" fn close_callback(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The vma's file is ours and open.
    let (file, flags) = unsafe { ((*vma).vm_file, (*vma).__bindgen_anon_2.vm_flags) };
    if flags & bindings::VM_SHARED == 0 {
        return;
    }
    // SAFETY: The file of a mapping of ours holds its inode.
    let inode = unsafe { Inode::from_raw((*file).f_inode) };
    crate::fs::file::vma_close(inode);
}
