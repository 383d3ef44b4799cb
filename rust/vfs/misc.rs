// SPDX-License-Identifier: GPL-2.0

//! The `/dev/fuse-wb` misc device and its file operations.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use super::iov::IovIter;
use super::StaticCell;
use crate::bindings;
use crate::dev::DevFile;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;

static MISC: StaticCell<bindings::miscdevice> = StaticCell::uninit();

struct Fops(bindings::file_operations);
// SAFETY: The table is immutable and only read by the kernel.
unsafe impl Sync for Fops {}

static DEV_FOPS: Fops = Fops(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
    open: Some(open_callback),
    release: Some(release_callback),
    read_iter: Some(read_iter_callback),
    write_iter: Some(write_iter_callback),
    poll: Some(poll_callback),
    llseek: Some(bindings::noop_llseek),
    // libfuse moves requests and replies through pipes with splice(2): the
    // generic helpers turn that into one read_iter / write_iter call per
    // message.
    splice_read: Some(bindings::copy_splice_read),
    splice_write: Some(bindings::iter_file_splice_write),
    // SAFETY: All-zero is a valid value for the remaining fields (no ops).
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

/// The registered device. Dropping it deregisters `/dev/fuse-wb`.
pub(crate) struct Registration(());

impl Registration {
    /// Registers `/dev/fuse-wb` (dynamic minor, mode 0666 like `/dev/fuse`).
    pub(crate) fn register() -> Result<Self> {
        let m = MISC.get();
        // SAFETY: Module init runs once, before anyone can use the device, so
        // we have exclusive access to the static.
        unsafe {
            m.write(core::mem::zeroed());
            (*m).minor = bindings::MISC_DYNAMIC_MINOR;
            (*m).name = c"fuse-wb".as_ptr().cast();
            (*m).fops = &DEV_FOPS.0;
            (*m).mode = 0o666;
        }
        // SAFETY: `m` is a fully initialised miscdevice living in a static.
        kernel::error::to_result(unsafe { bindings::misc_register(m) })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: The device was registered by `register`.
        unsafe { bindings::misc_deregister(MISC.get()) }
    }
}

/// Returns the device state of `file` if it is an open `/dev/fuse-wb`.
///
/// # Safety
///
/// `file` must be a valid file, kept alive by the caller for `'a`.
pub(crate) unsafe fn dev_file<'a>(
    file: *mut bindings::file,
) -> Option<kernel::sync::ArcBorrow<'a, DevFile>> {
    // SAFETY: `file` is valid (caller).
    let (fop, data) = unsafe { ((*file).f_op, (*file).private_data) };
    if !core::ptr::eq(fop, &DEV_FOPS.0) || data.is_null() {
        return None;
    }
    // SAFETY: Files with our fops carry an `Arc<DevFile>` from `open_callback`
    // until `release_callback`, which cannot run while the caller holds the file.
    Some(unsafe { <Arc<DevFile> as ForeignOwnable>::borrow(data) })
}

/// # Safety
///
/// Called by the VFS (via `misc_open`) with a valid inode and a new file.
unsafe extern "C" fn open_callback(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    match crate::dev::open() {
        Ok(d) => {
            // SAFETY: `file` is valid; `misc_open` stored the miscdevice in
            // `private_data`, which we replace with our state.
            unsafe {
                (*file).private_data = d.into_foreign() as *mut c_void;
                // The device is a stream: no file position.
                bindings::stream_open((*file).f_inode, file);
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS on the last close of a file opened by `open_callback`.
unsafe extern "C" fn release_callback(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds the `Arc<DevFile>` set by `open_callback`,
    // and this is the last use of the file.
    let d = unsafe { <Arc<DevFile> as ForeignOwnable>::from_foreign((*file).private_data) };
    crate::dev::release(d);
    0
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open device file and an iov_iter.
unsafe extern "C" fn read_iter_callback(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid and its file is open (VFS).
    let file = unsafe { (*iocb).ki_filp };
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file(file) }) else {
        return EINVAL.to_errno() as isize;
    };
    // SAFETY: The iov_iter is valid and ours for this call.
    let mut iov = unsafe { IovIter::from_raw(to) };
    // SAFETY: `file` is valid.
    let nonblock = unsafe { (*file).f_flags } & bindings::O_NONBLOCK != 0
        // SAFETY: `iocb` is valid.
        || unsafe { (*iocb).ki_flags } & bindings::IOCB_NOWAIT != 0;
    match crate::dev::read(&d, &mut iov, nonblock) {
        // CAST: A message is at most u32::MAX bytes.
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open device file and an iov_iter.
unsafe extern "C" fn write_iter_callback(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid and its file is open (VFS).
    let file = unsafe { (*iocb).ki_filp };
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file(file) }) else {
        return EINVAL.to_errno() as isize;
    };
    // SAFETY: The iov_iter is valid and ours for this call.
    let mut iov = unsafe { IovIter::from_raw(from) };
    match crate::dev::write(&d, &mut iov) {
        // CAST: Bounded by the iov_iter's size, which fits isize.
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS with a valid open device file and poll table.
unsafe extern "C" fn poll_callback(
    file: *mut bindings::file,
    pt: *mut kernel::bindings::poll_table_struct,
) -> c_uint {
    let pt = pt.cast::<bindings::poll_table_struct>();
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file(file) }) else {
        return bindings::EPOLLERR;
    };
    let Some(conn) = d.connection() else {
        // Not mounted yet: writable, nothing to read (as mainline).
        return bindings::EPOLLOUT | bindings::EPOLLWRNORM;
    };
    // SAFETY: `file` and `pt` are valid (VFS); the wait queue lives in the
    // connection, which outlives the file's reference to it.
    unsafe { bindings::fusewb_poll_wait(file, conn.readers().as_raw(), pt) };
    let (ready, aborted) = conn.poll_state();
    let mut mask = bindings::EPOLLOUT | bindings::EPOLLWRNORM;
    if aborted {
        return mask | bindings::EPOLLERR;
    }
    if ready {
        mask |= bindings::EPOLLIN | bindings::EPOLLRDNORM;
    }
    mask
}
