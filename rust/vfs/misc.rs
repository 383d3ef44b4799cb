// SPDX-License-Identifier: GPL-2.0

//! A misc device (fuse-wb's `/dev/fuse-wb`) and its file operations.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use super::iov::{IovIter, MsgDst};
use super::pipe::PipePages;
use super::wait::WaitQueue;
use super::StaticCell;
use crate::vfs::bindings;
use core::marker::PhantomData;
use kernel::error::from_result;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

/// What the open files of a misc device do: the driver's side of the
/// contract. [`Registration`] turns it into the C `file_operations`
/// (through a private `MiscVTable<T>`), so the driver needs no `unsafe`.
#[vtable]
pub(crate) trait MiscDevice: Sized + 'static {
    /// The state of one open file, shared with whoever looks it up through
    /// [`dev_file`].
    type Data: Send + Sync;

    /// open(2): the state of the new file.
    fn open() -> Result<Arc<Self::Data>>;

    /// The last close of the file.
    fn release(data: Arc<Self::Data>);

    /// read(2) into a user buffer, or splice(2) into pages for a pipe
    /// (`dst`); `nonblock` for O_NONBLOCK or IOCB_NOWAIT.
    fn read(data: &Self::Data, dst: &mut dyn MsgDst, nonblock: bool) -> Result<usize>;

    /// write(2) from `src`.
    fn write(data: &Self::Data, src: &mut IovIter<'_>) -> Result<usize>;

    /// poll(2): registers the wait queues to wake the poller on `table` and
    /// returns the events ready now (`POLL*` of this module). The queues
    /// are borrowed from `data` (or static): they live until the file's
    /// release.
    fn poll<'a>(data: &'a Self::Data, table: &mut PollTable<'a>) -> u32;
}

/// Readable (EPOLLIN | EPOLLRDNORM).
pub(crate) const POLL_IN: u32 = bindings::EPOLLIN | bindings::EPOLLRDNORM;
/// Writable (EPOLLOUT | EPOLLWRNORM).
pub(crate) const POLL_OUT: u32 = bindings::EPOLLOUT | bindings::EPOLLWRNORM;
/// Error (EPOLLERR).
pub(crate) const POLL_ERR: u32 = bindings::EPOLLERR;
/// What a file that cannot tell reports: readable and writable
/// (`DEFAULT_POLLMASK`).
pub(crate) const POLL_DEFAULT: u32 = POLL_IN | POLL_OUT;

/// The poll table of one poll(2) call on a file whose state (`data`) is
/// borrowed for `'a`.
///
/// # Invariants
///
/// `file` and `pt` are valid for the `poll` callback that made the table.
/// `'a` is the lifetime of a borrow of the file's `T::Data` (or shorter):
/// whatever safe code borrows from it for `'a` lives as long as the data,
/// which the file owns until its release.
pub(crate) struct PollTable<'a> {
    file: *mut bindings::file,
    pt: *mut bindings::poll_table_struct,
    _p: PhantomData<&'a ()>,
}

impl<'a> PollTable<'a> {
    /// The table of a poll call on `file`.
    ///
    /// # Safety
    ///
    /// `file` and `pt` (may be NULL) must be the valid arguments of the
    /// `poll` callback that makes the table, which must not outlive it;
    /// `'a` must be the lifetime of a borrow of state that `file` keeps
    /// until its release.
    pub(super) unsafe fn new(
        file: *mut bindings::file,
        pt: *mut bindings::poll_table_struct,
    ) -> Self {
        // INVARIANT: Per the caller.
        PollTable {
            file,
            pt,
            _p: PhantomData,
        }
    }

    /// Whether the poller will sleep and wants a wakeup (not
    /// `poll_does_not_wait`).
    pub(crate) fn will_wait(&self) -> bool {
        // SAFETY: `pt` is NULL or valid (type invariant).
        !self.pt.is_null() && unsafe { (*self.pt)._qproc.is_some() }
    }

    /// The events the poller asks about (`poll_requested_events`).
    pub(crate) fn requested_events(&self) -> u32 {
        if self.pt.is_null() {
            return u32::MAX;
        }
        // SAFETY: Non-null: valid (type invariant).
        unsafe { (*self.pt)._key }
    }

    /// Wakes the poller when `wq` is woken.
    pub(crate) fn register(&mut self, wq: &'a WaitQueue) {
        // SAFETY: `file` and `pt` are valid (type invariant). The poll
        // entry lives until poll(2)/select(2) return or, for epoll, until
        // the file's last `fput` (eventpoll_release, before `release`).
        // `wq` is borrowed for `'a` from the file's data (or is static),
        // which the file keeps until `release` (type invariant): it
        // outlives the entry.
        unsafe { bindings::fusewb_poll_wait(self.file, wq.as_raw(), self.pt) };
    }
}

/// The misc device's storage: one misc device per module.
static MISC: StaticCell<bindings::miscdevice> = StaticCell::uninit();

/// The C table of `T`'s callbacks.
struct MiscVTable<T: MiscDevice>(PhantomData<T>);

impl<T: MiscDevice> MiscVTable<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(open_callback::<T>),
        release: Some(release_callback::<T>),
        read_iter: Some(read_iter_callback::<T>),
        write_iter: Some(write_iter_callback::<T>),
        poll: Some(poll_callback::<T>),
        llseek: Some(bindings::noop_llseek),
        // libfuse moves requests and replies through pipes with splice(2):
        // a read fills pages for the message it takes; a write is one
        // write_iter call per message (the generic helper).
        splice_read: Some(splice_read_callback::<T>),
        splice_write: Some(bindings::iter_file_splice_write),
        // SAFETY: All-zero is a valid value for the remaining fields (no ops).
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    fn build() -> &'static bindings::file_operations {
        &Self::FOPS
    }
}

/// The registered device. Dropping it deregisters it.
pub(crate) struct Registration<T: MiscDevice>(PhantomData<T>);

impl<T: MiscDevice> Registration<T> {
    /// Registers the device `name` (dynamic minor) with `mode`.
    pub(crate) fn register(name: &'static core::ffi::CStr, mode: u16) -> Result<Self> {
        let m = MISC.get();
        // SAFETY: Module init runs once, before anyone can use the device, so
        // we have exclusive access to the static.
        unsafe {
            m.write(core::mem::zeroed());
            (*m).minor = bindings::MISC_DYNAMIC_MINOR;
            (*m).name = name.as_ptr().cast();
            (*m).fops = MiscVTable::<T>::build();
            (*m).mode = mode;
        }
        // SAFETY: `m` is a fully initialised miscdevice living in a static.
        kernel::error::to_result(unsafe { bindings::misc_register(m) })?;
        Ok(Self(PhantomData))
    }
}

impl<T: MiscDevice> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: The device was registered by `register`.
        unsafe { bindings::misc_deregister(MISC.get()) }
    }
}

/// Returns the state of `file` if it is an open file of the device
/// registered as `T`.
///
/// # Safety
///
/// `file` must be a valid file, kept alive by the caller for `'a`.
pub(crate) unsafe fn dev_file<'a, T: MiscDevice>(
    file: *mut bindings::file,
) -> Option<ArcBorrow<'a, T::Data>> {
    // SAFETY: `file` is valid (caller).
    let (fop, data) = unsafe { ((*file).f_op, (*file).private_data) };
    // misc_open installs the registered table in every file it opens.
    // SAFETY: Reading the pointer of the registered device (set before
    // registration, never changed).
    let ours = unsafe { (*MISC.get()).fops };
    if fop.is_null() || !core::ptr::eq(fop, ours) || data.is_null() {
        return None;
    }
    // SAFETY: Files with our fops carry an `Arc<T::Data>` from
    // `open_callback` until `release_callback`, which cannot run while the
    // caller holds the file.
    Some(unsafe { <Arc<T::Data> as ForeignOwnable>::borrow(data) })
}

/// # Safety
///
/// Called by the VFS (via `misc_open`) with a valid inode and a new file.
unsafe extern "C" fn open_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        let d = T::open()?;
        // SAFETY: `file` is valid; `misc_open` stored the miscdevice in
        // `private_data`, which we replace with our state.
        unsafe {
            (*file).private_data = d.into_foreign() as *mut c_void;
            // The device is a stream: no file position.
            bindings::stream_open((*file).f_inode, file);
        }
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS on the last close of a file opened by `open_callback`.
unsafe extern "C" fn release_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds the `Arc<T::Data>` set by `open_callback`,
    // and this is the last use of the file.
    let d = unsafe { <Arc<T::Data> as ForeignOwnable>::from_foreign((*file).private_data) };
    T::release(d);
    0
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open device file and an iov_iter.
unsafe extern "C" fn read_iter_callback<T: MiscDevice>(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid and its file is open (VFS).
    let file = unsafe { (*iocb).ki_filp };
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file::<T>(file) }) else {
        return EINVAL.to_errno() as isize;
    };
    // SAFETY: The iov_iter is valid and ours for this call.
    let mut iov = unsafe { IovIter::from_raw(to) };
    // SAFETY: `file` is valid.
    let nonblock = unsafe { (*file).f_flags } & bindings::O_NONBLOCK != 0
        // SAFETY: `iocb` is valid.
        || unsafe { (*iocb).ki_flags } & bindings::IOCB_NOWAIT != 0;
    from_result(|| {
        let n = T::read(&d, &mut iov, nonblock)?;
        // CAST: A message is at most u32::MAX bytes.
        Ok(n as isize)
    })
}

/// # Safety
///
/// Called by the VFS (splice(2) from the device) with an open device file
/// and a valid pipe, locked.
unsafe extern "C" fn splice_read_callback<T: MiscDevice>(
    file: *mut bindings::file,
    _ppos: *mut bindings::loff_t,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    _flags: c_uint,
) -> isize {
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file::<T>(file) }) else {
        return EINVAL.to_errno() as isize;
    };
    // SAFETY: `file` is valid.
    let nonblock = unsafe { (*file).f_flags } & bindings::O_NONBLOCK != 0;
    // SAFETY: `pipe` is valid and locked (caller).
    let mut pages = unsafe { PipePages::new(pipe, len) };
    match T::read(&d, &mut pages, nonblock) {
        // SAFETY: The same pipe, still locked.
        Ok(_) => unsafe { pages.into_pipe(pipe) },
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS with a valid kiocb of an open device file and an iov_iter.
unsafe extern "C" fn write_iter_callback<T: MiscDevice>(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid and its file is open (VFS).
    let file = unsafe { (*iocb).ki_filp };
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file::<T>(file) }) else {
        return EINVAL.to_errno() as isize;
    };
    // SAFETY: The iov_iter is valid and ours for this call.
    let mut iov = unsafe { IovIter::from_raw(from) };
    from_result(|| {
        let n = T::write(&d, &mut iov)?;
        // CAST: Bounded by the iov_iter's size, which fits isize.
        Ok(n as isize)
    })
}

/// # Safety
///
/// Called by the VFS with a valid open device file and poll table.
unsafe extern "C" fn poll_callback<T: MiscDevice>(
    file: *mut bindings::file,
    pt: *mut kernel::bindings::poll_table_struct,
) -> c_uint {
    // SAFETY: `file` is our device file for the duration of the call.
    let Some(d) = (unsafe { dev_file::<T>(file) }) else {
        return POLL_ERR;
    };
    // SAFETY: `file` and `pt` are valid for this call (VFS); `d` borrows
    // the device file's state, kept until its release.
    let mut table = unsafe { PollTable::new(file, pt.cast::<bindings::poll_table_struct>()) };
    T::poll(&d, &mut table)
}
