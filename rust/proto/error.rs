// SPDX-License-Identifier: GPL-2.0

//! Why a message from the server was rejected.

/// A protocol violation by the server (or a request that cannot be encoded).
///
/// The device write that carried the message fails with `EINVAL`; if the
/// message was a reply to a known request, that request fails with `EIO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtoError {
    /// The write is shorter than `fuse_out_header`.
    ShortHeader,
    /// `fuse_out_header.len` differs from the number of bytes written.
    LengthMismatch,
    /// The error is positive or outside the errno range the kernel accepts.
    BadErrno,
    /// The unique id matches no request waiting for a reply.
    UnknownUnique,
    /// An error reply carries a payload.
    ErrorWithPayload,
    /// The payload size is wrong for the reply expected.
    BadSize,
    /// The attributes are invalid (file type, size or timestamps).
    BadAttr,
    /// The node id is invalid where it appears (e.g. the root for a child).
    BadNodeId,
    /// A directory entry is malformed (length, name or type).
    BadDirent,
    /// The INIT reply cannot be used (major version, sizes).
    BadInit,
    /// A lock in GETLK's answer has an unknown type or an impossible range.
    BadLock,
    /// A name is empty, too long, or contains '/' or NUL.
    BadName,
    /// Flags the protocol does not define.
    BadFlags,
    /// A notification (unique 0) the module does not handle.
    UnsupportedNotify,
    /// A request would be larger than the protocol can express.
    TooLarge,
}
