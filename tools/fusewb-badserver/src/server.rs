//! The bad server's filesystem and scenarios, as pure logic: a request's
//! bytes go in, the list of writes to perform (each with what the kernel
//! is expected to answer) comes out. All I/O is in `main.rs`.

use crate::proto::{self, opcode, Attr, AttrOut, EntryOut, InHeader, InitIn, InitOut, ReadIn};

/// How a scenario's malformed reply must be treated by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Header-level: the write fails with EINVAL and the request stays
    /// pending; a proper -ENOENT reply follows, the caller sees ENOENT.
    Header,
    /// Payload-level: the write fails with EINVAL (EFAULT for
    /// `read-efault`, whose payload is written from unmapped memory) and
    /// the caller's request fails with EIO; nothing more is sent for that
    /// unique.
    Payload,
    /// The request is never answered (the test kills the server).
    Hang,
    /// Notifications (malformed ones refused with EINVAL, well-formed ones
    /// about nodes the kernel does not know with ENOENT) are written before
    /// a correct reply: the caller's operation succeeds.
    Notify,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Header => "H",
            Class::Payload => "P",
            Class::Hang => "hang",
            Class::Notify => "N",
        }
    }
}

/// What the scenario's entry in the root directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// One scenario: an entry of the root directory named after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    pub name: &'static str,
    pub class: Class,
    pub kind: Kind,
    /// Client command that triggers it: `stat`, `cat`, `ls`, `readlink`.
    pub client_op: &'static str,
}

const fn sc(name: &'static str, class: Class, kind: Kind, client_op: &'static str) -> Scenario {
    Scenario {
        name,
        class,
        kind,
        client_op,
    }
}

use Class::{Hang, Header as H, Notify as N, Payload as P};
use Kind::{Dir, File, Symlink};

/// All scenarios, in readdir order. Node ids are 2 + index.
pub const SCENARIOS: &[Scenario] = &[
    // Malformed LOOKUP replies, header level.
    sc("short-header", H, File, "stat"),
    sc("len-too-big", H, File, "stat"),
    sc("len-too-small", H, File, "stat"),
    sc("unknown-unique", H, File, "stat"),
    sc("positive-error", H, File, "stat"),
    sc("error-out-of-range", H, File, "stat"),
    // Malformed LOOKUP replies, payload level.
    sc("error-with-payload", P, File, "stat"),
    sc("entry-oversized", P, File, "stat"),
    sc("entry-short", P, File, "stat"),
    sc("attr-bad-mode", P, File, "stat"),
    sc("attr-bad-nsec", P, File, "stat"),
    sc("entry-root-nodeid", P, File, "stat"),
    // LOOKUP succeeds; the next operation's reply is malformed.
    sc("read-oversized", P, File, "cat"),
    sc("read-efault", P, File, "cat"), // right length, payload unmapped: EFAULT
    sc("readdir-bad-namelen", P, Dir, "ls"),
    sc("readdir-zero-namelen", P, Dir, "ls"),
    sc("readdir-slash", P, Dir, "ls"),
    sc("readdir-oversized", P, Dir, "ls"),
    sc("readlink-oversized", P, Symlink, "readlink"),
    sc("getattr-bad-size", P, File, "stat"),
    // Making and removing names in (or of) the scenario's entry: the
    // reply to MKDIR, SYMLINK, LINK, RENAME, RMDIR or UNLINK is malformed.
    sc("mkdir-entry-short", P, Dir, "mkdir"),
    sc("symlink-entry-oversized", P, Dir, "symlink"),
    sc("link-attr-bad-mode", P, Dir, "link"),
    sc("rename-with-payload", P, File, "rename"),
    sc("rmdir-with-payload", P, Dir, "rmdir"),
    sc("unlink-with-payload", P, File, "unlink"),
    // Notifications written before the LOOKUP reply.
    sc("notify-malformed", N, File, "stat"),
    sc("hang", Hang, File, "cat"),
];

/// The `--list` output: `NAME CLASS OP` lines.
pub fn list_text() -> String {
    SCENARIOS
        .iter()
        .map(|s| format!("{} {} {}\n", s.name, s.class.label(), s.client_op))
        .collect()
}

pub fn nodeid_of(index: usize) -> u64 {
    2 + index as u64
}

fn by_nodeid(nodeid: u64) -> Option<&'static Scenario> {
    let index = usize::try_from(nodeid.checked_sub(2)?).ok()?;
    SCENARIOS.get(index)
}

fn by_name(name: &[u8]) -> Option<(u64, &'static Scenario)> {
    SCENARIOS
        .iter()
        .enumerate()
        .find(|(_, s)| s.name.as_bytes() == name)
        .map(|(i, s)| (nodeid_of(i), s))
}

/// Size and byte of every regular file's content.
pub const FILE_SIZE: u64 = 100;
pub const FILE_BYTE: u8 = b'x';
/// Size of the symlink (what its target would be if READLINK were sane).
const SYMLINK_TARGET: &[u8] = b"target";
/// Added to a request's unique for the `unknown-unique` scenario.
pub const UNKNOWN_UNIQUE_OFFSET: u64 = 0x1000_0000;
/// Node ids of nodes MKDIR, SYMLINK and LINK would make: this plus the
/// parent's.
const NEW_NODE_BASE: u64 = 1000;
/// Fixed timestamps of every node.
const TIME: u64 = 1_700_000_000;

/// What the kernel must answer to one write(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A correct reply: must succeed. ENOENT (request no longer pending,
    /// e.g. interrupted) is only noted; other errors are mismatches.
    Normal,
    /// The proper reply following a header-level malformation: must
    /// succeed.
    Accepted,
    /// A malformed reply: must fail with one of these errnos.
    Rejected(&'static [i32]),
}

/// One write(2) to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Scenario name for malformed writes and their follow-ups.
    pub scenario: Option<&'static str>,
    /// What is written, for the log.
    pub label: String,
    pub bytes: Vec<u8>,
    /// Payload bytes that follow `bytes` in the same writev(2), from an
    /// address where nothing is mapped (0: none, a plain write(2) of
    /// `bytes`): the kernel's copy of them faults.
    pub unmapped: usize,
    pub expect: Expect,
}

impl Step {
    /// The bytes the write(2) hands the kernel, `unmapped` ones included.
    pub fn write_len(&self) -> usize {
        self.bytes.len() + self.unmapped
    }
}

/// The outcome of handling one request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub steps: Vec<Step>,
    /// Informational log lines (without the `badserver: ` prefix).
    pub notes: Vec<String>,
}

impl Response {
    fn normal(h: &InHeader, bytes: Vec<u8>) -> Self {
        Response {
            steps: vec![Step {
                scenario: None,
                label: format!("{} reply (unique {})", opcode::name(h.opcode), h.unique),
                bytes,
                unmapped: 0,
                expect: Expect::Normal,
            }],
            notes: Vec::new(),
        }
    }

    fn ok(h: &InHeader, payload: &[u8]) -> Self {
        Self::normal(h, proto::reply(h.unique, 0, payload))
    }

    fn err(h: &InHeader, errno: i32) -> Self {
        Self::normal(h, proto::error_reply(h.unique, errno))
    }

    fn none() -> Self {
        Response::default()
    }
}

const EINVAL_ONLY: &[i32] = &[libc::EINVAL];
const ENOENT_ONLY: &[i32] = &[libc::ENOENT];
const EFAULT_ONLY: &[i32] = &[libc::EFAULT];

/// A notification: header with `unique` 0 and the code in `error`.
fn notification(code: i32, payload: &[u8]) -> Vec<u8> {
    proto::reply(0, code, payload)
}

/// A notification's fixed part followed by `name` and, if `nul`, a NUL;
/// `namelen` as given (it may lie).
fn named(fixed: &mut proto::Enc, namelen: u32, name: &[u8], nul: bool) -> Vec<u8> {
    fixed.u32(namelen);
    fixed.u32(0);
    fixed.bytes(name);
    if nul {
        fixed.bytes(&[0]);
    }
    fixed.0.clone()
}

/// The writes of the `notify-malformed` scenario: each notification the
/// kernel must refuse (EINVAL), or act on and report that it knows no
/// such node (ENOENT); then one it must accept. Node 999999 is never
/// handed out. (A single-threaded server must not invalidate names of the
/// directory whose LOOKUP it is answering: the kernel's lookup holds that
/// directory's lock.)
fn notify_steps(n: &'static str) -> Vec<Step> {
    const POLL: i32 = 1;
    const INODE: i32 = 2;
    const ENTRY: i32 = 3;
    const STORE: i32 = 4;
    const RETRIEVE: i32 = 5;
    const DELETE: i32 = 6;
    const UNKNOWN: u64 = 999_999;
    let entry = |parent: u64, namelen: u32, name: &[u8], nul: bool| {
        named(proto::Enc::default().u64(parent), namelen, name, nul)
    };
    let delete = |parent: u64, child: u64, namelen: u32, name: &[u8]| {
        named(
            proto::Enc::default().u64(parent).u64(child),
            namelen,
            name,
            true,
        )
    };
    let inode = |ino: u64| proto::Enc::default().u64(ino).u64(0).u64(0).0.clone();
    let mut store = proto::Enc::default();
    store.u64(UNKNOWN).u64(0).u32(10).u32(0).bytes(b"short");
    let long = vec![b'a'; 1025];
    let bad = |label: &str, bytes| rejected(n, label, bytes);
    let enoent = |label: &str, bytes| rejected_with(n, label, bytes, ENOENT_ONLY);
    vec![
        bad("notify code 99", notification(99, &[0; 16])),
        bad("notify code 0", notification(0, &[0; 16])),
        bad("INVAL_INODE short", notification(INODE, &[0; 8])),
        bad("INVAL_INODE node 0", notification(INODE, &inode(0))),
        enoent(
            "INVAL_INODE unknown node",
            notification(INODE, &inode(UNKNOWN)),
        ),
        bad(
            "INVAL_ENTRY name with '/'",
            notification(ENTRY, &entry(UNKNOWN, 3, b"a/b", true)),
        ),
        bad(
            "INVAL_ENTRY name with NUL",
            notification(ENTRY, &entry(UNKNOWN, 3, b"a\0b", true)),
        ),
        bad(
            "INVAL_ENTRY empty name",
            notification(ENTRY, &entry(UNKNOWN, 0, b"", true)),
        ),
        bad(
            "INVAL_ENTRY name without NUL",
            notification(ENTRY, &entry(UNKNOWN, 3, b"abc", false)),
        ),
        bad(
            "INVAL_ENTRY namelen too big",
            notification(ENTRY, &entry(UNKNOWN, 300, b"abc", true)),
        ),
        bad(
            "INVAL_ENTRY namelen huge",
            notification(ENTRY, &entry(UNKNOWN, u32::MAX, b"abc", true)),
        ),
        bad(
            "INVAL_ENTRY name too long",
            notification(ENTRY, &entry(UNKNOWN, 1025, &long, true)),
        ),
        bad(
            "INVAL_ENTRY parent 0",
            notification(ENTRY, &entry(0, 3, b"abc", true)),
        ),
        enoent(
            "INVAL_ENTRY unknown parent",
            notification(ENTRY, &entry(UNKNOWN, 3, b"abc", true)),
        ),
        bad(
            "DELETE child 0",
            notification(DELETE, &delete(UNKNOWN, 0, 3, b"abc")),
        ),
        bad(
            "DELETE name with '/'",
            notification(DELETE, &delete(UNKNOWN, 5, 3, b"a/b")),
        ),
        enoent(
            "DELETE unknown parent",
            notification(DELETE, &delete(UNKNOWN, 5, 3, b"abc")),
        ),
        bad("STORE size beyond the data", notification(STORE, &store.0)),
        bad("RETRIEVE short", notification(RETRIEVE, &[0; 8])),
        bad("POLL short", notification(POLL, &[0; 4])),
        Step {
            scenario: Some(n),
            label: "POLL of a handle nobody polls".to_string(),
            bytes: notification(POLL, &UNKNOWN.to_le_bytes()),
            unmapped: 0,
            expect: Expect::Accepted,
        },
        Step {
            scenario: Some(n),
            label: "INVAL_INODE of the root".to_string(),
            bytes: notification(INODE, &inode(proto::ROOT_ID)),
            unmapped: 0,
            expect: Expect::Accepted,
        },
    ]
}
/// For a reply to a never-issued unique, fuse-wb returns EINVAL: it keeps
/// every request the server holds until answered (even when its caller was
/// killed), so an unknown unique is always a server bug. Mainline returns
/// ENOENT here (the same as for a request already answered or interrupted),
/// so this scenario reports a mismatch against mainline, like the attribute
/// and dirent checks mainline lacks.
const UNKNOWN_UNIQUE_ERRNOS: &[i32] = &[libc::EINVAL];

fn rejected(name: &'static str, label: &str, bytes: Vec<u8>) -> Step {
    rejected_with(name, label, bytes, EINVAL_ONLY)
}

fn rejected_with(name: &'static str, label: &str, bytes: Vec<u8>, errnos: &'static [i32]) -> Step {
    Step {
        scenario: Some(name),
        label: label.to_string(),
        bytes,
        unmapped: 0,
        expect: Expect::Rejected(errnos),
    }
}

/// A successful reply to `unique` whose header is correct but whose `len`
/// payload bytes are written from unmapped memory: the write must fail with
/// EFAULT (and the request with EIO).
fn faulting(name: &'static str, unique: u64, len: usize) -> Step {
    Step {
        scenario: Some(name),
        label: "writev, payload from unmapped memory".to_string(),
        bytes: proto::out_header((proto::OUT_HEADER_SIZE + len) as u32, 0, unique),
        unmapped: len,
        expect: Expect::Rejected(EFAULT_ONLY),
    }
}

fn follow_up(name: &'static str, unique: u64) -> Step {
    Step {
        scenario: Some(name),
        label: "reply -ENOENT".to_string(),
        bytes: proto::error_reply(unique, libc::ENOENT),
        unmapped: 0,
        expect: Expect::Accepted,
    }
}

/// The server state.
#[derive(Debug)]
pub struct Server {
    uid: u32,
    gid: u32,
    /// Negotiated minor version, once INIT was answered.
    pub minor: Option<u32>,
    /// Offer FUSE_ASYNC_READ (`--async-read`).
    pub async_read: bool,
}

impl Server {
    pub fn new(uid: u32, gid: u32) -> Self {
        Server {
            uid,
            gid,
            minor: None,
            async_read: false,
        }
    }

    fn attr(&self, ino: u64, kind: Kind) -> Attr {
        let (mode, nlink, size) = match kind {
            Kind::Dir => (proto::S_IFDIR | 0o755, 2, 4096),
            Kind::File => (proto::S_IFREG | 0o644, 1, FILE_SIZE),
            Kind::Symlink => (proto::S_IFLNK | 0o777, 1, SYMLINK_TARGET.len() as u64),
        };
        Attr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: TIME,
            mtime: TIME,
            ctime: TIME,
            mode,
            nlink,
            uid: self.uid,
            gid: self.gid,
            blksize: 4096,
            ..Attr::default()
        }
    }

    fn root_attr(&self) -> Attr {
        self.attr(proto::ROOT_ID, Kind::Dir)
    }

    fn node_attr(&self, nodeid: u64) -> Option<Attr> {
        if nodeid == proto::ROOT_ID {
            return Some(self.root_attr());
        }
        by_nodeid(nodeid).map(|s| self.attr(nodeid, s.kind))
    }

    /// Entry with zero timeouts, so that every access reaches the server.
    fn entry(&self, nodeid: u64, attr: Attr) -> EntryOut {
        EntryOut {
            nodeid,
            generation: 0,
            entry_valid: 0,
            attr_valid: 0,
            entry_valid_nsec: 0,
            attr_valid_nsec: 0,
            attr,
        }
    }

    /// Handles one request (the bytes returned by one read(2)).
    pub fn handle(&mut self, req: &[u8]) -> Response {
        let Some(h) = InHeader::decode(req) else {
            return Response {
                steps: Vec::new(),
                notes: vec![format!("ignoring short request ({} bytes)", req.len())],
            };
        };
        let end = (h.len as usize).clamp(proto::IN_HEADER_SIZE, req.len());
        let arg = &req[proto::IN_HEADER_SIZE..end];
        match h.opcode {
            opcode::INIT => self.init(&h, arg),
            opcode::LOOKUP => self.lookup(&h, arg),
            opcode::GETATTR => self.getattr(&h),
            opcode::OPEN | opcode::OPENDIR => match self.node_attr(h.nodeid) {
                Some(_) => Response::ok(
                    &h,
                    &proto::OpenOut {
                        fh: 1,
                        open_flags: 0,
                    }
                    .encode(),
                ),
                None => Response::err(&h, libc::ENOENT),
            },
            opcode::READ => self.read(&h, arg),
            opcode::READDIR => self.readdir(&h, arg),
            opcode::READLINK => self.readlink(&h),
            opcode::MKDIR | opcode::SYMLINK | opcode::LINK => self.make(&h),
            opcode::RENAME | opcode::RMDIR | opcode::UNLINK => self.remove(&h, arg),
            opcode::STATFS => Response::ok(
                &h,
                &proto::Kstatfs {
                    blocks: 1000,
                    bfree: 0,
                    bavail: 0,
                    files: SCENARIOS.len() as u64 + 1,
                    ffree: 0,
                    bsize: 4096,
                    namelen: 255,
                    frsize: 4096,
                }
                .encode(),
            ),
            opcode::RELEASE
            | opcode::RELEASEDIR
            | opcode::FLUSH
            | opcode::ACCESS
            | opcode::DESTROY => Response::ok(&h, &[]),
            // Interrupts are logged (tests check the kernel sends them) and
            // never answered: the interrupted request stays pending.
            opcode::INTERRUPT => {
                let target = arg
                    .get(..8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .unwrap_or(0);
                Response {
                    steps: Vec::new(),
                    notes: vec![format!("INTERRUPT of request {target}")],
                }
            }
            opcode::FORGET | opcode::BATCH_FORGET | opcode::NOTIFY_REPLY => Response::none(),
            _ => Response::err(&h, libc::ENOSYS),
        }
    }

    fn init(&mut self, h: &InHeader, arg: &[u8]) -> Response {
        // Lenient: a short INIT reads as zeros.
        let init = InitIn::decode(arg).unwrap_or_default();
        let minor = init.minor.min(proto::KERNEL_MINOR_VERSION);
        // ASYNC_READ (`--async-read`): readahead READs are background
        // requests, whose replies the kernel copies straight into the page
        // cache (read-efault); `hang` needs a caller waiting for its READ.
        let mut want = proto::FUSE_BIG_WRITES | proto::FUSE_MAX_PAGES;
        if self.async_read {
            want |= proto::FUSE_ASYNC_READ;
        }
        let flags = init.flags & want;
        self.minor = Some(minor);
        let out = InitOut {
            major: proto::KERNEL_VERSION,
            minor,
            max_readahead: init.max_readahead,
            flags,
            max_background: 12,
            congestion_threshold: 9,
            max_write: 131072,
            time_gran: 1,
            max_pages: 32,
            map_alignment: 0,
            flags2: 0,
            max_stack_depth: 0,
        };
        let mut r = Response::ok(h, &out.encode());
        r.notes.push(format!(
            "INIT: kernel {}.{} flags {:#x} max_readahead {} -> reply 7.{minor} flags {flags:#x}",
            init.major, init.minor, init.flags, init.max_readahead
        ));
        r
    }

    fn lookup(&self, h: &InHeader, arg: &[u8]) -> Response {
        let name = match arg.iter().position(|&b| b == 0) {
            Some(nul) => &arg[..nul],
            None => arg,
        };
        if h.nodeid != proto::ROOT_ID {
            return Response::err(h, libc::ENOENT);
        }
        let Some((nodeid, s)) = by_name(name) else {
            return Response::err(h, libc::ENOENT);
        };
        let u = h.unique;
        let good = self.entry(nodeid, self.attr(nodeid, s.kind));
        let n = s.name;
        let steps = match n {
            "short-header" => vec![
                rejected(
                    n,
                    "write",
                    proto::error_reply(u, libc::ENOENT)[..8].to_vec(),
                ),
                follow_up(n, u),
            ],
            "len-too-big" => vec![
                rejected(n, "write", proto::out_header(20, -libc::ENOENT, u)),
                follow_up(n, u),
            ],
            "len-too-small" => {
                let mut b = proto::out_header(16, -libc::ENOENT, u);
                b.extend_from_slice(&[0; 8]);
                vec![rejected(n, "write", b), follow_up(n, u)]
            }
            "unknown-unique" => vec![
                rejected_with(
                    n,
                    "write",
                    proto::error_reply(u.wrapping_add(UNKNOWN_UNIQUE_OFFSET), libc::ENOENT),
                    UNKNOWN_UNIQUE_ERRNOS,
                ),
                follow_up(n, u),
            ],
            "positive-error" => vec![
                rejected(n, "write", proto::out_header(16, 5, u)),
                follow_up(n, u),
            ],
            "error-out-of-range" => vec![
                rejected(n, "write error=-600", proto::out_header(16, -600, u)),
                rejected(
                    n,
                    "write error=i32::MIN",
                    proto::out_header(16, i32::MIN, u),
                ),
                follow_up(n, u),
            ],
            "error-with-payload" => {
                vec![rejected(
                    n,
                    "write",
                    proto::reply(u, -libc::ENOENT, &[0; 8]),
                )]
            }
            "entry-oversized" => {
                let mut p = good.encode();
                p.extend_from_slice(&[0; 8]);
                vec![rejected(n, "write", proto::reply(u, 0, &p))]
            }
            "entry-short" => {
                let p = good.encode();
                vec![rejected(
                    n,
                    "write",
                    proto::reply(u, 0, &p[..proto::ENTRY_OUT_SIZE - 8]),
                )]
            }
            "attr-bad-mode" => {
                let mut e = good;
                e.attr.mode = 0o170644;
                vec![rejected(n, "write", proto::reply(u, 0, &e.encode()))]
            }
            "attr-bad-nsec" => {
                let mut e = good;
                e.attr.mtimensec = 2_000_000_000;
                vec![rejected(n, "write", proto::reply(u, 0, &e.encode()))]
            }
            "entry-root-nodeid" => {
                let e = self.entry(proto::ROOT_ID, self.root_attr());
                vec![rejected(n, "write", proto::reply(u, 0, &e.encode()))]
            }
            "notify-malformed" => {
                let mut steps = notify_steps(n);
                steps.push(Step {
                    scenario: None,
                    label: format!("LOOKUP reply (unique {u})"),
                    bytes: proto::reply(u, 0, &good.encode()),
                    unmapped: 0,
                    expect: Expect::Normal,
                });
                steps
            }
            _ => return Response::ok(h, &good.encode()),
        };
        Response {
            steps,
            notes: Vec::new(),
        }
    }

    /// MKDIR, SYMLINK or LINK of a name in a scenario's directory: the
    /// entry of the new node is malformed as the scenario says; anywhere
    /// else the operation is not permitted.
    fn make(&self, h: &InHeader) -> Response {
        let Some(s) = by_nodeid(h.nodeid) else {
            return Response::err(h, libc::EPERM);
        };
        let kind = match h.opcode {
            opcode::MKDIR => Kind::Dir,
            opcode::SYMLINK => Kind::Symlink,
            _ => Kind::File,
        };
        let node = NEW_NODE_BASE + h.nodeid;
        let good = self.entry(node, self.attr(node, kind));
        let (n, u) = (s.name, h.unique);
        let bad = match (n, h.opcode) {
            ("mkdir-entry-short", opcode::MKDIR) => {
                good.encode()[..proto::ENTRY_OUT_SIZE - 8].to_vec()
            }
            ("symlink-entry-oversized", opcode::SYMLINK) => {
                let mut p = good.encode();
                p.extend_from_slice(&[0; 8]);
                p
            }
            ("link-attr-bad-mode", opcode::LINK) => {
                let mut e = good;
                e.attr.mode = 0o170644;
                e.encode()
            }
            _ => return Response::err(h, libc::EPERM),
        };
        Response {
            steps: vec![rejected(n, "write", proto::reply(u, 0, &bad))],
            notes: Vec::new(),
        }
    }

    /// RENAME, RMDIR or UNLINK of a root entry: for its scenario the empty
    /// reply carries a payload; anything else is not permitted.
    fn remove(&self, h: &InHeader, arg: &[u8]) -> Response {
        // RENAME's names follow its 8-byte `fuse_rename_in`.
        let names = if h.opcode == opcode::RENAME {
            arg.get(8..).unwrap_or(&[])
        } else {
            arg
        };
        let name = match names.iter().position(|&b| b == 0) {
            Some(nul) => &names[..nul],
            None => names,
        };
        let victim = match (by_name(name), h.opcode) {
            (Some((_, s)), opcode::RENAME) if s.name == "rename-with-payload" => Some(s),
            (Some((_, s)), opcode::RMDIR) if s.name == "rmdir-with-payload" => Some(s),
            (Some((_, s)), opcode::UNLINK) if s.name == "unlink-with-payload" => Some(s),
            _ => None,
        };
        match victim {
            Some(s) if h.nodeid == proto::ROOT_ID => Response {
                steps: vec![rejected(
                    s.name,
                    "write",
                    proto::reply(h.unique, 0, &[0; 8]),
                )],
                notes: Vec::new(),
            },
            _ => Response::err(h, libc::EPERM),
        }
    }

    fn getattr(&self, h: &InHeader) -> Response {
        let Some(mut attr) = self.node_attr(h.nodeid) else {
            return Response::err(h, libc::ENOENT);
        };
        let victim = by_nodeid(h.nodeid).filter(|s| s.name == "getattr-bad-size");
        if victim.is_some() {
            attr.size = 1 << 63;
        }
        let out = AttrOut {
            attr_valid: 0,
            attr_valid_nsec: 0,
            attr,
        }
        .encode();
        match victim {
            Some(s) => Response {
                steps: vec![rejected(s.name, "write", proto::reply(h.unique, 0, &out))],
                notes: Vec::new(),
            },
            None => Response::ok(h, &out),
        }
    }

    fn read(&self, h: &InHeader, arg: &[u8]) -> Response {
        let Some(rin) = ReadIn::decode(arg) else {
            return Response::err(h, libc::EINVAL);
        };
        if h.nodeid == proto::ROOT_ID {
            return Response::err(h, libc::EISDIR);
        }
        let Some(s) = by_nodeid(h.nodeid) else {
            return Response::err(h, libc::ENOENT);
        };
        match (s.kind, s.name) {
            (Kind::Dir, _) => Response::err(h, libc::EISDIR),
            (Kind::Symlink, _) => Response::err(h, libc::EINVAL),
            (Kind::File, "read-oversized") => {
                let data = vec![FILE_BYTE; rin.size as usize + 4096];
                Response {
                    steps: vec![rejected(s.name, "write", proto::reply(h.unique, 0, &data))],
                    notes: Vec::new(),
                }
            }
            (Kind::File, "read-efault") => {
                // The length the READ asked for, capped at the file size.
                // Past the end there is no payload to fault on: answer
                // normally.
                let len = file_slice(rin.offset, rin.size).len();
                if len == 0 {
                    return Response::ok(h, &[]);
                }
                Response {
                    steps: vec![faulting(s.name, h.unique, len)],
                    notes: Vec::new(),
                }
            }
            (Kind::File, "hang") => Response {
                steps: Vec::new(),
                notes: vec![format!(
                    "hang: READ unique {} (offset {}, size {}) left unanswered",
                    h.unique, rin.offset, rin.size
                )],
            },
            (Kind::File, _) => Response::ok(h, &file_slice(rin.offset, rin.size)),
        }
    }

    fn readdir(&self, h: &InHeader, arg: &[u8]) -> Response {
        let Some(rin) = ReadIn::decode(arg) else {
            return Response::err(h, libc::EINVAL);
        };
        if h.nodeid == proto::ROOT_ID {
            return Response::ok(h, &root_listing(rin.offset, rin.size));
        }
        let Some(s) = by_nodeid(h.nodeid) else {
            return Response::err(h, libc::ENOENT);
        };
        if s.kind != Kind::Dir {
            return Response::err(h, libc::ENOTDIR);
        }
        if rin.offset != 0 {
            // Only the first READDIR is malformed. A kernel that wrongly
            // accepted it continues after "." (offset 1): end the listing
            // there instead of serving the bad reply forever.
            return Response::ok(h, &[]);
        }
        let ino = h.nodeid;
        let dot = proto::dirent(ino, 1, proto::DT_DIR, b".");
        let payload = match s.name {
            "readdir-bad-namelen" => {
                // namelen 200, but only 8 name bytes are left in the reply.
                let mut p = dot;
                p.extend(proto::dirent_raw(1000, 2, 200, proto::DT_REG, b"abcdefgh"));
                p
            }
            "readdir-zero-namelen" => {
                let mut p = dot;
                p.extend(proto::dirent_raw(1000, 2, 0, proto::DT_REG, b""));
                p
            }
            "readdir-slash" => {
                let mut p = dot;
                p.extend(proto::dirent(1000, 2, proto::DT_REG, b"a/b"));
                p
            }
            "readdir-oversized" => {
                // Well-formed entries, but more bytes than were asked for.
                let mut p = dot;
                let mut i = 0u64;
                while p.len() <= rin.size as usize {
                    let name = format!("entry-{i:05}");
                    p.extend(proto::dirent(
                        1000 + i,
                        i + 2,
                        proto::DT_REG,
                        name.as_bytes(),
                    ));
                    i += 1;
                }
                p
            }
            _ => return Response::ok(h, &dot),
        };
        Response {
            steps: vec![rejected(
                s.name,
                "write",
                proto::reply(h.unique, 0, &payload),
            )],
            notes: Vec::new(),
        }
    }

    fn readlink(&self, h: &InHeader) -> Response {
        match by_nodeid(h.nodeid) {
            Some(s) if s.kind == Kind::Symlink => Response {
                steps: vec![rejected(
                    s.name,
                    "write",
                    proto::reply(h.unique, 0, &[b'a'; 8192]),
                )],
                notes: Vec::new(),
            },
            Some(_) => Response::err(h, libc::EINVAL),
            None if h.nodeid == proto::ROOT_ID => Response::err(h, libc::EINVAL),
            None => Response::err(h, libc::ENOENT),
        }
    }
}

/// READ of a regular file: `FILE_SIZE` bytes of `FILE_BYTE`.
pub fn file_slice(offset: u64, size: u32) -> Vec<u8> {
    let start = offset.min(FILE_SIZE);
    let end = offset.saturating_add(u64::from(size)).min(FILE_SIZE);
    vec![FILE_BYTE; (end - start) as usize]
}

/// The root directory's entries: `.`, `..`, then every scenario. The
/// offset of entry i is i + 1.
pub fn root_entries() -> Vec<(u64, u32, &'static str)> {
    let mut v = vec![
        (proto::ROOT_ID, proto::DT_DIR, "."),
        (proto::ROOT_ID, proto::DT_DIR, ".."),
    ];
    for (i, s) in SCENARIOS.iter().enumerate() {
        let dtype = match s.kind {
            Kind::File => proto::DT_REG,
            Kind::Dir => proto::DT_DIR,
            Kind::Symlink => proto::DT_LNK,
        };
        v.push((nodeid_of(i), dtype, s.name));
    }
    v
}

/// READDIR of the root: entries from `offset` on, as many as fit whole in
/// `size` bytes.
pub fn root_listing(offset: u64, size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let entries = root_entries();
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    for (i, (ino, dtype, name)) in entries.iter().enumerate().skip(start) {
        let d = proto::dirent(*ino, i as u64 + 1, *dtype, name.as_bytes());
        if out.len() + d.len() > size as usize {
            break;
        }
        out.extend(d);
    }
    out
}

/// The verdict on one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Mismatch,
    /// Not a check (a normal reply that went fine, or was only noted).
    Unchecked,
}

/// Judges the result of write(2) (`Ok(bytes written)` or `Err(errno)`) of
/// a `len`-byte step.
pub fn judge(expect: &Expect, result: Result<usize, i32>, len: usize) -> Verdict {
    let success = result == Ok(len);
    match expect {
        Expect::Normal => match result {
            _ if success => Verdict::Unchecked,
            Err(libc::ENOENT) => Verdict::Unchecked,
            _ => Verdict::Mismatch,
        },
        Expect::Accepted if success => Verdict::Ok,
        Expect::Accepted => Verdict::Mismatch,
        Expect::Rejected(errnos) => match result {
            Err(e) if errnos.contains(&e) => Verdict::Ok,
            _ => Verdict::Mismatch,
        },
    }
}

/// The errnos the log names; any other is `errno <n>`.
const NAMED_ERRNOS: &str = "EPERM ENOENT EINTR EIO E2BIG EBADF EAGAIN ENOMEM EFAULT EBUSY \
    ENODEV ENOTDIR EISDIR EINVAL ERANGE ENOSYS EPROTO EOVERFLOW EMSGSIZE ENOTCONN ECONNABORTED \
    ENAMETOOLONG";

/// Symbolic errno name.
pub fn errno_name(e: i32) -> String {
    proto::errno::name_if_listed(e, NAMED_ERRNOS)
        .map_or_else(|| format!("errno {e}"), str::to_string)
}

fn result_text(result: Result<usize, i32>, len: usize) -> String {
    match result {
        Ok(n) if n == len => "success".to_string(),
        Ok(n) => format!("short write {n} of {len}"),
        Err(e) => errno_name(e),
    }
}

fn expect_text(expect: &Expect) -> String {
    match expect {
        Expect::Normal | Expect::Accepted => "success".to_string(),
        Expect::Rejected(errnos) => errnos
            .iter()
            .map(|&e| errno_name(e))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// The log line for a step, or None if nothing is to be logged (a normal
/// reply that succeeded).
pub fn log_line(step: &Step, result: Result<usize, i32>, verdict: Verdict) -> Option<String> {
    let got = result_text(result, step.write_len());
    let want = expect_text(&step.expect);
    match (step.scenario, verdict) {
        (Some(name), v) => Some(format!(
            "badserver: {name}: {} -> {got} (expected {want}) {}",
            step.label,
            if v == Verdict::Ok { "ok" } else { "MISMATCH" }
        )),
        (None, Verdict::Mismatch) => Some(format!(
            "badserver: {} -> {got} (expected {want}) MISMATCH",
            step.label
        )),
        (None, _) if result.is_err() => Some(format!(
            "badserver: note: {} -> {got} (request no longer pending)",
            step.label
        )),
        (None, _) => None,
    }
}

/// The summary line, formatted without allocating (it is also written
/// from the SIGTERM handler). Returns the number of bytes used.
pub fn summary_line(ok: u32, mismatched: u32, out: &mut [u8; 80]) -> usize {
    fn put(out: &mut [u8; 80], pos: &mut usize, s: &[u8]) {
        for &b in s {
            if *pos < out.len() {
                out[*pos] = b;
                *pos += 1;
            }
        }
    }
    fn put_num(out: &mut [u8; 80], pos: &mut usize, mut n: u32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        put(out, pos, &digits[i..]);
    }
    let mut pos = 0;
    put(out, &mut pos, b"badserver: ");
    put_num(out, &mut pos, ok);
    put(out, &mut pos, b" ok, ");
    put_num(out, &mut pos, mismatched);
    put(out, &mut pos, b" mismatched\n");
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{out_header, InHeader};

    fn request(opcode: u32, unique: u64, nodeid: u64, arg: &[u8]) -> Vec<u8> {
        let mut v = InHeader {
            len: (proto::IN_HEADER_SIZE + arg.len()) as u32,
            opcode,
            unique,
            nodeid,
            uid: 0,
            gid: 0,
            pid: 1,
            total_extlen: 0,
            padding: 0,
        }
        .encode();
        v.extend_from_slice(arg);
        v
    }

    fn lookup(name: &str, unique: u64) -> Response {
        let mut arg = name.as_bytes().to_vec();
        arg.push(0);
        Server::new(0, 0).handle(&request(opcode::LOOKUP, unique, 1, &arg))
    }

    fn read_arg(offset: u64, size: u32) -> Vec<u8> {
        ReadIn {
            fh: 1,
            offset,
            size,
            ..ReadIn::default()
        }
        .encode()
    }

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    /// Parses a well-formed dirent stream into (ino, off, type, name).
    fn parse_dirents(mut b: &[u8]) -> Vec<(u64, u64, u32, String)> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let namelen = u32_at(b, 16) as usize;
            let name = String::from_utf8(b[24..24 + namelen].to_vec()).unwrap();
            v.push((u64_at(b, 0), u64_at(b, 8), u32_at(b, 20), name));
            b = &b[proto::dirent_size(namelen)..];
        }
        v
    }

    #[test]
    fn list_has_every_scenario_with_class_and_op() {
        let text = list_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), SCENARIOS.len());
        assert_eq!(lines[0], "short-header H stat");
        assert!(lines.contains(&"read-oversized P cat"));
        assert!(lines.contains(&"read-efault P cat"));
        assert!(lines.contains(&"readdir-slash P ls"));
        assert!(lines.contains(&"readlink-oversized P readlink"));
        assert!(lines.contains(&"getattr-bad-size P stat"));
        assert!(lines.contains(&"hang hang cat"));
        for l in lines {
            assert_eq!(l.split(' ').count(), 3, "{l}");
        }
        let mut names: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SCENARIOS.len());
    }

    #[test]
    fn names_are_malformed_only_in_their_scenario() {
        let idx = |n: &str| SCENARIOS.iter().position(|s| s.name == n).unwrap();
        let mut srv = Server::new(0, 0);
        // MKDIR in its scenario's directory: a short entry, refused.
        let r = srv.handle(&request(
            opcode::MKDIR,
            7,
            nodeid_of(idx("mkdir-entry-short")),
            b"\0\0\0\0\0\0\0\0x\0",
        ));
        assert_eq!(r.steps.len(), 1);
        assert_eq!(r.steps[0].bytes.len(), 16 + proto::ENTRY_OUT_SIZE - 8);
        assert!(matches!(r.steps[0].expect, Expect::Rejected(_)));
        // SYMLINK there (the wrong operation for it): EPERM.
        let r = srv.handle(&request(
            opcode::SYMLINK,
            8,
            nodeid_of(idx("mkdir-entry-short")),
            b"x\0t\0",
        ));
        assert_eq!(r.steps[0].expect, Expect::Normal);
        assert_eq!(r.steps[0].bytes, proto::error_reply(8, libc::EPERM));
        // RENAME of the scenario's entry: an empty reply with a payload.
        let mut arg = vec![0u8; 8];
        arg.extend_from_slice(b"rename-with-payload\0new\0");
        let r = srv.handle(&request(opcode::RENAME, 9, proto::ROOT_ID, &arg));
        assert_eq!(r.steps[0].bytes.len(), 16 + 8);
        assert!(matches!(r.steps[0].expect, Expect::Rejected(_)));
        // UNLINK of another entry: EPERM.
        let r = srv.handle(&request(
            opcode::UNLINK,
            10,
            proto::ROOT_ID,
            b"read-oversized\0",
        ));
        assert_eq!(r.steps[0].bytes, proto::error_reply(10, libc::EPERM));
    }

    #[test]
    fn init_negotiates() {
        let mut s = Server::new(0, 0);
        let arg = InitIn {
            major: 7,
            minor: 45,
            max_readahead: 65536,
            flags: proto::FUSE_BIG_WRITES | (1 << 30) | 1,
            flags2: 0,
        }
        .encode();
        let r = s.handle(&request(opcode::INIT, 2, 0, &arg));
        assert_eq!(r.steps.len(), 1);
        let b = &r.steps[0].bytes;
        assert_eq!(b.len(), 16 + 64);
        assert_eq!(u32_at(b, 0), 80);
        assert_eq!(u64_at(b, 8), 2);
        assert_eq!(u32_at(b, 16), 7);
        assert_eq!(u32_at(b, 20), 41);
        assert_eq!(u32_at(b, 24), 65536);
        // Only BIG_WRITES was offered among the flags we want (ASYNC_READ,
        // bit 0, is not wanted without --async-read).
        assert_eq!(u32_at(b, 28), proto::FUSE_BIG_WRITES);
        assert_eq!(u32_at(b, 16 + 20), 131072);
        assert_eq!(s.minor, Some(41));
        let mut a = Server::new(0, 0);
        a.async_read = true;
        let r = a.handle(&request(opcode::INIT, 2, 0, &arg));
        assert_eq!(
            u32_at(&r.steps[0].bytes, 28),
            proto::FUSE_BIG_WRITES | proto::FUSE_ASYNC_READ
        );
        let arg = InitIn {
            major: 7,
            minor: 38,
            max_readahead: 0,
            flags: proto::FUSE_BIG_WRITES | proto::FUSE_MAX_PAGES,
            flags2: 0,
        }
        .encode();
        let r = s.handle(&request(opcode::INIT, 2, 0, &arg));
        let b = &r.steps[0].bytes;
        assert_eq!(u32_at(b, 20), 38);
        assert_eq!(
            u32_at(b, 28),
            proto::FUSE_BIG_WRITES | proto::FUSE_MAX_PAGES
        );
    }

    #[test]
    fn notifications_precede_the_lookup_reply() {
        let r = lookup("notify-malformed", 10);
        let (last, notes) = r.steps.split_last().unwrap();
        assert_eq!(last.expect, Expect::Normal);
        assert_eq!(u64_at(&last.bytes, 8), 10);
        assert!(notes.len() > 10);
        for st in notes {
            assert_eq!(u64_at(&st.bytes, 8), 0, "{}: unique 0", st.label);
            assert_eq!(
                u32_at(&st.bytes, 0) as usize,
                st.bytes.len(),
                "{}",
                st.label
            );
        }
        assert_eq!(notes.last().unwrap().expect, Expect::Accepted);
    }

    #[test]
    fn lookup_of_normal_victims_is_correct() {
        for name in [
            "read-oversized",
            "read-efault",
            "readdir-slash",
            "readlink-oversized",
            "hang",
        ] {
            let r = lookup(name, 10);
            assert_eq!(r.steps.len(), 1, "{name}");
            let st = &r.steps[0];
            assert_eq!(st.expect, Expect::Normal);
            assert_eq!(st.bytes.len(), 16 + 128);
            assert_eq!(u32_at(&st.bytes, 4), 0);
            let e = &st.bytes[16..];
            assert!(u64_at(e, 0) >= 2); // nodeid
            assert_eq!(u64_at(e, 16), 0); // entry_valid
            assert_eq!(u64_at(e, 24), 0); // attr_valid
        }
        let r = lookup("readdir-slash", 1);
        assert_eq!(u32_at(&r.steps[0].bytes, 16 + 40 + 60), 0o040755);
        let r = lookup("readlink-oversized", 1);
        assert_eq!(u32_at(&r.steps[0].bytes, 16 + 40 + 60), 0o120777);
        let r = lookup("getattr-bad-size", 1);
        assert_eq!(u32_at(&r.steps[0].bytes, 16 + 40 + 60), 0o100644);
        assert_eq!(u64_at(&r.steps[0].bytes, 16 + 40 + 8), FILE_SIZE);
    }

    #[test]
    fn lookup_unknown_or_in_subdir_is_enoent() {
        let r = lookup("nope", 4);
        assert_eq!(r.steps[0].bytes, proto::error_reply(4, libc::ENOENT));
        let r = Server::new(0, 0).handle(&request(opcode::LOOKUP, 4, 15, b"short-header\0"));
        assert_eq!(r.steps[0].bytes, proto::error_reply(4, libc::ENOENT));
    }

    #[test]
    fn header_scenarios_end_with_proper_enoent() {
        for s in SCENARIOS.iter().filter(|s| s.class == Class::Header) {
            let r = lookup(s.name, 100);
            let (last, bad) = r.steps.split_last().unwrap();
            assert!(!bad.is_empty(), "{}", s.name);
            assert_eq!(last.expect, Expect::Accepted);
            assert_eq!(last.bytes, out_header(16, -libc::ENOENT, 100));
            for b in bad {
                assert!(matches!(b.expect, Expect::Rejected(_)), "{}", s.name);
                assert_eq!(b.scenario, Some(s.name));
            }
        }
    }

    #[test]
    fn header_malformations() {
        let r = lookup("short-header", 6);
        assert_eq!(r.steps[0].bytes.len(), 8);
        let r = lookup("len-too-big", 6);
        assert_eq!(r.steps[0].bytes.len(), 16);
        assert_eq!(u32_at(&r.steps[0].bytes, 0), 20);
        let r = lookup("len-too-small", 6);
        assert_eq!(r.steps[0].bytes.len(), 24);
        assert_eq!(u32_at(&r.steps[0].bytes, 0), 16);
        let r = lookup("unknown-unique", 6);
        assert_eq!(
            r.steps[0].bytes,
            proto::error_reply(6 + UNKNOWN_UNIQUE_OFFSET, libc::ENOENT)
        );
        assert_eq!(r.steps[0].expect, Expect::Rejected(&[libc::EINVAL]));
        let r = lookup("positive-error", 6);
        assert_eq!(r.steps[0].bytes, out_header(16, 5, 6));
        let r = lookup("error-out-of-range", 6);
        assert_eq!(r.steps.len(), 3);
        assert_eq!(r.steps[0].bytes, out_header(16, -600, 6));
        assert_eq!(r.steps[1].bytes, out_header(16, i32::MIN, 6));
    }

    #[test]
    fn payload_lookup_malformations() {
        let one = |name| {
            let r = lookup(name, 8);
            assert_eq!(r.steps.len(), 1, "{name}");
            assert_eq!(r.steps[0].expect, Expect::Rejected(&[libc::EINVAL]));
            let b = r.steps[0].bytes.clone();
            assert_eq!(
                u32_at(&b, 0) as usize,
                b.len(),
                "{name}: header len is honest"
            );
            assert_eq!(u64_at(&b, 8), 8);
            b
        };
        let b = one("error-with-payload");
        assert_eq!((b.len(), u32_at(&b, 4) as i32), (24, -libc::ENOENT));
        assert_eq!(one("entry-oversized").len(), 16 + 136);
        assert_eq!(one("entry-short").len(), 16 + 120);
        let b = one("attr-bad-mode");
        assert_eq!(u32_at(&b, 16 + 40 + 60), 0o170644);
        let b = one("attr-bad-nsec");
        assert_eq!(u32_at(&b, 16 + 40 + 52), 2_000_000_000);
        let b = one("entry-root-nodeid");
        assert_eq!(u64_at(&b, 16), 1);
        assert_eq!(u32_at(&b, 16 + 40 + 60), 0o040755);
    }

    #[test]
    fn getattr_normal_and_bad_size() {
        let mut s = Server::new(5, 6);
        let r = s.handle(&request(opcode::GETATTR, 3, 1, &[0; 16]));
        let b = &r.steps[0].bytes;
        assert_eq!(b.len(), 16 + 104);
        assert_eq!(u32_at(b, 16 + 16 + 60), 0o040755);
        assert_eq!(u32_at(b, 16 + 16 + 68), 5); // uid
        let victim = nodeid_of(
            SCENARIOS
                .iter()
                .position(|x| x.name == "getattr-bad-size")
                .unwrap(),
        );
        let r = s.handle(&request(opcode::GETATTR, 3, victim, &[0; 16]));
        let st = &r.steps[0];
        assert_eq!(st.scenario, Some("getattr-bad-size"));
        assert_eq!(u64_at(&st.bytes, 16 + 16 + 8), 1 << 63);
        let r = s.handle(&request(opcode::GETATTR, 3, 999, &[0; 16]));
        assert_eq!(r.steps[0].bytes, proto::error_reply(3, libc::ENOENT));
    }

    fn node(name: &str) -> u64 {
        nodeid_of(SCENARIOS.iter().position(|x| x.name == name).unwrap())
    }

    #[test]
    fn reads() {
        assert_eq!(file_slice(0, 4096), vec![b'x'; 100]);
        assert_eq!(file_slice(90, 4096).len(), 10);
        assert_eq!(file_slice(10, 20).len(), 20);
        assert!(file_slice(100, 10).is_empty());
        assert!(file_slice(u64::MAX, u32::MAX).is_empty());
        let mut s = Server::new(0, 0);
        let r = s.handle(&request(
            opcode::READ,
            9,
            node("getattr-bad-size"),
            &read_arg(50, 4096),
        ));
        assert_eq!(r.steps[0].bytes, proto::reply(9, 0, &[b'x'; 50]));
        let r = s.handle(&request(
            opcode::READ,
            9,
            node("read-oversized"),
            &read_arg(0, 4096),
        ));
        assert_eq!(r.steps[0].bytes.len(), 16 + 8192);
        assert_eq!(r.steps[0].scenario, Some("read-oversized"));
        // read-efault: an honest header, the payload (the size asked for,
        // capped at the file size) from unmapped memory, EFAULT expected.
        for (offset, size, len) in [(0, 4096, 100), (90, 4096, 10), (10, 20, 20)] {
            let r = s.handle(&request(
                opcode::READ,
                9,
                node("read-efault"),
                &read_arg(offset, size),
            ));
            assert_eq!(r.steps.len(), 1);
            let st = &r.steps[0];
            assert_eq!(st.scenario, Some("read-efault"));
            assert_eq!(st.bytes, out_header(16 + len, 0, 9));
            assert_eq!(st.unmapped, len as usize);
            assert_eq!(st.write_len(), 16 + len as usize);
            assert_eq!(st.expect, Expect::Rejected(&[libc::EFAULT]));
        }
        // Past the end there is nothing to fault on: a normal empty reply.
        let r = s.handle(&request(
            opcode::READ,
            9,
            node("read-efault"),
            &read_arg(100, 4096),
        ));
        assert_eq!(r.steps[0].bytes, proto::reply(9, 0, &[]));
        assert_eq!(
            (r.steps[0].unmapped, &r.steps[0].expect),
            (0, &Expect::Normal)
        );
        let r = s.handle(&request(opcode::READ, 9, node("hang"), &read_arg(0, 4096)));
        assert!(r.steps.is_empty());
        assert_eq!(r.notes.len(), 1);
        let r = s.handle(&request(opcode::READ, 9, node("hang"), &[1, 2]));
        assert_eq!(r.steps[0].bytes, proto::error_reply(9, libc::EINVAL));
    }

    #[test]
    fn root_readdir_respects_offset_and_size() {
        let all = parse_dirents(&root_listing(0, 1 << 20));
        assert_eq!(all.len(), SCENARIOS.len() + 2);
        assert_eq!(all[0], (1, 1, proto::DT_DIR, ".".to_string()));
        assert_eq!(all[1], (1, 2, proto::DT_DIR, "..".to_string()));
        assert_eq!(all[2].3, SCENARIOS[0].name);
        assert_eq!(all[2].0, 2);
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.1, i as u64 + 1);
        }
        // Resuming at every offset, in small buffers, yields the same list.
        let mut got = Vec::new();
        let mut off = 0;
        loop {
            let chunk = parse_dirents(&root_listing(off, 100));
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.len() <= 3);
            off = chunk.last().unwrap().1;
            got.extend(chunk);
        }
        assert_eq!(got, all);
        assert!(root_listing(0, 10).is_empty());
        assert!(root_listing(1000, 4096).is_empty());
        assert!(root_listing(u64::MAX, 4096).is_empty());
        let dtype = |n: &str| all.iter().find(|e| e.3 == n).unwrap().2;
        assert_eq!(dtype("readdir-slash"), proto::DT_DIR);
        assert_eq!(dtype("readlink-oversized"), proto::DT_LNK);
        assert_eq!(dtype("hang"), proto::DT_REG);
    }

    #[test]
    fn readdir_malformations() {
        let mut s = Server::new(0, 0);
        let mut get = |name: &str, size: u32| {
            let r = s.handle(&request(
                opcode::READDIR,
                11,
                node(name),
                &read_arg(0, size),
            ));
            assert_eq!(r.steps.len(), 1);
            assert_eq!(r.steps[0].scenario, Some(s_name(name)));
            r.steps[0].bytes[16..].to_vec()
        };
        fn s_name(n: &str) -> &'static str {
            SCENARIOS.iter().find(|s| s.name == n).unwrap().name
        }
        let p = get("readdir-bad-namelen", 4096);
        assert_eq!(p.len(), 64);
        assert_eq!(u32_at(&p, 32 + 16), 200);
        assert!(200 > p.len() - 32 - 24);
        let p = get("readdir-zero-namelen", 4096);
        assert_eq!(p.len(), 56);
        assert_eq!(u32_at(&p, 32 + 16), 0);
        let p = get("readdir-slash", 4096);
        assert_eq!(&p[32 + 24..32 + 27], b"a/b");
        let p = get("readdir-oversized", 4096);
        assert!(p.len() > 4096);
        assert_eq!(parse_dirents(&p).len(), 1 + (p.len() - 32) / 40);
        let p = get("readdir-oversized", 0);
        assert!(!p.is_empty());
        // Continuing after "." ends the listing (no endless loop on a
        // kernel that accepted the bad reply).
        let r = s.handle(&request(
            opcode::READDIR,
            12,
            node("readdir-slash"),
            &read_arg(1, 4096),
        ));
        assert_eq!(r.steps[0].bytes, proto::reply(12, 0, &[]));
        assert_eq!(r.steps[0].expect, Expect::Normal);
    }

    #[test]
    fn readlink_and_misc() {
        let mut s = Server::new(0, 0);
        let r = s.handle(&request(
            opcode::READLINK,
            12,
            node("readlink-oversized"),
            &[],
        ));
        assert_eq!(r.steps[0].bytes.len(), 16 + 8192);
        let r = s.handle(&request(opcode::READLINK, 12, node("hang"), &[]));
        assert_eq!(r.steps[0].bytes, proto::error_reply(12, libc::EINVAL));
        for op in [opcode::FORGET, opcode::BATCH_FORGET] {
            assert_eq!(s.handle(&request(op, 13, 1, &[0; 16])), Response::default());
        }
        let r = s.handle(&request(opcode::INTERRUPT, 15, 0, &42u64.to_le_bytes()));
        assert!(r.steps.is_empty(), "an INTERRUPT is never answered");
        assert_eq!(r.notes, vec!["INTERRUPT of request 42".to_string()]);
        for op in [
            opcode::RELEASE,
            opcode::RELEASEDIR,
            opcode::FLUSH,
            opcode::ACCESS,
            opcode::DESTROY,
        ] {
            let r = s.handle(&request(op, 14, 1, &[0; 24]));
            assert_eq!(r.steps[0].bytes, proto::reply(14, 0, &[]));
        }
        let r = s.handle(&request(opcode::OPEN, 15, node("hang"), &[0; 8]));
        assert_eq!(r.steps[0].bytes.len(), 32);
        assert_eq!(u64_at(&r.steps[0].bytes, 16), 1);
        let r = s.handle(&request(opcode::STATFS, 16, 1, &[]));
        assert_eq!(r.steps[0].bytes.len(), 16 + 80);
        for op in [4, 16, 22, 35, 52, 4096, 999_999] {
            let r = s.handle(&request(op, 17, 1, &[]));
            assert_eq!(r.steps[0].bytes, proto::error_reply(17, libc::ENOSYS));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut s = Server::new(0, 0);
        assert!(s.handle(&[]).steps.is_empty());
        assert!(s.handle(&[0; 39]).steps.is_empty());
        for op in 0..60u32 {
            for arg_len in [0usize, 1, 7, 39, 41, 200] {
                let mut req = request(op, 20, 2 + u64::from(op % 22), &vec![0xff; arg_len]);
                let _ = s.handle(&req);
                // A header whose len lies about the request size.
                req[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
                let _ = s.handle(&req);
                req[0..4].copy_from_slice(&0u32.to_le_bytes());
                let _ = s.handle(&req);
            }
        }
    }

    #[test]
    fn only_read_efault_writes_from_unmapped_memory() {
        let mut s = Server::new(0, 0);
        for (i, sc) in SCENARIOS.iter().enumerate() {
            let mut steps: Vec<(u32, Step)> = lookup(sc.name, 3)
                .steps
                .into_iter()
                .map(|st| (opcode::LOOKUP, st))
                .collect();
            for op in [
                opcode::GETATTR,
                opcode::READ,
                opcode::READDIR,
                opcode::READLINK,
            ] {
                let r = s.handle(&request(op, 3, nodeid_of(i), &read_arg(0, 4096)));
                steps.extend(r.steps.into_iter().map(|st| (op, st)));
            }
            for (op, st) in steps {
                let want = sc.name == "read-efault" && op == opcode::READ;
                assert_eq!(st.unmapped != 0, want, "{} op {op}", sc.name);
                let efault = st.expect == Expect::Rejected(&[libc::EFAULT]);
                assert_eq!(efault, want, "{} op {op}", sc.name);
            }
        }
    }

    #[test]
    fn judging_writes() {
        let rej = Expect::Rejected(&[libc::EINVAL]);
        assert_eq!(judge(&rej, Err(libc::EINVAL), 8), Verdict::Ok);
        assert_eq!(judge(&rej, Err(libc::ENOENT), 8), Verdict::Mismatch);
        assert_eq!(judge(&rej, Ok(8), 8), Verdict::Mismatch);
        assert_eq!(judge(&Expect::Accepted, Ok(16), 16), Verdict::Ok);
        assert_eq!(judge(&Expect::Accepted, Ok(8), 16), Verdict::Mismatch);
        assert_eq!(
            judge(&Expect::Accepted, Err(libc::ENOENT), 16),
            Verdict::Mismatch
        );
        assert_eq!(judge(&Expect::Normal, Ok(16), 16), Verdict::Unchecked);
        assert_eq!(
            judge(&Expect::Normal, Err(libc::ENOENT), 16),
            Verdict::Unchecked
        );
        assert_eq!(
            judge(&Expect::Normal, Err(libc::EINVAL), 16),
            Verdict::Mismatch
        );
        let fault = Expect::Rejected(&[libc::EFAULT]);
        assert_eq!(judge(&fault, Err(libc::EFAULT), 116), Verdict::Ok);
        assert_eq!(judge(&fault, Err(libc::EINVAL), 116), Verdict::Mismatch);
        assert_eq!(judge(&fault, Ok(116), 116), Verdict::Mismatch);
    }

    #[test]
    fn log_lines() {
        let r = lookup("short-header", 2);
        let l = log_line(&r.steps[0], Err(libc::EINVAL), Verdict::Ok).unwrap();
        assert_eq!(
            l,
            "badserver: short-header: write -> EINVAL (expected EINVAL) ok"
        );
        let l = log_line(&r.steps[1], Ok(16), Verdict::Ok).unwrap();
        assert_eq!(
            l,
            "badserver: short-header: reply -ENOENT -> success (expected success) ok"
        );
        let l = log_line(&r.steps[0], Ok(8), Verdict::Mismatch).unwrap();
        assert!(l.ends_with("-> success (expected EINVAL) MISMATCH"), "{l}");
        let r = lookup("unknown-unique", 2);
        let l = log_line(&r.steps[0], Err(libc::EINVAL), Verdict::Ok).unwrap();
        assert!(l.contains("-> EINVAL (expected EINVAL) ok"), "{l}");
        let st = faulting("read-efault", 2, 100);
        let l = log_line(&st, Err(libc::EFAULT), Verdict::Ok).unwrap();
        assert_eq!(
            l,
            "badserver: read-efault: writev, payload from unmapped memory -> EFAULT \
             (expected EFAULT) ok"
        );
        let l = log_line(&st, Ok(116), Verdict::Mismatch).unwrap();
        assert!(l.ends_with("-> success (expected EFAULT) MISMATCH"), "{l}");
        let l = log_line(&st, Ok(16), Verdict::Mismatch).unwrap();
        assert!(
            l.contains("-> short write 16 of 116 (expected EFAULT)"),
            "{l}"
        );
        let r = lookup("nope", 2);
        assert_eq!(log_line(&r.steps[0], Ok(16), Verdict::Unchecked), None);
        let l = log_line(&r.steps[0], Err(libc::EINVAL), Verdict::Mismatch).unwrap();
        assert_eq!(
            l,
            "badserver: LOOKUP reply (unique 2) -> EINVAL (expected success) MISMATCH"
        );
        let l = log_line(&r.steps[0], Err(libc::ENOENT), Verdict::Unchecked).unwrap();
        assert!(l.starts_with("badserver: note: "), "{l}");
        assert_eq!(errno_name(12345), "errno 12345");
        assert_eq!(errno_name(libc::EMSGSIZE), "EMSGSIZE");
        // Named elsewhere, not in this log.
        assert_eq!(errno_name(libc::ENOSPC), format!("errno {}", libc::ENOSPC));
        for n in NAMED_ERRNOS.split_whitespace() {
            assert!((1..200).any(|e| errno_name(e) == n), "{n}");
        }
    }

    #[test]
    fn summary_formatting() {
        let mut buf = [0u8; 80];
        let n = summary_line(21, 0, &mut buf);
        assert_eq!(&buf[..n], b"badserver: 21 ok, 0 mismatched\n");
        let n = summary_line(u32::MAX, 7, &mut buf);
        assert_eq!(&buf[..n], b"badserver: 4294967295 ok, 7 mismatched\n");
    }
}
