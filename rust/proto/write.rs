// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of the write side: how big a WRITE may be, how a range is
//! cut into WRITEs, how writeback crops to the file size, what a WRITE reply
//! means, and SETATTR's attribute encoding. Pure, so `cargo test` covers it.

use crate::abi;

/// The largest WRITE payload in bytes for a connection with these limits:
/// at most `max_write` bytes and `max_pages` pages, never below one page.
pub(crate) fn max_write_bytes(max_write: u32, max_pages: u32, page_size: usize) -> usize {
    let by_pages = (max_pages.max(1) as usize).saturating_mul(page_size);
    (max_write as usize).min(by_pages).max(page_size)
}

/// Pages per writeback WRITE: whole pages within `max_write` and
/// `max_pages`, at least one.
pub(crate) fn writeback_pages(max_write: u32, max_pages: u32, page_size: usize) -> usize {
    (max_write_bytes(max_write, max_pages, page_size) / page_size).max(1)
}

/// Length of the next write-through WRITE at `pos` with `left` bytes to go:
/// at most `max_bytes`, and (as mainline) the pages it touches, counted from
/// `pos`'s offset in its page, stay within `max_pages`.
pub(crate) fn chunk_len(
    pos: u64,
    left: usize,
    max_bytes: usize,
    max_pages: u32,
    page_size: usize,
) -> usize {
    let in_page = (pos % page_size as u64) as usize;
    let by_pages = (max_pages.max(1) as usize)
        .saturating_mul(page_size)
        .saturating_sub(in_page)
        .max(1);
    left.min(max_bytes).min(by_pages)
}

/// How many of `len` bytes at `offset` lie below the file size `size`:
/// writeback never sends data past EOF (0: the range was truncated away).
pub(crate) fn crop_to_size(offset: u64, len: usize, size: i64) -> usize {
    let Ok(size) = u64::try_from(size) else {
        return 0;
    };
    if offset >= size {
        return 0;
    }
    let room = size - offset;
    if room < len as u64 {
        // CAST: `room < len`, which is a usize.
        room as usize
    } else {
        len
    }
}

/// The byte range `first..=last` of the whole pages that bytes
/// `start..end` touch (`start < end`, both non-negative): what a change of
/// those bytes past the page cache makes stale (partial pages must be read
/// again, not zeroed).
pub(crate) fn page_cover(start: i64, end: i64, page_size: usize) -> (i64, i64) {
    let page = page_size as i64;
    let first = start - start % page;
    let last = end.saturating_add(page - 1) / page * page - 1;
    (first, last)
}

/// Write-behind state of an inode: where the sequential stream of buffered
/// writes ends, and where the part not yet handed to writeback starts.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Behind {
    /// End of the last buffered write.
    pub(crate) end: u64,
    /// Start of the stream's bytes not yet sent (page aligned).
    pub(crate) mark: u64,
}

/// After a buffered write of `start..end`: the page-aligned byte range
/// `(from, to)` to write back now, when the sequential stream holds at
/// least `batch` bytes of whole pages not yet sent. The page the stream
/// ends in stays dirty (the next write continues it). A write that does
/// not continue the stream starts a new one.
pub(crate) fn write_behind(
    b: &mut Behind,
    start: u64,
    end: u64,
    batch: u64,
    page: u64,
) -> Option<(u64, u64)> {
    if page == 0 || end <= start {
        return None;
    }
    if start != b.end || b.mark > start {
        b.mark = start - start % page;
    }
    b.end = end;
    let upto = end - end % page;
    if upto.saturating_sub(b.mark) >= batch.max(page) {
        let from = b.mark;
        b.mark = upto;
        Some((from, upto))
    } else {
        None
    }
}

/// What a successful WRITE reply means for the `sent` bytes it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// Everything was written.
    Complete,
    /// Only the first `written` bytes (`0 < written < sent`) were written.
    Short {
        /// Bytes the server took.
        written: usize,
    },
    /// Nothing was written, though bytes were sent: an error (EIO), so a
    /// server that keeps answering 0 cannot make writeback loop.
    Nothing,
}

/// Interprets a WRITE reply (`written` was validated `<= sent`).
pub(crate) fn write_outcome(sent: usize, written: u32) -> WriteOutcome {
    let w = written as usize;
    if w >= sent {
        WriteOutcome::Complete
    } else if w == 0 {
        WriteOutcome::Nothing
    } else {
        WriteOutcome::Short { written: w }
    }
}

/// A time to set with SETATTR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetTime {
    /// Leave it alone.
    Omit,
    /// The server's current time (`FATTR_*TIME_NOW`).
    Now,
    /// This time.
    At(i64, u32),
}

/// What a SETATTR changes, in the kernel's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SetAttr {
    /// New mode (permission bits and suid/sgid/sticky).
    pub(crate) mode: Option<u32>,
    /// New owner, as the server sees it.
    pub(crate) uid: Option<u32>,
    /// New group, as the server sees it.
    pub(crate) gid: Option<u32>,
    /// New size.
    pub(crate) size: Option<u64>,
    /// New access time.
    pub(crate) atime: SetTime,
    /// New modification time.
    pub(crate) mtime: SetTime,
    /// New change time (only sent to servers of minor 23 and later).
    pub(crate) ctime: Option<(i64, u32)>,
    /// The open file the change is made through.
    pub(crate) fh: Option<u64>,
    /// Kill suid/sgid (a write or truncate by an unprivileged user).
    pub(crate) kill_suidgid: bool,
}

impl SetAttr {
    /// Nothing to change.
    pub(crate) const NONE: SetAttr = SetAttr {
        mode: None,
        uid: None,
        gid: None,
        size: None,
        atime: SetTime::Omit,
        mtime: SetTime::Omit,
        ctime: None,
        fh: None,
        kill_suidgid: false,
    };
}

fn set_time(t: SetTime, bit: u32, now_bit: u32, sec: &mut u64, nsec: &mut u32) -> u32 {
    match t {
        SetTime::Omit => 0,
        SetTime::Now => bit | now_bit,
        SetTime::At(s, ns) => {
            // CAST: the wire carries the two's complement of the seconds.
            *sec = s as u64;
            *nsec = ns;
            bit
        }
    }
}

/// Encodes `sa` as `fuse_setattr_in` for a server speaking `minor`.
pub(crate) fn setattr_in(sa: &SetAttr, minor: u32) -> abi::fuse_setattr_in {
    let mut a = abi::fuse_setattr_in::default();
    let mut valid = 0;
    if let Some(m) = sa.mode {
        valid |= abi::FATTR_MODE;
        a.mode = m;
    }
    if let Some(u) = sa.uid {
        valid |= abi::FATTR_UID;
        a.uid = u;
    }
    if let Some(g) = sa.gid {
        valid |= abi::FATTR_GID;
        a.gid = g;
    }
    if let Some(s) = sa.size {
        valid |= abi::FATTR_SIZE;
        a.size = s;
    }
    valid |= set_time(
        sa.atime,
        abi::FATTR_ATIME,
        abi::FATTR_ATIME_NOW,
        &mut a.atime,
        &mut a.atimensec,
    );
    valid |= set_time(
        sa.mtime,
        abi::FATTR_MTIME,
        abi::FATTR_MTIME_NOW,
        &mut a.mtime,
        &mut a.mtimensec,
    );
    if let Some((s, ns)) = sa.ctime {
        if minor >= 23 {
            valid |= abi::FATTR_CTIME;
            // CAST: see `set_time`.
            a.ctime = s as u64;
            a.ctimensec = ns;
        }
    }
    if let Some(fh) = sa.fh {
        valid |= abi::FATTR_FH;
        a.fh = fh;
    }
    if sa.kill_suidgid {
        valid |= abi::FATTR_KILL_SUIDGID;
    }
    a.valid = valid;
    a
}

/// Rounds a time down to the granularity `gran` (nanoseconds, 1..=1e9),
/// as the VFS does with `s_time_gran`.
pub(crate) fn round_time(sec: i64, nsec: u32, gran: u32) -> (i64, u32) {
    if gran <= 1 {
        (sec, nsec)
    } else if gran >= 1_000_000_000 {
        (sec, 0)
    } else {
        (sec, nsec - nsec % gran)
    }
}

/// The pages one WRITE in flight covers (page indices, inclusive), which
/// grow as writeback adds folios to it, and the file handle it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first: u64,
    /// Inclusive; `None` while the span is still empty.
    pub(crate) last: Option<u64>,
    pub(crate) fh: u64,
}

impl Span {
    /// A span that starts at page `first` and holds no page yet.
    pub(crate) fn empty(first: u64, fh: u64) -> Self {
        Self {
            first,
            last: None,
            fh,
        }
    }

    /// Whether the span holds any of the pages `first..=last`. An empty
    /// span holds none (written as `first - 1`, one at page 0 wrapped
    /// around and covered every page).
    pub(crate) fn covers(&self, first: u64, last: u64) -> bool {
        self.last.is_some_and(|l| self.first <= last && first <= l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: usize = 4096;

    #[test]
    fn page_covers() {
        assert_eq!(page_cover(0, 1, P), (0, 4095));
        assert_eq!(page_cover(100, 4096, P), (0, 4095));
        assert_eq!(page_cover(4095, 4097, P), (0, 8191));
        assert_eq!(page_cover(8192, 12288, P), (8192, 12287));
        assert_eq!(page_cover(5000, i64::MAX, P).0, 4096);
    }

    #[test]
    fn write_behind_streams() {
        const M: u64 = 1 << 20;
        let p = P as u64;
        let mut b = Behind::default();
        // 4 KiB writes: nothing until a whole MiB is behind the stream.
        for i in 0..255 {
            assert_eq!(write_behind(&mut b, i * p, (i + 1) * p, M, p), None);
        }
        assert_eq!(write_behind(&mut b, 255 * p, 256 * p, M, p), Some((0, M)));
        assert_eq!(b, Behind { end: M, mark: M });
        // Unaligned writes: the page the stream ends in is kept.
        assert_eq!(write_behind(&mut b, M, 2 * M + 100, M, p), Some((M, 2 * M)));
        assert_eq!(write_behind(&mut b, 2 * M + 100, 3 * M - 1, M, p), None);
        assert_eq!(
            write_behind(&mut b, 3 * M - 1, 3 * M + 5, M, p),
            Some((2 * M, 3 * M))
        );
        // One huge write: everything behind it at once.
        let mut b = Behind::default();
        assert_eq!(write_behind(&mut b, 0, 64 * M, M, p), Some((0, 64 * M)));
    }

    #[test]
    fn write_behind_restarts() {
        const M: u64 = 1 << 20;
        let p = P as u64;
        let mut b = Behind::default();
        assert_eq!(write_behind(&mut b, 0, M / 2, M, p), None);
        // A jump: a new stream from the page of the new write.
        assert_eq!(write_behind(&mut b, 10 * M + 7, 11 * M - 1, M, p), None);
        assert_eq!(b.mark, 10 * M);
        assert_eq!(
            write_behind(&mut b, 11 * M - 1, 11 * M, M, p),
            Some((10 * M, 11 * M))
        );
        // Backwards (a rewrite): also a new stream.
        assert_eq!(write_behind(&mut b, 5 * M, 5 * M + p, M, p), None);
        assert_eq!(b.mark, 5 * M);
        // Empty and nonsense inputs.
        assert_eq!(write_behind(&mut b, 9, 9, M, p), None);
        assert_eq!(write_behind(&mut b, 0, 9, M, 0), None);
        // A batch smaller than a page counts as one page.
        let mut b = Behind::default();
        assert_eq!(write_behind(&mut b, 0, p, 0, p), Some((0, p)));
        // Offsets near u64::MAX do not overflow.
        let top = u64::MAX - u64::MAX % p;
        let mut b = Behind::default();
        assert_eq!(
            write_behind(&mut b, top - p, u64::MAX, p, p),
            Some((top - p, top))
        );
    }

    #[test]
    fn limits() {
        assert_eq!(max_write_bytes(1 << 20, 256, P), 1 << 20);
        assert_eq!(max_write_bytes(8 << 20, 2048, P), 8 << 20);
        assert_eq!(max_write_bytes(8 << 20, 256, P), 1 << 20);
        assert_eq!(max_write_bytes(4096, 32, P), 4096);
        assert_eq!(max_write_bytes(100, 0, P), 4096);
        assert_eq!(writeback_pages(128 << 10, 256, P), 32);
        assert_eq!(writeback_pages(6000, 256, P), 1);
        assert_eq!(writeback_pages(8 << 20, 2048, P), 2048);
    }

    #[test]
    fn chunks() {
        assert_eq!(chunk_len(0, 10, 4096, 32, P), 10);
        assert_eq!(chunk_len(0, 1 << 20, 128 << 10, 256, P), 128 << 10);
        // A chunk starting mid-page may not touch more than max_pages pages.
        assert_eq!(chunk_len(100, 1 << 20, 1 << 20, 1, P), 4096 - 100);
        assert_eq!(chunk_len(100, 1 << 20, 1 << 20, 2, P), 8192 - 100);
        assert_eq!(chunk_len(4096, 1 << 20, 1 << 20, 2, P), 8192);
    }

    #[test]
    fn crop() {
        assert_eq!(crop_to_size(0, 8192, 5000), 5000);
        assert_eq!(crop_to_size(4096, 4096, 5000), 904);
        assert_eq!(crop_to_size(8192, 4096, 5000), 0);
        assert_eq!(crop_to_size(0, 4096, 1 << 30), 4096);
        assert_eq!(crop_to_size(0, 4096, -1), 0);
        assert_eq!(crop_to_size(u64::MAX, 4096, i64::MAX), 0);
    }

    #[test]
    fn outcomes() {
        assert_eq!(write_outcome(100, 100), WriteOutcome::Complete);
        assert_eq!(write_outcome(100, 40), WriteOutcome::Short { written: 40 });
        assert_eq!(write_outcome(100, 0), WriteOutcome::Nothing);
        assert_eq!(write_outcome(0, 0), WriteOutcome::Complete);
    }

    #[test]
    fn setattr() {
        let sa = SetAttr {
            mode: Some(0o640),
            mtime: SetTime::At(-5, 7),
            atime: SetTime::Now,
            ctime: Some((9, 1)),
            fh: Some(3),
            ..SetAttr::NONE
        };
        let a = setattr_in(&sa, 41);
        assert_eq!(
            a.valid,
            abi::FATTR_MODE
                | abi::FATTR_MTIME
                | abi::FATTR_ATIME
                | abi::FATTR_ATIME_NOW
                | abi::FATTR_CTIME
                | abi::FATTR_FH
        );
        assert_eq!(
            (a.mode, a.mtime as i64, a.mtimensec, a.fh),
            (0o640, -5, 7, 3)
        );
        assert_eq!((a.ctime, a.ctimensec), (9, 1));
        let old = setattr_in(&sa, 22);
        assert_eq!(old.valid & abi::FATTR_CTIME, 0);
        let t = setattr_in(
            &SetAttr {
                size: Some(5),
                kill_suidgid: true,
                ..SetAttr::NONE
            },
            41,
        );
        assert_eq!(t.valid, abi::FATTR_SIZE | abi::FATTR_KILL_SUIDGID);
        assert_eq!(setattr_in(&SetAttr::NONE, 41).valid, 0);
    }

    #[test]
    fn rounding() {
        assert_eq!(round_time(5, 123_456_789, 1), (5, 123_456_789));
        assert_eq!(round_time(5, 123_456_789, 1000), (5, 123_456_000));
        assert_eq!(round_time(5, 123_456_789, 1_000_000_000), (5, 0));
    }

    #[test]
    fn span_covers() {
        let mut s = Span::empty(0, 7);
        // Empty, at page 0 too: covers nothing.
        assert!(!s.covers(0, 0));
        assert!(!s.covers(0, u64::MAX));
        s.last = Some(0);
        assert!(s.covers(0, 0));
        assert!(s.covers(0, u64::MAX));
        assert!(!s.covers(1, 5));
        let s = Span {
            first: 3,
            last: Some(5),
            fh: 1,
        };
        assert!(s.covers(5, 9));
        assert!(s.covers(0, 3));
        assert!(s.covers(4, 4));
        assert!(!s.covers(6, 9));
        assert!(!s.covers(0, 2));
        let s = Span {
            first: u64::MAX,
            last: Some(u64::MAX),
            fh: 1,
        };
        assert!(s.covers(0, u64::MAX));
        assert!(!s.covers(0, u64::MAX - 1));
    }
}
