// SPDX-License-Identifier: GPL-2.0

//! Encoding requests: a `fuse_in_header` followed by the arguments.

use super::{pod, ProtoError};
use crate::abi;
use core::mem::size_of;

/// Size of `fuse_in_header`.
pub(crate) const IN_HEADER: usize = size_of::<abi::fuse_in_header>();

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

/// Rewrites the unique id of an encoded request (the id is assigned when
/// the request is queued, after it was encoded).
pub(crate) fn set_unique(buf: &mut [u8], unique: u64) -> Result<(), ProtoError> {
    let mut hdr: abi::fuse_in_header = pod::read(buf).ok_or(ProtoError::TooLarge)?;
    hdr.unique = unique;
    buf.get_mut(..IN_HEADER).ok_or(ProtoError::TooLarge)?.copy_from_slice(pod::bytes_of(&hdr));
    Ok(())
}

/// The opcode of an encoded request.
pub(crate) fn opcode_of(buf: &[u8]) -> Option<u32> {
    pod::read::<abi::fuse_in_header>(buf).map(|h| h.opcode)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;

    #[test]
    fn encodes() {
        let name = b"foo\0";
        let args: [&[u8]; 1] = [name];
        let len = message_len(&args).unwrap();
        assert_eq!(len, 44);
        let mut buf = vec![0u8; len];
        let creds = Creds { uid: 1, gid: 2, pid: 3 };
        encode(&mut buf, abi::fuse_opcode_FUSE_LOOKUP, 0, 1, creds, &args).unwrap();
        let h: abi::fuse_in_header = pod::read(&buf).unwrap();
        assert_eq!((h.len, h.opcode, h.nodeid, h.uid, h.gid, h.pid), (44, 1, 1, 1, 2, 3));
        assert_eq!(&buf[40..], name);
        set_unique(&mut buf, 42).unwrap();
        let h: abi::fuse_in_header = pod::read(&buf).unwrap();
        assert_eq!(h.unique, 42);
        assert_eq!(opcode_of(&buf), Some(1));
        let mut short = vec![0u8; 10];
        assert_eq!(encode(&mut short, 1, 0, 1, creds, &args), Err(ProtoError::TooLarge));
    }
}
