// SPDX-License-Identifier: GPL-2.0

//! The `fuse-wb` filesystem type: registration, the mount context (option
//! parsing, `get_tree`), `fill_super` and `kill_sb`.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)

use super::sb::SuperBlock;
use super::StaticCell;
use crate::bindings;
use crate::conn::Connection;
use crate::dev::DevFile;
use crate::proto::options::{MountOptions, OptError};
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;

static FS_TYPE: StaticCell<bindings::file_system_type> = StaticCell::uninit();

/// The registered filesystem type; dropping it unregisters `fuse-wb`.
pub(crate) struct Registration(());

impl Registration {
    /// Registers `fuse-wb` (with subtypes: `fuse-wb.NAME`).
    pub(crate) fn register() -> Result<Self> {
        let t = FS_TYPE.get();
        // SAFETY: Module init has exclusive access to the static until it is
        // registered; the embedded lockdep keys must live in static memory,
        // which is why the type is a static and not a heap object.
        unsafe {
            t.write(core::mem::zeroed());
            (*t).name = c"fuse-wb".as_ptr().cast();
            (*t).owner = crate::THIS_MODULE.as_ptr();
            (*t).fs_flags = bindings::FS_HAS_SUBTYPE as c_int;
            (*t).init_fs_context = Some(init_fs_context_callback);
            (*t).kill_sb = Some(kill_sb_callback);
        }
        // SAFETY: A fully initialised filesystem type in static memory.
        kernel::error::to_result(unsafe { bindings::register_filesystem(t) })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Registered by `register`; the module is unloading, so no
        // superblock of this type exists.
        unsafe { bindings::unregister_filesystem(FS_TYPE.get()) };
    }
}

/// The mount context kept in `fs_context.fs_private`.
struct MountCtx {
    opts: MountOptions,
    /// `subtype=` value (kmalloc'ed; handed to `s_subtype`).
    subtype: *mut c_char,
    /// The device file named by `fd=`.
    dev: Option<Arc<DevFile>>,
}

// SAFETY: The raw pointer is an owned kmalloc'ed string.
unsafe impl Send for MountCtx {}

impl Drop for MountCtx {
    fn drop(&mut self) {
        // SAFETY: `subtype` is NULL or a kmalloc'ed string we own.
        unsafe { bindings::kfree(self.subtype.cast()) };
    }
}

struct FcOps(bindings::fs_context_operations);
// SAFETY: Immutable table only read by the kernel.
unsafe impl Sync for FcOps {}

static FC_OPS: FcOps = FcOps(bindings::fs_context_operations {
    free: Some(fc_free_callback),
    parse_param: Some(parse_param_callback),
    get_tree: Some(get_tree_callback),
    // SAFETY: All-zero means "no operation" for the other fields.
    ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
});

/// Logs a mount error into the fs_context log (visible in dmesg for a
/// mount(2) call, or to the fsconfig(2) caller), naming the option.
///
/// # Safety
///
/// `fc` must be a valid fs_context.
unsafe fn mount_error(fc: *mut bindings::fs_context, msg: &core::ffi::CStr) -> c_int {
    // SAFETY: Valid fs_context; "%s" with a NUL-terminated string.
    unsafe {
        bindings::logfc(
            (*fc).log.log,
            c"fuse-wb".as_ptr().cast(),
            b'e' as c_char,
            c"%s".as_ptr().cast(),
            msg.as_ptr(),
        );
    }
    EINVAL.to_errno()
}

/// # Safety
///
/// Called by the VFS with a new fs_context for our type.
unsafe extern "C" fn init_fs_context_callback(fc: *mut kernel::bindings::fs_context) -> c_int {
    let fc = fc.cast::<bindings::fs_context>();
    let ctx = match KBox::new(
        MountCtx {
            opts: MountOptions::default(),
            subtype: core::ptr::null_mut(),
            dev: None,
        },
        GFP_KERNEL,
    ) {
        Ok(c) => c,
        Err(_) => return ENOMEM.to_errno(),
    };
    // SAFETY: We own the new context's private fields.
    unsafe {
        (*fc).fs_private = ctx.into_foreign() as *mut c_void;
        (*fc).ops = &FC_OPS.0;
    }
    0
}

/// # Safety
///
/// `fc` is a context set up by `init_fs_context_callback`.
unsafe fn ctx_of<'a>(fc: *mut bindings::fs_context) -> &'a mut MountCtx {
    // SAFETY: `fs_private` holds our `KBox<MountCtx>` until `free`; the VFS
    // serialises calls on one context.
    unsafe { &mut *(*fc).fs_private.cast::<MountCtx>() }
}

/// # Safety
///
/// Called by the VFS when the context is freed.
unsafe extern "C" fn fc_free_callback(fc: *mut bindings::fs_context) {
    // SAFETY: Last use of the context.
    unsafe {
        let p = core::mem::replace(&mut (*fc).fs_private, core::ptr::null_mut());
        if !p.is_null() {
            drop(<KBox<MountCtx> as ForeignOwnable>::from_foreign(p));
        }
        // A connection not taken over by a superblock.
        let c = core::mem::replace(&mut (*fc).s_fs_info, core::ptr::null_mut());
        if !c.is_null() {
            drop(<Arc<Connection> as ForeignOwnable>::from_foreign(c));
        }
    }
}

/// # Safety
///
/// Called by the VFS with our context and one parameter.
unsafe extern "C" fn parse_param_callback(
    fc: *mut bindings::fs_context,
    param: *mut bindings::fs_parameter,
) -> c_int {
    // SAFETY: Valid parameter with a NUL-terminated key.
    let key = unsafe { CStr::from_char_ptr((*param).key) }.as_bytes();
    // SAFETY: Valid parameter.
    let typ = unsafe { (*param).type_() };
    let value = if typ == bindings::fs_value_type_fs_value_is_string {
        // SAFETY: For string values the union holds a NUL-terminated string.
        Some(unsafe { CStr::from_char_ptr((*param).__bindgen_anon_1.string) }.as_bytes())
    } else if typ == bindings::fs_value_type_fs_value_is_flag {
        None
    } else {
        // SAFETY: `fc` is valid.
        return unsafe { mount_error(fc, c"options must be strings or flags") };
    };
    // SAFETY: Our context.
    let ctx = unsafe { ctx_of(fc) };
    if key == b"subtype" {
        if value.is_none() {
            // SAFETY: `fc` is valid.
            return unsafe { mount_error(fc, c"option subtype needs a value") };
        }
        // Take the string over from the parameter (the VFS frees the rest).
        // SAFETY: String parameter; we become its owner.
        unsafe {
            bindings::kfree(ctx.subtype.cast());
            ctx.subtype =
                core::mem::replace(&mut (*param).__bindgen_anon_1.string, core::ptr::null_mut());
        }
        return 0;
    }
    match ctx.opts.apply(key, value, super::PAGE_SIZE as u32) {
        Ok(()) => 0,
        // Let the VFS handle `source` and report unknown options by name.
        Err(OptError::Unknown) => ENOPARAM.to_errno(),
        // SAFETY: `fc` is valid.
        Err(e) => unsafe { mount_error(fc, e.message()) },
    }
}

/// # Safety
///
/// Called by the VFS with our context, once all parameters are parsed.
unsafe extern "C" fn get_tree_callback(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: Our context.
    let ctx = unsafe { ctx_of(fc) };
    if let Err(e) = ctx.opts.check_complete() {
        // SAFETY: `fc` is valid.
        return unsafe { mount_error(fc, e.message()) };
    }
    let Some(fd) = ctx.opts.fd else {
        return EINVAL.to_errno();
    };
    // SAFETY: `fget` takes a reference on the file if the fd is open.
    let file = unsafe { bindings::fget(fd) };
    if file.is_null() {
        // SAFETY: `fc` is valid.
        return unsafe { mount_error(fc, c"option fd: not an open file descriptor") };
    }
    // SAFETY: We hold a reference on `file` until the `fput` below.
    let dev = unsafe { super::misc::dev_file::<crate::dev::Device>(file) }.map(Arc::from);
    // SAFETY: `file` and `fc` are valid; compare the namespaces as mainline.
    let same_ns = unsafe { (*(*file).f_cred).user_ns == (*fc).user_ns };
    // SAFETY: Drops the reference taken by `fget`.
    unsafe { bindings::fput(file) };
    let Some(dev) = dev else {
        // SAFETY: `fc` is valid.
        return unsafe { mount_error(fc, c"option fd: not an open /dev/fuse-wb") };
    };
    if !same_ns {
        // SAFETY: `fc` is valid.
        return unsafe { mount_error(fc, c"option fd: opened in another user namespace") };
    }
    if dev.connection().is_some() {
        // SAFETY: `fc` is valid.
        return unsafe { mount_error(fc, c"option fd: this /dev/fuse-wb already serves a mount") };
    }
    // SAFETY: `fc->user_ns` is valid for the context's lifetime.
    let user_ns = unsafe { super::cred::UserNs::get((*fc).user_ns) };
    let conn = match Connection::new(ctx.opts, user_ns) {
        Ok(c) => c,
        Err(e) => return e.to_errno(),
    };
    ctx.dev = Some(dev);
    // The superblock takes the connection over in sget_fc; if it does not,
    // `fc_free_callback` drops it.
    // SAFETY: We own the proposed s_fs_info.
    unsafe { (*fc).s_fs_info = conn.into_foreign() as *mut c_void };
    // SAFETY: Valid context and callback.
    unsafe { bindings::get_tree_nodev(fc, Some(fill_super_callback)) }
}

/// # Safety
///
/// Called by `get_tree_nodev` with a new superblock whose `s_fs_info` is our
/// connection, and our context.
unsafe extern "C" fn fill_super_callback(
    sb: *mut bindings::super_block,
    fc: *mut bindings::fs_context,
) -> c_int {
    // SAFETY: Our context.
    let ctx = unsafe { ctx_of(fc) };
    // SAFETY: The superblock is new and ours to set up.
    unsafe {
        (*sb).s_blocksize = super::PAGE_SIZE as _;
        (*sb).s_blocksize_bits = kernel::page::PAGE_SHIFT as u8;
        (*sb).s_magic = <crate::fs::ops::FuseWb as super::sb::SuperOperations>::MAGIC as _;
        (*sb).s_op = super::sb::SopsVTable::<crate::fs::ops::FuseWb>::build();
        (*sb).s_maxbytes = bindings::MAX_LFS_FILESIZE;
        (*sb).s_time_gran = 1;
        (*sb).s_subtype = core::mem::replace(&mut ctx.subtype, core::ptr::null_mut()).cast_const();
    }
    // SAFETY: The superblock is being set up; the bdi is freed with it.
    let r = unsafe { bindings::super_setup_bdi(sb) };
    if r != 0 {
        return r;
    }
    // Dirty data of this mount is bounded strictly: its share of the dirty
    // threshold (mainline: 1%) applies even below the global limits.
    // SAFETY: `s_bdi` was just set up and belongs to this superblock.
    unsafe {
        let bdi = (*sb).s_bdi;
        (*bdi).capabilities |= bindings::BDI_CAP_STRICTLIMIT;
        bindings::bdi_set_max_ratio(bdi, super::max_dirty_ratio_param().clamp(1, 100));
    }
    // SAFETY: `s_fs_info` is our connection from now until kill_sb.
    let sbr = unsafe { SuperBlock::from_raw(sb) };
    let conn: Arc<Connection> = sbr.conn().into();
    let root = match crate::fs::root_inode(sbr) {
        Ok(r) => r,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: d_make_root consumes the inode reference (even on failure).
    let root =
        unsafe { bindings::d_make_root(kernel::types::ARef::into_raw(root).cast().as_ptr()) };
    if root.is_null() {
        return ENOMEM.to_errno();
    }
    // SAFETY: The root dentry has no d_revalidate (as mainline); set the
    // default dentry operations for the rest afterwards.
    unsafe {
        (*sb).s_root = root;
        (*sb).s_d_op = super::dentry::DopsVTable::<crate::fs::ops::FuseWb>::build();
    }
    match super::sysfs::ConnDir::add(conn.clone(), sbr.dev()) {
        Ok(d) => conn.set_ctl_dir(d),
        Err(e) => return e.to_errno(),
    }
    let Some(dev) = ctx.dev.take() else {
        return EINVAL.to_errno();
    };
    if let Err(e) = dev.attach(&conn) {
        return e.to_errno();
    }
    // SAFETY: `s_bdi` was set up above and lives as long as the superblock.
    let ra = unsafe { (*(*sb).s_bdi).ra_pages } * super::PAGE_SIZE;
    // kill_sb cuts the link before the superblock goes.
    let link = match super::sb::SbLink::new(sbr) {
        Ok(l) => l,
        Err(e) => return e.to_errno(),
    };
    match conn.send_init(link, ra as u32) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS to destroy one of our superblocks (also after a failed
/// `fill_super`); `s_fs_info` is our connection.
unsafe extern "C" fn kill_sb_callback(sb: *mut bindings::super_block) {
    // SAFETY: `s_fs_info` was set by sget_fc from our context.
    let info = unsafe { (*sb).s_fs_info };
    if !info.is_null() {
        // SAFETY: The connection lives until we drop it below.
        let conn = unsafe { <Arc<Connection> as ForeignOwnable>::borrow(info) };
        // Write-behind work items hold inodes: they end first.
        crate::fs::writeback::wait_behind(&conn);
        // Unlike mainline, dirty data reaches the server before the
        // connection goes away (the waits are killable). A superblock whose
        // fill_super failed has no root and nothing to write.
        // SAFETY: A live superblock.
        if unsafe { !(*sb).s_root.is_null() } {
            // SAFETY: As above; kill_sb holds `s_umount`.
            unsafe { bindings::sync_filesystem(sb) };
        }
        // As mainline: the connection ends with the mount.
        conn.abort();
        // Writeback completions and write-behind work items still holding
        // inodes drop them now (they no longer wait for anything): only
        // then may the inodes be evicted and the superblock freed.
        crate::fs::writeback::wait_unreferenced(&conn);
        drop(conn.take_ctl_dir());
        // The connection may outlive the superblock (its server still has
        // the device open).
        if let Some(link) = conn.sb_link() {
            link.cut();
        }
    }
    // SAFETY: A superblock from get_tree_nodev; inodes are evicted here,
    // which still uses the connection.
    unsafe { bindings::kill_anon_super(sb) };
    if !info.is_null() {
        // SAFETY: The superblock is dead; we drop its connection reference.
        unsafe {
            (*sb).s_fs_info = core::ptr::null_mut();
            drop(<Arc<Connection> as ForeignOwnable>::from_foreign(info));
        }
    }
}
