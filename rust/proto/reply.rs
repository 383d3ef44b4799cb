// SPDX-License-Identifier: GPL-2.0

//! Validation of what the server writes to the device.
//!
//! A write is one message: a `fuse_out_header` and a payload. The header is
//! checked first ([`parse_header`]); a reply's payload is then checked
//! against the [`ReplyKind`] its request expects ([`validate`]).

use super::{attr, dirent, pod, ProtoError};
use crate::abi;
use core::mem::size_of;

/// Size of `fuse_out_header`.
pub(crate) const OUT_HEADER: usize = size_of::<abi::fuse_out_header>();

/// Errors the server may return: `-511..=0`, as mainline accepts.
const MAX_SERVER_ERRNO: i32 = 512;

/// The unique-id bit marking the reply to an INTERRUPT.
pub(crate) const INT_REQ_BIT: u64 = 1;

/// A checked `fuse_out_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    /// A reply to request `unique`: `error` is `0` or a negative errno.
    Reply {
        /// The request's unique id.
        unique: u64,
        /// `0` or a negative errno in `-511..=-1`.
        error: i32,
    },
    /// A reply to the INTERRUPT of request `unique`.
    InterruptReply {
        /// The interrupted request's unique id.
        unique: u64,
        /// `0` or a negative errno.
        error: i32,
    },
    /// A notification (`unique == 0`) with code `code`.
    Notify {
        /// The `fuse_notify_code`.
        code: i32,
    },
}

/// Checks the header of a message of `total` bytes whose first bytes are
/// `head` (at least [`OUT_HEADER`] of them, if the message is that long).
pub(crate) fn parse_header(head: &[u8], total: usize) -> Result<Header, ProtoError> {
    if total < OUT_HEADER {
        return Err(ProtoError::ShortHeader);
    }
    let h: abi::fuse_out_header = pod::read(head).ok_or(ProtoError::ShortHeader)?;
    if usize::try_from(h.len).ok() != Some(total) {
        return Err(ProtoError::LengthMismatch);
    }
    if h.unique == 0 {
        return Ok(Header::Notify { code: h.error });
    }
    if h.error > 0 || h.error <= -MAX_SERVER_ERRNO {
        return Err(ProtoError::BadErrno);
    }
    if h.unique & INT_REQ_BIT != 0 {
        if total != OUT_HEADER {
            return Err(ProtoError::BadSize);
        }
        return Ok(Header::InterruptReply {
            unique: h.unique & !INT_REQ_BIT,
            error: h.error,
        });
    }
    // An error reply with a payload is addressed to a request, which then
    // fails: see [`check_reply`].
    Ok(Header::Reply {
        unique: h.unique,
        error: h.error,
    })
}

/// Checks a reply to a known request that expects `kind`: an error reply
/// must be bare; a success must carry the payload the request expects.
pub(crate) fn check_reply(kind: ReplyKind, error: i32, payload: &[u8]) -> Result<(), ProtoError> {
    if error != 0 {
        return if payload.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::ErrorWithPayload)
        };
    }
    validate(kind, payload)
}

/// What a request expects as a successful reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    /// An empty payload.
    Empty,
    /// `fuse_entry_out` of a LOOKUP-like request (never the root).
    Entry,
    /// `fuse_attr_out`.
    Attr,
    /// `fuse_open_out`.
    Open,
    /// `fuse_init_out` (older servers send a shorter one).
    Init,
    /// `fuse_statfs_out`.
    Statfs,
    /// Raw data of at most `max` bytes (READ, READLINK).
    Data {
        /// Largest acceptable payload.
        max: usize,
    },
    /// `fuse_write_out` of a WRITE or COPY_FILE_RANGE of `max` bytes: the
    /// server may not claim more than it was given.
    Write {
        /// Bytes sent (or asked to copy).
        max: u64,
    },
    /// `fuse_lseek_out`.
    Lseek,
    /// `fuse_getxattr_out`: the size of a GETXATTR or LISTXATTR asked with
    /// size 0.
    XattrSize,
    /// LISTXATTR's names, at most `max` bytes: each NUL-terminated and not
    /// empty.
    XattrList {
        /// Largest acceptable payload.
        max: usize,
    },
    /// `fuse_entry_out` then `fuse_open_out` of a CREATE (a positive entry).
    Create,
    /// `fuse_lk_out`: GETLK's answer ([`super::lock::getlk_answer`]).
    Lock,
    /// `fuse_poll_out`.
    Poll,
    /// `fuse_ioctl_out` and at most `out` bytes of data
    /// ([`super::ioctl::check_reply`]).
    Ioctl {
        /// Largest acceptable data.
        out: usize,
    },
    /// READDIR (`plus == false`) or READDIRPLUS entries, at most `max` bytes.
    Dirents {
        /// Largest acceptable payload.
        max: usize,
        /// READDIRPLUS.
        plus: bool,
    },
}

impl ReplyKind {
    /// The largest payload a successful reply may carry (checked before the
    /// payload is copied in, so a server cannot make the kernel allocate more).
    pub(crate) fn max_len(&self) -> usize {
        match *self {
            ReplyKind::Empty => 0,
            ReplyKind::Entry => size_of::<abi::fuse_entry_out>(),
            ReplyKind::Attr => size_of::<abi::fuse_attr_out>(),
            ReplyKind::Open => size_of::<abi::fuse_open_out>(),
            ReplyKind::Init => size_of::<abi::fuse_init_out>(),
            ReplyKind::Statfs => size_of::<abi::fuse_statfs_out>(),
            ReplyKind::Write { .. } => size_of::<abi::fuse_write_out>(),
            ReplyKind::Lseek => size_of::<abi::fuse_lseek_out>(),
            ReplyKind::XattrSize => size_of::<abi::fuse_getxattr_out>(),
            ReplyKind::XattrList { max } => max,
            ReplyKind::Create => CREATE_OUT,
            ReplyKind::Lock => size_of::<abi::fuse_lk_out>(),
            ReplyKind::Poll => size_of::<abi::fuse_poll_out>(),
            ReplyKind::Ioctl { out } => size_of::<abi::fuse_ioctl_out>().saturating_add(out),
            ReplyKind::Data { max } | ReplyKind::Dirents { max, .. } => max,
        }
    }
}

/// Size of a CREATE reply.
pub(crate) const CREATE_OUT: usize =
    size_of::<abi::fuse_entry_out>() + size_of::<abi::fuse_open_out>();

/// Smallest INIT reply: the 7.22-era layout without `max_pages` and later.
pub(crate) const INIT_OUT_MIN: usize = 24;

/// Whether `list` is a list of extended attribute names as LISTXATTR
/// returns it: each name NUL-terminated and not empty (mainline's
/// `fuse_verify_xattr_list`).
pub(crate) fn xattr_list_ok(list: &[u8]) -> bool {
    let mut rest = list;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == 0) {
            Some(0) | None => return false,
            Some(n) => rest = rest.get(n + 1..).unwrap_or(&[]),
        }
    }
    true
}

fn exact<T: pod::Pod>(payload: &[u8]) -> Result<T, ProtoError> {
    pod::read_exact::<T>(payload).ok_or(ProtoError::BadSize)
}

/// Checks the payload of a successful reply against what the request expects.
/// (Long on purpose: one arm per reply kind, each a few lines, so every
/// rule a server's reply must meet reads in one place.)
pub(crate) fn validate(kind: ReplyKind, payload: &[u8]) -> Result<(), ProtoError> {
    match kind {
        ReplyKind::Empty => {
            if payload.is_empty() {
                Ok(())
            } else {
                Err(ProtoError::BadSize)
            }
        }
        ReplyKind::Entry => {
            let e: abi::fuse_entry_out = exact(payload)?;
            validate_entry(&e)
        }
        ReplyKind::Attr => {
            let a: abi::fuse_attr_out = exact(payload)?;
            attr::validate(&a.attr)
        }
        ReplyKind::Open => exact::<abi::fuse_open_out>(payload).map(|_| ()),
        ReplyKind::Init => {
            if payload.len() < INIT_OUT_MIN || payload.len() > size_of::<abi::fuse_init_out>() {
                return Err(ProtoError::BadSize);
            }
            let out = read_init(payload)?;
            if out.major != super::init::MAJOR || out.minor < super::init::MINOR_MIN {
                return Err(ProtoError::BadInit);
            }
            Ok(())
        }
        ReplyKind::Statfs => exact::<abi::fuse_statfs_out>(payload).map(|_| ()),
        ReplyKind::XattrSize => exact::<abi::fuse_getxattr_out>(payload).map(|_| ()),
        ReplyKind::XattrList { max } => {
            if payload.len() <= max && xattr_list_ok(payload) {
                Ok(())
            } else {
                Err(ProtoError::BadSize)
            }
        }
        ReplyKind::Write { max } => {
            let w: abi::fuse_write_out = exact(payload)?;
            if u64::from(w.size) > max {
                return Err(ProtoError::BadSize);
            }
            Ok(())
        }
        ReplyKind::Lseek => {
            let l: abi::fuse_lseek_out = exact(payload)?;
            if i64::try_from(l.offset).is_err() {
                return Err(ProtoError::BadSize);
            }
            Ok(())
        }
        ReplyKind::Create => {
            if payload.len() != CREATE_OUT {
                return Err(ProtoError::BadSize);
            }
            let (entry, _) = payload.split_at(size_of::<abi::fuse_entry_out>());
            let e: abi::fuse_entry_out = exact(entry)?;
            if e.nodeid == 0 {
                return Err(ProtoError::BadNodeId);
            }
            validate_entry(&e)
        }
        ReplyKind::Lock => {
            let l: abi::fuse_lk_out = exact(payload)?;
            super::lock::getlk_answer(&l).map(|_| ())
        }
        ReplyKind::Ioctl { out } => super::ioctl::check_reply(payload, out),
        ReplyKind::Poll => exact::<abi::fuse_poll_out>(payload).map(|_| ()),
        ReplyKind::Data { max } => {
            if payload.len() > max {
                Err(ProtoError::BadSize)
            } else {
                Ok(())
            }
        }
        ReplyKind::Dirents { max, plus } => {
            if payload.len() > max {
                return Err(ProtoError::BadSize);
            }
            dirent::validate(payload, plus)
        }
    }
}

/// Checks an entry: node id `0` is a negative entry (valid, with a timeout);
/// a positive one must not be the root and must carry valid attributes.
pub(crate) fn validate_entry(e: &abi::fuse_entry_out) -> Result<(), ProtoError> {
    if e.nodeid == 0 {
        return Ok(());
    }
    if e.nodeid == attr::ROOT_ID {
        return Err(ProtoError::BadNodeId);
    }
    attr::validate(&e.attr)
}

/// Reads an INIT reply of any accepted size, zero-extending older layouts.
pub(crate) fn read_init(payload: &[u8]) -> Result<abi::fuse_init_out, ProtoError> {
    if payload.len() < INIT_OUT_MIN {
        return Err(ProtoError::BadInit);
    }
    let mut buf = [0u8; size_of::<abi::fuse_init_out>()];
    let dst = buf.get_mut(..payload.len()).ok_or(ProtoError::BadInit)?;
    dst.copy_from_slice(payload);
    pod::read(&buf).ok_or(ProtoError::BadInit)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn hdr(len: u32, error: i32, unique: u64) -> Vec<u8> {
        let h = abi::fuse_out_header { len, error, unique };
        pod::bytes_of(&h).to_vec()
    }

    #[test]
    fn xattr_lists() {
        assert!(xattr_list_ok(b""));
        assert!(xattr_list_ok(b"user.a\0"));
        assert!(xattr_list_ok(b"user.a\0security.b\0"));
        assert!(!xattr_list_ok(b"user.a"));
        assert!(!xattr_list_ok(b"\0"));
        assert!(!xattr_list_ok(b"user.a\0\0"));
        assert!(validate(ReplyKind::XattrList { max: 7 }, b"user.a\0").is_ok());
        assert!(validate(ReplyKind::XattrList { max: 6 }, b"user.a\0").is_err());
        assert!(validate(ReplyKind::XattrList { max: 9 }, b"user.a\0b").is_err());
        assert!(validate(ReplyKind::XattrSize, &[0; 8]).is_ok());
        assert!(validate(ReplyKind::XattrSize, &[0; 4]).is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header(&[0; 8], 8), Err(ProtoError::ShortHeader));
        assert_eq!(
            parse_header(&hdr(20, 0, 2), 16),
            Err(ProtoError::LengthMismatch)
        );
        assert_eq!(
            parse_header(&hdr(16, 0, 2), 24),
            Err(ProtoError::LengthMismatch)
        );
        assert_eq!(parse_header(&hdr(16, 5, 2), 16), Err(ProtoError::BadErrno));
        assert_eq!(
            parse_header(&hdr(16, -512, 2), 16),
            Err(ProtoError::BadErrno)
        );
        assert_eq!(
            parse_header(&hdr(16, i32::MIN, 2), 16),
            Err(ProtoError::BadErrno)
        );
        assert_eq!(
            parse_header(&hdr(16, -511, 2), 16),
            Ok(Header::Reply {
                unique: 2,
                error: -511
            })
        );
        assert_eq!(
            parse_header(&hdr(16, 0, 2), 16),
            Ok(Header::Reply {
                unique: 2,
                error: 0
            })
        );
        assert_eq!(
            parse_header(&hdr(16, 0, 3), 16),
            Ok(Header::InterruptReply {
                unique: 2,
                error: 0
            })
        );
        assert_eq!(parse_header(&hdr(24, 0, 3), 24), Err(ProtoError::BadSize));
        assert_eq!(
            parse_header(&hdr(40, 2, 0), 40),
            Ok(Header::Notify { code: 2 })
        );
        // An error with payload is addressed to the request (which fails).
        assert_eq!(
            parse_header(&hdr(24, -2, 2), 24),
            Ok(Header::Reply {
                unique: 2,
                error: -2
            })
        );
        assert_eq!(
            check_reply(ReplyKind::Entry, -2, &[0; 8]),
            Err(ProtoError::ErrorWithPayload)
        );
        assert!(check_reply(ReplyKind::Entry, -2, &[]).is_ok());
    }

    #[test]
    fn payloads() {
        assert!(validate(ReplyKind::Empty, &[]).is_ok());
        assert_eq!(validate(ReplyKind::Empty, &[0]), Err(ProtoError::BadSize));
        let mut e = abi::fuse_entry_out {
            nodeid: 7,
            ..Default::default()
        };
        e.attr.mode = attr::S_IFREG;
        let b = pod::bytes_of(&e).to_vec();
        assert!(validate(ReplyKind::Entry, &b).is_ok());
        assert_eq!(
            validate(ReplyKind::Entry, &b[..120]),
            Err(ProtoError::BadSize)
        );
        let mut long = b.clone();
        long.extend_from_slice(&[0; 8]);
        assert_eq!(validate(ReplyKind::Entry, &long), Err(ProtoError::BadSize));
        e.nodeid = 1;
        assert_eq!(
            validate(ReplyKind::Entry, pod::bytes_of(&e)),
            Err(ProtoError::BadNodeId)
        );
        e.nodeid = 0;
        e.attr.mode = 0;
        assert!(validate(ReplyKind::Entry, pod::bytes_of(&e)).is_ok());
        e.nodeid = 9;
        assert_eq!(
            validate(ReplyKind::Entry, pod::bytes_of(&e)),
            Err(ProtoError::BadAttr)
        );
        let w = abi::fuse_write_out {
            size: 5,
            padding: 0,
        };
        assert!(validate(ReplyKind::Write { max: 5 }, pod::bytes_of(&w)).is_ok());
        assert_eq!(
            validate(ReplyKind::Write { max: 4 }, pod::bytes_of(&w)),
            Err(ProtoError::BadSize)
        );
        let l = abi::fuse_lseek_out { offset: u64::MAX };
        assert_eq!(
            validate(ReplyKind::Lseek, pod::bytes_of(&l)),
            Err(ProtoError::BadSize)
        );
        let mut c = Vec::new();
        e.nodeid = 9;
        e.attr.mode = attr::S_IFREG;
        c.extend_from_slice(pod::bytes_of(&e));
        c.extend_from_slice(pod::bytes_of(&abi::fuse_open_out::default()));
        assert!(validate(ReplyKind::Create, &c).is_ok());
        assert_eq!(
            validate(ReplyKind::Create, &c[..c.len() - 1]),
            Err(ProtoError::BadSize)
        );
        e.nodeid = 0;
        c[..size_of::<abi::fuse_entry_out>()].copy_from_slice(pod::bytes_of(&e));
        assert_eq!(validate(ReplyKind::Create, &c), Err(ProtoError::BadNodeId));
        assert!(validate(ReplyKind::Data { max: 4 }, &[0; 4]).is_ok());
        assert_eq!(
            validate(ReplyKind::Data { max: 4 }, &[0; 5]),
            Err(ProtoError::BadSize)
        );
        let mut init = [0u8; 65];
        init[0] = 7;
        init[4] = 12;
        assert_eq!(
            validate(ReplyKind::Init, &init[..23]),
            Err(ProtoError::BadSize)
        );
        assert!(validate(ReplyKind::Init, &init[..24]).is_ok());
        assert!(validate(ReplyKind::Init, &init[..64]).is_ok());
        assert_eq!(validate(ReplyKind::Init, &init), Err(ProtoError::BadSize));
        init[4] = 11;
        assert_eq!(
            validate(ReplyKind::Init, &init[..64]),
            Err(ProtoError::BadInit)
        );
        init[0] = 8;
        init[4] = 41;
        assert_eq!(
            validate(ReplyKind::Init, &init[..64]),
            Err(ProtoError::BadInit)
        );
    }

    #[test]
    fn init_zero_extends() {
        let mut b = [0u8; 24];
        b[0] = 7;
        b[4] = 31;
        let i = read_init(&b).unwrap();
        assert_eq!((i.major, i.minor, i.max_pages), (7, 31, 0));
    }
}
