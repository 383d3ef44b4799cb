// SPDX-License-Identifier: GPL-2.0

//! Dentries: names, entry timeouts (kept in `d_fsdata`), revalidation.
//!
//! C header: [`include/linux/dcache.h`](srctree/include/linux/dcache.h)

use super::fs_type::FileSystem;
use super::inode::{Inode, InodeLock, Kind};
use crate::vfs::bindings;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::error::from_result;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// Lookup flags a `d_revalidate` call passes.
pub(crate) mod flags {
    pub(crate) use crate::vfs::bindings::{LOOKUP_EXCL, LOOKUP_RENAME_TARGET, LOOKUP_REVAL};
}

/// A dentry of a superblock of the filesystem `T`.
///
/// # Invariants
///
/// Valid while a reference (borrowed from the VFS or an [`ARef`]) is held.
#[repr(transparent)]
pub(crate) struct Dentry<T>(Opaque<bindings::dentry>, PhantomData<T>);

// SAFETY: Dentries are reference counted and shared between threads; fields
// we write (`d_fsdata`) are plain words written atomically.
unsafe impl<T: FileSystem> Send for Dentry<T> {}
// SAFETY: See above.
unsafe impl<T: FileSystem> Sync for Dentry<T> {}

// SAFETY: `dget`/`dput` maintain the reference count.
unsafe impl<T: FileSystem> AlwaysRefCounted for Dentry<T> {
    fn inc_ref(&self) {
        // SAFETY: `&self` proves a reference is held.
        unsafe { bindings::fusewb_dget(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owns.
        unsafe { bindings::dput(obj.cast().as_ptr()) }
    }
}

impl<T: FileSystem> Dentry<T> {
    /// Borrows a raw dentry.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid dentry of a superblock of `T`, referenced for
    /// `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dentry) -> &'a Self {
        // SAFETY: Transparent wrapper; validity per the caller.
        unsafe { &*ptr.cast() }
    }

    /// The name (stable for the callers: the parent is locked or the dentry
    /// is being looked up or revalidated, as the VFS guarantees).
    pub(crate) fn name(&self) -> &[u8] {
        // SAFETY: `d_name` of a live dentry points at `len` bytes.
        unsafe {
            let n = &(*self.0.get()).d_name;
            core::slice::from_raw_parts(n.name, n.__bindgen_anon_1.__bindgen_anon_1.len as usize)
        }
    }

    /// The inode, for a positive dentry.
    pub(crate) fn inode(&self) -> Option<&Inode<T>> {
        // SAFETY: Reading the field of a live dentry.
        let p = unsafe { (*self.0.get()).d_inode };
        // SAFETY: A positive dentry of ours holds a reference on its inode.
        (!p.is_null()).then(|| unsafe { Inode::<T>::from_raw(p) })
    }

    /// The parent, referenced.
    pub(crate) fn parent(&self) -> ARef<Self> {
        // SAFETY: `dget_parent` returns a referenced dentry (never NULL).
        let p = unsafe { bindings::dget_parent(self.0.get()) };
        // SAFETY: We own the reference just taken.
        unsafe { ARef::from_raw(NonNull::new_unchecked(p.cast())) }
    }

    /// Sets the entry expiry (jiffies; 0 = expired).
    pub(crate) fn set_expiry(&self, expiry: u64) {
        // SAFETY: `d_fsdata` is ours; a word-sized store. CAST: 64-bit kernel.
        unsafe { (*self.0.get()).d_fsdata = expiry as usize as *mut c_void };
    }

    /// The entry expiry (jiffies; 0 = expired).
    pub(crate) fn expiry(&self) -> u64 {
        // SAFETY: Word-sized read of a field we own.
        unsafe { (*self.0.get()).d_fsdata as usize as u64 }
    }

    /// Attaches `inode` (or nothing, for a negative entry) to this unhashed
    /// dentry (in lookup, or dropped); returns the alias the VFS should use
    /// instead, if any. EINVAL for a hashed dentry.
    pub(crate) fn splice(&self, inode: Option<ARef<Inode<T>>>) -> Result<Option<ARef<Self>>> {
        // SAFETY: Live dentry.
        if !unsafe { bindings::fusewb_d_unhashed(self.0.get()) } {
            return Err(EINVAL);
        }
        let ip = inode.map_or(core::ptr::null_mut(), |i| ARef::into_raw(i).cast().as_ptr());
        // SAFETY: `self` is unhashed (checked; the callers hold the parent's
        // lock or the in-lookup state, so it stays so); the inode reference
        // is consumed by d_splice_alias, even on error.
        let r = unsafe { bindings::d_splice_alias(ip, self.0.get()) };
        let r = kernel::error::from_err_ptr(r)?;
        // SAFETY: A non-NULL result is a referenced dentry we now own.
        Ok(NonNull::new(r).map(|p| unsafe { ARef::from_raw(p.cast()) }))
    }
}

/// A child of a directory dentry, found or being created by
/// [`Dentry::child`].
pub(crate) enum Child<T: FileSystem> {
    /// The dcache already has the name (positive or negative).
    Existing(ARef<Dentry<T>>),
    /// A new dentry in lookup state: only we may attach an inode to it.
    New(NewChild<T>),
}

/// A dentry from `d_alloc_parallel` that we are looking up.
///
/// # Invariants
///
/// `d` is in lookup state (`d_in_lookup`) until `d_lookup_done`, which
/// [`NewChild::splice`] or `drop` calls; `_wq` outlives that call.
pub(crate) struct NewChild<T: FileSystem> {
    d: ARef<Dentry<T>>,
    /// The queue `d_alloc_parallel` was given: concurrent lookups of the
    /// name sleep on it until `d_lookup_done`, so it must live as long.
    _wq: Pin<KBox<super::wait::WaitQueue>>,
    done: bool,
}

impl<T: FileSystem> NewChild<T> {
    /// Attaches `inode`; returns the dentry the name now resolves to.
    pub(crate) fn splice(mut self, inode: ARef<Inode<T>>) -> Result<ARef<Dentry<T>>> {
        let alias = self.d.splice(Some(inode));
        // SAFETY: The dentry is in lookup state (type invariant).
        unsafe { bindings::fusewb_d_lookup_done(self.d.0.get()) };
        self.done = true;
        Ok(alias?.unwrap_or_else(|| self.d.clone()))
    }
}

impl<T: FileSystem> Drop for NewChild<T> {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: Still in lookup state (type invariant): end it, leaving
            // the dentry negative and unhashed for a real lookup to redo.
            unsafe { bindings::fusewb_d_lookup_done(self.d.0.get()) };
        }
    }
}

impl<T: FileSystem> Dentry<T> {
    /// The name `name` of this directory, hashed for the dcache.
    fn qstr(&self, name: &[u8]) -> Result<bindings::qstr> {
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        // SAFETY: `name` is valid for `len` bytes; the salt is the parent.
        let hash =
            unsafe { bindings::full_name_hash(self.0.get().cast(), name.as_ptr().cast(), len) };
        let mut q = bindings::qstr::default();
        q.__bindgen_anon_1.__bindgen_anon_1.hash = hash;
        q.__bindgen_anon_1.__bindgen_anon_1.len = len;
        q.name = name.as_ptr();
        Ok(q)
    }

    /// The child `name` of this directory if the dcache has it.
    pub(crate) fn cached_child(&self, name: &[u8]) -> Result<Option<ARef<Self>>> {
        let q = self.qstr(name)?;
        // SAFETY: `self` is a live directory dentry; `q` is a valid name
        // (its bytes live for the call).
        let d = unsafe { bindings::d_lookup(self.0.get(), &q) };
        // SAFETY: `d_lookup` returns a referenced dentry we now own, or NULL.
        Ok(NonNull::new(d).map(|d| unsafe { ARef::from_raw(d.cast()) }))
    }

    /// A dentry of `inode` (`d_find_alias`), if the dcache has one.
    pub(crate) fn alias_of(inode: &Inode<T>) -> Option<ARef<Self>> {
        // SAFETY: Live inode.
        let d = unsafe { bindings::d_find_alias(inode.as_ptr()) };
        // SAFETY: `d_find_alias` returns a referenced dentry we now own, or
        // NULL.
        NonNull::new(d).map(|d| unsafe { ARef::from_raw(d.cast()) })
    }

    /// The server says this positive dentry's name is gone (the caller
    /// holds its inode's lock: `locked`, of that inode, else EINVAL): as
    /// mainline's `fuse_reverse_inval_entry` with a child, the name becomes
    /// negative, the inode unlinked; a directory must be empty in the
    /// dcache (`ENOTEMPTY`), a mount point stays (`EBUSY`).
    pub(crate) fn delete_by_server(&self, locked: &InodeLock<'_, T>) -> Result {
        let inode = locked.inode();
        if !self.inode().is_some_and(|i| core::ptr::eq(i, inode)) {
            return Err(EINVAL);
        }
        // SAFETY: Live dentry.
        if unsafe { bindings::fusewb_d_mountpoint(self.0.get()) } {
            return Err(EBUSY);
        }
        if inode.kind() == Kind::Dir {
            // SAFETY: Live directory dentry; no spinlock held.
            unsafe { bindings::shrink_dcache_parent(self.0.get()) };
            // SAFETY: Live dentry.
            if unsafe { bindings::simple_empty(self.0.get()) } == 0 {
                return Err(super::errno(bindings::ENOTEMPTY));
            }
            // SAFETY: `locked` holds this inode's lock, which guards
            // `i_flags`.
            unsafe { (*inode.as_ptr()).i_flags |= bindings::S_DEAD };
        }
        // SAFETY: Live dentry whose inode is locked.
        unsafe { bindings::fusewb_dont_mount(self.0.get()) };
        inode.clear_nlink();
        Ok(())
    }

    /// Turns this dentry negative (after [`Dentry::delete_by_server`], with
    /// the inode unlocked): `d_delete`.
    pub(crate) fn make_negative(&self) {
        // SAFETY: Live dentry; no lock held that `d_delete` takes.
        unsafe { bindings::d_delete(self.0.get()) }
    }

    /// Finds the child `name` of this directory in the dcache, or starts a
    /// lookup of it (`d_alloc_parallel`).
    pub(crate) fn child(&self, name: &[u8]) -> Result<Child<T>> {
        if let Some(d) = self.cached_child(name)? {
            return Ok(Child::Existing(d));
        }
        let q = self.qstr(name)?;
        let wq = KBox::pin_init(super::wait::WaitQueue::new(), GFP_KERNEL)?;
        // SAFETY: Valid parent, name and wait queue; the queue lives in the
        // `NewChild` until `d_lookup_done`.
        let d = unsafe { bindings::d_alloc_parallel(self.0.get(), &q, wq.as_raw()) };
        let d = kernel::error::from_err_ptr(d)?;
        // SAFETY: A non-error result is a referenced dentry we own.
        let d: ARef<Dentry<T>> = unsafe { ARef::from_raw(NonNull::new_unchecked(d.cast())) };
        // SAFETY: Valid dentry.
        if unsafe { bindings::fusewb_d_in_lookup(d.0.get()) } {
            // INVARIANT: In lookup state; `wq` is kept with it.
            Ok(Child::New(NewChild {
                d,
                _wq: wq,
                done: false,
            }))
        } else {
            Ok(Child::Existing(d))
        }
    }

    /// Gives this negative dentry, just made by a create in its locked
    /// parent, `inode` the way mainline FUSE does (`d_drop`, then
    /// `d_splice_alias`: a directory's inode that has an alias elsewhere
    /// moves here); returns that alias, if any.
    pub(crate) fn attach(&self, inode: ARef<Inode<T>>) -> Result<Option<ARef<Self>>> {
        // SAFETY: Live dentry; unhashing a negative dentry under its
        // parent's lock is what a create may do.
        unsafe { bindings::d_drop(self.0.get()) };
        self.splice(Some(inode))
    }

    /// Makes this negative dentry positive with `inode` (consumed).
    pub(crate) fn instantiate(&self, inode: ARef<Inode<T>>) {
        // SAFETY: A negative dentry of ours under its parent's lock (create
        // contract); d_instantiate takes the inode reference.
        unsafe { bindings::d_instantiate(self.0.get(), ARef::into_raw(inode).cast().as_ptr()) }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::dentry {
        self.0.get()
    }

    /// Whether the dentry is still being looked up (`d_in_lookup`: a
    /// parallel lookup made it, nothing is known about the name yet).
    pub(crate) fn in_lookup(&self) -> bool {
        // SAFETY: Live dentry.
        unsafe { bindings::fusewb_d_in_lookup(self.0.get()) }
    }

    /// Drops this dentry (and its children) from the dcache: it is stale.
    pub(crate) fn invalidate(&self) {
        // SAFETY: Live dentry; may sleep, callers hold no spinlock.
        unsafe { bindings::d_invalidate(self.0.get()) }
    }
}

/// The operations of a filesystem's dentries: its side of the contract;
/// [`DopsVTable`] builds the C table from it. There is no `d_delete`: an
/// unused dentry stays cached even once expired (`revalidate` asks the
/// server at its next lookup), as mainline does for /dev/fuse (only
/// virtiofs deletes stale ones), so its inode and page cache outlive the
/// last close.
#[vtable]
pub(crate) trait DentryOperations: FileSystem {
    /// Whether `dentry` is still valid (`rcu`: in RCU walk mode, must not
    /// sleep; `flags` are the lookup flags).
    fn revalidate(dentry: &Dentry<Self>, rcu: bool, flags: u32) -> Result<bool>;
}

/// The C table of `T`'s dentry operations.
pub(crate) struct DopsVTable<T: DentryOperations>(core::marker::PhantomData<T>);

impl<T: DentryOperations> DopsVTable<T> {
    const TABLE: bindings::dentry_operations = bindings::dentry_operations {
        d_revalidate: Some(revalidate_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The table, for `sb->s_d_op` (every dentry but the root).
    pub(crate) fn build() -> &'static bindings::dentry_operations {
        &Self::TABLE
    }
}

/// # Safety
///
/// Called by the VFS with a valid dentry of ours (possibly in RCU walk mode,
/// signalled by `LOOKUP_RCU` in `flags`).
unsafe extern "C" fn revalidate_callback<T: DentryOperations>(
    dentry: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let d = unsafe { Dentry::<T>::from_raw(dentry) };
    from_result(|| {
        let valid = T::revalidate(d, flags & bindings::LOOKUP_RCU != 0, flags)?;
        Ok(c_int::from(valid))
    })
}
