// SPDX-License-Identifier: GPL-2.0

//! Directory entries of READDIR and READDIRPLUS replies.

use super::{attr, pod, ProtoError};
use crate::abi;
use core::mem::size_of;

/// Longest name the protocol carries (`FUSE_NAME_MAX`).
pub(crate) const NAME_MAX: usize = 1024;

const DIRENT_HDR: usize = size_of::<abi::fuse_dirent>();
const ENTRY_OUT: usize = size_of::<abi::fuse_entry_out>();

/// One directory entry, borrowed from a validated reply buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dirent<'a> {
    /// Inode number to report to userspace.
    pub(crate) ino: u64,
    /// Offset of the next entry (what the next READDIR asks for).
    pub(crate) off: u64,
    /// `DT_*` type.
    pub(crate) typ: u32,
    /// The name, without NUL.
    pub(crate) name: &'a [u8],
    /// For READDIRPLUS: the entry, as a LOOKUP would have returned it.
    pub(crate) entry: Option<abi::fuse_entry_out>,
}

/// Whether `name` may appear as a directory entry or a lookup name.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= NAME_MAX && !name.iter().any(|&c| c == b'/' || c == 0)
}

fn align8(n: usize) -> Option<usize> {
    n.checked_add(7).map(|v| v & !7)
}

/// Iterator over the entries of a READDIR(PLUS) reply.
///
/// Yields `Err` once (and then stops) if the buffer is malformed.
pub(crate) struct Dirents<'a> {
    buf: &'a [u8],
    plus: bool,
    failed: bool,
}

/// Iterates over the entries of a reply payload.
pub(crate) fn iter(buf: &[u8], plus: bool) -> Dirents<'_> {
    Dirents {
        buf,
        plus,
        failed: false,
    }
}

/// Checks a whole READDIR(PLUS) payload.
pub(crate) fn validate(buf: &[u8], plus: bool) -> Result<(), ProtoError> {
    for d in iter(buf, plus) {
        d?;
    }
    Ok(())
}

impl<'a> Dirents<'a> {
    fn parse_one(&mut self) -> Result<Dirent<'a>, ProtoError> {
        let (entry, rest) = if self.plus {
            let e: abi::fuse_entry_out = pod::read(self.buf).ok_or(ProtoError::BadDirent)?;
            if e.nodeid != 0 {
                attr::validate(&e.attr)?;
            }
            (
                Some(e),
                self.buf.get(ENTRY_OUT..).ok_or(ProtoError::BadDirent)?,
            )
        } else {
            (None, self.buf)
        };
        let d: abi::fuse_dirent = pod::read(rest).ok_or(ProtoError::BadDirent)?;
        let namelen = usize::try_from(d.namelen).map_err(|_| ProtoError::BadDirent)?;
        if namelen == 0 || namelen > NAME_MAX || d.type_ > 15 {
            return Err(ProtoError::BadDirent);
        }
        let end = DIRENT_HDR
            .checked_add(namelen)
            .ok_or(ProtoError::BadDirent)?;
        let name = rest.get(DIRENT_HDR..end).ok_or(ProtoError::BadDirent)?;
        if !valid_name(name) {
            return Err(ProtoError::BadDirent);
        }
        if let Some(e) = &entry {
            if e.nodeid != 0
                && (attr::dtype_of_mode(e.attr.mode) != d.type_ || e.nodeid == attr::ROOT_ID)
            {
                // "." and ".." are never linked, so their node ids are not checked.
                if name != b"." && name != b".." {
                    return Err(ProtoError::BadDirent);
                }
            }
        }
        // The record is padded to 8 bytes; the last one may omit its padding.
        let reclen = align8(end).ok_or(ProtoError::BadDirent)?;
        let skip = reclen.min(rest.len());
        self.buf = rest.get(skip..).ok_or(ProtoError::BadDirent)?;
        Ok(Dirent {
            ino: d.ino,
            off: d.off,
            typ: d.type_,
            name,
            entry,
        })
    }
}

impl<'a> Iterator for Dirents<'a> {
    type Item = Result<Dirent<'a>, ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.is_empty() {
            return None;
        }
        let r = self.parse_one();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn push(buf: &mut Vec<u8>, ino: u64, off: u64, typ: u32, name: &[u8]) {
        let d = abi::fuse_dirent {
            ino,
            off,
            namelen: name.len() as u32,
            type_: typ,
            ..Default::default()
        };
        buf.extend_from_slice(pod::bytes_of(&d));
        buf.extend_from_slice(name);
        while buf.len() & 7 != 0 {
            buf.push(0);
        }
    }

    #[test]
    fn parses_entries() {
        let mut b = Vec::new();
        push(&mut b, 1, 1, 4, b".");
        push(&mut b, 2, 2, 8, b"file-with-a-long-name");
        let v: Vec<_> = iter(&b, false).map(|d| d.unwrap()).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].name, b"file-with-a-long-name");
        assert_eq!((v[1].ino, v[1].off, v[1].typ), (2, 2, 8));
        assert!(validate(&b, false).is_ok());
        assert!(validate(&[], false).is_ok());
    }

    #[test]
    fn rejects_malformed() {
        let mut b = Vec::new();
        push(&mut b, 1, 1, 8, b"abc");
        // namelen beyond the buffer
        let mut bad = b.clone();
        bad[16] = 200;
        assert_eq!(validate(&bad, false), Err(ProtoError::BadDirent));
        // zero namelen
        let mut bad = b.clone();
        bad[16] = 0;
        assert_eq!(validate(&bad, false), Err(ProtoError::BadDirent));
        // slash in name
        let mut bad = Vec::new();
        push(&mut bad, 1, 1, 8, b"a/b");
        assert_eq!(validate(&bad, false), Err(ProtoError::BadDirent));
        // NUL in name
        let mut bad = Vec::new();
        push(&mut bad, 1, 1, 8, b"a\0b");
        assert_eq!(validate(&bad, false), Err(ProtoError::BadDirent));
        // trailing partial header
        let mut bad = b.clone();
        bad.extend_from_slice(&[1, 2, 3]);
        assert_eq!(validate(&bad, false), Err(ProtoError::BadDirent));
        // bad type
        let mut bad = Vec::new();
        push(&mut bad, 1, 1, 99, b"x");
        assert_eq!(validate(&bad, false), Err(ProtoError::BadDirent));
        // iteration stops after the error
        let mut it = iter(&bad, false);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn plus_entries() {
        let mut b = Vec::new();
        let mut e = abi::fuse_entry_out {
            nodeid: 5,
            ..Default::default()
        };
        e.attr.mode = attr::S_IFREG | 0o644;
        b.extend_from_slice(pod::bytes_of(&e));
        push(&mut b, 5, 1, 8, b"f");
        let v: Vec<_> = iter(&b, true).map(|d| d.unwrap()).collect();
        assert_eq!(v[0].entry.unwrap().nodeid, 5);
        // type mismatch between entry and dirent
        let mut bad = Vec::new();
        bad.extend_from_slice(pod::bytes_of(&e));
        push(&mut bad, 5, 1, 4, b"f");
        assert_eq!(validate(&bad, true), Err(ProtoError::BadDirent));
        // invalid attributes in a positive entry
        let mut bad = Vec::new();
        let mut e2 = e;
        e2.attr.mode = 0;
        bad.extend_from_slice(pod::bytes_of(&e2));
        push(&mut bad, 5, 1, 8, b"f");
        assert_eq!(validate(&bad, true), Err(ProtoError::BadAttr));
    }
}
