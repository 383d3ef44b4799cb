//! Hand-written encoders/decoders for the FUSE wire structures used by
//! the bad server, following include/uapi/linux/fuse.h (protocol 7.41).
//!
//! Every structure is laid out field by field in little-endian order (the
//! byte order of the x86_64/arm64 hosts this runs on; FUSE itself uses the
//! host's native order). The sizes and offsets in the tests were checked
//! against the C header with `sizeof`/`offsetof`.

// The request encoders and some size constants are only used by the tests.
#![cfg_attr(not(test), allow(dead_code))]

/// Protocol version spoken by this server.
pub const KERNEL_VERSION: u32 = 7;
pub const KERNEL_MINOR_VERSION: u32 = 41;
pub const ROOT_ID: u64 = 1;

pub const IN_HEADER_SIZE: usize = 40;
pub const OUT_HEADER_SIZE: usize = 16;
pub const ATTR_SIZE: usize = 88;
pub const ENTRY_OUT_SIZE: usize = 128;
pub const ATTR_OUT_SIZE: usize = 104;
pub const INIT_IN_SIZE: usize = 64;
pub const INIT_OUT_SIZE: usize = 64;
pub const OPEN_OUT_SIZE: usize = 16;
pub const KSTATFS_SIZE: usize = 80;
pub const STATFS_OUT_SIZE: usize = KSTATFS_SIZE;
pub const READ_IN_SIZE: usize = 40;
/// `offsetof(struct fuse_dirent, name)`.
pub const DIRENT_NAME_OFFSET: usize = 24;

/// INIT flags (fuse_init_in/out.flags).
pub const FUSE_BIG_WRITES: u32 = 1 << 5;
pub const FUSE_MAX_PAGES: u32 = 1 << 22;

/// Directory entry types (DT_* from <dirent.h>).
pub const DT_DIR: u32 = 4;
pub const DT_REG: u32 = 8;
pub const DT_LNK: u32 = 10;

/// File type bits of st_mode.
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;

/// Opcodes (enum fuse_opcode).
pub mod opcode {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const READLINK: u32 = 5;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const ACCESS: u32 = 34;
    pub const INTERRUPT: u32 = 36;
    pub const DESTROY: u32 = 38;
    pub const NOTIFY_REPLY: u32 = 41;
    pub const BATCH_FORGET: u32 = 42;

    /// A name for log messages.
    pub fn name(op: u32) -> &'static str {
        match op {
            LOOKUP => "LOOKUP",
            FORGET => "FORGET",
            GETATTR => "GETATTR",
            READLINK => "READLINK",
            OPEN => "OPEN",
            READ => "READ",
            STATFS => "STATFS",
            RELEASE => "RELEASE",
            FLUSH => "FLUSH",
            INIT => "INIT",
            OPENDIR => "OPENDIR",
            READDIR => "READDIR",
            RELEASEDIR => "RELEASEDIR",
            ACCESS => "ACCESS",
            INTERRUPT => "INTERRUPT",
            DESTROY => "DESTROY",
            NOTIFY_REPLY => "NOTIFY_REPLY",
            BATCH_FORGET => "BATCH_FORGET",
            _ => "other",
        }
    }
}

/// Little-endian byte writer.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
}

fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn rd_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// `struct fuse_in_header` (40 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InHeader {
    pub len: u32,
    pub opcode: u32,
    pub unique: u64,
    pub nodeid: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
    pub total_extlen: u16,
    pub padding: u16,
}

impl InHeader {
    pub fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            len: rd_u32(b, 0)?,
            opcode: rd_u32(b, 4)?,
            unique: rd_u64(b, 8)?,
            nodeid: rd_u64(b, 16)?,
            uid: rd_u32(b, 24)?,
            gid: rd_u32(b, 28)?,
            pid: rd_u32(b, 32)?,
            total_extlen: rd_u16(b, 36)?,
            padding: rd_u16(b, 38)?,
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.len)
            .u32(self.opcode)
            .u64(self.unique)
            .u64(self.nodeid)
            .u32(self.uid)
            .u32(self.gid)
            .u32(self.pid)
            .u16(self.total_extlen)
            .u16(self.padding);
        e.0
    }
}

/// `struct fuse_out_header` (16 bytes) with explicit fields, so that
/// malformed headers (wrong len, bad error) can be built.
pub fn out_header(len: u32, error: i32, unique: u64) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(len).i32(error).u64(unique);
    e.0
}

/// A well-formed reply: header with the correct length, then `payload`.
pub fn reply(unique: u64, error: i32, payload: &[u8]) -> Vec<u8> {
    let len = (OUT_HEADER_SIZE + payload.len()) as u32;
    let mut v = out_header(len, error, unique);
    v.extend_from_slice(payload);
    v
}

/// A well-formed error reply (header only); `errno` is positive.
pub fn error_reply(unique: u64, errno: i32) -> Vec<u8> {
    reply(unique, -errno, &[])
}

/// `struct fuse_attr` (88 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attr {
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
    pub atimensec: u32,
    pub mtimensec: u32,
    pub ctimensec: u32,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub blksize: u32,
    pub flags: u32,
}

impl Attr {
    pub fn put(&self, e: &mut Enc) {
        e.u64(self.ino)
            .u64(self.size)
            .u64(self.blocks)
            .u64(self.atime)
            .u64(self.mtime)
            .u64(self.ctime)
            .u32(self.atimensec)
            .u32(self.mtimensec)
            .u32(self.ctimensec)
            .u32(self.mode)
            .u32(self.nlink)
            .u32(self.uid)
            .u32(self.gid)
            .u32(self.rdev)
            .u32(self.blksize)
            .u32(self.flags);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        self.put(&mut e);
        e.0
    }
}

/// `struct fuse_entry_out` (128 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntryOut {
    pub nodeid: u64,
    pub generation: u64,
    pub entry_valid: u64,
    pub attr_valid: u64,
    pub entry_valid_nsec: u32,
    pub attr_valid_nsec: u32,
    pub attr: Attr,
}

impl EntryOut {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.nodeid)
            .u64(self.generation)
            .u64(self.entry_valid)
            .u64(self.attr_valid)
            .u32(self.entry_valid_nsec)
            .u32(self.attr_valid_nsec);
        self.attr.put(&mut e);
        e.0
    }
}

/// `struct fuse_attr_out` (104 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttrOut {
    pub attr_valid: u64,
    pub attr_valid_nsec: u32,
    pub dummy: u32,
    pub attr: Attr,
}

impl AttrOut {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.attr_valid)
            .u32(self.attr_valid_nsec)
            .u32(self.dummy);
        self.attr.put(&mut e);
        e.0
    }
}

/// The fields of `struct fuse_init_in` (64 bytes) that we use. Decoding
/// is lenient: missing trailing fields read as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InitIn {
    pub major: u32,
    pub minor: u32,
    pub max_readahead: u32,
    pub flags: u32,
    pub flags2: u32,
}

impl InitIn {
    pub fn decode(b: &[u8]) -> Self {
        Self {
            major: rd_u32(b, 0).unwrap_or(0),
            minor: rd_u32(b, 4).unwrap_or(0),
            max_readahead: rd_u32(b, 8).unwrap_or(0),
            flags: rd_u32(b, 12).unwrap_or(0),
            flags2: rd_u32(b, 16).unwrap_or(0),
        }
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.major)
            .u32(self.minor)
            .u32(self.max_readahead)
            .u32(self.flags)
            .u32(self.flags2)
            .zeros(44);
        e.0
    }
}

/// `struct fuse_init_out` (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InitOut {
    pub major: u32,
    pub minor: u32,
    pub max_readahead: u32,
    pub flags: u32,
    pub max_background: u16,
    pub congestion_threshold: u16,
    pub max_write: u32,
    pub time_gran: u32,
    pub max_pages: u16,
    pub map_alignment: u16,
    pub flags2: u32,
    pub max_stack_depth: u32,
}

impl InitOut {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.major)
            .u32(self.minor)
            .u32(self.max_readahead)
            .u32(self.flags)
            .u16(self.max_background)
            .u16(self.congestion_threshold)
            .u32(self.max_write)
            .u32(self.time_gran)
            .u16(self.max_pages)
            .u16(self.map_alignment)
            .u32(self.flags2)
            .u32(self.max_stack_depth)
            .zeros(24); // unused[6]
        e.0
    }
}

/// `struct fuse_open_out` (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenOut {
    pub fh: u64,
    pub open_flags: u32,
    pub backing_id: i32,
}

impl OpenOut {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.fh).u32(self.open_flags).i32(self.backing_id);
        e.0
    }
}

/// `struct fuse_kstatfs` (80 bytes) == `struct fuse_statfs_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kstatfs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

impl Kstatfs {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.blocks)
            .u64(self.bfree)
            .u64(self.bavail)
            .u64(self.files)
            .u64(self.ffree)
            .u32(self.bsize)
            .u32(self.namelen)
            .u32(self.frsize)
            .u32(0) // padding
            .zeros(24); // spare[6]
        e.0
    }
}

/// `struct fuse_read_in` (40 bytes); also the layout of READDIR's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadIn {
    pub fh: u64,
    pub offset: u64,
    pub size: u32,
    pub read_flags: u32,
    pub lock_owner: u64,
    pub flags: u32,
}

impl ReadIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            fh: rd_u64(b, 0)?,
            offset: rd_u64(b, 8)?,
            size: rd_u32(b, 16)?,
            read_flags: rd_u32(b, 20)?,
            lock_owner: rd_u64(b, 24)?,
            flags: rd_u32(b, 32)?,
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.fh)
            .u64(self.offset)
            .u32(self.size)
            .u32(self.read_flags)
            .u64(self.lock_owner)
            .u32(self.flags)
            .u32(0);
        e.0
    }
}

/// Record length of a dirent with a `namelen`-byte name, padded to 8
/// (`FUSE_DIRENT_SIZE`).
pub fn dirent_size(namelen: usize) -> usize {
    (DIRENT_NAME_OFFSET + namelen + 7) & !7
}

/// A `struct fuse_dirent` record. `namelen` is written as given (it may
/// lie, for malformed replies); `name` is copied and the record is padded
/// with zeros to a multiple of 8 bytes.
pub fn dirent(ino: u64, off: u64, namelen: u32, typ: u32, name: &[u8]) -> Vec<u8> {
    let mut e = Enc::default();
    e.u64(ino).u64(off).u32(namelen).u32(typ).bytes(name);
    let padded = dirent_size(name.len());
    e.0.resize(padded, 0);
    e.0
}

/// A well-formed dirent (namelen = name.len()).
pub fn good_dirent(ino: u64, off: u64, typ: u32, name: &[u8]) -> Vec<u8> {
    dirent(ino, off, name.len() as u32, typ, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_u32(b: &[u8], off: usize) -> u32 {
        rd_u32(b, off).unwrap()
    }
    fn at_u64(b: &[u8], off: usize) -> u64 {
        rd_u64(b, off).unwrap()
    }

    /// Sizes as printed by sizeof() on include/uapi/linux/fuse.h (6.12).
    #[test]
    fn sizes_match_the_header() {
        assert_eq!(InHeader::default().encode().len(), IN_HEADER_SIZE);
        assert_eq!(IN_HEADER_SIZE, 40);
        assert_eq!(out_header(0, 0, 0).len(), OUT_HEADER_SIZE);
        assert_eq!(OUT_HEADER_SIZE, 16);
        assert_eq!(Attr::default().encode().len(), ATTR_SIZE);
        assert_eq!(ATTR_SIZE, 88);
        assert_eq!(EntryOut::default().encode().len(), ENTRY_OUT_SIZE);
        assert_eq!(ENTRY_OUT_SIZE, 128);
        assert_eq!(AttrOut::default().encode().len(), ATTR_OUT_SIZE);
        assert_eq!(ATTR_OUT_SIZE, 104);
        assert_eq!(InitIn::default().encode().len(), INIT_IN_SIZE);
        assert_eq!(INIT_IN_SIZE, 64);
        assert_eq!(InitOut::default().encode().len(), INIT_OUT_SIZE);
        assert_eq!(INIT_OUT_SIZE, 64);
        assert_eq!(OpenOut::default().encode().len(), OPEN_OUT_SIZE);
        assert_eq!(OPEN_OUT_SIZE, 16);
        assert_eq!(Kstatfs::default().encode().len(), STATFS_OUT_SIZE);
        assert_eq!(STATFS_OUT_SIZE, 80);
        assert_eq!(ReadIn::default().encode().len(), READ_IN_SIZE);
        assert_eq!(READ_IN_SIZE, 40);
        assert_eq!(dirent_size(0), 24);
    }

    /// Offsets as printed by offsetof() on the header.
    #[test]
    fn attr_field_offsets() {
        let a = Attr {
            ino: 1,
            size: 2,
            mtimensec: 3,
            mode: 4,
            blksize: 5,
            flags: 6,
            ..Attr::default()
        };
        let b = a.encode();
        assert_eq!(at_u64(&b, 0), 1);
        assert_eq!(at_u64(&b, 8), 2); // size
        assert_eq!(at_u32(&b, 52), 3); // mtimensec
        assert_eq!(at_u32(&b, 60), 4); // mode
        assert_eq!(at_u32(&b, 80), 5); // blksize
        assert_eq!(at_u32(&b, 84), 6); // flags
    }

    #[test]
    fn entry_and_attr_out_offsets() {
        let attr = Attr {
            mode: 0o100644,
            ..Attr::default()
        };
        let e = EntryOut {
            nodeid: 7,
            generation: 8,
            entry_valid: 9,
            attr_valid: 10,
            entry_valid_nsec: 11,
            attr_valid_nsec: 12,
            attr,
        }
        .encode();
        assert_eq!(
            [at_u64(&e, 0), at_u64(&e, 8), at_u64(&e, 16), at_u64(&e, 24)],
            [7, 8, 9, 10]
        );
        assert_eq!([at_u32(&e, 32), at_u32(&e, 36)], [11, 12]);
        assert_eq!(at_u32(&e, 40 + 60), 0o100644); // attr at 40
        let a = AttrOut {
            attr_valid: 3,
            attr_valid_nsec: 4,
            dummy: 0,
            attr,
        }
        .encode();
        assert_eq!(at_u64(&a, 0), 3);
        assert_eq!(at_u32(&a, 8), 4);
        assert_eq!(at_u32(&a, 16 + 60), 0o100644); // attr at 16
    }

    #[test]
    fn init_out_offsets() {
        let b = InitOut {
            major: 7,
            minor: 41,
            max_readahead: 0x20000,
            flags: FUSE_BIG_WRITES | FUSE_MAX_PAGES,
            max_background: 12,
            congestion_threshold: 9,
            max_write: 131072,
            time_gran: 1,
            max_pages: 32,
            map_alignment: 0,
            flags2: 0x55,
            max_stack_depth: 0x66,
        }
        .encode();
        assert_eq!([at_u32(&b, 0), at_u32(&b, 4)], [7, 41]);
        assert_eq!(at_u32(&b, 8), 0x20000);
        assert_eq!(at_u32(&b, 12), (1 << 5) | (1 << 22));
        assert_eq!(rd_u16(&b, 16), Some(12)); // max_background
        assert_eq!(rd_u16(&b, 18), Some(9)); // congestion_threshold
        assert_eq!(at_u32(&b, 20), 131072); // max_write
        assert_eq!(at_u32(&b, 24), 1); // time_gran
        assert_eq!(rd_u16(&b, 28), Some(32)); // max_pages
        assert_eq!(at_u32(&b, 32), 0x55); // flags2
        assert_eq!(at_u32(&b, 36), 0x66); // max_stack_depth
        assert!(b[40..].iter().all(|&x| x == 0));
    }

    #[test]
    fn statfs_and_open_offsets() {
        let s = Kstatfs {
            blocks: 1,
            files: 4,
            bsize: 4096,
            namelen: 255,
            frsize: 512,
            ..Kstatfs::default()
        }
        .encode();
        assert_eq!(at_u64(&s, 0), 1);
        assert_eq!(at_u64(&s, 24), 4);
        assert_eq!(at_u32(&s, 40), 4096); // bsize
        assert_eq!(at_u32(&s, 44), 255); // namelen
        assert_eq!(at_u32(&s, 48), 512); // frsize
        let o = OpenOut {
            fh: 1,
            open_flags: 2,
            backing_id: -1,
        }
        .encode();
        assert_eq!(at_u64(&o, 0), 1);
        assert_eq!(at_u32(&o, 8), 2);
        assert_eq!(at_u32(&o, 12), u32::MAX);
    }

    #[test]
    fn headers_round_trip() {
        let h = InHeader {
            len: 56,
            opcode: opcode::LOOKUP,
            unique: 0x1234_5678_9abc,
            nodeid: 1,
            uid: 1000,
            gid: 100,
            pid: 42,
            total_extlen: 0,
            padding: 0,
        };
        let b = h.encode();
        assert_eq!(at_u32(&b, 4), opcode::LOOKUP);
        assert_eq!(at_u64(&b, 8), 0x1234_5678_9abc); // unique
        assert_eq!(at_u64(&b, 16), 1); // nodeid
        assert_eq!(InHeader::decode(&b), Some(h));
        assert_eq!(InHeader::decode(&b[..39]), None);

        let r = reply(99, -2, &[1, 2, 3]);
        assert_eq!(r.len(), 19);
        assert_eq!(at_u32(&r, 0), 19);
        assert_eq!(at_u32(&r, 4) as i32, -2);
        assert_eq!(at_u64(&r, 8), 99);
        assert_eq!(error_reply(5, libc::ENOENT), out_header(16, -2, 5));
    }

    #[test]
    fn init_in_and_read_in_decode() {
        let i = InitIn {
            major: 7,
            minor: 41,
            max_readahead: 131072,
            flags: 0xdead,
            flags2: 0xbeef,
        };
        assert_eq!(InitIn::decode(&i.encode()), i);
        // Short (old-kernel) init_in: missing fields read as 0.
        let short = InitIn::decode(&i.encode()[..8]);
        assert_eq!((short.major, short.minor, short.flags), (7, 41, 0));
        let r = ReadIn {
            fh: 1,
            offset: 4096,
            size: 8192,
            read_flags: 0,
            lock_owner: 5,
            flags: 0o100000,
        };
        let b = r.encode();
        assert_eq!(at_u64(&b, 8), 4096);
        assert_eq!(at_u32(&b, 16), 8192);
        assert_eq!(ReadIn::decode(&b), Some(r));
        assert_eq!(ReadIn::decode(&b[..20]), None);
    }

    #[test]
    fn dirents_are_padded() {
        let d = good_dirent(5, 1, DT_REG, b"abc");
        assert_eq!(d.len(), 32);
        assert_eq!(at_u64(&d, 0), 5);
        assert_eq!(at_u64(&d, 8), 1);
        assert_eq!(at_u32(&d, 16), 3);
        assert_eq!(at_u32(&d, 20), DT_REG);
        assert_eq!(&d[24..27], b"abc");
        assert!(d[27..].iter().all(|&x| x == 0));
        assert_eq!(good_dirent(1, 1, DT_DIR, b"12345678").len(), 32);
        assert_eq!(good_dirent(1, 1, DT_DIR, b"123456789").len(), 40);
        // A lying namelen is written as given.
        let bad = dirent(1, 1, 200, DT_REG, b"abcdefgh");
        assert_eq!(bad.len(), 32);
        assert_eq!(at_u32(&bad, 16), 200);
    }
}
