// SPDX-License-Identifier: GPL-2.0

//! Notifications: messages the server writes unasked (`unique` 0, the
//! notification code in `error`), validated here before the kernel acts.

use super::{dirent, pod, ProtoError};
use crate::abi;
use core::mem::size_of;

/// Largest notification payload accepted: a STORE of 1 MiB of data with
/// its header (the other notifications are far smaller).
pub(crate) const MAX_PAYLOAD: usize = (1 << 20) + size_of::<abi::fuse_notify_store_out>();

/// A notification, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notification<'a> {
    /// POLL: wake the pollers of the file whose poll handle is `kh`.
    Poll {
        /// The kernel's handle of the polled file (from POLL).
        kh: u64,
    },
    /// INVAL_INODE: the attributes of node `nodeid` are stale, and, if
    /// `off >= 0`, its cached data from `off` for `len` bytes (`len <= 0`:
    /// to the end).
    InvalInode {
        /// The node.
        nodeid: u64,
        /// First byte of the data to drop; negative: attributes only.
        off: i64,
        /// Bytes to drop; zero or negative: to the end of the file.
        len: i64,
    },
    /// INVAL_ENTRY: the name `name` in directory `parent` is stale.
    InvalEntry {
        /// The directory's node.
        parent: u64,
        /// The name (valid: not empty, no '/' or NUL).
        name: &'a [u8],
        /// Only let the entry expire (`FUSE_EXPIRE_ONLY`): it stays usable
        /// by open files and mounts, a new lookup asks the server again.
        expire_only: bool,
    },
    /// DELETE: the name `name` of node `child` in `parent` was removed.
    Delete {
        /// The directory's node.
        parent: u64,
        /// The node the name referred to.
        child: u64,
        /// The name (valid).
        name: &'a [u8],
    },
    /// STORE: `data` belongs at `offset` of node `nodeid`.
    Store {
        /// The node.
        nodeid: u64,
        /// Where the data goes.
        offset: u64,
        /// The data.
        data: &'a [u8],
    },
    /// RETRIEVE: send back (NOTIFY_REPLY, unique `unique`) up to `size`
    /// cached bytes of node `nodeid` from `offset`.
    Retrieve {
        /// The unique of the NOTIFY_REPLY.
        unique: u64,
        /// The node.
        nodeid: u64,
        /// First byte.
        offset: u64,
        /// Bytes wanted.
        size: u32,
    },
}

/// The `namelen` bytes of a name that follow a notification's fixed part,
/// NUL-terminated, and nothing else.
fn name(rest: &[u8], namelen: u32) -> Result<&[u8], ProtoError> {
    let n = usize::try_from(namelen).map_err(|_| ProtoError::BadName)?;
    if rest.len() != n.checked_add(1).ok_or(ProtoError::BadName)? {
        return Err(ProtoError::BadSize);
    }
    let (name, nul) = rest.split_at(n);
    if nul != [0] || !dirent::valid_name(name) {
        return Err(ProtoError::BadName);
    }
    Ok(name)
}

/// Splits `payload` into its fixed part `T` and the rest.
fn head<T: pod::Pod>(payload: &[u8]) -> Result<(T, &[u8]), ProtoError> {
    let t = pod::read::<T>(payload).ok_or(ProtoError::BadSize)?;
    let rest = payload.get(size_of::<T>()..).ok_or(ProtoError::BadSize)?;
    Ok((t, rest))
}

/// Validates the notification `code` with `payload` (the bytes after the
/// header, at most [`MAX_PAYLOAD`]).
pub(crate) fn parse(code: i32, payload: &[u8]) -> Result<Notification<'_>, ProtoError> {
    let code = u32::try_from(code).map_err(|_| ProtoError::UnsupportedNotify)?;
    match code {
        abi::fuse_notify_code_FUSE_NOTIFY_POLL => {
            let o: abi::fuse_notify_poll_wakeup_out =
                pod::read_exact(payload).ok_or(ProtoError::BadSize)?;
            Ok(Notification::Poll { kh: o.kh })
        }
        abi::fuse_notify_code_FUSE_NOTIFY_INVAL_INODE => {
            let o: abi::fuse_notify_inval_inode_out =
                pod::read_exact(payload).ok_or(ProtoError::BadSize)?;
            if o.ino == 0 {
                return Err(ProtoError::BadNodeId);
            }
            Ok(Notification::InvalInode {
                nodeid: o.ino,
                off: o.off,
                len: o.len,
            })
        }
        abi::fuse_notify_code_FUSE_NOTIFY_INVAL_ENTRY => {
            let (o, rest) = head::<abi::fuse_notify_inval_entry_out>(payload)?;
            if o.parent == 0 {
                return Err(ProtoError::BadNodeId);
            }
            if o.flags & !abi::FUSE_EXPIRE_ONLY != 0 {
                return Err(ProtoError::BadFlags);
            }
            Ok(Notification::InvalEntry {
                parent: o.parent,
                name: name(rest, o.namelen)?,
                expire_only: o.flags & abi::FUSE_EXPIRE_ONLY != 0,
            })
        }
        abi::fuse_notify_code_FUSE_NOTIFY_DELETE => {
            let (o, rest) = head::<abi::fuse_notify_delete_out>(payload)?;
            if o.parent == 0 || o.child == 0 {
                return Err(ProtoError::BadNodeId);
            }
            Ok(Notification::Delete {
                parent: o.parent,
                child: o.child,
                name: name(rest, o.namelen)?,
            })
        }
        abi::fuse_notify_code_FUSE_NOTIFY_STORE => {
            let (o, data) = head::<abi::fuse_notify_store_out>(payload)?;
            if o.nodeid == 0 {
                return Err(ProtoError::BadNodeId);
            }
            let end = o.offset.checked_add(u64::from(o.size));
            if usize::try_from(o.size).ok() != Some(data.len())
                || !matches!(end, Some(e) if e <= i64::MAX as u64)
            {
                return Err(ProtoError::BadSize);
            }
            Ok(Notification::Store {
                nodeid: o.nodeid,
                offset: o.offset,
                data,
            })
        }
        abi::fuse_notify_code_FUSE_NOTIFY_RETRIEVE => {
            let o: abi::fuse_notify_retrieve_out =
                pod::read_exact(payload).ok_or(ProtoError::BadSize)?;
            if o.nodeid == 0 {
                return Err(ProtoError::BadNodeId);
            }
            if o.offset > i64::MAX as u64 {
                return Err(ProtoError::BadSize);
            }
            Ok(Notification::Retrieve {
                unique: o.notify_unique,
                nodeid: o.nodeid,
                offset: o.offset,
                size: o.size,
            })
        }
        _ => Err(ProtoError::UnsupportedNotify),
    }
}

/// The bytes `start..=end` whose cached data an INVAL_INODE of `off`,
/// `len` drops, as mainline (`len <= 0`: to the end of the file); `None`
/// for attributes only (`off < 0`).
pub(crate) fn inval_range(off: i64, len: i64) -> Option<(i64, i64)> {
    if off < 0 {
        return None;
    }
    if len <= 0 {
        return Some((off, i64::MAX));
    }
    Some((off, off.saturating_add(len - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<T: pod::Pod>(t: &T, tail: &[u8]) -> Vec<u8> {
        let mut v = pod::bytes_of(t).to_vec();
        v.extend_from_slice(tail);
        v
    }

    const INODE: i32 = abi::fuse_notify_code_FUSE_NOTIFY_INVAL_INODE as i32;
    const ENTRY: i32 = abi::fuse_notify_code_FUSE_NOTIFY_INVAL_ENTRY as i32;
    const DELETE: i32 = abi::fuse_notify_code_FUSE_NOTIFY_DELETE as i32;
    const STORE: i32 = abi::fuse_notify_code_FUSE_NOTIFY_STORE as i32;

    #[test]
    fn inval_inode() {
        let o = abi::fuse_notify_inval_inode_out {
            ino: 5,
            off: 4096,
            len: -1,
        };
        assert_eq!(
            parse(INODE, pod::bytes_of(&o)),
            Ok(Notification::InvalInode {
                nodeid: 5,
                off: 4096,
                len: -1
            })
        );
        assert_eq!(parse(INODE, &bytes(&o, b"x")), Err(ProtoError::BadSize));
        let z = abi::fuse_notify_inval_inode_out { ino: 0, ..o };
        assert_eq!(parse(INODE, pod::bytes_of(&z)), Err(ProtoError::BadNodeId));
        assert_eq!(parse(0, &[]), Err(ProtoError::UnsupportedNotify));
        assert_eq!(
            parse(1, &7u64.to_ne_bytes()),
            Ok(Notification::Poll { kh: 7 })
        );
        assert_eq!(parse(1, &[0; 4]), Err(ProtoError::BadSize));
        assert_eq!(parse(-3, &[]), Err(ProtoError::UnsupportedNotify));
        assert_eq!(parse(99, &[]), Err(ProtoError::UnsupportedNotify));
    }

    #[test]
    fn names() {
        let o = abi::fuse_notify_inval_entry_out {
            parent: 1,
            namelen: 3,
            flags: abi::FUSE_EXPIRE_ONLY,
        };
        assert_eq!(
            parse(ENTRY, &bytes(&o, b"abc\0")),
            Ok(Notification::InvalEntry {
                parent: 1,
                name: b"abc",
                expire_only: true
            })
        );
        assert_eq!(parse(ENTRY, &bytes(&o, b"abc")), Err(ProtoError::BadSize));
        assert_eq!(
            parse(ENTRY, &bytes(&o, b"abcd\0")),
            Err(ProtoError::BadSize)
        );
        assert_eq!(parse(ENTRY, &bytes(&o, b"abcd")), Err(ProtoError::BadName));
        assert_eq!(parse(ENTRY, &bytes(&o, b"a/c\0")), Err(ProtoError::BadName));
        assert_eq!(
            parse(ENTRY, &bytes(&o, b"a\0c\0")),
            Err(ProtoError::BadName)
        );
        let f = abi::fuse_notify_inval_entry_out { flags: 2, ..o };
        assert_eq!(
            parse(ENTRY, &bytes(&f, b"abc\0")),
            Err(ProtoError::BadFlags)
        );
        let e = abi::fuse_notify_inval_entry_out { namelen: 0, ..o };
        assert_eq!(parse(ENTRY, &bytes(&e, b"\0")), Err(ProtoError::BadName));
        let huge = abi::fuse_notify_inval_entry_out {
            namelen: u32::MAX,
            ..o
        };
        assert_eq!(
            parse(ENTRY, &bytes(&huge, b"abc\0")),
            Err(ProtoError::BadSize)
        );
        let long = vec![b'a'; dirent::NAME_MAX + 1];
        let l = abi::fuse_notify_inval_entry_out {
            namelen: long.len() as u32,
            ..o
        };
        let mut tail = long.clone();
        tail.push(0);
        assert_eq!(parse(ENTRY, &bytes(&l, &tail)), Err(ProtoError::BadName));
        let d = abi::fuse_notify_delete_out {
            parent: 1,
            child: 7,
            namelen: 1,
            padding: 0,
        };
        assert_eq!(
            parse(DELETE, &bytes(&d, b"z\0")),
            Ok(Notification::Delete {
                parent: 1,
                child: 7,
                name: b"z"
            })
        );
        let d0 = abi::fuse_notify_delete_out { child: 0, ..d };
        assert_eq!(
            parse(DELETE, &bytes(&d0, b"z\0")),
            Err(ProtoError::BadNodeId)
        );
    }

    #[test]
    fn store() {
        let o = abi::fuse_notify_store_out {
            nodeid: 3,
            offset: 10,
            size: 2,
            padding: 0,
        };
        assert_eq!(
            parse(STORE, &bytes(&o, b"hi")),
            Ok(Notification::Store {
                nodeid: 3,
                offset: 10,
                data: b"hi"
            })
        );
        assert_eq!(parse(STORE, &bytes(&o, b"h")), Err(ProtoError::BadSize));
        let far = abi::fuse_notify_store_out {
            offset: i64::MAX as u64,
            ..o
        };
        assert_eq!(parse(STORE, &bytes(&far, b"hi")), Err(ProtoError::BadSize));
    }

    #[test]
    fn ranges() {
        assert_eq!(inval_range(-1, 100), None);
        assert_eq!(inval_range(0, 0), Some((0, i64::MAX)));
        assert_eq!(inval_range(4096, -5), Some((4096, i64::MAX)));
        assert_eq!(inval_range(4095, 2), Some((4095, 4096)));
        assert_eq!(inval_range(i64::MAX, i64::MAX), Some((i64::MAX, i64::MAX)));
    }
}
