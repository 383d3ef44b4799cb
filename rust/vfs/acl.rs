// SPDX-License-Identifier: GPL-2.0

//! POSIX ACLs: the kernel's reference-counted `struct posix_acl`, owned
//! ([`PosixAcl`]) or borrowed ([`Acl`]), and the extended-attribute form
//! (`system.posix_acl_*`) in which the VFS and a FUSE server exchange it.
//!
//! C headers: [`include/linux/posix_acl.h`](srctree/include/linux/posix_acl.h),
//! [`include/linux/posix_acl_xattr.h`](srctree/include/linux/posix_acl_xattr.h)

use super::bindings;
use super::cred::UserNs;
use core::ptr::NonNull;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::types::Opaque;

/// Which of an inode's two ACLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AclType {
    /// The access ACL.
    Access,
    /// A directory's default ACL, inherited by new entries.
    Default,
}

impl AclType {
    /// From the VFS's `ACL_TYPE_*`; `None` for anything else.
    pub(crate) fn from_raw(t: c_int) -> Option<Self> {
        // CAST: the ACL_TYPE_* values are small positive numbers.
        match t as u32 {
            bindings::ACL_TYPE_ACCESS => Some(Self::Access),
            bindings::ACL_TYPE_DEFAULT => Some(Self::Default),
            _ => None,
        }
    }

    /// The extended attribute the ACL is stored as (uapi, without NUL).
    pub(crate) fn xattr_name(self) -> &'static [u8] {
        match self {
            Self::Access => b"system.posix_acl_access",
            Self::Default => b"system.posix_acl_default",
        }
    }
}

/// A borrowed ACL.
///
/// # Invariants
///
/// The wrapped `struct posix_acl` is valid and stays so while borrowed (ACLs
/// are immutable once shared).
#[repr(transparent)]
pub(crate) struct Acl(Opaque<bindings::posix_acl>);

impl Acl {
    /// Borrows the ACL at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid ACL that outlives `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::posix_acl) -> &'a Self {
        // SAFETY: `Acl` is transparent over the C struct; the caller
        // guarantees validity for 'a.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The extended-attribute form, with the ids as seen from `ns`.
    pub(crate) fn to_xattr(&self, ns: &UserNs) -> Result<KVec<u8>> {
        // SAFETY: The ACL is valid (type invariant).
        let size = unsafe { bindings::fusewb_posix_acl_xattr_size(self.0.get()) };
        let mut v = KVec::new();
        v.extend_with(size, 0u8, GFP_KERNEL)?;
        // SAFETY: `ns` and the ACL are valid; `v` has `size` writable bytes.
        let r = unsafe {
            bindings::posix_acl_to_xattr(ns.as_ptr(), self.0.get(), v.as_mut_ptr().cast(), size)
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        // It fills exactly the size it was asked for.
        if usize::try_from(r).ok() != Some(size) {
            return Err(EINVAL);
        }
        Ok(v)
    }
}

/// An owned reference to an ACL.
///
/// # Invariants
///
/// `ptr` is a valid ACL on which this object holds one reference.
pub(crate) struct PosixAcl {
    ptr: NonNull<bindings::posix_acl>,
}

// SAFETY: The reference count is atomic and a shared ACL is never changed,
// so the reference may be used and dropped from any thread.
unsafe impl Send for PosixAcl {}
// SAFETY: See `Send`: nothing mutates a shared ACL.
unsafe impl Sync for PosixAcl {}

impl PosixAcl {
    /// Decodes the extended-attribute form `value` (ids as seen from `ns`);
    /// `None` for an ACL without entries. EINVAL if malformed, EOPNOTSUPP
    /// for an unknown version.
    pub(crate) fn from_xattr(ns: &UserNs, value: &[u8]) -> Result<Option<Self>> {
        // SAFETY: `ns` is valid; `value` is readable for its length.
        let p = unsafe {
            bindings::posix_acl_from_xattr(ns.as_ptr(), value.as_ptr().cast(), value.len())
        };
        let p = kernel::error::from_err_ptr(p)?;
        // INVARIANT: A non-NULL result is a new ACL whose reference we own.
        Ok(NonNull::new(p).map(|ptr| Self { ptr }))
    }

    /// Hands the reference over (to the VFS, which caches or releases it).
    pub(crate) fn into_raw(self) -> *mut bindings::posix_acl {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl core::ops::Deref for PosixAcl {
    type Target = Acl;

    fn deref(&self) -> &Acl {
        // SAFETY: We hold a reference (type invariant), so it outlives the
        // borrow of `self`.
        unsafe { Acl::from_raw(self.ptr.as_ptr()) }
    }
}

impl Drop for PosixAcl {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { bindings::fusewb_posix_acl_release(self.ptr.as_ptr()) }
    }
}
