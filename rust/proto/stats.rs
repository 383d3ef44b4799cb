// SPDX-License-Identifier: GPL-2.0

//! Per-connection request statistics: names of opcodes, the WRITE-size
//! histogram's buckets, and the `key value` text the control directory's
//! `stats` file shows.

use crate::abi;
use core::fmt::{self, Write};

/// Opcodes counted: every opcode below this (all but CANONICAL_PATH).
pub(crate) const OPCODES: usize = 64;
/// WRITE-size buckets: bucket `k` holds sizes in `(2^(k-1), 2^k]`.
pub(crate) const BUCKETS: usize = 32;

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
        _ => "OTHER",
    }
}

/// The histogram bucket of a WRITE of `size` bytes.
pub(crate) fn bucket(size: usize) -> usize {
    let k = if size <= 1 {
        0
    } else {
        // CAST: at most 64.
        (usize::BITS - (size - 1).leading_zeros()) as usize
    };
    k.min(BUCKETS - 1)
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
        let name = opcode_name(op as u32);
        writeln!(out, "op.{name}.count {c}")?;
        writeln!(out, "op.{name}.bytes {b}")?;
    }
    writeln!(out, "requests_total {total}")?;
    for (k, &n) in s.write_hist.iter().enumerate() {
        if n != 0 {
            writeln!(out, "write_size_le.{} {n}", 1u64 << k)?;
        }
    }
    for (k, v) in s.extra {
        writeln!(out, "{k} {v}")?;
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
        assert_eq!(bucket(usize::MAX), BUCKETS - 1);
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
}
