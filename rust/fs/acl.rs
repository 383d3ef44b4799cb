// SPDX-License-Identifier: GPL-2.0

//! POSIX ACLs and the umask of new nodes, as mainline `fs/fuse/acl.c` and
//! `fs/fuse/dir.c`. The server stores ACLs as the extended attributes
//! `system.posix_acl_access` and `system.posix_acl_default`.
//!
//! - A server with FUSE_POSIX_ACL has the kernel enforce them: permissions
//!   are checked by the kernel (`default_permissions` is implied), the VFS
//!   caches each inode's ACLs until its attributes are refreshed, and
//!   setting an ACL asks the server to clear sgid when the caller is
//!   neither in the file's group nor has CAP_FSETID
//!   (FUSE_SETXATTR_ACL_KILL_SGID). The server updates the mode itself.
//! - Without it, getfacl and setfacl only pass through to the server (which
//!   may enforce them itself): never cached, never used for a check. That
//!   is what servers from before FUSE_POSIX_ACL expect. (The cost: the
//!   permission check of someone other than the owner cannot be answered
//!   in an RCU path walk, which goes on as a ref walk. Mainline has the
//!   same until an inode's first attribute refresh, after which it caches
//!   "no ACL" in the slot getfacl reads too.)
//!
//! The VFS leaves the umask to a filesystem with ACLs (`SB_POSIXACL`):
//! [`create_mode`] applies it to a new node's mode unless the server
//! agreed to FUSE_DONT_MASK (it applies it, or a default ACL, itself),
//! and the umask travels with MKNOD, MKDIR and CREATE either way.

use super::{xattr, Inode};
use crate::abi;
use crate::conn::Connection;
use crate::vfs::{
    self,
    acl::{Acl, AclType, PosixAcl},
};
use kernel::prelude::*;

/// Largest ACL exchanged in extended-attribute form (as mainline: a page,
/// about 500 entries).
const ACL_MAX: usize = vfs::PAGE_SIZE;

/// Whether the server's ACLs are kept away from the caller: a server
/// without FUSE_POSIX_ACL in a mount outside the initial user namespace
/// (its ids would not mean the same; mainline's `fuse_no_acl`).
fn no_acl(conn: &Connection) -> bool {
    !conn.params().posix_acl() && !conn.user_ns.is_initial()
}

/// `inode_operations.get_inode_acl`: the ACL the VFS checks permissions
/// with; none unless the server enforces ACLs through the kernel.
pub(crate) fn get_inode_acl(inode: &Inode, ty: AclType, rcu: bool) -> Result<Option<PosixAcl>> {
    let conn = inode.sb().data();
    if !conn.params().posix_acl() {
        return Ok(None);
    }
    if rcu {
        return Err(ECHILD);
    }
    fetch(&conn, inode, ty)
}

/// `inode_operations.get_acl`: the ACL for getxattr(2).
pub(crate) fn get_acl(inode: &Inode, ty: AclType) -> Result<Option<PosixAcl>> {
    let conn = inode.sb().data();
    if no_acl(&conn) {
        return Err(vfs::eopnotsupp());
    }
    fetch(&conn, inode, ty)
}

/// GETXATTR of the ACL's attribute, decoded; none if the server has none
/// (or no GETXATTR at all).
fn fetch(conn: &Connection, inode: &Inode, ty: AclType) -> Result<Option<PosixAcl>> {
    inode.data().check()?;
    let op = abi::fuse_opcode_FUSE_GETXATTR;
    if conn.is_enosys(op) {
        return Ok(None);
    }
    let mut buf = KVec::new();
    buf.extend_with(ACL_MAX, 0u8, GFP_KERNEL)?;
    match xattr::get_value(conn, inode, op, Some(ty.xattr_name()), &mut buf) {
        Ok(n) => match buf.get(..n) {
            Some([]) => Ok(None),
            Some(value) => PosixAcl::from_xattr(&conn.user_ns, value),
            None => Err(EIO),
        },
        Err(e) if e == vfs::enodata() => Ok(None),
        // The server just answered ENOSYS.
        Err(e) if e == vfs::eopnotsupp() && conn.is_enosys(op) => Ok(None),
        // Larger than an ACL may be here.
        Err(e) if e == ERANGE => Err(E2BIG),
        Err(e) => Err(e),
    }
}

/// `inode_operations.set_acl`: SETXATTR of the ACL's attribute, or
/// REMOVEXATTR for `None`.
pub(crate) fn set_acl(inode: &Inode, acl: Option<&Acl>, ty: AclType) -> Result {
    inode.data().check()?;
    let conn = inode.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_SETXATTR) || no_acl(&conn) {
        return Err(vfs::eopnotsupp());
    }
    let enforced = conn.params().posix_acl();
    let r = match acl {
        Some(acl) => {
            let value = acl.to_xattr(&conn.user_ns)?;
            if value.len() > ACL_MAX {
                return Err(E2BIG);
            }
            // Servers without FUSE_POSIX_ACL never had sgid cleared for
            // them, and do not expect it.
            let kill = if enforced && !inode.caller_in_group_or_capable() {
                abi::FUSE_SETXATTR_ACL_KILL_SGID
            } else {
                0
            };
            xattr::set_value(&conn, inode, ty.xattr_name(), Some(&value), 0, kill)
        }
        None => xattr::set_value(&conn, inode, ty.xattr_name(), None, 0, 0),
    };
    if enforced {
        // The server may have changed the mode along with the ACL, or
        // failed half-way: both are asked again.
        inode.forget_cached_acls();
        inode.data().invalidate_attrs(&conn);
    }
    r
}

/// The mode to send for a new node the caller asked `mode` for, and the
/// umask to send with it (see the module documentation).
pub(crate) fn create_mode(conn: &Connection, mode: u32) -> (u32, u32) {
    let umask = vfs::cred::current_umask();
    if conn.params().dont_mask() {
        (mode, umask)
    } else {
        (mode & !umask, umask)
    }
}

/// Drops the ACLs cached for `inode`: its attributes are being taken from
/// the server afresh, or may have changed there, and its ACLs with them
/// (mainline forgets them wherever it refreshes attributes). Nothing to do
/// where the VFS never caches them.
pub(crate) fn forget_cached(conn: &Connection, inode: &Inode) {
    if conn.params().posix_acl() {
        inode.forget_cached_acls();
    }
}
