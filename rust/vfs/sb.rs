// SPDX-License-Identifier: GPL-2.0

//! Superblocks: the filesystem's state of the mount in `s_fs_info`, the
//! link objects that outlive the mount hold to it, and the superblock
//! operations.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::dentry::Dentry;
use super::fs_type::FileSystem;
use super::inode::Inode;
use crate::vfs::bindings;
use core::marker::PhantomData;
use kernel::ffi::c_int;

use kernel::error::from_result;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow, Mutex, SpinLock};
use kernel::types::{ForeignOwnable, Opaque};

/// What `s_fs_info` holds: the filesystem's state of the mount and the
/// mount's [`SbLink`].
pub(crate) struct SbInfo<T: FileSystem> {
    pub(super) data: Arc<T::SbData>,
    pub(super) link: Arc<SbLink>,
}

/// A superblock of the filesystem `T`.
///
/// # Invariants
///
/// Valid while borrowed. From `sget_fc` (in `get_tree`) until the end of
/// `kill_sb`, `s_fs_info` holds a `KBox<SbInfo<T>>`.
#[repr(transparent)]
pub(crate) struct SuperBlock<T>(Opaque<bindings::super_block>, PhantomData<T>);

impl<T: FileSystem> SuperBlock<T> {
    /// Borrows a raw superblock.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid superblock of `T`, alive for `'a`, with its
    /// state installed.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a Self {
        // SAFETY: Transparent wrapper; validity per the caller.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    pub(super) fn info(&self) -> &SbInfo<T> {
        // SAFETY: `s_fs_info` holds a `KBox<SbInfo<T>>` for as long as the
        // superblock's inodes and dentries exist (type invariant).
        unsafe { <KBox<SbInfo<T>> as ForeignOwnable>::borrow((*self.0.get()).s_fs_info) }
    }

    /// The filesystem's state of this mount.
    pub(crate) fn data(&self) -> ArcBorrow<'_, T::SbData> {
        self.info().data.as_arc_borrow()
    }

    /// The link to this superblock for objects that may outlive it.
    pub(crate) fn link(&self) -> Arc<SbLink> {
        self.info().link.clone()
    }

    /// The readahead window of the mount's bdi, in bytes.
    pub(crate) fn readahead_bytes(&self) -> usize {
        // SAFETY: `s_bdi` is set up before the filesystem sees the
        // superblock and lives as long as it.
        unsafe { (*(*self.0.get()).s_bdi).ra_pages * super::PAGE_SIZE }
    }

    /// Bounds the mount's dirty data strictly (`BDI_CAP_STRICTLIMIT`): its
    /// share `ratio` (percent, clamped to 1..=100) of the dirty threshold
    /// applies even below the global limits.
    pub(crate) fn set_strict_dirty_limit(&self, ratio: u32) {
        // SAFETY: `s_bdi` was set up before `fill_super` and belongs to
        // this superblock, which is being set up (nobody else writes it).
        unsafe {
            let bdi = (*self.0.get()).s_bdi;
            (*bdi).capabilities |= bindings::BDI_CAP_STRICTLIMIT;
            bindings::bdi_set_max_ratio(bdi, ratio.clamp(1, 100));
        }
    }

    /// The device number (names the connection in sysfs).
    pub(crate) fn dev(&self) -> u32 {
        // SAFETY: Reading a field of a live superblock.
        unsafe { (*self.0.get()).s_dev }
    }

    /// Counts `pages` (negative: uncounts them) as under writeback on the
    /// mount's bdi, as mainline counts its temporary pages: the copies of
    /// dirty pages that WRITEs in flight hold. The strict dirty limit then
    /// throttles writers while they are in flight, so they are bounded too.
    pub(crate) fn account_writeback(&self, pages: i64) {
        // SAFETY: A live superblock's `s_bdi` is set up in `fill_super` and
        // freed with the superblock.
        unsafe { bindings::fusewb_wb_writeback_add((*self.0.get()).s_bdi, pages) }
    }

    /// log2 of the superblock block size.
    pub(crate) fn blocksize_bits(&self) -> u8 {
        // SAFETY: Reading a field of a live superblock.
        unsafe { (*self.0.get()).s_blocksize_bits }
    }

    /// Whether the filesystem is mounted read-only (`sb_rdonly`).
    pub(crate) fn is_read_only(&self) -> bool {
        // SAFETY: Reading a field of a live superblock; a remount changes
        // it under `s_umount`, and a stale answer only costs a GETATTR.
        unsafe {
            core::ptr::read_volatile(&raw const (*self.0.get()).s_flags) & bindings::SB_RDONLY != 0
        }
    }
}

/// A link to a mounted superblock from an object that may outlive the
/// mount (e.g. a connection, which lives as long as its server keeps the
/// device open): usable from `fill_super` until `kill_sb` cuts it.
///
/// # Invariants
///
/// `sb` is null or a live superblock with its `s_bdi` set up. Only `vfs`
/// sets it (in `fill_super`, after the bdi is set up), and `kill_sb` sets
/// it to null (under the lock) before it tears the superblock down.
#[pin_data]
pub(crate) struct SbLink {
    #[pin]
    sb: SpinLock<RawSb>,
    /// Held while a [`TypedLink::with_sb`] uses the superblock: `cut` takes
    /// it, so `kill_sb` waits for such users (mainline's `killsb`).
    #[pin]
    users: Mutex<()>,
}

struct RawSb(*mut bindings::super_block);

// SAFETY: Only dereferenced under the link's lock while non-null, which
// means the superblock is alive (type invariant of `SbLink`).
unsafe impl Send for RawSb {}

impl SbLink {
    /// A link to nothing yet.
    pub(super) fn new() -> Result<Arc<SbLink>> {
        Arc::pin_init(
            pin_init!(SbLink {
                sb <- kernel::new_spinlock!(RawSb(core::ptr::null_mut()), "fuse_wb::SbLink"),
                users <- kernel::new_mutex!((), "fuse_wb::SbLink::users"),
            }),
            GFP_KERNEL,
        )
    }

    /// Links `sb` (its bdi set up); [`SbLink::cut`] runs before it dies.
    pub(super) fn set<T: FileSystem>(&self, sb: &SuperBlock<T>) {
        self.sb.lock().0 = sb.as_ptr();
    }

    /// Cuts the link (at `kill_sb`, before teardown), after the users of
    /// the superblock that hold it are done.
    pub(super) fn cut(&self) {
        let _users = self.users.lock();
        self.sb.lock().0 = core::ptr::null_mut();
    }

    /// Lowers the mount's readahead to at most `pages` (the server's INIT).
    pub(crate) fn limit_readahead(&self, pages: usize) {
        let g = self.sb.lock();
        let sb = g.0;
        if !sb.is_null() {
            // SAFETY: Non-null under the lock: a live superblock whose
            // `s_bdi` is set up (type invariant).
            unsafe {
                let ra = &mut (*(*sb).s_bdi).ra_pages;
                *ra = (*ra).min(pages);
            }
        }
    }

    /// Sets the granularity of the mount's times, in ns (the server's INIT:
    /// `current_time` then rounds to it, as mainline).
    pub(crate) fn set_time_gran(&self, ns: u32) {
        let g = self.sb.lock();
        let sb = g.0;
        if !sb.is_null() {
            // SAFETY: Non-null under the lock: a live superblock.
            unsafe { (*sb).s_time_gran = ns };
        }
    }

    /// Dirty page-cache pages of the mount (its bdi's count); 0 after
    /// `kill_sb`.
    pub(crate) fn dirty_pages(&self) -> u64 {
        let g = self.sb.lock();
        if g.0.is_null() {
            return 0;
        }
        // SAFETY: Non-null under the lock: a live superblock whose `s_bdi`
        // is set up.
        let n = unsafe { bindings::fusewb_wb_stat_sum((*g.0).s_bdi, bindings::WB_RECLAIMABLE) };
        u64::try_from(n).unwrap_or(0)
    }
}

/// The [`SbLink`] of a superblock of `T`: usable from an object that may
/// outlive the mount (e.g. the handler of the server's notifications) to
/// work on the superblock while it lives.
///
/// # Invariants
///
/// `link` is the link of a superblock of `T` (made by
/// [`SuperBlock::typed_link`]): set only to that superblock, or cut.
pub(crate) struct TypedLink<T> {
    link: Arc<SbLink>,
    _p: PhantomData<fn() -> T>,
}

impl<T: FileSystem> SuperBlock<T> {
    /// The mount's link, typed.
    pub(crate) fn typed_link(&self) -> TypedLink<T> {
        // INVARIANT: this superblock's own link.
        TypedLink {
            link: self.link(),
            _p: PhantomData,
        }
    }
}

impl<T: FileSystem> TypedLink<T> {
    /// Runs `f` on the superblock if it is still mounted (`None` if the
    /// link was cut); `kill_sb` waits for `f` to return. `f` may sleep, but
    /// must not wait for an unmount of this superblock.
    pub(crate) fn with_sb<R>(&self, f: impl FnOnce(&SuperBlock<T>) -> R) -> Option<R> {
        let _users = self.link.users.lock();
        let sb = self.link.sb.lock().0;
        if sb.is_null() {
            return None;
        }
        // SAFETY: Non-null: a live superblock of `T` (type invariants of
        // `SbLink` and `TypedLink`); `cut` (before teardown) waits for
        // `_users`, held until `f` returns.
        Some(f(unsafe { SuperBlock::<T>::from_raw(sb) }))
    }
}

/// What statfs(2) reports (`f_type` is the filesystem's `MAGIC`).
#[derive(Clone, Copy, Default)]
pub(crate) struct StatFs {
    /// Block size for transfers.
    pub(crate) bsize: u32,
    /// Fragment size (the unit of the block counts).
    pub(crate) frsize: u32,
    /// Blocks in all.
    pub(crate) blocks: u64,
    /// Free blocks.
    pub(crate) bfree: u64,
    /// Free blocks for unprivileged users.
    pub(crate) bavail: u64,
    /// Inodes in all.
    pub(crate) files: u64,
    /// Free inodes.
    pub(crate) ffree: u64,
    /// Longest name.
    pub(crate) namelen: u32,
}

/// The superblock operations of a filesystem: its side of the contract;
/// [`SopsVTable`] builds the C table from it.
#[vtable]
pub(crate) trait SuperOperations: FileSystem {
    /// The `statfs` type of the filesystem (`f_type`, `s_magic`).
    const MAGIC: u32;

    /// Whether `inode`, whose last reference just went, is dropped now
    /// (else it stays cached). Called under `i_lock`: must not sleep.
    fn may_drop(inode: &Inode<Self>) -> bool;

    /// `inode` leaves the cache (its pages are gone, it is cleared).
    fn evict(inode: &Inode<Self>);

    /// Writes `inode`'s metadata (`sync`: data integrity); in a
    /// memalloc_nofs scope.
    fn write_inode(inode: &Inode<Self>, sync: bool) -> Result;

    /// syncfs(2) and friends, after the data was written: waits for what
    /// is still in flight.
    fn sync_fs(sb: &SuperBlock<Self>) -> Result;

    /// statfs(2) of the filesystem `dentry` is on (`f_type` is `MAGIC`).
    fn statfs(dentry: &Dentry<Self>) -> Result<StatFs>;

    /// `umount -f`.
    fn umount_begin(sb: &SuperBlock<Self>);

    /// The mount's options for `/proc/mounts`, each written as `,name[=value]`.
    fn show_options(sb: &SuperBlock<Self>, out: &mut SeqFile);
}

/// A `seq_file` being filled, e.g. the options of one line of
/// `/proc/mounts`; text goes in through [`core::fmt::Write`].
///
/// # Invariants
///
/// `ptr` is a `seq_file` the VFS lets us write to for the whole lifetime of
/// the value (it only exists inside a `seq_file` show callback).
pub(crate) struct SeqFile {
    ptr: *mut bindings::seq_file,
}

impl core::fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: `ptr` is writable by the type invariant; `s` is valid for
        // `s.len()` bytes. On overflow seq_file marks itself full and calls
        // the show callback again with a larger buffer, so the result is
        // not an error here (as mainline's seq_printf callers ignore it).
        unsafe { bindings::seq_write(self.ptr, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// The C table of `T`'s superblock operations.
pub(crate) struct SopsVTable<T>(core::marker::PhantomData<T>);

impl<T: SuperOperations> SopsVTable<T> {
    const TABLE: bindings::super_operations = bindings::super_operations {
        alloc_inode: Some(super::inode::alloc_inode_callback::<T>),
        free_inode: Some(super::inode::free_inode_callback::<T>),
        evict_inode: Some(evict_inode_callback::<T>),
        drop_inode: Some(drop_inode_callback::<T>),
        statfs: Some(statfs_callback::<T>),
        write_inode: Some(write_inode_callback::<T>),
        sync_fs: Some(sync_fs_callback::<T>),
        umount_begin: Some(umount_begin_callback::<T>),
        show_options: Some(show_options_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The table, for `sb->s_op`.
    pub(crate) fn build() -> &'static bindings::super_operations {
        &Self::TABLE
    }
}

/// # Safety
///
/// Called by `iput_final` with the inode's `i_lock` held, for one of our
/// inodes whose last reference just went.
unsafe extern "C" fn drop_inode_callback<T: SuperOperations>(inode: *mut bindings::inode) -> c_int {
    // SAFETY: A valid inode of ours; `may_drop` only reads it (no sleep).
    let i = unsafe { Inode::<T>::from_raw(inode) };
    if T::may_drop(i) {
        // SAFETY: Valid inode, `i_lock` held, as `drop_inode` is called.
        unsafe { bindings::generic_delete_inode(inode) }
    } else {
        0
    }
}

/// # Safety
///
/// Called by the VFS when the last reference to one of our inodes is gone.
unsafe extern "C" fn evict_inode_callback<T: SuperOperations>(inode: *mut bindings::inode) {
    // SAFETY: The inode and its mapping are valid until `clear_inode`.
    unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        bindings::clear_inode(inode);
    }
    // SAFETY: The inode memory stays valid until `free_inode`.
    T::evict(unsafe { Inode::<T>::from_raw(inode) });
}

/// # Safety
///
/// Called by the VFS writeback code with a live inode of ours.
unsafe extern "C" fn write_inode_callback<T: SuperOperations>(
    inode: *mut bindings::inode,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (inode, sync) = unsafe {
        (
            Inode::<T>::from_raw(inode),
            (*wbc).sync_mode == bindings::WB_SYNC_ALL as _,
        )
    };
    let _nofs = super::NoFsScope::new();
    from_result(|| {
        T::write_inode(inode, sync)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (sync, syncfs, unmount) with a live superblock of ours.
unsafe extern "C" fn sync_fs_callback<T: SuperOperations>(
    sb: *mut bindings::super_block,
    wait: c_int,
) -> c_int {
    if wait == 0 {
        return 0;
    }
    // SAFETY: Valid per the VFS contract.
    let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
    from_result(|| {
        T::sync_fs(sb)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a dentry of ours and a statfs buffer.
unsafe extern "C" fn statfs_callback<T: SuperOperations>(
    dentry: *mut bindings::dentry,
    buf: *mut kernel::bindings::kstatfs,
) -> c_int {
    let buf = buf.cast::<bindings::kstatfs>();
    // SAFETY: Valid per the VFS contract.
    let d = unsafe { Dentry::<T>::from_raw(dentry) };
    from_result(|| {
        let s = T::statfs(d)?;
        // SAFETY: `buf` is valid for writes.
        let b = unsafe { &mut *buf };
        b.f_type = T::MAGIC as _;
        b.f_bsize = s.bsize as _;
        b.f_frsize = s.frsize as _;
        b.f_blocks = s.blocks;
        b.f_bfree = s.bfree;
        b.f_bavail = s.bavail;
        b.f_files = s.files;
        b.f_ffree = s.ffree;
        b.f_namelen = s.namelen as _;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS for `umount -f` on a live superblock of ours.
unsafe extern "C" fn umount_begin_callback<T: SuperOperations>(sb: *mut bindings::super_block) {
    // SAFETY: Valid, mounted superblock.
    T::umount_begin(unsafe { SuperBlock::<T>::from_raw(sb) });
}

/// # Safety
///
/// Called by the VFS (`show_vfsmnt` and friends) with a `seq_file` being
/// filled and the root dentry of a mount of ours, whose superblock is alive.
unsafe extern "C" fn show_options_callback<T: SuperOperations>(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    // SAFETY: `root` is a valid dentry of ours, so `d_sb` is our live
    // superblock.
    let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
    // INVARIANT: `m` is ours to write to for the duration of the callback.
    let mut out = SeqFile { ptr: m };
    T::show_options(sb, &mut out);
    0
}
