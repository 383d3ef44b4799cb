// SPDX-License-Identifier: GPL-2.0

//! File locks: the `struct file_lock` that `file_operations.lock` (fcntl
//! and OFD locks) and `.flock` (flock(2)) get, and the kernel's own (local)
//! lock functions for a filesystem that keeps locks in the kernel.
//!
//! C header: [`include/linux/filelock.h`](srctree/include/linux/filelock.h)

use super::bindings;
use super::file::File;
use super::fs_type::FileSystem;
use crate::proto::lock as wire;
use core::marker::PhantomData;
use kernel::prelude::*;

// The wire carries the kernel's lock types (checked here, where both are
// visible).
const _: () = assert!(bindings::F_RDLCK == wire::F_RDLCK);
const _: () = assert!(bindings::F_WRLCK == wire::F_WRLCK);
const _: () = assert!(bindings::F_UNLCK == wire::F_UNLCK);
const _: () = assert!(bindings::OFFSET_MAX as u64 == wire::OFFSET_MAX);

/// What `file_operations.lock` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockCmd {
    /// `F_GETLK` (and `F_OFD_GETLK`): which lock would conflict.
    Test,
    /// `F_SETLK`/`F_SETLKW` (and the OFD ones): take or release a lock;
    /// waits if [`FileLock::sleeps`].
    Set,
    /// `F_CANCELLK`: cancel a pending lock (lock managers only).
    Cancel,
}

/// What a local lock call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockDone {
    /// Taken, released or tested.
    Done,
    /// Blocked: the VFS waits for the conflicting lock and asks again
    /// (`FILE_LOCK_DEFERRED`).
    Deferred,
}

/// A lock request as the lock callbacks get it.
///
/// # Invariants
///
/// `ptr` is the valid `file_lock` of an ongoing `lock` or `flock` call,
/// ours to read and (for `F_GETLK`) to fill in for the call's duration `'a`.
pub(crate) struct FileLock<'a> {
    ptr: *mut bindings::file_lock,
    _p: PhantomData<&'a mut bindings::file_lock>,
}

impl FileLock<'_> {
    fn c(&self) -> &bindings::file_lock {
        // SAFETY: Valid and ours for the call (type invariant).
        unsafe { &*self.ptr }
    }

    /// The lock as the wire describes it (`pid` 0: the caller sets it).
    pub(crate) fn wire(&self) -> wire::Lock {
        let c = self.c();
        wire::Lock {
            typ: u32::from(c.c.flc_type),
            // CAST: the VFS gives 0 <= start <= end <= OFFSET_MAX.
            start: c.fl_start.max(0) as u64,
            end: c.fl_end.max(0) as u64,
            pid: 0,
        }
    }

    /// Whether this is an unlock.
    pub(crate) fn is_unlock(&self) -> bool {
        u32::from(self.c().c.flc_type) == wire::F_UNLCK
    }

    /// The owner: the lock's process (`files_struct`), or its open file for
    /// flock and OFD locks; an opaque id, only for
    /// [`crate::proto::lock::owner_id`].
    pub(crate) fn owner(&self) -> u64 {
        // CAST: an address, used as an id.
        self.c().c.flc_owner as usize as u64
    }

    /// Whether the caller waits for a conflicting lock (`F_SETLKW`, flock
    /// without `LOCK_NB`).
    pub(crate) fn sleeps(&self) -> bool {
        self.c().c.flc_flags & bindings::FL_SLEEP != 0
    }

    /// Whether a lock manager (NFS's lockd) asks, wanting an asynchronous
    /// answer through `lm_grant`.
    pub(crate) fn wants_async_grant(&self) -> bool {
        let ops = self.c().fl_lmops;
        // SAFETY: Non-null `fl_lmops` point to a live static table.
        !ops.is_null() && unsafe { (*ops).lm_grant.is_some() }
    }

    /// F_GETLK's answer: nothing conflicts (`None`), or `lock` (its `pid`
    /// in the initial pid namespace, as the VFS translates it for the
    /// caller).
    pub(crate) fn set_conflict(&mut self, lock: Option<&wire::Lock>, pid: i32) {
        // SAFETY: Ours to fill in for F_GETLK (type invariant).
        let c = unsafe { &mut *self.ptr };
        match lock {
            None => c.c.flc_type = wire::F_UNLCK as u8,
            Some(l) => {
                // CAST: a lock type (0..=2), offsets checked to be at most
                // OFFSET_MAX by `proto::lock::getlk_answer`.
                c.c.flc_type = l.typ as u8;
                c.fl_start = l.start as i64;
                c.fl_end = l.end as i64;
                c.c.flc_pid = pid;
            }
        }
    }

    /// F_GETLK answered from the kernel's own lock table.
    pub(crate) fn test_locally<T: FileSystem>(&mut self, file: &File<T>) {
        // SAFETY: A live open file and a valid lock (type invariant).
        unsafe { bindings::posix_test_lock(file.as_ptr(), self.ptr) }
    }

    /// An fcntl lock taken or released in the kernel's own lock table.
    pub(crate) fn set_locally<T: FileSystem>(&mut self, file: &File<T>) -> Result<LockDone> {
        // SAFETY: A live open file and a valid lock (type invariant); no
        // conflicting lock is returned (NULL).
        let r =
            unsafe { bindings::posix_lock_file(file.as_ptr(), self.ptr, core::ptr::null_mut()) };
        match r {
            0 => Ok(LockDone::Done),
            // CAST: a small positive constant.
            r if r == bindings::FILE_LOCK_DEFERRED as i32 => Ok(LockDone::Deferred),
            r => Err(Error::from_errno(r)),
        }
    }

    /// A flock(2) lock taken (waiting as the request says) or released in
    /// the kernel's own lock table.
    pub(crate) fn flock_locally<T: FileSystem>(&mut self, file: &File<T>) -> Result {
        // SAFETY: A live inode of an open file and a valid lock (type
        // invariant).
        let r = unsafe { bindings::locks_lock_inode_wait(file.inode().as_ptr(), self.ptr) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours and a valid lock.
pub(super) unsafe extern "C" fn lock_callback<T: super::file::FileOperations>(
    file: *mut bindings::file,
    cmd: kernel::ffi::c_int,
    fl: *mut kernel::bindings::file_lock,
) -> kernel::ffi::c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // INVARIANT: the VFS's lock, ours for this call.
    let mut lock = FileLock {
        ptr: fl.cast(),
        _p: PhantomData,
    };
    // CAST: fcntl commands are small positive constants.
    let cmd = match cmd as u32 {
        bindings::F_GETLK => LockCmd::Test,
        bindings::F_CANCELLK => LockCmd::Cancel,
        _ => LockCmd::Set,
    };
    kernel::error::from_result(|| match T::lock(f, cmd, &mut lock)? {
        LockDone::Done => Ok(0),
        // CAST: a small positive constant.
        LockDone::Deferred => Ok(bindings::FILE_LOCK_DEFERRED as i32),
    })
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours and a valid lock.
pub(super) unsafe extern "C" fn flock_callback<T: super::file::FileOperations>(
    file: *mut bindings::file,
    _cmd: kernel::ffi::c_int,
    fl: *mut kernel::bindings::file_lock,
) -> kernel::ffi::c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // INVARIANT: the VFS's lock, ours for this call.
    let mut lock = FileLock {
        ptr: fl.cast(),
        _p: PhantomData,
    };
    kernel::error::from_result(|| {
        T::flock(f, &mut lock)?;
        Ok(0)
    })
}
