// SPDX-License-Identifier: GPL-2.0

//! The per-connection control directory `/sys/fs/NAME/connections/<dev>/`
//! (for fuse-wb the counterpart of mainline's `/sys/fs/fuse/connections/<dev>/`):
//! `abort` (write anything to abort the connection), `waiting` (requests
//! waiting for the server) and `stats`. What the files show and do is the
//! filesystem's ([`ControlFiles`]); this module only runs the kobject.
//!
//! C header: [`include/linux/kobject.h`](srctree/include/linux/kobject.h)

use super::StaticCell;
use crate::vfs::bindings;
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::{c_char, c_uint};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::Opaque;

/// `/sys/fs/NAME/connections`, created at module load.
static CONNECTIONS: AtomicPtr<bindings::kobject> = AtomicPtr::new(core::ptr::null_mut());

/// The `/sys/fs/NAME/connections` directory (and its parent `NAME`).
pub(crate) struct Root {
    top: *mut bindings::kobject,
}

// SAFETY: Kobject pointers may be released from any thread.
unsafe impl Send for Root {}
// SAFETY: No shared mutation through `&Root`.
unsafe impl Sync for Root {}

impl Root {
    /// Creates `/sys/fs/<name>/connections`.
    pub(crate) fn new(name: &'static core::ffi::CStr) -> Result<Self> {
        // SAFETY: `fs_kobj` is the live `/sys/fs` kobject; names are static.
        let top =
            unsafe { bindings::kobject_create_and_add(name.as_ptr().cast(), bindings::fs_kobj) };
        if top.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `top` is a live kobject we own.
        let conns =
            unsafe { bindings::kobject_create_and_add(c"connections".as_ptr().cast(), top) };
        if conns.is_null() {
            // SAFETY: Drops the reference `kobject_create_and_add` gave us.
            unsafe { bindings::kobject_put(top) };
            return Err(ENOMEM);
        }
        CONNECTIONS.store(conns, Ordering::Release);
        Ok(Self { top })
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let conns = CONNECTIONS.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: Both were created by `new`; no connection directory remains
        // (every superblock is gone before the module unloads).
        unsafe {
            bindings::kobject_put(conns);
            bindings::kobject_put(self.top);
        }
    }
}

/// What the files of a connection's control directory show and do.
pub(crate) trait ControlFiles: Send + Sync {
    /// `waiting`: requests waiting for the server.
    fn waiting(&self) -> u32;

    /// `abort`: any write aborts the connection.
    fn abort(&self);

    /// `stats`: writes `key value` lines into `out` (one page) and returns
    /// their length.
    fn stats(&self, out: &mut [u8]) -> usize;
}

/// A connection's directory: a kobject that keeps the connection alive
/// while its files can be used.
///
/// # Invariants
///
/// `kobj` is initialised and added by [`ConnDir::add`]; the allocation is
/// freed by the ktype's release callback when the last kobject reference goes.
#[repr(C)]
struct ConnKobj {
    kobj: Opaque<bindings::kobject>,
    files: Arc<dyn ControlFiles>,
}

/// Handle to a connection's sysfs directory; dropping it removes it.
pub(crate) struct ConnDir {
    kobj: *mut bindings::kobject,
}

// SAFETY: The kobject may be released from any thread.
unsafe impl Send for ConnDir {}
// SAFETY: No shared mutation through `&ConnDir`.
unsafe impl Sync for ConnDir {}

impl ConnDir {
    /// Adds `connections/<dev>`, whose files `files` serves.
    pub(crate) fn add(files: Arc<dyn ControlFiles>, dev: u32) -> Result<Self> {
        let parent = CONNECTIONS.load(Ordering::Acquire);
        let b = KBox::new(
            ConnKobj {
                kobj: Opaque::uninit(),
                files,
            },
            GFP_KERNEL,
        )?;
        let p = KBox::into_raw(b);
        // SAFETY: `p` is a fresh allocation; the kobject is zeroed before init
        // as `kobject_init` requires.
        let kobj = unsafe { Opaque::raw_get(addr_of_mut!((*p).kobj)) };
        // SAFETY: See above.
        unsafe { core::ptr::write_bytes(kobj, 0, 1) };
        // SAFETY: Valid kobject, static ktype, live parent; the format takes
        // one unsigned int.
        let r = unsafe {
            bindings::kobject_init_and_add(
                kobj,
                KTYPE.get(),
                parent,
                c"%u".as_ptr().cast(),
                dev as c_uint,
            )
        };
        if r != 0 {
            // SAFETY: After a failed init_and_add the kobject must be put,
            // which runs `release` and frees `p`.
            unsafe { bindings::kobject_put(kobj) };
            return Err(Error::from_errno(r));
        }
        Ok(Self { kobj })
    }
}

impl Drop for ConnDir {
    fn drop(&mut self) {
        // SAFETY: We own the initial reference. Removal waits for running
        // show/store calls (kernfs drains them); `release` then frees the box.
        unsafe {
            bindings::kobject_del(self.kobj);
            bindings::kobject_put(self.kobj);
        }
    }
}

/// The ktype's release: frees the `ConnKobj` (and its connection reference).
///
/// # Safety
///
/// Called by the kobject core once the last reference to one of our
/// kobjects is gone.
unsafe extern "C" fn release_callback(kobj: *mut bindings::kobject) {
    // SAFETY: Our kobjects are embedded in a `ConnKobj` from `KBox::into_raw`,
    // and this is the last reference.
    let p = unsafe { kernel::container_of!(kobj, ConnKobj, kobj) }.cast_mut();
    // SAFETY: See above.
    drop(unsafe { KBox::from_raw(p) });
}

/// The files of one of our kobjects.
///
/// # Safety
///
/// `kobj` must be the kobject of a live `ConnKobj` (true inside show/store).
unsafe fn files_of<'a>(kobj: *mut bindings::kobject) -> &'a dyn ControlFiles {
    // SAFETY: Per the caller.
    unsafe { &*(*kernel::container_of!(kobj, ConnKobj, kobj)).files }
}

/// `waiting`: requests waiting for the server.
///
/// # Safety
///
/// Called by sysfs with one of our live kobjects and a page-sized buffer.
unsafe extern "C" fn waiting_show(
    kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: sysfs calls show with our live kobject.
    let n = unsafe { files_of(kobj) }.waiting();
    // SAFETY: `buf` is a sysfs page buffer; the format takes one unsigned int.
    unsafe { bindings::sysfs_emit(buf, c"%u\n".as_ptr().cast(), n as c_uint) as isize }
}

/// `abort`: any write aborts the connection.
///
/// # Safety
///
/// Called by sysfs with one of our live kobjects.
unsafe extern "C" fn abort_store(
    kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    _buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: sysfs calls store with our live kobject.
    unsafe { files_of(kobj) }.abort();
    // CAST: sysfs writes are at most a page.
    count as isize
}

/// # Safety
///
/// Called by sysfs with one of our connection kobjects and a page buffer.
unsafe extern "C" fn stats_show(
    kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: sysfs show buffers are one page, ours to fill.
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), super::PAGE_SIZE) };
    // CAST: at most a page.
    // SAFETY: sysfs calls show with our live kobject.
    unsafe { files_of(kobj) }.stats(out) as isize
}

static STATS: StaticCell<bindings::kobj_attribute> = StaticCell::new(bindings::kobj_attribute {
    attr: bindings::attribute {
        name: c"stats".as_ptr().cast(),
        mode: 0o444,
        // SAFETY: All-zero is a valid `attribute` tail.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    },
    show: Some(stats_show),
    store: None,
});

static WAITING: StaticCell<bindings::kobj_attribute> = StaticCell::new(bindings::kobj_attribute {
    attr: bindings::attribute {
        name: c"waiting".as_ptr().cast(),
        mode: 0o400,
        // SAFETY: All-zero is valid for the remaining (lockdep) fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    },
    show: Some(waiting_show),
    store: None,
});

static ABORT: StaticCell<bindings::kobj_attribute> = StaticCell::new(bindings::kobj_attribute {
    attr: bindings::attribute {
        name: c"abort".as_ptr().cast(),
        mode: 0o200,
        // SAFETY: All-zero is valid for the remaining (lockdep) fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    },
    show: None,
    store: Some(abort_store),
});

static ATTRS: StaticCell<[*mut bindings::attribute; 4]> = StaticCell::new([
    STATS.get().cast(),
    WAITING.get().cast(),
    ABORT.get().cast(),
    core::ptr::null_mut(),
]);

static GROUP: StaticCell<bindings::attribute_group> = StaticCell::new(bindings::attribute_group {
    attrs: ATTRS.get().cast(),
    // SAFETY: All-zero is valid for the remaining fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

static GROUPS: StaticCell<[*const bindings::attribute_group; 2]> =
    StaticCell::new([GROUP.get().cast_const(), core::ptr::null()]);

static KTYPE: StaticCell<bindings::kobj_type> = StaticCell::new(bindings::kobj_type {
    release: Some(release_callback),
    sysfs_ops: core::ptr::addr_of!(bindings::kobj_sysfs_ops),
    default_groups: GROUPS.get().cast(),
    // SAFETY: All-zero is valid for the remaining fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});
