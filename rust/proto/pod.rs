// SPDX-License-Identifier: GPL-2.0

//! Reading and writing wire structures as bytes.
//!
//! This is the one place of the protocol layer that needs `unsafe`: it turns
//! byte slices into the bindgen'd `fuse_*` structures and back. Everything
//! above it works with typed values.

use crate::abi;

/// A wire structure that may be read from and written as raw bytes.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]` structures made only of integer fields
/// (so every bit pattern is a valid value) and without padding bytes (so every
/// byte of a value is initialised). The structures of `include/uapi/linux/fuse.h`
/// satisfy both: the protocol is shared by 32- and 64-bit processes, so the
/// header pads every structure explicitly (`padding`, `unused` fields), and
/// the host tests check each size against the header.
pub(crate) unsafe trait Pod: Default {}

macro_rules! impl_pod {
    ($($t:ident),* $(,)?) => {
        // SAFETY: Integer-only `#[repr(C)]` structures from fuse.h without
        // implicit padding (see the trait's safety section).
        $(unsafe impl Pod for abi::$t {})*
    };
}

impl_pod!(
    fuse_in_header,
    fuse_out_header,
    fuse_init_in,
    fuse_init_out,
    fuse_attr,
    fuse_entry_out,
    fuse_attr_out,
    fuse_getattr_in,
    fuse_open_in,
    fuse_open_out,
    fuse_release_in,
    fuse_read_in,
    fuse_write_in,
    fuse_write_out,
    fuse_flush_in,
    fuse_fsync_in,
    fuse_access_in,
    fuse_forget_in,
    fuse_forget_one,
    fuse_batch_forget_in,
    fuse_interrupt_in,
    fuse_kstatfs,
    fuse_statfs_out,
    fuse_dirent,
    fuse_setattr_in,
    fuse_create_in,
    fuse_mknod_in,
    fuse_fallocate_in,
    fuse_lseek_in,
    fuse_lseek_out,
    fuse_copy_file_range_in,
    fuse_mkdir_in,
    fuse_link_in,
    fuse_rename_in,
    fuse_rename2_in,
    fuse_getxattr_in,
    fuse_getxattr_out,
    fuse_setxattr_in,
    fuse_file_lock,
    fuse_lk_in,
    fuse_lk_out,
    fuse_notify_inval_inode_out,
    fuse_notify_inval_entry_out,
    fuse_notify_delete_out,
    fuse_notify_store_out,
    fuse_notify_retrieve_out,
    fuse_notify_retrieve_in,
    fuse_ioctl_in,
    fuse_ioctl_out,
    fuse_poll_in,
    fuse_poll_out,
    fuse_notify_poll_wakeup_out,
);

/// Reads a `T` from the start of `bytes`, or `None` if `bytes` is too short.
pub(crate) fn read<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < core::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `bytes` holds at least `size_of::<T>()` initialised bytes, the
    // read is unaligned, and any bit pattern is a valid `T` (`Pod`).
    Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Reads a `T` from `bytes`, which must be exactly `size_of::<T>()` long.
pub(crate) fn read_exact<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != core::mem::size_of::<T>() {
        return None;
    }
    read(bytes)
}

/// The bytes of `value`, as they go on the wire.
pub(crate) fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: `value` is a valid reference, so `size_of::<T>()` bytes are
    // readable for its lifetime, and they are all initialised because `T`
    // has no padding (`Pod`).
    unsafe {
        core::slice::from_raw_parts((value as *const T).cast::<u8>(), core::mem::size_of::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn sizes_match_the_uapi_header() {
        // Sizes from include/uapi/linux/fuse.h (7.41), checked by hand.
        assert_eq!(size_of::<abi::fuse_in_header>(), 40);
        assert_eq!(size_of::<abi::fuse_out_header>(), 16);
        assert_eq!(size_of::<abi::fuse_attr>(), 88);
        assert_eq!(size_of::<abi::fuse_entry_out>(), 128);
        assert_eq!(size_of::<abi::fuse_attr_out>(), 104);
        assert_eq!(size_of::<abi::fuse_init_in>(), 64);
        assert_eq!(size_of::<abi::fuse_init_out>(), 64);
        assert_eq!(size_of::<abi::fuse_open_out>(), 16);
        assert_eq!(size_of::<abi::fuse_read_in>(), 40);
        assert_eq!(size_of::<abi::fuse_write_in>(), 40);
        assert_eq!(size_of::<abi::fuse_kstatfs>(), 80);
        assert_eq!(size_of::<abi::fuse_statfs_out>(), 80);
        assert_eq!(size_of::<abi::fuse_dirent>(), 24);
        assert_eq!(size_of::<abi::fuse_forget_one>(), 16);
        assert_eq!(size_of::<abi::fuse_batch_forget_in>(), 8);
        assert_eq!(size_of::<abi::fuse_mkdir_in>(), 8);
        assert_eq!(size_of::<abi::fuse_link_in>(), 8);
        assert_eq!(size_of::<abi::fuse_rename_in>(), 8);
        assert_eq!(size_of::<abi::fuse_rename2_in>(), 16);
        assert_eq!(size_of::<abi::fuse_getxattr_in>(), 8);
        assert_eq!(size_of::<abi::fuse_getxattr_out>(), 8);
        assert_eq!(size_of::<abi::fuse_setxattr_in>(), 16);
        assert_eq!(size_of::<abi::fuse_file_lock>(), 24);
        assert_eq!(size_of::<abi::fuse_lk_in>(), 48);
        assert_eq!(size_of::<abi::fuse_lk_out>(), 24);
        assert_eq!(size_of::<abi::fuse_notify_inval_inode_out>(), 24);
        assert_eq!(size_of::<abi::fuse_notify_inval_entry_out>(), 16);
        assert_eq!(size_of::<abi::fuse_notify_delete_out>(), 24);
        assert_eq!(size_of::<abi::fuse_notify_store_out>(), 24);
        assert_eq!(size_of::<abi::fuse_notify_retrieve_out>(), 32);
        assert_eq!(size_of::<abi::fuse_notify_retrieve_in>(), 40);
        assert_eq!(size_of::<abi::fuse_ioctl_in>(), 32);
        assert_eq!(size_of::<abi::fuse_ioctl_out>(), 16);
        assert_eq!(size_of::<abi::fuse_poll_in>(), 24);
        assert_eq!(size_of::<abi::fuse_poll_out>(), 8);
        assert_eq!(size_of::<abi::fuse_notify_poll_wakeup_out>(), 8);
    }

    #[test]
    fn read_and_bytes_roundtrip() {
        let h = abi::fuse_out_header {
            len: 16,
            error: -2,
            unique: 77,
        };
        let b = bytes_of(&h);
        assert_eq!(b.len(), 16);
        let back: abi::fuse_out_header = read_exact(b).unwrap();
        assert_eq!((back.len, back.error, back.unique), (16, -2, 77));
        assert!(read::<abi::fuse_out_header>(&b[..15]).is_none());
        assert!(read_exact::<abi::fuse_out_header>(&[0u8; 17]).is_none());
    }
}
