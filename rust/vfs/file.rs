// SPDX-License-Identifier: GPL-2.0

//! Open files of regular files and directories, and their operations.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::inode::Inode;
use super::iov::IovIter;
use crate::bindings;
use crate::fs::file::FuseFile;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::types::{ForeignOwnable, Opaque};

/// An open file of a fuse-wb inode.
///
/// # Invariants
///
/// Valid while borrowed from the VFS. Between `open_callback` and
/// `release_callback`, `private_data` holds a `KBox<FuseFile>` (or NULL if
/// the open failed before that).
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

impl File {
    /// Borrows a raw file.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid file of a fuse-wb inode, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a File {
        // SAFETY: Transparent wrapper; validity per the caller.
        unsafe { &*ptr.cast() }
    }

    /// The open flags (`O_*`).
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: Reading a field of a live file.
        unsafe { (*self.0.get()).f_flags }
    }

    /// The inode.
    pub(crate) fn inode(&self) -> &Inode {
        // SAFETY: An open file of ours holds a reference on its inode.
        unsafe { Inode::from_raw((*self.0.get()).f_inode) }
    }

    /// The dentry the file was opened through.
    pub(crate) fn dentry(&self) -> &super::dentry::Dentry {
        // SAFETY: An open file holds a reference on its path's dentry.
        unsafe { super::dentry::Dentry::from_raw((*self.0.get()).f_path.dentry) }
    }

    /// fuse-wb's state of this open file.
    pub(crate) fn fuse(&self) -> Option<&FuseFile> {
        // SAFETY: Reading the field of a live file.
        let p = unsafe { (*self.0.get()).private_data };
        if p.is_null() {
            return None;
        }
        // SAFETY: Non-NULL `private_data` is our `KBox<FuseFile>` (type
        // invariant), valid until release, which cannot run while borrowed.
        Some(unsafe { <KBox<FuseFile> as ForeignOwnable>::borrow(p) })
    }
}

/// The position and output of a `getdents` call.
///
/// # Invariants
///
/// `ctx` is the valid `dir_context` of an ongoing `iterate_shared` call.
pub(crate) struct DirEmitter {
    ctx: *mut bindings::dir_context,
}

impl DirEmitter {
    /// The offset to continue from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: Valid context (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Sets the offset the next call continues from.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: Valid context (type invariant).
        unsafe { (*self.ctx).pos = pos };
    }

    /// Emits one entry; false when the user buffer is full.
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, typ: u32) -> bool {
        let Ok(len) = c_int::try_from(name.len()) else {
            return false;
        };
        // SAFETY: Valid context; `name` is valid for `len` bytes.
        unsafe { bindings::fusewb_dir_emit(self.ctx, name.as_ptr().cast(), len, ino, typ) }
    }
}

pub(crate) struct Fops(pub(crate) bindings::file_operations);
// SAFETY: Immutable tables only read by the kernel.
unsafe impl Sync for Fops {}

/// Operations of open directories.
pub(crate) static DIR_FOPS: Fops = Fops(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
    open: Some(open_callback),
    release: Some(release_callback),
    iterate_shared: Some(iterate_callback),
    llseek: Some(bindings::generic_file_llseek),
    read: Some(bindings::generic_read_dir),
    // SAFETY: All-zero means "no operation" for the other fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

/// Operations of open regular files.
pub(crate) static FILE_FOPS: Fops = Fops(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
    open: Some(open_callback),
    release: Some(release_callback),
    read_iter: Some(read_iter_callback),
    llseek: Some(llseek_callback),
    mmap: Some(bindings::generic_file_readonly_mmap),
    splice_read: Some(bindings::filemap_splice_read),
    // SAFETY: All-zero means "no operation" for the other fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

/// # Safety
///
/// Called by the VFS with an inode of ours and the new file being opened.
unsafe extern "C" fn open_callback(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (inode, f) = unsafe { (Inode::from_raw(inode), File::from_raw(file)) };
    match crate::fs::file::open(inode, f) {
        Ok(ff) => {
            // INVARIANT: `private_data` now holds our `KBox<FuseFile>`.
            // SAFETY: The file is being opened; we own `private_data`.
            unsafe { (*file).private_data = ff.into_foreign() as *mut c_void };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS once, on the last close of a file from `open_callback`.
unsafe extern "C" fn release_callback(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Last use of the file; `private_data` is ours (type invariant).
    let p = unsafe { core::mem::replace(&mut (*file).private_data, core::ptr::null_mut()) };
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` is the `KBox<FuseFile>` stored by `open_callback`.
    let ff = unsafe { <KBox<FuseFile> as ForeignOwnable>::from_foreign(p) };
    // SAFETY: Valid inode per the VFS contract.
    crate::fs::file::release(unsafe { Inode::from_raw(inode) }, ff);
    0
}

/// # Safety
///
/// Called by the VFS with an open directory of ours and a valid context.
unsafe extern "C" fn iterate_callback(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::from_raw(file) };
    // INVARIANT: `ctx` is valid for this call.
    let mut emitter = DirEmitter { ctx };
    match crate::fs::readdir::readdir(f, &mut emitter) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open regular file of ours.
unsafe extern "C" fn read_iter_callback(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: The kiocb's file is open and ours.
    let f = unsafe { File::from_raw((*iocb).ki_filp) };
    // SAFETY: `iocb` is valid.
    let pos = unsafe { (*iocb).ki_pos };
    // SAFETY: The iov_iter is valid and ours for this call.
    let len = unsafe { IovIter::from_raw(to) }.len();
    if let Err(e) = crate::fs::file::before_read(f, pos, len) {
        return e.to_errno() as isize;
    }
    // SAFETY: Valid arguments as received.
    unsafe { bindings::generic_file_read_iter(iocb, to) }
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours.
unsafe extern "C" fn llseek_callback(file: *mut bindings::file, offset: i64, whence: c_int) -> i64 {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::from_raw(file) };
    // CAST: whence values are small.
    if let Err(e) = crate::fs::file::before_llseek(f, whence as u32) {
        return e.to_errno() as i64;
    }
    // SAFETY: Valid arguments as received.
    unsafe { bindings::generic_file_llseek(file, offset, whence) }
}
