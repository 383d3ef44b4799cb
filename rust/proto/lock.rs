// SPDX-License-Identifier: GPL-2.0

//! Locks on the wire: lock-owner ids, the arguments of GETLK, SETLK and
//! SETLKW, and GETLK's answer.

use super::ProtoError;
use crate::abi;

/// Lock types of `struct flock`, as the wire carries them (the kernel's
/// `F_RDLCK`, `F_WRLCK`, `F_UNLCK`: asm-generic values; `vfs` checks them
/// against the kernel's at build time).
pub(crate) const F_RDLCK: u32 = 0;
/// A write (exclusive) lock.
pub(crate) const F_WRLCK: u32 = 1;
/// No lock (an unlock, or "no conflict" in GETLK's answer).
pub(crate) const F_UNLCK: u32 = 2;

/// Largest file offset (`OFFSET_MAX`): the end of a lock to end of file.
pub(crate) const OFFSET_MAX: u64 = i64::MAX as u64;

/// The per-connection secret that [`owner_id`] scrambles with.
pub(crate) type OwnerKey = [u32; 4];

/// The id the server sees for lock owner `id` (a kernel address: the
/// `files_struct` of a POSIX lock's process, the `struct file` of a flock
/// or OFD lock): mainline's `fuse_lock_owner_id`, XTEA encryption with the
/// connection's random key. Equal owners get equal ids, different owners
/// different ids, and the server never learns a kernel address.
pub(crate) fn owner_id(key: &OwnerKey, id: u64) -> u64 {
    // CAST: the two halves of `id`.
    let mut v0 = id as u32;
    let mut v1 = (id >> 32) as u32;
    let mut sum: u32 = 0;
    for _ in 0..32 {
        let k0 = key[(sum & 3) as usize];
        v0 = v0.wrapping_add(((v1 << 4) ^ (v1 >> 5)).wrapping_add(v1) ^ sum.wrapping_add(k0));
        sum = sum.wrapping_add(0x9E37_79B9);
        let k1 = key[((sum >> 11) & 3) as usize];
        v1 = v1.wrapping_add(((v0 << 4) ^ (v0 >> 5)).wrapping_add(v0) ^ sum.wrapping_add(k1));
    }
    u64::from(v0) | (u64::from(v1) << 32)
}

/// A byte-range lock: `start..=end` (`end` [`OFFSET_MAX`]: to end of file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lock {
    /// [`F_RDLCK`], [`F_WRLCK`] or [`F_UNLCK`].
    pub(crate) typ: u32,
    /// First byte.
    pub(crate) start: u64,
    /// Last byte.
    pub(crate) end: u64,
    /// The holder's (or asker's) process id in the server's pid namespace.
    pub(crate) pid: u32,
}

/// The argument of GETLK, SETLK or SETLKW on handle `fh` for the owner id
/// `owner` ([`owner_id`]); `flock`: a flock(2) lock (whole file, owned by
/// the open file).
pub(crate) fn lk_in(fh: u64, owner: u64, lock: &Lock, flock: bool) -> abi::fuse_lk_in {
    abi::fuse_lk_in {
        fh,
        owner,
        lk: abi::fuse_file_lock {
            start: lock.start,
            end: lock.end,
            type_: lock.typ,
            pid: lock.pid,
        },
        lk_flags: if flock { abi::FUSE_LK_FLOCK } else { 0 },
        padding: 0,
    }
}

/// GETLK's answer: `None` when nothing conflicts, else the conflicting
/// lock (mainline's `convert_fuse_file_lock`: a known type, and a range
/// the kernel can represent).
pub(crate) fn getlk_answer(out: &abi::fuse_lk_out) -> Result<Option<Lock>, ProtoError> {
    let lk = &out.lk;
    match lk.type_ {
        F_UNLCK => Ok(None),
        F_RDLCK | F_WRLCK => {
            if lk.start > OFFSET_MAX || lk.end > OFFSET_MAX || lk.end < lk.start {
                return Err(ProtoError::BadLock);
            }
            Ok(Some(Lock {
                typ: lk.type_,
                start: lk.start,
                end: lk.end,
                pid: lk.pid,
            }))
        }
        _ => Err(ProtoError::BadLock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(type_: u32, start: u64, end: u64) -> abi::fuse_lk_out {
        abi::fuse_lk_out {
            lk: abi::fuse_file_lock {
                start,
                end,
                type_,
                pid: 42,
            },
        }
    }

    #[test]
    fn owner_ids() {
        let key = [0x0123_4567, 0x89ab_cdef, 0xfedc_ba98, 0x7654_3210];
        let a = owner_id(&key, 0xffff_8880_1234_5678);
        // Deterministic, hides the address, and distinct for distinct ids.
        assert_eq!(a, owner_id(&key, 0xffff_8880_1234_5678));
        assert_ne!(a, 0xffff_8880_1234_5678);
        assert_ne!(a, owner_id(&key, 0xffff_8880_1234_5680));
        assert_ne!(a, owner_id(&[1, 2, 3, 4], 0xffff_8880_1234_5678));
        // XTEA's published vector (key 0, plaintext 0: dee9d4d8 f7131ed9).
        assert_eq!(owner_id(&[0; 4], 0), 0xf713_1ed9_dee9_d4d8);
    }

    #[test]
    fn arguments() {
        let l = Lock {
            typ: F_WRLCK,
            start: 10,
            end: OFFSET_MAX,
            pid: 7,
        };
        let a = lk_in(3, 99, &l, true);
        assert_eq!((a.fh, a.owner, a.lk_flags), (3, 99, abi::FUSE_LK_FLOCK));
        assert_eq!(
            (a.lk.start, a.lk.end, a.lk.type_, a.lk.pid),
            (10, OFFSET_MAX, 1, 7)
        );
        assert_eq!(lk_in(3, 99, &l, false).lk_flags, 0);
    }

    #[test]
    fn answers() {
        assert_eq!(getlk_answer(&out(F_UNLCK, 5, 1)), Ok(None));
        assert_eq!(
            getlk_answer(&out(F_RDLCK, 0, OFFSET_MAX)),
            Ok(Some(Lock {
                typ: F_RDLCK,
                start: 0,
                end: OFFSET_MAX,
                pid: 42
            }))
        );
        assert_eq!(getlk_answer(&out(F_WRLCK, 9, 8)), Err(ProtoError::BadLock));
        assert_eq!(
            getlk_answer(&out(F_WRLCK, 0, OFFSET_MAX + 1)),
            Err(ProtoError::BadLock)
        );
        assert_eq!(
            getlk_answer(&out(F_WRLCK, u64::MAX, u64::MAX)),
            Err(ProtoError::BadLock)
        );
        assert_eq!(getlk_answer(&out(3, 0, 1)), Err(ProtoError::BadLock));
    }
}
