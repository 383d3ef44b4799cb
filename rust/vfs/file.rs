// SPDX-License-Identifier: GPL-2.0

//! Open files of regular files and directories, and their operations.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::fs_type::FileSystem;
use super::inode::Inode;
use super::iov::IovIter;
use super::lock::{flock_callback, lock_callback, FileLock, LockCmd, LockDone};
use super::misc::PollTable;
use super::mm::VmOperations;
use crate::vfs::bindings;
use core::marker::PhantomData;
use kernel::error::from_result;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::types::{ForeignOwnable, Opaque};

/// Flags of open(2), lseek(2) and fallocate(2), as the callbacks pass them.
pub(crate) mod flags {
    pub(crate) use crate::vfs::bindings::{
        FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, O_CREAT, O_EXCL, O_NOCTTY,
        O_TRUNC, SEEK_DATA, SEEK_END, SEEK_HOLE,
    };
}

/// An open file of an inode of the filesystem `T`.
///
/// # Invariants
///
/// Valid while borrowed from the VFS. Between `open_callback` and
/// `release_callback`, `private_data` holds a `KBox<T::FileData>` (or NULL
/// if the open failed before that).
#[repr(transparent)]
pub(crate) struct File<T>(Opaque<bindings::file>, PhantomData<T>);

impl<T: FileSystem> File<T> {
    /// Borrows a raw file.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid file of an inode of `T`, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a Self {
        // SAFETY: Transparent wrapper; validity per the caller.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// The open flags (`O_*`).
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: Reading a field of a live file.
        unsafe { (*self.0.get()).f_flags }
    }

    /// The inode.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: An open file of ours holds a reference on its inode.
        unsafe { Inode::<T>::from_raw((*self.0.get()).f_inode) }
    }

    /// The dentry the file was opened through.
    pub(crate) fn dentry(&self) -> &super::dentry::Dentry<T> {
        // SAFETY: An open file holds a reference on its path's dentry.
        unsafe { super::dentry::Dentry::<T>::from_raw((*self.0.get()).f_path.dentry) }
    }

    /// Whether the file was opened for writing (from the open flags, so it
    /// is right before the open completes, too).
    pub(crate) fn is_writable(&self) -> bool {
        self.flags() & bindings::O_ACCMODE != bindings::O_RDONLY
    }

    /// Marks a file being opened by `atomic_open` as created by this open
    /// (FMODE_CREATED: O_EXCL is satisfied, and fsnotify reports it).
    pub(crate) fn mark_created(&self) {
        // SAFETY: The file is being opened by us: nobody else writes its
        // mode yet.
        unsafe { (*self.0.get()).f_mode |= bindings::FMODE_CREATED };
    }

    /// Clears suid/sgid and capabilities before a write (may SETATTR).
    pub(crate) fn remove_privs(&self) -> Result {
        // SAFETY: Live file; callers hold the inode lock.
        kernel::error::to_result(unsafe { bindings::file_remove_privs(self.0.get()) })
    }

    /// Updates c/mtime for a write (write-back mode: the kernel owns them).
    pub(crate) fn update_time(&self) -> Result {
        // SAFETY: Live file; callers hold the inode lock.
        kernel::error::to_result(unsafe { bindings::file_update_time(self.0.get()) })
    }

    /// Writes back and waits for `start..=end`, reporting errors this file
    /// has not seen (errseq).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: Live file.
        kernel::error::to_result(unsafe {
            bindings::file_write_and_wait_range(self.0.get(), start, end)
        })
    }

    /// Reports a write error this file has not seen yet (errseq).
    pub(crate) fn check_and_advance_wb_err(&self) -> Result {
        // SAFETY: Live file.
        kernel::error::to_result(unsafe { bindings::file_check_and_advance_wb_err(self.0.get()) })
    }

    /// `generic_file_llseek`: moves the position as the VFS does for a
    /// file of known size.
    pub(crate) fn generic_llseek(&self, offset: i64, whence: u32) -> Result<i64> {
        // CAST: whence values are small.
        // SAFETY: Live file.
        let r = unsafe { bindings::generic_file_llseek(self.0.get(), offset, whence as c_int) };
        if r < 0 {
            // CAST: a negative errno.
            return Err(Error::from_errno(r as i32));
        }
        Ok(r)
    }

    /// Sets the file position to `pos` (checked against the maximum file
    /// size), as SEEK_DATA/SEEK_HOLE do.
    pub(crate) fn set_pos(&self, pos: i64) -> Result<i64> {
        // SAFETY: Live file; `vfs_setpos` range-checks `pos`.
        let r = unsafe { bindings::vfs_setpos(self.0.get(), pos, bindings::MAX_LFS_FILESIZE) };
        if r < 0 {
            // CAST: a negative errno.
            return Err(Error::from_errno(r as i32));
        }
        Ok(r)
    }

    /// The filesystem's state of this open file.
    pub(crate) fn data(&self) -> Option<&T::FileData> {
        // SAFETY: Reading the field of a live file.
        let p = unsafe { (*self.0.get()).private_data };
        if p.is_null() {
            return None;
        }
        // SAFETY: Non-NULL `private_data` is our `KBox<T::FileData>` (type
        // invariant), valid until release, which cannot run while borrowed.
        Some(unsafe { <KBox<T::FileData> as ForeignOwnable>::borrow(p) })
    }
}

/// A `kiocb`: the file, position and flags of one read or write.
///
/// # Invariants
///
/// `ptr` is a valid kiocb of an open regular file of ours for `'a`.
pub(crate) struct Kiocb<'a, T> {
    ptr: *mut bindings::kiocb,
    _p: PhantomData<(&'a mut bindings::kiocb, T)>,
}

impl<'a, T: FileSystem> Kiocb<'a, T> {
    /// The file.
    pub(crate) fn file(&self) -> &'a File<T> {
        // SAFETY: Valid kiocb of an open file of ours (type invariant).
        unsafe { File::<T>::from_raw((*self.ptr).ki_filp) }
    }

    /// The file position of the I/O.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: Valid kiocb.
        unsafe { (*self.ptr).ki_pos }
    }

    /// Moves the position (after I/O).
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: Valid kiocb, ours for this call.
        unsafe { (*self.ptr).ki_pos = pos }
    }

    /// O_DIRECT.
    pub(crate) fn is_direct(&self) -> bool {
        // SAFETY: Valid kiocb.
        unsafe { (*self.ptr).ki_flags as u32 & bindings::IOCB_DIRECT != 0 }
    }

    /// A read through the page cache (`generic_file_read_iter`).
    pub(crate) fn read_cached(&mut self, to: &mut IovIter<'_>) -> Result<usize> {
        // SAFETY: Valid kiocb and iov_iter.
        let r = unsafe { bindings::generic_file_read_iter(self.ptr, to.as_ptr()) };
        if r < 0 {
            // CAST: a negative errno.
            return Err(Error::from_errno(r as i32));
        }
        // CAST: non-negative.
        Ok(r as usize)
    }

    /// `generic_write_checks`: limits, O_APPEND (position = local size);
    /// the byte count to write (0: nothing).
    pub(crate) fn write_checks(&mut self, from: &mut IovIter<'_>) -> Result<usize> {
        // SAFETY: Valid kiocb and iov_iter; the caller holds the inode lock.
        let r = unsafe { bindings::generic_write_checks(self.ptr, from.as_ptr()) };
        if r < 0 {
            // CAST: a negative errno.
            return Err(Error::from_errno(r as i32));
        }
        // CAST: non-negative.
        Ok(r as usize)
    }

    /// Buffered write through the page cache (`write_begin`/`write_end`).
    pub(crate) fn perform_write(&mut self, from: &mut IovIter<'_>) -> Result<usize> {
        // SAFETY: Valid kiocb and iov_iter; the caller holds the inode lock.
        let r = unsafe { bindings::generic_perform_write(self.ptr, from.as_ptr()) };
        if r < 0 {
            // CAST: a negative errno.
            return Err(Error::from_errno(r as i32));
        }
        // CAST: non-negative.
        Ok(r as usize)
    }

    /// O_SYNC/O_DSYNC: fsync what was just written. Returns the count.
    pub(crate) fn write_sync(&mut self, written: usize) -> Result<usize> {
        // SAFETY: Valid kiocb; called without the inode lock.
        let r = unsafe { bindings::fusewb_generic_write_sync(self.ptr, written as isize) };
        if r < 0 {
            // CAST: a negative errno.
            return Err(Error::from_errno(r as i32));
        }
        // CAST: non-negative.
        Ok(r as usize)
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

/// The operations of a filesystem's open files (regular files and
/// directories): its side of the contract; [`FileVTable`] builds the C
/// tables from it. Open files carry a `KBox<Self::FileData>`.
#[vtable]
pub(crate) trait FileOperations: FileSystem {
    /// open(2) of `inode` as `file`: the file's state.
    fn open(inode: &Inode<Self>, file: &File<Self>) -> Result<KBox<Self::FileData>>;

    /// The last close of a file that `open` made.
    fn release(inode: &Inode<Self>, data: KBox<Self::FileData>);

    /// getdents(2) of an open directory.
    fn readdir(file: &File<Self>, ctx: &mut DirEmitter) -> Result;

    /// read(2) (direct or through the page cache: [`Kiocb::read_cached`]).
    fn read_iter(iocb: &mut Kiocb<'_, Self>, to: &mut IovIter<'_>) -> Result<usize>;

    /// write(2).
    fn write_iter(iocb: &mut Kiocb<'_, Self>, from: &mut IovIter<'_>) -> Result<usize>;

    /// lseek(2): the new position ([`File::generic_llseek`],
    /// [`File::set_pos`]).
    fn llseek(file: &File<Self>, offset: i64, whence: u32) -> Result<i64>;

    /// fsync(2) of `start..=end` (of a file or a directory).
    fn fsync(file: &File<Self>, start: i64, end: i64, datasync: bool) -> Result;

    /// Every close(2) of a file descriptor; `lock_owner` names the closer.
    fn flush(file: &File<Self>, lock_owner: u64) -> Result;

    /// fallocate(2).
    fn fallocate(file: &File<Self>, mode: i32, offset: i64, len: i64) -> Result;

    /// copy_file_range(2) between two files of this filesystem; `None`
    /// lets the VFS copy through the page cache.
    fn copy_file_range(
        fin: &File<Self>,
        off_in: i64,
        fout: &File<Self>,
        off_out: i64,
        len: usize,
    ) -> Result<Option<usize>>;

    /// Whether `file` may be mapped (`shared`: MAP_SHARED).
    fn mmap_check(file: &File<Self>, shared: bool) -> Result;

    /// fcntl(2) and OFD locks: `cmd` on `lock` (for [`LockCmd::Test`],
    /// [`FileLock::set_conflict`] answers).
    fn lock(file: &File<Self>, cmd: LockCmd, lock: &mut FileLock<'_>) -> Result<LockDone>;

    /// flock(2): take (waiting if [`FileLock::sleeps`]) or release `lock`.
    fn flock(file: &File<Self>, lock: &mut FileLock<'_>) -> Result;

    /// ioctl(2) `cmd` with the user's argument `arg` (an address or a
    /// value: [`kernel::uaccess::UserSlice`] reaches its memory).
    fn ioctl(file: &File<Self>, cmd: u32, arg: usize) -> Result<i32>;

    /// poll(2), select(2), epoll: the events ready now; `table` registers
    /// wait queues borrowed from the file's data (kept until release).
    fn poll<'a>(file: &'a File<Self>, table: &mut PollTable<'a>) -> u32;
}

// The ioctl command layout `proto::ioctl` decodes is the kernel's.
const _: () = assert!(bindings::_IOC_SIZESHIFT == crate::proto::ioctl::IOC_SIZESHIFT);
const _: () = assert!(bindings::_IOC_SIZEBITS == crate::proto::ioctl::IOC_SIZEBITS);
const _: () = assert!(bindings::_IOC_DIRSHIFT == crate::proto::ioctl::IOC_DIRSHIFT);
const _: () = assert!(bindings::_IOC_WRITE == crate::proto::ioctl::IOC_WRITE);
const _: () = assert!(bindings::_IOC_READ == crate::proto::ioctl::IOC_READ);

/// The C tables of `T`'s open files: regular files (with `T`'s mapping
/// operations) and directories.
pub(crate) struct FileVTable<T>(core::marker::PhantomData<T>);

impl<T: FileOperations + VmOperations> FileVTable<T> {
    const DIR: bindings::file_operations = bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(open_callback::<T>),
        release: Some(release_callback::<T>),
        iterate_shared: Some(iterate_callback::<T>),
        fsync: Some(fsync_callback::<T>),
        llseek: Some(bindings::generic_file_llseek),
        read: Some(bindings::generic_read_dir),
        unlocked_ioctl: Some(ioctl_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const FILE: bindings::file_operations = bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(open_callback::<T>),
        release: Some(release_callback::<T>),
        read_iter: Some(read_iter_callback::<T>),
        write_iter: Some(write_iter_callback::<T>),
        llseek: Some(llseek_callback::<T>),
        mmap: Some(mmap_callback::<T>),
        fsync: Some(fsync_callback::<T>),
        flush: Some(flush_callback::<T>),
        fallocate: Some(fallocate_callback::<T>),
        copy_file_range: Some(copy_file_range_callback::<T>),
        lock: Some(lock_callback::<T>),
        flock: Some(flock_callback::<T>),
        unlocked_ioctl: Some(ioctl_callback::<T>),
        poll: Some(poll_callback::<T>),
        splice_read: Some(bindings::filemap_splice_read),
        splice_write: Some(bindings::iter_file_splice_write),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    /// The table of open directories.
    pub(crate) fn dir() -> &'static bindings::file_operations {
        &Self::DIR
    }

    /// The table of open regular files.
    pub(crate) fn file() -> &'static bindings::file_operations {
        &Self::FILE
    }
}

/// # Safety
///
/// Called by the VFS with an inode of ours and the new file being opened.
unsafe extern "C" fn open_callback<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let (inode, f) = unsafe { (Inode::<T>::from_raw(inode), File::<T>::from_raw(file)) };
    from_result(|| {
        let ff = T::open(inode, f)?;
        // INVARIANT: `private_data` now holds our `KBox<T::FileData>`.
        // SAFETY: The file is being opened; we own `private_data`.
        unsafe { (*file).private_data = ff.into_foreign() as *mut c_void };
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS once, on the last close of a file from `open_callback`.
unsafe extern "C" fn release_callback<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Last use of the file; `private_data` is ours (type invariant).
    let p = unsafe { core::mem::replace(&mut (*file).private_data, core::ptr::null_mut()) };
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` is the `KBox<T::FileData>` stored by `open_callback`.
    let ff = unsafe { <KBox<T::FileData> as ForeignOwnable>::from_foreign(p) };
    // SAFETY: Valid inode per the VFS contract.
    T::release(unsafe { Inode::<T>::from_raw(inode) }, ff);
    0
}

/// # Safety
///
/// Called by the VFS with an open directory of ours and a valid context.
unsafe extern "C" fn iterate_callback<T: FileOperations>(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // INVARIANT: `ctx` is valid for this call.
    let mut emitter = DirEmitter { ctx };
    from_result(|| {
        T::readdir(f, &mut emitter)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open regular file of ours.
unsafe extern "C" fn read_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: The iov_iter is valid and ours for this call.
    let mut it = unsafe { IovIter::from_raw(to) };
    // INVARIANT: a valid kiocb of ours for this call.
    let mut k = Kiocb::<T> {
        ptr: iocb,
        _p: PhantomData,
    };
    from_result(|| {
        let n = T::read_iter(&mut k, &mut it)?;
        // CAST: at most the request size.
        Ok(n as isize)
    })
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours.
unsafe extern "C" fn llseek_callback<T: FileOperations>(
    file: *mut bindings::file,
    offset: i64,
    whence: c_int,
) -> i64 {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // CAST: whence values are small.
    from_result(|| T::llseek(f, offset, whence as u32))
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open regular file of ours.
unsafe extern "C" fn write_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> isize {
    // INVARIANT: a valid kiocb of ours for this call.
    let mut k = Kiocb::<T> {
        ptr: iocb,
        _p: PhantomData,
    };
    // SAFETY: The iov_iter is valid and ours for this call.
    let mut it = unsafe { IovIter::from_raw(from) };
    from_result(|| {
        let n = T::write_iter(&mut k, &mut it)?;
        // CAST: at most the request size.
        Ok(n as isize)
    })
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours.
unsafe extern "C" fn fsync_callback<T: FileOperations>(
    file: *mut bindings::file,
    start: i64,
    end: i64,
    datasync: c_int,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    from_result(|| {
        T::fsync(f, start, end, datasync != 0)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with an open regular file or directory of ours.
unsafe extern "C" fn ioctl_callback<T: FileOperations>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: kernel::ffi::c_ulong,
) -> kernel::ffi::c_long {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // CAST: an `int` result widens to `long`.
    match T::ioctl(f, cmd, arg) {
        Ok(r) => r as kernel::ffi::c_long,
        Err(e) => e.to_errno() as kernel::ffi::c_long,
    }
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours and a poll table.
unsafe extern "C" fn poll_callback<T: FileOperations>(
    file: *mut bindings::file,
    pt: *mut kernel::bindings::poll_table_struct,
) -> c_uint {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // SAFETY: `file` and `pt` are valid for this call; the table's borrows
    // are of `f`, whose data lives until release.
    let mut table = unsafe { PollTable::new(file, pt.cast()) };
    T::poll(f, &mut table)
}

/// # Safety
///
/// Called by the VFS on every close of an open regular file of ours.
unsafe extern "C" fn flush_callback<T: FileOperations>(
    file: *mut bindings::file,
    id: bindings::fl_owner_t,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // CAST: the lock owner is an opaque pointer-sized id on the wire.
    from_result(|| {
        T::flush(f, id as usize as u64)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours.
unsafe extern "C" fn fallocate_callback<T: FileOperations>(
    file: *mut bindings::file,
    mode: c_int,
    offset: i64,
    len: i64,
) -> kernel::ffi::c_long {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    from_result(|| {
        T::fallocate(f, mode, offset, len)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS with two open files; `fout` is ours, `fin` may not be.
unsafe extern "C" fn copy_file_range_callback<T: FileOperations>(
    fin: *mut bindings::file,
    off_in: i64,
    fout: *mut bindings::file,
    off_out: i64,
    len: usize,
    flags: kernel::ffi::c_uint,
) -> isize {
    // SAFETY: Valid files per the VFS contract.
    let ours = unsafe { (*fin).f_op == (*fout).f_op };
    let r = if ours && flags == 0 {
        // SAFETY: Both files are open regular files of ours.
        let (a, b) = unsafe { (File::<T>::from_raw(fin), File::<T>::from_raw(fout)) };
        T::copy_file_range(a, off_in, b, off_out, len)
    } else {
        Ok(None)
    };
    match r {
        // CAST: at most `len`.
        Ok(Some(n)) => n as isize,
        // SAFETY: Valid arguments as received.
        Ok(None) => unsafe {
            bindings::fusewb_splice_copy_file_range(fin, off_in, fout, off_out, len) as isize
        },
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS with an open regular file of ours and a new vma.
unsafe extern "C" fn mmap_callback<T: FileOperations + VmOperations>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: Valid per the VFS contract.
    let f = unsafe { File::<T>::from_raw(file) };
    // SAFETY: Valid vma being set up.
    let flags = unsafe { (*vma).__bindgen_anon_2.vm_flags };
    // VM_MAYSHARE: any MAP_SHARED map, also of a read-only file (which
    // has no VM_SHARED), as mainline tests.
    if let Err(e) = T::mmap_check(f, flags & bindings::VM_MAYSHARE as usize != 0) {
        return e.to_errno();
    }
    // SAFETY: Valid arguments as received.
    let r = unsafe { bindings::generic_file_mmap(file, vma) };
    if r == 0 {
        // SAFETY: The vma is ours to set up.
        unsafe { (*vma).vm_ops = super::mm::VmVTable::<T>::build() };
    }
    r
}
