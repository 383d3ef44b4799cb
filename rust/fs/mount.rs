// SPDX-License-Identifier: GPL-2.0

//! Mounting and unmounting: fuse-wb's [`FileSystem`] side of the glue. The
//! options name the server's `/dev/fuse-wb` file (`fd=`); the mount's
//! connection is made from them, its superblock's dirty data is bounded,
//! the root inode comes from `rootmode`, and once the root exists the
//! connection gets its sysfs directory, its device file and the INIT
//! request. Unmounting writes the dirty data back before the connection
//! ends (unlike mainline, where the server may already be gone).

use super::ops::FuseWb;
use super::{inode, writeback, Inode, SuperBlock};
use crate::conn::Connection;
use crate::dev::{DevFile, Device};
use crate::proto::options::{MountOptions, OptError};
use crate::vfs::{
    self,
    fs_type::{FdError, FileSystem, FsContext, MountError, ParamError, Unmounting},
    sysfs::ConnDir,
};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ARef;

impl FileSystem for FuseWb {
    const NAME: &'static core::ffi::CStr = c"fuse-wb";

    type SbData = Connection;
    type InodeData = inode::FuseInode;
    type FileData = super::file::FuseFile;
    type Options = MountOptions;
    type MountData = Arc<DevFile>;

    fn new_inode_data() -> impl PinInit<inode::FuseInode> {
        inode::FuseInode::new()
    }

    /// Inodes are found by the server's node id.
    fn inode_has_key(inode: &Inode, key: u64) -> bool {
        inode.data().nodeid() == key
    }

    fn set_inode_key(inode: &Inode, key: u64) {
        inode.data().set_nodeid(key)
    }

    fn parse_param(
        opts: &mut MountOptions,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> core::result::Result<(), ParamError> {
        match opts.apply(key, value, vfs::PAGE_SIZE as u32) {
            Ok(()) => Ok(()),
            Err(OptError::Unknown) => Err(ParamError::Unknown),
            Err(e) => Err(ParamError::Invalid(e.message())),
        }
    }

    fn get_tree(
        fc: &FsContext<'_>,
        opts: &MountOptions,
    ) -> core::result::Result<(Arc<Connection>, Arc<DevFile>), MountError> {
        get_tree(fc, opts)
    }

    fn fill_super(sb: &SuperBlock) -> Result<ARef<Inode>> {
        // Dirty data of this mount is bounded strictly: its share of the
        // dirty threshold (mainline: 1%) applies even below the global
        // limits.
        sb.set_strict_dirty_limit(vfs::max_dirty_ratio_param());
        root_inode(sb)
    }

    fn mounted(sb: &SuperBlock, dev: Arc<DevFile>) -> Result {
        let conn: Arc<Connection> = sb.data().into();
        conn.set_ctl_dir(ConnDir::add(conn.clone(), sb.dev())?);
        dev.attach(&conn)?;
        conn.set_notifications(super::notify::Notifier::new(sb)?);
        let ra = u32::try_from(sb.readahead_bytes()).unwrap_or(u32::MAX);
        conn.send_init(sb.link(), ra)
    }

    fn kill_sb(sb: &SuperBlock, umount: &Unmounting<'_, FuseWb>) {
        let conn = sb.data();
        // Write-behind work items hold inodes: they end first.
        writeback::wait_behind(&conn);
        // Unlike mainline, dirty data reaches the server before the
        // connection goes away (the waits are killable).
        umount.sync();
        // As mainline: the connection ends with the mount.
        conn.abort();
        // Writeback completions and write-behind work items still holding
        // inodes drop them now (they no longer wait for anything): only
        // then may the inodes be evicted and the superblock freed.
        writeback::wait_unreferenced(&conn);
        drop(conn.take_ctl_dir());
    }
}

/// The connection of a new mount and the device file (`fd=`) it is served
/// through, from complete options.
fn get_tree(
    fc: &FsContext<'_>,
    opts: &MountOptions,
) -> core::result::Result<(Arc<Connection>, Arc<DevFile>), MountError> {
    opts.check_complete()
        .map_err(|e| MountError::invalid(e.message()))?;
    let fd = opts.fd.ok_or(EINVAL)?;
    let dev = fc.device_file::<Device>(fd).map_err(|e| {
        MountError::invalid(match e {
            FdError::NotOpen => c"option fd: not an open file descriptor",
            FdError::NotDevice => c"option fd: not an open /dev/fuse-wb",
            FdError::OtherUserNs => c"option fd: opened in another user namespace",
        })
    })?;
    if dev.connection().is_some() {
        return Err(MountError::invalid(
            c"option fd: this /dev/fuse-wb already serves a mount",
        ));
    }
    let conn = Connection::new(*opts, fc.user_ns())?;
    Ok((conn, dev))
}

/// The root inode of a new mount, made from `rootmode` alone: its attributes
/// come from the server with the first GETATTR (attr timeout 0).
fn root_inode(sb: &SuperBlock) -> Result<ARef<Inode>> {
    let conn = sb.data();
    let mode = conn.opts.rootmode.ok_or(EINVAL)?;
    let a = crate::abi::fuse_attr {
        ino: crate::proto::attr::ROOT_ID,
        mode,
        nlink: 1,
        ..Default::default()
    };
    inode::iget(sb, crate::proto::attr::ROOT_ID, &a, 0, 0, 0)
}
