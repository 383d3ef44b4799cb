// SPDX-License-Identifier: GPL-2.0

//! Validation of the attributes a server reports.

use super::ProtoError;
use crate::abi;

/// File type bits of a mode (`S_IFMT`).
pub(crate) const S_IFMT: u32 = 0o170000;

/// log2 of the block size an inode reports: the server's `blksize` if it
/// is a power of two, else the mount's `blksize=` option, else `default`.
pub(crate) fn blkbits(server: u32, option: Option<u32>, default: u8) -> u8 {
    // CAST: log2 of a u32 is below 32.
    if server != 0 && server.is_power_of_two() {
        server.trailing_zeros() as u8
    } else if let Some(b) = option {
        b.trailing_zeros() as u8
    } else {
        default
    }
}

/// Whether modes `a` and `b` are of the same file type. A node whose type
/// changed on the server is a new file to the kernel.
pub(crate) fn same_type(a: u32, b: u32) -> bool {
    a & S_IFMT == b & S_IFMT
}
/// Directory.
pub(crate) const S_IFDIR: u32 = 0o040000;
/// Regular file.
pub(crate) const S_IFREG: u32 = 0o100000;
/// Symbolic link.
pub(crate) const S_IFLNK: u32 = 0o120000;
/// Character device.
pub(crate) const S_IFCHR: u32 = 0o020000;
/// Block device.
pub(crate) const S_IFBLK: u32 = 0o060000;
/// FIFO.
pub(crate) const S_IFIFO: u32 = 0o010000;
/// Socket.
pub(crate) const S_IFSOCK: u32 = 0o140000;

/// The node id of the root directory.
pub(crate) const ROOT_ID: u64 = abi::FUSE_ROOT_ID as u64;

const NSEC_PER_SEC: u32 = 1_000_000_000;

/// A kernel device number (`dev_t`: 12-bit major, 20-bit minor) in the
/// encoding the wire carries (`new_encode_dev`: minor's low 8 bits, major,
/// then the minor's high 12 bits).
pub(crate) fn encode_dev(dev: u32) -> u32 {
    let (major, minor) = (dev >> 20, dev & 0xfffff);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// Whether `mode` names one of the seven file types.
pub(crate) fn valid_type(mode: u32) -> bool {
    matches!(
        mode & S_IFMT,
        S_IFDIR | S_IFREG | S_IFLNK | S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK
    )
}

/// Checks attributes from the server: a known file type, a size that fits
/// `loff_t`, and normalised timestamps.
pub(crate) fn validate(attr: &abi::fuse_attr) -> Result<(), ProtoError> {
    if !valid_type(attr.mode) || attr.size > i64::MAX as u64 {
        return Err(ProtoError::BadAttr);
    }
    if attr.atimensec >= NSEC_PER_SEC
        || attr.mtimensec >= NSEC_PER_SEC
        || attr.ctimensec >= NSEC_PER_SEC
    {
        return Err(ProtoError::BadAttr);
    }
    Ok(())
}

/// The `d_type` (`DT_*`) of a mode.
pub(crate) fn dtype_of_mode(mode: u32) -> u32 {
    (mode & S_IFMT) >> 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_bits() {
        assert_eq!(blkbits(4096, Some(512), 12), 12);
        assert_eq!(blkbits(65536, None, 12), 16);
        assert_eq!(blkbits(1000, Some(512), 12), 9);
        assert_eq!(blkbits(0, None, 12), 12);
    }

    #[test]
    fn file_types() {
        assert!(same_type(S_IFREG | 0o644, S_IFREG | 0o600));
        assert!(!same_type(S_IFREG | 0o644, S_IFDIR | 0o644));
        assert!(!same_type(S_IFLNK, S_IFSOCK));
    }

    fn attr(mode: u32) -> abi::fuse_attr {
        abi::fuse_attr {
            mode,
            ..Default::default()
        }
    }

    #[test]
    fn types() {
        for t in [
            S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK,
        ] {
            assert!(validate(&attr(t | 0o644)).is_ok());
        }
        assert_eq!(validate(&attr(0o644)), Err(ProtoError::BadAttr));
        assert_eq!(validate(&attr(0o170644)), Err(ProtoError::BadAttr));
        assert_eq!(dtype_of_mode(S_IFDIR | 0o755), 4);
        assert_eq!(dtype_of_mode(S_IFREG), 8);
    }

    #[test]
    fn size_and_times() {
        let mut a = attr(S_IFREG);
        a.size = i64::MAX as u64;
        assert!(validate(&a).is_ok());
        a.size = 1 << 63;
        assert_eq!(validate(&a), Err(ProtoError::BadAttr));
        let mut a = attr(S_IFREG);
        a.mtimensec = 999_999_999;
        assert!(validate(&a).is_ok());
        a.mtimensec = 2_000_000_000;
        assert_eq!(validate(&a), Err(ProtoError::BadAttr));
        let mut a = attr(S_IFREG);
        a.ctimensec = 1_000_000_000;
        assert_eq!(validate(&a), Err(ProtoError::BadAttr));
    }

    #[test]
    fn device_numbers() {
        // MKDEV(major, minor) = major << 20 | minor.
        let mkdev = |major: u32, minor: u32| (major << 20) | minor;
        // Small numbers look like the old 16-bit encoding.
        assert_eq!(encode_dev(mkdev(8, 1)), 0x0801);
        assert_eq!(encode_dev(mkdev(1, 3)), 0x0103);
        // Large minors put their high bits above the major.
        assert_eq!(encode_dev(mkdev(0xfff, 0xfffff)), 0xffff_ffff);
        assert_eq!(encode_dev(mkdev(0, 0x100)), 0x10_0000);
        assert_eq!(encode_dev(mkdev(0x123, 0x45)), 0x12345);
        assert_eq!(encode_dev(0), 0);
    }
}
