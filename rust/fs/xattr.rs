// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: GETXATTR, SETXATTR (the extended argument when the
//! server takes FUSE_SETXATTR_EXT), LISTXATTR and REMOVEXATTR, as mainline
//! `fs/fuse/xattr.c`. A server without one of them (ENOSYS) is not asked
//! again: the caller gets EOPNOTSUPP from then on.

use super::names::name_z;
use super::Inode;
use crate::abi;
use crate::conn::Connection;
use crate::proto::{pod, reply::ReplyKind};
use crate::vfs;
use core::mem::size_of;
use kernel::prelude::*;

/// Largest value or list (the VFS's `XATTR_SIZE_MAX`, `XATTR_LIST_MAX`).
const XATTR_MAX: usize = 65536;

/// `op` failed with `e`: ENOSYS (remembered by the connection) becomes
/// EOPNOTSUPP.
fn xattr_err(e: Error) -> Error {
    if e == vfs::enosys() {
        vfs::eopnotsupp()
    } else {
        e
    }
}

/// GETXATTR or LISTXATTR (`op`, with `args` after the size): the value
/// into `buf`, or its size for an empty `buf`.
pub(super) fn get_value(
    conn: &Connection,
    inode: &Inode,
    op: u32,
    name: Option<&[u8]>,
    buf: &mut [u8],
) -> Result<usize> {
    if conn.is_enosys(op) {
        return Err(vfs::eopnotsupp());
    }
    let max = buf.len().min(XATTR_MAX);
    // CAST: at most XATTR_MAX.
    let arg = abi::fuse_getxattr_in {
        size: max as u32,
        padding: 0,
    };
    let z = match name {
        Some(n) => Some(name_z(n)?),
        None => None,
    };
    let kind = match (max, op) {
        (0, _) => ReplyKind::XattrSize,
        (_, abi::fuse_opcode_FUSE_LISTXATTR) => ReplyKind::XattrList { max },
        _ => ReplyKind::Data { max },
    };
    let args: [&[u8]; 2] = [pod::bytes_of(&arg), z.as_deref().unwrap_or(&[])];
    let n_args = if z.is_some() { 2 } else { 1 };
    let reply = conn
        .request(
            op,
            inode.data().nodeid(),
            args.get(..n_args).unwrap_or(&[]),
            kind,
        )
        .map_err(xattr_err)?;
    if max == 0 {
        let out = pod::read_exact::<abi::fuse_getxattr_out>(&reply).ok_or(EIO)?;
        // As mainline: the size is clamped to what the VFS can take.
        return Ok((out.size as usize).min(XATTR_MAX));
    }
    let dst = buf.get_mut(..reply.len()).ok_or(ERANGE)?;
    dst.copy_from_slice(&reply);
    Ok(reply.len())
}

/// `xattr_handler.get`: GETXATTR of `name`.
pub(crate) fn getxattr(inode: &Inode, name: &[u8], buf: &mut [u8]) -> Result<usize> {
    inode.data().check()?;
    let conn = inode.sb().data();
    get_value(
        &conn,
        inode,
        abi::fuse_opcode_FUSE_GETXATTR,
        Some(name),
        buf,
    )
}

/// `inode_operations.listxattr`: LISTXATTR (only for the mounting user,
/// unless `allow_other`, as mainline).
pub(crate) fn listxattr(inode: &Inode, buf: &mut [u8]) -> Result<usize> {
    inode.data().check()?;
    let conn = inode.sb().data();
    if !super::dir::allow_current(&conn) {
        return Err(EACCES);
    }
    get_value(&conn, inode, abi::fuse_opcode_FUSE_LISTXATTR, None, buf)
}

/// `xattr_handler.set`: SETXATTR of `name` to `value` with `flags`, or
/// REMOVEXATTR (no value).
pub(crate) fn setxattr(inode: &Inode, name: &[u8], value: Option<&[u8]>, flags: u32) -> Result {
    inode.data().check()?;
    let conn = inode.sb().data();
    set_value(&conn, inode, name, value, flags, 0)
}

/// SETXATTR of `name` to `value` with `flags` and `setxattr_flags`
/// (`FUSE_SETXATTR_*`: only servers with FUSE_SETXATTR_EXT get them), or
/// REMOVEXATTR (no value).
pub(super) fn set_value(
    conn: &Connection,
    inode: &Inode,
    name: &[u8],
    value: Option<&[u8]>,
    flags: u32,
    setxattr_flags: u32,
) -> Result {
    let z = name_z(name)?;
    let nodeid = inode.data().nodeid();
    let r = match value {
        Some(v) => {
            let op = abi::fuse_opcode_FUSE_SETXATTR;
            if conn.is_enosys(op) {
                return Err(vfs::eopnotsupp());
            }
            let arg = abi::fuse_setxattr_in {
                size: u32::try_from(v.len()).map_err(|_| E2BIG)?,
                flags,
                setxattr_flags,
                padding: 0,
            };
            // Without FUSE_SETXATTR_EXT the argument is the old 8 bytes.
            let len = if conn.params().has(u64::from(abi::FUSE_SETXATTR_EXT)) {
                size_of::<abi::fuse_setxattr_in>()
            } else {
                abi::FUSE_COMPAT_SETXATTR_IN_SIZE as usize
            };
            let argb = pod::bytes_of(&arg).get(..len).ok_or(EINVAL)?;
            conn.request(op, nodeid, &[argb, &z, v], ReplyKind::Empty)
        }
        None => {
            let op = abi::fuse_opcode_FUSE_REMOVEXATTR;
            if conn.is_enosys(op) {
                return Err(vfs::eopnotsupp());
            }
            conn.request(op, nodeid, &[&z], ReplyKind::Empty)
        }
    };
    r.map_err(xattr_err)?;
    // The attributes may change with it (ACLs, capabilities), and ctime.
    inode.data().invalidate_attrs(conn);
    super::inode::ctime_changed(inode, conn);
    Ok(())
}
