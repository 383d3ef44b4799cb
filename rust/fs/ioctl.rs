// SPDX-License-Identifier: GPL-2.0

//! IOCTL on regular files and directories (FUSE_IOCTL_DIR; servers of
//! protocol 7.18 on), restricted as mainline restricts it for FUSE
//! filesystems: the command's `_IOC_SIZE` and direction say what is copied
//! from the caller's memory to the server and back; nothing else of the
//! caller's memory is reachable. ENOSYS from the server is ENOTTY.

use super::{dir, File};
use crate::abi;
use crate::proto::{ioctl as wire, pod, reply::ReplyKind};
use crate::vfs::{self, inode::Kind};
use core::mem::size_of;
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

/// `file_operations.unlocked_ioctl`.
pub(crate) fn ioctl(file: &File, cmd: u32, arg: usize) -> Result<i32> {
    let inode = file.inode();
    let conn = inode.sb().data();
    if !dir::allow_current(&conn) {
        return Err(EACCES);
    }
    inode.data().check()?;
    let dir = inode.kind() == Kind::Dir;
    if dir && conn.params().minor < 18 {
        return Err(ENOTTY);
    }
    let fh = file.data().ok_or(EIO)?.fh;
    let arg_in = wire::ioctl_in(fh, dir, cmd, arg as u64);
    let in_size = usize::try_from(arg_in.in_size).map_err(|_| EINVAL)?;
    let out_size = usize::try_from(arg_in.out_size).map_err(|_| EINVAL)?;
    let mut data = KVec::new();
    if in_size > 0 {
        UserSlice::new(arg, in_size).read_all(&mut data, GFP_KERNEL)?;
    }
    let reply = conn.request(
        abi::fuse_opcode_FUSE_IOCTL,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg_in), &data],
        ReplyKind::Ioctl { out: out_size },
    );
    let reply = match reply {
        Ok(r) => r,
        Err(e) if e == vfs::enosys() => return Err(ENOTTY),
        Err(e) => return Err(e),
    };
    // Validated by `proto::reply`: a result, and at most `out_size` bytes.
    let out = pod::read::<abi::fuse_ioctl_out>(&reply).ok_or(EIO)?;
    let back = reply
        .get(size_of::<abi::fuse_ioctl_out>()..)
        .unwrap_or_default();
    if !back.is_empty() {
        UserSlice::new(arg, back.len()).writer().write_slice(back)?;
    }
    if out.result < 0 {
        return Err(Error::from_errno(out.result));
    }
    Ok(out.result)
}
