// SPDX-License-Identifier: GPL-2.0

//! INIT negotiation: what the kernel offers and what the server's reply
//! makes of the connection.

use super::{reply, ProtoError};
use crate::abi;

/// Protocol major version spoken.
pub(crate) const MAJOR: u32 = abi::FUSE_KERNEL_VERSION;
/// Highest protocol minor version spoken (7.41).
pub(crate) const MINOR: u32 = abi::FUSE_KERNEL_MINOR_VERSION;
/// Oldest minor accepted: 7.12 brought the reply sizes used throughout.
pub(crate) const MINOR_MIN: u32 = 12;

/// Pages per request when the server does not negotiate FUSE_MAX_PAGES.
pub(crate) const DEFAULT_MAX_PAGES: u32 = 32;
/// Smallest `max_write` the kernel assumes.
pub(crate) const MIN_MAX_WRITE: u32 = 4096;
/// Background request limits when the server does not set them.
pub(crate) const DEFAULT_MAX_BACKGROUND: u16 = 12;

/// INIT flags (`flags | flags2 << 32`) this implementation supports and
/// offers to every server. FUSE_WRITEBACK_CACHE is offered only to mounts
/// with `allow_wbcache` (see [`offered_flags`]).
pub(crate) const SUPPORTED_FLAGS: u64 = (abi::FUSE_ASYNC_READ
    | abi::FUSE_POSIX_LOCKS
    | abi::FUSE_FLOCK_LOCKS
    | abi::FUSE_HAS_IOCTL_DIR
    | abi::FUSE_ATOMIC_O_TRUNC
    | abi::FUSE_BIG_WRITES
    | abi::FUSE_AUTO_INVAL_DATA
    | abi::FUSE_DO_READDIRPLUS
    | abi::FUSE_NO_OPEN_SUPPORT
    | abi::FUSE_NO_OPENDIR_SUPPORT
    | abi::FUSE_MAX_PAGES
    | abi::FUSE_PARALLEL_DIROPS
    // Not HANDLE_KILLPRIV: libfuse accepts it by default, and a server
    // running as root (passthrough_ll) then clears nothing on a write.
    | abi::FUSE_HANDLE_KILLPRIV_V2
    | abi::FUSE_EXPLICIT_INVAL_DATA
    | abi::FUSE_DONT_MASK
    | abi::FUSE_POSIX_ACL
    | abi::FUSE_CACHE_SYMLINKS
    | abi::FUSE_SETXATTR_EXT
    // The device splices: reads fill pages for the message, writes go
    // through write_iter. Not SPLICE_MOVE: spliced pages are copied.
    | abi::FUSE_SPLICE_READ
    | abi::FUSE_SPLICE_WRITE
    | abi::FUSE_INIT_EXT) as u64
    // INVAL_ENTRY with FUSE_EXPIRE_ONLY is understood (libfuse's
    // fuse_lowlevel_notify_expire_entry needs this).
    | abi::FUSE_HAS_EXPIRE_ONLY;

/// What a mount offers: [`SUPPORTED_FLAGS`], plus FUSE_WRITEBACK_CACHE when
/// it was mounted with `allow_wbcache`. A server cannot turn on a flag that
/// was not offered, so write-back needs both sides.
pub(crate) fn offered_flags(allow_wbcache: bool) -> u64 {
    if allow_wbcache {
        SUPPORTED_FLAGS | u64::from(abi::FUSE_WRITEBACK_CACHE)
    } else {
        SUPPORTED_FLAGS
    }
}

/// Largest accepted `max_pages_limit` (64 MiB requests with 4 KiB pages).
pub(crate) const MAX_MAX_PAGES_LIMIT: u32 = 16384;

/// The INIT request's arguments for the given offer.
pub(crate) fn init_in(flags: u64, max_readahead: u32) -> abi::fuse_init_in {
    abi::fuse_init_in {
        major: MAJOR,
        minor: MINOR,
        max_readahead,
        flags: (flags & 0xffff_ffff) as u32,
        flags2: (flags >> 32) as u32,
        ..Default::default()
    }
}

/// The connection's parameters after a successful INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// Minor version both sides speak.
    pub(crate) minor: u32,
    /// Flags both sides agreed on.
    pub(crate) flags: u64,
    /// Largest WRITE payload the server accepts.
    pub(crate) max_write: u32,
    /// Largest request in pages.
    pub(crate) max_pages: u32,
    /// Readahead the server allows, in bytes.
    pub(crate) max_readahead: u32,
    /// Timestamp granularity in nanoseconds (1..=1e9).
    pub(crate) time_gran: u32,
    /// Background requests in flight at most.
    pub(crate) max_background: u16,
    /// Background requests at which writeback backs off.
    pub(crate) congestion_threshold: u16,
}

impl Negotiated {
    /// Whether `flag` (an `abi::FUSE_*` INIT flag) was agreed on.
    pub(crate) fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// Whether the kernel enforces the server's POSIX ACLs (FUSE_POSIX_ACL;
    /// implies `default_permissions`).
    pub(crate) fn posix_acl(&self) -> bool {
        self.has(u64::from(abi::FUSE_POSIX_ACL))
    }

    /// Whether symlink targets are kept in the page cache once read
    /// (FUSE_CACHE_SYMLINKS).
    pub(crate) fn cache_symlinks(&self) -> bool {
        self.has(u64::from(abi::FUSE_CACHE_SYMLINKS))
    }

    /// Whether the server applies the umask to new nodes itself
    /// (FUSE_DONT_MASK).
    pub(crate) fn dont_mask(&self) -> bool {
        self.has(u64::from(abi::FUSE_DONT_MASK))
    }

    /// Whether the server clears suid/sgid itself where a request says so
    /// (HANDLE_KILLPRIV_V2; version 1 is not offered).
    pub(crate) fn server_kills_privs(&self) -> bool {
        self.has(u64::from(abi::FUSE_HANDLE_KILLPRIV_V2))
    }
}

/// Interprets the INIT reply `payload` for the `offered` flags and
/// `max_readahead`, with `max_pages_limit` as the module's page limit.
pub(crate) fn negotiate(
    payload: &[u8],
    offered: u64,
    max_readahead: u32,
    max_pages_limit: u32,
) -> Result<Negotiated, ProtoError> {
    let out = reply::read_init(payload)?;
    if out.major != MAJOR || out.minor < MINOR_MIN {
        return Err(ProtoError::BadInit);
    }
    let minor = out.minor.min(MINOR);
    let mut flags = u64::from(out.flags);
    if flags & u64::from(abi::FUSE_INIT_EXT) != 0 {
        flags |= u64::from(out.flags2) << 32;
    }
    flags &= offered;
    let max_pages = if flags & u64::from(abi::FUSE_MAX_PAGES) != 0 {
        u32::from(out.max_pages).clamp(1, max_pages_limit.max(1))
    } else {
        DEFAULT_MAX_PAGES.min(max_pages_limit.max(1))
    };
    let time_gran = if (1..=1_000_000_000).contains(&out.time_gran) {
        out.time_gran
    } else {
        1
    };
    let max_background = if out.max_background == 0 {
        DEFAULT_MAX_BACKGROUND
    } else {
        out.max_background
    };
    let congestion_threshold =
        if out.congestion_threshold == 0 || out.congestion_threshold > max_background {
            max_background.saturating_mul(3) / 4
        } else {
            out.congestion_threshold
        };
    Ok(Negotiated {
        minor,
        flags,
        max_write: out.max_write.max(MIN_MAX_WRITE),
        max_pages,
        max_readahead: out.max_readahead.min(max_readahead),
        time_gran,
        max_background,
        congestion_threshold: congestion_threshold.max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::pod;

    fn out(f: impl FnOnce(&mut abi::fuse_init_out)) -> abi::fuse_init_out {
        let mut o = abi::fuse_init_out {
            major: 7,
            minor: 41,
            ..Default::default()
        };
        f(&mut o);
        o
    }

    #[test]
    fn negotiates() {
        let o = out(|o| {
            o.flags = abi::FUSE_MAX_PAGES
                | abi::FUSE_ASYNC_READ
                | abi::FUSE_POSIX_ACL
                | abi::FUSE_HANDLE_KILLPRIV;
            o.max_pages = 1000;
            o.max_write = 1 << 20;
            o.max_readahead = 1 << 30;
            o.time_gran = 0;
        });
        let n = negotiate(pod::bytes_of(&o), SUPPORTED_FLAGS, 128 << 10, 256).unwrap();
        assert_eq!(n.max_pages, 256);
        assert_eq!(n.max_write, 1 << 20);
        assert_eq!(n.max_readahead, 128 << 10);
        assert_eq!(n.time_gran, 1);
        assert!(n.has(u64::from(abi::FUSE_ASYNC_READ)));
        assert!(n.posix_acl() && !n.dont_mask());
        assert!(!n.has(u64::from(abi::FUSE_HANDLE_KILLPRIV)), "not offered");
        assert!(!n.has(u64::from(abi::FUSE_WRITEBACK_CACHE)), "not offered");
        let o = out(|o| o.flags |= abi::FUSE_WRITEBACK_CACHE);
        let n = negotiate(pod::bytes_of(&o), offered_flags(false), 0, 256).unwrap();
        assert!(!n.has(u64::from(abi::FUSE_WRITEBACK_CACHE)), "flag alone");
        let n = negotiate(pod::bytes_of(&o), offered_flags(true), 0, 256).unwrap();
        assert!(
            n.has(u64::from(abi::FUSE_WRITEBACK_CACHE)),
            "flag and option"
        );
        let o = out(|o| o.flags &= !abi::FUSE_WRITEBACK_CACHE);
        let n = negotiate(pod::bytes_of(&o), offered_flags(true), 0, 256).unwrap();
        assert!(!n.has(u64::from(abi::FUSE_WRITEBACK_CACHE)), "option alone");
        assert_eq!((n.max_background, n.congestion_threshold), (12, 9));
    }

    #[test]
    fn defaults_and_errors() {
        let o = out(|o| o.max_write = 0);
        let n = negotiate(pod::bytes_of(&o), SUPPORTED_FLAGS, 0, 256).unwrap();
        assert_eq!((n.max_pages, n.max_write), (32, 4096));
        let o = out(|o| o.major = 8);
        assert_eq!(
            negotiate(pod::bytes_of(&o), 0, 0, 256),
            Err(ProtoError::BadInit)
        );
        let o = out(|o| o.minor = 11);
        assert_eq!(
            negotiate(pod::bytes_of(&o), 0, 0, 256),
            Err(ProtoError::BadInit)
        );
        let o = out(|o| o.minor = 99);
        assert_eq!(
            negotiate(pod::bytes_of(&o), 0, 0, 256).unwrap().minor,
            MINOR
        );
        let o = out(|_| ());
        assert_eq!(
            negotiate(&pod::bytes_of(&o)[..20], 0, 0, 256),
            Err(ProtoError::BadInit)
        );
    }

    #[test]
    fn flags2_only_with_init_ext() {
        let o = out(|o| {
            o.flags = abi::FUSE_INIT_EXT;
            o.flags2 = 1;
        });
        let offered = SUPPORTED_FLAGS | (1 << 32);
        assert!(negotiate(pod::bytes_of(&o), offered, 0, 256)
            .unwrap()
            .has(1 << 32));
        let o = out(|o| o.flags2 = 1);
        assert!(!negotiate(pod::bytes_of(&o), offered, 0, 256)
            .unwrap()
            .has(1 << 32));
    }
}
