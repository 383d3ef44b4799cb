//! The in-memory model of a file: the bytes it must contain.

use std::fmt::Write as _;

/// The expected content (and so size) of one file, and what its last
/// successful fsync made durable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileModel {
    data: Vec<u8>,
    /// The content when the last successful fsync returned.
    synced: Vec<u8>,
    /// Per byte of `synced`: changed (written, cut or zeroed) since then.
    touched: Vec<bool>,
    /// The size changed (or may have) since then.
    resized: bool,
}

impl FileModel {
    /// The size the file must have.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// The whole expected content.
    #[cfg(test)]
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Bytes `[from, to)` may have changed, and the size too: an operation
    /// on them failed, and may have been done in part.
    pub fn touch_failed(&mut self, from: usize, to: usize) {
        self.resized = true;
        self.touch(from, to);
    }

    /// Bytes `[from, to)` changed after the last fsync.
    fn touch(&mut self, from: usize, to: usize) {
        let to = to.min(self.touched.len());
        if let Some(t) = self.touched.get_mut(from..to) {
            t.fill(true);
        }
    }

    /// `write` on an `O_APPEND` descriptor.
    pub fn append(&mut self, d: &[u8]) {
        let old = self.data.len();
        self.touch(old, old + d.len());
        self.resized |= !d.is_empty();
        self.data.extend_from_slice(d);
    }

    /// `pwrite` (or a store through a shared mapping) at `off`; writing past
    /// the end leaves a hole of zeros between the old end and `off`.
    pub fn write_at(&mut self, off: u64, d: &[u8]) {
        let off = off as usize;
        let end = off + d.len();
        // Past the end, the hole between the old end and `off` changes too.
        self.touch(off.min(self.data.len()), end);
        if self.data.len() < end {
            self.resized = true;
            self.data.resize(end, 0);
        }
        self.data[off..end].copy_from_slice(d);
    }

    /// `ftruncate`: shrinks, or extends with zeros.
    pub fn truncate(&mut self, len: u64) {
        let (old, new) = (self.data.len(), len as usize);
        self.touch(old.min(new), old.max(new));
        self.resized |= old != new;
        self.data.resize(new, 0);
    }

    /// A successful fsync: the whole content is durable now.
    pub fn synced(&mut self) {
        self.synced.clone_from(&self.data);
        self.touched.clear();
        self.touched.resize(self.data.len(), false);
        self.resized = false;
    }

    /// Checks `found`, the file as the server holds it, against the last
    /// fsync: every byte it covered that nothing changed since must be
    /// there. `None` when it holds, else the first byte that does not.
    pub fn check_durable(&self, found: &[u8]) -> Option<String> {
        if !self.resized && found.len() != self.synced.len() {
            return Some(format!(
                "the size is {}, fsynced as {} and not changed since",
                found.len(),
                self.synced.len()
            ));
        }
        let kept = |i: &usize| !self.touched[*i];
        let i = (0..self.synced.len())
            .filter(kept)
            .find(|&i| found.get(i) != Some(&self.synced[i]))?;
        let n = (i..self.synced.len())
            .take_while(|j| kept(j) && found.get(*j) != Some(&self.synced[*j]))
            .count();
        Some(match found.get(i) {
            None => format!(
                "the file ends at {}, but byte {i} was fsynced ({:02x}) and not changed since \
                 ({} such bytes missing from there on)",
                found.len(),
                self.synced[i],
                self.synced.len() - i
            ),
            Some(b) => format!(
                "byte {i} ({i:#x}) is {b:02x}, fsynced as {:02x} and not changed since \
                 ({n} bytes differ from there on)",
                self.synced[i]
            ),
        })
    }

    /// What a read of `len` bytes at `off` must return: the bytes that
    /// exist, so fewer than `len` (or none) at and past the end.
    pub fn expected(&self, off: u64, len: u64) -> &[u8] {
        let size = self.data.len() as u64;
        let start = off.min(size) as usize;
        let end = off.saturating_add(len).min(size) as usize;
        &self.data[start..end]
    }
}

/// The first difference between what a read returned and the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// File offset of the first differing byte (or where one of the two ends).
    pub offset: u64,
    /// Up to [`SHOWN`] expected bytes from `offset`.
    pub expected: Vec<u8>,
    /// Up to [`SHOWN`] bytes found from `offset`.
    pub found: Vec<u8>,
    /// How many bytes were expected and found in the whole compared range.
    pub expected_len: usize,
    pub found_len: usize,
}

/// How many bytes a mismatch report shows.
pub const SHOWN: usize = 16;

/// Compares `found` (read at file offset `base`) with `expected`.
pub fn compare(expected: &[u8], found: &[u8], base: u64) -> Option<Mismatch> {
    if expected == found {
        return None;
    }
    let i = expected
        .iter()
        .zip(found)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(found.len()));
    let show = |s: &[u8]| s[i.min(s.len())..(i + SHOWN).min(s.len())].to_vec();
    Some(Mismatch {
        offset: base + i as u64,
        expected: show(expected),
        found: show(found),
        expected_len: expected.len(),
        found_len: found.len(),
    })
}

/// Bytes as hex, space-separated.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at offset {} ({:#x}): ", self.offset, self.offset)?;
        if self.found.is_empty() {
            write!(f, "expected {}, found nothing", hex(&self.expected))?;
        } else if self.expected.is_empty() {
            write!(
                f,
                "expected nothing (past the end), found {}",
                hex(&self.found)
            )?;
        } else {
            write!(
                f,
                "expected {}, found {}",
                hex(&self.expected),
                hex(&self.found)
            )?;
            if self.found.iter().all(|b| *b == 0) {
                write!(f, " (zeros)")?;
            }
        }
        if self.expected_len != self.found_len {
            write!(
                f,
                "; {} bytes expected in the range, {} read",
                self.expected_len, self.found_len
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_bytes_are_the_fsynced_untouched_ones() {
        let mut m = FileModel::default();
        m.append(b"ab");
        assert_eq!(m.check_durable(b""), None, "nothing fsynced yet");
        m.append(b"cdef");
        m.synced();
        m.write_at(1, b"X");
        m.truncate(4);
        m.truncate(4);
        m.truncate(6);
        m.truncate(4);
        for ok in [&b"aXcd"[..], b"abcd", b"abcdef", b"aXcdZZZZ"] {
            assert_eq!(m.check_durable(ok), None, "{ok:?}");
        }
        assert!(m.check_durable(b"abzd").unwrap().starts_with("byte 2 "));
        assert!(m
            .check_durable(b"ab")
            .unwrap()
            .starts_with("the file ends at 2"));
        m.write_at(10, b"Q");
        assert_eq!(m.check_durable(b"abcd"), None, "a hole past the end");
        m.synced();
        assert!(
            m.check_durable(b"abcd").is_some(),
            "the new fsync covers the hole"
        );
        let mut s = FileModel::default();
        s.append(b"abc");
        s.synced();
        s.write_at(0, b"X");
        assert_eq!(s.check_durable(b"Xbc"), None);
        assert!(s
            .check_durable(b"abcd")
            .unwrap()
            .starts_with("the size is 4"));
        s.touch_failed(3, 4);
        assert_eq!(
            s.check_durable(b"abcd"),
            None,
            "a failed append may have landed"
        );
    }

    #[test]
    fn truncate_extension_reads_zeros() {
        let mut m = FileModel::default();
        m.append(b"abc");
        m.truncate(6);
        assert_eq!(m.data(), b"abc\0\0\0");
        m.truncate(2);
        assert_eq!(m.data(), b"ab");
        m.truncate(4);
        assert_eq!(m.data(), b"ab\0\0", "a shrink forgets the bytes cut off");
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn append_and_overwrite() {
        let mut m = FileModel::default();
        m.append(b"hello");
        m.append(b" world");
        assert_eq!(m.data(), b"hello world");
        m.write_at(6, b"W");
        assert_eq!(m.data(), b"hello World");
        m.write_at(9, b"LD!!");
        assert_eq!(m.data(), b"hello WorLD!!");
    }

    #[test]
    fn overwrite_past_eof_leaves_a_hole() {
        let mut m = FileModel::default();
        m.append(b"ab");
        m.write_at(5, b"xy");
        assert_eq!(m.data(), b"ab\0\0\0xy");
        assert_eq!(m.len(), 7);
        m.write_at(7, b"z");
        assert_eq!(m.data(), b"ab\0\0\0xyz");
    }

    #[test]
    fn expected_ranges_stop_at_eof() {
        let mut m = FileModel::default();
        m.append(b"0123456789");
        assert_eq!(m.expected(2, 3), b"234");
        assert_eq!(m.expected(8, 100), b"89");
        assert_eq!(m.expected(10, 5), b"");
        assert_eq!(m.expected(50, 5), b"");
        assert_eq!(m.expected(u64::MAX, u64::MAX), b"");
    }

    #[test]
    fn comparisons() {
        assert_eq!(compare(b"abc", b"abc", 0), None);
        let mm = compare(b"abcdef", b"abXdef", 100).unwrap();
        assert_eq!(mm.offset, 102);
        assert_eq!(mm.expected, b"cdef");
        assert_eq!(mm.found, b"Xdef");
        // Short read: the first missing byte.
        let mm = compare(b"abcdef", b"abc", 10).unwrap();
        assert_eq!(
            (mm.offset, mm.found.len(), mm.expected.as_slice()),
            (13, 0, &b"def"[..])
        );
        assert!(mm.to_string().contains("found nothing"), "{mm}");
        // Long read: bytes past the model's end.
        let mm = compare(b"ab", b"ab\0\0", 0).unwrap();
        assert_eq!(
            (mm.offset, mm.expected.len(), mm.found.as_slice()),
            (2, 0, &[0u8, 0][..])
        );
        let mm = compare(&[1; 40], &[0; 40], 0).unwrap();
        assert_eq!(mm.expected.len(), SHOWN);
        assert!(mm.to_string().contains("(zeros)"), "{mm}");
    }
}
