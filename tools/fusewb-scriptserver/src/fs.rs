//! The in-memory filesystem: a root directory (node 1) holding regular
//! files, each a sparse array of 4 KiB blocks. Pure data structures, no
//! I/O; errors are positive errno values.

use std::collections::{BTreeMap, HashMap};

use crate::proto::{S_IFDIR, S_IFMT, S_IFREG};

/// Granularity of the sparse data model (SEEK_DATA/SEEK_HOLE, st_blocks).
pub const BLOCK: u64 = 4096;
const BLOCK_USIZE: usize = BLOCK as usize;
/// Largest file offset accepted (the kernel's `MAX_LFS_FILESIZE`).
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// Most bytes fallocate/zero-range may newly allocate in one request
/// (they are backed by memory): beyond, ENOSPC.
pub const MAX_ALLOC_BYTES: u64 = 256 << 20;

/// A timestamp: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ts {
    pub sec: u64,
    pub nsec: u32,
}

impl Ts {
    pub fn now() -> Ts {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Ts {
                sec: d.as_secs(),
                nsec: d.subsec_nanos(),
            },
            Err(_) => Ts::default(),
        }
    }
}

/// The byte at offset `i` of a file pre-created with `--file`.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// A file's contents: its size and its allocated blocks. Invariant: every
/// stored byte at or beyond `size` is zero, so growing the size exposes
/// zeros.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Data {
    size: u64,
    blocks: BTreeMap<u64, Box<[u8]>>,
}

fn end_of(off: u64, len: u64) -> Result<u64, i32> {
    match off.checked_add(len) {
        Some(end) if end <= MAX_FILE_SIZE => Ok(end),
        _ => Err(libc::EFBIG),
    }
}

impl Data {
    /// `size` bytes of the `--file` pattern.
    pub fn pattern(size: u64) -> Data {
        let mut d = Data::default();
        let mut buf = vec![0u8; BLOCK_USIZE];
        let mut off = 0;
        while off < size {
            let n = (size - off).min(BLOCK) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern_byte(off + i as u64);
            }
            d.write(off, &buf[..n]);
            off += n as u64;
        }
        d
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of allocated blocks.
    pub fn allocated_blocks(&self) -> u64 {
        self.blocks.len() as u64
    }

    fn block_mut(&mut self, idx: u64) -> &mut [u8] {
        self.blocks
            .entry(idx)
            .or_insert_with(|| vec![0u8; BLOCK_USIZE].into_boxed_slice())
    }

    /// The bytes of `[off, off + len)` that lie below the size.
    pub fn read(&self, off: u64, len: u64) -> Vec<u8> {
        if off >= self.size {
            return Vec::new();
        }
        let end = off.saturating_add(len).min(self.size);
        let mut out = vec![0u8; (end - off) as usize];
        for (&idx, blk) in self.blocks.range(off / BLOCK..=(end - 1) / BLOCK) {
            let bstart = idx * BLOCK;
            let from = off.max(bstart);
            let to = end.min(bstart + BLOCK);
            out[(from - off) as usize..(to - off) as usize]
                .copy_from_slice(&blk[(from - bstart) as usize..(to - bstart) as usize]);
        }
        out
    }

    /// Stores `bytes` at `off`, growing the size. The caller checks the
    /// range with [`Data::check_range`].
    pub fn write(&mut self, off: u64, bytes: &[u8]) {
        let mut pos = off;
        let mut rest = bytes;
        while !rest.is_empty() {
            let idx = pos / BLOCK;
            let inb = (pos % BLOCK) as usize;
            let n = rest.len().min(BLOCK_USIZE - inb);
            self.block_mut(idx)[inb..inb + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            pos += n as u64;
        }
        self.size = self.size.max(pos);
    }

    /// EFBIG if `[off, off + len)` goes beyond the largest file size.
    pub fn check_range(off: u64, len: u64) -> Result<u64, i32> {
        end_of(off, len)
    }

    /// Zeroes `[from, to)` in the stored blocks (no allocation), dropping
    /// blocks that are wholly inside.
    fn clear(&mut self, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let idxs: Vec<u64> = self
            .blocks
            .range(from / BLOCK..=(to - 1) / BLOCK)
            .map(|(&i, _)| i)
            .collect();
        for idx in idxs {
            let bstart = idx * BLOCK;
            let a = from.max(bstart);
            let b = to.min(bstart + BLOCK);
            if a == bstart && b == bstart + BLOCK {
                self.blocks.remove(&idx);
            } else if let Some(blk) = self.blocks.get_mut(&idx) {
                blk[(a - bstart) as usize..(b - bstart) as usize].fill(0);
            }
        }
    }

    /// Sets the size: shrinking drops the data beyond; growing exposes
    /// zeros (a hole).
    pub fn truncate(&mut self, size: u64) {
        if size < self.size {
            let top = self
                .blocks
                .keys()
                .next_back()
                .map_or(0, |&i| (i + 1) * BLOCK);
            self.clear(size, top.max(size));
        }
        self.size = size;
    }

    /// Blocks of `[off, end)` not yet allocated, in bytes.
    fn unallocated_bytes(&self, off: u64, end: u64) -> u64 {
        if off >= end {
            return 0;
        }
        let (first, last) = (off / BLOCK, (end - 1) / BLOCK);
        let have = self.blocks.range(first..=last).count() as u64;
        (last - first + 1 - have) * BLOCK
    }

    /// fallocate mode 0 / KEEP_SIZE: allocates (zeroed) blocks for the
    /// range and, without `keep_size`, grows the size to its end.
    pub fn allocate(&mut self, off: u64, len: u64, keep_size: bool) -> Result<(), i32> {
        let end = end_of(off, len)?;
        if self.unallocated_bytes(off, end) > MAX_ALLOC_BYTES {
            return Err(libc::ENOSPC);
        }
        if len > 0 {
            for idx in off / BLOCK..=(end - 1) / BLOCK {
                self.block_mut(idx);
            }
        }
        if !keep_size {
            self.size = self.size.max(end);
        }
        Ok(())
    }

    /// fallocate PUNCH_HOLE|KEEP_SIZE: zeroes the range, deallocating the
    /// blocks it covers wholly; the size is unchanged.
    pub fn punch_hole(&mut self, off: u64, len: u64) -> Result<(), i32> {
        let end = end_of(off, len)?;
        self.clear(off, end);
        Ok(())
    }

    /// fallocate ZERO_RANGE (optionally with KEEP_SIZE): the range reads
    /// as zeros and is allocated; without `keep_size` the size grows to
    /// its end.
    pub fn zero_range(&mut self, off: u64, len: u64, keep_size: bool) -> Result<(), i32> {
        let end = end_of(off, len)?;
        if self.unallocated_bytes(off, end) > MAX_ALLOC_BYTES {
            return Err(libc::ENOSPC);
        }
        self.clear(off, end);
        self.allocate(off, len, keep_size)
    }

    /// SEEK_DATA: the first offset >= `off` inside an allocated block
    /// below the size; ENXIO if none.
    pub fn seek_data(&self, off: u64) -> Result<u64, i32> {
        if off >= self.size {
            return Err(libc::ENXIO);
        }
        match self.blocks.range(off / BLOCK..).next() {
            Some((&idx, _)) if idx * BLOCK < self.size => Ok(off.max(idx * BLOCK)),
            _ => Err(libc::ENXIO),
        }
    }

    /// SEEK_HOLE: the first offset >= `off` in an unallocated block, or
    /// the size (the implicit hole at EOF); ENXIO at or beyond the size.
    pub fn seek_hole(&self, off: u64) -> Result<u64, i32> {
        if off >= self.size {
            return Err(libc::ENXIO);
        }
        let mut idx = off / BLOCK;
        for (&i, _) in self.blocks.range(idx..) {
            if i != idx {
                break;
            }
            idx += 1;
        }
        Ok(off.max(idx.saturating_mul(BLOCK)).min(self.size))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// One inode.
#[derive(Debug, Clone)]
pub struct Node {
    /// The name it was created (or last looked up) under.
    pub name: Vec<u8>,
    pub kind: Kind,
    /// Full st_mode, file type included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: Ts,
    pub mtime: Ts,
    pub ctime: Ts,
    pub data: Data,
    /// Lookups the kernel holds (LOOKUP/CREATE/MKNOD minus FORGETs).
    pub nlookup: u64,
    /// Still in the root directory (false once unlinked).
    pub linked: bool,
    /// Extended attributes (`--xattr`), by name.
    pub xattrs: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Node {
    fn new(name: &[u8], kind: Kind, mode: u32, uid: u32, gid: u32) -> Node {
        let now = Ts::now();
        Node {
            name: name.to_vec(),
            kind,
            mode,
            uid,
            gid,
            atime: now,
            mtime: now,
            ctime: now,
            data: Data::default(),
            nlookup: 0,
            linked: true,
            xattrs: Default::default(),
        }
    }

    /// Marks a data change: mtime and ctime become now.
    pub fn touch_data(&mut self) {
        let now = Ts::now();
        self.mtime = now;
        self.ctime = now;
    }
}

/// An open file or directory handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle {
    pub nodeid: u64,
    /// The open(2) flags it was opened with.
    pub flags: u32,
}

impl Handle {
    pub fn write_only(&self) -> bool {
        self.flags & libc::O_ACCMODE as u32 == libc::O_WRONLY as u32
    }
    pub fn read_only(&self) -> bool {
        self.flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32
    }
}

/// The whole filesystem.
#[derive(Debug)]
pub struct Fs {
    nodes: HashMap<u64, Node>,
    /// Entries of the root directory.
    entries: BTreeMap<Vec<u8>, u64>,
    handles: HashMap<u64, Handle>,
    next_nodeid: u64,
    next_fh: u64,
    /// `--same-fh`: how many opens share [`SAME_FH`] (`None`: not that mode).
    same_fh: Option<usize>,
}

/// The handle of every open with `--same-fh`.
pub const SAME_FH: u64 = 1;

pub const ROOT: u64 = crate::proto::ROOT_ID;

impl Fs {
    pub fn new(uid: u32, gid: u32) -> Fs {
        let mut nodes = HashMap::new();
        let mut root = Node::new(b"/", Kind::Dir, S_IFDIR | 0o755, uid, gid);
        root.nlookup = 1;
        nodes.insert(ROOT, root);
        Fs {
            nodes,
            entries: BTreeMap::new(),
            handles: HashMap::new(),
            next_nodeid: 2,
            next_fh: 1,
            same_fh: None,
        }
    }

    /// With `on`, every open gets the handle [`SAME_FH`] (the last open's
    /// node and flags are its), which lives until the last RELEASE.
    pub fn with_same_fh(mut self, on: bool) -> Fs {
        self.same_fh = on.then_some(0);
        self
    }

    pub fn node(&self, nodeid: u64) -> Option<&Node> {
        self.nodes.get(&nodeid)
    }

    pub fn node_mut(&mut self, nodeid: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&nodeid)
    }

    /// The node id of `name` in the root directory.
    pub fn lookup(&self, name: &[u8]) -> Option<u64> {
        self.entries.get(name).copied()
    }

    /// Whether `name` can become a new name in the root directory: EINVAL for
    /// an empty name, `.`, `..` or one with a `/`, ENAMETOOLONG beyond 255
    /// bytes, EEXIST if it is taken.
    fn check_new_name(&self, name: &[u8]) -> Result<(), i32> {
        if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." {
            return Err(libc::EINVAL);
        }
        if name.len() > 255 {
            return Err(libc::ENAMETOOLONG);
        }
        if self.entries.contains_key(name) {
            return Err(libc::EEXIST);
        }
        Ok(())
    }

    /// Creates a regular file `name` in the root directory (EEXIST if the
    /// name is taken; EINVAL for an empty name or one with a `/`).
    pub fn create_file(&mut self, name: &[u8], mode: u32, uid: u32, gid: u32) -> Result<u64, i32> {
        self.check_new_name(name)?;
        let id = self.next_nodeid;
        self.next_nodeid += 1;
        let mode = S_IFREG | (mode & 0o7777);
        self.nodes
            .insert(id, Node::new(name, Kind::File, mode, uid, gid));
        self.entries.insert(name.to_vec(), id);
        Ok(id)
    }

    /// Makes an unnamed regular file (TMPFILE), named `tmpfile` in the log
    /// until LINK gives it a name; it lives while the kernel holds lookups.
    pub fn create_unnamed(&mut self, mode: u32, uid: u32, gid: u32) -> u64 {
        let id = self.next_nodeid;
        self.next_nodeid += 1;
        let mut n = Node::new(b"tmpfile", Kind::File, S_IFREG | (mode & 0o7777), uid, gid);
        n.linked = false;
        self.nodes.insert(id, n);
        id
    }

    /// Gives the file `nodeid` one more name, `name` in the root directory
    /// (LINK; EPERM for the root, ENOENT for an unknown node).
    pub fn link(&mut self, nodeid: u64, name: &[u8]) -> Result<(), i32> {
        self.check_new_name(name)?;
        let n = self.nodes.get_mut(&nodeid).ok_or(libc::ENOENT)?;
        if n.kind != Kind::File {
            return Err(libc::EPERM);
        }
        n.name = name.to_vec();
        n.linked = true;
        n.ctime = Ts::now();
        self.entries.insert(name.to_vec(), nodeid);
        Ok(())
    }

    /// The number of names of `nodeid` in the root directory.
    pub fn links(&self, nodeid: u64) -> u32 {
        let n = self.entries.values().filter(|&&id| id == nodeid).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Removes `name` from the root directory. The node lives on while
    /// it has another name or the kernel still holds lookups of it.
    pub fn unlink(&mut self, name: &[u8]) -> Result<u64, i32> {
        let id = self.entries.remove(name).ok_or(libc::ENOENT)?;
        let linked = self.links(id) > 0;
        if let Some(n) = self.nodes.get_mut(&id) {
            n.linked = linked;
            n.ctime = Ts::now();
            if n.nlookup == 0 && !linked {
                self.nodes.remove(&id);
            }
        }
        Ok(id)
    }

    /// Counts one more kernel lookup of `nodeid`.
    pub fn add_lookup(&mut self, nodeid: u64) {
        if let Some(n) = self.nodes.get_mut(&nodeid) {
            n.nlookup += 1;
        }
    }

    /// Drops `count` kernel lookups; an unlinked node without lookups is
    /// freed. Returns false for an unknown node.
    pub fn forget(&mut self, nodeid: u64, count: u64) -> bool {
        let Some(n) = self.nodes.get_mut(&nodeid) else {
            return false;
        };
        if nodeid == ROOT {
            return true;
        }
        n.nlookup = n.nlookup.saturating_sub(count);
        if n.nlookup == 0 && !n.linked {
            self.nodes.remove(&nodeid);
        }
        true
    }

    /// Root directory entries in name order: (name, nodeid, kind).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], u64, Kind)> {
        self.entries.iter().map(|(name, &id)| {
            let kind = self.nodes.get(&id).map_or(Kind::File, |n| n.kind);
            (name.as_slice(), id, kind)
        })
    }

    /// Allocated blocks of all nodes.
    pub fn used_blocks(&self) -> u64 {
        self.nodes.values().map(|n| n.data.allocated_blocks()).sum()
    }

    pub fn file_count(&self) -> u64 {
        self.nodes.len() as u64
    }

    pub fn open(&mut self, nodeid: u64, flags: u32) -> u64 {
        if let Some(n) = &mut self.same_fh {
            *n += 1;
            self.handles.insert(SAME_FH, Handle { nodeid, flags });
            return SAME_FH;
        }
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, Handle { nodeid, flags });
        fh
    }

    pub fn handle(&self, fh: u64) -> Option<Handle> {
        self.handles.get(&fh).copied()
    }

    pub fn release(&mut self, fh: u64) -> Option<Handle> {
        if let Some(n) = &mut self.same_fh {
            if fh == SAME_FH && *n > 1 {
                *n -= 1;
                return self.handles.get(&fh).copied();
            }
            *n = 0;
        }
        self.handles.remove(&fh)
    }

    pub fn open_handles(&self) -> usize {
        self.handles.len()
    }
}

/// Whether `mode` is a regular file's st_mode (or has no type bits).
pub fn is_regular_mode(mode: u32) -> bool {
    mode & S_IFMT == S_IFREG || mode & S_IFMT == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_files_read_back() {
        let d = Data::pattern(10_000);
        assert_eq!(d.size(), 10_000);
        assert_eq!(d.allocated_blocks(), 3);
        let r = d.read(0, 20_000);
        assert_eq!(r.len(), 10_000);
        assert!(r
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern_byte(i as u64)));
        assert_eq!(d.read(249, 3), vec![249, 250, 0]);
        assert!(d.read(10_000, 10).is_empty());
        assert!(d.read(50_000, 10).is_empty());
    }

    #[test]
    fn sparse_writes_and_reads() {
        let mut d = Data::default();
        d.write(1 << 20, b"xyz");
        assert_eq!(d.size(), (1 << 20) + 3);
        assert_eq!(d.allocated_blocks(), 1);
        let r = d.read(4090, 10);
        assert_eq!(r, vec![0; 10]);
        assert_eq!(d.read((1 << 20) - 2, 10), b"\0\0xyz");
        // A write across a block boundary.
        d.write(4094, b"abcd");
        assert_eq!(d.read(4093, 6), b"\0abcd\0");
        assert_eq!(d.allocated_blocks(), 3);
    }

    #[test]
    fn truncate_zeroes_what_it_cuts() {
        let mut d = Data::pattern(16384);
        d.truncate(5000);
        assert_eq!(d.size(), 5000);
        assert_eq!(d.allocated_blocks(), 2);
        d.truncate(9000);
        let r = d.read(0, 9000);
        assert!(r[..5000]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern_byte(i as u64)));
        assert!(r[5000..].iter().all(|&b| b == 0));
        d.truncate(0);
        assert_eq!(d.allocated_blocks(), 0);
        assert!(d.read(0, 10).is_empty());
    }

    #[test]
    fn fallocate_modes() {
        let mut d = Data::pattern(3 * BLOCK);
        // Punch the middle block and a bit on either side.
        d.punch_hole(BLOCK - 10, BLOCK + 20).unwrap();
        assert_eq!(d.size(), 3 * BLOCK);
        assert_eq!(d.allocated_blocks(), 2);
        let r = d.read(0, 3 * BLOCK);
        assert!(r[BLOCK as usize - 10..2 * BLOCK as usize + 10]
            .iter()
            .all(|&b| b == 0));
        assert_eq!(r[BLOCK as usize - 11], pattern_byte(BLOCK - 11));
        assert_eq!(r[2 * BLOCK as usize + 10], pattern_byte(2 * BLOCK + 10));
        // Allocate beyond EOF keeping the size, then growing it.
        d.allocate(5 * BLOCK, BLOCK, true).unwrap();
        assert_eq!(d.size(), 3 * BLOCK);
        assert_eq!(d.allocated_blocks(), 3);
        d.allocate(5 * BLOCK, 100, false).unwrap();
        assert_eq!(d.size(), 5 * BLOCK + 100);
        // Zero range allocates and zeroes.
        d.zero_range(0, 10, false).unwrap();
        assert_eq!(d.read(0, 11), {
            let mut v = vec![0u8; 10];
            v.push(pattern_byte(10));
            v
        });
        d.zero_range(BLOCK, BLOCK, true).unwrap();
        assert_eq!(d.allocated_blocks(), 4);
        d.zero_range(10 * BLOCK, 1, false).unwrap();
        assert_eq!(d.size(), 10 * BLOCK + 1);
        // Limits.
        assert_eq!(d.allocate(0, MAX_ALLOC_BYTES * 2, false), Err(libc::ENOSPC));
        assert_eq!(d.allocate(u64::MAX - 5, 10, false), Err(libc::EFBIG));
        assert_eq!(d.punch_hole(MAX_FILE_SIZE, 1), Err(libc::EFBIG));
        assert_eq!(d.allocate(0, 0, false), Ok(()));
    }

    #[test]
    fn seek_data_and_hole() {
        let mut d = Data::default();
        d.write(2 * BLOCK + 5, b"x"); // block 2 allocated
        d.truncate(6 * BLOCK);
        assert_eq!(d.seek_data(0), Ok(2 * BLOCK));
        assert_eq!(d.seek_data(2 * BLOCK + 100), Ok(2 * BLOCK + 100));
        assert_eq!(d.seek_data(3 * BLOCK), Err(libc::ENXIO));
        assert_eq!(d.seek_hole(0), Ok(0));
        assert_eq!(d.seek_hole(2 * BLOCK + 1), Ok(3 * BLOCK));
        assert_eq!(d.seek_hole(6 * BLOCK), Err(libc::ENXIO));
        // A fully allocated file: the only hole is at EOF.
        let p = Data::pattern(10_000);
        assert_eq!(p.seek_data(9_999), Ok(9_999));
        assert_eq!(p.seek_hole(0), Ok(10_000));
        // Blocks beyond EOF (KEEP_SIZE) are not data.
        let mut k = Data::default();
        k.truncate(BLOCK);
        k.allocate(4 * BLOCK, BLOCK, true).unwrap();
        assert_eq!(k.seek_data(0), Err(libc::ENXIO));
        assert_eq!(k.seek_hole(10), Ok(10));
    }

    #[test]
    fn same_fh_lives_until_the_last_release() {
        let mut fs = Fs::new(0, 0).with_same_fh(true);
        let a = fs.create_file(b"a", 0o644, 1, 2).unwrap();
        assert_eq!(fs.open(a, 0), SAME_FH);
        assert_eq!(fs.open(a, 0), SAME_FH);
        assert_eq!(fs.release(SAME_FH).map(|h| h.nodeid), Some(a));
        assert!(fs.handle(SAME_FH).is_some());
        assert!(fs.release(SAME_FH).is_some());
        assert!(fs.handle(SAME_FH).is_none());
        assert!(fs.release(SAME_FH).is_none());
        assert_eq!(fs.open(a, 0), SAME_FH);
        assert_eq!(fs.open_handles(), 1);
    }

    #[test]
    fn files_handles_and_forgets() {
        let mut fs = Fs::new(0, 0);
        let a = fs.create_file(b"a", 0o644, 1, 2).unwrap();
        assert_eq!(fs.create_file(b"a", 0o644, 1, 2), Err(libc::EEXIST));
        assert_eq!(fs.create_file(b"x/y", 0o644, 1, 2), Err(libc::EINVAL));
        assert_eq!(fs.create_file(b"", 0o644, 1, 2), Err(libc::EINVAL));
        assert_eq!(fs.lookup(b"a"), Some(a));
        assert_eq!(fs.node(a).unwrap().mode, S_IFREG | 0o644);
        fs.add_lookup(a);
        fs.add_lookup(a);
        let fh = fs.open(a, libc::O_WRONLY as u32);
        assert!(fs.handle(fh).unwrap().write_only());
        assert_eq!(fs.unlink(b"a"), Ok(a));
        assert_eq!(fs.unlink(b"a"), Err(libc::ENOENT));
        assert!(fs.node(a).is_some(), "kept while looked up");
        assert_eq!(fs.entries().count(), 0);
        assert!(fs.forget(a, 1));
        assert!(fs.node(a).is_some());
        assert!(fs.forget(a, 1));
        assert!(fs.node(a).is_none(), "freed after the last forget");
        assert!(!fs.forget(a, 1));
        assert_eq!(fs.release(fh).map(|h| h.nodeid), Some(a));
        assert_eq!(fs.open_handles(), 0);
        // A linked node survives its forgets; the root is never dropped.
        let b = fs.create_file(b"b", 0o600, 0, 0).unwrap();
        fs.add_lookup(b);
        fs.forget(b, 5);
        assert!(fs.node(b).is_some());
        fs.forget(ROOT, 100);
        assert!(fs.node(ROOT).is_some());
        assert!(is_regular_mode(0o100644) && is_regular_mode(0o644));
        assert!(!is_regular_mode(0o020644));
    }
}
