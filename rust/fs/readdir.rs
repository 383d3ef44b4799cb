// SPDX-License-Identifier: GPL-2.0

//! Directory listing: READDIR.

use crate::abi;
use crate::proto::{dirent, pod, reply::ReplyKind};
use crate::vfs::{
    self,
    file::{DirEmitter, File},
};
use kernel::prelude::*;

/// `file_operations.iterate_shared`: one READDIR from the current offset;
/// entries are emitted until the user buffer is full, and the offset moves
/// past the last one emitted.
pub(crate) fn readdir(file: &File, ctx: &mut DirEmitter) -> Result {
    let inode = file.inode();
    inode.fuse().check()?;
    let ff = file.fuse().ok_or(EIO)?;
    let conn = inode.sb().conn();
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
    let reply = conn.request(
        abi::fuse_opcode_FUSE_READDIR,
        inode.fuse().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Dirents {
            max: size,
            plus: false,
        },
    )?;
    for d in dirent::iter(&reply, false) {
        // The reply was validated when it arrived; this cannot fail.
        let d = d.map_err(|_| EIO)?;
        if !ctx.emit(d.name, d.ino, d.typ) {
            break;
        }
        ctx.set_pos(i64::try_from(d.off).map_err(|_| EIO)?);
    }
    Ok(())
}
