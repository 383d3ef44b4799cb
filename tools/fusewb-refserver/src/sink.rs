//! The data sink of `--sink-pattern SEED`: an in-memory tree whose regular
//! files keep no data, only their metadata and a [`Coverage`], the byte
//! ranges written so far. Every WRITE is compared with the stream of
//! [`fusewb_pattern::Pattern`] of SEED at the WRITE's offset and counted
//! ([`Checker`]); READ returns the pattern where the file was written and
//! zeros elsewhere. So a benchmark can write gigabytes through a FUSE mount
//! in a VM with little RAM and still learn whether every byte arrived, at
//! the right offset.
//!
//! This is the pure part (no FUSE I/O, unit-tested); `sinkfs` serves it.
//! A WRITE whose data differs from the pattern is counted and logged (the
//! first [`MAX_LOGGED`]) but still marks its range written: reading it
//! back returns the pattern, not the data that was sent.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};
use fusewb_pattern::Pattern;

/// The root directory's inode number.
pub const ROOT: u64 = 1;
/// Mismatching WRITEs described on stderr; later ones are only counted.
pub const MAX_LOGGED: u64 = 10;
/// `st_blksize` of every node.
const BLKSIZE: u32 = 4096;
/// Longest name accepted.
const NAME_MAX: usize = 255;
/// What `statfs` reports: 1 TiB in 4 KiB blocks, 2^20 inodes.
const FS_BLOCKS: u64 = 1 << 28;
const FS_FILES: u64 = 1 << 20;

type Result<T> = std::result::Result<T, Errno>;

/// The byte ranges of a file that have been written: disjoint,
/// non-adjacent half-open intervals `[start, end)`, keyed by start (so
/// adjacent or overlapping writes merge into one interval).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    map: BTreeMap<u64, u64>,
}

impl Coverage {
    /// Marks `[start, end)` written.
    pub fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        // An interval starting before `start` that reaches it.
        if let Some((&ps, &pe)) = self.map.range(..=start).next_back() {
            if pe >= start {
                s = ps;
                e = e.max(pe);
                self.map.remove(&ps);
            }
        }
        // Intervals starting inside `[s, e]` (touching `e` merges too).
        while let Some((&ns, &ne)) = self.map.range(s..=e).next() {
            e = e.max(ne);
            self.map.remove(&ns);
        }
        self.map.insert(s, e);
    }

    /// Marks `[start, end)` not written (a hole punched, a zeroed range).
    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let hit: Vec<(u64, u64)> = self
            .map
            .range(..end)
            .rev()
            .take_while(|(_, &e)| e > start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in hit {
            self.map.remove(&s);
            if s < start {
                self.map.insert(s, start);
            }
            if e > end {
                self.map.insert(end, e);
            }
        }
    }

    /// Forgets everything at and beyond `size` (a truncate).
    pub fn truncate(&mut self, size: u64) {
        self.remove(size, u64::MAX);
    }

    /// Bytes written (the total length of the intervals).
    pub fn covered(&self) -> u64 {
        self.map.iter().map(|(s, e)| e - s).sum()
    }

    /// The intervals, ascending.
    #[cfg(test)]
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.map.iter().map(|(&s, &e)| (s, e)).collect()
    }

    /// The written parts of `[start, end)`, ascending, clipped to it.
    pub fn within(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self
            .map
            .range(..end)
            .rev()
            .take_while(|(_, &e)| e > start)
            .map(|(&s, &e)| (s.max(start), e.min(end)))
            .collect();
        v.reverse();
        v
    }
}

/// How one WRITE compared with the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every byte equals the pattern at its offset.
    Match,
    /// Some byte differs.
    Mismatch {
        /// File offset of the first differing byte.
        first: u64,
        /// Bytes of the WRITE that equal the pattern nonetheless.
        matched: u64,
    },
}

/// Compares WRITE data with the pattern and counts the outcome.
pub struct Checker {
    seed: u64,
    pattern: Pattern,
    /// The pattern at the current WRITE's offset; reused, grown as needed.
    expected: Vec<u8>,
    /// Data bytes of all WRITEs.
    pub bytes_written: u64,
    /// Of those, bytes equal to the pattern at their offset.
    pub bytes_matched: u64,
    /// WRITEs with at least one byte differing from the pattern.
    pub mismatched_writes: u64,
}

impl Checker {
    /// A checker for the pattern of `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            pattern: Pattern::new(seed),
            expected: Vec::new(),
            bytes_written: 0,
            bytes_matched: 0,
            mismatched_writes: 0,
        }
    }

    /// The seed checked against.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Compares `data`, written at `offset`, with the pattern: the
    /// expected bytes are generated into a reused buffer and compared as
    /// slices (memcmp); only a mismatch is looked at byte by byte.
    /// `offset + data.len()` must not overflow.
    pub fn check(&mut self, offset: u64, data: &[u8]) -> Verdict {
        let n = data.len();
        if self.expected.len() < n {
            self.expected.resize(n, 0);
        }
        let want = &mut self.expected[..n];
        self.pattern.fill(offset, want);
        self.bytes_written += n as u64;
        if data == &want[..] {
            self.bytes_matched += n as u64;
            return Verdict::Match;
        }
        let matched = data.iter().zip(want.iter()).filter(|(a, b)| a == b).count() as u64;
        let first = data
            .iter()
            .zip(want.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        self.bytes_matched += matched;
        self.mismatched_writes += 1;
        Verdict::Mismatch {
            first: offset + first as u64,
            matched,
        }
    }

    /// Fills `buf` with what a READ of a written range at `offset` returns.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        self.pattern.fill(offset, buf);
    }
}

/// One node of the tree.
#[derive(Debug)]
struct Node {
    kind: FileType,
    perm: u16,
    uid: u32,
    gid: u32,
    rdev: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
    /// Regular files: the size; other nodes: 0.
    size: u64,
    /// Regular files: the ranges written.
    coverage: Coverage,
    /// The directory holding it and its name there (no hard links: one
    /// of each; the root is its own parent).
    parent: u64,
    name: OsString,
    /// Directories: name to inode number.
    children: BTreeMap<OsString, u64>,
    /// Still in the tree (not unlinked, removed or replaced).
    linked: bool,
    /// Lookups the kernel holds.
    nlookup: u64,
    /// Open file handles.
    open: u64,
}

impl Node {
    fn new(kind: FileType, mode: u32, owner: Owner, rdev: u32, parent: u64, name: &OsStr) -> Self {
        let now = SystemTime::now();
        Self {
            kind,
            perm: (mode & 0o7777) as u16,
            uid: owner.uid,
            gid: owner.gid,
            rdev,
            atime: now,
            mtime: now,
            ctime: now,
            size: 0,
            coverage: Coverage::default(),
            parent,
            name: name.to_owned(),
            children: BTreeMap::new(),
            linked: true,
            nlookup: 0,
            open: 0,
        }
    }

    fn is_dir(&self) -> bool {
        self.kind == FileType::Directory
    }
}

/// Owner of a new node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// The attribute changes of a SETATTR.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeOrNow>,
    pub mtime: Option<TimeOrNow>,
}

/// A directory listing: (inode, kind, name), `.` and `..` first.
pub type Listing = Vec<(u64, FileType, OsString)>;

/// The whole sink: the tree, the open handles and the checker.
pub struct Sink {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    /// File handle to inode.
    files: HashMap<u64, u64>,
    /// Directory handle to its listing (taken at OPENDIR and again when
    /// READDIR restarts at offset 0).
    dirs: HashMap<u64, (u64, Listing)>,
    next_fh: u64,
    checker: Checker,
    /// Mismatching WRITEs described so far.
    logged: u64,
}

fn time_of(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

/// A file name for the statistics file: bytes that are blank, control,
/// non-ASCII or `\` written as `\xNN`, so that a line stays `KEY VALUE`.
pub fn escape_name(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name {
        if b.is_ascii_graphic() && b != b'\\' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

impl Sink {
    /// An empty tree checking WRITEs against the pattern of `seed`; the
    /// root directory has mode `root_mode` and belongs to `owner`.
    pub fn new(seed: u64, owner: Owner, root_mode: u32) -> Self {
        let mut root = Node::new(
            FileType::Directory,
            root_mode,
            owner,
            0,
            ROOT,
            OsStr::new(""),
        );
        root.nlookup = 1;
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, root);
        Self {
            nodes,
            next_ino: ROOT + 1,
            files: HashMap::new(),
            dirs: HashMap::new(),
            next_fh: 1,
            checker: Checker::new(seed),
            logged: 0,
        }
    }

    /// The checker's counters.
    #[cfg(test)]
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    fn node(&self, ino: u64) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(Errno::ESTALE)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ESTALE)
    }

    fn dir(&self, ino: u64) -> Result<&Node> {
        let n = self.node(ino)?;
        if n.is_dir() {
            Ok(n)
        } else {
            Err(Errno::ENOTDIR)
        }
    }

    fn child(&self, parent: u64, name: &OsStr) -> Result<u64> {
        self.dir(parent)?
            .children
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    /// Drops a node nobody can reach any more.
    fn maybe_drop(&mut self, ino: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(n) = self.nodes.get(&ino) {
            if !n.linked && n.nlookup == 0 && n.open == 0 {
                self.nodes.remove(&ino);
            }
        }
    }

    fn touch_dir(&mut self, ino: u64) {
        if let Some(d) = self.nodes.get_mut(&ino) {
            let now = SystemTime::now();
            d.mtime = now;
            d.ctime = now;
        }
    }

    /// The attributes of `ino`.
    pub fn attr(&self, ino: u64) -> Result<FileAttr> {
        let n = self.node(ino)?;
        let nlink = if n.is_dir() {
            let subdirs = n
                .children
                .values()
                .filter(|c| self.nodes.get(c).is_some_and(Node::is_dir))
                .count();
            2 + subdirs as u32
        } else {
            u32::from(n.linked)
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size: n.size,
            blocks: n.coverage.covered().div_ceil(512),
            atime: n.atime,
            mtime: n.mtime,
            ctime: n.ctime,
            crtime: n.ctime,
            kind: n.kind,
            perm: n.perm,
            nlink,
            uid: n.uid,
            gid: n.gid,
            rdev: n.rdev,
            blksize: BLKSIZE,
            flags: 0,
        })
    }

    /// LOOKUP: the attributes of `name` in `parent`, taking one lookup.
    pub fn lookup(&mut self, parent: u64, name: &OsStr) -> Result<FileAttr> {
        let ino = self.child(parent, name)?;
        let a = self.attr(ino)?;
        self.node_mut(ino)?.nlookup += 1;
        Ok(a)
    }

    /// FORGET: drops `n` lookups.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.nlookup = node.nlookup.saturating_sub(n);
        }
        self.maybe_drop(ino);
    }

    /// MKNOD, MKDIR and CREATE: a new node `name` in `parent`, taking one
    /// lookup.
    pub fn make(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: FileType,
        mode: u32,
        owner: Owner,
        rdev: u32,
    ) -> Result<FileAttr> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.dir(parent)?.children.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut node = Node::new(kind, mode, owner, rdev, parent, name);
        node.nlookup = 1;
        self.nodes.insert(ino, node);
        self.node_mut(parent)?.children.insert(name.to_owned(), ino);
        self.touch_dir(parent);
        self.attr(ino)
    }

    /// OPEN: a new file handle of `ino` (truncated first with `O_TRUNC`).
    pub fn open(&mut self, ino: u64, flags: i32) -> Result<u64> {
        let n = self.node_mut(ino)?;
        if n.is_dir() {
            return Err(Errno::EISDIR);
        }
        if flags & libc::O_TRUNC != 0 && n.kind == FileType::RegularFile {
            n.size = 0;
            n.coverage = Coverage::default();
            let now = SystemTime::now();
            n.mtime = now;
            n.ctime = now;
        }
        n.open += 1;
        let fh = self.next_fh;
        self.next_fh += 1;
        self.files.insert(fh, ino);
        Ok(fh)
    }

    /// CREATE: creates regular file `name` in `parent` and opens it; an
    /// existing file is opened instead unless `O_EXCL` is given.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
        owner: Owner,
    ) -> Result<(FileAttr, u64)> {
        let attr = match self.child(parent, name) {
            Ok(_) if flags & libc::O_EXCL != 0 => return Err(Errno::EEXIST),
            Ok(_) => self.lookup(parent, name)?,
            Err(e) if e == Errno::ENOENT => {
                self.make(parent, name, FileType::RegularFile, mode, owner, 0)?
            }
            Err(e) => return Err(e),
        };
        let ino = attr.ino.0;
        match self.open(ino, flags) {
            Ok(fh) => Ok((self.attr(ino)?, fh)),
            Err(e) => {
                self.forget(ino, 1);
                Err(e)
            }
        }
    }

    /// The inode of an open file handle.
    pub fn handle(&self, fh: u64) -> Result<u64> {
        self.files.get(&fh).copied().ok_or(Errno::EBADF)
    }

    /// RELEASE.
    pub fn release(&mut self, fh: u64) {
        if let Some(ino) = self.files.remove(&fh) {
            if let Some(n) = self.nodes.get_mut(&ino) {
                n.open = n.open.saturating_sub(1);
            }
            self.maybe_drop(ino);
        }
    }

    /// The path of `ino` below the root (`a/b`), or `(unlinked inode N)`.
    pub fn path(&self, ino: u64) -> String {
        let mut parts = Vec::new();
        let mut cur = ino;
        while cur != ROOT {
            match self.nodes.get(&cur) {
                Some(n) if n.linked => {
                    parts.push(escape_name(n.name.as_bytes()));
                    cur = n.parent;
                }
                _ => return format!("(unlinked inode {ino})"),
            }
        }
        parts.reverse();
        parts.join("/")
    }

    /// WRITE of `data` at `offset` on handle `fh`: checks it against the
    /// pattern, marks the range written, extends the size. Returns the
    /// description of a mismatch to log, for the first [`MAX_LOGGED`].
    pub fn write(&mut self, fh: u64, offset: u64, data: &[u8]) -> Result<Option<String>> {
        let ino = self.handle(fh)?;
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|e| *e <= i64::MAX as u64)
            .ok_or(Errno::EFBIG)?;
        let n = self.node_mut(ino)?;
        if n.kind != FileType::RegularFile {
            return Err(Errno::EINVAL);
        }
        n.coverage.add(offset, end);
        n.size = n.size.max(end);
        let now = SystemTime::now();
        n.mtime = now;
        n.ctime = now;
        let verdict = self.checker.check(offset, data);
        let Verdict::Mismatch { first, matched } = verdict else {
            return Ok(None);
        };
        if self.logged >= MAX_LOGGED {
            return Ok(None);
        }
        self.logged += 1;
        let more = if self.logged == MAX_LOGGED {
            "; further mismatching WRITEs are only counted"
        } else {
            ""
        };
        Ok(Some(format!(
            "sink: WRITE of {} bytes at offset {offset} to {} differs from the pattern \
             (seed {:#x}) from offset {first} (page {}); {matched} of its bytes match{more}",
            data.len(),
            self.path(ino),
            self.checker.seed(),
            first / fusewb_pattern::PAGE as u64,
        )))
    }

    /// READ of up to `size` bytes at `offset` on handle `fh`: the pattern
    /// in written ranges, zeros elsewhere, nothing beyond the size.
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let n = self.node(self.handle(fh)?)?;
        if n.kind != FileType::RegularFile {
            return Err(Errno::EINVAL);
        }
        let end = offset.saturating_add(u64::from(size)).min(n.size);
        if offset >= end {
            return Ok(Vec::new());
        }
        // CAST: at most `size`, a u32.
        let mut buf = vec![0u8; (end - offset) as usize];
        for (s, e) in n.coverage.within(offset, end) {
            // CAST: inside the buffer.
            let (i, j) = ((s - offset) as usize, (e - offset) as usize);
            self.checker.fill(s, &mut buf[i..j]);
        }
        Ok(buf)
    }

    /// SETATTR.
    pub fn setattr(&mut self, ino: u64, a: SetAttr) -> Result<FileAttr> {
        let n = self.node_mut(ino)?;
        let now = SystemTime::now();
        if let Some(size) = a.size {
            match n.kind {
                FileType::RegularFile => {}
                FileType::Directory => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
            if size > i64::MAX as u64 {
                return Err(Errno::EFBIG);
            }
            n.size = size;
            n.coverage.truncate(size);
            n.mtime = now;
        }
        if let Some(mode) = a.mode {
            n.perm = (mode & 0o7777) as u16;
        }
        if let Some(uid) = a.uid {
            n.uid = uid;
        }
        if let Some(gid) = a.gid {
            n.gid = gid;
        }
        if let Some(t) = a.atime {
            n.atime = time_of(t);
        }
        if let Some(t) = a.mtime {
            n.mtime = time_of(t);
        }
        n.ctime = now;
        self.attr(ino)
    }

    /// FALLOCATE: mode 0 extends the size; `KEEP_SIZE` alone does
    /// nothing; `PUNCH_HOLE` and `ZERO_RANGE` forget the written range
    /// (it reads as zeros). Other modes: `EOPNOTSUPP`.
    pub fn fallocate(&mut self, fh: u64, offset: u64, len: u64, mode: i32) -> Result<()> {
        let ino = self.handle(fh)?;
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= i64::MAX as u64)
            .ok_or(Errno::EFBIG)?;
        let n = self.node_mut(ino)?;
        if n.kind != FileType::RegularFile {
            return Err(Errno::ENODEV);
        }
        let keep = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
        match mode & !libc::FALLOC_FL_KEEP_SIZE {
            0 => {}
            libc::FALLOC_FL_PUNCH_HOLE if keep => n.coverage.remove(offset, end),
            libc::FALLOC_FL_ZERO_RANGE => n.coverage.remove(offset, end),
            _ => return Err(Errno::EOPNOTSUPP),
        }
        if !keep {
            n.size = n.size.max(end);
        }
        let now = SystemTime::now();
        n.mtime = now;
        n.ctime = now;
        Ok(())
    }

    /// Takes `ino` out of its directory.
    fn unlink_node(&mut self, parent: u64, name: &OsStr, ino: u64) {
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.children.remove(name);
        }
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.linked = false;
            n.ctime = SystemTime::now();
        }
        self.touch_dir(parent);
        self.maybe_drop(ino);
    }

    /// UNLINK.
    pub fn unlink(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let ino = self.child(parent, name)?;
        if self.node(ino)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.unlink_node(parent, name, ino);
        Ok(())
    }

    /// RMDIR.
    pub fn rmdir(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let ino = self.child(parent, name)?;
        let n = self.node(ino)?;
        if !n.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !n.children.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.unlink_node(parent, name, ino);
        Ok(())
    }

    /// RENAME, with flags 0 or `RENAME_NOREPLACE` (others: `EINVAL`).
    pub fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if flags & !libc::RENAME_NOREPLACE != 0 {
            return Err(Errno::EINVAL);
        }
        if newname.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let ino = self.child(parent, name)?;
        let target = self.dir(newparent)?.children.get(newname).copied();
        if target == Some(ino) {
            return Ok(());
        }
        let is_dir = self.node(ino)?.is_dir();
        if is_dir {
            // Not into itself or below.
            let mut p = newparent;
            while p != ROOT {
                if p == ino {
                    return Err(Errno::EINVAL);
                }
                p = self.node(p)?.parent;
            }
        }
        if let Some(t) = target {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            let tn = self.node(t)?;
            match (is_dir, tn.is_dir()) {
                (true, true) if !tn.children.is_empty() => return Err(Errno::ENOTEMPTY),
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                _ => {}
            }
            self.unlink_node(newparent, newname, t);
        }
        self.node_mut(parent)?.children.remove(name);
        self.node_mut(newparent)?
            .children
            .insert(newname.to_owned(), ino);
        let n = self.node_mut(ino)?;
        n.parent = newparent;
        n.name = newname.to_owned();
        n.ctime = SystemTime::now();
        self.touch_dir(parent);
        self.touch_dir(newparent);
        Ok(())
    }

    fn listing(&self, ino: u64) -> Result<Listing> {
        let d = self.dir(ino)?;
        let mut out = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (d.parent, FileType::Directory, OsString::from("..")),
        ];
        for (name, &c) in &d.children {
            let kind = self
                .node(c)
                .map(|n| n.kind)
                .unwrap_or(FileType::RegularFile);
            out.push((c, kind, name.clone()));
        }
        Ok(out)
    }

    /// OPENDIR: a directory handle with a snapshot of the entries.
    pub fn opendir(&mut self, ino: u64) -> Result<u64> {
        let listing = self.listing(ino)?;
        let fh = self.next_fh;
        self.next_fh += 1;
        self.dirs.insert(fh, (ino, listing));
        Ok(fh)
    }

    /// READDIR: the entries from index `offset` on (a new snapshot when
    /// `offset` is 0).
    pub fn readdir(&mut self, fh: u64, offset: u64) -> Result<&[(u64, FileType, OsString)]> {
        let ino = self.dirs.get(&fh).ok_or(Errno::EBADF)?.0;
        if offset == 0 {
            let listing = self.listing(ino)?;
            if let Some(d) = self.dirs.get_mut(&fh) {
                d.1 = listing;
            }
        }
        let list = &self.dirs.get(&fh).ok_or(Errno::EBADF)?.1;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(list.len());
        Ok(&list[start..])
    }

    /// RELEASEDIR.
    pub fn releasedir(&mut self, fh: u64) {
        self.dirs.remove(&fh);
    }

    /// STATFS: (blocks, bfree, files, ffree) in [`BLKSIZE`] blocks.
    pub fn statfs(&self) -> (u64, u64, u64, u64) {
        let used: u64 = self
            .nodes
            .values()
            .map(|n| n.coverage.covered().div_ceil(u64::from(BLKSIZE)))
            .sum();
        let files = self.nodes.len() as u64;
        (
            FS_BLOCKS,
            FS_BLOCKS.saturating_sub(used),
            FS_FILES,
            FS_FILES.saturating_sub(files),
        )
    }

    /// The sink's lines of the statistics file, `key value` each:
    ///
    /// ```text
    /// sink.seed 3517382658
    /// sink.bytes_written 2147483648
    /// sink.bytes_matched 2147483648
    /// sink.mismatched_writes 0
    /// sink.files 1
    /// sink.file.big.size 2147483648
    /// sink.file.big.covered 2147483648
    /// ```
    ///
    /// One `size`/`covered` pair per regular file in the tree (`covered`:
    /// bytes written and not truncated away), by path below the root
    /// (`d/f`, escaped by [`escape_name`]), sorted.
    pub fn render(&self) -> String {
        let c = &self.checker;
        let mut out = String::new();
        let _ = writeln!(out, "sink.seed {}", c.seed());
        let _ = writeln!(out, "sink.bytes_written {}", c.bytes_written);
        let _ = writeln!(out, "sink.bytes_matched {}", c.bytes_matched);
        let _ = writeln!(out, "sink.mismatched_writes {}", c.mismatched_writes);
        let mut files: Vec<(String, u64, u64)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.linked && n.kind == FileType::RegularFile)
            .map(|(&ino, n)| (self.path(ino), n.size, n.coverage.covered()))
            .collect();
        files.sort();
        let _ = writeln!(out, "sink.files {}", files.len());
        for (path, size, covered) in files {
            let _ = writeln!(out, "sink.file.{path}.size {size}");
            let _ = writeln!(out, "sink.file.{path}.covered {covered}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 0x1234;
    const ME: Owner = Owner { uid: 0, gid: 0 };

    fn cov(ranges: &[(u64, u64)]) -> Coverage {
        let mut c = Coverage::default();
        for &(s, e) in ranges {
            c.add(s, e);
        }
        c
    }

    fn pattern(offset: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        Pattern::new(SEED).fill(offset, &mut v);
        v
    }

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn coverage_merges() {
        assert_eq!(cov(&[]).ranges(), vec![]);
        assert_eq!(cov(&[(5, 5)]).ranges(), vec![]);
        // Sequential writes become one interval.
        assert_eq!(cov(&[(0, 10), (10, 20), (20, 25)]).ranges(), vec![(0, 25)]);
        // Out of order, adjacent on both sides.
        assert_eq!(cov(&[(10, 20), (0, 10), (20, 30)]).ranges(), vec![(0, 30)]);
        // Disjoint stay apart, sorted.
        let c = cov(&[(50, 60), (0, 10), (20, 30)]);
        assert_eq!(c.ranges(), vec![(0, 10), (20, 30), (50, 60)]);
        assert_eq!(c.covered(), 30);
        // One write spanning several intervals and gaps.
        let mut c2 = c.clone();
        c2.add(5, 55);
        assert_eq!(c2.ranges(), vec![(0, 60)]);
        // Inside an existing interval: no change.
        let mut c3 = c.clone();
        c3.add(21, 29);
        assert_eq!(c3, c);
        // Overlapping the start of one, reaching into a gap.
        c3.add(15, 22);
        assert_eq!(c3.ranges(), vec![(0, 10), (15, 30), (50, 60)]);
        // Rewrites do not count twice.
        assert_eq!(cov(&[(0, 4096), (0, 4096), (100, 200)]).covered(), 4096);
    }

    #[test]
    fn coverage_remove_and_truncate() {
        let mut c = cov(&[(0, 10), (20, 30), (50, 60)]);
        c.remove(5, 25);
        assert_eq!(c.ranges(), vec![(0, 5), (25, 30), (50, 60)]);
        c.remove(52, 55);
        assert_eq!(c.ranges(), vec![(0, 5), (25, 30), (50, 52), (55, 60)]);
        c.remove(30, 50); // only gaps and touching ends
        assert_eq!(c.ranges(), vec![(0, 5), (25, 30), (50, 52), (55, 60)]);
        c.truncate(56);
        assert_eq!(c.ranges(), vec![(0, 5), (25, 30), (50, 52), (55, 56)]);
        c.truncate(26);
        assert_eq!(c.ranges(), vec![(0, 5), (25, 26)]);
        assert_eq!(c.covered(), 6);
        c.truncate(0);
        assert_eq!(c.covered(), 0);
        let mut big = cov(&[(0, u64::MAX)]);
        big.truncate(1 << 40);
        assert_eq!(big.ranges(), vec![(0, 1 << 40)]);
    }

    #[test]
    fn coverage_within() {
        let c = cov(&[(0, 10), (20, 30), (50, 60)]);
        assert_eq!(c.within(0, 100), c.ranges());
        assert_eq!(c.within(5, 25), vec![(5, 10), (20, 25)]);
        assert_eq!(c.within(10, 20), vec![]);
        assert_eq!(c.within(29, 51), vec![(29, 30), (50, 51)]);
        assert_eq!(c.within(60, 70), vec![]);
    }

    #[test]
    fn checker_counts() {
        let mut k = Checker::new(SEED);
        assert_eq!(
            k.check(4096 * 3 + 7, &pattern(4096 * 3 + 7, 10000)),
            Verdict::Match
        );
        assert_eq!(k.check(0, &pattern(0, 4096)), Verdict::Match);
        assert_eq!(k.check(0, &[]), Verdict::Match);
        assert_eq!(
            (k.bytes_written, k.bytes_matched, k.mismatched_writes),
            (14096, 14096, 0)
        );
        // The right data at the wrong offset: nearly nothing matches.
        let v = k.check(4096, &pattern(0, 4096));
        let Verdict::Mismatch { first, matched } = v else {
            panic!("{v:?}")
        };
        assert_eq!(first, 4096);
        assert!(matched < 100, "{matched}");
        // Two bytes wrong in the middle.
        let mut d = pattern(8192, 1000);
        d[500] ^= 1;
        d[600] ^= 0xff;
        assert_eq!(
            k.check(8192, &d),
            Verdict::Mismatch {
                first: 8692,
                matched: 998
            }
        );
        assert_eq!(k.mismatched_writes, 2);
        assert_eq!(k.bytes_written, 14096 + 4096 + 1000);
        assert_eq!(k.bytes_matched, 14096 + matched + 998);
        // A smaller buffer after a larger one still compares only its bytes.
        assert_eq!(k.check(1, &pattern(1, 3)), Verdict::Match);
        // Another seed's data.
        assert!(matches!(
            Checker::new(SEED + 1).check(0, &pattern(0, 4096)),
            Verdict::Mismatch { first: 0, .. }
        ));
    }

    fn sink_with_file(name: &str) -> (Sink, u64, u64) {
        let mut s = Sink::new(SEED, ME, 0o755);
        let (a, fh) = s.create(ROOT, os(name), 0o644, libc::O_WRONLY, ME).unwrap();
        (s, a.ino.0, fh)
    }

    #[test]
    fn write_then_read() {
        let (mut s, ino, fh) = sink_with_file("f");
        assert_eq!(s.write(fh, 0, &pattern(0, 8192)).unwrap(), None);
        assert_eq!(s.write(fh, 20000, &pattern(20000, 1000)).unwrap(), None);
        let a = s.attr(ino).unwrap();
        assert_eq!(
            (a.size, a.blocks, a.kind),
            (21000, (8192 + 1000) / 512 + 1, FileType::RegularFile)
        );
        // Covered ranges read as the pattern, the gap as zeros.
        let all = s.read(fh, 0, 1 << 20).unwrap();
        assert_eq!(all.len(), 21000);
        assert_eq!(all[..8192], pattern(0, 8192)[..]);
        assert!(all[8192..20000].iter().all(|b| *b == 0));
        assert_eq!(all[20000..], pattern(20000, 1000)[..]);
        // Partial reads, cropped at the size.
        assert_eq!(
            s.read(fh, 8000, 300).unwrap()[..192],
            pattern(8000, 192)[..]
        );
        assert_eq!(s.read(fh, 20990, 100).unwrap(), pattern(20990, 10));
        assert_eq!(s.read(fh, 21000, 100).unwrap(), Vec::<u8>::new());
        assert_eq!(s.read(fh, u64::MAX - 5, 100).unwrap(), Vec::<u8>::new());
        // Truncate shrinks size and coverage; extending reads zeros.
        let a = s
            .setattr(
                ino,
                SetAttr {
                    size: Some(4000),
                    ..SetAttr::default()
                },
            )
            .unwrap();
        assert_eq!(a.size, 4000);
        s.setattr(
            ino,
            SetAttr {
                size: Some(10000),
                ..SetAttr::default()
            },
        )
        .unwrap();
        let r = s.read(fh, 0, 10000).unwrap();
        assert_eq!(r[..4000], pattern(0, 4000)[..]);
        assert!(r[4000..].iter().all(|b| *b == 0));
        assert!(s
            .render()
            .contains("sink.file.f.size 10000\nsink.file.f.covered 4000\n"));
        assert_eq!(s.write(99, 0, b"x"), Err(Errno::EBADF));
        assert_eq!(s.write(fh, u64::MAX, b"x"), Err(Errno::EFBIG));
    }

    #[test]
    fn mismatches_are_counted_and_logged() {
        let (mut s, _, fh) = sink_with_file("big");
        s.write(fh, 0, &pattern(0, 4096)).unwrap();
        let msg = s.write(fh, 4096, &[0u8; 4096]).unwrap().unwrap();
        assert!(
            msg.contains("4096 bytes at offset 4096 to big")
                && msg.contains("from offset 4096 (page 1)")
                && msg.contains("seed 0x1234"),
            "{msg}"
        );
        for i in 2..MAX_LOGGED + 5 {
            let m = s.write(fh, i * 4096, &[1u8; 10]).unwrap();
            assert_eq!(m.is_some(), i <= MAX_LOGGED, "{i}");
            if i == MAX_LOGGED {
                assert!(m.unwrap_or_default().contains("only counted"));
            }
        }
        let k = s.checker();
        assert_eq!(k.mismatched_writes, MAX_LOGGED + 4);
        assert_eq!(k.bytes_written, 8192 + 10 * (MAX_LOGGED + 3));
        assert!(k.bytes_matched < k.bytes_written);
        let text = s.render();
        assert!(text.contains("sink.mismatched_writes 14\n"), "{text}");
        // The ranges are marked written all the same.
        assert!(text.contains("sink.file.big.covered 8322\n"), "{text}");
    }

    #[test]
    fn render_format() {
        let (mut s, _, fh) = sink_with_file("big");
        s.write(fh, 0, &pattern(0, 100)).unwrap();
        s.make(ROOT, os("d"), FileType::Directory, 0o755, ME, 0)
            .unwrap();
        let d = s.lookup(ROOT, os("d")).unwrap().ino.0;
        let (_, fh2) = s.create(d, os("a b"), 0o600, libc::O_RDWR, ME).unwrap();
        s.write(fh2, 10, &pattern(10, 5)).unwrap();
        s.make(ROOT, os("fifo"), FileType::NamedPipe, 0o600, ME, 0)
            .unwrap();
        assert_eq!(
            s.render(),
            format!(
                "sink.seed {SEED}\n\
                 sink.bytes_written 105\n\
                 sink.bytes_matched 105\n\
                 sink.mismatched_writes 0\n\
                 sink.files 2\n\
                 sink.file.big.size 100\n\
                 sink.file.big.covered 100\n\
                 sink.file.d/a\\x20b.size 15\n\
                 sink.file.d/a\\x20b.covered 5\n"
            )
        );
        assert_eq!(escape_name("é\\\n".as_bytes()), "\\xc3\\xa9\\x5c\\x0a");
    }

    #[test]
    fn namespace() {
        let (mut s, ino, fh) = sink_with_file("f");
        assert_eq!(
            s.create(ROOT, os("f"), 0o644, libc::O_CREAT | libc::O_EXCL, ME),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            s.make(ROOT, os("f"), FileType::RegularFile, 0o644, ME, 0),
            Err(Errno::EEXIST)
        );
        assert_eq!(s.lookup(ROOT, os("nope")), Err(Errno::ENOENT));
        assert_eq!(s.lookup(ino, os("x")), Err(Errno::ENOTDIR));
        s.write(fh, 0, &pattern(0, 10)).unwrap();
        // Opening an existing file with O_TRUNC empties it.
        let (a, fh2) = s.create(ROOT, os("f"), 0o644, libc::O_TRUNC, ME).unwrap();
        assert_eq!((a.ino.0, a.size), (ino, 0));
        s.release(fh2);
        // Directories and listing.
        let d = s
            .make(ROOT, os("d"), FileType::Directory, 0o700, ME, 0)
            .unwrap();
        assert_eq!((d.kind, d.perm, d.nlink), (FileType::Directory, 0o700, 2));
        assert_eq!(s.attr(ROOT).unwrap().nlink, 3);
        let dh = s.opendir(ROOT).unwrap();
        let names: Vec<_> = s
            .readdir(dh, 0)
            .unwrap()
            .iter()
            .map(|e| e.2.clone())
            .collect();
        assert_eq!(names, [".", "..", "d", "f"]);
        assert_eq!(s.readdir(dh, 3).unwrap().len(), 1);
        assert_eq!(s.readdir(dh, 9).unwrap().len(), 0);
        s.releasedir(dh);
        assert_eq!(s.readdir(dh, 0).err(), Some(Errno::EBADF));
        // Rename a file into the directory, over nothing and over a file.
        s.rename(ROOT, os("f"), d.ino.0, os("g"), 0).unwrap();
        assert_eq!(s.path(ino), "d/g");
        let (_, fh3) = s.create(ROOT, os("h"), 0o644, 0, ME).unwrap();
        assert_eq!(
            s.rename(ROOT, os("h"), d.ino.0, os("g"), libc::RENAME_NOREPLACE),
            Err(Errno::EEXIST)
        );
        s.rename(ROOT, os("h"), d.ino.0, os("g"), 0).unwrap();
        // The replaced file lives on while open and looked up, out of the tree.
        assert_eq!(s.attr(ino).unwrap().nlink, 0);
        assert!(s.path(ino).contains("unlinked"));
        assert!(s.write(fh, 0, &pattern(0, 1)).is_ok());
        s.release(fh);
        s.forget(ino, 2);
        assert_eq!(s.attr(ino), Err(Errno::ESTALE));
        // A directory cannot move below itself, nor be removed unless empty.
        s.make(d.ino.0, os("sub"), FileType::Directory, 0o755, ME, 0)
            .unwrap();
        let sub = s.lookup(d.ino.0, os("sub")).unwrap().ino.0;
        assert_eq!(s.rename(ROOT, os("d"), sub, os("x"), 0), Err(Errno::EINVAL));
        assert_eq!(s.rmdir(ROOT, os("d")), Err(Errno::ENOTEMPTY));
        assert_eq!(s.unlink(ROOT, os("d")), Err(Errno::EISDIR));
        assert_eq!(s.rmdir(d.ino.0, os("g")), Err(Errno::ENOTDIR));
        s.unlink(d.ino.0, os("g")).unwrap();
        s.rmdir(d.ino.0, os("sub")).unwrap();
        s.rmdir(ROOT, os("d")).unwrap();
        s.release(fh3);
        assert_eq!(
            s.render().lines().find(|l| l.starts_with("sink.files")),
            Some("sink.files 0")
        );
        // Setattr of mode, owner, times.
        let (a, _) = s.create(ROOT, os("m"), 0o600, 0, ME).unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let b = s
            .setattr(
                a.ino.0,
                SetAttr {
                    mode: Some(0o100640),
                    uid: Some(7),
                    gid: Some(8),
                    mtime: Some(TimeOrNow::SpecificTime(t)),
                    ..SetAttr::default()
                },
            )
            .unwrap();
        assert_eq!((b.perm, b.uid, b.gid, b.mtime), (0o640, 7, 8, t));
        assert_eq!(
            s.setattr(
                ROOT,
                SetAttr {
                    size: Some(0),
                    ..SetAttr::default()
                }
            ),
            Err(Errno::EISDIR)
        );
    }

    #[test]
    fn fallocate_modes() {
        let (mut s, ino, fh) = sink_with_file("f");
        s.write(fh, 0, &pattern(0, 8192)).unwrap();
        s.fallocate(fh, 0, 100_000, 0).unwrap();
        assert_eq!(s.attr(ino).unwrap().size, 100_000);
        s.fallocate(fh, 0, 200_000, libc::FALLOC_FL_KEEP_SIZE)
            .unwrap();
        assert_eq!(s.attr(ino).unwrap().size, 100_000);
        s.fallocate(
            fh,
            4096,
            100,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        )
        .unwrap();
        let r = s.read(fh, 4000, 300).unwrap();
        assert_eq!(r[..96], pattern(4000, 96)[..]);
        assert!(r[96..196].iter().all(|b| *b == 0));
        assert_eq!(r[196..], pattern(4196, 104)[..]);
        assert_eq!(
            s.fallocate(fh, 0, 1, libc::FALLOC_FL_PUNCH_HOLE),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            s.fallocate(fh, 0, 1, libc::FALLOC_FL_COLLAPSE_RANGE),
            Err(Errno::EOPNOTSUPP)
        );
        assert!(s.render().contains("sink.file.f.covered 8092\n"));
    }

    #[test]
    fn statfs_counts() {
        let (mut s, _, fh) = sink_with_file("f");
        s.write(fh, 0, &pattern(0, 4097)).unwrap();
        assert_eq!(
            s.statfs(),
            (FS_BLOCKS, FS_BLOCKS - 2, FS_FILES, FS_FILES - 2)
        );
    }
}
