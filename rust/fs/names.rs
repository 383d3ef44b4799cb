// SPDX-License-Identifier: GPL-2.0

//! Making and removing names: MKNOD, MKDIR, SYMLINK, LINK, CREATE (with
//! the open of `atomic_open`), UNLINK, RMDIR, RENAME and RENAME2, with the
//! attribute and dentry invalidation mainline does after each.

use super::{inode as finode, Dentry, Inode};
use crate::abi;
use crate::conn::Connection;
use crate::proto::{attr, dirent, pod, reply::ReplyKind, time};
use crate::vfs::inode::flags as rflags;
use crate::vfs::{self, inode::Kind};
use core::mem::size_of;
use kernel::prelude::*;
use kernel::types::ARef;

/// `name` as it goes on the wire: NUL-terminated (ENAMETOOLONG past
/// NAME_MAX).
pub(crate) fn name_z(name: &[u8]) -> Result<KVec<u8>> {
    if name.len() > dirent::NAME_MAX {
        return Err(vfs::enametoolong());
    }
    let mut z = KVec::with_capacity(name.len() + 1, GFP_KERNEL)?;
    z.extend_from_slice(name, GFP_KERNEL)?;
    z.push(0, GFP_KERNEL)?;
    Ok(z)
}

/// The inode a CREATE or MKNOD reply names, of the type asked for; the
/// directory's attributes are stale now.
fn new_entry(
    dir: &Inode,
    dentry: &Dentry,
    e: &abi::fuse_entry_out,
    mode: u32,
    version: u64,
) -> Result<ARef<Inode>> {
    let conn = dir.sb().data();
    if e.nodeid == 0 || !crate::proto::attr::same_type(e.attr.mode, mode) {
        if e.nodeid != 0 {
            conn.forget(e.nodeid, 1);
        }
        return Err(EIO);
    }
    let inode = match finode::iget_entry(dir.sb(), e, version) {
        Ok(i) => i,
        Err(err) => {
            conn.forget(e.nodeid, 1);
            return Err(err);
        }
    };
    dentry.set_expiry(time::expiry(
        vfs::jiffies(),
        e.entry_valid,
        e.entry_valid_nsec,
        vfs::HZ,
    ));
    dir.data().invalidate_attrs(&conn);
    Ok(inode)
}

/// Sends `op` with `args`, which makes the name `dentry` in `dir`, and
/// gives `dentry` the inode the reply names, which must be of type `typ`
/// (`S_IF*`). As mainline's `create_new_entry`.
fn make_entry(
    dir: &Inode,
    dentry: &Dentry,
    op: u32,
    args: &[&[u8]],
    typ: u32,
) -> Result<ARef<Inode>> {
    dir.data().check()?;
    let conn = dir.sb().data();
    let version = conn.attr_version();
    let reply = conn.request(op, dir.data().nodeid(), args, ReplyKind::Entry)?;
    let e = pod::read_exact::<abi::fuse_entry_out>(&reply).ok_or(EIO)?;
    let inode = new_entry(dir, dentry, &e, typ, version)?;
    if let Some(alias) = dentry.attach(inode.clone())? {
        alias.set_expiry(dentry.expiry());
    }
    Ok(inode)
}

/// `inode_operations.mknod` (and `create`): MKNOD.
pub(crate) fn mknod(dir: &Inode, dentry: &Dentry, mode: u32, rdev: u32) -> Result {
    let z = name_z(dentry.name())?;
    let (mode, umask) = super::acl::create_mode(&dir.sb().data(), mode);
    let arg = abi::fuse_mknod_in {
        mode,
        rdev,
        umask,
        padding: 0,
    };
    make_entry(
        dir,
        dentry,
        abi::fuse_opcode_FUSE_MKNOD,
        &[pod::bytes_of(&arg), &z],
        mode,
    )?;
    Ok(())
}

/// `inode_operations.mkdir`: MKDIR (`mode`: the permission bits; the
/// umask is applied here, see `acl::create_mode`).
pub(crate) fn mkdir(dir: &Inode, dentry: &Dentry, mode: u32) -> Result {
    let z = name_z(dentry.name())?;
    let (mode, umask) = super::acl::create_mode(&dir.sb().data(), mode);
    let arg = abi::fuse_mkdir_in { mode, umask };
    make_entry(
        dir,
        dentry,
        abi::fuse_opcode_FUSE_MKDIR,
        &[pod::bytes_of(&arg), &z],
        attr::S_IFDIR,
    )?;
    Ok(())
}

/// `inode_operations.symlink`: SYMLINK (the name, then the target, each
/// NUL-terminated).
pub(crate) fn symlink(dir: &Inode, dentry: &Dentry, target: &[u8]) -> Result {
    let z = name_z(dentry.name())?;
    let mut t = KVec::with_capacity(target.len() + 1, GFP_KERNEL)?;
    t.extend_from_slice(target, GFP_KERNEL)?;
    t.push(0, GFP_KERNEL)?;
    make_entry(
        dir,
        dentry,
        abi::fuse_opcode_FUSE_SYMLINK,
        &[&z, &t],
        attr::S_IFLNK,
    )?;
    Ok(())
}

/// `inode_operations.link`: LINK of `old`'s inode as `dentry` in `dir`.
/// The server's reply names the same node: hard links share one inode
/// (and, in write-back mode, its kernel-owned size and dirty data).
pub(crate) fn link(old: &Dentry, dir: &Inode, dentry: &Dentry) -> Result {
    let inode = old.inode().ok_or(ENOENT)?;
    inode.data().check()?;
    let conn = dir.sb().data();
    let z = name_z(dentry.name())?;
    let arg = abi::fuse_link_in {
        oldnodeid: inode.data().nodeid(),
    };
    let r = make_entry(
        dir,
        dentry,
        abi::fuse_opcode_FUSE_LINK,
        &[pod::bytes_of(&arg), &z],
        inode.mode(),
    );
    match r {
        Ok(_) => finode::ctime_changed(inode, &conn),
        // Killed: the server may have linked it (nlink changed).
        Err(e) if e == EINTR => inode.data().invalidate_attrs(&conn),
        Err(_) => {}
    }
    r.map(|_| ())
}

/// What `atomic_open` did.
pub(crate) enum Created {
    /// CREATE made and opened the file.
    Opened(KBox<super::file::FuseFile>),
    /// The server has no CREATE: MKNOD made the file; open it normally.
    MadeOnly,
}

/// `inode_operations.atomic_open` with O_CREAT on a negative dentry:
/// CREATE, or MKNOD and a normal open if the server has no CREATE.
pub(crate) fn create_open(
    dir: &Inode,
    dentry: &Dentry,
    file: &super::File,
    flags: u32,
    mode: u32,
) -> Result<Created> {
    dir.data().check()?;
    let conn = dir.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_CREATE) {
        mknod(dir, dentry, mode, 0)?;
        return Ok(Created::MadeOnly);
    }
    match make_open(dir, dentry, file, flags, mode, abi::fuse_opcode_FUSE_CREATE) {
        Ok(ff) => Ok(Created::Opened(ff)),
        Err(e) if e == vfs::enosys() => {
            mknod(dir, dentry, mode, 0)?;
            Ok(Created::MadeOnly)
        }
        Err(e) => Err(e),
    }
}

/// `inode_operations.tmpfile` (open(2) with O_TMPFILE): TMPFILE, which
/// makes an unnamed file and opens it, as mainline's `fuse_tmpfile`. A
/// server without it (ENOSYS, remembered) makes it EOPNOTSUPP, which
/// callers of O_TMPFILE take as "not on this filesystem".
pub(crate) fn tmpfile(
    dir: &Inode,
    file: &super::File,
    mode: u32,
) -> Result<KBox<super::file::FuseFile>> {
    dir.data().check()?;
    let conn = dir.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_TMPFILE) {
        return Err(vfs::eopnotsupp());
    }
    match make_open(
        dir,
        file.dentry(),
        file,
        file.flags(),
        mode,
        abi::fuse_opcode_FUSE_TMPFILE,
    ) {
        Err(e) if e == vfs::enosys() => Err(vfs::eopnotsupp()),
        r => r,
    }
}

/// CREATE or TMPFILE (`op`, both `fuse_create_in` and the name, answered
/// by an entry and an open handle) of a regular file `mode` for `dentry`
/// (for TMPFILE the VFS's unnamed "/", which mainline sends too), opened
/// as `file` with `flags`; `dentry` gets the new inode.
fn make_open(
    dir: &Inode,
    dentry: &Dentry,
    file: &super::File,
    flags: u32,
    mode: u32,
    op: u32,
) -> Result<KBox<super::file::FuseFile>> {
    let conn = dir.sb().data();
    let z = name_z(dentry.name())?;
    let wire_flags = super::file::create_wire_flags(flags);
    let (mode, umask) = super::acl::create_mode(&conn, mode);
    let arg = abi::fuse_create_in {
        flags: wire_flags,
        mode,
        umask,
        open_flags: super::file::create_kill_flags(&conn, wire_flags),
    };
    let version = conn.attr_version();
    let reply = conn.request(
        op,
        dir.data().nodeid(),
        &[pod::bytes_of(&arg), &z],
        ReplyKind::Create,
    )?;
    let (ebytes, obytes) = reply.split_at(core::mem::size_of::<abi::fuse_entry_out>());
    let e = pod::read_exact::<abi::fuse_entry_out>(ebytes).ok_or(EIO)?;
    let o = pod::read_exact::<abi::fuse_open_out>(obytes).ok_or(EIO)?;
    let ff = super::file::FuseFile::opened(o.fh, o.open_flags, flags);
    let inode = match new_entry(dir, dentry, &e, mode, version) {
        Ok(i) => i,
        Err(err) => {
            // No inode to hold: the node's lookup is given back by
            // `new_entry` (a FORGET, which may reach the server first).
            super::file::release_node(
                &conn,
                e.nodeid,
                abi::fuse_opcode_FUSE_RELEASE,
                &crate::proto::request::release_in(ff.fh, ff.flags, None),
                None,
            );
            return Err(err);
        }
    };
    super::file::after_create(&conn, &inode, wire_flags, o.open_flags);
    let (fh, fh_flags) = (ff.fh, ff.flags);
    let Ok(ff) = KBox::new(ff, GFP_KERNEL) else {
        // The server opened it: give the handle back (the inode's
        // lookup goes with its last reference).
        super::file::release_handle(
            &conn,
            &inode,
            abi::fuse_opcode_FUSE_RELEASE,
            &crate::proto::request::release_in(fh, fh_flags, None),
        );
        return Err(ENOMEM);
    };
    let ff = super::file::register(&inode, file, ff)?;
    dentry.instantiate(inode);
    Ok(ff)
}

/// `inode_operations.unlink`: UNLINK.
pub(crate) fn unlink(dir: &Inode, dentry: &Dentry) -> Result {
    remove(dir, dentry, abi::fuse_opcode_FUSE_UNLINK)
}

/// `inode_operations.rmdir`: RMDIR.
pub(crate) fn rmdir(dir: &Inode, dentry: &Dentry) -> Result {
    remove(dir, dentry, abi::fuse_opcode_FUSE_RMDIR)
}

/// UNLINK or RMDIR (`op`) of `dentry` in `dir`, as mainline: on success
/// the entry is unlinked; if the server may or may not have done it (the
/// caller was killed, or the name was gone), the entry is looked up again.
fn remove(dir: &Inode, dentry: &Dentry, op: u32) -> Result {
    dir.data().check()?;
    let conn = dir.sb().data();
    let z = name_z(dentry.name())?;
    match conn.request(op, dir.data().nodeid(), &[&z], ReplyKind::Empty) {
        Ok(_) => {
            dir.data().invalidate_attrs(&conn);
            entry_unlinked(&conn, dentry);
            Ok(())
        }
        Err(e) => {
            if maybe_done(e) {
                invalidate_entry(dentry);
            }
            Err(e)
        }
    }
}

/// Whether a request that failed with `e` may still have been carried out
/// by the server (killed while it ran) or found its name gone: the dentries
/// it named are then looked up again (mainline: EINTR, ENOENT).
fn maybe_done(e: Error) -> bool {
    e == EINTR || e == ENOENT
}

/// `dentry` is looked up again next time (its timeout ends, and it leaves
/// the dcache if nothing uses it).
fn invalidate_entry(dentry: &Dentry) {
    dentry.invalidate();
    dentry.set_expiry(0);
}

/// The name `dentry` is gone on the server: its inode has one link fewer
/// (a directory none), its attributes and entry are stale, and its ctime
/// changed (the kernel's own in write-back mode, as mainline's
/// `fuse_entry_unlinked`: pjdfstest's unlink::update_ctime_success and
/// rename::to_multiply_linked check it on a file with other links).
fn entry_unlinked(conn: &Connection, dentry: &Dentry) {
    dentry.set_expiry(0);
    if let Some(inode) = dentry.inode() {
        if inode.kind() == Kind::Dir {
            inode.clear_nlink();
        } else {
            inode.drop_nlink();
        }
        inode.data().invalidate_attrs(conn);
        finode::ctime_changed(inode, conn);
    }
}

/// `inode_operations.rename`: RENAME, or RENAME2 with `flags`
/// (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `RENAME_WHITEOUT`), as mainline:
/// EINVAL for flags the server cannot take.
pub(crate) fn rename(
    old_dir: &Inode,
    old: &Dentry,
    new_dir: &Inode,
    new: &Dentry,
    flags: u32,
) -> Result {
    old_dir.data().check()?;
    let conn = old_dir.sb().data();
    let known = rflags::RENAME_NOREPLACE | rflags::RENAME_EXCHANGE | rflags::RENAME_WHITEOUT;
    if flags & !known != 0 {
        return Err(EINVAL);
    }
    // RENAME's argument is the first field of RENAME2's.
    let arg = abi::fuse_rename2_in {
        newdir: new_dir.data().nodeid(),
        flags,
        padding: 0,
    };
    let (op, len) = if flags == 0 {
        (
            abi::fuse_opcode_FUSE_RENAME,
            size_of::<abi::fuse_rename_in>(),
        )
    } else {
        if conn.is_enosys(abi::fuse_opcode_FUSE_RENAME2) || conn.params().minor < 23 {
            return Err(EINVAL);
        }
        (
            abi::fuse_opcode_FUSE_RENAME2,
            size_of::<abi::fuse_rename2_in>(),
        )
    };
    let argb = pod::bytes_of(&arg).get(..len).ok_or(EINVAL)?;
    let (oz, nz) = (name_z(old.name())?, name_z(new.name())?);
    let r = conn.request(
        op,
        old_dir.data().nodeid(),
        &[argb, &oz, &nz],
        ReplyKind::Empty,
    );
    match r {
        Ok(_) => {
            let exchange = flags & rflags::RENAME_EXCHANGE != 0;
            if let Some(inode) = old.inode() {
                finode::ctime_changed(inode, &conn);
            }
            if exchange {
                if let Some(inode) = new.inode() {
                    finode::ctime_changed(inode, &conn);
                }
            }
            old_dir.data().invalidate_attrs(&conn);
            if !core::ptr::eq(old_dir, new_dir) {
                new_dir.data().invalidate_attrs(&conn);
            }
            // The name `new` pointed to is replaced (unless exchanged).
            if !exchange && new.inode().is_some() {
                entry_unlinked(&conn, new);
            }
            Ok(())
        }
        Err(e) if e == vfs::enosys() && op == abi::fuse_opcode_FUSE_RENAME2 => Err(EINVAL),
        Err(e) => {
            if maybe_done(e) {
                invalidate_entry(old);
                if new.inode().is_some() {
                    invalidate_entry(new);
                }
            }
            Err(e)
        }
    }
}
