//! The passthrough filesystem: every FUSE inode is an `O_PATH` descriptor of
//! a backing file, every FUSE file handle an open backing file.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, FileExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyLock, ReplyLseek,
    ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::cli::Options;
use crate::stats::Stats;

/// Attribute and entry timeout given to the kernel.
pub(crate) const TTL: Duration = Duration::from_secs(1);

type Result<T> = std::result::Result<T, Errno>;

/// The errno of an I/O error (EIO if it has none).
fn errno(e: io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The errno of the last failed libc call.
fn last_errno() -> Errno {
    errno(io::Error::last_os_error())
}

/// Checks a libc return value (`-1` means failure, errno set).
fn cvt<T: PartialEq + From<i8>>(r: T) -> Result<T> {
    if r == T::from(-1) {
        Err(last_errno())
    } else {
        Ok(r)
    }
}

fn cstr(name: &OsStr) -> Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)
}

/// `/proc/self/fd/N`: reopens or names the file behind an `O_PATH` descriptor.
fn proc_path(fd: RawFd) -> CString {
    // A decimal number never contains a NUL byte.
    CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default()
}

/// `fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`.
fn stat_fd(fd: RawFd) -> Result<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value; the kernel fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid C string and out pointer.
    cvt(unsafe {
        libc::fstatat(
            fd,
            c"".as_ptr(),
            &mut st,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

fn kind_of(mode: libc::mode_t) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    let d = Duration::new(sec.unsigned_abs(), nsec.clamp(0, 999_999_999) as u32);
    if sec >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + Duration::new(0, d.subsec_nanos())
    }
}

fn attr(ino: u64, st: &libc::stat) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind: kind_of(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    let (tv_sec, tv_nsec) = match t {
        None => (0, libc::UTIME_OMIT),
        Some(TimeOrNow::Now) => (0, libc::UTIME_NOW),
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
            Err(e) => {
                let d = e.duration();
                let (mut s, mut ns) = (-(d.as_secs() as i64), -i64::from(d.subsec_nanos()));
                if ns < 0 {
                    s -= 1;
                    ns += 1_000_000_000;
                }
                (s, ns)
            }
        },
    };
    libc::timespec { tv_sec, tv_nsec }
}

/// Open flags for the backing file of a FUSE open/create: write-only becomes
/// read-write (a write-back kernel may READ on such a handle to fill a page),
/// `O_APPEND` is dropped (the kernel sends the offset of every WRITE), and so
/// is `O_DIRECT`: the kernel has already done the direct I/O part (bypassing
/// its page cache), while the server reads and writes through buffers with
/// no alignment, which an `O_DIRECT` backing file refuses (EINVAL).
pub fn backing_open_flags(flags: i32) -> i32 {
    let mut f =
        flags & !(libc::O_APPEND | libc::O_DIRECT | libc::O_NOCTTY | libc::O_CREAT | libc::O_EXCL);
    if f & libc::O_ACCMODE == libc::O_WRONLY {
        f = (f & !libc::O_ACCMODE) | libc::O_RDWR;
    }
    f | libc::O_CLOEXEC
}

/// One FUSE inode.
struct Node {
    /// `O_PATH | O_NOFOLLOW` descriptor of the backing file.
    fd: Arc<OwnedFd>,
    /// Backing (st_dev, st_ino), to find the node again on the next lookup.
    key: (u64, u64),
    /// Lookups the kernel holds (one per entry reply, minus FORGETs).
    nlookup: u64,
}

struct Inodes {
    nodes: HashMap<u64, Node>,
    by_key: HashMap<(u64, u64), u64>,
    next: u64,
}

/// A directory stream: a snapshot of the entries, taken at OPENDIR and again
/// whenever READDIR restarts at offset 0.
struct Dir {
    file: File,
    entries: Vec<(u64, FileType, Vec<u8>)>,
}

/// The passthrough filesystem.
pub struct RefFs {
    opts: Options,
    inodes: Mutex<Inodes>,
    files: Mutex<HashMap<u64, Arc<File>>>,
    dirs: Mutex<HashMap<u64, Dir>>,
    next_fh: AtomicU64,
    stats: Arc<Mutex<Stats>>,
    /// Whether new files get the caller's uid/gid (only possible as root).
    chown_new: bool,
    /// With `--locks`: one open file description of the backing file per
    /// (inode, lock owner), holding that owner's locks as OFD locks.
    lock_fds: Mutex<HashMap<(u64, u64), Arc<OwnedFd>>>,
}

/// Locks `m`, whatever a panicking holder left behind.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RefFs {
    /// Opens the backing directory `source` as the root inode.
    pub fn new(source: &Path, opts: Options, stats: Arc<Mutex<Stats>>) -> io::Result<Self> {
        let root = CString::new(source.as_os_str().as_bytes())?;
        // SAFETY: valid C string.
        let fd = unsafe {
            libc::open(
                root.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = stat_fd(fd.as_raw_fd()).map_err(|e| io::Error::from_raw_os_error(e.code()))?;
        let key = (st.st_dev, st.st_ino);
        let mut inodes = Inodes {
            nodes: HashMap::new(),
            by_key: HashMap::new(),
            next: 2,
        };
        inodes.nodes.insert(
            1,
            Node {
                fd: Arc::new(fd),
                key,
                nlookup: 1,
            },
        );
        inodes.by_key.insert(key, 1);
        // SAFETY: geteuid cannot fail.
        let chown_new = unsafe { libc::geteuid() } == 0;
        Ok(Self {
            opts,
            inodes: Mutex::new(inodes),
            files: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            stats,
            chown_new,
            lock_fds: Mutex::new(HashMap::new()),
        })
    }

    /// The open file description that holds `owner`'s locks on `ino`.
    fn lock_fd(&self, ino: INodeNo, owner: LockOwner) -> Result<Arc<OwnedFd>> {
        if let Some(fd) = lock(&self.lock_fds).get(&(ino.0, owner.0)) {
            return Ok(fd.clone());
        }
        let path = CString::new(format!("/proc/self/fd/{}", self.node_fd(ino)?.as_raw_fd()))
            .map_err(|_| Errno::EINVAL)?;
        // Write locks need a writable descriptor, read locks a readable one.
        let mut fd = -1;
        for mode in [libc::O_RDWR, libc::O_RDONLY, libc::O_WRONLY] {
            // SAFETY: valid C string.
            fd = unsafe { libc::open(path.as_ptr(), mode | libc::O_CLOEXEC | libc::O_NOCTTY) };
            if fd >= 0 {
                break;
            }
        }
        let fd = cvt(fd)?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        lock(&self.lock_fds).insert((ino.0, owner.0), fd.clone());
        Ok(fd)
    }

    /// Drops `owner`'s locks on `ino` (closing its open file description).
    fn unlock_all(&self, ino: INodeNo, owner: LockOwner) {
        lock(&self.lock_fds).remove(&(ino.0, owner.0));
    }

    /// Waits `--random-delay-us`, then counts one request of `op`. The first
    /// thing every request handler does, except READ, WRITE, READLINK and
    /// COPY_FILE_RANGE (they wait first and count when they know the size).
    fn note(&self, op: &'static str, bytes: u64) {
        random_delay(&self.opts);
        lock(&self.stats).record(op, bytes);
    }

    fn node_fd(&self, ino: INodeNo) -> Result<Arc<OwnedFd>> {
        lock(&self.inodes)
            .nodes
            .get(&ino.0)
            .map(|n| n.fd.clone())
            .ok_or(Errno::ESTALE)
    }

    fn file(&self, fh: FileHandle) -> Result<Arc<File>> {
        lock(&self.files).get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn new_fh(&self) -> u64 {
        self.next_fh.fetch_add(1, Ordering::Relaxed)
    }

    /// Looks `name` up in `parent` and takes one lookup reference on its node.
    fn do_lookup(&self, parent: INodeNo, name: &OsStr) -> Result<FileAttr> {
        let pfd = self.node_fd(parent)?;
        let c = cstr(name)?;
        // SAFETY: valid descriptor and C string.
        let fd = cvt(unsafe {
            libc::openat(
                pfd.as_raw_fd(),
                c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = stat_fd(fd.as_raw_fd())?;
        let key = (st.st_dev, st.st_ino);
        let mut inodes = lock(&self.inodes);
        let ino = match inodes.by_key.get(&key).copied() {
            Some(ino) => {
                if let Some(n) = inodes.nodes.get_mut(&ino) {
                    n.nlookup += 1;
                }
                ino
            }
            None => {
                let ino = inodes.next;
                inodes.next += 1;
                inodes.nodes.insert(
                    ino,
                    Node {
                        fd: Arc::new(fd),
                        key,
                        nlookup: 1,
                    },
                );
                inodes.by_key.insert(key, ino);
                ino
            }
        };
        Ok(attr(ino, &st))
    }

    fn do_forget(&self, ino: u64, n: u64) {
        if ino == 1 {
            return;
        }
        let mut inodes = lock(&self.inodes);
        let gone = match inodes.nodes.get_mut(&ino) {
            Some(node) => {
                node.nlookup = node.nlookup.saturating_sub(n);
                (node.nlookup == 0).then_some(node.key)
            }
            None => None,
        };
        if let Some(key) = gone {
            inodes.nodes.remove(&ino);
            inodes.by_key.remove(&key);
        }
    }

    /// Gives a node the caller just created to the caller (when run as root).
    fn chown_new(&self, req: &Request, pfd: RawFd, name: &CString) -> Result<()> {
        if self.chown_new {
            // SAFETY: valid descriptor and C string.
            cvt(unsafe {
                libc::fchownat(
                    pfd,
                    name.as_ptr(),
                    req.uid(),
                    req.gid(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })?;
        }
        Ok(())
    }

    fn getattr_inner(&self, ino: INodeNo, fh: Option<FileHandle>) -> Result<FileAttr> {
        let st = match fh.and_then(|fh| self.file(fh).ok()) {
            Some(f) => stat_fd(f.as_raw_fd())?,
            None => stat_fd(self.node_fd(ino)?.as_raw_fd())?,
        };
        Ok(attr(ino.0, &st))
    }

    #[allow(clippy::too_many_arguments)]
    fn setattr_inner(
        &self,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<FileHandle>,
    ) -> Result<FileAttr> {
        let nfd = self.node_fd(ino)?;
        let file = fh.and_then(|fh| self.file(fh).ok());
        let path = proc_path(nfd.as_raw_fd());
        if let Some(mode) = mode {
            // SAFETY: valid descriptor / C string.
            cvt(unsafe {
                match &file {
                    Some(f) => libc::fchmod(f.as_raw_fd(), mode),
                    None => libc::chmod(path.as_ptr(), mode),
                }
            })?;
        }
        if uid.is_some() || gid.is_some() {
            // `u32::MAX` (-1) leaves the id unchanged.
            // SAFETY: valid descriptor and C string.
            cvt(unsafe {
                libc::fchownat(
                    nfd.as_raw_fd(),
                    c"".as_ptr(),
                    uid.unwrap_or(u32::MAX),
                    gid.unwrap_or(u32::MAX),
                    libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
                )
            })?;
        }
        if let Some(size) = size {
            let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
            // SAFETY: valid descriptor / C string.
            cvt(unsafe {
                match &file {
                    Some(f) => libc::ftruncate(f.as_raw_fd(), size),
                    None => libc::truncate(path.as_ptr(), size),
                }
            })?;
        }
        if atime.is_some() || mtime.is_some() {
            let ts = [timespec(atime), timespec(mtime)];
            // SAFETY: valid descriptor / C string and a two-element array.
            cvt(unsafe {
                match &file {
                    Some(f) => libc::futimens(f.as_raw_fd(), ts.as_ptr()),
                    None => libc::utimensat(libc::AT_FDCWD, path.as_ptr(), ts.as_ptr(), 0),
                }
            })?;
        }
        Ok(attr(ino.0, &stat_fd(nfd.as_raw_fd())?))
    }

    fn read_dir(&self, file: &File) -> Result<Vec<(u64, FileType, Vec<u8>)>> {
        let path = Path::new(OsStr::from_bytes(proc_path(file.as_raw_fd()).as_bytes())).to_owned();
        let mut out = vec![
            (1, FileType::Directory, b".".to_vec()),
            (1, FileType::Directory, b"..".to_vec()),
        ];
        for e in std::fs::read_dir(path).map_err(errno)? {
            let e = e.map_err(errno)?;
            let kind = e
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            out.push((e.ino(), kind, e.file_name().as_bytes().to_vec()));
        }
        Ok(out)
    }

    fn open_inner(&self, ino: INodeNo, flags: i32) -> Result<u64> {
        let nfd = self.node_fd(ino)?;
        let path = proc_path(nfd.as_raw_fd());
        let bflags = backing_open_flags(flags);
        // SAFETY: valid C string.
        let mut fd = unsafe { libc::open(path.as_ptr(), bflags) };
        if fd < 0 && bflags & libc::O_ACCMODE != flags & libc::O_ACCMODE {
            // Read-write refused (a write-only file for a non-root server):
            // fall back to what the kernel asked for.
            // SAFETY: valid C string.
            fd = unsafe { libc::open(path.as_ptr(), bflags & !libc::O_ACCMODE | libc::O_WRONLY) };
        }
        let fd = cvt(fd)?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let file = unsafe { File::from_raw_fd(fd) };
        let fh = self.new_fh();
        lock(&self.files).insert(fh, Arc::new(file));
        Ok(fh)
    }

    fn create_inner(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64)> {
        let pfd = self.node_fd(parent)?;
        let c = cstr(name)?;
        let bflags = backing_open_flags(flags) | libc::O_CREAT | (flags & libc::O_EXCL);
        // SAFETY: valid descriptor and C string.
        let fd = cvt(unsafe { libc::openat(pfd.as_raw_fd(), c.as_ptr(), bflags, mode) })?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let file = unsafe { File::from_raw_fd(fd) };
        self.chown_new(req, pfd.as_raw_fd(), &c)?;
        let attr = self.do_lookup(parent, name)?;
        let fh = self.new_fh();
        lock(&self.files).insert(fh, Arc::new(file));
        Ok((attr, fh))
    }

    fn read_inner(&self, fh: FileHandle, offset: u64, size: u32) -> Result<Vec<u8>> {
        let f = self.file(fh)?;
        let mut buf = vec![0u8; size as usize];
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(errno(e)),
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// Runs `f` on the backing directory of `parent` and the C name, then
    /// replies with the entry for `name`.
    fn make_node(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        f: impl FnOnce(RawFd, &CString) -> libc::c_int,
        reply: ReplyEntry,
    ) {
        let res = (|| {
            let pfd = self.node_fd(parent)?;
            let c = cstr(name)?;
            cvt(f(pfd.as_raw_fd(), &c))?;
            self.chown_new(req, pfd.as_raw_fd(), &c)?;
            self.do_lookup(parent, name)
        })();
        match res {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn remove(&self, parent: INodeNo, name: &OsStr, flags: libc::c_int) -> Result<()> {
        let pfd = self.node_fd(parent)?;
        let c = cstr(name)?;
        // SAFETY: valid descriptor and C string.
        cvt(unsafe { libc::unlinkat(pfd.as_raw_fd(), c.as_ptr(), flags) })?;
        Ok(())
    }
}

/// The `struct flock` of a FUSE lock `start..=end` (`end` `OFFSET_MAX`: to
/// end of file).
fn flock_of(typ: i32, start: u64, end: u64) -> libc::flock {
    // SAFETY: all-zero is a valid `struct flock`.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = typ as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = i64::try_from(start).unwrap_or(i64::MAX);
    fl.l_len = if end >= i64::MAX as u64 {
        0
    } else {
        i64::try_from(end - start + 1).unwrap_or(0)
    };
    fl
}

/// The FUSE range `start..=end` of a `struct flock` from F_OFD_GETLK.
fn range_of(fl: &libc::flock) -> (u64, u64) {
    let start = u64::try_from(fl.l_start).unwrap_or(0);
    let end = if fl.l_len <= 0 {
        i64::MAX as u64
    } else {
        start.saturating_add(fl.l_len as u64 - 1)
    };
    (start, end)
}

/// The INIT answer of both back ends: write-back if asked for and
/// offered, and `--max-write` (or the nearest value the kernel accepts).
pub(crate) fn configure(opts: &Options, config: &mut KernelConfig) {
    if opts.writeback {
        if let Err(missing) = config.add_capabilities(InitFlags::FUSE_WRITEBACK_CACHE) {
            eprintln!("fusewb-refserver: kernel does not offer {missing:?}; write-through");
        }
    }
    if opts.cache_symlinks {
        if let Err(missing) = config.add_capabilities(InitFlags::FUSE_CACHE_SYMLINKS) {
            eprintln!("fusewb-refserver: kernel does not offer {missing:?}; symlinks uncached");
        }
    }
    if let Err(nearest) = config.set_max_write(opts.max_write) {
        eprintln!(
            "fusewb-refserver: max_write {} refused, using {nearest}",
            opts.max_write
        );
        let _ = config.set_max_write(nearest);
    }
}

pub(crate) fn empty(reply: ReplyEmpty, r: Result<()>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

/// Answers a READ of both back ends, counting the bytes read.
pub(crate) fn data(stats: &Mutex<Stats>, reply: ReplyData, r: Result<Vec<u8>>) {
    match r {
        Ok(b) => {
            lock(stats).record("READ", b.len() as u64);
            reply.data(&b)
        }
        Err(e) => {
            lock(stats).record("READ", 0);
            reply.error(e)
        }
    }
}

/// The next number of the `--random-delay-us` generator: splitmix64 over
/// an atomic counter seeded (on first use) from the process id, so it needs
/// no lock and differs from run to run.
fn delay_rng() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed =
        *SEED.get_or_init(|| u64::from(std::process::id()).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut z = seed.wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniformly distributed duration in `0..=max`, whole microseconds.
pub(crate) fn random_duration(max: Duration, r: u64) -> Duration {
    let max_us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
    match max_us.checked_add(1) {
        Some(n) => Duration::from_micros(r % n),
        None => Duration::from_micros(r),
    }
}

/// `--random-delay-us MAX`: sleeps a random 0..=MAX µs (nothing when MAX is
/// zero). Called at the start of every request of both back ends.
pub(crate) fn random_delay(opts: &Options) {
    if !opts.random_delay.is_zero() {
        let d = random_duration(opts.random_delay, delay_rng());
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

/// What both back ends do before storing a WRITE of `len` bytes: wait
/// `--random-delay-us`, count it and wait `--write-latency-us`. The WRITE
/// counts as in flight until the returned guard is dropped (after the
/// reply).
pub(crate) fn before_write<'a>(
    opts: &Options,
    stats: &'a Mutex<Stats>,
    len: usize,
) -> WriteInFlight<'a> {
    random_delay(opts);
    lock(stats).record_write(len as u64);
    let guard = WriteInFlight(stats);
    if !opts.write_latency.is_zero() {
        std::thread::sleep(opts.write_latency);
    }
    guard
}

/// A WRITE being served (see `before_write`).
pub(crate) struct WriteInFlight<'a>(&'a Mutex<Stats>);

impl Drop for WriteInFlight<'_> {
    fn drop(&mut self) {
        lock(self.0).write_done();
    }
}

impl Filesystem for RefFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        self.note("INIT", 0);
        configure(&self.opts, config);
        if self.opts.locks {
            let caps = InitFlags::FUSE_POSIX_LOCKS | InitFlags::FUSE_FLOCK_LOCKS;
            if let Err(missing) = config.add_capabilities(caps) {
                eprintln!("fusewb-refserver: kernel does not offer {missing:?}; local locks");
            }
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.note("LOOKUP", 0);
        match self.do_lookup(parent, name) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.note("FORGET", 0);
        self.do_forget(ino.0, nlookup);
    }

    // BATCH_FORGET: fuser 0.18.0 keeps `ForgetOne` private, so its default
    // `batch_forget` (one `forget` call per node) is used; each node of a
    // batch is counted as a FORGET in the statistics.

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        self.note("GETATTR", 0);
        match self.getattr_inner(ino, fh) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.note("SETATTR", 0);
        match self.setattr_inner(ino, mode, uid, gid, size, atime, mtime, fh) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        random_delay(&self.opts);
        let res = (|| {
            let nfd = self.node_fd(ino)?;
            let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
            // SAFETY: valid descriptor, C string and buffer.
            let n = cvt(unsafe {
                libc::readlinkat(
                    nfd.as_raw_fd(),
                    c"".as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            })?;
            buf.truncate(n as usize);
            Ok(buf)
        })();
        match res {
            Ok(b) => {
                lock(&self.stats).record("READLINK", b.len() as u64);
                reply.data(&b)
            }
            Err(e) => {
                lock(&self.stats).record("READLINK", 0);
                reply.error(e)
            }
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        self.note("MKNOD", 0);
        self.make_node(
            req,
            parent,
            name,
            // SAFETY: valid descriptor and C string.
            |pfd, c| unsafe { libc::mknodat(pfd, c.as_ptr(), mode, libc::dev_t::from(rdev)) },
            reply,
        );
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        self.note("MKDIR", 0);
        self.make_node(
            req,
            parent,
            name,
            // SAFETY: valid descriptor and C string.
            |pfd, c| unsafe { libc::mkdirat(pfd, c.as_ptr(), mode) },
            reply,
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note("UNLINK", 0);
        empty(reply, self.remove(parent, name, 0));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note("RMDIR", 0);
        empty(reply, self.remove(parent, name, libc::AT_REMOVEDIR));
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        self.note("SYMLINK", 0);
        let Ok(t) = cstr(target.as_os_str()) else {
            return reply.error(Errno::EINVAL);
        };
        self.make_node(
            req,
            parent,
            link_name,
            // SAFETY: valid descriptor and C strings.
            |pfd, c| unsafe { libc::symlinkat(t.as_ptr(), pfd, c.as_ptr()) },
            reply,
        );
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        self.note(
            if flags.bits() == 0 {
                "RENAME"
            } else {
                "RENAME2"
            },
            0,
        );
        let res = (|| {
            let (pfd, npfd) = (self.node_fd(parent)?, self.node_fd(newparent)?);
            let (c, nc) = (cstr(name)?, cstr(newname)?);
            // RENAME_NOREPLACE, RENAME_EXCHANGE and RENAME_WHITEOUT as the
            // kernel passes them; the backing filesystem decides.
            // SAFETY: valid descriptors and C strings.
            cvt(unsafe {
                libc::renameat2(
                    pfd.as_raw_fd(),
                    c.as_ptr(),
                    npfd.as_raw_fd(),
                    nc.as_ptr(),
                    flags.bits(),
                )
            })?;
            Ok(())
        })();
        empty(reply, res);
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        self.note("LINK", 0);
        let res = (|| {
            let nfd = self.node_fd(ino)?;
            let npfd = self.node_fd(newparent)?;
            let nc = cstr(newname)?;
            let path = proc_path(nfd.as_raw_fd());
            // SAFETY: valid descriptors and C strings.
            cvt(unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    npfd.as_raw_fd(),
                    nc.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            })?;
            self.do_lookup(newparent, newname)
        })();
        match res {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.note("OPEN", 0);
        match self.open_inner(ino, flags.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        random_delay(&self.opts);
        data(&self.stats, reply, self.read_inner(fh, offset, size));
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let _in_flight = before_write(&self.opts, &self.stats, data.len());
        let res = self
            .file(fh)
            .and_then(|f| f.write_all_at(data, offset).map_err(errno));
        match res {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.note("FLUSH", 0);
        // A close drops its process's POSIX locks on the file.
        self.unlock_all(ino, lock_owner);
        // As close(2) on the backing file would: report its deferred errors.
        let res = self.file(fh).and_then(|f| {
            // SAFETY: `f` is an open descriptor.
            let d = cvt(unsafe { libc::dup(f.as_raw_fd()) })?;
            // SAFETY: `d` is ours to close.
            cvt(unsafe { libc::close(d) })?;
            Ok(())
        });
        empty(reply, res);
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.note("RELEASE", 0);
        // FUSE_RELEASE_FLOCK_UNLOCK: the file's flock locks end with it.
        if let Some(owner) = lock_owner {
            self.unlock_all(ino, owner);
        }
        lock(&self.files).remove(&fh.0);
        reply.ok();
    }

    fn getlk(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        _pid: u32,
        reply: ReplyLock,
    ) {
        self.note("GETLK", 0);
        let res = self.lock_fd(ino, lock_owner).and_then(|fd| {
            let mut fl = flock_of(typ, start, end);
            // SAFETY: valid descriptor and `struct flock`.
            cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) })?;
            Ok(fl)
        });
        match res {
            Ok(fl) if i32::from(fl.l_type) == libc::F_UNLCK => {
                reply.locked(start, end, libc::F_UNLCK, 0)
            }
            Ok(fl) => {
                let (s, e) = range_of(&fl);
                // OFD locks have no process: the holder's pid is unknown (0).
                reply.locked(s, e, i32::from(fl.l_type), 0)
            }
            Err(e) => reply.error(e),
        }
    }

    fn setlk(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        _pid: u32,
        sleep: bool,
        reply: ReplyEmpty,
    ) {
        self.note(if sleep { "SETLKW" } else { "SETLK" }, 0);
        let fd = match self.lock_fd(ino, lock_owner) {
            Ok(fd) => fd,
            Err(e) => return reply.error(e),
        };
        let fl = flock_of(typ, start, end);
        if !sleep {
            // SAFETY: valid descriptor and `struct flock`.
            let r = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &fl) });
            return empty(reply, r.map(|_| ()));
        }
        // A waiting lock must not stop the server: wait in a thread of its
        // own, which answers when the lock is granted.
        std::thread::spawn(move || {
            // SAFETY: valid descriptor (kept by the thread) and `struct flock`.
            let r = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLKW, &fl) });
            empty(reply, r.map(|_| ()));
        });
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.note("FSYNC", 0);
        let res = self.file(fh).and_then(|f| {
            if datasync {
                f.sync_data()
            } else {
                f.sync_all()
            }
            .map_err(errno)
        });
        empty(reply, res);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.note("OPENDIR", 0);
        let res = (|| {
            let nfd = self.node_fd(ino)?;
            let path = proc_path(nfd.as_raw_fd());
            // SAFETY: valid C string.
            let fd = cvt(unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            })?;
            // SAFETY: `fd` was just opened and is owned by nobody else.
            let file = unsafe { File::from_raw_fd(fd) };
            let entries = self.read_dir(&file)?;
            let fh = self.new_fh();
            lock(&self.dirs).insert(fh, Dir { file, entries });
            Ok(fh)
        })();
        match res {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.note("READDIR", 0);
        let mut dirs = lock(&self.dirs);
        let Some(dir) = dirs.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        if offset == 0 {
            match self.read_dir(&dir.file) {
                Ok(e) => dir.entries = e,
                Err(e) => return reply.error(e),
            }
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (ino, kind, name)) in dir.entries.iter().enumerate().skip(start) {
            if reply.add(INodeNo(*ino), i as u64 + 1, *kind, OsStr::from_bytes(name)) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.note("RELEASEDIR", 0);
        lock(&self.dirs).remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.note("FSYNCDIR", 0);
        let res = match lock(&self.dirs).get(&fh.0) {
            Some(d) => d.file.sync_all().map_err(errno),
            None => Err(Errno::EBADF),
        };
        empty(reply, res);
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        self.note("STATFS", 0);
        let res = (|| {
            let nfd = self.node_fd(ino).or_else(|_| self.node_fd(INodeNo(1)))?;
            // SAFETY: an all-zero `statvfs` is valid; the kernel fills it.
            let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: valid descriptor and out pointer.
            cvt(unsafe { libc::fstatvfs(nfd.as_raw_fd(), &mut s) })?;
            Ok(s)
        })();
        match res {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                s.f_namemax as u32,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        self.note("ACCESS", 0);
        let res = self.node_fd(ino).and_then(|nfd| {
            let path = proc_path(nfd.as_raw_fd());
            // SAFETY: valid C string.
            cvt(unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), mask.bits(), 0) })?;
            Ok(())
        });
        empty(reply, res);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        self.note("CREATE", 0);
        match self.create_inner(req, parent, name, mode, flags) {
            Ok((a, fh)) => {
                reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::empty())
            }
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.note("FALLOCATE", 0);
        let res = self.file(fh).and_then(|f| {
            let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
            let len = i64::try_from(length).map_err(|_| Errno::EINVAL)?;
            // SAFETY: valid descriptor.
            cvt(unsafe { libc::fallocate(f.as_raw_fd(), mode, off, len) })?;
            Ok(())
        });
        empty(reply, res);
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        self.note("LSEEK", 0);
        let res = self.file(fh).and_then(|f| {
            // SAFETY: valid descriptor (shared offset is unused: I/O is positional).
            cvt(unsafe { libc::lseek(f.as_raw_fd(), offset, whence) })
        });
        match res {
            Ok(o) => reply.offset(o),
            Err(e) => reply.error(e),
        }
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        _ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        random_delay(&self.opts);
        let res = (|| {
            let (fin, fout) = (self.file(fh_in)?, self.file(fh_out)?);
            let mut off_in = i64::try_from(offset_in).map_err(|_| Errno::EINVAL)?;
            let mut off_out = i64::try_from(offset_out).map_err(|_| Errno::EINVAL)?;
            // The reply carries a u32 count.
            let len = len.min(1 << 30) as usize;
            // SAFETY: valid descriptors and offset pointers.
            let n = cvt(unsafe {
                libc::copy_file_range(
                    fin.as_raw_fd(),
                    &mut off_in,
                    fout.as_raw_fd(),
                    &mut off_out,
                    len,
                    0,
                )
            })?;
            Ok(n as u32)
        })();
        match res {
            Ok(n) => {
                lock(&self.stats).record("COPY_FILE_RANGE", u64::from(n));
                reply.written(n)
            }
            Err(e) => {
                lock(&self.stats).record("COPY_FILE_RANGE", 0);
                reply.error(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_for_backing_files() {
        assert_eq!(
            backing_open_flags(libc::O_WRONLY | libc::O_APPEND),
            libc::O_RDWR | libc::O_CLOEXEC
        );
        assert_eq!(
            backing_open_flags(libc::O_RDONLY),
            libc::O_RDONLY | libc::O_CLOEXEC
        );
        assert_eq!(
            backing_open_flags(libc::O_RDONLY | libc::O_DIRECT),
            libc::O_RDONLY | libc::O_CLOEXEC
        );
        assert_eq!(
            backing_open_flags(libc::O_RDWR | libc::O_TRUNC | libc::O_CREAT | libc::O_EXCL),
            libc::O_RDWR | libc::O_TRUNC | libc::O_CLOEXEC
        );
    }

    #[test]
    fn random_delays_stay_in_range() {
        let max = Duration::from_micros(7);
        let mut seen = [false; 8];
        for _ in 0..1000 {
            let d = random_duration(max, delay_rng());
            assert!(d <= max, "{d:?}");
            seen[d.as_micros() as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
        assert_eq!(random_duration(Duration::ZERO, 12345), Duration::ZERO);
        assert_eq!(
            random_duration(Duration::from_micros(u64::MAX), 5),
            Duration::from_micros(5)
        );
        // No sleep at all without the option.
        let opts = match crate::cli::parse(["--source", "/s", "/dev/fd/3"]) {
            Ok(crate::cli::Command::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            random_delay(&opts);
        }
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn time_conversion() {
        assert_eq!(time(1, 5), UNIX_EPOCH + Duration::new(1, 5));
        assert_eq!(
            time(-1, 500_000_000),
            UNIX_EPOCH - Duration::from_millis(500)
        );
        let ts = timespec(Some(TimeOrNow::SpecificTime(
            UNIX_EPOCH - Duration::from_millis(500),
        )));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (-1, 500_000_000));
        assert_eq!(timespec(None).tv_nsec, libc::UTIME_OMIT);
        assert_eq!(timespec(Some(TimeOrNow::Now)).tv_nsec, libc::UTIME_NOW);
    }
}
