// SPDX-License-Identifier: GPL-2.0

//! Encoding requests: a `fuse_in_header` followed by the arguments.

use super::{pod, ProtoError};
use crate::abi;
use core::mem::size_of;

/// Size of `fuse_in_header`.
pub(crate) const IN_HEADER: usize = size_of::<abi::fuse_in_header>();

/// Size of `fuse_write_in`, the arguments a WRITE's data follows.
pub(crate) const WRITE_IN: usize = size_of::<abi::fuse_write_in>();

/// Who asks: the credentials a request carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Creds {
    /// fsuid in the server's user namespace.
    pub(crate) uid: u32,
    /// fsgid in the server's user namespace.
    pub(crate) gid: u32,
    /// Thread id in the server's pid namespace.
    pub(crate) pid: u32,
}

/// The length of a message with these arguments, if it fits the protocol.
pub(crate) fn message_len(args: &[&[u8]]) -> Result<usize, ProtoError> {
    let mut len = IN_HEADER;
    for a in args {
        len = len.checked_add(a.len()).ok_or(ProtoError::TooLarge)?;
    }
    u32::try_from(len).map_err(|_| ProtoError::TooLarge)?;
    Ok(len)
}

/// Writes a whole request into `buf`, which must be exactly
/// [`message_len`]`(args)` bytes long.
pub(crate) fn encode(
    buf: &mut [u8],
    opcode: u32,
    unique: u64,
    nodeid: u64,
    creds: Creds,
    args: &[&[u8]],
) -> Result<(), ProtoError> {
    let len = message_len(args)?;
    if buf.len() != len {
        return Err(ProtoError::TooLarge);
    }
    let hdr = abi::fuse_in_header {
        len: u32::try_from(len).map_err(|_| ProtoError::TooLarge)?,
        opcode,
        unique,
        nodeid,
        uid: creds.uid,
        gid: creds.gid,
        pid: creds.pid,
        total_extlen: 0,
        padding: 0,
    };
    let (head, mut rest) = buf.split_at_mut(IN_HEADER);
    head.copy_from_slice(pod::bytes_of(&hdr));
    for a in args {
        let (dst, tail) = rest.split_at_mut(a.len());
        dst.copy_from_slice(a);
        rest = tail;
    }
    Ok(())
}

/// Writes the header of a request whose arguments already follow it in
/// `buf` (the header's room at the start is overwritten) and are followed
/// by `data_len` more bytes sent from elsewhere (a WRITE's data).
pub(crate) fn encode_header(
    buf: &mut [u8],
    data_len: usize,
    opcode: u32,
    unique: u64,
    nodeid: u64,
    creds: Creds,
) -> Result<(), ProtoError> {
    let len = buf
        .len()
        .checked_add(data_len)
        .ok_or(ProtoError::TooLarge)?;
    let hdr = abi::fuse_in_header {
        len: u32::try_from(len).map_err(|_| ProtoError::TooLarge)?,
        opcode,
        unique,
        nodeid,
        uid: creds.uid,
        gid: creds.gid,
        pid: creds.pid,
        total_extlen: 0,
        padding: 0,
    };
    buf.get_mut(..IN_HEADER)
        .ok_or(ProtoError::TooLarge)?
        .copy_from_slice(pod::bytes_of(&hdr));
    Ok(())
}

/// The argument of RELEASE or RELEASEDIR of handle `fh` opened with `flags`
/// (no flush: that goes with FLUSH); `flock_owner`: the server holds
/// flock(2) locks of the handle owned by that id, to be dropped with it.
pub(crate) fn release_in(fh: u64, flags: u32, flock_owner: Option<u64>) -> abi::fuse_release_in {
    abi::fuse_release_in {
        fh,
        flags,
        release_flags: if flock_owner.is_some() {
            abi::FUSE_RELEASE_FLOCK_UNLOCK
        } else {
            0
        },
        lock_owner: flock_owner.unwrap_or(0),
    }
}

/// The argument of POLL of handle `fh`, whose pollers the kernel knows as
/// `kh`; `notify`: someone waits, the server should send NOTIFY_POLL when
/// the file becomes ready; `events`: what they wait for.
pub(crate) fn poll_in(fh: u64, kh: u64, notify: bool, events: u32) -> abi::fuse_poll_in {
    abi::fuse_poll_in {
        fh,
        kh,
        flags: if notify {
            abi::FUSE_POLL_SCHEDULE_NOTIFY
        } else {
            0
        },
        events,
    }
}

/// The length of a FORGET (`batch == false`, one entry) or BATCH_FORGET
/// message carrying `n` entries.
pub(crate) fn forget_len(n: usize, batch: bool) -> Result<usize, ProtoError> {
    if !batch {
        return Ok(IN_HEADER + size_of::<abi::fuse_forget_in>());
    }
    n.checked_mul(size_of::<abi::fuse_forget_one>())
        .and_then(|v| v.checked_add(IN_HEADER + size_of::<abi::fuse_batch_forget_in>()))
        .ok_or(ProtoError::TooLarge)
}

/// Writes a FORGET for `entries[0]` (`batch == false`) or a BATCH_FORGET for
/// all `entries` into `buf` of exactly [`forget_len`] bytes.
pub(crate) fn encode_forgets(
    buf: &mut [u8],
    unique: u64,
    entries: &[abi::fuse_forget_one],
    batch: bool,
) -> Result<(), ProtoError> {
    if batch {
        let count = u32::try_from(entries.len()).map_err(|_| ProtoError::TooLarge)?;
        let head = abi::fuse_batch_forget_in { count, dummy: 0 };
        // Encode the header and the count, then the entries in place.
        let n = forget_len(entries.len(), true)?;
        if buf.len() != n {
            return Err(ProtoError::TooLarge);
        }
        let fixed = IN_HEADER + size_of::<abi::fuse_batch_forget_in>();
        let (first, mut rest) = buf.split_at_mut(fixed);
        encode(
            first,
            abi::fuse_opcode_FUSE_BATCH_FORGET,
            unique,
            0,
            Creds::default(),
            &[pod::bytes_of(&head)],
        )?;
        // The header must announce the whole message, entries included.
        let mut hdr: abi::fuse_in_header = pod::read(first).ok_or(ProtoError::TooLarge)?;
        hdr.len = u32::try_from(n).map_err(|_| ProtoError::TooLarge)?;
        first
            .get_mut(..IN_HEADER)
            .ok_or(ProtoError::TooLarge)?
            .copy_from_slice(pod::bytes_of(&hdr));
        for e in entries {
            let (dst, tail) = rest.split_at_mut(size_of::<abi::fuse_forget_one>());
            dst.copy_from_slice(pod::bytes_of(e));
            rest = tail;
        }
        Ok(())
    } else {
        let e = entries.first().ok_or(ProtoError::TooLarge)?;
        let arg = abi::fuse_forget_in { nlookup: e.nlookup };
        encode(
            buf,
            abi::fuse_opcode_FUSE_FORGET,
            unique,
            e.nodeid,
            Creds::default(),
            &[pod::bytes_of(&arg)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;

    #[test]
    fn release_arg() {
        let a = release_in(7, 0o2, None);
        assert_eq!(
            (a.fh, a.flags, a.release_flags, a.lock_owner),
            (7, 0o2, 0, 0)
        );
        let a = release_in(7, 0o2, Some(99));
        assert_eq!(
            (a.release_flags, a.lock_owner),
            (abi::FUSE_RELEASE_FLOCK_UNLOCK, 99)
        );
    }

    #[test]
    fn encodes() {
        let name = b"foo\0";
        let args: [&[u8]; 1] = [name];
        let len = message_len(&args).unwrap();
        assert_eq!(len, 44);
        let mut buf = vec![0u8; len];
        let creds = Creds {
            uid: 1,
            gid: 2,
            pid: 3,
        };
        encode(&mut buf, abi::fuse_opcode_FUSE_LOOKUP, 0, 1, creds, &args).unwrap();
        let h: abi::fuse_in_header = pod::read(&buf).unwrap();
        assert_eq!(
            (h.len, h.opcode, h.nodeid, h.uid, h.gid, h.pid),
            (44, 1, 1, 1, 2, 3)
        );
        assert_eq!(&buf[40..], name);
        let entries = [
            abi::fuse_forget_one {
                nodeid: 5,
                nlookup: 2,
            },
            abi::fuse_forget_one {
                nodeid: 6,
                nlookup: 1,
            },
        ];
        let n = forget_len(2, true).unwrap();
        assert_eq!(n, 40 + 8 + 32);
        let mut b = vec![0u8; n];
        encode_forgets(&mut b, 10, &entries, true).unwrap();
        let h: abi::fuse_in_header = pod::read(&b).unwrap();
        assert_eq!(
            (h.len as usize, h.opcode, h.unique),
            (n, abi::fuse_opcode_FUSE_BATCH_FORGET, 10)
        );
        let c: abi::fuse_batch_forget_in = pod::read(&b[40..]).unwrap();
        assert_eq!(c.count, 2);
        let one: abi::fuse_forget_one = pod::read(&b[64..]).unwrap();
        assert_eq!((one.nodeid, one.nlookup), (6, 1));
        let n1 = forget_len(1, false).unwrap();
        let mut b = vec![0u8; n1];
        encode_forgets(&mut b, 12, &entries, false).unwrap();
        let h: abi::fuse_in_header = pod::read(&b).unwrap();
        assert_eq!(
            (h.len as usize, h.opcode, h.nodeid),
            (48, abi::fuse_opcode_FUSE_FORGET, 5)
        );
        let mut pre = vec![0u8; 44];
        pre[40..].copy_from_slice(name);
        encode_header(&mut pre, 0, abi::fuse_opcode_FUSE_LOOKUP, 0, 1, creds).unwrap();
        assert_eq!(pre, buf);
        assert_eq!(
            encode_header(&mut [0u8; 10], 0, 1, 0, 1, creds),
            Err(ProtoError::TooLarge)
        );
        // WRITE data sent from elsewhere counts in the header's length.
        let mut w = vec![0u8; 40 + 40];
        encode_header(&mut w, 4096, abi::fuse_opcode_FUSE_WRITE, 3, 2, creds).unwrap();
        let h: abi::fuse_in_header = pod::read(&w).unwrap();
        assert_eq!(h.len, 40 + 40 + 4096);
        assert_eq!(
            encode_header(&mut [0u8; 40], usize::MAX, 1, 0, 1, creds),
            Err(ProtoError::TooLarge)
        );
        assert_eq!(
            encode_header(&mut [0u8; 40], u32::MAX as usize, 1, 0, 1, creds),
            Err(ProtoError::TooLarge)
        );
        let mut short = vec![0u8; 10];
        assert_eq!(
            encode(&mut short, 1, 0, 1, creds, &args),
            Err(ProtoError::TooLarge)
        );
    }
}
