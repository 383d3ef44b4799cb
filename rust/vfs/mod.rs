// SPDX-License-Identifier: GPL-2.0

//! The kernel glue: small safe types over the VFS objects a filesystem uses,
//! and one `#[vtable]` trait per C table that the filesystem implements.
//!
//! Every `unsafe` block of the module lives in this layer (and in
//! `proto::pod`). Each wrapper is `#[repr(transparent)]` over the C object
//! and states its invariants; each C callback (`*_callback`) lists in its
//! `# Safety` section what the caller guarantees, converts raw pointers into
//! these types and calls the filesystem's trait implementation. The wrappers
//! of the objects that carry the filesystem's data are generic over its
//! [`fs_type::FileSystem`] (`Inode<T>`, `File<T>`, `Dentry<T>`,
//! `SuperBlock<T>`), so this layer names nothing of the filesystem above it.

pub(crate) mod acl;
mod bindings;
pub(crate) mod cred;
pub(crate) mod dentry;
pub(crate) mod file;
pub(crate) mod folio;
pub(crate) mod fs_type;
pub(crate) mod inode;
pub(crate) mod iov;
pub(crate) mod lock;
pub(crate) mod misc;
pub(crate) mod mm;
pub(crate) mod once;
pub(crate) mod pipe;
pub(crate) mod sb;
pub(crate) mod sysfs;
pub(crate) mod wait;
pub(crate) mod xattr;

use kernel::prelude::*;

/// A C object in a `static`, initialised in place at module load.
///
/// # Invariants
///
/// The contents are only written during module init and exit (single
/// threaded with respect to users of the object) and otherwise only by the
/// kernel through the pointer handed to it.
#[repr(transparent)]
pub(crate) struct StaticCell<T>(kernel::types::Opaque<T>);

// SAFETY: The cell only hands out raw pointers; the C objects stored in it
// (file_system_type, miscdevice, ...) are designed to be shared by the kernel
// across threads, and Rust code only writes them during init/exit.
unsafe impl<T> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    /// A cell holding `v` (placed in writable data: the kernel may write it).
    pub(crate) const fn new(v: T) -> Self {
        Self(kernel::types::Opaque::new(v))
    }

    /// An uninitialised cell (zeroed by the loader, like any `.bss` object).
    pub(crate) const fn uninit() -> Self {
        Self(kernel::types::Opaque::uninit())
    }

    /// The raw pointer to the object.
    pub(crate) const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// Makes an [`Error`] from a positive errno constant of `bindings`.
pub(crate) fn errno(e: u32) -> Error {
    // CAST: errno constants are small positive numbers.
    Error::from_errno(-(e as i32))
}

/// Converts a negative errno from the server (checked by `proto::reply` to be
/// in `-511..=-1`) into an [`Error`].
pub(crate) fn server_errno(e: i32) -> Error {
    Error::from_errno(e)
}

/// `ENOSYS`.
pub(crate) fn enosys() -> Error {
    errno(bindings::ENOSYS)
}

/// `ENOTCONN`.
pub(crate) fn enotconn() -> Error {
    errno(bindings::ENOTCONN)
}

/// `ENAMETOOLONG`.
pub(crate) fn enametoolong() -> Error {
    errno(bindings::ENAMETOOLONG)
}

/// `EOPNOTSUPP`.
pub(crate) fn eopnotsupp() -> Error {
    errno(bindings::EOPNOTSUPP)
}

/// `ENODATA`.
pub(crate) fn enodata() -> Error {
    errno(bindings::ENODATA)
}

/// `ENOLCK`.
pub(crate) fn enolck() -> Error {
    errno(bindings::ENOLCK)
}

/// `ESTALE`.
pub(crate) fn estale() -> Error {
    errno(bindings::ESTALE)
}

/// Random bytes from the kernel's CSPRNG, filling `buf`.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) }
}

/// The current jiffies counter.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: Reading the jiffies counter has no preconditions.
    unsafe { bindings::fusewb_get_jiffies_64() }
}

/// Whether the current task has a fatal signal (SIGKILL) pending.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reading the current task's pending signals has no
    // preconditions.
    unsafe { bindings::fusewb_fatal_signal_pending() }
}

/// Whether the current task is a kernel thread (the flusher, a workqueue
/// worker). Such a task never gets a signal, so a killable wait for the
/// server would never end if the server stalls: kernel threads must not
/// wait for the server at all.
pub(crate) fn current_is_kthread() -> bool {
    // SAFETY: Reading the current task's flags has no preconditions.
    unsafe { bindings::fusewb_current_is_kthread() }
}

/// A scope in which the current task's allocations do not recurse into
/// filesystem reclaim (`memalloc_nofs_save`), as mainline FUSE allocates
/// with GFP_NOFS while it writes pages back: reclaim must never wait for
/// this filesystem (or its server) from inside its own writeback.
///
/// # Invariants
///
/// `flags` came from `memalloc_nofs_save` on the current task, and the
/// scope ends (drop) on that task, in reverse order of nested scopes.
pub(crate) struct NoFsScope {
    flags: kernel::ffi::c_uint,
    // Not `Send`: the scope belongs to the task that opened it.
    _task: core::marker::PhantomData<*mut ()>,
}

impl NoFsScope {
    /// Opens the scope; it ends when the value is dropped.
    pub(crate) fn new() -> Self {
        // SAFETY: Saving the current task's allocation scope has no
        // preconditions.
        let flags = unsafe { bindings::fusewb_memalloc_nofs_save() };
        // INVARIANT: Just saved on the current task.
        Self {
            flags,
            _task: core::marker::PhantomData,
        }
    }
}

impl Drop for NoFsScope {
    fn drop(&mut self) {
        // SAFETY: Per the type invariant, `flags` is what the matching save
        // returned on this task.
        unsafe { bindings::fusewb_memalloc_nofs_restore(self.flags) };
    }
}

/// Timer ticks per second.
pub(crate) const HZ: u64 = bindings::HZ as u64;

/// The `max_pages_limit` module parameter (unclamped).
pub(crate) fn max_pages_limit_param() -> u32 {
    // SAFETY: A module parameter: an aligned u32 the kernel may update
    // concurrently through sysfs; a volatile read sees a whole value.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::fusewb_max_pages_limit)) }
}

/// The `max_inflight_mb` module parameter (unclamped).
pub(crate) fn max_inflight_mb_param() -> u32 {
    // SAFETY: As in `max_pages_limit_param`.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::fusewb_max_inflight_mb)) }
}

/// Pages of RAM.
pub(crate) fn totalram_pages() -> u64 {
    // SAFETY: Reading a counter; no preconditions.
    unsafe { bindings::fusewb_totalram_pages() as u64 }
}

/// The `write_behind` module parameter: non-zero when on.
pub(crate) fn write_behind_param() -> bool {
    // SAFETY: As in `max_pages_limit_param`.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::fusewb_write_behind)) != 0 }
}

/// The `max_dirty_ratio` module parameter (unclamped).
pub(crate) fn max_dirty_ratio_param() -> u32 {
    // SAFETY: As in `max_pages_limit_param`.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::fusewb_max_dirty_ratio)) }
}

/// The page size.
pub(crate) const PAGE_SIZE: usize = kernel::page::PAGE_SIZE;
