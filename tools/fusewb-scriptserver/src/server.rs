//! Request dispatch, scripting and the log lines, as pure logic: the bytes
//! of one request go in; the request's log line, the reply to write (with
//! its log line and an optional delay) or the reason there is none come
//! out. All I/O is in `main.rs`.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};

use crate::fs::{self, Data, Fs, Kind, Node, Ts};
use crate::proto::{
    self, fattr, initflags, opcode, Attr, AttrOut, CopyFileRangeIn, CreateIn, EntryOut,
    FallocateIn, InHeader, InitIn, InitOut, Kstatfs, MknodIn, OpenOut, ReadIn, ReleaseIn,
    SetattrIn, WriteIn,
};

/// Largest `--max-write` (the read buffer holds it plus the headers).
pub const MAX_MAX_WRITE: u32 = 16 << 20;
/// Size reported on top of the real one by `stale-` files.
pub const STALE_EXTRA_SIZE: u64 = 1 << 20;
/// mtime reported by `stale-` files (2001-09-09).
pub const STALE_MTIME: u64 = 1_000_000_000;
/// Largest COPY_FILE_RANGE done in one request (the rest is left to the
/// caller: a short copy).
pub const MAX_COPY: u64 = 64 << 20;
/// WRITEs larger than this are cut in half by `short-` files.
pub const SHORT_THRESHOLD: u32 = 4096;

/// Command-line settings that shape the replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// entry_valid and attr_valid of every reply, in seconds.
    pub attr_timeout: u64,
    pub max_write: u32,
    pub max_pages: u16,
    pub time_gran: u32,
    /// Ask for FUSE_WRITEBACK_CACHE.
    pub writeback: bool,
    /// Ask for FUSE_ATOMIC_O_TRUNC.
    pub atomic_o_trunc: bool,
    /// Ask for FUSE_PARALLEL_DIROPS.
    pub parallel_dirops: bool,
    /// Ask for FUSE_HANDLE_KILLPRIV_V2 (suid/sgid are cleared where
    /// WRITE, SETATTR, OPEN or CREATE say so, whether or not it is).
    pub killpriv_v2: bool,
    /// Serve GETXATTR, SETXATTR, LISTXATTR and REMOVEXATTR (and ask for
    /// FUSE_SETXATTR_EXT); else they get ENOSYS.
    pub xattr: bool,
    /// Ask for FUSE_POSIX_ACL (implies `xattr`).
    pub posix_acl: bool,
    /// Ask for FUSE_DONT_MASK: CREATE and MKNOD apply the umask here.
    pub dont_mask: bool,
    /// Answer OPEN/CREATE with FOPEN_KEEP_CACHE.
    pub keep_cache: bool,
    /// Delay of WRITE replies for `slow-` files.
    pub slow_ms: u64,
    pub no_create: bool,
    pub no_flush: bool,
    pub no_fsync: bool,
    pub no_fallocate: bool,
    pub no_lseek: bool,
    pub no_copy_file_range: bool,
    pub no_tmpfile: bool,
    /// Every OPEN and CREATE answers the same handle ([`crate::fs::SAME_FH`]).
    pub same_fh: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            attr_timeout: 0,
            max_write: 1 << 20,
            max_pages: 256,
            time_gran: 1,
            writeback: false,
            atomic_o_trunc: false,
            parallel_dirops: false,
            killpriv_v2: false,
            xattr: false,
            posix_acl: false,
            dont_mask: false,
            keep_cache: false,
            slow_ms: 200,
            no_create: false,
            no_flush: false,
            no_fsync: false,
            no_fallocate: false,
            no_lseek: false,
            no_copy_file_range: false,
            no_tmpfile: false,
            same_fh: false,
        }
    }
}

/// What a file's name prefix makes the server do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Normal,
    /// WRITE > 4096 bytes: only the first half is written.
    Short,
    /// WRITE fails with EIO.
    Eio,
    /// WRITE fails with ENOSPC.
    Enospc,
    /// WRITE is answered after `--slow-ms`.
    Slow,
    /// GETATTR/LOOKUP report size + 1 MiB and mtime 2001.
    Stale,
    /// READ and WRITE are never answered.
    Hang,
    /// OPEN and CREATE answer FOPEN_DIRECT_IO.
    DirectIo,
    /// OPEN and CREATE answer FOPEN_KEEP_CACHE.
    KeepCache,
    /// COPY_FILE_RANGE from the file gets ENOSYS.
    NoCopy,
    /// SETATTR changing the size, OPEN and CREATE are applied and
    /// answered `--slow-ms` later, while the server goes on serving other
    /// requests (as a multi-threaded server would).
    Lazy,
    /// As `Lazy`, for SETATTR changing the size only.
    LazyTrunc,
    /// SETATTR that does not change the size is never answered.
    HangAttr,
    /// LOOKUP of the name is answered `--slow-ms` later, while the server
    /// goes on serving other requests.
    LazyLookup,
    /// GETXATTR of a `system.posix_acl_*` attribute answers a malformed
    /// ACL (version 2, then 2 bytes that are no entry).
    BadAcl,
    /// CREATE answers the mode it made, then the file gets S_ISUID, as if
    /// another client of the back end ran `chmod u+s` at once.
    SuidLater,
    /// LOOKUP of the name answers ENOENT though it exists, as if another
    /// client made it just after: the kernel then CREATEs over it.
    Ghost,
    /// READ is answered `--slow-ms` later, while the server goes on
    /// serving other requests (a RELEASE that overtakes it shows).
    LazyRead,
    /// WRITE (applied then) and FSYNC are answered `--slow-ms` later,
    /// while the server goes on serving other requests, as `LazyRead`.
    LazyWrite,
    /// FLUSH is answered `--slow-ms` later, as `LazyRead`.
    LazyFlush,
}

/// The scripts by name prefix, for the help text and `script_of`.
pub const SCRIPTS: &[(&str, Script)] = &[
    ("short-", Script::Short),
    ("eio-", Script::Eio),
    ("enospc-", Script::Enospc),
    ("slow-", Script::Slow),
    ("stale-", Script::Stale),
    ("hang-", Script::Hang),
    ("dio-", Script::DirectIo),
    ("keep-", Script::KeepCache),
    ("nocopy-", Script::NoCopy),
    ("lazy-", Script::Lazy),
    ("lazytrunc-", Script::LazyTrunc),
    ("hangattr-", Script::HangAttr),
    ("lazylookup-", Script::LazyLookup),
    ("badacl-", Script::BadAcl),
    ("suidlater-", Script::SuidLater),
    ("ghost-", Script::Ghost),
    ("lazyread-", Script::LazyRead),
    ("lazywrite-", Script::LazyWrite),
    ("lazyflush-", Script::LazyFlush),
];

pub fn script_of(name: &[u8]) -> Script {
    SCRIPTS
        .iter()
        .find(|(p, _)| name.starts_with(p.as_bytes()))
        .map_or(Script::Normal, |&(_, s)| s)
}

/// A name as a log token: printable ASCII except `\`, everything else
/// (space included) as `\xHH`.
pub fn esc(name: &[u8]) -> String {
    let mut s = String::with_capacity(name.len());
    for &b in name {
        if b.is_ascii_graphic() && b != b'\\' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// `RDONLY|APPEND|...`: the access mode and the interesting open flags.
pub fn oflags_names(flags: u32) -> String {
    let f = flags as i32;
    let mut s = String::from(match f & libc::O_ACCMODE {
        libc::O_RDONLY => "RDONLY",
        libc::O_WRONLY => "WRONLY",
        libc::O_RDWR => "RDWR",
        _ => "ACC3",
    });
    let names: [(i32, &str); 11] = [
        (libc::O_CREAT, "CREAT"),
        (libc::O_EXCL, "EXCL"),
        (libc::O_NOCTTY, "NOCTTY"),
        (libc::O_TRUNC, "TRUNC"),
        (libc::O_APPEND, "APPEND"),
        (libc::O_NONBLOCK, "NONBLOCK"),
        (libc::O_DIRECT, "DIRECT"),
        (libc::O_NOATIME, "NOATIME"),
        (libc::O_DIRECTORY, "DIRECTORY"),
        (libc::O_NOFOLLOW, "NOFOLLOW"),
        (libc::O_CLOEXEC, "CLOEXEC"),
    ];
    for (bit, name) in names {
        if f & bit != 0 {
            s.push('|');
            s.push_str(name);
        }
    }
    if f & libc::O_SYNC == libc::O_SYNC {
        s.push_str("|SYNC");
    } else if f & libc::O_DSYNC != 0 {
        s.push_str("|DSYNC");
    }
    s
}

/// The errnos the log names; any other is `E<n>`.
const NAMED_ERRNOS: &str = "EPERM ENOENT EINTR EIO EBADF EAGAIN ENOMEM EACCES EEXIST ENODEV \
    ENOTDIR EISDIR EINVAL EFBIG ENOSPC ENAMETOOLONG ENOSYS ENOTCONN ENXIO EPROTO EOPNOTSUPP \
    ECONNABORTED";

/// The symbolic name of a positive errno (`E<n>` if unlisted).
pub fn errno_name(e: i32) -> String {
    crate::proto::errno::name_if_listed(e, NAMED_ERRNOS)
        .map_or_else(|| format!("E{e}"), str::to_string)
}

/// A log line under construction: ` key=value` fields and bare words.
#[derive(Debug, Default, Clone)]
struct Fields(String);

impl Fields {
    fn kv(&mut self, k: &str, v: impl Display) -> &mut Self {
        let _ = write!(self.0, " {k}={v}");
        self
    }
    fn hex(&mut self, k: &str, v: u64) -> &mut Self {
        let _ = write!(self.0, " {k}={v:#x}");
        self
    }
    fn oct(&mut self, k: &str, v: u32) -> &mut Self {
        let _ = write!(self.0, " {k}=0{v:o}");
        self
    }
    fn word(&mut self, w: &str) -> &mut Self {
        self.0.push(' ');
        self.0.push_str(w);
        self
    }
    fn word_if(&mut self, cond: bool, w: &str) -> &mut Self {
        if cond {
            self.word(w);
        }
        self
    }
}

fn ts(sec: u64, nsec: u32) -> String {
    format!("{sec}.{nsec:09}")
}

/// The reply to write, with its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub bytes: Vec<u8>,
    /// Sleep this long before writing it (`slow-` files).
    pub delay_ms: u64,
    /// `REPLY unique=U error=E size=S op=OP ...`; main appends
    /// ` write_error=ERRNO` if the kernel refuses the write.
    pub line: String,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The request's log line.
    pub request_line: String,
    pub reply: Option<Pending>,
    /// For a request that expects a reply but gets none (`hang-`):
    /// `NOREPLY unique=U op=OP reason=hang ...`.
    pub noreply_line: Option<String>,
    /// Put off (`lazy-`): the caller hands the same bytes to
    /// [`Server::handle_deferred`] `--slow-ms` later.
    pub deferred: bool,
}

/// Counters for the exit summary.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub requests: u64,
    pub replies: u64,
    pub unanswered: u64,
    pub per_op: BTreeMap<String, u64>,
}

impl Stats {
    pub fn summary(&self, nodes: u64, handles: usize) -> String {
        let mut s = format!(
            "{} requests, {} replies, {} left unanswered, {nodes} nodes, {handles} open handles",
            self.requests, self.replies, self.unanswered
        );
        if !self.per_op.is_empty() {
            s.push_str(" (");
            let ops: Vec<String> = self
                .per_op
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            s.push_str(&ops.join(", "));
            s.push(')');
        }
        s
    }
}

/// How a request is answered.
enum Answer {
    /// Success with this payload.
    Ok(Vec<u8>),
    /// Failure with this positive errno.
    Err(i32),
    /// No reply at all (FORGET, INTERRUPT, or scripted `hang`).
    Nothing { hang: bool },
    /// Handled later (`lazy-`), see [`Outcome::deferred`].
    Defer,
}

/// Per-request state while it is handled.
struct Req {
    h: InHeader,
    /// The file the request is about (for `file=`).
    file: Option<Vec<u8>>,
    /// Op-specific fields of the request line.
    f: Fields,
    /// Extra fields of the REPLY line.
    r: Fields,
    /// `size=` of the REPLY line if not the payload length.
    size: Option<u64>,
    delay_ms: u64,
}

/// The server: options, filesystem, negotiated protocol.
#[derive(Debug)]
pub struct Server {
    opts: Options,
    pub fs: Fs,
    /// Negotiated minor version (41 until INIT says otherwise).
    minor: u32,
    /// INIT flags agreed on.
    agreed: u64,
    pub stats: Stats,
    /// Handling a deferred request now: no deferring again.
    replaying: bool,
}

impl Server {
    pub fn new(opts: Options, uid: u32, gid: u32) -> Server {
        let same_fh = opts.same_fh;
        Server {
            opts,
            fs: Fs::new(uid, gid).with_same_fh(same_fh),
            minor: proto::KERNEL_MINOR_VERSION,
            agreed: 0,
            stats: Stats::default(),
            replaying: false,
        }
    }

    /// Pre-creates `name` holding `size` bytes of the `--file` pattern.
    pub fn precreate(&mut self, name: &str, size: u64) -> Result<(), String> {
        let root = self.fs.node(fs::ROOT).map(|n| (n.uid, n.gid));
        let (uid, gid) = root.unwrap_or((0, 0));
        let id = self
            .fs
            .create_file(name.as_bytes(), 0o644, uid, gid)
            .map_err(|e| format!("cannot create '{name}': {}", errno_name(e)))?;
        if let Some(n) = self.fs.node_mut(id) {
            n.data = Data::pattern(size);
        }
        Ok(())
    }

    fn attr_of(&self, nodeid: u64, n: &Node, stale: bool) -> Attr {
        let mut a = Attr {
            ino: nodeid,
            size: n.data.size(),
            blocks: n.data.allocated_blocks() * (fs::BLOCK / 512),
            atime: n.atime.sec,
            mtime: n.mtime.sec,
            ctime: n.ctime.sec,
            atimensec: n.atime.nsec,
            mtimensec: n.mtime.nsec,
            ctimensec: n.ctime.nsec,
            mode: n.mode,
            nlink: match n.kind {
                Kind::Dir => 2,
                Kind::File => self.fs.links(nodeid),
            },
            uid: n.uid,
            gid: n.gid,
            rdev: 0,
            blksize: fs::BLOCK as u32,
            flags: 0,
        };
        if stale && n.kind == Kind::File && script_of(&n.name) == Script::Stale {
            a.size = a.size.saturating_add(STALE_EXTRA_SIZE);
            a.mtime = STALE_MTIME;
            a.mtimensec = 0;
        }
        a
    }

    fn entry_of(&self, nodeid: u64, stale: bool) -> Option<EntryOut> {
        let n = self.fs.node(nodeid)?;
        Some(EntryOut {
            nodeid,
            generation: 0,
            entry_valid: self.opts.attr_timeout,
            attr_valid: self.opts.attr_timeout,
            entry_valid_nsec: 0,
            attr_valid_nsec: 0,
            attr: self.attr_of(nodeid, n, stale),
        })
    }

    fn attr_out(&self, nodeid: u64, stale: bool) -> Option<AttrOut> {
        let n = self.fs.node(nodeid)?;
        Some(AttrOut {
            attr_valid: self.opts.attr_timeout,
            attr_valid_nsec: 0,
            attr: self.attr_of(nodeid, n, stale),
        })
    }

    /// Handles one request (the bytes returned by one read(2)).
    pub fn handle(&mut self, bytes: &[u8]) -> Outcome {
        let Some((h, arg)) = proto::split_request(bytes) else {
            return Outcome {
                request_line: format!("SHORT_REQUEST len={}", bytes.len()),
                reply: None,
                noreply_line: None,
                deferred: false,
            };
        };
        let op = opcode::name(h.opcode);
        self.stats.requests += 1;
        *self.stats.per_op.entry(op.to_string()).or_insert(0) += 1;
        let file = if h.nodeid == fs::ROOT {
            None
        } else {
            self.fs.node(h.nodeid).map(|n| n.name.clone())
        };
        let mut req = Req {
            h,
            file,
            f: Fields::default(),
            r: Fields::default(),
            size: None,
            delay_ms: 0,
        };
        let answer = self.dispatch(&mut req, arg);

        let mut line = format!(
            "{op} unique={} nodeid={} uid={} gid={} pid={}",
            h.unique, h.nodeid, h.uid, h.gid, h.pid
        );
        let file_field = req
            .file
            .as_ref()
            .map(|n| format!(" file={}", esc(n)))
            .unwrap_or_default();
        line.push_str(&file_field);
        line.push_str(&req.f.0);

        let deferred = matches!(answer, Answer::Defer);
        let (reply, noreply_line) = match answer {
            Answer::Nothing { hang: false } | Answer::Defer => (None, None),
            Answer::Nothing { hang: true } => {
                self.stats.unanswered += 1;
                (
                    None,
                    Some(format!(
                        "NOREPLY unique={} op={op} reason=hang{file_field}",
                        h.unique
                    )),
                )
            }
            Answer::Ok(payload) => {
                self.stats.replies += 1;
                let size = req.size.unwrap_or(payload.len() as u64);
                let rline = format!(
                    "REPLY unique={} error=0 size={size} op={op}{file_field}{}",
                    h.unique, req.r.0
                );
                (
                    Some(Pending {
                        bytes: proto::reply(h.unique, 0, &payload),
                        delay_ms: req.delay_ms,
                        line: rline,
                    }),
                    None,
                )
            }
            Answer::Err(e) => {
                self.stats.replies += 1;
                let rline = format!(
                    "REPLY unique={} error=-{e} size=0 op={op}{file_field} errno={}{}",
                    h.unique,
                    errno_name(e),
                    req.r.0
                );
                (
                    Some(Pending {
                        bytes: proto::error_reply(h.unique, e),
                        delay_ms: req.delay_ms,
                        line: rline,
                    }),
                    None,
                )
            }
        };
        Outcome {
            request_line: line,
            reply,
            noreply_line,
            deferred,
        }
    }

    /// `--slow-ms`.
    pub fn slow_ms(&self) -> u64 {
        self.opts.slow_ms
    }

    /// A request that only succeeds (FLUSH, FSYNC): answered at once, or
    /// `--slow-ms` later for a file with script `lazy`.
    fn lazy_answer(&mut self, q: &mut Req, lazy: Script) -> Answer {
        match self.file_script(q.h.nodeid) {
            Ok(s) if s == lazy && !self.replaying => {
                q.f.kv("deferred_ms", self.opts.slow_ms);
                Answer::Defer
            }
            _ => Answer::Ok(Vec::new()),
        }
    }

    /// Handles a request that [`Server::handle`] put off, now: its effect
    /// and its reply (the caller logs only the reply's line).
    pub fn handle_deferred(&mut self, bytes: &[u8]) -> Outcome {
        self.replaying = true;
        let out = self.handle(bytes);
        self.replaying = false;
        out
    }

    fn dispatch(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        match q.h.opcode {
            opcode::INIT => self.init(q, arg),
            opcode::LOOKUP => self.lookup(q, arg),
            opcode::FORGET => {
                match proto::forget_in(arg) {
                    Some(n) => {
                        q.f.kv("nlookup", n);
                        let known = self.fs.forget(q.h.nodeid, n);
                        q.f.word_if(!known, "unknown_node=1");
                    }
                    None => {
                        q.f.word("malformed=1");
                    }
                }
                Answer::Nothing { hang: false }
            }
            opcode::BATCH_FORGET => {
                match proto::batch_forget_in(arg) {
                    Some((count, list)) => {
                        let items: Vec<String> =
                            list.iter().map(|(id, n)| format!("{id}:{n}")).collect();
                        q.f.kv("count", count);
                        q.f.kv(
                            "nodes",
                            if items.is_empty() {
                                "-".to_string()
                            } else {
                                items.join(",")
                            },
                        );
                        for (id, n) in list {
                            self.fs.forget(id, n);
                        }
                    }
                    None => {
                        q.f.word("malformed=1");
                    }
                }
                Answer::Nothing { hang: false }
            }
            opcode::GETATTR => self.getattr(q, arg),
            opcode::SETATTR => self.setattr(q, arg),
            opcode::OPEN => self.open(q, arg),
            opcode::CREATE => self.create(q, arg),
            opcode::MKNOD => self.mknod(q, arg),
            opcode::TMPFILE => self.tmpfile(q, arg),
            opcode::LINK => self.link(q, arg),
            opcode::UNLINK => {
                let (name, _) = proto::split_name(arg);
                q.file = Some(name.to_vec());
                q.f.kv("name", esc(name));
                if q.h.nodeid != fs::ROOT {
                    return Answer::Err(self.not_dir_errno(q.h.nodeid));
                }
                match self.fs.unlink(name) {
                    Ok(_) => Answer::Ok(Vec::new()),
                    Err(e) => Answer::Err(e),
                }
            }
            opcode::READ => self.read(q, arg),
            opcode::WRITE => self.write(q, arg),
            opcode::FLUSH => {
                let Some((fh, lock_owner)) = proto::flush_in(arg) else {
                    return malformed(q);
                };
                q.f.kv("fh", fh).hex("lock_owner", lock_owner);
                self.check_fh(q, fh);
                if self.opts.no_flush {
                    return Answer::Err(libc::ENOSYS);
                }
                self.lazy_answer(q, Script::LazyFlush)
            }
            opcode::FSYNC => {
                let Some((fh, flags)) = proto::fsync_in(arg) else {
                    return malformed(q);
                };
                q.f.kv("fh", fh).hex("fsync_flags", u64::from(flags));
                q.f.word_if(flags & proto::FUSE_FSYNC_FDATASYNC != 0, "datasync");
                self.check_fh(q, fh);
                if self.opts.no_fsync {
                    return Answer::Err(libc::ENOSYS);
                }
                self.lazy_answer(q, Script::LazyWrite)
            }
            opcode::RELEASE | opcode::RELEASEDIR => {
                let Some(r) = ReleaseIn::decode(arg) else {
                    return malformed(q);
                };
                q.f.kv("fh", r.fh)
                    .hex("flags", u64::from(r.flags))
                    .hex("release_flags", u64::from(r.release_flags))
                    .hex("lock_owner", r.lock_owner);
                q.f.word_if(
                    r.release_flags & proto::FUSE_RELEASE_FLUSH != 0,
                    "release_flush",
                );
                q.f.word_if(
                    r.release_flags & proto::FUSE_RELEASE_FLOCK_UNLOCK != 0,
                    "flock_unlock",
                );
                match self.fs.release(r.fh) {
                    Some(hd) if hd.nodeid == q.h.nodeid => {}
                    _ => {
                        q.f.word("badfh=1");
                    }
                }
                Answer::Ok(Vec::new())
            }
            opcode::FALLOCATE => self.fallocate(q, arg),
            opcode::GETXATTR | opcode::LISTXATTR | opcode::SETXATTR | opcode::REMOVEXATTR
                if self.opts.xattr || self.opts.posix_acl =>
            {
                self.xattr(q, arg)
            }
            opcode::LSEEK => self.lseek(q, arg),
            opcode::COPY_FILE_RANGE => self.copy_file_range(q, arg),
            opcode::STATFS => {
                const TOTAL: u64 = 1 << 20;
                let used = self.fs.used_blocks().min(TOTAL);
                let files = self.fs.file_count();
                Answer::Ok(
                    Kstatfs {
                        blocks: TOTAL,
                        bfree: TOTAL - used,
                        bavail: TOTAL - used,
                        files: TOTAL,
                        ffree: TOTAL.saturating_sub(files),
                        bsize: fs::BLOCK as u32,
                        namelen: 255,
                        frsize: fs::BLOCK as u32,
                    }
                    .encode(),
                )
            }
            opcode::OPENDIR => {
                let Some((flags, open_flags)) = proto::open_in(arg) else {
                    return malformed(q);
                };
                q.f.hex("flags", u64::from(flags))
                    .hex("open_flags", u64::from(open_flags));
                match self.fs.node(q.h.nodeid).map(|n| n.kind) {
                    Some(Kind::Dir) => {
                        let fh = self.fs.open(q.h.nodeid, flags);
                        q.r.kv("fh", fh);
                        Answer::Ok(OpenOut { fh, open_flags: 0 }.encode())
                    }
                    Some(Kind::File) => Answer::Err(libc::ENOTDIR),
                    None => Answer::Err(libc::ENOENT),
                }
            }
            opcode::READDIR => self.readdir(q, arg),
            opcode::ACCESS => {
                let Some(mask) = proto::access_in(arg) else {
                    return malformed(q);
                };
                q.f.hex("mask", u64::from(mask));
                match self.fs.node(q.h.nodeid) {
                    Some(_) => Answer::Ok(Vec::new()),
                    None => Answer::Err(libc::ENOENT),
                }
            }
            opcode::INTERRUPT => {
                match proto::interrupt_in(arg) {
                    Some(t) => q.f.kv("target", t),
                    None => q.f.word("malformed=1"),
                };
                // As libfuse without an interrupt handler: log and ignore;
                // the interrupted request is answered normally.
                Answer::Nothing { hang: false }
            }
            opcode::DESTROY => Answer::Ok(Vec::new()),
            // Never expects a reply (answers a NOTIFY_RETRIEVE we never
            // send).
            41 => Answer::Nothing { hang: false },
            _ => {
                q.f.kv("len", q.h.len);
                Answer::Err(libc::ENOSYS)
            }
        }
    }

    /// ENOTDIR for a file, ENOENT for an unknown node.
    fn not_dir_errno(&self, nodeid: u64) -> i32 {
        match self.fs.node(nodeid) {
            Some(_) => libc::ENOTDIR,
            None => libc::ENOENT,
        }
    }

    /// Logs `badfh=1` unless `fh` is an open handle of the request's node.
    fn check_fh(&self, q: &mut Req, fh: u64) -> Option<fs::Handle> {
        match self.fs.handle(fh) {
            Some(hd) if hd.nodeid == q.h.nodeid => Some(hd),
            _ => {
                q.f.word("badfh=1");
                None
            }
        }
    }

    fn init(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(init) = InitIn::decode(arg) else {
            return malformed(q);
        };
        let offered = init.flags64();
        q.f.kv("major", init.major)
            .kv("minor", init.minor)
            .kv("max_readahead", init.max_readahead)
            .hex("flags", u64::from(init.flags))
            .hex("flags2", u64::from(init.flags2))
            .kv("caps", initflags::names(offered));
        if init.major < proto::KERNEL_VERSION {
            return Answer::Err(libc::EPROTO);
        }
        let minor = if init.major > proto::KERNEL_VERSION {
            // The kernel will send INIT again for our major.
            proto::KERNEL_MINOR_VERSION
        } else {
            init.minor.min(proto::KERNEL_MINOR_VERSION)
        };
        self.minor = minor;
        let mut want = initflags::ASYNC_READ
            | initflags::BIG_WRITES
            | initflags::MAX_PAGES
            | initflags::INIT_EXT;
        if self.opts.atomic_o_trunc {
            want |= initflags::ATOMIC_O_TRUNC;
        }
        if self.opts.writeback {
            want |= initflags::WRITEBACK_CACHE;
        }
        if self.opts.parallel_dirops {
            want |= initflags::PARALLEL_DIROPS;
        }
        if self.opts.killpriv_v2 {
            want |= initflags::HANDLE_KILLPRIV_V2;
        }
        if self.opts.xattr || self.opts.posix_acl {
            want |= initflags::SETXATTR_EXT;
        }
        if self.opts.posix_acl {
            want |= initflags::POSIX_ACL;
        }
        if self.opts.dont_mask {
            want |= initflags::DONT_MASK;
        }
        let agreed = offered & want;
        self.agreed = agreed;
        let max_pages = if agreed & initflags::MAX_PAGES != 0 {
            self.opts.max_pages
        } else {
            0
        };
        let out = InitOut {
            major: proto::KERNEL_VERSION,
            minor,
            max_readahead: init.max_readahead,
            flags: agreed as u32,
            max_background: 0,
            congestion_threshold: 0,
            max_write: self.opts.max_write,
            time_gran: self.opts.time_gran,
            max_pages,
            map_alignment: 0,
            flags2: (agreed >> 32) as u32,
            max_stack_depth: 0,
        };
        q.r.kv("major", out.major)
            .kv("minor", out.minor)
            .hex("flags", u64::from(out.flags))
            .hex("flags2", u64::from(out.flags2))
            .kv("caps", initflags::names(agreed))
            .kv("max_write", out.max_write)
            .kv("max_pages", out.max_pages)
            .kv("time_gran", out.time_gran)
            .kv("max_readahead", out.max_readahead);
        Answer::Ok(out.encode())
    }

    fn lookup(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let (name, _) = proto::split_name(arg);
        q.file = Some(name.to_vec());
        q.f.kv("name", esc(name));
        if !self.replaying && script_of(name) == Script::LazyLookup {
            q.f.kv("deferred_ms", self.opts.slow_ms);
            return Answer::Defer;
        }
        if q.h.nodeid != fs::ROOT {
            return Answer::Err(self.not_dir_errno(q.h.nodeid));
        }
        if script_of(name) == Script::Ghost {
            return Answer::Err(libc::ENOENT);
        }
        let Some(id) = self.fs.lookup(name) else {
            return Answer::Err(libc::ENOENT);
        };
        let Some(e) = self.entry_of(id, true) else {
            return Answer::Err(libc::ENOENT);
        };
        self.fs.add_lookup(id);
        q.r.kv("ino", id).kv("attr_size", e.attr.size);
        Answer::Ok(e.encode())
    }

    fn getattr(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        // Absent before 7.9.
        let (flags, fh) = proto::getattr_in(arg).unwrap_or((0, 0));
        q.f.hex("getattr_flags", u64::from(flags)).kv("fh", fh);
        match self.attr_out(q.h.nodeid, true) {
            Some(a) => {
                q.r.kv("attr_size", a.attr.size)
                    .kv("attr_mtime", ts(a.attr.mtime, a.attr.mtimensec));
                Answer::Ok(a.encode())
            }
            None => Answer::Err(libc::ENOENT),
        }
    }

    fn setattr(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(s) = SetattrIn::decode(arg) else {
            return malformed(q);
        };
        let v = s.valid;
        q.f.hex("valid", u64::from(v));
        if v & fattr::MODE != 0 {
            q.f.oct("mode", s.mode);
        }
        if v & fattr::UID != 0 {
            q.f.kv("uid", s.uid);
        }
        if v & fattr::GID != 0 {
            q.f.kv("gid", s.gid);
        }
        if v & fattr::SIZE != 0 {
            q.f.kv("size", s.size);
        }
        if v & fattr::ATIME != 0 {
            q.f.kv("atime", ts(s.atime, s.atimensec));
        }
        q.f.word_if(v & fattr::ATIME_NOW != 0, "atime_now");
        if v & fattr::MTIME != 0 {
            q.f.kv("mtime", ts(s.mtime, s.mtimensec));
        }
        q.f.word_if(v & fattr::MTIME_NOW != 0, "mtime_now");
        if v & fattr::CTIME != 0 {
            q.f.kv("ctime", ts(s.ctime, s.ctimensec));
        }
        if v & fattr::FH != 0 {
            q.f.kv("fh", s.fh);
            self.check_fh(q, s.fh);
        }
        if v & fattr::LOCKOWNER != 0 {
            q.f.hex("lock_owner", s.lock_owner);
        }
        q.f.word_if(v & fattr::KILL_SUIDGID != 0, "kill_suidgid");

        let nodeid = q.h.nodeid;
        if v & fattr::SIZE != 0 && self.defer(q, true) {
            return Answer::Defer;
        }
        if v & fattr::SIZE == 0 && q.file.as_deref().map(script_of) == Some(Script::HangAttr) {
            return Answer::Nothing { hang: true };
        }
        let Some(n) = self.fs.node_mut(nodeid) else {
            return Answer::Err(libc::ENOENT);
        };
        if v & fattr::SIZE != 0 {
            if n.kind == Kind::Dir {
                return Answer::Err(libc::EISDIR);
            }
            if s.size > fs::MAX_FILE_SIZE {
                return Answer::Err(libc::EFBIG);
            }
        }
        let now = Ts::now();
        let mut changed = false;
        if v & fattr::SIZE != 0 {
            n.data.truncate(s.size);
            n.mtime = now;
            changed = true;
        }
        if v & fattr::MODE != 0 {
            n.mode = (n.mode & proto::S_IFMT) | (s.mode & 0o7777);
            changed = true;
        }
        if v & fattr::UID != 0 {
            n.uid = s.uid;
            changed = true;
        }
        if v & fattr::GID != 0 {
            n.gid = s.gid;
            changed = true;
        }
        if v & fattr::KILL_SUIDGID != 0 {
            n.mode &= !0o6000;
        }
        if v & fattr::ATIME_NOW != 0 {
            n.atime = now;
            changed = true;
        } else if v & fattr::ATIME != 0 {
            n.atime = Ts {
                sec: s.atime,
                nsec: s.atimensec,
            };
            changed = true;
        }
        if v & fattr::MTIME_NOW != 0 {
            n.mtime = now;
            changed = true;
        } else if v & fattr::MTIME != 0 {
            n.mtime = Ts {
                sec: s.mtime,
                nsec: s.mtimensec,
            };
            changed = true;
        }
        if v & fattr::CTIME != 0 {
            n.ctime = Ts {
                sec: s.ctime,
                nsec: s.ctimensec,
            };
        } else if changed {
            n.ctime = now;
        }
        match self.attr_out(nodeid, false) {
            Some(a) => {
                q.r.kv("attr_size", a.attr.size);
                Answer::Ok(a.encode())
            }
            None => Answer::Err(libc::ENOENT),
        }
    }

    fn log_open_flags(q: &mut Req, flags: u32) {
        q.f.hex("flags", u64::from(flags))
            .kv("oflags", oflags_names(flags));
    }

    /// Opens `nodeid` (a regular file) and builds the `fuse_open_out`.
    /// `open_flags` are those of `fuse_open_in`/`fuse_create_in`.
    fn do_open(
        &mut self,
        q: &mut Req,
        nodeid: u64,
        flags: u32,
        open_flags_in: u32,
    ) -> Result<OpenOut, i32> {
        let n = self.fs.node_mut(nodeid).ok_or(libc::ENOENT)?;
        if n.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        if flags as i32 & libc::O_TRUNC != 0 {
            if n.data.size() != 0 {
                n.data.truncate(0);
                n.touch_data();
            }
            if open_flags_in & proto::FUSE_OPEN_KILL_SUIDGID != 0 {
                n.mode &= !0o6000;
            }
        }
        let mut open_flags = match script_of(&n.name) {
            Script::DirectIo => proto::FOPEN_DIRECT_IO,
            Script::KeepCache => proto::FOPEN_KEEP_CACHE,
            _ => 0,
        };
        if self.opts.keep_cache {
            open_flags |= proto::FOPEN_KEEP_CACHE;
        }
        let fh = self.fs.open(nodeid, flags);
        q.r.kv("fh", fh);
        if open_flags != 0 {
            q.r.hex("open_flags", u64::from(open_flags));
        }
        Ok(OpenOut { fh, open_flags })
    }

    /// Whether to put the request off (a `lazy-` file, or for a size
    /// change a `lazytrunc-` one, not being replayed); logs `deferred_ms=`.
    fn defer(&self, q: &mut Req, size_change: bool) -> bool {
        let script = q.file.as_deref().map(script_of);
        let lazy =
            script == Some(Script::Lazy) || (size_change && script == Some(Script::LazyTrunc));
        if self.replaying || !lazy {
            return false;
        }
        q.f.kv("deferred_ms", self.opts.slow_ms);
        true
    }

    fn open(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some((flags, open_flags)) = proto::open_in(arg) else {
            return malformed(q);
        };
        Self::log_open_flags(q, flags);
        q.f.hex("open_flags", u64::from(open_flags));
        if self.defer(q, false) {
            return Answer::Defer;
        }
        match self.do_open(q, q.h.nodeid, flags, open_flags) {
            Ok(o) => Answer::Ok(o.encode()),
            Err(e) => Answer::Err(e),
        }
    }

    /// Logs a CREATE or TMPFILE request for the file logged as `file`.
    fn log_create(q: &mut Req, c: &CreateIn, file: Vec<u8>) {
        q.file = Some(file);
        Self::log_open_flags(q, c.flags);
        q.f.oct("mode", c.mode)
            .oct("umask", c.umask)
            .hex("open_flags", u64::from(c.open_flags))
            .kv("name", esc(&c.name));
    }

    /// Opens the new file `id` for a CREATE or TMPFILE and answers with its
    /// entry and the open (the entry counts as a lookup).
    fn open_reply(&mut self, q: &mut Req, id: u64, c: &CreateIn) -> Answer {
        let open = match self.do_open(q, id, c.flags, c.open_flags) {
            Ok(o) => o,
            Err(e) => return Answer::Err(e),
        };
        let Some(entry) = self.entry_of(id, false) else {
            return Answer::Err(libc::ENOENT);
        };
        self.fs.add_lookup(id);
        q.r.kv("ino", id);
        let mut e = proto::Enc::default();
        entry.put(&mut e);
        open.put(&mut e);
        Answer::Ok(e.0)
    }

    fn create(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(c) = CreateIn::decode(arg) else {
            return malformed(q);
        };
        Self::log_create(q, &c, c.name.clone());
        if self.opts.no_create {
            return Answer::Err(libc::ENOSYS);
        }
        if self.defer(q, false) {
            return Answer::Defer;
        }
        if q.h.nodeid != fs::ROOT {
            return Answer::Err(self.not_dir_errno(q.h.nodeid));
        }
        if !fs::is_regular_mode(c.mode) {
            return Answer::Err(libc::EINVAL);
        }
        let id = match self.fs.lookup(&c.name) {
            Some(_) if c.flags as i32 & libc::O_EXCL != 0 => return Answer::Err(libc::EEXIST),
            Some(id) => id,
            None => {
                match self
                    .fs
                    .create_file(&c.name, self.masked(c.mode, c.umask), q.h.uid, q.h.gid)
                {
                    Ok(id) => id,
                    Err(e) => return Answer::Err(e),
                }
            }
        };
        let answer = self.open_reply(q, id, &c);
        if script_of(&c.name) == Script::SuidLater {
            if let Some(n) = self.fs.node_mut(id) {
                n.mode |= 0o4000;
            }
        }
        answer
    }

    fn mknod(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(m) = MknodIn::decode(arg) else {
            return malformed(q);
        };
        q.file = Some(m.name.clone());
        q.f.oct("mode", m.mode)
            .hex("rdev", u64::from(m.rdev))
            .oct("umask", m.umask)
            .kv("name", esc(&m.name));
        if q.h.nodeid != fs::ROOT {
            return Answer::Err(self.not_dir_errno(q.h.nodeid));
        }
        if !fs::is_regular_mode(m.mode) {
            return Answer::Err(libc::EPERM);
        }
        let id = match self
            .fs
            .create_file(&m.name, self.masked(m.mode, m.umask), q.h.uid, q.h.gid)
        {
            Ok(id) => id,
            Err(e) => return Answer::Err(e),
        };
        let Some(entry) = self.entry_of(id, false) else {
            return Answer::Err(libc::ENOENT);
        };
        self.fs.add_lookup(id);
        q.r.kv("ino", id);
        Answer::Ok(entry.encode())
    }

    /// TMPFILE in the root: an unnamed file (logged as `tmpfile` until a
    /// LINK names it), opened; answered as CREATE.
    fn tmpfile(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(c) = CreateIn::decode(arg) else {
            return malformed(q);
        };
        Self::log_create(q, &c, b"tmpfile".to_vec());
        if self.opts.no_tmpfile {
            return Answer::Err(libc::ENOSYS);
        }
        if q.h.nodeid != fs::ROOT {
            return Answer::Err(self.not_dir_errno(q.h.nodeid));
        }
        if !fs::is_regular_mode(c.mode) {
            return Answer::Err(libc::EINVAL);
        }
        let id = self
            .fs
            .create_unnamed(self.masked(c.mode, c.umask), q.h.uid, q.h.gid);
        self.open_reply(q, id, &c)
    }

    /// LINK of `oldnodeid` as a name in the root: answered with its entry.
    fn link(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(old) = arg
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
        else {
            return malformed(q);
        };
        let (name, _) = proto::split_name(arg.get(8..).unwrap_or_default());
        q.file = Some(name.to_vec());
        q.f.kv("oldnodeid", old).kv("name", esc(name));
        if q.h.nodeid != fs::ROOT {
            return Answer::Err(self.not_dir_errno(q.h.nodeid));
        }
        if let Err(e) = self.fs.link(old, name) {
            return Answer::Err(e);
        }
        let Some(entry) = self.entry_of(old, false) else {
            return Answer::Err(libc::ENOENT);
        };
        self.fs.add_lookup(old);
        q.r.kv("ino", old);
        Answer::Ok(entry.encode())
    }

    /// The mode of a new file asked as `mode`: with FUSE_DONT_MASK the
    /// kernel left the `umask` to the server (no default ACLs here).
    fn masked(&self, mode: u32, umask: u32) -> u32 {
        if self.agreed & initflags::DONT_MASK != 0 {
            mode & !(umask & 0o777)
        } else {
            mode
        }
    }

    /// GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR on the node's in-memory
    /// attributes. Setting `system.posix_acl_access` also sets the mode's
    /// permission bits from it (owner, mask or group, other), and clears
    /// sgid when FUSE_SETXATTR_ACL_KILL_SGID says so, as a filesystem with
    /// ACLs does.
    fn xattr(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let op = q.h.opcode;
        let (size, name, set) = if op == opcode::SETXATTR {
            let ext = self.agreed & initflags::SETXATTR_EXT != 0;
            let Some(s) = proto::SetxattrIn::decode(arg, ext) else {
                return malformed(q);
            };
            q.f.kv("size", s.size)
                .hex("flags", u64::from(s.flags))
                .hex("setxattr_flags", u64::from(s.setxattr_flags));
            q.f.word_if(
                s.setxattr_flags & proto::FUSE_SETXATTR_ACL_KILL_SGID != 0,
                "acl_kill_sgid",
            );
            (s.size, s.name.clone(), Some(s))
        } else if op == opcode::REMOVEXATTR {
            (0, proto::split_name(arg).0.to_vec(), None)
        } else {
            let Some((size, name)) = proto::getxattr_in(arg) else {
                return malformed(q);
            };
            q.f.kv("size", size);
            (size, name.to_vec(), None)
        };
        if op != opcode::LISTXATTR {
            q.f.kv("name", esc(&name));
        }
        let Some(n) = self.fs.node_mut(q.h.nodeid) else {
            return Answer::Err(libc::ENOENT);
        };
        let bad_acl =
            script_of(&n.name) == Script::BadAcl && name.starts_with(b"system.posix_acl_");
        let value = match op {
            opcode::GETXATTR if bad_acl => vec![2, 0, 0, 0, 0xff, 0xff],
            opcode::GETXATTR => match n.xattrs.get(&name) {
                Some(v) => v.clone(),
                None => return Answer::Err(libc::ENODATA),
            },
            opcode::LISTXATTR => {
                let mut l = Vec::new();
                for k in n.xattrs.keys() {
                    l.extend_from_slice(k);
                    l.push(0);
                }
                l
            }
            opcode::SETXATTR => {
                let Some(s) = set else {
                    return malformed(q);
                };
                let exists = n.xattrs.contains_key(&name);
                if s.flags & libc::XATTR_CREATE as u32 != 0 && exists {
                    return Answer::Err(libc::EEXIST);
                }
                if s.flags & libc::XATTR_REPLACE as u32 != 0 && !exists {
                    return Answer::Err(libc::ENODATA);
                }
                if name == b"system.posix_acl_access" {
                    if let Some(bits) = acl_mode_bits(&s.value) {
                        n.mode = n.mode & !0o777 | bits;
                    }
                    if s.setxattr_flags & proto::FUSE_SETXATTR_ACL_KILL_SGID != 0 {
                        n.mode &= !0o2000;
                    }
                }
                n.xattrs.insert(name, s.value);
                n.ctime = fs::Ts::now();
                return Answer::Ok(Vec::new());
            }
            _ => {
                if n.xattrs.remove(&name).is_none() {
                    return Answer::Err(libc::ENODATA);
                }
                n.ctime = fs::Ts::now();
                return Answer::Ok(Vec::new());
            }
        };
        if size == 0 {
            return Answer::Ok(proto::getxattr_out(value.len() as u32));
        }
        if value.len() > size as usize {
            return Answer::Err(libc::ERANGE);
        }
        Answer::Ok(value)
    }

    /// The request's node as a regular file: its script, or the errno.
    fn file_script(&self, nodeid: u64) -> Result<Script, i32> {
        match self.fs.node(nodeid) {
            Some(n) if n.kind == Kind::File => Ok(script_of(&n.name)),
            Some(_) => Err(libc::EISDIR),
            None => Err(libc::ENOENT),
        }
    }

    fn read(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(r) = ReadIn::decode(arg) else {
            return malformed(q);
        };
        q.f.kv("fh", r.fh)
            .kv("offset", r.offset)
            .kv("size", r.size)
            .kv("end", r.offset.saturating_add(u64::from(r.size)))
            .hex("read_flags", u64::from(r.read_flags))
            .hex("lock_owner", r.lock_owner)
            .hex("flags", u64::from(r.flags));
        if let Some(hd) = self.check_fh(q, r.fh) {
            q.f.word_if(hd.write_only(), "wronly_fh=1");
        }
        let script = match self.file_script(q.h.nodeid) {
            Ok(s) => s,
            Err(e) => return Answer::Err(e),
        };
        if script == Script::Hang {
            return Answer::Nothing { hang: true };
        }
        if script == Script::LazyRead && !self.replaying {
            q.f.kv("deferred_ms", self.opts.slow_ms);
            return Answer::Defer;
        }
        let data = match self.fs.node(q.h.nodeid) {
            Some(n) => n.data.read(r.offset, u64::from(r.size)),
            None => return Answer::Err(libc::ENOENT),
        };
        q.size = Some(data.len() as u64);
        Answer::Ok(data)
    }

    fn write(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some((w, data)) = WriteIn::decode(arg, self.minor) else {
            return malformed(q);
        };
        q.f.kv("fh", w.fh)
            .kv("offset", w.offset)
            .kv("size", w.size)
            .kv("end", w.offset.saturating_add(u64::from(w.size)))
            .hex("write_flags", u64::from(w.write_flags))
            .kv(
                "cache",
                u32::from(w.write_flags & proto::FUSE_WRITE_CACHE != 0),
            );
        q.f.word_if(
            w.write_flags & proto::FUSE_WRITE_KILL_SUIDGID != 0,
            "kill_suidgid=1",
        );
        q.f.hex("lock_owner", w.lock_owner)
            .hex("flags", u64::from(w.flags));
        if data.len() != w.size as usize {
            q.f.kv("data", data.len());
        }
        if let Some(hd) = self.check_fh(q, w.fh) {
            q.f.word_if(hd.read_only(), "rdonly_fh=1");
        }
        let script = match self.file_script(q.h.nodeid) {
            Ok(s) => s,
            Err(e) => return Answer::Err(e),
        };
        let Some(data) = data.get(..w.size as usize) else {
            return Answer::Err(libc::EINVAL);
        };
        if let Err(e) = Data::check_range(w.offset, u64::from(w.size)) {
            return Answer::Err(e);
        }
        if script == Script::LazyWrite && !self.replaying {
            q.f.kv("deferred_ms", self.opts.slow_ms);
            return Answer::Defer;
        }
        let n = match script {
            Script::Hang => return Answer::Nothing { hang: true },
            Script::Eio => return Answer::Err(libc::EIO),
            Script::Enospc => return Answer::Err(libc::ENOSPC),
            Script::Short if w.size > SHORT_THRESHOLD => w.size / 2,
            Script::Slow => {
                q.delay_ms = self.opts.slow_ms;
                q.r.kv("delay_ms", self.opts.slow_ms);
                w.size
            }
            _ => w.size,
        };
        if let Some(node) = self.fs.node_mut(q.h.nodeid) {
            node.data.write(w.offset, &data[..n as usize]);
            node.touch_data();
            if w.write_flags & proto::FUSE_WRITE_KILL_SUIDGID != 0 {
                node.mode &= !0o6000;
            }
        }
        if n != w.size {
            q.r.word("short=1");
        }
        q.size = Some(u64::from(n));
        Answer::Ok(proto::write_out(n))
    }

    fn fallocate(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(f) = FallocateIn::decode(arg) else {
            return malformed(q);
        };
        q.f.kv("fh", f.fh)
            .kv("offset", f.offset)
            .kv("length", f.length)
            .hex("mode", u64::from(f.mode));
        q.f.word_if(f.mode & proto::FALLOC_FL_KEEP_SIZE != 0, "keep_size")
            .word_if(f.mode & proto::FALLOC_FL_PUNCH_HOLE != 0, "punch_hole")
            .word_if(f.mode & proto::FALLOC_FL_ZERO_RANGE != 0, "zero_range");
        self.check_fh(q, f.fh);
        if self.opts.no_fallocate {
            return Answer::Err(libc::ENOSYS);
        }
        if let Err(e) = self.file_script(q.h.nodeid) {
            return Answer::Err(e);
        }
        let Some(n) = self.fs.node_mut(q.h.nodeid) else {
            return Answer::Err(libc::ENOENT);
        };
        const KEEP: u32 = proto::FALLOC_FL_KEEP_SIZE;
        const PUNCH: u32 = proto::FALLOC_FL_PUNCH_HOLE;
        const ZERO: u32 = proto::FALLOC_FL_ZERO_RANGE;
        let res = match f.mode {
            0 => n.data.allocate(f.offset, f.length, false),
            KEEP => n.data.allocate(f.offset, f.length, true),
            m if m == PUNCH | KEEP => n.data.punch_hole(f.offset, f.length),
            ZERO => n.data.zero_range(f.offset, f.length, false),
            m if m == ZERO | KEEP => n.data.zero_range(f.offset, f.length, true),
            _ => Err(libc::EOPNOTSUPP),
        };
        match res {
            Ok(()) => {
                if f.mode != KEEP {
                    n.touch_data();
                }
                Answer::Ok(Vec::new())
            }
            Err(e) => Answer::Err(e),
        }
    }

    fn lseek(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some((fh, offset, whence)) = proto::lseek_in(arg) else {
            return malformed(q);
        };
        let wname = match whence {
            0 => "SEEK_SET".to_string(),
            1 => "SEEK_CUR".to_string(),
            2 => "SEEK_END".to_string(),
            proto::SEEK_DATA => "SEEK_DATA".to_string(),
            proto::SEEK_HOLE => "SEEK_HOLE".to_string(),
            w => w.to_string(),
        };
        q.f.kv("fh", fh).kv("offset", offset).kv("whence", wname);
        self.check_fh(q, fh);
        if self.opts.no_lseek {
            return Answer::Err(libc::ENOSYS);
        }
        if let Err(e) = self.file_script(q.h.nodeid) {
            return Answer::Err(e);
        }
        let Some(n) = self.fs.node(q.h.nodeid) else {
            return Answer::Err(libc::ENOENT);
        };
        let res = match whence {
            proto::SEEK_DATA => n.data.seek_data(offset),
            proto::SEEK_HOLE => n.data.seek_hole(offset),
            _ => Err(libc::EINVAL),
        };
        match res {
            Ok(off) => {
                q.r.kv("offset", off);
                Answer::Ok(proto::lseek_out(off))
            }
            Err(e) => Answer::Err(e),
        }
    }

    fn copy_file_range(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(c) = CopyFileRangeIn::decode(arg) else {
            return malformed(q);
        };
        q.f.kv("fh_in", c.fh_in)
            .kv("off_in", c.off_in)
            .kv("nodeid_out", c.nodeid_out)
            .kv("fh_out", c.fh_out)
            .kv("off_out", c.off_out)
            .kv("len", c.len)
            .hex("flags", c.flags);
        if let Some(n) = self.fs.node(c.nodeid_out) {
            q.f.kv("file_out", esc(&n.name));
        }
        self.check_fh(q, c.fh_in);
        if !matches!(self.fs.handle(c.fh_out), Some(hd) if hd.nodeid == c.nodeid_out) {
            q.f.word("badfh_out=1");
        }
        if self.opts.no_copy_file_range {
            return Answer::Err(libc::ENOSYS);
        }
        match self.file_script(q.h.nodeid) {
            Ok(Script::NoCopy) => return Answer::Err(libc::ENOSYS),
            Ok(_) => {}
            Err(e) => return Answer::Err(e),
        }
        if let Err(e) = self.file_script(c.nodeid_out) {
            return Answer::Err(e);
        }
        if c.flags != 0 {
            return Answer::Err(libc::EINVAL);
        }
        // The copy goes through memory: at most MAX_COPY bytes per request
        // (a short copy, which callers loop over).
        let len = c.len.min(MAX_COPY);
        let bytes = match self.fs.node(q.h.nodeid) {
            Some(n) => n.data.read(c.off_in, len),
            None => return Answer::Err(libc::ENOENT),
        };
        if let Err(e) = Data::check_range(c.off_out, bytes.len() as u64) {
            return Answer::Err(e);
        }
        if let Some(out) = self.fs.node_mut(c.nodeid_out) {
            if !bytes.is_empty() {
                out.data.write(c.off_out, &bytes);
                out.touch_data();
            }
        }
        let n = bytes.len() as u32;
        q.size = Some(u64::from(n));
        Answer::Ok(proto::write_out(n))
    }

    fn readdir(&mut self, q: &mut Req, arg: &[u8]) -> Answer {
        let Some(r) = ReadIn::decode(arg) else {
            return malformed(q);
        };
        q.f.kv("fh", r.fh).kv("offset", r.offset).kv("size", r.size);
        self.check_fh(q, r.fh);
        match self.fs.node(q.h.nodeid).map(|n| n.kind) {
            Some(Kind::Dir) => {}
            Some(Kind::File) => return Answer::Err(libc::ENOTDIR),
            None => return Answer::Err(libc::ENOENT),
        }
        let mut list: Vec<(Vec<u8>, u64, u32)> = vec![
            (b".".to_vec(), fs::ROOT, proto::DT_DIR),
            (b"..".to_vec(), fs::ROOT, proto::DT_DIR),
        ];
        for (name, id, kind) in self.fs.entries() {
            let t = match kind {
                Kind::Dir => proto::DT_DIR,
                Kind::File => proto::DT_REG,
            };
            list.push((name.to_vec(), id, t));
        }
        let mut out = Vec::new();
        let skip = usize::try_from(r.offset).unwrap_or(usize::MAX);
        for (i, (name, id, t)) in list.iter().enumerate().skip(skip) {
            let d = proto::dirent(*id, i as u64 + 1, *t, name);
            if out.len() + d.len() > r.size as usize {
                break;
            }
            out.extend_from_slice(&d);
        }
        Answer::Ok(out)
    }
}

/// The permission bits a POSIX ACL in xattr form implies (owner from
/// USER_OBJ, group class from MASK or else GROUP_OBJ, other from OTHER);
/// `None` if it is not a well-formed version-2 ACL.
fn acl_mode_bits(v: &[u8]) -> Option<u32> {
    const USER_OBJ: u16 = 0x01;
    const GROUP_OBJ: u16 = 0x04;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    let (head, entries) = (v.get(..4)?, v.get(4..)?);
    if u32::from_le_bytes(head.try_into().ok()?) != 2 || entries.len() % 8 != 0 {
        return None;
    }
    let (mut user, mut group, mut mask, mut other) = (None, None, None, None);
    for e in entries.chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u32::from(u16::from_le_bytes([e[2], e[3]]) & 7);
        match tag {
            USER_OBJ => user = Some(perm),
            GROUP_OBJ => group = Some(perm),
            MASK => mask = Some(perm),
            OTHER => other = Some(perm),
            _ => {}
        }
    }
    Some(user? << 6 | mask.or(group)? << 3 | other?)
}

fn malformed(q: &mut Req) -> Answer {
    q.f.word("malformed=1");
    Answer::Err(libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Enc;

    fn hdr(opcode: u32, unique: u64, nodeid: u64, arg: &[u8]) -> Vec<u8> {
        let mut b = InHeader {
            len: (proto::IN_HEADER_SIZE + arg.len()) as u32,
            opcode,
            unique,
            nodeid,
            uid: 1000,
            gid: 100,
            pid: 42,
            total_extlen: 0,
            padding: 0,
        }
        .encode();
        b.extend_from_slice(arg);
        b
    }

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    /// The reply's error and payload.
    fn parts(o: &Outcome) -> (i32, Vec<u8>) {
        let b = &o.reply.as_ref().expect("a reply").bytes;
        assert_eq!(u32_at(b, 0) as usize, b.len());
        (u32_at(b, 4) as i32, b[16..].to_vec())
    }

    struct T {
        s: Server,
        unique: u64,
    }

    impl T {
        fn new(opts: Options) -> T {
            T {
                s: Server::new(opts, 0, 0),
                unique: 1,
            }
        }
        fn req(&mut self, op: u32, nodeid: u64, arg: &[u8]) -> Outcome {
            self.unique += 2;
            self.s.handle(&hdr(op, self.unique, nodeid, arg))
        }
        fn init(&mut self, flags: u64) -> Outcome {
            let i = InitIn {
                major: 7,
                minor: 41,
                max_readahead: 131072,
                flags: flags as u32,
                flags2: (flags >> 32) as u32,
            };
            self.req(opcode::INIT, 0, &i.encode())
        }
        fn create(&mut self, name: &str, flags: i32) -> (u64, u64) {
            let c = CreateIn {
                flags: flags as u32,
                mode: 0o100644,
                umask: 0o22,
                open_flags: 0,
                name: name.as_bytes().to_vec(),
            };
            let o = self.req(opcode::CREATE, 1, &c.encode());
            let (err, p) = parts(&o);
            assert_eq!(err, 0, "{o:?}");
            assert_eq!(p.len(), proto::ENTRY_OUT_SIZE + proto::OPEN_OUT_SIZE);
            (u64_at(&p, 0), u64_at(&p, proto::ENTRY_OUT_SIZE))
        }
        fn write(&mut self, nodeid: u64, fh: u64, off: u64, data: &[u8], flags: u32) -> Outcome {
            let mut a = WriteIn {
                fh,
                offset: off,
                size: data.len() as u32,
                write_flags: flags,
                lock_owner: 0,
                flags: 0o100001,
            }
            .encode();
            a.extend_from_slice(data);
            self.req(opcode::WRITE, nodeid, &a)
        }
        fn read(&mut self, nodeid: u64, fh: u64, off: u64, size: u32) -> Outcome {
            let a = ReadIn {
                fh,
                offset: off,
                size,
                ..ReadIn::default()
            }
            .encode();
            self.req(opcode::READ, nodeid, &a)
        }
        /// MKNOD of a regular file `name`, mode 0666 under umask 027: its node.
        fn mknod_0666_027(&mut self, name: &[u8]) -> u64 {
            let m = MknodIn {
                mode: 0o100666,
                rdev: 0,
                umask: 0o027,
                name: name.to_vec(),
            };
            assert_eq!(parts(&self.req(opcode::MKNOD, 1, &m.encode())).0, 0);
            self.s.fs.lookup(name).unwrap()
        }
        fn getattr(&mut self, nodeid: u64) -> Attr {
            let o = self.req(opcode::GETATTR, nodeid, &[0; 16]);
            let (err, p) = parts(&o);
            assert_eq!(err, 0);
            attr_from(&p[16..])
        }
    }

    fn attr_from(b: &[u8]) -> Attr {
        Attr {
            ino: u64_at(b, 0),
            size: u64_at(b, 8),
            blocks: u64_at(b, 16),
            mtime: u64_at(b, 32),
            mode: u32_at(b, 60),
            nlink: u32_at(b, 64),
            ..Attr::default()
        }
    }

    const KERNEL_FLAGS: u64 = initflags::ASYNC_READ
        | initflags::ATOMIC_O_TRUNC
        | initflags::BIG_WRITES
        | initflags::WRITEBACK_CACHE
        | initflags::MAX_PAGES
        | initflags::INIT_EXT
        | (1 << 13) // DO_READDIRPLUS
        | (1 << 32); // SECURITY_CTX

    #[test]
    fn init_echoes_the_intersection() {
        let mut t = T::new(Options::default());
        let o = t.init(KERNEL_FLAGS);
        let (err, p) = parts(&o);
        assert_eq!(err, 0);
        assert_eq!(p.len(), proto::INIT_OUT_SIZE);
        assert_eq!([u32_at(&p, 0), u32_at(&p, 4)], [7, 41]);
        let flags = u64::from(u32_at(&p, 12));
        assert_eq!(
            flags,
            initflags::ASYNC_READ
                | initflags::BIG_WRITES
                | initflags::MAX_PAGES
                | initflags::INIT_EXT
        );
        assert_eq!(u32_at(&p, 20), 1 << 20); // max_write
        assert_eq!(u32_at(&p, 24), 1); // time_gran
        assert_eq!(u16::from_le_bytes([p[28], p[29]]), 256); // max_pages
        assert_eq!(u32_at(&p, 32), 0); // flags2
        assert!(o
            .request_line
            .starts_with("INIT unique=3 nodeid=0 uid=1000 gid=100 pid=42 "));
        assert!(o
            .request_line
            .contains(" caps=ASYNC_READ,ATOMIC_O_TRUNC,BIG_WRITES,"));
        assert!(o.request_line.contains(",SECURITY_CTX"));
        let r = &o.reply.as_ref().unwrap().line;
        assert!(r.starts_with("REPLY unique=3 error=0 size=64 op=INIT major=7 minor=41 "));
        assert!(r.contains(" caps=ASYNC_READ,BIG_WRITES,MAX_PAGES,INIT_EXT "));

        // With the options, and an older kernel without INIT_EXT/MAX_PAGES.
        let mut t = T::new(Options {
            writeback: true,
            atomic_o_trunc: true,
            max_write: 4 << 20,
            max_pages: 64,
            time_gran: 1000,
            ..Options::default()
        });
        let offered = initflags::ASYNC_READ
            | initflags::ATOMIC_O_TRUNC
            | initflags::WRITEBACK_CACHE
            | initflags::BIG_WRITES;
        let i = InitIn {
            major: 7,
            minor: 31,
            max_readahead: 4096,
            flags: offered as u32,
            flags2: 0xffff_ffff, // ignored without INIT_EXT
        };
        let o = t.req(opcode::INIT, 0, &i.encode());
        let (_, p) = parts(&o);
        assert_eq!(u32_at(&p, 4), 31);
        assert_eq!(u64::from(u32_at(&p, 12)), offered);
        assert_eq!(u32_at(&p, 8), 4096);
        assert_eq!(u32_at(&p, 20), 4 << 20);
        assert_eq!(u32_at(&p, 24), 1000);
        assert_eq!(u16::from_le_bytes([p[28], p[29]]), 0); // not offered
        assert_eq!(u32_at(&p, 32), 0);
        // Major 6 is refused.
        let old = InitIn {
            major: 6,
            ..InitIn::default()
        };
        let o = t.req(opcode::INIT, 0, &old.encode());
        assert_eq!(parts(&o).0, -libc::EPROTO);
    }

    #[test]
    fn create_write_read_and_log_lines() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("f", libc::O_WRONLY | libc::O_CREAT);
        let o = t.write(id, fh, 0, &[7u8; 5000], proto::FUSE_WRITE_CACHE);
        assert_eq!(
            o.request_line,
            format!(
                "WRITE unique={} nodeid={id} uid=1000 gid=100 pid=42 file=f fh={fh} offset=0 \
                 size=5000 end=5000 write_flags=0x1 cache=1 lock_owner=0x0 flags=0x8001",
                t.unique
            )
        );
        let (err, p) = parts(&o);
        assert_eq!((err, u32_at(&p, 0)), (0, 5000));
        assert_eq!(
            o.reply.as_ref().unwrap().line,
            format!(
                "REPLY unique={} error=0 size=5000 op=WRITE file=f",
                t.unique
            )
        );
        // The READ on the O_WRONLY handle is served and flagged.
        let o = t.read(id, fh, 4000, 4096);
        assert!(
            o.request_line.ends_with(" wronly_fh=1"),
            "{}",
            o.request_line
        );
        let (err, p) = parts(&o);
        assert_eq!((err, p.len()), (0, 1000));
        assert!(p.iter().all(|&b| b == 7));
        assert!(o.reply.unwrap().line.contains(" size=1000 op=READ file=f"));
        // A handle of another node or an unknown one is flagged.
        let o = t.read(id, 999, 0, 10);
        assert!(o.request_line.contains(" badfh=1"));
        assert_eq!(t.getattr(id).size, 5000);
        assert_eq!(t.getattr(id).nlink, 1);
        // CREATE's line.
        let c = CreateIn {
            flags: (libc::O_RDWR | libc::O_CREAT | libc::O_EXCL) as u32,
            mode: 0o100600,
            umask: 0o22,
            open_flags: 0,
            name: b"a b".to_vec(),
        };
        let o = t.req(opcode::CREATE, 1, &c.encode());
        assert!(o.request_line.contains(
            " file=a\\x20b flags=0xc2 oflags=RDWR|CREAT|EXCL mode=0100600 umask=022 \
             open_flags=0x0 name=a\\x20b"
        ));
        // O_EXCL on an existing name.
        let o = t.req(opcode::CREATE, 1, &c.encode());
        assert_eq!(parts(&o).0, -libc::EEXIST);
        assert!(o.reply.unwrap().line.contains(" errno=EEXIST"));
    }

    #[test]
    fn scripted_writes() {
        let mut t = T::new(Options {
            slow_ms: 50,
            ..Options::default()
        });
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("short-x", libc::O_RDWR);
        let o = t.write(id, fh, 0, &[1u8; 8192], 0);
        assert_eq!(u32_at(&parts(&o).1, 0), 4096);
        assert!(o
            .reply
            .as_ref()
            .unwrap()
            .line
            .contains(" size=4096 op=WRITE"));
        assert!(o.reply.unwrap().line.ends_with(" short=1"));
        assert_eq!(t.getattr(id).size, 4096);
        // Small writes are whole.
        let o = t.write(id, fh, 4096, &[1u8; 4096], 0);
        assert_eq!(u32_at(&parts(&o).1, 0), 4096);

        let (id, fh) = t.create("eio-x", libc::O_RDWR);
        let o = t.write(id, fh, 0, b"abc", 0);
        assert_eq!(parts(&o).0, -libc::EIO);
        assert_eq!(t.getattr(id).size, 0);
        let (id, fh) = t.create("enospc-x", libc::O_RDWR);
        assert_eq!(parts(&t.write(id, fh, 0, b"abc", 0)).0, -libc::ENOSPC);

        let (id, fh) = t.create("slow-x", libc::O_RDWR);
        let o = t.write(id, fh, 0, b"abc", 0);
        assert_eq!(o.reply.as_ref().unwrap().delay_ms, 50);
        assert_eq!(t.getattr(id).size, 3);

        let (id, fh) = t.create("hang-x", libc::O_RDWR);
        let o = t.write(id, fh, 0, b"abc", 0);
        assert!(o.reply.is_none());
        assert_eq!(
            o.noreply_line.unwrap(),
            format!(
                "NOREPLY unique={} op=WRITE reason=hang file=hang-x",
                t.unique
            )
        );
        let o = t.read(id, fh, 0, 10);
        assert!(o.reply.is_none() && o.noreply_line.is_some());
        assert_eq!(t.s.stats.unanswered, 2);
        // Other requests on it are answered.
        assert_eq!(t.getattr(id).size, 0);
    }

    #[test]
    fn open_flags_by_prefix() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        t.s.precreate("dio-p", 100).unwrap();
        let mut e = Enc::default();
        e.u32(libc::O_RDWR as u32).u32(0);
        let open = |t: &mut T, name: &str| {
            let mut n = name.as_bytes().to_vec();
            n.push(0);
            let id = u64_at(&parts(&t.req(opcode::LOOKUP, 1, &n)).1, 0);
            t.req(opcode::OPEN, id, &e.0)
        };
        // OPEN: fh, then open_flags (FOPEN_DIRECT_IO is bit 0).
        let o = open(&mut t, "dio-p");
        let (err, p) = parts(&o);
        assert_eq!((err, u32_at(&p, 8)), (0, proto::FOPEN_DIRECT_IO));
        let line = &o.reply.as_ref().unwrap().line;
        assert!(line.ends_with(" open_flags=0x1"), "{line}");
        // CREATE of a keep- file: FOPEN_KEEP_CACHE, logged before ino=.
        let c = CreateIn {
            flags: libc::O_RDWR as u32,
            mode: 0o100644,
            umask: 0,
            open_flags: 0,
            name: b"keep-c".to_vec(),
        };
        let o = t.req(opcode::CREATE, 1, &c.encode());
        let (err, p) = parts(&o);
        assert_eq!(err, 0);
        assert_eq!(
            u32_at(&p, proto::ENTRY_OUT_SIZE + 8),
            proto::FOPEN_KEEP_CACHE
        );
        let line = &o.reply.as_ref().unwrap().line;
        assert!(line.contains(" open_flags=0x2 ino="), "{line}");
        // Other files: no flags, nothing logged.
        t.s.precreate("plain", 1).unwrap();
        let o = open(&mut t, "plain");
        assert_eq!(u32_at(&parts(&o).1, 8), 0);
        assert!(!o.reply.unwrap().line.contains("open_flags"));
        // --keep-cache adds KEEP_CACHE to every file, dio- ones too.
        let mut t = T::new(Options {
            keep_cache: true,
            ..Options::default()
        });
        t.init(KERNEL_FLAGS);
        t.s.precreate("dio-q", 1).unwrap();
        let o = open(&mut t, "dio-q");
        assert_eq!(
            u32_at(&parts(&o).1, 8),
            proto::FOPEN_DIRECT_IO | proto::FOPEN_KEEP_CACHE
        );
        assert!(o.reply.unwrap().line.ends_with(" open_flags=0x3"));
    }

    #[test]
    fn nocopy_source_gets_enosys() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (src, sfh) = t.create("nocopy-s", libc::O_RDWR);
        t.write(src, sfh, 0, &[5u8; 100], 0);
        let (dst, dfh) = t.create("d", libc::O_RDWR);
        let c = CopyFileRangeIn {
            fh_in: sfh,
            off_in: 0,
            nodeid_out: dst,
            fh_out: dfh,
            off_out: 0,
            len: 100,
            flags: 0,
        };
        let o = t.req(opcode::COPY_FILE_RANGE, src, &c.encode());
        assert_eq!(parts(&o).0, -libc::ENOSYS);
        assert!(o.request_line.contains(" file=nocopy-s fh_in="));
        assert!(o.request_line.contains(" len=100 flags=0x0 file_out=d"));
        assert!(o.reply.unwrap().line.contains(" errno=ENOSYS"));
        assert_eq!(t.getattr(dst).size, 0);
        // Into a nocopy- file (from a normal one) copies.
        let c = CopyFileRangeIn {
            fh_in: dfh,
            nodeid_out: src,
            fh_out: sfh,
            off_out: 200,
            ..c
        };
        t.write(dst, dfh, 0, &[6u8; 10], 0);
        let o = t.req(opcode::COPY_FILE_RANGE, dst, &c.encode());
        assert_eq!((parts(&o).0, u32_at(&parts(&o).1, 0)), (0, 10));
        assert_eq!(t.getattr(src).size, 210);
    }

    #[test]
    fn stale_files_lie_in_getattr_and_lookup_only() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("stale-x", libc::O_RDWR);
        t.write(id, fh, 0, &[1u8; 100], 0);
        let a = t.getattr(id);
        assert_eq!((a.size, a.mtime), (100 + STALE_EXTRA_SIZE, STALE_MTIME));
        let o = t.req(opcode::LOOKUP, 1, b"stale-x\0");
        let (err, p) = parts(&o);
        assert_eq!(err, 0);
        assert_eq!(u64_at(&p, 0), id);
        assert_eq!(attr_from(&p[40..]).size, 100 + STALE_EXTRA_SIZE);
        // SETATTR answers the truth.
        let s = SetattrIn {
            valid: fattr::MODE,
            mode: 0o100600,
            ..SetattrIn::default()
        };
        let o = t.req(opcode::SETATTR, id, &s.encode());
        let (_, p) = parts(&o);
        let a = attr_from(&p[16..]);
        assert_eq!(a.size, 100);
        assert_eq!(a.mode, 0o100600);
        assert!(a.mtime > STALE_MTIME);
    }

    #[test]
    fn lazytrunc_defers_only_the_size_change() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("lazytrunc-f", libc::O_RDWR);
        t.write(id, fh, 0, &[9u8; 4096], 0);
        let s = SetattrIn {
            valid: fattr::SIZE,
            size: 0,
            ..SetattrIn::default()
        };
        t.unique += 2;
        let bytes = hdr(opcode::SETATTR, t.unique, id, &s.encode());
        let o = t.s.handle(&bytes);
        assert!(o.deferred, "{}", o.request_line);
        assert!(o.reply.is_none());
    }

    #[test]
    fn hangattr_never_answers_a_setattr_of_the_times() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (id, _fh) = t.create("hangattr-f", libc::O_RDWR);
        let s = SetattrIn {
            valid: fattr::MTIME,
            mtime: 5,
            ..SetattrIn::default()
        };
        t.unique += 2;
        let bytes = hdr(opcode::SETATTR, t.unique, id, &s.encode());
        let o = t.s.handle(&bytes);
        assert!(o.reply.is_none(), "{}", o.request_line);
        let s = SetattrIn {
            valid: fattr::SIZE,
            size: 0,
            ..SetattrIn::default()
        };
        t.unique += 2;
        let bytes = hdr(opcode::SETATTR, t.unique, id, &s.encode());
        assert!(t.s.handle(&bytes).reply.is_some());
    }

    #[test]
    fn lazy_setattr_is_deferred() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        // CREATE of a lazy- file is deferred too: create it as replayed.
        t.s.replaying = true;
        let (id, fh) = t.create("lazy-f", libc::O_RDWR);
        t.s.replaying = false;
        t.write(id, fh, 0, &[9u8; 8192], 0);
        let s = SetattrIn {
            valid: fattr::SIZE,
            size: 0,
            ..SetattrIn::default()
        };
        t.unique += 2;
        let bytes = hdr(opcode::SETATTR, t.unique, id, &s.encode());
        let o = t.s.handle(&bytes);
        assert!(o.deferred);
        assert!(o.reply.is_none());
        assert!(
            o.request_line.ends_with(" size=0 deferred_ms=200"),
            "{}",
            o.request_line
        );
        // Not applied yet: a WRITE meanwhile lands first.
        assert_eq!(t.s.fs.node(id).unwrap().data.size(), 8192);
        let o = t.s.handle_deferred(&bytes);
        assert!(!o.deferred);
        let r = o.reply.unwrap();
        assert!(r.line.starts_with("REPLY "), "{}", r.line);
        assert_eq!(t.s.fs.node(id).unwrap().data.size(), 0);
        // OPEN is put off the same way.
        let mut e = Enc::default();
        e.u32(libc::O_RDONLY as u32).u32(0);
        let o = t.req(opcode::OPEN, id, &e.0);
        assert!(o.deferred, "{}", o.request_line);
    }

    #[test]
    fn lazylookup_and_parallel_dirops() {
        let mut t = T::new(Options {
            parallel_dirops: true,
            ..Options::default()
        });
        let o = t.init(KERNEL_FLAGS | initflags::PARALLEL_DIROPS);
        let r = &o.reply.as_ref().unwrap().line;
        assert!(r.contains(",PARALLEL_DIROPS,"), "{r}");
        t.s.replaying = true;
        t.create("lazylookup-a", libc::O_RDWR);
        t.s.replaying = false;
        let o = t.req(opcode::LOOKUP, fs::ROOT, b"lazylookup-a\0");
        assert!(o.deferred && o.reply.is_none(), "{}", o.request_line);
        assert!(o
            .request_line
            .ends_with(" name=lazylookup-a deferred_ms=200"));
        let bytes = hdr(opcode::LOOKUP, t.unique, fs::ROOT, b"lazylookup-a\0");
        let o = t.s.handle_deferred(&bytes);
        let r = o.reply.unwrap();
        assert!(
            r.line.starts_with("REPLY ") && r.line.contains(" error=0 "),
            "{}",
            r.line
        );
        // Other names are answered at once.
        let o = t.req(opcode::LOOKUP, fs::ROOT, b"lazy-b\0");
        assert!(!o.deferred && o.reply.is_some());
    }

    #[test]
    fn lazyread_defers_read_only() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        t.s.replaying = true;
        let (id, fh) = t.create("lazyread-f", libc::O_RDWR);
        t.s.replaying = false;
        let o = t.write(id, fh, 0, b"abcd", 0);
        assert!(!o.deferred && o.reply.is_some(), "{}", o.request_line);
        let o = t.read(id, fh, 0, 4096);
        assert!(o.deferred && o.reply.is_none(), "{}", o.request_line);
        assert!(
            o.request_line.ends_with(" deferred_ms=200"),
            "{}",
            o.request_line
        );
        let bytes = hdr(
            opcode::READ,
            t.unique,
            id,
            &ReadIn {
                fh,
                offset: 0,
                size: 4096,
                ..ReadIn::default()
            }
            .encode(),
        );
        let o = t.s.handle_deferred(&bytes);
        let r = o.reply.unwrap();
        assert!(r.line.contains(" error=0 size=4 "), "{}", r.line);
    }

    #[test]
    fn lazywrite_defers_write_only() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        t.s.replaying = true;
        let (id, fh) = t.create("lazywrite-f", libc::O_RDWR);
        t.s.replaying = false;
        let o = t.write(id, fh, 0, b"abcd", 0);
        assert!(o.deferred && o.reply.is_none(), "{}", o.request_line);
        assert!(
            o.request_line.ends_with(" deferred_ms=200"),
            "{}",
            o.request_line
        );
        // Not applied until answered.
        let o = t.read(id, fh, 0, 4096);
        assert!(!o.deferred, "{}", o.request_line);
        assert!(o.reply.unwrap().line.contains(" size=0 "));
        let mut e = Enc::default();
        e.u64(fh).u32(0).u32(0);
        let o = t.req(opcode::FSYNC, id, &e.0);
        assert!(o.deferred && o.reply.is_none(), "{}", o.request_line);
    }

    #[test]
    fn open_kill_suidgid_with_o_trunc_only() {
        let mut t = T::new(Options {
            killpriv_v2: true,
            atomic_o_trunc: true,
            ..Options::default()
        });
        let o = t.init(KERNEL_FLAGS | initflags::HANDLE_KILLPRIV_V2);
        let r = &o.reply.as_ref().unwrap().line;
        assert!(r.contains(",HANDLE_KILLPRIV_V2,"), "{r}");
        let (id, _) = t.create("f", libc::O_RDWR);
        t.s.fs.node_mut(id).unwrap().mode = 0o106755;
        let open = |t: &mut T, flags: i32, open_flags: u32| {
            let mut e = Enc::default();
            e.u32(flags as u32).u32(open_flags);
            let o = t.req(opcode::OPEN, id, &e.0);
            assert_eq!(parts(&o).0, 0, "{o:?}");
            t.s.fs.node(id).unwrap().mode
        };
        // The flag without O_TRUNC, and O_TRUNC without the flag: kept.
        assert_eq!(
            open(&mut t, libc::O_RDWR, proto::FUSE_OPEN_KILL_SUIDGID),
            0o106755
        );
        assert_eq!(open(&mut t, libc::O_RDWR | libc::O_TRUNC, 0), 0o106755);
        assert_eq!(
            open(
                &mut t,
                libc::O_RDWR | libc::O_TRUNC,
                proto::FUSE_OPEN_KILL_SUIDGID
            ),
            0o100755
        );
    }

    #[test]
    fn xattrs_and_acls() {
        let mut t = T::new(Options {
            posix_acl: true,
            dont_mask: true,
            ..Options::default()
        });
        let o = t.init(
            KERNEL_FLAGS | initflags::POSIX_ACL | initflags::DONT_MASK | initflags::SETXATTR_EXT,
        );
        let r = &o.reply.as_ref().unwrap().line;
        assert!(
            r.contains(",DONT_MASK,") && r.contains(",POSIX_ACL,") && r.contains(",SETXATTR_EXT"),
            "{r}"
        );
        // DONT_MASK: the umask is applied here.
        let mid = t.mknod_0666_027(b"m");
        assert_eq!(t.s.fs.node(mid).unwrap().mode, 0o100640);
        let (id, _) = t.create("f", libc::O_RDWR);
        let get = |t: &mut T, size: u32, name: &[u8]| {
            let mut e = Enc::default();
            e.u32(size).u32(0).bytes(name).zeros(1);
            parts(&t.req(opcode::GETXATTR, id, &e.0))
        };
        let set = |t: &mut T, flags: u32, sflags: u32, name: &[u8], value: &[u8]| {
            let s = proto::SetxattrIn {
                size: value.len() as u32,
                flags,
                setxattr_flags: sflags,
                name: name.to_vec(),
                value: value.to_vec(),
            };
            parts(&t.req(opcode::SETXATTR, id, &s.encode())).0
        };
        assert_eq!(get(&mut t, 64, b"user.a").0, -libc::ENODATA);
        assert_eq!(
            set(&mut t, libc::XATTR_REPLACE as u32, 0, b"user.a", b"1"),
            -libc::ENODATA
        );
        assert_eq!(set(&mut t, 0, 0, b"user.a", b"xyz"), 0);
        assert_eq!(
            set(&mut t, libc::XATTR_CREATE as u32, 0, b"user.a", b"1"),
            -libc::EEXIST
        );
        assert_eq!(get(&mut t, 0, b"user.a"), (0, proto::getxattr_out(3)));
        assert_eq!(get(&mut t, 2, b"user.a").0, -libc::ERANGE);
        assert_eq!(get(&mut t, 3, b"user.a"), (0, b"xyz".to_vec()));
        // An access ACL sets the mode bits (mask rw- for the group class)
        // and, when asked, clears sgid.
        t.s.fs.node_mut(id).unwrap().mode = 0o102644;
        let mut acl = Enc::default();
        acl.u32(2);
        for (tag, perm, id) in [
            (1u16, 7u16, u32::MAX),
            (2, 4, 65534),
            (4, 4, u32::MAX),
            (0x10, 6, u32::MAX),
            (0x20, 0, u32::MAX),
        ] {
            acl.u16(tag).u16(perm).u32(id);
        }
        let name = b"system.posix_acl_access";
        let s = proto::SetxattrIn {
            size: acl.0.len() as u32,
            flags: 0,
            setxattr_flags: proto::FUSE_SETXATTR_ACL_KILL_SGID,
            name: name.to_vec(),
            value: acl.0.clone(),
        };
        let o = t.req(opcode::SETXATTR, id, &s.encode());
        assert_eq!(parts(&o).0, 0);
        let line = &o.request_line;
        assert!(
            line.contains("setxattr_flags=0x1 acl_kill_sgid name=system.posix_acl_access"),
            "{line}"
        );
        assert_eq!(t.s.fs.node(id).unwrap().mode, 0o100760);
        let o = t.req(opcode::LISTXATTR, id, &[64, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            parts(&o),
            (0, b"system.posix_acl_access\0user.a\0".to_vec())
        );
        assert_eq!(parts(&t.req(opcode::REMOVEXATTR, id, b"user.a\0")).0, 0);
        assert_eq!(
            parts(&t.req(opcode::REMOVEXATTR, id, b"user.a\0")).0,
            -libc::ENODATA
        );
        assert_eq!(acl_mode_bits(&acl.0[..10]), None);
    }

    #[test]
    fn xattrs_get_enosys_without_the_option() {
        let mut t = T::new(Options::default());
        let o = t.init(
            KERNEL_FLAGS | initflags::POSIX_ACL | initflags::DONT_MASK | initflags::SETXATTR_EXT,
        );
        let r = &o.reply.as_ref().unwrap().line;
        assert!(
            !r.contains("DONT_MASK") && !r.contains("POSIX_ACL") && !r.contains("SETXATTR_EXT"),
            "{r}"
        );
        let id = t.mknod_0666_027(b"m");
        // Without DONT_MASK the mode is taken as sent.
        assert_eq!(t.s.fs.node(id).unwrap().mode, 0o100666);
        let o = t.req(opcode::GETXATTR, id, b"\0\0\0\0\0\0\0\0user.a\0");
        assert_eq!(parts(&o).0, -libc::ENOSYS);
    }

    #[test]
    fn setattr_logs_and_applies() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("f", libc::O_RDWR);
        t.write(id, fh, 0, &[9u8; 16384], 0);
        let s = SetattrIn {
            valid: fattr::SIZE
                | fattr::FH
                | fattr::LOCKOWNER
                | fattr::MTIME
                | fattr::ATIME
                | fattr::ATIME_NOW
                | fattr::MODE
                | fattr::CTIME,
            fh,
            size: 5000,
            lock_owner: 0xab,
            mtime: 1234,
            mtimensec: 5,
            ctime: 77,
            mode: 0o100640,
            ..SetattrIn::default()
        };
        let o = t.req(opcode::SETATTR, id, &s.encode());
        assert!(
            o.request_line.ends_with(&format!(
                " file=f valid=0x6f9 mode=0100640 size=5000 atime=0.000000000 atime_now \
                 mtime=1234.000000005 ctime=77.000000000 fh={fh} lock_owner=0xab"
            )),
            "{}",
            o.request_line
        );
        let (err, p) = parts(&o);
        assert_eq!(err, 0);
        let a = attr_from(&p[16..]);
        assert_eq!((a.size, a.mtime, a.mode), (5000, 1234, 0o100640));
        let n = t.s.fs.node(id).unwrap();
        assert_eq!(n.ctime.sec, 77);
        assert!(n.atime.sec > 1_000_000_000);
        // Truncated data reads back as zeros when regrown.
        let s = SetattrIn {
            valid: fattr::SIZE | fattr::MTIME_NOW | fattr::MTIME,
            size: 8192,
            ..SetattrIn::default()
        };
        let o = t.req(opcode::SETATTR, id, &s.encode());
        assert!(o.request_line.ends_with(" mtime_now"));
        let (_, p) = parts(&t.read(id, fh, 0, 8192));
        assert!(p[..5000].iter().all(|&b| b == 9));
        assert!(p[5000..].iter().all(|&b| b == 0));
        // SIZE on the root directory.
        let s = SetattrIn {
            valid: fattr::SIZE,
            ..SetattrIn::default()
        };
        assert_eq!(
            parts(&t.req(opcode::SETATTR, 1, &s.encode())).0,
            -libc::EISDIR
        );
    }

    #[test]
    fn tmpfile_link_unlink() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let c = CreateIn {
            flags: (libc::O_RDWR | libc::O_TMPFILE) as u32,
            mode: 0o100640,
            umask: 0o22,
            open_flags: 0,
            name: b"/".to_vec(),
        };
        let o = t.req(opcode::TMPFILE, 1, &c.encode());
        assert!(o.request_line.contains(" file=tmpfile "), "{o:?}");
        let (err, p) = parts(&o);
        assert_eq!(err, 0, "{o:?}");
        assert_eq!(p.len(), proto::ENTRY_OUT_SIZE + proto::OPEN_OUT_SIZE);
        let (id, fh) = (u64_at(&p, 0), u64_at(&p, proto::ENTRY_OUT_SIZE));
        assert_eq!(t.getattr(id).nlink, 0);
        assert_eq!(t.getattr(id).mode, 0o100640);
        assert_eq!(parts(&t.write(id, fh, 0, b"abc", 0)).0, 0);
        let mut l = Enc::default();
        l.u64(id);
        let mut a = l.0.clone();
        a.extend_from_slice(b"named\0");
        let o = t.req(opcode::LINK, 1, &a);
        assert!(
            o.request_line
                .ends_with(&format!(" file=named oldnodeid={id} name=named")),
            "{o:?}"
        );
        assert_eq!(parts(&o).0, 0);
        assert_eq!(t.getattr(id).nlink, 1);
        // The second name: EEXIST for a taken one, then two links.
        assert_eq!(parts(&t.req(opcode::LINK, 1, &a)).0, -libc::EEXIST);
        let mut a2 = l.0.clone();
        a2.extend_from_slice(b"other\0");
        assert_eq!(parts(&t.req(opcode::LINK, 1, &a2)).0, 0);
        assert_eq!(t.getattr(id).nlink, 2);
        assert_eq!(parts(&t.req(opcode::UNLINK, 1, b"named\0")).0, 0);
        assert_eq!(t.getattr(id).nlink, 1);
        assert_eq!(parts(&t.read(id, fh, 0, 10)).1, b"abc");
        // Without it: ENOSYS.
        let mut t = T::new(Options {
            no_tmpfile: true,
            ..Options::default()
        });
        t.init(KERNEL_FLAGS);
        assert_eq!(
            parts(&t.req(opcode::TMPFILE, 1, &c.encode())).0,
            -libc::ENOSYS
        );
    }

    #[test]
    fn mknod_open_unlink_forget() {
        let mut t = T::new(Options {
            no_create: true,
            atomic_o_trunc: true,
            ..Options::default()
        });
        t.init(KERNEL_FLAGS);
        let c = CreateIn {
            flags: libc::O_WRONLY as u32,
            mode: 0o100644,
            umask: 0,
            open_flags: 0,
            name: b"n".to_vec(),
        };
        assert_eq!(
            parts(&t.req(opcode::CREATE, 1, &c.encode())).0,
            -libc::ENOSYS
        );
        let m = MknodIn {
            mode: 0o100644,
            rdev: 0,
            umask: 0o22,
            name: b"n".to_vec(),
        };
        let o = t.req(opcode::MKNOD, 1, &m.encode());
        assert!(o
            .request_line
            .ends_with(" file=n mode=0100644 rdev=0x0 umask=022 name=n"));
        let (err, p) = parts(&o);
        assert_eq!(err, 0);
        let id = u64_at(&p, 0);
        let fifo = MknodIn {
            mode: 0o010644,
            name: b"p".to_vec(),
            ..m
        };
        assert_eq!(
            parts(&t.req(opcode::MKNOD, 1, &fifo.encode())).0,
            -libc::EPERM
        );
        // OPEN with O_TRUNC truncates.
        let mut e = Enc::default();
        e.u32((libc::O_WRONLY | libc::O_TRUNC | libc::O_APPEND) as u32)
            .u32(0);
        let o = t.req(opcode::OPEN, id, &e.0);
        assert!(o
            .request_line
            .contains(" flags=0x601 oflags=WRONLY|TRUNC|APPEND "));
        let fh = u64_at(&parts(&o).1, 0);
        t.write(id, fh, 0, b"hello", 0);
        let o = t.req(opcode::OPEN, id, &e.0);
        assert_eq!(parts(&o).0, 0);
        assert_eq!(t.getattr(id).size, 0);
        // Unlink while open: data stays reachable by node id.
        t.write(id, fh, 0, b"hello", 0);
        let o = t.req(opcode::UNLINK, 1, b"n\0");
        assert_eq!(parts(&o).0, 0);
        assert!(o.request_line.ends_with(" file=n name=n"));
        assert_eq!(parts(&t.req(opcode::LOOKUP, 1, b"n\0")).0, -libc::ENOENT);
        assert_eq!(parts(&t.read(id, fh, 0, 10)).1, b"hello");
        assert_eq!(t.getattr(id).nlink, 0);
        let o = t.req(opcode::FORGET, id, &1u64.to_le_bytes());
        assert!(o.reply.is_none() && o.noreply_line.is_none());
        assert!(o.request_line.ends_with(" file=n nlookup=1"));
        assert!(t.s.fs.node(id).is_none());
        let o = t.req(opcode::FORGET, id, &1u64.to_le_bytes());
        assert!(o.request_line.ends_with(" nlookup=1 unknown_node=1"));
        // RELEASE.
        let mut r = Enc::default();
        r.u64(fh).u32(1).u32(proto::FUSE_RELEASE_FLUSH).u64(0);
        let o = t.req(opcode::RELEASE, id, &r.0);
        assert!(o.request_line.contains(" release_flush"));
        assert!(!o.request_line.contains("badfh"));
        let o = t.req(opcode::RELEASE, id, &r.0);
        assert!(o.request_line.contains(" badfh=1"));
    }

    #[test]
    fn options_turn_ops_into_enosys() {
        let mut t = T::new(Options {
            no_flush: true,
            no_fsync: true,
            no_fallocate: true,
            no_lseek: true,
            no_copy_file_range: true,
            ..Options::default()
        });
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("f", libc::O_RDWR);
        let mut e = Enc::default();
        e.u64(fh).u32(0).u32(0).u64(0);
        assert_eq!(parts(&t.req(opcode::FLUSH, id, &e.0)).0, -libc::ENOSYS);
        let mut e = Enc::default();
        e.u64(fh).u32(proto::FUSE_FSYNC_FDATASYNC).u32(0);
        let o = t.req(opcode::FSYNC, id, &e.0);
        assert_eq!(parts(&o).0, -libc::ENOSYS);
        assert!(o
            .request_line
            .ends_with(&format!(" fh={fh} fsync_flags=0x1 datasync")));
        let f = FallocateIn::default().encode();
        assert_eq!(parts(&t.req(opcode::FALLOCATE, id, &f)).0, -libc::ENOSYS);
        let mut l = Enc::default();
        l.u64(fh).u64(0).u32(proto::SEEK_DATA).u32(0);
        assert_eq!(parts(&t.req(opcode::LSEEK, id, &l.0)).0, -libc::ENOSYS);
        let c = CopyFileRangeIn::default().encode();
        assert_eq!(
            parts(&t.req(opcode::COPY_FILE_RANGE, id, &c)).0,
            -libc::ENOSYS
        );
        // Unknown opcodes.
        let o = t.req(opcode::DESTROY + 100, id, &[]);
        assert_eq!(parts(&o).0, -libc::ENOSYS);
        assert!(o.request_line.starts_with("OP138 "));
    }

    #[test]
    fn fallocate_lseek_copy() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        t.s.precreate("src", 10_000).unwrap();
        let o = t.req(opcode::LOOKUP, 1, b"src\0");
        let src = u64_at(&parts(&o).1, 0);
        let mut e = Enc::default();
        e.u32(libc::O_RDONLY as u32).u32(0);
        let sfh = u64_at(&parts(&t.req(opcode::OPEN, src, &e.0)).1, 0);
        let (dst, dfh) = t.create("dst", libc::O_RDWR);
        // Punch a hole in the source's second block.
        let f = FallocateIn {
            fh: sfh,
            offset: 4096,
            length: 4096,
            mode: proto::FALLOC_FL_PUNCH_HOLE | proto::FALLOC_FL_KEEP_SIZE,
        };
        let o = t.req(opcode::FALLOCATE, src, &f.encode());
        assert_eq!(parts(&o).0, 0);
        assert!(o.request_line.ends_with(&format!(
            " fh={sfh} offset=4096 length=4096 mode=0x3 keep_size punch_hole"
        )));
        let seek = |t: &mut T, off: u64, whence: u32| {
            let mut l = Enc::default();
            l.u64(sfh).u64(off).u32(whence).u32(0);
            let o = t.req(opcode::LSEEK, src, &l.0);
            let (err, p) = parts(&o);
            if err == 0 {
                Ok(u64_at(&p, 0))
            } else {
                Err(-err)
            }
        };
        assert_eq!(seek(&mut t, 0, proto::SEEK_HOLE), Ok(4096));
        assert_eq!(seek(&mut t, 4096, proto::SEEK_DATA), Ok(8192));
        assert_eq!(seek(&mut t, 20_000, proto::SEEK_DATA), Err(libc::ENXIO));
        assert_eq!(seek(&mut t, 0, 0), Err(libc::EINVAL));
        // Pure PUNCH_HOLE (without KEEP_SIZE) is refused.
        let bad = FallocateIn {
            mode: proto::FALLOC_FL_PUNCH_HOLE,
            ..f
        };
        assert_eq!(
            parts(&t.req(opcode::FALLOCATE, src, &bad.encode())).0,
            -libc::EOPNOTSUPP
        );
        // Copy 9000 bytes from offset 1000: only 9000 exist.
        let c = CopyFileRangeIn {
            fh_in: sfh,
            off_in: 1000,
            nodeid_out: dst,
            fh_out: dfh,
            off_out: 10,
            len: 1 << 20,
            flags: 0,
        };
        let o = t.req(opcode::COPY_FILE_RANGE, src, &c.encode());
        assert!(o.request_line.contains(" file_out=dst"));
        assert!(!o.request_line.contains("badfh"));
        assert_eq!(u32_at(&parts(&o).1, 0), 9000);
        assert_eq!(t.getattr(dst).size, 9010);
        let (_, p) = parts(&t.read(dst, dfh, 10, 100));
        assert_eq!(p[0], fs::pattern_byte(1000));
        // mode 0 grows the file.
        let grow = FallocateIn {
            fh: dfh,
            offset: 0,
            length: 20_000,
            mode: 0,
        };
        assert_eq!(parts(&t.req(opcode::FALLOCATE, dst, &grow.encode())).0, 0);
        assert_eq!(t.getattr(dst).size, 20_000);
    }

    #[test]
    fn directory_ops() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        t.s.precreate("b", 1).unwrap();
        t.s.precreate("a", 2).unwrap();
        assert!(t.s.precreate("a", 2).is_err());
        let mut e = Enc::default();
        e.u32(0).u32(0);
        let o = t.req(opcode::OPENDIR, 1, &e.0);
        let fh = u64_at(&parts(&o).1, 0);
        let rd = |t: &mut T, off: u64, size: u32| {
            let a = ReadIn {
                fh,
                offset: off,
                size,
                ..ReadIn::default()
            }
            .encode();
            parts(&t.req(opcode::READDIR, 1, &a)).1
        };
        let p = rd(&mut t, 0, 4096);
        // ".", "..", "a", "b": 24-byte names padded to 32.
        assert_eq!(p.len(), 4 * 32);
        assert_eq!(&p[3 * 32 + 24..3 * 32 + 25], b"b");
        assert_eq!(u64_at(&p, 2 * 32 + 8), 3); // "a" has off 3
        let p = rd(&mut t, 3, 4096);
        assert_eq!(p.len(), 32);
        assert_eq!(&p[24..25], b"b");
        assert_eq!(rd(&mut t, 0, 40).len(), 32);
        assert!(rd(&mut t, 4, 4096).is_empty());
        let mut r = Enc::default();
        r.u64(fh).u32(0).u32(0).u64(0);
        assert_eq!(parts(&t.req(opcode::RELEASEDIR, 1, &r.0)).0, 0);
        assert_eq!(parts(&t.req(opcode::OPENDIR, 2, &e.0)).0, -libc::ENOTDIR);
        // STATFS and ACCESS.
        let (err, p) = parts(&t.req(opcode::STATFS, 1, &[]));
        assert_eq!((err, p.len()), (0, proto::STATFS_OUT_SIZE));
        assert_eq!(
            parts(&t.req(opcode::ACCESS, 1, &[4, 0, 0, 0, 0, 0, 0, 0])).0,
            0
        );
    }

    #[test]
    fn no_reply_requests_and_malformed_ones() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let o = t.req(opcode::INTERRUPT, 0, &77u64.to_le_bytes());
        assert!(o.reply.is_none() && o.noreply_line.is_none());
        assert!(o.request_line.ends_with(" target=77"));
        let mut b = Enc::default();
        b.u32(2).u32(0).u64(5).u64(1).u64(6).u64(2);
        let o = t.req(opcode::BATCH_FORGET, 0, &b.0);
        assert!(o.reply.is_none());
        assert!(o.request_line.ends_with(" count=2 nodes=5:1,6:2"));
        // Short arguments get EINVAL, never a panic.
        for op in [
            opcode::INIT,
            opcode::SETATTR,
            opcode::OPEN,
            opcode::CREATE,
            opcode::MKNOD,
            opcode::READ,
            opcode::WRITE,
            opcode::FLUSH,
            opcode::FSYNC,
            opcode::RELEASE,
            opcode::FALLOCATE,
            opcode::LSEEK,
            opcode::COPY_FILE_RANGE,
            opcode::READDIR,
            opcode::OPENDIR,
            opcode::ACCESS,
        ] {
            let o = t.req(op, 1, &[1, 2]);
            assert_eq!(parts(&o).0, -libc::EINVAL, "{}", opcode::name(op));
            assert!(o.request_line.ends_with(" malformed=1"));
        }
        for op in [opcode::FORGET, opcode::INTERRUPT, opcode::BATCH_FORGET] {
            let o = t.req(op, 1, &[1]);
            assert!(o.reply.is_none());
        }
        let o = t.s.handle(&[0; 10]);
        assert_eq!(o.request_line, "SHORT_REQUEST len=10");
        assert!(o.reply.is_none());
        // A WRITE claiming more data than it carries.
        let (id, fh) = t.create("f", libc::O_RDWR);
        let mut a = WriteIn {
            fh,
            size: 100,
            ..WriteIn::default()
        }
        .encode();
        a.extend_from_slice(b"abc");
        let o = t.req(opcode::WRITE, id, &a);
        assert_eq!(parts(&o).0, -libc::EINVAL);
        assert!(o.request_line.contains(" data=3"));
        // Fuzz a little: random-ish bytes for every opcode.
        let mut seed = 12345u64;
        for op in 0..60u32 {
            for len in [0usize, 1, 7, 8, 16, 24, 40, 64, 100] {
                let arg: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (seed >> 33) as u8
                    })
                    .collect();
                let _ = t.req(op, 1 + u64::from(op % 3), &arg);
            }
        }
    }

    #[test]
    fn extreme_offsets_are_errors_not_panics() {
        let mut t = T::new(Options::default());
        t.init(KERNEL_FLAGS);
        let (id, fh) = t.create("f", libc::O_RDWR);
        let o = t.write(id, fh, u64::MAX - 1, b"abc", 0);
        assert_eq!(parts(&o).0, -libc::EFBIG);
        assert!(o.request_line.contains(&format!(" end={}", u64::MAX)));
        assert_eq!(parts(&t.read(id, fh, u64::MAX, u32::MAX)).1.len(), 0);
        let s = SetattrIn {
            valid: fattr::SIZE,
            size: u64::MAX,
            ..SetattrIn::default()
        };
        assert_eq!(
            parts(&t.req(opcode::SETATTR, id, &s.encode())).0,
            -libc::EFBIG
        );
        // A huge sparse size: reads and copies stay bounded.
        let s = SetattrIn {
            valid: fattr::SIZE,
            size: fs::MAX_FILE_SIZE,
            ..SetattrIn::default()
        };
        assert_eq!(parts(&t.req(opcode::SETATTR, id, &s.encode())).0, 0);
        for mode in [0, 1, 3, 0x10, 0x11] {
            let f = FallocateIn {
                fh,
                offset: u64::MAX - 10,
                length: 100,
                mode,
            };
            assert_eq!(
                parts(&t.req(opcode::FALLOCATE, id, &f.encode())).0,
                -libc::EFBIG
            );
        }
        let f = FallocateIn {
            fh,
            offset: 0,
            length: fs::MAX_FILE_SIZE,
            mode: 0x10,
        };
        assert_eq!(
            parts(&t.req(opcode::FALLOCATE, id, &f.encode())).0,
            -libc::ENOSPC
        );
        let mut l = Enc::default();
        l.u64(fh).u64(u64::MAX).u32(proto::SEEK_HOLE).u32(0);
        assert_eq!(parts(&t.req(opcode::LSEEK, id, &l.0)).0, -libc::ENXIO);
        let mut l = Enc::default();
        l.u64(fh)
            .u64(fs::MAX_FILE_SIZE - 1)
            .u32(proto::SEEK_HOLE)
            .u32(0);
        assert_eq!(
            u64_at(&parts(&t.req(opcode::LSEEK, id, &l.0)).1, 0),
            fs::MAX_FILE_SIZE - 1
        );
        let c = CopyFileRangeIn {
            fh_in: fh,
            off_in: 0,
            nodeid_out: id,
            fh_out: fh,
            off_out: u64::MAX - 5,
            len: u64::MAX,
            flags: 0,
        };
        assert_eq!(
            parts(&t.req(opcode::COPY_FILE_RANGE, id, &c.encode())).0,
            -libc::EFBIG
        );
        let c = CopyFileRangeIn { off_out: 0, ..c };
        let o = t.req(opcode::COPY_FILE_RANGE, id, &c.encode());
        assert_eq!(u64::from(u32_at(&parts(&o).1, 0)), MAX_COPY);
    }

    #[test]
    fn helpers() {
        assert_eq!(script_of(b"short-1"), Script::Short);
        assert_eq!(script_of(b"hang-"), Script::Hang);
        assert_eq!(script_of(b"dio-x"), Script::DirectIo);
        assert_eq!(script_of(b"keep-x"), Script::KeepCache);
        assert_eq!(script_of(b"nocopy-x"), Script::NoCopy);
        assert_eq!(script_of(b"dio"), Script::Normal);
        assert_eq!(script_of(b"x-short-1"), Script::Normal);
        assert_eq!(esc(b"a=b\\c\n"), "a=b\\x5cc\\x0a");
        assert_eq!(oflags_names(0), "RDONLY");
        assert_eq!(
            oflags_names((libc::O_RDWR | libc::O_DIRECT | libc::O_SYNC) as u32),
            "RDWR|DIRECT|SYNC"
        );
        assert_eq!(oflags_names(libc::O_DSYNC as u32), "RDONLY|DSYNC");
        assert_eq!(errno_name(libc::ENOENT), "ENOENT");
        assert_eq!(errno_name(4000), "E4000");
        assert_eq!(errno_name(libc::EOPNOTSUPP), "EOPNOTSUPP");
        // Named elsewhere, not in this log.
        assert_eq!(errno_name(libc::EMSGSIZE), format!("E{}", libc::EMSGSIZE));
        for n in NAMED_ERRNOS.split_whitespace() {
            assert!((1..200).any(|e| errno_name(e) == n), "{n}");
        }
        let s = Stats {
            requests: 3,
            per_op: [("WRITE".to_string(), 2)].into_iter().collect(),
            ..Stats::default()
        };
        assert_eq!(
            s.summary(4, 1),
            "3 requests, 0 replies, 0 left unanswered, 4 nodes, 1 open handles (WRITE 2)"
        );
    }
}
