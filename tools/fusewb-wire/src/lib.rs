//! Hand-written decoders and encoders of the raw FUSE wire structures,
//! following include/uapi/linux/fuse.h (protocol 7.41), for the test
//! servers that speak the protocol without a library: fusewb-scriptserver
//! (exact protocol tests) and fusewb-badserver (malformed replies). They
//! are written from the header, not from the module's own bindings, so
//! that a layout mistake in the module cannot hide behind the same mistake
//! here.
//!
//! Every structure is laid out field by field in little-endian order (the
//! byte order of the x86_64/arm64 hosts this runs on; FUSE itself uses the
//! host's native order). Sizes and offsets are checked in the tests
//! against the C header's `sizeof`/`offsetof`.
//!
//! Decoders take the argument bytes of a request (after the 40-byte
//! `fuse_in_header`) and return `None` when they are too short: the
//! server answers such a request with EINVAL, it never panics.
//!
//! Besides the structures: [`raw`], the descriptor, signal and log
//! plumbing both raw servers share, and [`errno`], the errno names of the
//! test tools (the two servers, fusewb-stress, fusewb-pio).

pub mod errno;
pub mod raw;

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
pub const WRITE_OUT_SIZE: usize = 8;
pub const KSTATFS_SIZE: usize = 80;
pub const STATFS_OUT_SIZE: usize = KSTATFS_SIZE;
pub const LSEEK_OUT_SIZE: usize = 8;
pub const SETATTR_IN_SIZE: usize = 88;
pub const CREATE_IN_SIZE: usize = 16;
pub const MKNOD_IN_SIZE: usize = 16;
/// `fuse_write_in` since 7.9; `FUSE_COMPAT_WRITE_IN_SIZE` before.
pub const WRITE_IN_SIZE: usize = 40;
pub const COMPAT_WRITE_IN_SIZE: usize = 24;
pub const READ_IN_SIZE: usize = 40;
pub const FALLOCATE_IN_SIZE: usize = 32;
pub const COPY_FILE_RANGE_IN_SIZE: usize = 56;
/// `offsetof(struct fuse_dirent, name)`.
pub const DIRENT_NAME_OFFSET: usize = 24;

/// INIT flags (`flags | flags2 << 32`).
pub mod initflags {
    pub const ASYNC_READ: u64 = 1 << 0;
    pub const ATOMIC_O_TRUNC: u64 = 1 << 3;
    pub const BIG_WRITES: u64 = 1 << 5;
    pub const DONT_MASK: u64 = 1 << 6;
    pub const WRITEBACK_CACHE: u64 = 1 << 16;
    pub const PARALLEL_DIROPS: u64 = 1 << 18;
    pub const POSIX_ACL: u64 = 1 << 20;
    pub const HANDLE_KILLPRIV_V2: u64 = 1 << 28;
    pub const SETXATTR_EXT: u64 = 1 << 29;
    pub const MAX_PAGES: u64 = 1 << 22;
    pub const INIT_EXT: u64 = 1 << 30;

    /// Names of the INIT flags of 7.41, by bit number.
    pub const NAMES: [&str; 41] = [
        "ASYNC_READ",
        "POSIX_LOCKS",
        "FILE_OPS",
        "ATOMIC_O_TRUNC",
        "EXPORT_SUPPORT",
        "BIG_WRITES",
        "DONT_MASK",
        "SPLICE_WRITE",
        "SPLICE_MOVE",
        "SPLICE_READ",
        "FLOCK_LOCKS",
        "HAS_IOCTL_DIR",
        "AUTO_INVAL_DATA",
        "DO_READDIRPLUS",
        "READDIRPLUS_AUTO",
        "ASYNC_DIO",
        "WRITEBACK_CACHE",
        "NO_OPEN_SUPPORT",
        "PARALLEL_DIROPS",
        "HANDLE_KILLPRIV",
        "POSIX_ACL",
        "ABORT_ERROR",
        "MAX_PAGES",
        "CACHE_SYMLINKS",
        "NO_OPENDIR_SUPPORT",
        "EXPLICIT_INVAL_DATA",
        "MAP_ALIGNMENT",
        "SUBMOUNTS",
        "HANDLE_KILLPRIV_V2",
        "SETXATTR_EXT",
        "INIT_EXT",
        "INIT_RESERVED",
        "SECURITY_CTX",
        "HAS_INODE_DAX",
        "CREATE_SUPP_GROUP",
        "HAS_EXPIRE_ONLY",
        "DIRECT_IO_ALLOW_MMAP",
        "PASSTHROUGH",
        "NO_EXPORT_SUPPORT",
        "HAS_RESEND",
        "ALLOW_IDMAP",
    ];

    /// `NAME,NAME,...` of the set flags (unknown bits as `bitN`), or `-`.
    pub fn names(flags: u64) -> String {
        let mut out = String::new();
        for bit in 0..64 {
            if flags & (1u64 << bit) == 0 {
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            match NAMES.get(bit) {
                Some(n) => out.push_str(n),
                None => out.push_str(&format!("bit{bit}")),
            }
        }
        if out.is_empty() {
            out.push('-');
        }
        out
    }
}

/// `fuse_setattr_in.valid` bits.
pub mod fattr {
    pub const MODE: u32 = 1 << 0;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    pub const ATIME: u32 = 1 << 4;
    pub const MTIME: u32 = 1 << 5;
    pub const FH: u32 = 1 << 6;
    pub const ATIME_NOW: u32 = 1 << 7;
    pub const MTIME_NOW: u32 = 1 << 8;
    pub const LOCKOWNER: u32 = 1 << 9;
    pub const CTIME: u32 = 1 << 10;
    pub const KILL_SUIDGID: u32 = 1 << 11;
}

/// `fuse_write_in.write_flags` bits.
pub const FUSE_WRITE_CACHE: u32 = 1 << 0;
pub const FUSE_WRITE_KILL_SUIDGID: u32 = 1 << 2;
/// `fuse_read_in.read_flags`.
pub const FUSE_READ_LOCKOWNER: u32 = 1 << 1;
/// `fuse_getattr_in.getattr_flags`.
pub const FUSE_GETATTR_FH: u32 = 1 << 0;
/// `fuse_fsync_in.fsync_flags`.
pub const FUSE_FSYNC_FDATASYNC: u32 = 1 << 0;
/// `fuse_release_in.release_flags`.
pub const FUSE_RELEASE_FLUSH: u32 = 1 << 0;
pub const FUSE_RELEASE_FLOCK_UNLOCK: u32 = 1 << 1;
/// `fuse_open_out.open_flags`.
/// `fuse_open_in.open_flags`: clear suid/sgid on a truncating open.
pub const FUSE_OPEN_KILL_SUIDGID: u32 = 1 << 0;
/// `fuse_setxattr_in.setxattr_flags`: clear sgid along with the ACL set.
pub const FUSE_SETXATTR_ACL_KILL_SGID: u32 = 1 << 0;
pub const FOPEN_DIRECT_IO: u32 = 1 << 0;
pub const FOPEN_KEEP_CACHE: u32 = 1 << 1;

/// fallocate(2) modes (`<linux/falloc.h>`).
pub const FALLOC_FL_KEEP_SIZE: u32 = 0x01;
pub const FALLOC_FL_PUNCH_HOLE: u32 = 0x02;
pub const FALLOC_FL_ZERO_RANGE: u32 = 0x10;

/// lseek(2) whence values.
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

/// Directory entry types (DT_* from <dirent.h>).
pub const DT_DIR: u32 = 4;
pub const DT_REG: u32 = 8;
pub const DT_LNK: u32 = 10;

/// File type bits of st_mode.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;

/// Opcodes (enum fuse_opcode).
pub mod opcode {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const READLINK: u32 = 5;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const SETXATTR: u32 = 21;
    pub const GETXATTR: u32 = 22;
    pub const LISTXATTR: u32 = 23;
    pub const REMOVEXATTR: u32 = 24;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const ACCESS: u32 = 34;
    pub const CREATE: u32 = 35;
    pub const INTERRUPT: u32 = 36;
    pub const DESTROY: u32 = 38;
    pub const NOTIFY_REPLY: u32 = 41;
    pub const BATCH_FORGET: u32 = 42;
    pub const FALLOCATE: u32 = 43;
    pub const LSEEK: u32 = 46;
    pub const COPY_FILE_RANGE: u32 = 47;
    pub const TMPFILE: u32 = 51;

    /// The opcode's name without the `FUSE_` prefix (`OP<n>` if unknown).
    pub fn name(op: u32) -> std::borrow::Cow<'static, str> {
        let n = match op {
            1 => "LOOKUP",
            2 => "FORGET",
            3 => "GETATTR",
            4 => "SETATTR",
            5 => "READLINK",
            6 => "SYMLINK",
            8 => "MKNOD",
            9 => "MKDIR",
            10 => "UNLINK",
            11 => "RMDIR",
            12 => "RENAME",
            13 => "LINK",
            14 => "OPEN",
            15 => "READ",
            16 => "WRITE",
            17 => "STATFS",
            18 => "RELEASE",
            20 => "FSYNC",
            21 => "SETXATTR",
            22 => "GETXATTR",
            23 => "LISTXATTR",
            24 => "REMOVEXATTR",
            25 => "FLUSH",
            26 => "INIT",
            27 => "OPENDIR",
            28 => "READDIR",
            29 => "RELEASEDIR",
            30 => "FSYNCDIR",
            31 => "GETLK",
            32 => "SETLK",
            33 => "SETLKW",
            34 => "ACCESS",
            35 => "CREATE",
            36 => "INTERRUPT",
            37 => "BMAP",
            38 => "DESTROY",
            39 => "IOCTL",
            40 => "POLL",
            41 => "NOTIFY_REPLY",
            42 => "BATCH_FORGET",
            43 => "FALLOCATE",
            44 => "READDIRPLUS",
            45 => "RENAME2",
            46 => "LSEEK",
            47 => "COPY_FILE_RANGE",
            48 => "SETUPMAPPING",
            49 => "REMOVEMAPPING",
            50 => "SYNCFS",
            51 => "TMPFILE",
            52 => "STATX",
            _ => return format!("OP{op}").into(),
        };
        n.into()
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

/// Little-endian field reader over a request's bytes.
struct Rd<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Self {
        Rd { b, off: 0 }
    }
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.off.checked_add(N)?;
        let a: [u8; N] = self.b.get(self.off..end)?.try_into().ok()?;
        self.off = end;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take::<2>().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
}

/// The NUL-terminated name at the start of `b` (all of `b` if it has no
/// NUL), and what follows the NUL.
pub fn split_name(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == 0) {
        Some(nul) => (&b[..nul], &b[nul + 1..]),
        None => (b, &[]),
    }
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
        let mut r = Rd::new(b);
        Some(Self {
            len: r.u32()?,
            opcode: r.u32()?,
            unique: r.u64()?,
            nodeid: r.u64()?,
            uid: r.u32()?,
            gid: r.u32()?,
            pid: r.u32()?,
            total_extlen: r.u16()?,
            padding: r.u16()?,
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

/// Splits one request (the bytes of one read(2)) into its header and its
/// arguments, without the extension area (`total_extlen` 8-byte units at
/// the end). `None` if shorter than a header.
pub fn split_request(req: &[u8]) -> Option<(InHeader, &[u8])> {
    let h = InHeader::decode(req)?;
    let end = (h.len as usize).clamp(IN_HEADER_SIZE, req.len());
    let ext = usize::from(h.total_extlen) * 8;
    let end = end.saturating_sub(ext).max(IN_HEADER_SIZE);
    Some((h, &req[IN_HEADER_SIZE..end]))
}

/// `struct fuse_out_header` (16 bytes) with explicit fields, so that
/// malformed headers (wrong len, bad error) can be built.
pub fn out_header(len: u32, error: i32, unique: u64) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(len).i32(error).u64(unique);
    e.0
}

/// A well-formed reply: `fuse_out_header` with the correct length, then
/// `payload`.
pub fn reply(unique: u64, error: i32, payload: &[u8]) -> Vec<u8> {
    let len = (OUT_HEADER_SIZE + payload.len()) as u32;
    let mut v = out_header(len, error, unique);
    v.extend_from_slice(payload);
    v
}

/// A header-only error reply; `errno` is positive.
pub fn error_reply(unique: u64, errno: i32) -> Vec<u8> {
    reply(unique, -errno, &[])
}

/// `struct fuse_init_in` (64 bytes; only the fields used). Decoding is
/// lenient: missing trailing fields read as 0 (old kernels send 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InitIn {
    pub major: u32,
    pub minor: u32,
    pub max_readahead: u32,
    pub flags: u32,
    pub flags2: u32,
}

impl InitIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        Some(Self {
            major: r.u32()?,
            minor: r.u32()?,
            max_readahead: r.u32().unwrap_or(0),
            flags: r.u32().unwrap_or(0),
            flags2: r.u32().unwrap_or(0),
        })
    }

    /// The offered flags as one 64-bit set: `flags2` counts only when
    /// `FUSE_INIT_EXT` is in `flags`.
    pub fn flags64(&self) -> u64 {
        let mut f = u64::from(self.flags);
        if f & initflags::INIT_EXT != 0 {
            f |= u64::from(self.flags2) << 32;
        }
        f
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
    pub fn put(&self, e: &mut Enc) {
        e.u64(self.nodeid)
            .u64(self.generation)
            .u64(self.entry_valid)
            .u64(self.attr_valid)
            .u32(self.entry_valid_nsec)
            .u32(self.attr_valid_nsec);
        self.attr.put(e);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        self.put(&mut e);
        e.0
    }
}

/// `struct fuse_attr_out` (104 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttrOut {
    pub attr_valid: u64,
    pub attr_valid_nsec: u32,
    pub attr: Attr,
}

impl AttrOut {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.attr_valid).u32(self.attr_valid_nsec).u32(0); // dummy
        self.attr.put(&mut e);
        e.0
    }
}

/// `struct fuse_open_out` (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenOut {
    pub fh: u64,
    pub open_flags: u32,
}

impl OpenOut {
    pub fn put(&self, e: &mut Enc) {
        e.u64(self.fh).u32(self.open_flags).i32(0); // backing_id
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        self.put(&mut e);
        e.0
    }
}

/// `struct fuse_write_out` (8 bytes); also COPY_FILE_RANGE's reply.
pub fn write_out(size: u32) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(size).u32(0);
    e.0
}

/// `struct fuse_setxattr_in` (16 bytes with FUSE_SETXATTR_EXT, else the
/// first 8), the name, then `size` bytes of value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetxattrIn {
    pub size: u32,
    pub flags: u32,
    pub setxattr_flags: u32,
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

impl SetxattrIn {
    /// `ext`: the connection agreed on FUSE_SETXATTR_EXT. `None` if short
    /// or the value is not `size` bytes.
    pub fn decode(b: &[u8], ext: bool) -> Option<Self> {
        let mut r = Rd::new(b);
        let (size, flags) = (r.u32()?, r.u32()?);
        let (setxattr_flags, head) = if ext { (r.u32()?, 16) } else { (0, 8) };
        let (name, value) = split_name(b.get(head..)?);
        if value.len() != size as usize {
            return None;
        }
        Some(Self {
            size,
            flags,
            setxattr_flags,
            name: name.to_vec(),
            value: value.to_vec(),
        })
    }

    /// Encoder (extended form), used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.size)
            .u32(self.flags)
            .u32(self.setxattr_flags)
            .u32(0)
            .bytes(&self.name)
            .zeros(1)
            .bytes(&self.value);
        e.0
    }
}

/// `struct fuse_getxattr_in` (8 bytes: the buffer size), then for GETXATTR
/// the name: `(size, name)`.
pub fn getxattr_in(b: &[u8]) -> Option<(u32, &[u8])> {
    let mut r = Rd::new(b);
    let size = r.u32()?;
    r.u32()?;
    Some((size, split_name(b.get(8..)?).0))
}

/// `struct fuse_getxattr_out` (8 bytes): the size a value or list needs.
pub fn getxattr_out(size: u32) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(size).u32(0);
    e.0
}

/// `struct fuse_lseek_out` (8 bytes).
pub fn lseek_out(offset: u64) -> Vec<u8> {
    offset.to_le_bytes().to_vec()
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

/// `struct fuse_forget_in` (8 bytes): nlookup.
pub fn forget_in(b: &[u8]) -> Option<u64> {
    Rd::new(b).u64()
}

/// `struct fuse_batch_forget_in` (8 bytes) and the `count` following
/// `struct fuse_forget_one` (nodeid, nlookup). Entries beyond the data
/// are dropped (the count is returned as sent).
pub fn batch_forget_in(b: &[u8]) -> Option<(u32, Vec<(u64, u64)>)> {
    let mut r = Rd::new(b);
    let count = r.u32()?;
    r.u32()?;
    let mut v = Vec::new();
    for _ in 0..count {
        let (Some(n), Some(l)) = (r.u64(), r.u64()) else {
            break;
        };
        v.push((n, l));
    }
    Some((count, v))
}

/// `struct fuse_getattr_in` (16 bytes): (getattr_flags, fh).
pub fn getattr_in(b: &[u8]) -> Option<(u32, u64)> {
    let mut r = Rd::new(b);
    let flags = r.u32()?;
    r.u32()?;
    Some((flags, r.u64()?))
}

/// `struct fuse_setattr_in` (88 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetattrIn {
    pub valid: u32,
    pub fh: u64,
    pub size: u64,
    pub lock_owner: u64,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
    pub atimensec: u32,
    pub mtimensec: u32,
    pub ctimensec: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl SetattrIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        let valid = r.u32()?;
        let _padding = r.u32()?;
        let (fh, size, lock_owner) = (r.u64()?, r.u64()?, r.u64()?);
        let (atime, mtime, ctime) = (r.u64()?, r.u64()?, r.u64()?);
        let (atimensec, mtimensec, ctimensec) = (r.u32()?, r.u32()?, r.u32()?);
        let mode = r.u32()?;
        let _unused4 = r.u32()?;
        let (uid, gid) = (r.u32()?, r.u32()?);
        let _unused5 = r.u32()?;
        Some(Self {
            valid,
            fh,
            size,
            lock_owner,
            atime,
            mtime,
            ctime,
            atimensec,
            mtimensec,
            ctimensec,
            mode,
            uid,
            gid,
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.valid)
            .u32(0)
            .u64(self.fh)
            .u64(self.size)
            .u64(self.lock_owner)
            .u64(self.atime)
            .u64(self.mtime)
            .u64(self.ctime)
            .u32(self.atimensec)
            .u32(self.mtimensec)
            .u32(self.ctimensec)
            .u32(self.mode)
            .u32(0)
            .u32(self.uid)
            .u32(self.gid)
            .u32(0);
        e.0
    }
}

/// `struct fuse_open_in` (8 bytes): (flags, open_flags).
pub fn open_in(b: &[u8]) -> Option<(u32, u32)> {
    let mut r = Rd::new(b);
    Some((r.u32()?, r.u32()?))
}

/// `struct fuse_create_in` (16 bytes) followed by the name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateIn {
    pub flags: u32,
    pub mode: u32,
    pub umask: u32,
    pub open_flags: u32,
    pub name: Vec<u8>,
}

impl CreateIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        let (flags, mode, umask, open_flags) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let (name, _) = split_name(b.get(CREATE_IN_SIZE..)?);
        Some(Self {
            flags,
            mode,
            umask,
            open_flags,
            name: name.to_vec(),
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.flags)
            .u32(self.mode)
            .u32(self.umask)
            .u32(self.open_flags)
            .bytes(&self.name)
            .zeros(1);
        e.0
    }
}

/// `struct fuse_mknod_in` (16 bytes) followed by the name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MknodIn {
    pub mode: u32,
    pub rdev: u32,
    pub umask: u32,
    pub name: Vec<u8>,
}

impl MknodIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        let (mode, rdev, umask) = (r.u32()?, r.u32()?, r.u32()?);
        let (name, _) = split_name(b.get(MKNOD_IN_SIZE..)?);
        Some(Self {
            mode,
            rdev,
            umask,
            name: name.to_vec(),
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.mode)
            .u32(self.rdev)
            .u32(self.umask)
            .u32(0)
            .bytes(&self.name)
            .zeros(1);
        e.0
    }
}

/// `struct fuse_read_in` (40 bytes); also READDIR's input.
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
        let mut r = Rd::new(b);
        Some(Self {
            fh: r.u64()?,
            offset: r.u64()?,
            size: r.u32()?,
            read_flags: r.u32()?,
            // Absent before 7.9.
            lock_owner: r.u64().unwrap_or(0),
            flags: r.u32().unwrap_or(0),
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

/// `struct fuse_write_in` and the data that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteIn {
    pub fh: u64,
    pub offset: u64,
    pub size: u32,
    pub write_flags: u32,
    pub lock_owner: u64,
    pub flags: u32,
}

impl WriteIn {
    /// Decodes for the negotiated `minor` (the structure is 24 bytes
    /// before 7.9); returns the structure and the data after it.
    pub fn decode(b: &[u8], minor: u32) -> Option<(Self, &[u8])> {
        let mut r = Rd::new(b);
        let mut w = Self {
            fh: r.u64()?,
            offset: r.u64()?,
            size: r.u32()?,
            write_flags: r.u32()?,
            ..Self::default()
        };
        let hdr = if minor < 9 {
            COMPAT_WRITE_IN_SIZE
        } else {
            w.lock_owner = r.u64()?;
            w.flags = r.u32()?;
            WRITE_IN_SIZE
        };
        Some((w, b.get(hdr..)?))
    }

    /// Encoder (7.9+ layout), used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.fh)
            .u64(self.offset)
            .u32(self.size)
            .u32(self.write_flags)
            .u64(self.lock_owner)
            .u32(self.flags)
            .u32(0);
        e.0
    }
}

/// `struct fuse_flush_in` (24 bytes): (fh, lock_owner).
pub fn flush_in(b: &[u8]) -> Option<(u64, u64)> {
    let mut r = Rd::new(b);
    let fh = r.u64()?;
    r.u64()?; // unused, padding
    Some((fh, r.u64()?))
}

/// `struct fuse_release_in` (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseIn {
    pub fh: u64,
    pub flags: u32,
    pub release_flags: u32,
    pub lock_owner: u64,
}

impl ReleaseIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        Some(Self {
            fh: r.u64()?,
            flags: r.u32()?,
            release_flags: r.u32()?,
            lock_owner: r.u64().unwrap_or(0),
        })
    }
}

/// `struct fuse_fsync_in` (16 bytes): (fh, fsync_flags).
pub fn fsync_in(b: &[u8]) -> Option<(u64, u32)> {
    let mut r = Rd::new(b);
    Some((r.u64()?, r.u32()?))
}

/// `struct fuse_access_in` (8 bytes): mask.
pub fn access_in(b: &[u8]) -> Option<u32> {
    Rd::new(b).u32()
}

/// `struct fuse_interrupt_in` (8 bytes): the interrupted request's unique.
pub fn interrupt_in(b: &[u8]) -> Option<u64> {
    Rd::new(b).u64()
}

/// `struct fuse_fallocate_in` (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FallocateIn {
    pub fh: u64,
    pub offset: u64,
    pub length: u64,
    pub mode: u32,
}

impl FallocateIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        Some(Self {
            fh: r.u64()?,
            offset: r.u64()?,
            length: r.u64()?,
            mode: r.u32()?,
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.fh)
            .u64(self.offset)
            .u64(self.length)
            .u32(self.mode)
            .u32(0);
        e.0
    }
}

/// `struct fuse_lseek_in` (24 bytes): (fh, offset, whence).
pub fn lseek_in(b: &[u8]) -> Option<(u64, u64, u32)> {
    let mut r = Rd::new(b);
    Some((r.u64()?, r.u64()?, r.u32()?))
}

/// `struct fuse_copy_file_range_in` (56 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyFileRangeIn {
    pub fh_in: u64,
    pub off_in: u64,
    pub nodeid_out: u64,
    pub fh_out: u64,
    pub off_out: u64,
    pub len: u64,
    pub flags: u64,
}

impl CopyFileRangeIn {
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        Some(Self {
            fh_in: r.u64()?,
            off_in: r.u64()?,
            nodeid_out: r.u64()?,
            fh_out: r.u64()?,
            off_out: r.u64()?,
            len: r.u64()?,
            flags: r.u64()?,
        })
    }

    /// Encoder, used by the tests to build requests.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.fh_in)
            .u64(self.off_in)
            .u64(self.nodeid_out)
            .u64(self.fh_out)
            .u64(self.off_out)
            .u64(self.len)
            .u64(self.flags);
        e.0
    }
}

/// Record length of a dirent with a `namelen`-byte name, padded to 8
/// (`FUSE_DIRENT_SIZE`).
pub fn dirent_size(namelen: usize) -> usize {
    (DIRENT_NAME_OFFSET + namelen + 7) & !7
}

/// A `struct fuse_dirent` record, padded with zeros to 8 bytes.
pub fn dirent(ino: u64, off: u64, typ: u32, name: &[u8]) -> Vec<u8> {
    dirent_raw(ino, off, name.len() as u32, typ, name)
}

/// A `struct fuse_dirent` record whose `namelen` is written as given (it
/// may lie, for malformed replies); `name` is copied and the record is
/// padded with zeros to a multiple of 8 bytes.
pub fn dirent_raw(ino: u64, off: u64, namelen: u32, typ: u32, name: &[u8]) -> Vec<u8> {
    let mut e = Enc::default();
    e.u64(ino).u64(off).u32(namelen).u32(typ).bytes(name);
    e.0.resize(dirent_size(name.len()), 0);
    e.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_u32(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }
    fn at_u64(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    /// Sizes as printed by sizeof() on include/uapi/linux/fuse.h (6.12).
    #[test]
    fn sizes_match_the_header() {
        assert_eq!(InHeader::default().encode().len(), IN_HEADER_SIZE);
        assert_eq!(reply(0, 0, &[]).len(), OUT_HEADER_SIZE);
        assert_eq!(Attr::default().encode().len(), ATTR_SIZE);
        assert_eq!(EntryOut::default().encode().len(), ENTRY_OUT_SIZE);
        assert_eq!(AttrOut::default().encode().len(), ATTR_OUT_SIZE);
        assert_eq!(InitIn::default().encode().len(), INIT_IN_SIZE);
        assert_eq!(InitOut::default().encode().len(), INIT_OUT_SIZE);
        assert_eq!(OpenOut::default().encode().len(), OPEN_OUT_SIZE);
        assert_eq!(write_out(0).len(), WRITE_OUT_SIZE);
        assert_eq!(lseek_out(0).len(), LSEEK_OUT_SIZE);
        assert_eq!(Kstatfs::default().encode().len(), STATFS_OUT_SIZE);
        assert_eq!(SetattrIn::default().encode().len(), SETATTR_IN_SIZE);
        assert_eq!(ReadIn::default().encode().len(), READ_IN_SIZE);
        assert_eq!(WriteIn::default().encode().len(), WRITE_IN_SIZE);
        assert_eq!(FallocateIn::default().encode().len(), FALLOCATE_IN_SIZE);
        assert_eq!(
            CopyFileRangeIn::default().encode().len(),
            COPY_FILE_RANGE_IN_SIZE
        );
        assert_eq!(
            [IN_HEADER_SIZE, OUT_HEADER_SIZE, ATTR_SIZE, ENTRY_OUT_SIZE],
            [40, 16, 88, 128]
        );
        assert_eq!(
            [ATTR_OUT_SIZE, INIT_OUT_SIZE, SETATTR_IN_SIZE],
            [104, 64, 88]
        );
        assert_eq!(
            [WRITE_IN_SIZE, FALLOCATE_IN_SIZE, COPY_FILE_RANGE_IN_SIZE],
            [40, 32, 56]
        );
        assert_eq!(dirent_size(0), 24);
    }

    #[test]
    fn attr_and_entry_offsets() {
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
        let e = EntryOut {
            nodeid: 7,
            generation: 8,
            entry_valid: 9,
            attr_valid: 10,
            entry_valid_nsec: 11,
            attr_valid_nsec: 12,
            attr: a,
        }
        .encode();
        assert_eq!(
            [at_u64(&e, 0), at_u64(&e, 8), at_u64(&e, 16), at_u64(&e, 24)],
            [7, 8, 9, 10]
        );
        assert_eq!([at_u32(&e, 32), at_u32(&e, 36)], [11, 12]);
        assert_eq!(at_u32(&e, 40 + 60), 4); // attr at 40
        let o = AttrOut {
            attr_valid: 3,
            attr_valid_nsec: 4,
            attr: a,
        }
        .encode();
        assert_eq!(at_u64(&o, 0), 3);
        assert_eq!(at_u32(&o, 8), 4);
        assert_eq!(at_u64(&o, 16 + 8), 2); // attr at 16
    }

    #[test]
    fn init_round_trip_and_offsets() {
        let i = InitIn {
            major: 7,
            minor: 41,
            max_readahead: 131072,
            flags: 0x4000_0001,
            flags2: 0x2,
        };
        assert_eq!(InitIn::decode(&i.encode()), Some(i));
        assert_eq!(i.flags64(), 0x2_4000_0001);
        // flags2 is ignored without FUSE_INIT_EXT.
        let no_ext = InitIn { flags: 1, ..i };
        assert_eq!(no_ext.flags64(), 1);
        // Short (old-kernel) init_in: missing fields read as 0.
        let short = InitIn::decode(&i.encode()[..8]).unwrap();
        assert_eq!((short.major, short.minor, short.flags), (7, 41, 0));
        assert_eq!(InitIn::decode(&[0; 4]), None);

        let b = InitOut {
            major: 7,
            minor: 41,
            max_readahead: 0x20000,
            flags: 0x0040_0021,
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
        assert_eq!(at_u32(&b, 12), 0x0040_0021);
        assert_eq!(u16::from_le_bytes([b[16], b[17]]), 12); // max_background
        assert_eq!(u16::from_le_bytes([b[18], b[19]]), 9); // congestion
        assert_eq!(at_u32(&b, 20), 131072); // max_write
        assert_eq!(at_u32(&b, 24), 1); // time_gran
        assert_eq!(u16::from_le_bytes([b[28], b[29]]), 32); // max_pages
        assert_eq!(at_u32(&b, 32), 0x55); // flags2
        assert_eq!(at_u32(&b, 36), 0x66); // max_stack_depth
        assert!(b[40..].iter().all(|&x| x == 0));
    }

    #[test]
    fn init_flag_names() {
        assert_eq!(initflags::names(0), "-");
        assert_eq!(
            initflags::names(initflags::ASYNC_READ | initflags::WRITEBACK_CACHE),
            "ASYNC_READ,WRITEBACK_CACHE"
        );
        assert_eq!(initflags::names(1 << 40), "ALLOW_IDMAP");
        assert_eq!(initflags::names(1 << 45), "bit45");
        assert_eq!(initflags::NAMES[22], "MAX_PAGES");
        assert_eq!(initflags::NAMES[30], "INIT_EXT");
        assert_eq!(initflags::NAMES[3], "ATOMIC_O_TRUNC");
        assert_eq!(initflags::NAMES[5], "BIG_WRITES");
    }

    #[test]
    fn header_and_split() {
        let h = InHeader {
            len: 40 + 6 + 16,
            opcode: opcode::LOOKUP,
            unique: 0x1234_5678_9abc,
            nodeid: 1,
            uid: 1000,
            gid: 100,
            pid: 42,
            total_extlen: 2,
            padding: 0,
        };
        let mut b = h.encode();
        assert_eq!(at_u32(&b, 4), opcode::LOOKUP);
        assert_eq!(at_u64(&b, 8), 0x1234_5678_9abc);
        assert_eq!(InHeader::decode(&b), Some(h));
        assert_eq!(InHeader::decode(&b[..39]), None);
        b.extend_from_slice(b"name\0\0");
        b.extend_from_slice(&[0xee; 16]); // extension area
        let (h2, arg) = split_request(&b).unwrap();
        assert_eq!(h2, h);
        assert_eq!(arg, b"name\0\0");
        assert_eq!(split_name(arg), (&b"name"[..], &b"\0"[..]));
        assert_eq!(split_name(b"abc"), (&b"abc"[..], &b""[..]));
        // A len beyond the data read is clamped.
        let mut short = h;
        short.len = 4000;
        short.total_extlen = 0;
        let mut b = short.encode();
        b.extend_from_slice(b"x\0");
        assert_eq!(split_request(&b).unwrap().1, b"x\0");
        // An extension larger than the arguments leaves none.
        let mut ext = h;
        ext.total_extlen = 100;
        assert_eq!(split_request(&ext.encode()).unwrap().1, b"");
        assert!(split_request(&[0; 10]).is_none());
    }

    #[test]
    fn replies() {
        let r = reply(99, -2, &[1, 2, 3]);
        assert_eq!(r.len(), 19);
        assert_eq!(at_u32(&r, 0), 19);
        assert_eq!(at_u32(&r, 4) as i32, -2);
        assert_eq!(at_u64(&r, 8), 99);
        assert_eq!(error_reply(5, libc::ENOENT), reply(5, -2, &[]));
        assert_eq!(error_reply(5, libc::ENOENT), out_header(16, -2, 5));
        assert_eq!(out_header(20, 5, 7).len(), OUT_HEADER_SIZE);
        assert_eq!(at_u32(&write_out(77), 0), 77);
        let o = OpenOut {
            fh: 5,
            open_flags: FOPEN_KEEP_CACHE,
        }
        .encode();
        assert_eq!((at_u64(&o, 0), at_u32(&o, 8), at_u32(&o, 12)), (5, 2, 0));
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
        assert_eq!(
            [at_u32(&s, 40), at_u32(&s, 44), at_u32(&s, 48)],
            [4096, 255, 512]
        );
    }

    #[test]
    fn setattr_decodes_field_offsets() {
        let mut b = vec![0u8; SETATTR_IN_SIZE];
        b[0..4].copy_from_slice(&(fattr::SIZE | fattr::MODE).to_le_bytes());
        b[8..16].copy_from_slice(&3u64.to_le_bytes()); // fh
        b[16..24].copy_from_slice(&5000u64.to_le_bytes()); // size
        b[24..32].copy_from_slice(&9u64.to_le_bytes()); // lock_owner
        b[40..48].copy_from_slice(&1234u64.to_le_bytes()); // mtime
        b[60..64].copy_from_slice(&77u32.to_le_bytes()); // mtimensec
        b[68..72].copy_from_slice(&0o100600u32.to_le_bytes()); // mode
        b[76..80].copy_from_slice(&1000u32.to_le_bytes()); // uid
        b[80..84].copy_from_slice(&100u32.to_le_bytes()); // gid
        let s = SetattrIn::decode(&b).unwrap();
        assert_eq!(s.valid, fattr::SIZE | fattr::MODE);
        assert_eq!((s.fh, s.size, s.lock_owner), (3, 5000, 9));
        assert_eq!((s.mtime, s.mtimensec), (1234, 77));
        assert_eq!((s.mode, s.uid, s.gid), (0o100600, 1000, 100));
        assert_eq!(s.encode(), b);
        assert_eq!(SetattrIn::decode(&b[..80]), None);
    }

    #[test]
    fn write_in_layouts() {
        let w = WriteIn {
            fh: 1,
            offset: 4096,
            size: 3,
            write_flags: FUSE_WRITE_CACHE,
            lock_owner: 8,
            flags: 0o2,
        };
        let mut b = w.encode();
        b.extend_from_slice(b"abc");
        assert_eq!(at_u64(&b, 8), 4096);
        assert_eq!(at_u32(&b, 16), 3);
        assert_eq!(at_u32(&b, 20), 1);
        let (d, data) = WriteIn::decode(&b, 41).unwrap();
        assert_eq!(d, w);
        assert_eq!(data, b"abc");
        // Before 7.9 the data follows 24 bytes.
        let (d, data) = WriteIn::decode(&b, 8).unwrap();
        assert_eq!((d.offset, d.lock_owner), (4096, 0));
        assert_eq!(data.len(), 16 + 3);
        assert!(WriteIn::decode(&b[..30], 41).is_none());
    }

    #[test]
    fn small_requests_decode() {
        let r = ReadIn {
            fh: 1,
            offset: 4096,
            size: 8192,
            read_flags: FUSE_READ_LOCKOWNER,
            lock_owner: 5,
            flags: 0o100001,
        };
        assert_eq!(ReadIn::decode(&r.encode()), Some(r));
        assert_eq!(ReadIn::decode(&r.encode()[..20]), None);
        let c = CreateIn {
            flags: 0o101,
            mode: 0o100644,
            umask: 0o22,
            open_flags: 0,
            name: b"f".to_vec(),
        };
        assert_eq!(CreateIn::decode(&c.encode()), Some(c));
        let m = MknodIn {
            mode: 0o100644,
            rdev: 0,
            umask: 0o22,
            name: b"node".to_vec(),
        };
        assert_eq!(MknodIn::decode(&m.encode()), Some(m));
        assert!(MknodIn::decode(&[0; 8]).is_none());
        let f = FallocateIn {
            fh: 2,
            offset: 3,
            length: 4,
            mode: FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
        };
        assert_eq!(FallocateIn::decode(&f.encode()), Some(f));
        let cf = CopyFileRangeIn {
            fh_in: 1,
            off_in: 2,
            nodeid_out: 3,
            fh_out: 4,
            off_out: 5,
            len: 6,
            flags: 7,
        };
        let b = cf.encode();
        assert_eq!(at_u64(&b, 16), 3); // nodeid_out
        assert_eq!(at_u64(&b, 40), 6); // len
        assert_eq!(CopyFileRangeIn::decode(&b), Some(cf));
        let mut ls = Enc::default();
        ls.u64(7).u64(100).u32(SEEK_HOLE).u32(0);
        assert_eq!(lseek_in(&ls.0), Some((7, 100, SEEK_HOLE)));
        let mut bf = Enc::default();
        bf.u32(3).u32(0).u64(5).u64(1).u64(6).u64(2);
        // Count says 3, only 2 are present.
        assert_eq!(batch_forget_in(&bf.0), Some((3, vec![(5, 1), (6, 2)])));
        let mut fl = Enc::default();
        fl.u64(4).u32(0).u32(0).u64(0xabc);
        assert_eq!(flush_in(&fl.0), Some((4, 0xabc)));
        let mut rel = Enc::default();
        rel.u64(4).u32(1).u32(FUSE_RELEASE_FLUSH).u64(9);
        assert_eq!(
            ReleaseIn::decode(&rel.0),
            Some(ReleaseIn {
                fh: 4,
                flags: 1,
                release_flags: FUSE_RELEASE_FLUSH,
                lock_owner: 9
            })
        );
        let mut fs = Enc::default();
        fs.u64(4).u32(FUSE_FSYNC_FDATASYNC).u32(0);
        assert_eq!(fsync_in(&fs.0), Some((4, 1)));
        let mut ga = Enc::default();
        ga.u32(FUSE_GETATTR_FH).u32(0).u64(12);
        assert_eq!(getattr_in(&ga.0), Some((1, 12)));
        assert_eq!(interrupt_in(&77u64.to_le_bytes()), Some(77));
        assert_eq!(forget_in(&3u64.to_le_bytes()), Some(3));
        assert_eq!(access_in(&[4, 0, 0, 0, 0, 0, 0, 0]), Some(4));
        assert_eq!(open_in(&[1, 0, 0, 0, 0, 0, 0, 0]), Some((1, 0)));
    }

    #[test]
    fn dirents_are_padded() {
        let d = dirent(5, 1, DT_REG, b"abc");
        assert_eq!(d.len(), 32);
        assert_eq!(at_u64(&d, 0), 5);
        assert_eq!(at_u64(&d, 8), 1);
        assert_eq!(at_u32(&d, 16), 3);
        assert_eq!(at_u32(&d, 20), DT_REG);
        assert_eq!(&d[24..27], b"abc");
        assert!(d[27..].iter().all(|&x| x == 0));
        assert_eq!(dirent(1, 1, DT_DIR, b"12345678").len(), 32);
        assert_eq!(dirent(1, 1, DT_DIR, b"123456789").len(), 40);
        // A lying namelen is written as given.
        let bad = dirent_raw(1, 1, 200, DT_REG, b"abcdefgh");
        assert_eq!(bad.len(), 32);
        assert_eq!(at_u32(&bad, 16), 200);
    }

    #[test]
    fn xattr_args() {
        let s = SetxattrIn {
            size: 3,
            flags: 1,
            setxattr_flags: FUSE_SETXATTR_ACL_KILL_SGID,
            name: b"user.a".to_vec(),
            value: b"xyz".to_vec(),
        };
        let b = s.encode();
        assert_eq!(SetxattrIn::decode(&b, true), Some(s.clone()));
        // The old 8-byte form: no setxattr_flags.
        let mut old = b[..8].to_vec();
        old.extend_from_slice(&b[16..]);
        let d = SetxattrIn::decode(&old, false).unwrap();
        assert_eq!((d.setxattr_flags, d.name, d.value), (0, s.name, s.value));
        // A value shorter than its size is malformed.
        assert_eq!(SetxattrIn::decode(&b[..b.len() - 1], true), None);
        assert_eq!(
            getxattr_in(b"\x10\0\0\0\0\0\0\0user.a\0"),
            Some((16, &b"user.a"[..]))
        );
        assert_eq!(getxattr_in(&[0; 8]), Some((0, &b""[..])));
        assert_eq!(getxattr_in(&[0; 7]), None);
        assert_eq!(getxattr_out(7), [7, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn opcode_names() {
        assert_eq!(opcode::name(opcode::WRITE), "WRITE");
        assert_eq!(opcode::name(opcode::COPY_FILE_RANGE), "COPY_FILE_RANGE");
        assert_eq!(opcode::name(52), "STATX");
        assert_eq!(opcode::name(4096), "OP4096");
    }
}
