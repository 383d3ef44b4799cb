// SPDX-License-Identifier: GPL-2.0

//! Request statistics and their text format, the one definition of it: the
//! module's `stats` file (rendered here), the reference server's `--stats`
//! file (rendered with the pieces here) and fusewb-bench's parser (built on
//! [`parse_line`] and [`write_size_bound`]) all use this file, the tools
//! through the host crate `fusewb-proto`.
//!
//! The format: one `KEY VALUE` line each, the value a decimal `u64`:
//! - `op.NAME.count`, `op.NAME.bytes`: requests of an opcode and their bytes
//!   (the module counts whole requests, headers included; the reference
//!   server counts the data they carry);
//! - `requests_total`: all requests;
//! - `write_size_le.N`: WRITEs of more than N/2 and at most N bytes (N = 1:
//!   0 or 1 byte; the last bucket also holds everything larger), only the
//!   non-empty buckets, N ascending;
//! - the module's writeback state ([`WRITEBACK_INFLIGHT_REQUESTS`] ...).
//!
//! The format's items are `pub`: `tests/host` re-exports them as
//! `fusewb_proto::stats`. The rest is the module's (`pub(crate)`).

use crate::abi;
use crate::proto::request::IN_HEADER;
use core::fmt::{self, Write};
use core::mem::size_of;

/// Opcodes counted: every opcode below this (all but CANONICAL_PATH).
pub(crate) const OPCODES: usize = 64;
/// WRITE-size buckets: bucket `k` holds sizes in `(2^(k-1), 2^k]`.
pub const BUCKETS: usize = 32;

/// Bytes of a WRITE request that are not data (`fuse_in_header` and
/// `fuse_write_in`), included in the module's `op.WRITE.bytes`.
pub const WRITE_HEADER: usize = IN_HEADER + size_of::<abi::fuse_write_in>();

/// Key prefix of the per-opcode counters: `op.NAME.count`, `op.NAME.bytes`.
pub const OP_PREFIX: &str = "op.";
/// Key suffix of an opcode's request count.
pub const COUNT_SUFFIX: &str = ".count";
/// Key suffix of an opcode's bytes.
pub const BYTES_SUFFIX: &str = ".bytes";
/// Key of the number of all requests.
pub const REQUESTS_TOTAL: &str = "requests_total";
/// Key prefix of the WRITE-size histogram: `write_size_le.N`.
pub const WRITE_SIZE_LE: &str = "write_size_le.";
/// Writeback WRITEs sent and not yet answered.
pub const WRITEBACK_INFLIGHT_REQUESTS: &str = "writeback_inflight_requests";
/// Their bytes.
pub const WRITEBACK_INFLIGHT_BYTES: &str = "writeback_inflight_bytes";
/// Short writeback WRITEs whose rest was resent.
pub const WRITEBACK_SHORT_RESENDS: &str = "writeback_short_resends";
/// Background writeback passes stopped by the bound on data in flight.
pub const WRITEBACK_BUDGET_STOPS: &str = "writeback_budget_stops";
/// Dirty page-cache pages of the mount.
pub const DIRTY_PAGES: &str = "dirty_pages";
/// Background requests being answered.
pub const BACKGROUND_ACTIVE: &str = "background_active";
/// Background requests waiting to be sent.
pub const BACKGROUND_QUEUED: &str = "background_queued";
/// 1 if the connection caches writes (write-back mode), else 0.
pub const WRITEBACK_CACHE: &str = "writeback_cache";

/// The name of an opcode, as in `fuse.h` without `FUSE_`.
pub(crate) fn opcode_name(op: u32) -> &'static str {
    match op {
        abi::fuse_opcode_FUSE_LOOKUP => "LOOKUP",
        abi::fuse_opcode_FUSE_FORGET => "FORGET",
        abi::fuse_opcode_FUSE_GETATTR => "GETATTR",
        abi::fuse_opcode_FUSE_SETATTR => "SETATTR",
        abi::fuse_opcode_FUSE_READLINK => "READLINK",
        abi::fuse_opcode_FUSE_SYMLINK => "SYMLINK",
        abi::fuse_opcode_FUSE_MKNOD => "MKNOD",
        abi::fuse_opcode_FUSE_MKDIR => "MKDIR",
        abi::fuse_opcode_FUSE_UNLINK => "UNLINK",
        abi::fuse_opcode_FUSE_RMDIR => "RMDIR",
        abi::fuse_opcode_FUSE_RENAME => "RENAME",
        abi::fuse_opcode_FUSE_LINK => "LINK",
        abi::fuse_opcode_FUSE_OPEN => "OPEN",
        abi::fuse_opcode_FUSE_READ => "READ",
        abi::fuse_opcode_FUSE_WRITE => "WRITE",
        abi::fuse_opcode_FUSE_STATFS => "STATFS",
        abi::fuse_opcode_FUSE_RELEASE => "RELEASE",
        abi::fuse_opcode_FUSE_FSYNC => "FSYNC",
        abi::fuse_opcode_FUSE_FLUSH => "FLUSH",
        abi::fuse_opcode_FUSE_INIT => "INIT",
        abi::fuse_opcode_FUSE_OPENDIR => "OPENDIR",
        abi::fuse_opcode_FUSE_READDIR => "READDIR",
        abi::fuse_opcode_FUSE_RELEASEDIR => "RELEASEDIR",
        abi::fuse_opcode_FUSE_ACCESS => "ACCESS",
        abi::fuse_opcode_FUSE_CREATE => "CREATE",
        abi::fuse_opcode_FUSE_INTERRUPT => "INTERRUPT",
        abi::fuse_opcode_FUSE_BATCH_FORGET => "BATCH_FORGET",
        abi::fuse_opcode_FUSE_FALLOCATE => "FALLOCATE",
        abi::fuse_opcode_FUSE_READDIRPLUS => "READDIRPLUS",
        abi::fuse_opcode_FUSE_LSEEK => "LSEEK",
        abi::fuse_opcode_FUSE_COPY_FILE_RANGE => "COPY_FILE_RANGE",
        abi::fuse_opcode_FUSE_TMPFILE => "TMPFILE",
        _ => "OTHER",
    }
}

/// The histogram bucket of a WRITE of `size` bytes.
pub fn bucket(size: u64) -> usize {
    let k = match size.checked_sub(1) {
        None | Some(0) => 0,
        // CAST: at most 64.
        Some(m) => (u64::BITS - m.leading_zeros()) as usize,
    };
    k.min(BUCKETS - 1)
}

/// The upper bound N of bucket `k` (its key is `write_size_le.N`).
pub fn bucket_bound(k: usize) -> Option<u64> {
    1u64.checked_shl(u32::try_from(k).ok()?)
}

/// Writes one `KEY VALUE` line.
pub fn write_line(out: &mut impl Write, key: fmt::Arguments<'_>, value: u64) -> fmt::Result {
    writeln!(out, "{key} {value}")
}

/// Writes the `op.NAME.count` and `op.NAME.bytes` lines of an opcode.
pub fn write_op(out: &mut impl Write, name: &str, count: u64, bytes: u64) -> fmt::Result {
    writeln!(out, "{OP_PREFIX}{name}{COUNT_SUFFIX} {count}")?;
    writeln!(out, "{OP_PREFIX}{name}{BYTES_SUFFIX} {bytes}")
}

/// Writes the `requests_total` line.
pub fn write_total(out: &mut impl Write, total: u64) -> fmt::Result {
    writeln!(out, "{REQUESTS_TOTAL} {total}")
}

/// Writes the `write_size_le.N` line of every non-empty bucket of `hist`.
pub fn write_hist(out: &mut impl Write, hist: &[u64]) -> fmt::Result {
    for (k, &n) in hist.iter().enumerate() {
        if let (true, Some(bound)) = (n != 0, bucket_bound(k)) {
            write_line(out, format_args!("{WRITE_SIZE_LE}{bound}"), n)?;
        }
    }
    Ok(())
}

/// Why a line is not `KEY VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError<'a> {
    /// Not exactly two words.
    Fields,
    /// The value (of this key) is not a decimal `u64`.
    Value(&'a str, &'a str),
}

/// Parses one line (surrounding white space ignored): `None` for a blank
/// line, else its key and value. The reader's side of [`write_line`].
// The module only writes; the host tools parse (hence `dead_code` in it).
#[allow(dead_code)]
pub fn parse_line(line: &str) -> Result<Option<(&str, u64)>, LineError<'_>> {
    let mut it = line.split_whitespace();
    let Some(k) = it.next() else {
        return Ok(None);
    };
    let (Some(v), None) = (it.next(), it.next()) else {
        return Err(LineError::Fields);
    };
    let n = v.parse::<u64>().map_err(|_| LineError::Value(k, v))?;
    Ok(Some((k, n)))
}

/// The N of a `write_size_le.N` key, if `key` is one.
#[allow(dead_code)]
pub fn write_size_bound(key: &str) -> Option<u64> {
    key.strip_prefix(WRITE_SIZE_LE)?.parse::<u64>().ok()
}

/// A snapshot of a connection's counters.
pub(crate) struct Snapshot<'a> {
    /// Requests handed to the server, by opcode.
    pub(crate) count: &'a [u64; OPCODES],
    /// Bytes of those requests (headers included), by opcode.
    pub(crate) bytes: &'a [u64; OPCODES],
    /// WRITE payload sizes, see [`bucket`].
    pub(crate) write_hist: &'a [u64; BUCKETS],
    /// Further `key value` lines (writeback state).
    pub(crate) extra: &'a [(&'a str, u64)],
}

/// Writes `s` as `key value` lines: `op.NAME.count`, `op.NAME.bytes` for
/// every opcode seen, `write_size_le.N` for every non-empty bucket (N is
/// the bucket's upper bound in bytes), then the extra lines.
pub(crate) fn render(s: &Snapshot<'_>, out: &mut impl Write) -> fmt::Result {
    let mut total = 0u64;
    for op in 0..OPCODES {
        let (Some(&c), Some(&b)) = (s.count.get(op), s.bytes.get(op)) else {
            continue;
        };
        if c == 0 {
            continue;
        }
        total = total.saturating_add(c);
        // CAST: `op < 64`.
        write_op(out, opcode_name(op as u32), c, b)?;
    }
    write_total(out, total)?;
    write_hist(out, s.write_hist)?;
    for &(k, v) in s.extra {
        write_line(out, format_args!("{k}"), v)?;
    }
    Ok(())
}

/// A `fmt::Write` into a byte buffer that fails instead of overflowing.
pub(crate) struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    /// Writes into `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(4096), 12);
        assert_eq!(bucket(4097), 13);
        assert_eq!(bucket(1 << 20), 20);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_bound(12), Some(4096));
        assert_eq!(bucket_bound(64), None);
    }

    #[test]
    fn renders() {
        let mut count = [0u64; OPCODES];
        let mut bytes = [0u64; OPCODES];
        let mut hist = [0u64; BUCKETS];
        count[abi::fuse_opcode_FUSE_WRITE as usize] = 2;
        bytes[abi::fuse_opcode_FUSE_WRITE as usize] = 8272;
        hist[bucket(4096)] = 2;
        let snap = Snapshot {
            count: &count,
            bytes: &bytes,
            write_hist: &hist,
            extra: &[("writeback_inflight_bytes", 5)],
        };
        let mut buf = [0u8; 512];
        let mut w = SliceWriter::new(&mut buf);
        render(&snap, &mut w).unwrap();
        let n = w.len();
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(
            text,
            "op.WRITE.count 2\nop.WRITE.bytes 8272\nrequests_total 2\n\
             write_size_le.4096 2\nwriteback_inflight_bytes 5\n"
        );
        let mut small = [0u8; 10];
        let mut w = SliceWriter::new(&mut small);
        assert!(render(&snap, &mut w).is_err());
    }

    #[test]
    fn write_header() {
        assert_eq!(WRITE_HEADER, 80);
    }

    /// Every line rendered parses back to what was rendered.
    #[test]
    fn round_trip() {
        let mut count = [0u64; OPCODES];
        let mut bytes = [0u64; OPCODES];
        let mut hist = [0u64; BUCKETS];
        count[abi::fuse_opcode_FUSE_LOOKUP as usize] = 3;
        count[abi::fuse_opcode_FUSE_WRITE as usize] = 7;
        bytes[abi::fuse_opcode_FUSE_WRITE as usize] = u64::MAX;
        for (k, h) in hist.iter_mut().enumerate() {
            *h = k as u64 % 3;
        }
        let sizes = [0u64, 1, 2, 3, 4096, 4097, 1 << 20, u64::MAX];
        let snap = Snapshot {
            count: &count,
            bytes: &bytes,
            write_hist: &hist,
            extra: &[(DIRTY_PAGES, 12), (WRITEBACK_CACHE, 1)],
        };
        let mut buf = [0u8; 4096];
        let mut w = SliceWriter::new(&mut buf);
        render(&snap, &mut w).unwrap();
        let n = w.len();
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        let lines: Vec<(&str, u64)> = text
            .lines()
            .map(|l| parse_line(l).unwrap().unwrap())
            .collect();
        assert_eq!(lines[0], ("op.LOOKUP.count", 3));
        assert_eq!(lines[1], ("op.LOOKUP.bytes", 0));
        assert_eq!(lines[2], ("op.WRITE.count", 7));
        assert_eq!(lines[3], ("op.WRITE.bytes", u64::MAX));
        assert_eq!(lines[4], (REQUESTS_TOTAL, 10));
        let parsed: Vec<(usize, u64)> = lines
            .iter()
            .filter_map(|&(k, v)| Some((write_size_bound(k)?, v)))
            .map(|(b, v)| (bucket(b), v))
            .collect();
        let want: Vec<(usize, u64)> = hist
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n != 0)
            .map(|(k, &n)| (k, n))
            .collect();
        assert_eq!(parsed, want);
        // A size lands in the bucket whose bound is the least at or above it.
        for s in sizes {
            let k = bucket(s);
            let bound = bucket_bound(k).unwrap();
            assert!(s <= bound || k == BUCKETS - 1, "{s}");
            assert!(k == 0 || s > bound / 2, "{s}");
            assert_eq!(
                write_size_bound(&format!("{WRITE_SIZE_LE}{bound}")),
                Some(bound)
            );
        }
        assert_eq!(
            &lines[lines.len() - 2..],
            &[(DIRTY_PAGES, 12), (WRITEBACK_CACHE, 1)]
        );
    }

    #[test]
    fn parses_lines() {
        assert_eq!(parse_line("  a \t 7 "), Ok(Some(("a", 7))));
        assert_eq!(parse_line(" \t"), Ok(None));
        assert_eq!(parse_line("a"), Err(LineError::Fields));
        assert_eq!(parse_line("a 1 2"), Err(LineError::Fields));
        assert_eq!(parse_line("a -1"), Err(LineError::Value("a", "-1")));
        assert_eq!(write_size_bound("write_size_le.4096"), Some(4096));
        assert_eq!(write_size_bound("write_size_le.x"), None);
        assert_eq!(write_size_bound("op.WRITE.count"), None);
    }
}
