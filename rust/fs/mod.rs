// SPDX-License-Identifier: GPL-2.0

//! The filesystem logic, one file per concern as in mainline `fs/fuse`:
//! inodes and attributes (`inode`), names and metadata (`dir`), open files
//! and reads (`file`, `readahead`), directory listing (`readdir`), mounting (`mount`:
//! the glue's `FileSystem` trait); `ops` implements the glue's operation
//! traits with them.
//!
//! Everything here is safe Rust over the `vfs` glue and the `conn`
//! connection.

pub(crate) mod acl;
pub(crate) mod attr;
pub(crate) mod dir;
pub(crate) mod file;
pub(crate) mod inode;
pub(crate) mod ioctl;
pub(crate) mod lock;
pub(crate) mod mount;
pub(crate) mod names;
pub(crate) mod notify;
pub(crate) mod ops;
pub(crate) mod poll;
pub(crate) mod readahead;
pub(crate) mod readdir;
pub(crate) mod write;
pub(crate) mod writeback;
pub(crate) mod xattr;

pub(crate) use ops::FuseWb;

/// The glue's types, for this filesystem.
pub(crate) type Inode = crate::vfs::inode::Inode<FuseWb>;
/// An open file of fuse-wb.
pub(crate) type File = crate::vfs::file::File<FuseWb>;
/// A dentry of fuse-wb.
pub(crate) type Dentry = crate::vfs::dentry::Dentry<FuseWb>;
/// A fuse-wb superblock.
pub(crate) type SuperBlock = crate::vfs::sb::SuperBlock<FuseWb>;
/// The kiocb of a read or write of a fuse-wb file.
pub(crate) type Kiocb<'a> = crate::vfs::file::Kiocb<'a, FuseWb>;
/// A readahead request of a fuse-wb file.
pub(crate) type Readahead<'a> = crate::vfs::folio::Readahead<'a, FuseWb>;
/// The changes of a `setattr` of a fuse-wb inode.
pub(crate) type Iattr<'a> = crate::vfs::inode::Iattr<'a, FuseWb>;
/// A child of a fuse-wb directory dentry.
pub(crate) type Child = crate::vfs::dentry::Child<FuseWb>;

/// `statfs` type of fuse-wb mounts: mainline FUSE's, so tools that know FUSE
/// treat fuse-wb alike.
pub(crate) const SUPER_MAGIC: u32 = 0x6573_5546;
