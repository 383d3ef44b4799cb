// SPDX-License-Identifier: GPL-2.0

//! The filesystem logic, one file per concern as in mainline `fs/fuse`:
//! inodes and attributes (`inode`), names and metadata (`dir`), open files
//! and reads (`file`), directory listing (`readdir`); `ops` implements the
//! glue's operation traits with them.
//!
//! Everything here is safe Rust over the `vfs` glue and the `conn`
//! connection.

pub(crate) mod attr;
pub(crate) mod dir;
pub(crate) mod file;
pub(crate) mod inode;
pub(crate) mod ops;
pub(crate) mod readdir;
pub(crate) mod write;
pub(crate) mod writeback;

use crate::vfs::inode::Inode;
use crate::vfs::sb::SuperBlock;
use kernel::prelude::*;
use kernel::types::ARef;

/// `statfs` type of fuse-wb mounts: mainline FUSE's, so tools that know FUSE
/// treat fuse-wb alike.
pub(crate) const SUPER_MAGIC: u32 = 0x6573_5546;

/// The root inode of a new mount, made from `rootmode` alone: its attributes
/// come from the server with the first GETATTR (attr timeout 0).
pub(crate) fn root_inode(sb: &SuperBlock) -> Result<ARef<Inode>> {
    let conn = sb.conn();
    let mode = conn.opts.rootmode.ok_or(EINVAL)?;
    let a = crate::abi::fuse_attr {
        ino: crate::proto::attr::ROOT_ID,
        mode,
        nlink: 1,
        ..Default::default()
    };
    inode::iget(sb, crate::proto::attr::ROOT_ID, &a, 0, 0, 0)
}
