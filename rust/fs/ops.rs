// SPDX-License-Identifier: GPL-2.0

//! The filesystem's side of the glue's operation traits: [`FuseWb`]
//! implements them by calling the logic in the other files of `fs` (its
//! `FileSystem` side, the data types and the mount flow, is in `mount`).

use super::file::FuseFile;
use super::{acl, xattr};
use super::{attr, dir, file as ffile, inode as finode, lock, names, readdir, write, writeback};
use super::{Dentry, File, Iattr, Inode, Kiocb, Readahead, SuperBlock};
use crate::vfs::file::flags;
use crate::vfs::lock::{FileLock, LockCmd, LockDone};
use crate::vfs::{
    acl::{Acl, AclType, PosixAcl},
    dentry::DentryOperations,
    file::{DirEmitter, FileOperations},
    folio::{AddressSpaceOperations, LockedFolio, WritebackCtl},
    inode::{AtomicOpen, InodeOperations, Kind},
    iov::IovIter,
    mm::VmOperations,
    sb::{SeqFile, StatFs, SuperOperations},
    xattr::XattrOperations,
};
use kernel::prelude::*;
use kernel::types::ARef;

/// The fuse-wb filesystem type.
pub(crate) struct FuseWb;

#[vtable]
impl SuperOperations for FuseWb {
    const MAGIC: u32 = super::SUPER_MAGIC;

    fn may_drop(inode: &Inode) -> bool {
        writeback::may_drop(inode)
    }

    fn evict(inode: &Inode) {
        finode::evict(inode)
    }

    fn write_inode(inode: &Inode, sync: bool) -> Result {
        attr::write_inode(inode, sync)
    }

    fn sync_fs(sb: &SuperBlock) -> Result {
        writeback::wait_conn(&sb.data())
    }

    fn statfs(dentry: &Dentry) -> Result<StatFs> {
        let s = dir::statfs(dentry)?;
        Ok(StatFs {
            bsize: s.bsize,
            frsize: s.frsize,
            blocks: s.blocks,
            bfree: s.bfree,
            bavail: s.bavail,
            files: s.files,
            ffree: s.ffree,
            namelen: s.namelen,
        })
    }

    fn umount_begin(sb: &SuperBlock) {
        sb.data().abort()
    }

    fn show_options(sb: &SuperBlock, out: &mut SeqFile) {
        // SeqFile never fails a write (see its Write impl).
        let _ = sb.data().opts.show(out);
    }
}

#[vtable]
impl InodeOperations for FuseWb {
    fn lookup(dir: &Inode, dentry: &Dentry) -> Result<Option<ARef<Dentry>>> {
        dir::lookup(dir, dentry)
    }

    fn getattr(inode: &Inode, mask: u32, flags: u32) -> Result {
        dir::getattr(inode, mask, flags)
    }

    fn permission(inode: &Inode, mask: i32) -> Result {
        dir::permission(inode, mask)
    }

    fn readlink(inode: &Inode) -> Result<KVec<u8>> {
        dir::readlink(inode)
    }

    fn setattr(inode: &Inode, attr: &Iattr<'_>) -> Result {
        attr::setattr(inode, attr)
    }

    fn mknod(dir: &Inode, dentry: &Dentry, mode: u32, rdev: u32) -> Result {
        // The wire carries the new (huge) encoding of the device number.
        names::mknod(dir, dentry, mode, crate::proto::attr::encode_dev(rdev))
    }

    fn unlink(dir: &Inode, dentry: &Dentry) -> Result {
        names::unlink(dir, dentry)
    }

    fn listxattr(inode: &Inode, buf: &mut [u8]) -> Result<usize> {
        xattr::listxattr(inode, buf)
    }

    fn get_inode_acl(inode: &Inode, ty: AclType, rcu: bool) -> Result<Option<PosixAcl>> {
        acl::get_inode_acl(inode, ty, rcu)
    }

    fn get_acl(inode: &Inode, ty: AclType) -> Result<Option<PosixAcl>> {
        acl::get_acl(inode, ty)
    }

    fn set_acl(inode: &Inode, a: Option<&Acl>, ty: AclType) -> Result {
        acl::set_acl(inode, a, ty)
    }

    fn mkdir(dir: &Inode, dentry: &Dentry, mode: u32) -> Result {
        names::mkdir(dir, dentry, mode)
    }

    fn rmdir(dir: &Inode, dentry: &Dentry) -> Result {
        names::rmdir(dir, dentry)
    }

    fn symlink(dir: &Inode, dentry: &Dentry, target: &[u8]) -> Result {
        names::symlink(dir, dentry, target)
    }

    fn link(old: &Dentry, dir: &Inode, dentry: &Dentry) -> Result {
        names::link(old, dir, dentry)
    }

    fn rename(old_dir: &Inode, old: &Dentry, new_dir: &Inode, new: &Dentry, flags: u32) -> Result {
        names::rename(old_dir, old, new_dir, new, flags)
    }

    /// Looks the name up if the VFS has not; opens nothing unless O_CREAT
    /// finds no file: then CREATE (or MKNOD, and the VFS opens it).
    fn atomic_open(
        dir: &Inode,
        dentry: &Dentry,
        file: &File,
        flags: u32,
        mode: u32,
    ) -> Result<AtomicOpen<Self>> {
        let alias = if dentry.in_lookup() {
            dir::lookup(dir, dentry)?
        } else {
            None
        };
        let d = alias.as_deref().unwrap_or(dentry);
        if flags & flags::O_CREAT == 0 || d.inode().is_some() {
            return Ok(AtomicOpen::NoOpen(alias));
        }
        // We create it (also through the MKNOD fallback): O_EXCL is
        // satisfied.
        file.mark_created();
        match names::create_open(dir, d, file, flags, mode | crate::proto::attr::S_IFREG)? {
            names::Created::Opened(ff) => Ok(AtomicOpen::Opened(alias, ff)),
            // MKNOD made the file: the VFS opens it the normal way.
            names::Created::MadeOnly => Ok(AtomicOpen::NoOpen(None)),
        }
    }

    fn tmpfile(dir: &Inode, file: &File, mode: u32) -> Result<KBox<FuseFile>> {
        names::tmpfile(dir, file, mode)
    }

    /// As mainline's `fuse_sync_release` after a failed `finish_open`: the
    /// writer registration goes, RELEASE is sent.
    fn open_failed(inode: &Inode, data: KBox<FuseFile>) {
        ffile::release(inode, data)
    }
}

#[vtable]
impl FileOperations for FuseWb {
    fn open(inode: &Inode, file: &File) -> Result<KBox<FuseFile>> {
        ffile::open(inode, file)
    }

    fn release(inode: &Inode, data: KBox<FuseFile>) {
        ffile::release(inode, data)
    }

    fn readdir(file: &File, ctx: &mut DirEmitter) -> Result {
        readdir::readdir(file, ctx)
    }

    fn read_iter(iocb: &mut Kiocb<'_>, to: &mut IovIter<'_>) -> Result<usize> {
        let f = iocb.file();
        // FOPEN_DIRECT_IO from the server, or O_DIRECT: no page cache.
        let direct = f
            .data()
            .is_some_and(|ff| ff.open_flags & crate::abi::FOPEN_DIRECT_IO != 0);
        if direct || iocb.is_direct() {
            return write::direct_read(iocb, to);
        }
        ffile::before_read(f, iocb.pos(), to.len())?;
        iocb.read_cached(to)
    }

    fn write_iter(iocb: &mut Kiocb<'_>, from: &mut IovIter<'_>) -> Result<usize> {
        write::write_iter(iocb, from)
    }

    fn llseek(file: &File, offset: i64, whence: u32) -> Result<i64> {
        if whence == flags::SEEK_DATA || whence == flags::SEEK_HOLE {
            if let Some(pos) = ffile::lseek(file, offset, whence)? {
                return file.set_pos(pos);
            }
        } else {
            ffile::before_llseek(file, whence)?;
        }
        file.generic_llseek(offset, whence)
    }

    fn fsync(file: &File, start: i64, end: i64, datasync: bool) -> Result {
        if file.inode().kind() == Kind::Dir {
            ffile::fsyncdir(file, datasync)
        } else {
            ffile::fsync(file, start, end, datasync)
        }
    }

    fn flush(file: &File, lock_owner: u64) -> Result {
        ffile::flush(file, lock_owner)
    }

    fn fallocate(file: &File, mode: i32, offset: i64, len: i64) -> Result {
        ffile::fallocate(file, mode, offset, len)
    }

    fn copy_file_range(
        fin: &File,
        off_in: i64,
        fout: &File,
        off_out: i64,
        len: usize,
    ) -> Result<Option<usize>> {
        ffile::copy_file_range(fin, off_in, fout, off_out, len)
    }

    fn mmap_check(file: &File, shared: bool) -> Result {
        ffile::mmap_check(file, shared)
    }

    fn lock(file: &File, cmd: LockCmd, fl: &mut FileLock<'_>) -> Result<LockDone> {
        lock::lock(file, cmd, fl)
    }

    fn flock(file: &File, fl: &mut FileLock<'_>) -> Result {
        lock::flock(file, fl)
    }

    fn ioctl(file: &File, cmd: u32, arg: usize) -> Result<i32> {
        super::ioctl::ioctl(file, cmd, arg)
    }

    fn poll<'a>(file: &'a File, table: &mut crate::vfs::misc::PollTable<'a>) -> u32 {
        super::poll::poll(file, table)
    }
}

#[vtable]
impl AddressSpaceOperations for FuseWb {
    fn read_folio(inode: &Inode, file: Option<&File>, folio: LockedFolio) -> Result {
        ffile::read_folio(inode, file, folio)
    }

    fn readahead(inode: &Inode, ra: &mut Readahead<'_>) {
        ffile::readahead(inode, ra)
    }

    fn writepages(inode: &Inode, ctl: &mut WritebackCtl<'_>) -> Result {
        writeback::writepages(inode, ctl)
    }

    fn write_begin(
        inode: &Inode,
        file: Option<&File>,
        pos: i64,
        len: usize,
    ) -> Result<LockedFolio> {
        writeback::write_begin(inode, file, pos, len)
    }

    fn write_end(inode: &Inode, pos: i64, len: usize, copied: usize, folio: LockedFolio) -> usize {
        writeback::write_end(inode, pos, len, copied, folio)
    }

    fn launder_folio(inode: &Inode, folio: &mut LockedFolio) -> Result {
        writeback::launder_folio(inode, folio)
    }
}

#[vtable]
impl VmOperations for FuseWb {
    fn fault_updates_times(inode: &Inode) -> bool {
        // In write-back mode the kernel owns the times (else the server).
        writeback::is_wb(inode)
    }

    fn page_mkwrite(_file: &File, inode: &Inode, folio: &LockedFolio) -> Result {
        writeback::page_mkwrite(inode, folio)
    }

    fn close_shared(inode: &Inode) {
        ffile::vma_close(inode)
    }
}

#[vtable]
impl XattrOperations for FuseWb {
    fn get(inode: &Inode, name: &[u8], buf: &mut [u8]) -> Result<usize> {
        xattr::getxattr(inode, name, buf)
    }

    fn set(inode: &Inode, name: &[u8], value: Option<&[u8]>, flags: u32) -> Result {
        xattr::setxattr(inode, name, value, flags)
    }
}

#[vtable]
impl DentryOperations for FuseWb {
    fn revalidate(dentry: &Dentry, rcu: bool, flags: u32) -> Result<bool> {
        dir::revalidate(dentry, rcu, flags)
    }
}
