// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: one handler for every name (empty prefix: the
//! filesystem gets the full name, as mainline FUSE), turned into the
//! superblock's `s_xattr` table. Listing is `InodeOperations::listxattr`.
//!
//! C header: [`include/linux/xattr.h`](srctree/include/linux/xattr.h)

use super::bindings;
use super::fs_type::FileSystem;
use super::inode::Inode;
use core::marker::PhantomData;
use kernel::error::from_result;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;

/// The extended attributes of a filesystem's inodes: its side of the
/// contract; [`XattrVTable`] builds the C handler table from it.
#[vtable]
pub(crate) trait XattrOperations: FileSystem {
    /// The value of attribute `name` of `inode` copied into `buf`, or, for
    /// an empty `buf`, its size. ERANGE if `buf` is too small.
    fn get(inode: &Inode<Self>, name: &[u8], buf: &mut [u8]) -> Result<usize>;

    /// Sets attribute `name` of `inode` to `value` (`flags`: XATTR_CREATE,
    /// XATTR_REPLACE), or removes it (`value` is `None`).
    fn set(inode: &Inode<Self>, name: &[u8], value: Option<&[u8]>, flags: u32) -> Result;
}

/// The C handler table of `T`'s extended attributes.
pub(crate) struct XattrVTable<T>(PhantomData<T>);

impl<T: XattrOperations> XattrVTable<T> {
    const HANDLER: bindings::xattr_handler = bindings::xattr_handler {
        name: core::ptr::null(),
        prefix: c"".as_ptr().cast(),
        flags: 0,
        list: None,
        get: Some(get_callback::<T>),
        set: Some(set_callback::<T>),
    };

    const HANDLERS: [*const bindings::xattr_handler; 2] = [&Self::HANDLER, core::ptr::null()];

    /// The NULL-terminated table, for `sb->s_xattr`.
    pub(crate) fn build() -> &'static [*const bindings::xattr_handler; 2] {
        &Self::HANDLERS
    }
}

/// # Safety
///
/// Called by the VFS with an inode of ours, a NUL-terminated name and a
/// buffer of `size` bytes (NULL when `size` is 0).
unsafe extern "C" fn get_callback<T: XattrOperations>(
    _handler: *const bindings::xattr_handler,
    _dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    name: *const c_char,
    buffer: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (inode, name) = unsafe {
        (
            Inode::<T>::from_raw(inode),
            core::ffi::CStr::from_ptr(name.cast()),
        )
    };
    let buf: &mut [u8] = if buffer.is_null() || size == 0 {
        &mut []
    } else {
        // SAFETY: The VFS hands a writable buffer of `size` bytes, ours
        // for the call.
        unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) }
    };
    from_result(|| {
        let n = T::get(inode, name.to_bytes(), buf)?;
        // At most XATTR_SIZE_MAX (the filesystem clamps it).
        c_int::try_from(n).map_err(|_| E2BIG)
    })
}

/// # Safety
///
/// Called by the VFS with an inode of ours, a NUL-terminated name and a
/// value of `size` bytes (NULL: remove the attribute).
unsafe extern "C" fn set_callback<T: XattrOperations>(
    _handler: *const bindings::xattr_handler,
    _idmap: *mut bindings::mnt_idmap,
    _dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (inode, name) = unsafe {
        (
            Inode::<T>::from_raw(inode),
            core::ffi::CStr::from_ptr(name.cast()),
        )
    };
    let value: Option<&[u8]> = if value.is_null() {
        None
    } else if size == 0 {
        Some(&[])
    } else {
        // SAFETY: The VFS hands `size` readable bytes for the call.
        Some(unsafe { core::slice::from_raw_parts(value.cast::<u8>(), size) })
    };
    from_result(|| {
        // CAST: XATTR_* flags are small and non-negative.
        T::set(inode, name.to_bytes(), value, flags as u32)?;
        Ok(0)
    })
}
