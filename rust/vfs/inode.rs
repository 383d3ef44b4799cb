// SPDX-License-Identifier: GPL-2.0

//! Inodes: the filesystem's inode data next to the VFS inode, the inode
//! cache, `iget` by key, and the inode operations tables.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::acl::{Acl, AclType, PosixAcl};
use super::dentry::Dentry;
use super::file::{File, FileOperations, FileVTable};
use super::folio::{AddressSpaceOperations, AopsVTable, LinkAopsVTable};
use super::fs_type::FileSystem;
use super::mm::VmOperations;
use super::sb::SuperBlock;
use crate::vfs::bindings;
use core::marker::PhantomData;
use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::error::from_result;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// The object the inode cache allocates: the filesystem's state and the
/// VFS inode.
///
/// # Invariants
///
/// `data` is initialised whenever `vfs` is (from `alloc_inode` to
/// `free_inode`).
#[repr(C)]
#[pin_data]
pub(crate) struct InodeBox<T: FileSystem> {
    #[pin]
    data: T::InodeData,
    #[pin]
    vfs: Opaque<bindings::inode>,
}

/// A VFS inode of a superblock of the filesystem `T`.
///
/// # Invariants
///
/// The inode is embedded in an [`InodeBox<T>`] allocated by
/// `alloc_inode_callback::<T>` and is valid while a reference (a borrowed
/// `&Inode` from the VFS, or an [`ARef`]) is held.
#[repr(transparent)]
pub(crate) struct Inode<T>(Opaque<bindings::inode>, PhantomData<T>);

// SAFETY: Inodes are reference counted and used from any thread; all
// mutation goes through the kernel's own locking or the locks of
// `T::InodeData` (which is `Send + Sync`).
unsafe impl<T: FileSystem> Send for Inode<T> {}
// SAFETY: See above.
unsafe impl<T: FileSystem> Sync for Inode<T> {}

// SAFETY: `ihold`/`iput` maintain the inode's reference count.
unsafe impl<T: FileSystem> AlwaysRefCounted for Inode<T> {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` means a reference is held.
        unsafe { bindings::ihold(self.0.get()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference it gives up.
        unsafe { bindings::iput(obj.cast().as_ptr()) }
    }
}

/// The access a `permission` call asks for (`MAY_*`), and the sync
/// requests of `statx` (`AT_STATX_*`).
pub(crate) mod flags {
    use crate::vfs::bindings;
    pub(crate) use bindings::STATX_ATIME;
    pub(crate) use bindings::{AT_STATX_DONT_SYNC, AT_STATX_FORCE_SYNC, AT_STATX_SYNC_TYPE};
    pub(crate) use bindings::{RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT};

    /// Execute (search, for a directory).
    pub(crate) const MAY_EXEC: i32 = bindings::MAY_EXEC as i32;
    /// Write.
    pub(crate) const MAY_WRITE: i32 = bindings::MAY_WRITE as i32;
    /// Read.
    pub(crate) const MAY_READ: i32 = bindings::MAY_READ as i32;
    /// access(2).
    pub(crate) const MAY_ACCESS: i32 = bindings::MAY_ACCESS as i32;
    /// chdir(2).
    pub(crate) const MAY_CHDIR: i32 = bindings::MAY_CHDIR as i32;
    /// RCU walk: must not sleep.
    pub(crate) const MAY_NOT_BLOCK: i32 = bindings::MAY_NOT_BLOCK as i32;
}

/// File type of an inode, from its mode.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Directory.
    Dir,
    /// Regular file.
    Reg,
    /// Symbolic link.
    Link,
    /// FIFO, socket or device.
    Special,
}

impl<T: FileSystem> Inode<T> {
    /// Borrows a raw inode.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid inode of a superblock of `T`, referenced for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Self {
        // SAFETY: `Inode` is transparent over the C struct; validity is the
        // caller's promise.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// The filesystem's state of this inode.
    pub(crate) fn data(&self) -> &T::InodeData {
        // SAFETY: Every inode of `T` lives in an `InodeBox<T>` whose `data`
        // is initialised while the inode is (type invariants).
        unsafe { &(*kernel::container_of!(self.0.get(), InodeBox<T>, vfs)).data }
    }

    /// The superblock.
    pub(crate) fn sb(&self) -> &SuperBlock<T> {
        // SAFETY: `i_sb` is set for a live inode and outlives it.
        unsafe { SuperBlock::<T>::from_raw((*self.0.get()).i_sb) }
    }

    /// The mode (type and permission bits).
    pub(crate) fn mode(&self) -> u32 {
        // SAFETY: Reading a field of a live inode.
        u32::from(unsafe { (*self.0.get()).i_mode })
    }

    /// The file type.
    pub(crate) fn kind(&self) -> Kind {
        kind_of(self.mode())
    }

    /// The current size.
    pub(crate) fn size(&self) -> i64 {
        // SAFETY: `i_size_read` is safe on a live inode.
        unsafe { bindings::fusewb_i_size_read(self.0.get()) }
    }

    /// Sets the size, as seen by the VFS.
    pub(crate) fn set_size(&self, size: i64) {
        // SAFETY: Live inode; callers serialise size updates (a lock of
        // `T::InodeData`).
        unsafe { bindings::fusewb_i_size_write(self.0.get(), size) }
    }

    /// Copies attributes (already validated) into the VFS inode.
    /// `blkbits` is log2 of the block size; `nlink`, `uid`, `gid` are as
    /// the server reported them (ids in the mount's user namespace). The
    /// size, mtime and ctime only with `size_and_times` (not where the
    /// kernel owns them).
    pub(crate) fn set_attributes(
        &self,
        a: &crate::abi::fuse_attr,
        blkbits: u8,
        size_and_times: bool,
    ) {
        let p = self.0.get();
        // SAFETY: Live inode; callers hold the inode data's attribute lock, which
        // serialises these writes (as mainline's fi->lock). The mode's type
        // bits never change (callers check), only permissions.
        unsafe {
            (*p).i_ino = a.ino as usize;
            (*p).i_mode =
                (((*p).i_mode as u32 & crate::proto::attr::S_IFMT) | (a.mode & 0o7777)) as u16;
            bindings::set_nlink(p, a.nlink);
            bindings::fusewb_i_uid_write(p, a.uid);
            bindings::fusewb_i_gid_write(p, a.gid);
            (*p).i_blocks = a.blocks;
            // CAST: validated in proto::attr (nsec < 1e9); seconds are the
            // server's signed time_t carried in a u64.
            bindings::fusewb_inode_set_atime(p, a.atime as i64, a.atimensec as _);
            (*p).i_blkbits = blkbits;
            if size_and_times {
                bindings::fusewb_inode_set_mtime(p, a.mtime as i64, a.mtimensec as _);
                bindings::fusewb_inode_set_ctime(p, a.ctime as i64, a.ctimensec as _);
                // CAST: validated to fit i64 in proto::attr.
                bindings::fusewb_i_size_write(p, a.size as i64);
            }
        }
    }

    /// Drops cached pages beyond `size` (the file shrank on the server).
    pub(crate) fn truncate_pagecache(&self, size: i64) {
        // SAFETY: Live inode; may sleep, callers hold no spinlock.
        unsafe { bindings::truncate_pagecache(self.0.get(), size) }
    }

    /// Invalidates all cached pages (the data changed on the server).
    pub(crate) fn invalidate_pages(&self) {
        // SAFETY: Live inode; `i_mapping` is valid.
        unsafe { bindings::invalidate_inode_pages2((*self.0.get()).i_mapping) };
    }

    fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: Live inode: `i_mapping` is set and valid.
        unsafe { (*self.0.get()).i_mapping }
    }

    /// Takes the inode lock (`i_rwsem`) for writing.
    pub(crate) fn lock(&self) -> InodeLock<'_, T> {
        // SAFETY: Live inode; the guard unlocks.
        unsafe { bindings::fusewb_inode_lock(self.0.get()) };
        InodeLock(self)
    }

    /// Takes the inode lock of this directory for writing as a parent
    /// whose child's lock is taken next (lockdep's `I_MUTEX_PARENT`).
    pub(crate) fn lock_parent(&self) -> InodeLock<'_, T> {
        // SAFETY: Live inode; the guard unlocks.
        unsafe { bindings::fusewb_inode_lock_parent(self.0.get()) };
        InodeLock(self)
    }

    /// Writes back dirty folios in the byte range `start..=end` and waits
    /// for the page cache's part of it (see `fs::writeback` for the rest).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: Live inode and mapping; may sleep.
        kernel::error::to_result(unsafe {
            bindings::filemap_write_and_wait_range(self.mapping(), start, end)
        })
    }

    /// Starts writeback of the dirty folios in the byte range `start..=end`
    /// without waiting for it: `WB_SYNC_NONE`, so `writepages` skips what
    /// it cannot send now instead of waiting (`filemap_fdatawrite_range`
    /// would be `WB_SYNC_ALL`, a data-integrity pass).
    pub(crate) fn start_writeback_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: All-zero is a valid `writeback_control` (no cgroup
        // writeback attached, empty folio batch); the fields set are those
        // `__filemap_fdatawrite_range` sets.
        let mut wbc = bindings::writeback_control {
            nr_to_write: kernel::ffi::c_long::MAX,
            range_start: start,
            range_end: end,
            sync_mode: bindings::WB_SYNC_NONE as _,
            ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
        };
        // SAFETY: Live inode and mapping; `wbc` lives across the call, which
        // may sleep.
        kernel::error::to_result(unsafe {
            bindings::filemap_fdatawrite_wbc(self.mapping(), &mut wbc)
        })
    }

    /// Writes dirty metadata (times) only: `write_inode` with `I_SYNC`.
    pub(crate) fn sync_metadata(&self) -> Result {
        // SAFETY: Live inode; may sleep.
        kernel::error::to_result(unsafe { bindings::sync_inode_metadata(self.0.get(), 1) })
    }

    /// Whether the page cache holds dirty pages of the inode.
    pub(crate) fn has_dirty_pages(&self) -> bool {
        // SAFETY: Live inode and mapping; reads a mark of the page cache.
        unsafe { bindings::fusewb_mapping_tagged_dirty(self.mapping()) }
    }

    /// Records a writeback error on the mapping (errseq and legacy bits).
    pub(crate) fn set_mapping_error(&self, e: Error) {
        // SAFETY: Live inode and mapping.
        unsafe { bindings::fusewb_mapping_set_error(self.mapping(), e.to_errno()) }
    }

    /// Takes the mapping's legacy error bits (as `close` reports them).
    pub(crate) fn check_errors(&self) -> Result {
        // SAFETY: Live inode and mapping.
        kernel::error::to_result(unsafe { bindings::filemap_check_errors(self.mapping()) })
    }

    /// Whether the page cache holds any folio of the inode (a racy hint,
    /// as `mapping_empty`).
    pub(crate) fn has_cached_pages(&self) -> bool {
        // SAFETY: Live inode and mapping; `nrpages` is a plain counter.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.mapping()).nrpages)) != 0 }
    }

    /// Drops clean cached folios covering bytes `start..=end` (dirty ones
    /// are laundered first); busy ones stay (as after a direct write).
    pub(crate) fn invalidate_range(&self, start: i64, end: i64) {
        if end < start {
            return;
        }
        let shift = kernel::page::PAGE_SHIFT;
        // CAST: non-negative file offsets.
        let (first, last) = ((start.max(0) as u64 >> shift), (end.max(0) as u64 >> shift));
        // SAFETY: Live inode and mapping; may sleep.
        let _ = unsafe {
            bindings::invalidate_inode_pages2_range(self.mapping(), first as _, last as _)
        };
    }

    /// Removes cached folios of bytes `start..=end` (zeroing partial ones).
    pub(crate) fn truncate_pagecache_range(&self, start: i64, end: i64) {
        if end >= start {
            // SAFETY: Live inode; callers hold the inode lock.
            unsafe { bindings::truncate_pagecache_range(self.0.get(), start, end) }
        }
    }

    /// Sets the size and drops the page cache past it (a local truncate).
    pub(crate) fn truncate_setsize(&self, size: i64) {
        // SAFETY: Live inode; callers hold the inode lock.
        unsafe { bindings::truncate_setsize(self.0.get(), size) }
    }

    /// The modification time.
    pub(crate) fn mtime(&self) -> (i64, u32) {
        // SAFETY: Reading fields of a live inode.
        unsafe { ((*self.0.get()).i_mtime_sec, (*self.0.get()).i_mtime_nsec) }
    }

    /// The change time.
    pub(crate) fn ctime(&self) -> (i64, u32) {
        // SAFETY: Reading fields of a live inode.
        unsafe { ((*self.0.get()).i_ctime_sec, (*self.0.get()).i_ctime_nsec) }
    }

    /// Sets the modification time.
    pub(crate) fn set_mtime(&self, t: (i64, u32)) {
        // SAFETY: Live inode.
        unsafe { bindings::fusewb_inode_set_mtime(self.0.get(), t.0, t.1 as _) }
    }

    /// Sets the change time.
    pub(crate) fn set_ctime(&self, t: (i64, u32)) {
        // SAFETY: Live inode.
        unsafe { bindings::fusewb_inode_set_ctime(self.0.get(), t.0, t.1 as _) }
    }

    /// The current time, as this filesystem stores it (`s_time_gran`).
    pub(crate) fn now(&self) -> (i64, u32) {
        // SAFETY: Live inode.
        let t = unsafe { bindings::current_time(self.0.get()) };
        // CAST: nanoseconds are below 1e9.
        (t.tv_sec, t.tv_nsec as u32)
    }

    /// Marks the inode's metadata (times) dirty: `write_inode` sends them.
    pub(crate) fn mark_dirty_sync(&self) {
        // SAFETY: Live inode.
        unsafe { bindings::__mark_inode_dirty(self.0.get(), bindings::I_DIRTY_SYNC as c_int) }
    }

    /// The number of links.
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: Reading a field of a live inode.
        unsafe { (*self.0.get()).__bindgen_anon_1.i_nlink }
    }

    /// A counted reference, unless the inode is being evicted (`igrab`):
    /// for code that may see an inode pinned only by writeback (`I_SYNC`,
    /// not a reference), such as `writepages` and `write_inode` in the
    /// flusher, where `ihold` would revive an inode being freed.
    pub(crate) fn try_ref(&self) -> Option<ARef<Self>> {
        // SAFETY: Live (if maybe unreferenced) inode; `igrab` refuses
        // inodes being freed and takes a reference otherwise.
        let p = unsafe { bindings::igrab(self.0.get()) };
        // SAFETY: `igrab` returned a new reference to an inode of ours,
        // which the `ARef` now owns.
        NonNull::new(p.cast::<Self>()).map(|p| unsafe { ARef::from_raw(p) })
    }

    /// No links left (after RMDIR).
    pub(crate) fn clear_nlink(&self) {
        // SAFETY: Live inode.
        unsafe { bindings::clear_nlink(self.0.get()) }
    }

    /// One link fewer (after UNLINK).
    pub(crate) fn drop_nlink(&self) {
        // SAFETY: Live inode; nlink is above zero (checked).
        unsafe {
            if (*self.0.get()).__bindgen_anon_1.i_nlink > 0 {
                bindings::drop_nlink(self.0.get());
            }
        }
    }

    /// Unhashes the inode: a later `iget` of its key makes a new inode.
    pub(crate) fn unhash(&self) {
        // SAFETY: Live inode.
        unsafe { bindings::fusewb_remove_inode_hash(self.0.get()) };
    }

    /// Fills `stat` from the inode (for getattr).
    ///
    /// # Safety
    ///
    /// `idmap` and `stat` must be the valid pointers getattr received.
    pub(crate) unsafe fn fill_stat(
        &self,
        idmap: *mut bindings::mnt_idmap,
        mask: u32,
        stat: *mut bindings::kstat,
    ) {
        // SAFETY: Valid pointers per the caller; live inode.
        unsafe { bindings::generic_fillattr(idmap, mask, self.0.get(), stat) }
    }

    /// Whether a write or truncate by the current task must clear suid/sgid
    /// (`setattr_should_drop_suidgid`: set, regular file, no CAP_FSETID).
    pub(crate) fn should_drop_suidgid(&self) -> bool {
        // SAFETY: Live inode; the nop idmap is a static.
        unsafe {
            bindings::setattr_should_drop_suidgid(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                self.0.get(),
            ) != 0
        }
    }

    /// Drops the ACLs the VFS cached for this inode (the server may have
    /// changed them); an inode whose ACLs are never cached starts caching.
    pub(crate) fn forget_cached_acls(&self) {
        // SAFETY: Live inode.
        unsafe { bindings::forget_all_cached_acls(self.0.get()) }
    }

    /// Whether the caller is in the inode's group or has CAP_FSETID over
    /// it: if not, setting an ACL clears the sgid bit (mounts are not
    /// idmapped: the nop idmap).
    pub(crate) fn caller_in_group_or_capable(&self) -> bool {
        // SAFETY: Live inode; the nop idmap is a static.
        unsafe {
            let idmap = core::ptr::addr_of_mut!(bindings::nop_mnt_idmap);
            let gid = bindings::fusewb_i_gid_into_vfsgid(idmap, self.0.get());
            bindings::in_group_or_capable(idmap, self.0.get(), gid)
        }
    }

    /// Checks `mask` against the mode, owner and groups (default_permissions).
    pub(crate) fn generic_permission(&self, mask: i32) -> Result {
        // SAFETY: Live inode; the nop idmap is a static.
        kernel::error::to_result(unsafe {
            bindings::generic_permission(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                self.0.get(),
                mask,
            )
        })
    }
}

/// The inode lock held for writing; released when dropped.
pub(crate) struct InodeLock<'a, T: FileSystem>(&'a Inode<T>);

impl<'a, T: FileSystem> InodeLock<'a, T> {
    /// The inode this guard holds locked.
    pub(crate) fn inode(&self) -> &'a Inode<T> {
        self.0
    }
}

impl<T: FileSystem> Drop for InodeLock<'_, T> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock (taken by `Inode::lock`).
        unsafe { bindings::fusewb_inode_unlock(self.0.as_ptr()) }
    }
}

/// The file type of `mode`.
pub(crate) fn kind_of(mode: u32) -> Kind {
    use crate::proto::attr::*;
    match mode & S_IFMT {
        S_IFDIR => Kind::Dir,
        S_IFREG => Kind::Reg,
        S_IFLNK => Kind::Link,
        _ => Kind::Special,
    }
}

// --- The inode cache ----------------------------------------------------

static CACHE: AtomicPtr<bindings::kmem_cache> = AtomicPtr::new(core::ptr::null_mut());

/// The slab cache of the inodes of `T` (`fuse_wb_inode`), created when `T`
/// is registered. One per module: it lives in a static.
pub(crate) struct InodeCache<T: FileSystem>(PhantomData<T>);

/// Slab constructor of the inode cache.
///
/// # Safety
///
/// Called by the slab allocator with a new object of our cache.
unsafe extern "C" fn inode_ctor<T: FileSystem>(p: *mut c_void) {
    let b = p.cast::<InodeBox<T>>();
    // SAFETY: The slab calls the constructor on a new object of our cache;
    // `inode_init_once` initialises the embedded VFS inode once per object.
    unsafe { bindings::inode_init_once(Opaque::raw_get(addr_of_mut!((*b).vfs))) }
}

impl<T: FileSystem> InodeCache<T> {
    /// Creates the cache (EBUSY if the module made one already).
    pub(super) fn new() -> Result<Self> {
        // SAFETY: A valid name, size and constructor; the cache outlives all
        // inodes (destroyed after unregistering the filesystem).
        let c = unsafe {
            bindings::fusewb_kmem_cache_create(
                c"fuse_wb_inode".as_ptr().cast(),
                core::mem::size_of::<InodeBox<T>>() as c_uint,
                core::mem::align_of::<InodeBox<T>>() as c_uint,
                bindings::SLAB_RECLAIM_ACCOUNT | bindings::SLAB_ACCOUNT,
                Some(inode_ctor::<T>),
            )
        };
        if c.is_null() {
            return Err(ENOMEM);
        }
        // Objects are sized for `T`'s data: one cache (and one filesystem
        // type) per module.
        if CACHE
            .compare_exchange(
                core::ptr::null_mut(),
                c,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: `c` was just created and holds no object.
            unsafe { bindings::kmem_cache_destroy(c) };
            return Err(EBUSY);
        }
        Ok(Self(PhantomData))
    }
}

impl<T: FileSystem> Drop for InodeCache<T> {
    fn drop(&mut self) {
        // Write-behind work items (module code) have ended: every mount
        // waited for them; their last instructions may still run.
        // SAFETY: `system_unbound_wq` is set at boot and never freed.
        unsafe { bindings::__flush_workqueue(bindings::system_unbound_wq) };
        // Wait for RCU-delayed `free_inode` callbacks before destroying.
        // SAFETY: No preconditions.
        unsafe { bindings::rcu_barrier() };
        let c = CACHE.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: `c` was created by `new` and all its objects were freed
        // (the filesystem is unregistered and no superblock remains).
        unsafe { bindings::kmem_cache_destroy(c) };
    }
}

/// `super_operations.alloc_inode`.
///
/// # Safety
///
/// Called by the VFS with a valid superblock of `T`, whose [`InodeCache<T>`]
/// exists (the superblock of a registered filesystem type).
pub(crate) unsafe extern "C" fn alloc_inode_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
) -> *mut bindings::inode {
    let cache = CACHE.load(Ordering::Acquire);
    // SAFETY: `sb` is valid and `cache` is our live cache (module loaded).
    let b = unsafe { bindings::fusewb_alloc_inode_sb(sb, cache, bindings::GFP_KERNEL) }
        .cast::<InodeBox<T>>();
    if b.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: `b` is a new object of the cache; `data` is uninitialised and
    // pinned in it.
    if unsafe { T::new_inode_data().__pinned_init(addr_of_mut!((*b).data)) }.is_err() {
        // SAFETY: Returning the unused object to its cache.
        unsafe { bindings::kmem_cache_free(cache, b.cast()) };
        return core::ptr::null_mut();
    }
    // INVARIANT: `data` is initialised before the inode is handed out.
    // SAFETY: `b` is valid.
    Opaque::raw_get(unsafe { addr_of_mut!((*b).vfs) })
}

/// `super_operations.free_inode`.
///
/// # Safety
///
/// Called by the VFS (after RCU) for an inode from `alloc_inode_callback`
/// that nothing references any more.
pub(crate) unsafe extern "C" fn free_inode_callback<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: Every inode of `T` is embedded in an InodeBox<T>.
    let b = unsafe { kernel::container_of!(inode, InodeBox<T>, vfs) }.cast_mut();
    // SAFETY: `data` was initialised in alloc_inode and is dropped once here.
    unsafe { core::ptr::drop_in_place(addr_of_mut!((*b).data)) };
    // SAFETY: `b` came from our cache.
    unsafe { bindings::kmem_cache_free(CACHE.load(Ordering::Acquire), b.cast()) };
}

// --- iget -----------------------------------------------------------------

/// `iget5_locked` test: is `inode` the one of key `*data`?
///
/// # Safety
///
/// Called by `iget5_locked` with an inode of `T` and the `u64` we passed.
unsafe extern "C" fn iget_test<T: FileSystem>(
    inode: *mut bindings::inode,
    data: *mut c_void,
) -> c_int {
    // SAFETY: iget5_locked passes inodes of the superblock and the `u64`
    // key we gave it.
    let (inode, key) = unsafe { (Inode::<T>::from_raw(inode), *data.cast::<u64>()) };
    c_int::from(T::inode_has_key(inode, key))
}

/// `iget5_locked` set: gives a new inode the key `*data`.
///
/// # Safety
///
/// Called by `iget5_locked` with a new inode of `T` and the `u64` we passed.
unsafe extern "C" fn iget_set<T: FileSystem>(
    inode: *mut bindings::inode,
    data: *mut c_void,
) -> c_int {
    // SAFETY: As in `iget_test`; the new inode is not yet visible to others.
    let (inode, key) = unsafe { (Inode::<T>::from_raw(inode), *data.cast::<u64>()) };
    T::set_inode_key(inode, key);
    0
}

/// Looks up or creates the inode of `key` (also its hash). For a new
/// inode, `init` sets its type and attributes before it becomes visible.
pub(crate) fn iget<T: FileSystem>(
    sb: &SuperBlock<T>,
    key: u64,
    init: impl FnOnce(&Inode<T>),
) -> Result<(ARef<Inode<T>>, bool)> {
    let mut id = key;
    // SAFETY: Valid superblock and callbacks; `id` outlives the call.
    let p = unsafe {
        bindings::iget5_locked(
            sb.as_ptr(),
            key as usize,
            Some(iget_test::<T>),
            Some(iget_set::<T>),
            (&mut id as *mut u64).cast(),
        )
    };
    let nn = NonNull::new(p).ok_or(ENOMEM)?;
    // SAFETY: iget5_locked returned a referenced inode; we own that reference.
    let inode = unsafe { ARef::<Inode<T>>::from_raw(nn.cast()) };
    // SAFETY: `p` is the live inode iget5_locked just returned (we hold its
    // reference); `i_state` may change concurrently, so read it once.
    let state = unsafe { core::ptr::read_volatile(addr_of_mut!((*p).i_state)) };
    if state & bindings::I_NEW == 0 {
        return Ok((inode, false));
    }
    init(&inode);
    // SAFETY: The inode is new and locked (I_NEW); `init` finished it.
    unsafe { bindings::unlock_new_inode(p) };
    Ok((inode, true))
}

/// The cached inode of `key`, if there is one (nothing is created: an
/// inode being set up is waited for).
pub(crate) fn ilookup<T: FileSystem>(sb: &SuperBlock<T>, key: u64) -> Option<ARef<Inode<T>>> {
    let mut id = key;
    // SAFETY: Valid superblock and test callback; `id` outlives the call.
    let p = unsafe {
        bindings::ilookup5(
            sb.as_ptr(),
            key as usize,
            Some(iget_test::<T>),
            (&mut id as *mut u64).cast(),
        )
    };
    // SAFETY: A non-null result is a referenced inode we now own.
    NonNull::new(p).map(|nn| unsafe { ARef::<Inode<T>>::from_raw(nn.cast()) })
}

/// How a new inode is set up besides its type (see [`set_ops`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewInode {
    /// The VFS must not update its atime (`S_NOATIME`: the server owns it).
    pub(crate) noatime: bool,
    /// Nor its c/mtime (`S_NOCMTIME`).
    pub(crate) nocmtime: bool,
    /// The VFS may cache its ACLs (else `ACL_DONT_CACHE`: every check asks
    /// the filesystem).
    pub(crate) cache_acls: bool,
    /// A symlink's target is kept in its page cache once read (else every
    /// path walk through it asks `InodeOperations::readlink`).
    pub(crate) cache_link: bool,
}

/// Sets the type-dependent operations of a new inode with mode `mode`
/// (`T`'s tables), and its flags as `how` says.
pub(crate) fn set_ops<
    T: InodeOperations + FileOperations + VmOperations + AddressSpaceOperations,
>(
    inode: &Inode<T>,
    mode: u32,
    rdev: u32,
    how: NewInode,
) {
    let p = inode.as_ptr();
    // SAFETY: `inode` is new and locked (called from `iget`'s init), so we
    // own its fields.
    unsafe {
        (*p).i_mode = mode as u16;
        if how.noatime {
            (*p).i_flags |= bindings::S_NOATIME;
        }
        if how.nocmtime {
            (*p).i_flags |= bindings::S_NOCMTIME;
        }
        if !how.cache_acls {
            let dont = bindings::fusewb_acl_dont_cache();
            (*p).i_acl = dont;
            (*p).i_default_acl = dont;
        }
        match kind_of(mode) {
            Kind::Dir => {
                (*p).i_op = IopsVTable::<T>::dir();
                (*p).__bindgen_anon_3.i_fop = FileVTable::<T>::dir();
            }
            Kind::Reg => {
                (*p).i_op = IopsVTable::<T>::file();
                (*p).__bindgen_anon_3.i_fop = FileVTable::<T>::file();
                (*(*p).i_mapping).a_ops = AopsVTable::<T>::build();
            }
            Kind::Link if how.cache_link => {
                (*p).i_op = IopsVTable::<T>::link_cached();
                (*(*p).i_mapping).a_ops = LinkAopsVTable::<T>::build();
                // `page_get_link_raw` needs the page mapped in the kernel.
                bindings::inode_nohighmem(p);
            }
            Kind::Link => {
                (*p).i_op = IopsVTable::<T>::link();
            }
            Kind::Special => {
                (*p).i_op = IopsVTable::<T>::file();
                bindings::init_special_inode(p, mode as u16, bindings::fusewb_new_decode_dev(rdev));
            }
        }
    }
}

// --- inode_operations -----------------------------------------------------

/// The inode operations of a filesystem: its side of the contract;
/// [`IopsVTable`] builds the C tables (directories, regular and special
/// files, symlinks) from it.
#[vtable]
pub(crate) trait InodeOperations: FileSystem {
    /// Looks `dentry` up in `dir`: an alias to use instead, if any.
    fn lookup(dir: &Inode<Self>, dentry: &Dentry<Self>) -> Result<Option<ARef<Dentry<Self>>>>;

    /// Brings the attributes up to date for stat(2) (`mask`, `flags` as in
    /// `statx`); the VFS then fills the stat from the inode.
    fn getattr(inode: &Inode<Self>, mask: u32, flags: u32) -> Result;

    /// Whether the caller may access `inode` as `mask` (`MAY_*`) asks.
    fn permission(inode: &Inode<Self>, mask: i32) -> Result;

    /// The target of a symlink, NUL-terminated.
    fn readlink(inode: &Inode<Self>) -> Result<KVec<u8>>;

    /// Changes attributes (checked by `setattr_prepare`), under the inode
    /// lock.
    fn setattr(inode: &Inode<Self>, attr: &Iattr<'_, Self>) -> Result;

    /// Makes a node (`mode` with its type; `rdev` the kernel's `dev_t`).
    fn mknod(dir: &Inode<Self>, dentry: &Dentry<Self>, mode: u32, rdev: u32) -> Result;

    /// Removes a name.
    fn unlink(dir: &Inode<Self>, dentry: &Dentry<Self>) -> Result;

    /// The names of `inode`'s extended attributes, each NUL-terminated,
    /// copied into `buf`, or, for an empty `buf`, their length.
    fn listxattr(inode: &Inode<Self>, buf: &mut [u8]) -> Result<usize>;

    /// The ACL of `ty` for the VFS's permission checks (`get_inode_acl`;
    /// cached by the VFS unless the inode says not to); `rcu`: the caller
    /// may not sleep.
    fn get_inode_acl(inode: &Inode<Self>, ty: AclType, rcu: bool) -> Result<Option<PosixAcl>>;

    /// The ACL of `ty` for getxattr(2) of `system.posix_acl_*` (`get_acl`).
    fn get_acl(inode: &Inode<Self>, ty: AclType) -> Result<Option<PosixAcl>>;

    /// Sets the ACL of `ty`, or removes it (`None`), under the inode lock
    /// (`set_acl`); the VFS checked ownership and the ACL's validity.
    fn set_acl(inode: &Inode<Self>, acl: Option<&Acl>, ty: AclType) -> Result;

    /// Makes the directory `dentry` in `dir` (`mode`: permission bits only).
    fn mkdir(dir: &Inode<Self>, dentry: &Dentry<Self>, mode: u32) -> Result;

    /// Removes the (empty) directory `dentry` of `dir`.
    fn rmdir(dir: &Inode<Self>, dentry: &Dentry<Self>) -> Result;

    /// Makes the symlink `dentry` in `dir` pointing to `target` (no NUL).
    fn symlink(dir: &Inode<Self>, dentry: &Dentry<Self>, target: &[u8]) -> Result;

    /// Links the inode of `old` as `dentry` in `dir`.
    fn link(old: &Dentry<Self>, dir: &Inode<Self>, dentry: &Dentry<Self>) -> Result;

    /// Renames `old` in `old_dir` to `new` in `new_dir` (`flags`:
    /// `RENAME_*`); the VFS moves the dentries afterwards.
    fn rename(
        old_dir: &Inode<Self>,
        old: &Dentry<Self>,
        new_dir: &Inode<Self>,
        new: &Dentry<Self>,
        flags: u32,
    ) -> Result;

    /// open(2) with a name to look up (`dentry`, possibly in lookup) in
    /// `dir`, and maybe create.
    fn atomic_open(
        dir: &Inode<Self>,
        dentry: &Dentry<Self>,
        file: &File<Self>,
        flags: u32,
        mode: u32,
    ) -> Result<AtomicOpen<Self>>;

    /// open(2) with O_TMPFILE in `dir`: makes an unnamed regular file
    /// (`mode` with `S_IFREG`), instantiates `file`'s dentry with it and
    /// returns the open file's state; the VFS makes it linkable (unless
    /// O_EXCL) for linkat(2).
    fn tmpfile(dir: &Inode<Self>, file: &File<Self>, mode: u32) -> Result<KBox<Self::FileData>>;

    /// `atomic_open` or `tmpfile` made and opened `inode` (`data`), but
    /// the VFS refused the open before it completed (`finish_open` failed:
    /// an LSM, a permission event, a lease): no `release` follows, so the
    /// open's state is given back here.
    fn open_failed(inode: &Inode<Self>, data: KBox<Self::FileData>);
}

/// How an atomic open ended.
pub(crate) enum AtomicOpen<T: FileSystem> {
    /// Not opened here: the VFS opens the name the usual way (through the
    /// alias found by the lookup, if any).
    NoOpen(Option<ARef<Dentry<T>>>),
    /// Created and opened, with the open file's state (and the alias the
    /// lookup found, if any).
    Opened(Option<ARef<Dentry<T>>>, KBox<T::FileData>),
}

/// The C tables of `T`'s inode operations.
pub(crate) struct IopsVTable<T>(core::marker::PhantomData<T>);

impl<T: InodeOperations> IopsVTable<T> {
    const DIR: bindings::inode_operations = bindings::inode_operations {
        lookup: Some(lookup_callback::<T>),
        getattr: Some(getattr_callback::<T>),
        permission: Some(permission_callback::<T>),
        setattr: Some(setattr_callback::<T>),
        create: Some(create_callback::<T>),
        mknod: Some(mknod_callback::<T>),
        unlink: Some(unlink_callback::<T>),
        listxattr: Some(listxattr_callback::<T>),
        mkdir: Some(mkdir_callback::<T>),
        rmdir: Some(rmdir_callback::<T>),
        symlink: Some(symlink_callback::<T>),
        link: Some(link_callback::<T>),
        rename: Some(rename_callback::<T>),
        atomic_open: Some(atomic_open_callback::<T>),
        tmpfile: Some(tmpfile_callback::<T>),
        get_inode_acl: Some(get_inode_acl_callback::<T>),
        get_acl: Some(get_acl_callback::<T>),
        set_acl: Some(set_acl_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const FILE: bindings::inode_operations = bindings::inode_operations {
        getattr: Some(getattr_callback::<T>),
        permission: Some(permission_callback::<T>),
        setattr: Some(setattr_callback::<T>),
        listxattr: Some(listxattr_callback::<T>),
        get_inode_acl: Some(get_inode_acl_callback::<T>),
        get_acl: Some(get_acl_callback::<T>),
        set_acl: Some(set_acl_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const LINK: bindings::inode_operations = bindings::inode_operations {
        get_link: Some(get_link_callback::<T>),
        getattr: Some(getattr_callback::<T>),
        setattr: Some(setattr_callback::<T>),
        listxattr: Some(listxattr_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const LINK_CACHED: bindings::inode_operations = bindings::inode_operations {
        get_link: Some(bindings::page_get_link_raw),
        getattr: Some(getattr_callback::<T>),
        setattr: Some(setattr_callback::<T>),
        listxattr: Some(listxattr_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    fn dir() -> &'static bindings::inode_operations {
        &Self::DIR
    }

    fn file() -> &'static bindings::inode_operations {
        &Self::FILE
    }

    fn link() -> &'static bindings::inode_operations {
        &Self::LINK
    }

    fn link_cached() -> &'static bindings::inode_operations {
        &Self::LINK_CACHED
    }
}

/// # Safety
///
/// Called by the VFS with a locked directory inode of ours and a negative,
/// in-lookup dentry in it.
unsafe extern "C" fn lookup_callback<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: Valid per the VFS contract above.
    let (dir, dentry) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    match T::lookup(dir, dentry) {
        Ok(Some(d)) => ARef::into_raw(d).cast().as_ptr(),
        Ok(None) => core::ptr::null_mut(),
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS with valid idmap, path (of our filesystem) and stat.
unsafe extern "C" fn getattr_callback<T: InodeOperations>(
    idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    mask: u32,
    flags: c_uint,
) -> c_int {
    // SAFETY: The path's dentry is positive and of our filesystem.
    let inode = unsafe { Inode::<T>::from_raw((*(*path).dentry).d_inode) };
    from_result(|| {
        T::getattr(inode, mask, flags)?;
        // SAFETY: Pointers as received from the VFS.
        unsafe { inode.fill_stat(idmap, mask, stat) };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a valid inode of ours.
unsafe extern "C" fn permission_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    inode: *mut bindings::inode,
    mask: c_int,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    from_result(|| {
        T::permission(inode, mask)?;
        Ok(0)
    })
}

/// An ACL result for the VFS: the reference, NULL for none, or an error.
fn acl_to_raw(r: Result<Option<PosixAcl>>) -> *mut bindings::posix_acl {
    match r {
        Ok(Some(acl)) => acl.into_raw(),
        Ok(None) => core::ptr::null_mut(),
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS with a valid inode of ours (directory, regular or
/// special file).
unsafe extern "C" fn get_inode_acl_callback<T: InodeOperations>(
    inode: *mut bindings::inode,
    ty: c_int,
    rcu: bool,
) -> *mut bindings::posix_acl {
    // SAFETY: Valid per the VFS contract.
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    let Some(ty) = AclType::from_raw(ty) else {
        return super::eopnotsupp().to_ptr();
    };
    acl_to_raw(T::get_inode_acl(inode, ty, rcu))
}

/// # Safety
///
/// Called by the VFS with a positive dentry of ours (not a symlink).
unsafe extern "C" fn get_acl_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    ty: c_int,
) -> *mut bindings::posix_acl {
    // SAFETY: Positive dentry of ours.
    let inode = unsafe { Inode::<T>::from_raw((*dentry).d_inode) };
    let Some(ty) = AclType::from_raw(ty) else {
        return super::eopnotsupp().to_ptr();
    };
    acl_to_raw(T::get_acl(inode, ty))
}

/// # Safety
///
/// Called by the VFS with a positive dentry of ours whose inode it holds
/// locked, and a valid ACL (or NULL) for the call.
unsafe extern "C" fn set_acl_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    acl: *mut bindings::posix_acl,
    ty: c_int,
) -> c_int {
    // SAFETY: Positive dentry of ours.
    let inode = unsafe { Inode::<T>::from_raw((*dentry).d_inode) };
    let acl = if acl.is_null() {
        None
    } else {
        // SAFETY: The VFS holds the ACL for the call.
        Some(unsafe { Acl::from_raw(acl) })
    };
    from_result(|| {
        let ty = AclType::from_raw(ty).ok_or(EINVAL)?;
        T::set_acl(inode, acl, ty)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a symlink inode of ours; `dentry` is NULL in RCU
/// walk mode; `done` is valid.
unsafe extern "C" fn get_link_callback<T: InodeOperations>(
    dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    done: *mut bindings::delayed_call,
) -> *const kernel::ffi::c_char {
    if dentry.is_null() {
        return ECHILD.to_ptr();
    }
    // SAFETY: Valid per the VFS contract.
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    match T::readlink(inode) {
        Ok(target) => {
            let (ptr, _len, _cap) = target.into_raw_parts();
            // SAFETY: `ptr` is a kmalloc'ed, NUL-terminated string which
            // `kfree_link` frees once the VFS is done with it.
            unsafe {
                bindings::fusewb_set_delayed_call(done, Some(bindings::kfree_link), ptr.cast())
            };
            ptr.cast()
        }
        Err(e) => e.to_ptr(),
    }
}

/// The changes a `setattr` asks for (already checked by `setattr_prepare`).
///
/// # Invariants
///
/// `ptr` is a valid `iattr` for the lifetime `'a`.
pub(crate) struct Iattr<'a, T> {
    ptr: *const bindings::iattr,
    _p: PhantomData<(&'a bindings::iattr, T)>,
}

impl<'a, T: FileSystem> Iattr<'a, T> {
    fn valid(&self) -> u32 {
        // SAFETY: Valid iattr (type invariant).
        unsafe { (*self.ptr).ia_valid }
    }

    fn has(&self, bit: u32) -> bool {
        self.valid() & bit != 0
    }

    /// Whether the change clears suid/sgid (`ATTR_KILL_SUID`/`SGID`: a
    /// write, truncate or chown by someone without CAP_FSETID); the VFS
    /// then computed [`Self::mode`] from the cached mode.
    pub(crate) fn kills_privs(&self) -> bool {
        self.has(bindings::ATTR_KILL_SUID | bindings::ATTR_KILL_SGID)
    }

    /// New mode (the file type bits included, as mainline sends it).
    pub(crate) fn mode(&self) -> Option<u32> {
        // SAFETY: Valid iattr.
        self.has(bindings::ATTR_MODE)
            .then(|| u32::from(unsafe { (*self.ptr).ia_mode }))
    }

    /// New owner.
    pub(crate) fn uid(&self) -> Option<bindings::kuid_t> {
        // SAFETY: Valid iattr; the uid union members are the same value.
        self.has(bindings::ATTR_UID)
            .then(|| unsafe { (*self.ptr).__bindgen_anon_1.ia_uid })
    }

    /// New group.
    pub(crate) fn gid(&self) -> Option<bindings::kgid_t> {
        // SAFETY: Valid iattr; as above.
        self.has(bindings::ATTR_GID)
            .then(|| unsafe { (*self.ptr).__bindgen_anon_2.ia_gid })
    }

    /// New size.
    pub(crate) fn size(&self) -> Option<i64> {
        // SAFETY: Valid iattr.
        self.has(bindings::ATTR_SIZE)
            .then(|| unsafe { (*self.ptr).ia_size })
    }

    fn time(&self, bit: u32, set: u32, t: bindings::timespec64) -> SetTime {
        if !self.has(bit) {
            SetTime::Omit
        } else if self.has(set) {
            // CAST: nanoseconds are below 1e9.
            SetTime::At(t.tv_sec, t.tv_nsec as u32)
        } else {
            SetTime::Now
        }
    }

    /// New access time.
    pub(crate) fn atime(&self) -> SetTime {
        // SAFETY: Valid iattr.
        let t = unsafe { (*self.ptr).ia_atime };
        self.time(bindings::ATTR_ATIME, bindings::ATTR_ATIME_SET, t)
    }

    /// New modification time.
    pub(crate) fn mtime(&self) -> SetTime {
        // SAFETY: Valid iattr.
        let t = unsafe { (*self.ptr).ia_mtime };
        self.time(bindings::ATTR_MTIME, bindings::ATTR_MTIME_SET, t)
    }

    /// The open file the change is made through (ftruncate, fchmod...).
    pub(crate) fn file(&self) -> Option<&'a File<T>> {
        if !self.has(bindings::ATTR_FILE) {
            return None;
        }
        // SAFETY: With ATTR_FILE, `ia_file` is an open file of ours.
        let f = unsafe { (*self.ptr).ia_file };
        // SAFETY: As above.
        (!f.is_null()).then(|| unsafe { File::<T>::from_raw(f) })
    }
}

use crate::proto::write::SetTime;

/// # Safety
///
/// Called by the VFS (`notify_change`) with a positive dentry of ours, under
/// the inode lock.
unsafe extern "C" fn setattr_callback<T: InodeOperations>(
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    // SAFETY: Valid arguments per the VFS contract.
    let r = unsafe { bindings::setattr_prepare(idmap, dentry, attr) };
    if r != 0 {
        return r;
    }
    // SAFETY: Positive dentry of ours.
    let inode = unsafe { Inode::<T>::from_raw((*dentry).d_inode) };
    // INVARIANT: Valid for this call.
    let ia = Iattr {
        ptr: attr,
        _p: core::marker::PhantomData,
    };
    from_result(|| {
        T::setattr(inode, &ia)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of ours and a negative dentry.
unsafe extern "C" fn mknod_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    rdev: bindings::dev_t,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    from_result(|| {
        T::mknod(dir, d, u32::from(mode), rdev)?;
        Ok(0)
    })
}

/// # Safety
///
/// As `mknod_callback` (a regular file, e.g. from mknod(2)).
unsafe extern "C" fn create_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    _excl: bool,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    from_result(|| {
        T::mknod(dir, d, u32::from(mode) | crate::proto::attr::S_IFREG, 0)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of ours and a positive dentry.
unsafe extern "C" fn unlink_callback<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    from_result(|| {
        T::unlink(dir, d)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a positive dentry of ours and a buffer of `size`
/// bytes (NULL when `size` is 0).
unsafe extern "C" fn listxattr_callback<T: InodeOperations>(
    dentry: *mut bindings::dentry,
    list: *mut kernel::ffi::c_char,
    size: usize,
) -> isize {
    // SAFETY: A positive dentry of ours.
    let inode = unsafe { Inode::<T>::from_raw((*dentry).d_inode) };
    let buf: &mut [u8] = if list.is_null() || size == 0 {
        &mut []
    } else {
        // SAFETY: The VFS hands a writable buffer of `size` bytes, ours for
        // the call.
        unsafe { core::slice::from_raw_parts_mut(list.cast::<u8>(), size) }
    };
    from_result(|| {
        let n = T::listxattr(inode, buf)?;
        isize::try_from(n).map_err(|_| E2BIG)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of ours and a negative dentry.
unsafe extern "C" fn mkdir_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    from_result(|| {
        T::mkdir(dir, d, u32::from(mode))?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of ours and a positive dentry
/// of a directory in it (also locked).
unsafe extern "C" fn rmdir_callback<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    from_result(|| {
        T::rmdir(dir, d)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a locked directory of ours, a negative dentry and
/// a NUL-terminated target.
unsafe extern "C" fn symlink_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    target: *const kernel::ffi::c_char,
) -> c_int {
    // SAFETY: Valid per the VFS contract; the target is a NUL-terminated
    // string (from getname) alive for the call.
    let (dir, d, t) = unsafe {
        (
            Inode::<T>::from_raw(dir),
            Dentry::<T>::from_raw(dentry),
            core::ffi::CStr::from_ptr(target.cast()),
        )
    };
    from_result(|| {
        T::symlink(dir, d, t.to_bytes())?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a positive dentry of ours (`old`), a locked
/// directory of ours and a negative dentry in it.
unsafe extern "C" fn link_callback<T: InodeOperations>(
    old: *mut bindings::dentry,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (old, dir, d) = unsafe {
        (
            Dentry::<T>::from_raw(old),
            Inode::<T>::from_raw(dir),
            Dentry::<T>::from_raw(dentry),
        )
    };
    from_result(|| {
        T::link(old, dir, d)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with both directories (of ours) locked, a positive
/// `old` dentry and a `new` dentry (positive or not) in them.
unsafe extern "C" fn rename_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    old_dir: *mut bindings::inode,
    old: *mut bindings::dentry,
    new_dir: *mut bindings::inode,
    new: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (od, o, nd, n) = unsafe {
        (
            Inode::<T>::from_raw(old_dir),
            Dentry::<T>::from_raw(old),
            Inode::<T>::from_raw(new_dir),
            Dentry::<T>::from_raw(new),
        )
    };
    from_result(|| {
        T::rename(od, o, nd, n, flags)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (open with O_CREAT) with a locked directory of ours,
/// a dentry (in lookup, or negative) and the file being opened.
unsafe extern "C" fn atomic_open_callback<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    file: *mut bindings::file,
    flags: kernel::ffi::c_uint,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dirp, d, f) = unsafe {
        (
            Inode::<T>::from_raw(dir),
            Dentry::<T>::from_raw(dentry),
            File::<T>::from_raw(file),
        )
    };
    match T::atomic_open(dirp, d, f, flags, u32::from(mode)) {
        // SAFETY: `finish_no_open` takes the alias reference (or NULL).
        Ok(AtomicOpen::NoOpen(alias)) => unsafe {
            bindings::finish_no_open(
                file,
                alias.map_or(core::ptr::null_mut(), |a| ARef::into_raw(a).cast().as_ptr()),
            )
        },
        Ok(AtomicOpen::Opened(alias, ff)) => {
            let d = alias.as_ref().map_or(dentry, |a| a.as_ptr());
            // INVARIANT: `private_data` holds our `KBox<T::FileData>` from now,
            // for `release`, or taken back below if the file never opens.
            // SAFETY: The file is being opened; we own `private_data`; `d`
            // is referenced (by the VFS, or by `alias` until below).
            let r = unsafe {
                (*file).private_data = kernel::types::ForeignOwnable::into_foreign(ff) as *mut _;
                bindings::finish_open(file, d, Some(bindings::generic_file_open))
            };
            if r != 0 {
                // SAFETY: As above; `d` is positive (CREATE instantiated it).
                unsafe { reclaim_failed_open::<T>(file, d) };
            }
            drop(alias);
            r
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_tmpfile`) with a directory of ours and a file
/// being opened whose `f_path.dentry` is a new negative dentry.
unsafe extern "C" fn tmpfile_callback<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    file: *mut bindings::file,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (dirp, f) = unsafe { (Inode::<T>::from_raw(dir), File::<T>::from_raw(file)) };
    match T::tmpfile(dirp, f, u32::from(mode)) {
        Ok(ff) => {
            // INVARIANT: `private_data` holds our `KBox<T::FileData>` from now,
            // for `release`, or taken back below if the file never opens.
            // SAFETY: The file is being opened; we own `private_data`; its
            // dentry is referenced by `vfs_tmpfile` for the whole call.
            unsafe {
                (*file).private_data = kernel::types::ForeignOwnable::into_foreign(ff) as *mut _;
                let d = (*file).f_path.dentry;
                let r = bindings::finish_open(file, d, Some(bindings::generic_file_open));
                if r != 0 {
                    // `d` is positive: `T::tmpfile` instantiated it.
                    reclaim_failed_open::<T>(file, d);
                }
                r
            }
        }
        Err(e) => e.to_errno(),
    }
}

/// After `finish_open` failed: if the file never became open
/// (FMODE_OPENED clear), the VFS frees it without `release`, so the state
/// in `private_data` is taken back and given to `T::open_failed`. If it
/// did open (a later check failed), `release` follows as usual.
///
/// # Safety
///
/// `file` is the file the caller is opening, whose `private_data` holds a
/// `KBox<T::FileData>` put there by the caller (or is NULL); `dentry` is
/// the positive dentry of one of our inodes it was opened on, referenced.
unsafe fn reclaim_failed_open<T: InodeOperations>(
    file: *mut bindings::file,
    dentry: *mut bindings::dentry,
) {
    // SAFETY: `file` is valid and not yet visible to anyone else (caller).
    let (mode, data) = unsafe { ((*file).f_mode, (*file).private_data) };
    if mode & bindings::FMODE_OPENED != 0 || data.is_null() {
        return;
    }
    // SAFETY: As above: the box is ours again, and the file no longer
    // points to it.
    let ff = unsafe {
        (*file).private_data = core::ptr::null_mut();
        <KBox<T::FileData> as kernel::types::ForeignOwnable>::from_foreign(data)
    };
    // SAFETY: `dentry` is positive and referenced (caller), so its inode
    // is one of ours and lives for this call.
    let inode = unsafe { Inode::<T>::from_raw((*dentry).d_inode) };
    T::open_failed(inode, ff);
}
