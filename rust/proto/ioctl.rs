// SPDX-License-Identifier: GPL-2.0

//! IOCTL in the restricted form mainline uses for FUSE filesystems (not
//! CUSE): the command number alone says how many bytes go to the server
//! and come back; the server cannot ask for other memory (RETRY).

use super::ProtoError;
use crate::abi;
use core::mem::size_of;

/// Bit layout of an ioctl command (asm-generic; `vfs` checks it against
/// the kernel's at build time).
pub(crate) const IOC_SIZESHIFT: u32 = 16;
/// Width of the size field.
pub(crate) const IOC_SIZEBITS: u32 = 14;
/// Position of the direction bits.
pub(crate) const IOC_DIRSHIFT: u32 = 30;
/// Direction: userspace writes (data goes to the server).
pub(crate) const IOC_WRITE: u32 = 1;
/// Direction: userspace reads (data comes back).
pub(crate) const IOC_READ: u32 = 2;

/// The bytes a restricted ioctl `cmd` sends to the server and takes back:
/// `_IOC_SIZE(cmd)` for `_IOC_WRITE` and for `_IOC_READ`.
pub(crate) fn sizes(cmd: u32) -> (u32, u32) {
    let size = (cmd >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1);
    let dir = cmd >> IOC_DIRSHIFT;
    let in_size = if dir & IOC_WRITE != 0 { size } else { 0 };
    let out_size = if dir & IOC_READ != 0 { size } else { 0 };
    (in_size, out_size)
}

/// The argument of IOCTL `cmd` with the user's `arg`, on handle `fh` (of
/// a directory: `dir`, FUSE_IOCTL_DIR).
pub(crate) fn ioctl_in(fh: u64, dir: bool, cmd: u32, arg: u64) -> abi::fuse_ioctl_in {
    let (in_size, out_size) = sizes(cmd);
    abi::fuse_ioctl_in {
        fh,
        flags: if dir { abi::FUSE_IOCTL_DIR } else { 0 },
        cmd,
        arg,
        in_size,
        out_size,
    }
}

/// Largest negative result accepted (an errno).
const MAX_ERRNO: i32 = 4095;

/// Checks an IOCTL reply expecting at most `out_size` bytes back: the
/// result is a value or an errno, no RETRY (restricted), data no larger
/// than asked for.
pub(crate) fn check_reply(payload: &[u8], out_size: usize) -> Result<(), ProtoError> {
    let out: abi::fuse_ioctl_out = super::pod::read(payload).ok_or(ProtoError::BadSize)?;
    let data = payload
        .len()
        .saturating_sub(size_of::<abi::fuse_ioctl_out>());
    if data > out_size {
        return Err(ProtoError::BadSize);
    }
    if out.flags != 0 || out.in_iovs != 0 || out.out_iovs != 0 {
        return Err(ProtoError::BadFlags);
    }
    if out.result < -MAX_ERRNO {
        return Err(ProtoError::BadErrno);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::pod;

    // _IOR('E', 0, size_t), _IOW('E', 1, size_t), _IO('E', 2),
    // _IOWR('E', 3, [u8; 100]) on x86-64.
    const IOR: u32 = (2 << 30) | (8 << 16) | (0x45 << 8);
    const IOW: u32 = (1 << 30) | (8 << 16) | (0x45 << 8) | 1;
    const IO: u32 = (0x45 << 8) | 2;
    const IOWR: u32 = (3 << 30) | (100 << 16) | (0x45 << 8) | 3;

    #[test]
    fn sizes_from_the_command() {
        assert_eq!(sizes(IOR), (0, 8));
        assert_eq!(sizes(IOW), (8, 0));
        assert_eq!(sizes(IO), (0, 0));
        assert_eq!(sizes(IOWR), (100, 100));
        assert_eq!(sizes(u32::MAX), (16383, 16383));
        let a = ioctl_in(4, false, IOW, 0x7fff_0000);
        assert_eq!(
            (a.fh, a.cmd, a.arg, a.in_size, a.out_size, a.flags),
            (4, IOW, 0x7fff_0000, 8, 0, 0)
        );
        assert_eq!(ioctl_in(4, true, IOR, 0).flags, abi::FUSE_IOCTL_DIR);
    }

    fn reply(result: i32, flags: u32, data: &[u8]) -> Vec<u8> {
        let o = abi::fuse_ioctl_out {
            result,
            flags,
            in_iovs: 0,
            out_iovs: 0,
        };
        let mut v = pod::bytes_of(&o).to_vec();
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn replies() {
        assert_eq!(check_reply(&reply(0, 0, &[1; 8]), 8), Ok(()));
        assert_eq!(check_reply(&reply(7, 0, &[]), 0), Ok(()));
        assert_eq!(check_reply(&reply(-22, 0, &[]), 8), Ok(()));
        assert_eq!(
            check_reply(&reply(0, 0, &[1; 9]), 8),
            Err(ProtoError::BadSize)
        );
        assert_eq!(check_reply(&[0; 8], 8), Err(ProtoError::BadSize));
        assert_eq!(
            check_reply(&reply(0, abi::FUSE_IOCTL_RETRY, &[]), 8),
            Err(ProtoError::BadFlags)
        );
        assert_eq!(
            check_reply(&reply(-5000, 0, &[]), 8),
            Err(ProtoError::BadErrno)
        );
    }
}
