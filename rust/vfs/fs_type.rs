// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: the [`FileSystem`] trait, registration, the mount
//! context (option parsing, `get_tree`), `fill_super` and `kill_sb`.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)

use super::dentry::{DentryOperations, DopsVTable};
use super::inode::{Inode, InodeCache};
use super::misc::MiscDevice;
use super::sb::{SbInfo, SbLink, SopsVTable, SuperBlock, SuperOperations};
use super::xattr::{XattrOperations, XattrVTable};
use super::StaticCell;
use crate::vfs::bindings;
use core::marker::PhantomData;
use kernel::error::from_result;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::{ARef, ForeignOwnable};

/// A filesystem type: the data it keeps in the VFS objects and its mount
/// flow. [`Registration`] registers it; its superblock, dentry, inode, file,
/// address-space and mapping operations are the other traits of this
/// module (`SuperOperations`, ...), each turned into a C table by `vfs`.
///
/// A module registers one filesystem type (the C type and the inode cache
/// live in statics).
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// The name (`mount -t NAME`; subtypes mount as `NAME.SUBTYPE`).
    const NAME: &'static core::ffi::CStr;

    /// The state of one mount (`s_fs_info`), shared with objects that may
    /// outlive the mount.
    type SbData: Send + Sync;

    /// The state of one inode, allocated with the VFS inode.
    type InodeData: Send + Sync;

    /// The state of one open file (`private_data`).
    type FileData: Send + Sync;

    /// The parsed mount options.
    type Options: Default + Send;

    /// What `get_tree` hands on to `mounted` (e.g. the server's device).
    type MountData: Send;

    /// The state of a new inode.
    fn new_inode_data() -> impl PinInit<Self::InodeData>;

    /// Whether `inode` is the one `iget` looks for by `key`.
    fn inode_has_key(inode: &Inode<Self>, key: u64) -> bool;

    /// Gives a new inode from `iget` its `key` (before anyone sees it).
    fn set_inode_key(inode: &Inode<Self>, key: u64);

    /// One mount option (`key`, with `value` unless it is a flag). The
    /// option `subtype` is handled by `vfs`.
    fn parse_param(
        opts: &mut Self::Options,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> core::result::Result<(), ParamError>;

    /// All options are parsed: the state of the new mount, or why it
    /// cannot be made.
    fn get_tree(
        fc: &FsContext<'_>,
        opts: &Self::Options,
    ) -> core::result::Result<(Arc<Self::SbData>, Self::MountData), MountError>;

    /// Sets a new superblock up (its bdi exists; `vfs` set the block size,
    /// the tables, the time granularity 1 ns and `SB_POSIXACL`: ACLs go
    /// through `InodeOperations`' ACL methods, and the VFS leaves the umask
    /// of new nodes to the filesystem) and returns the root inode.
    fn fill_super(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>>;

    /// The root dentry exists: the mount goes live (`mount` is what
    /// `get_tree` returned). An error fails the mount.
    fn mounted(sb: &SuperBlock<Self>, mount: Self::MountData) -> Result;

    /// The superblock goes away (also after a failed `fill_super`): end
    /// what uses it. Afterwards `vfs` cuts the [`SbLink`], evicts the
    /// inodes (`kill_anon_super`) and drops the superblock's data.
    fn kill_sb(sb: &SuperBlock<Self>, umount: &Unmounting<'_, Self>);
}

/// Why a mount option was refused.
pub(crate) enum ParamError {
    /// Not an option of this filesystem (the VFS reports it by name).
    Unknown,
    /// A bad value: EINVAL, with this message in the mount's log.
    Invalid(&'static core::ffi::CStr),
}

/// Why a mount failed: the error, and a message for the mount's log.
pub(crate) struct MountError {
    err: Error,
    msg: Option<&'static core::ffi::CStr>,
}

impl MountError {
    /// EINVAL with `msg` in the mount's log (dmesg, or the fsconfig(2)
    /// caller).
    pub(crate) fn invalid(msg: &'static core::ffi::CStr) -> Self {
        Self {
            err: EINVAL,
            msg: Some(msg),
        }
    }
}

impl From<Error> for MountError {
    fn from(err: Error) -> Self {
        Self { err, msg: None }
    }
}

/// The mount context during `get_tree`.
///
/// # Invariants
///
/// `fc` is valid for `'a`.
pub(crate) struct FsContext<'a> {
    fc: *mut bindings::fs_context,
    _p: PhantomData<&'a bindings::fs_context>,
}

/// Why [`FsContext::device_file`] refused a file descriptor.
pub(crate) enum FdError {
    /// Not an open file descriptor.
    NotOpen,
    /// Not an open file of the device.
    NotDevice,
    /// Opened in another user namespace than the mount's.
    OtherUserNs,
}

impl FsContext<'_> {
    /// The user namespace the mount is made in.
    pub(crate) fn user_ns(&self) -> super::cred::UserNs {
        // SAFETY: `fc->user_ns` is valid for the context's lifetime.
        unsafe { super::cred::UserNs::get((*self.fc).user_ns) }
    }

    /// The state of the open file `fd` of the misc device `D` (the
    /// mount's server end), opened in the mount's user namespace (as
    /// mainline compares them).
    pub(crate) fn device_file<D: MiscDevice>(
        &self,
        fd: u32,
    ) -> core::result::Result<Arc<D::Data>, FdError> {
        // SAFETY: `fget` takes a reference on the file if the fd is open.
        let file = unsafe { bindings::fget(fd) };
        if file.is_null() {
            return Err(FdError::NotOpen);
        }
        // SAFETY: We hold a reference on `file` until the `fput` below.
        let dev = unsafe { super::misc::dev_file::<D>(file) }.map(Arc::from);
        // SAFETY: `file` and `fc` are valid.
        let same_ns = unsafe { (*(*file).f_cred).user_ns == (*self.fc).user_ns };
        // SAFETY: Drops the reference taken by `fget`.
        unsafe { bindings::fput(file) };
        match dev {
            None => Err(FdError::NotDevice),
            Some(_) if !same_ns => Err(FdError::OtherUserNs),
            Some(d) => Ok(d),
        }
    }
}

/// The unmount in progress, for [`FileSystem::kill_sb`].
///
/// # Invariants
///
/// `sb` is being killed: `kill_sb` holds `s_umount`.
pub(crate) struct Unmounting<'a, T: FileSystem> {
    sb: &'a SuperBlock<T>,
}

impl<T: FileSystem> Unmounting<'_, T> {
    /// Writes the mount's dirty data and metadata and waits for it
    /// (`sync_filesystem`); nothing for a superblock whose `fill_super`
    /// failed (no root: nothing was written).
    pub(crate) fn sync(&self) {
        let sb = self.sb.as_ptr();
        // SAFETY: A live superblock whose `s_umount` kill_sb holds (type
        // invariant).
        unsafe {
            if !(*sb).s_root.is_null() {
                bindings::sync_filesystem(sb);
            }
        }
    }
}

static FS_TYPE: StaticCell<bindings::file_system_type> = StaticCell::uninit();

/// The registered filesystem type `T` and its inode cache; dropping it
/// unregisters the type, then destroys the cache.
pub(crate) struct Registration<T: FileSystem + SuperOperations + DentryOperations + XattrOperations>
{
    _inodes: InodeCache<T>,
}

impl<T: FileSystem + SuperOperations + DentryOperations + XattrOperations> Registration<T> {
    /// Creates the inode cache and registers `T::NAME` (with subtypes).
    pub(crate) fn register() -> Result<Self> {
        let inodes = InodeCache::<T>::new()?;
        let t = FS_TYPE.get();
        // SAFETY: Module init has exclusive access to the static until it is
        // registered; the embedded lockdep keys must live in static memory,
        // which is why the type is a static and not a heap object.
        unsafe {
            t.write(core::mem::zeroed());
            (*t).name = T::NAME.as_ptr().cast();
            (*t).owner = crate::THIS_MODULE.as_ptr();
            (*t).fs_flags = bindings::FS_HAS_SUBTYPE as c_int;
            (*t).init_fs_context = Some(init_fs_context_callback::<T>);
            (*t).kill_sb = Some(kill_sb_callback::<T>);
        }
        // SAFETY: A fully initialised filesystem type in static memory.
        kernel::error::to_result(unsafe { bindings::register_filesystem(t) })?;
        Ok(Self { _inodes: inodes })
    }
}

impl<T: FileSystem + SuperOperations + DentryOperations + XattrOperations> Drop
    for Registration<T>
{
    fn drop(&mut self) {
        // SAFETY: Registered by `register`; the module is unloading, so no
        // superblock of this type exists. The inode cache (a field) is
        // destroyed after this.
        unsafe { bindings::unregister_filesystem(FS_TYPE.get()) };
    }
}

/// The mount context kept in `fs_context.fs_private`.
struct MountCtx<T: FileSystem> {
    opts: T::Options,
    /// `subtype=` value (kmalloc'ed; handed to `s_subtype`).
    subtype: *mut c_char,
    /// What `get_tree` made for `mounted`.
    mount: Option<T::MountData>,
}

// SAFETY: The raw pointer is an owned kmalloc'ed string.
unsafe impl<T: FileSystem> Send for MountCtx<T> {}

impl<T: FileSystem> Drop for MountCtx<T> {
    fn drop(&mut self) {
        // SAFETY: `subtype` is NULL or a kmalloc'ed string we own.
        unsafe { bindings::kfree(self.subtype.cast()) };
    }
}

/// The C table of `T`'s mount context operations.
struct FcOpsVTable<T>(PhantomData<T>);

impl<T: FileSystem + SuperOperations + DentryOperations + XattrOperations> FcOpsVTable<T> {
    const TABLE: bindings::fs_context_operations = bindings::fs_context_operations {
        free: Some(fc_free_callback::<T>),
        parse_param: Some(parse_param_callback::<T>),
        get_tree: Some(get_tree_callback::<T>),
        // SAFETY: All-zero means "no operation" for the other fields.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    fn build() -> &'static bindings::fs_context_operations {
        &Self::TABLE
    }
}

/// Logs a mount error into the fs_context log (visible in dmesg for a
/// mount(2) call, or to the fsconfig(2) caller) and returns `err`.
///
/// # Safety
///
/// `fc` must be a valid fs_context.
unsafe fn mount_error<T: FileSystem>(
    fc: *mut bindings::fs_context,
    err: Error,
    msg: &core::ffi::CStr,
) -> c_int {
    // SAFETY: Valid fs_context; "%s" with a NUL-terminated string.
    unsafe {
        bindings::logfc(
            (*fc).log.log,
            T::NAME.as_ptr().cast(),
            b'e' as c_char,
            c"%s".as_ptr().cast(),
            msg.as_ptr(),
        );
    }
    err.to_errno()
}

/// # Safety
///
/// Called by the VFS with a new fs_context for our type.
unsafe extern "C" fn init_fs_context_callback<
    T: FileSystem + SuperOperations + DentryOperations + XattrOperations,
>(
    fc: *mut kernel::bindings::fs_context,
) -> c_int {
    let fc = fc.cast::<bindings::fs_context>();
    let ctx = match KBox::new(
        MountCtx::<T> {
            opts: T::Options::default(),
            subtype: core::ptr::null_mut(),
            mount: None,
        },
        GFP_KERNEL,
    ) {
        Ok(c) => c,
        Err(_) => return ENOMEM.to_errno(),
    };
    // SAFETY: We own the new context's private fields.
    unsafe {
        (*fc).fs_private = ctx.into_foreign() as *mut c_void;
        (*fc).ops = FcOpsVTable::<T>::build();
    }
    0
}

/// # Safety
///
/// `fc` is a context set up by `init_fs_context_callback::<T>`.
unsafe fn ctx_of<'a, T: FileSystem>(fc: *mut bindings::fs_context) -> &'a mut MountCtx<T> {
    // SAFETY: `fs_private` holds our `KBox<MountCtx<T>>` until `free`; the
    // VFS serialises calls on one context.
    unsafe { &mut *(*fc).fs_private.cast::<MountCtx<T>>() }
}

/// # Safety
///
/// Called by the VFS when the context is freed.
unsafe extern "C" fn fc_free_callback<T: FileSystem>(fc: *mut bindings::fs_context) {
    // SAFETY: Last use of the context.
    unsafe {
        let p = core::mem::replace(&mut (*fc).fs_private, core::ptr::null_mut());
        if !p.is_null() {
            drop(<KBox<MountCtx<T>> as ForeignOwnable>::from_foreign(p));
        }
        // A mount's state not taken over by a superblock.
        let c = core::mem::replace(&mut (*fc).s_fs_info, core::ptr::null_mut());
        if !c.is_null() {
            drop(<KBox<SbInfo<T>> as ForeignOwnable>::from_foreign(c));
        }
    }
}

/// # Safety
///
/// Called by the VFS with our context and one parameter.
unsafe extern "C" fn parse_param_callback<T: FileSystem>(
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
        return unsafe { mount_error::<T>(fc, EINVAL, c"options must be strings or flags") };
    };
    // SAFETY: Our context.
    let ctx = unsafe { ctx_of::<T>(fc) };
    if key == b"subtype" {
        if value.is_none() {
            // SAFETY: `fc` is valid.
            return unsafe { mount_error::<T>(fc, EINVAL, c"option subtype needs a value") };
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
    match T::parse_param(&mut ctx.opts, key, value) {
        Ok(()) => 0,
        // Let the VFS handle `source` and report unknown options by name.
        Err(ParamError::Unknown) => ENOPARAM.to_errno(),
        // SAFETY: `fc` is valid.
        Err(ParamError::Invalid(msg)) => unsafe { mount_error::<T>(fc, EINVAL, msg) },
    }
}

/// # Safety
///
/// Called by the VFS with our context, once all parameters are parsed.
unsafe extern "C" fn get_tree_callback<
    T: FileSystem + SuperOperations + DentryOperations + XattrOperations,
>(
    fc: *mut bindings::fs_context,
) -> c_int {
    // SAFETY: Our context.
    let ctx = unsafe { ctx_of::<T>(fc) };
    // INVARIANT: `fc` is valid for this call.
    let fctx = FsContext {
        fc,
        _p: PhantomData,
    };
    let (data, mount) = match T::get_tree(&fctx, &ctx.opts) {
        Ok(r) => r,
        // SAFETY: `fc` is valid.
        Err(MountError { err, msg: Some(m) }) => return unsafe { mount_error::<T>(fc, err, m) },
        Err(MountError { err, msg: None }) => return err.to_errno(),
    };
    let link = match SbLink::new() {
        Ok(l) => l,
        Err(e) => return e.to_errno(),
    };
    let info = match KBox::new(SbInfo::<T> { data, link }, GFP_KERNEL) {
        Ok(i) => i,
        Err(_) => return ENOMEM.to_errno(),
    };
    ctx.mount = Some(mount);
    // The superblock takes the state over in sget_fc; if it does not,
    // `fc_free_callback` drops it.
    // SAFETY: We own the proposed s_fs_info.
    unsafe { (*fc).s_fs_info = info.into_foreign() as *mut c_void };
    // SAFETY: Valid context and callback.
    unsafe { bindings::get_tree_nodev(fc, Some(fill_super_callback::<T>)) }
}

/// # Safety
///
/// Called by `get_tree_nodev` with a new superblock whose `s_fs_info` is our
/// `SbInfo<T>`, and our context.
unsafe extern "C" fn fill_super_callback<
    T: FileSystem + SuperOperations + DentryOperations + XattrOperations,
>(
    sb: *mut bindings::super_block,
    fc: *mut bindings::fs_context,
) -> c_int {
    // SAFETY: Our context.
    let ctx = unsafe { ctx_of::<T>(fc) };
    // SAFETY: The superblock is new and ours to set up.
    unsafe {
        (*sb).s_blocksize = super::PAGE_SIZE as _;
        (*sb).s_blocksize_bits = kernel::page::PAGE_SHIFT as u8;
        (*sb).s_magic = T::MAGIC as _;
        (*sb).s_op = SopsVTable::<T>::build();
        (*sb).s_xattr = XattrVTable::<T>::build().as_ptr().cast();
        (*sb).s_maxbytes = bindings::MAX_LFS_FILESIZE;
        (*sb).s_time_gran = 1;
        // See `FileSystem::fill_super`.
        (*sb).s_flags |= bindings::SB_POSIXACL;
        (*sb).s_subtype = core::mem::replace(&mut ctx.subtype, core::ptr::null_mut()).cast_const();
    }
    // SAFETY: The superblock is being set up; the bdi is freed with it.
    let r = unsafe { bindings::super_setup_bdi(sb) };
    if r != 0 {
        return r;
    }
    // SAFETY: `s_fs_info` is our state from now until kill_sb; the bdi is
    // set up.
    let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
    // kill_sb cuts the link before the superblock goes.
    sbr.info().link.set(sbr);
    let root = match T::fill_super(sbr) {
        Ok(r) => r,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: d_make_root consumes the inode reference (even on failure).
    let root = unsafe { bindings::d_make_root(ARef::into_raw(root).cast().as_ptr()) };
    if root.is_null() {
        return ENOMEM.to_errno();
    }
    // SAFETY: The root dentry has no d_revalidate (as mainline); set the
    // default dentry operations for the rest afterwards.
    unsafe {
        (*sb).s_root = root;
        (*sb).s_d_op = DopsVTable::<T>::build();
    }
    let Some(mount) = ctx.mount.take() else {
        return EINVAL.to_errno();
    };
    from_result(|| {
        T::mounted(sbr, mount)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS to destroy one of our superblocks (also after a failed
/// `fill_super`); `s_fs_info` is our `SbInfo<T>` (or NULL).
unsafe extern "C" fn kill_sb_callback<
    T: FileSystem + SuperOperations + DentryOperations + XattrOperations,
>(
    sb: *mut bindings::super_block,
) {
    // SAFETY: `s_fs_info` was set by sget_fc from our context.
    let info = unsafe { (*sb).s_fs_info };
    if !info.is_null() {
        // SAFETY: The superblock and its state live until below.
        let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
        // INVARIANT: kill_sb holds `s_umount`.
        T::kill_sb(sbr, &Unmounting { sb: sbr });
        // The state may outlive the superblock (a server still has the
        // device open): objects linked to it no longer reach it.
        sbr.info().link.cut();
    }
    // SAFETY: A superblock from get_tree_nodev; inodes are evicted here,
    // which still uses the state.
    unsafe { bindings::kill_anon_super(sb) };
    if !info.is_null() {
        // SAFETY: The superblock is dead; we drop its state.
        unsafe {
            (*sb).s_fs_info = core::ptr::null_mut();
            drop(<KBox<SbInfo<T>> as ForeignOwnable>::from_foreign(info));
        }
    }
}
