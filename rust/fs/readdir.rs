// SPDX-License-Identifier: GPL-2.0

//! Directory listing: READDIR, and READDIRPLUS when the server offers it.
//!
//! READDIRPLUS hands out a lookup of every entry it names (node id != 0):
//! each one becomes a dentry and inode with fresh attributes, or is given
//! back with FORGET, whether or not it fitted in the caller's buffer.

use super::inode;
use super::{Child, Dentry, File};
use crate::abi;
use crate::proto::{attr, dirent, pod, reply::ReplyKind, time};
use crate::vfs::{self, file::DirEmitter};
use kernel::prelude::*;

/// `file_operations.iterate_shared`: one READDIR(PLUS) from the current
/// offset; entries are emitted until the user buffer is full, and the offset
/// moves past the last one emitted.
pub(crate) fn readdir(file: &File, ctx: &mut DirEmitter) -> Result {
    let inode = file.inode();
    inode.data().check()?;
    let ff = file.data().ok_or(EIO)?;
    let conn = inode.sb().data();
    let plus = conn.params().has(u64::from(abi::FUSE_DO_READDIRPLUS))
        && !conn.is_enosys(abi::fuse_opcode_FUSE_READDIRPLUS);
    let size = vfs::PAGE_SIZE;
    let arg = abi::fuse_read_in {
        fh: ff.fh,
        offset: u64::try_from(ctx.pos()).map_err(|_| EINVAL)?,
        // CAST: a page fits u32.
        size: size as u32,
        read_flags: 0,
        lock_owner: 0,
        flags: ff.flags,
        padding: 0,
    };
    let op = if plus {
        abi::fuse_opcode_FUSE_READDIRPLUS
    } else {
        abi::fuse_opcode_FUSE_READDIR
    };
    let kind = ReplyKind::Dirents { max: size, plus };
    let _dirops = inode::lock_dir(inode, &conn)?;
    let version = conn.attr_version();
    let reply = conn.request(op, inode.data().nodeid(), &[pod::bytes_of(&arg)], kind);
    inode::invalidate_atime(inode);
    let reply = reply?;
    let mut full = false;
    for d in dirent::iter(&reply, plus) {
        // The reply was validated when it arrived; this cannot fail.
        let d = d.map_err(|_| EIO)?;
        if !full {
            if ctx.emit(d.name, d.ino, d.typ) {
                ctx.set_pos(i64::try_from(d.off).map_err(|_| EIO)?);
            } else {
                full = true;
            }
        }
        if let Some(e) = d.entry {
            if e.nodeid != 0
                && d.name != b"."
                && d.name != b".."
                && link(file.dentry(), &e, d.name, version).is_err()
            {
                conn.forget(e.nodeid, 1);
            }
        }
        if full && !plus {
            break;
        }
    }
    Ok(())
}

/// Makes (or refreshes) the dentry and inode of a READDIRPLUS entry; on
/// error the caller returns the lookup with FORGET.
fn link(parent: &Dentry, e: &abi::fuse_entry_out, name: &[u8], version: u64) -> Result {
    let dir = parent.inode().ok_or(EIO)?;
    let expiry = time::expiry(vfs::jiffies(), e.entry_valid, e.entry_valid_nsec, vfs::HZ);
    // A cached name that is negative or names another node is dropped and
    // the entry linked afresh (mainline's `fuse_direntplus_link` retries
    // the same way); a second stale one (another task raced) gives up.
    for _ in 0..2 {
        match parent.child(name)? {
            Child::Existing(d) => {
                if let Some(i) = d.inode() {
                    if i.data().nodeid() == e.nodeid && attr::same_type(i.mode(), e.attr.mode) {
                        i.data().inc_nlookup();
                        inode::change_attributes(
                            i,
                            &e.attr,
                            e.attr_valid,
                            e.attr_valid_nsec,
                            version,
                        );
                        d.set_expiry(expiry);
                        return Ok(());
                    }
                }
                d.invalidate();
            }
            Child::New(nc) => {
                let i = inode::iget_entry(dir.sb(), e, version)?;
                let d = nc.splice(i)?;
                d.set_expiry(expiry);
                return Ok(());
            }
        }
    }
    Err(vfs::estale())
}
