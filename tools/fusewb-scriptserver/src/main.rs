//! `fusewb-scriptserver`: a scripted raw FUSE server that records every
//! request, for exact protocol tests (in the spirit of FreeBSD's fusefs
//! mock tests) of fuse-wb and of mainline FUSE.
//!
//! ```text
//! fusewb-mount [--mainline] [-o OPTS] MNT -- fusewb-scriptserver [OPTIONS] %m
//! ```
//!
//! It serves the already-mounted connection given as `/dev/fd/N` (the
//! last argument; `fusewb-mount` substitutes `%m`) on `/dev/fuse-wb` or
//! mainline `/dev/fuse` alike: read(2) one request, write(2) one reply,
//! single-threaded. The encoders and decoders are hand-made ([`proto`]).
//!
//! # Filesystem
//!
//! An in-memory root directory (node 1) holding regular files only (no
//! subdirectories). Files are created by CREATE, or by MKNOD (`S_IFREG`
//! only; other types get EPERM) followed by OPEN when CREATE is refused,
//! removed by UNLINK (an unlinked file lives on until its last FORGET),
//! made unnamed by TMPFILE (`--no-tmpfile`: ENOSYS) and given more names
//! by LINK,
//! and pre-created with `--file NAME=SIZE` (byte `i` is `i % 251`).
//! Contents are sparse, in 4 KiB blocks: LSEEK's SEEK_DATA/SEEK_HOLE
//! report allocated blocks as data (a block written even partly is data
//! entirely; EOF is a hole), FALLOCATE supports mode 0, KEEP_SIZE,
//! PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE (optionally |KEEP_SIZE), other
//! modes get EOPNOTSUPP, and one request may allocate at most 256 MiB
//! (else ENOSPC). COPY_FILE_RANGE copies at most 64 MiB per request.
//! O_APPEND is not applied by the server: a WRITE goes to the offset it
//! carries. O_TRUNC in the flags of OPEN (the kernel passes it there only
//! with FUSE_ATOMIC_O_TRUNC) or CREATE truncates. Served: INIT, LOOKUP, FORGET,
//! BATCH_FORGET, GETATTR, SETATTR, OPEN, CREATE, MKNOD, TMPFILE, LINK, UNLINK, READ, WRITE,
//! FLUSH, FSYNC, RELEASE, FALLOCATE, LSEEK, COPY_FILE_RANGE, STATFS,
//! OPENDIR, READDIR, RELEASEDIR, ACCESS, DESTROY, and with `--xattr` (or
//! `--posix-acl`) GETXATTR, SETXATTR, LISTXATTR, REMOVEXATTR on in-memory
//! attributes (setting `system.posix_acl_access` also sets the mode's
//! permission bits from the ACL, and clears sgid when the request says
//! FUSE_SETXATTR_ACL_KILL_SGID); INTERRUPT is logged and
//! ignored (as libfuse without an interrupt handler: the request is
//! answered normally); everything else gets ENOSYS. A READ on a handle
//! opened O_WRONLY is served (and flagged in the log).
//!
//! Every entry and attribute reply has entry_valid = attr_valid =
//! `--attr-timeout` seconds, 0 by default, so that every stat reaches the
//! server.
//!
//! INIT is answered with major 7, minor min(kernel's, 41), `max_write`,
//! `max_pages` (only when the kernel offered FUSE_MAX_PAGES), `time_gran`,
//! the kernel's `max_readahead`, and as flags the intersection of what the
//! kernel offered (`flags`, plus `flags2 << 32` when FUSE_INIT_EXT is
//! offered) with ASYNC_READ, BIG_WRITES, MAX_PAGES, INIT_EXT, and
//! ATOMIC_O_TRUNC with `--atomic-o-trunc`, PARALLEL_DIROPS with
//! `--parallel-dirops`, HANDLE_KILLPRIV_V2 with `--killpriv-v2`,
//! SETXATTR_EXT with `--xattr` or `--posix-acl`, POSIX_ACL with
//! `--posix-acl`, DONT_MASK with `--dont-mask` (CREATE and MKNOD then
//! apply the request's umask to the mode), WRITEBACK_CACHE with
//! `--writeback`. Suid/sgid (mode 06000) are cleared
//! where a request asks (FUSE_WRITE_KILL_SUIDGID, FATTR_KILL_SUIDGID, or
//! FUSE_OPEN_KILL_SUIDGID with O_TRUNC), never otherwise.
//!
//! # Scripting by file name
//!
//! | name prefix | effect |
//! |---|---|
//! | `short-`  | a WRITE of more than 4096 bytes is answered with size/2 (only the first half is stored) |
//! | `eio-`    | WRITE fails with EIO (nothing stored) |
//! | `enospc-` | WRITE fails with ENOSPC (nothing stored) |
//! | `slow-`   | WRITE is answered after `--slow-ms` (a blocking sleep: the whole server waits) |
//! | `stale-`  | GETATTR and LOOKUP replies report size + 1 MiB and mtime 1000000000 (2001); CREATE, MKNOD and SETATTR replies tell the truth |
//! | `hang-`   | READ and WRITE are never answered (the test kills the server) |
//! | `dio-`    | OPEN and CREATE answer FOPEN_DIRECT_IO |
//! | `keep-`   | OPEN and CREATE answer FOPEN_KEEP_CACHE |
//! | `nocopy-` | COPY_FILE_RANGE from the file (its source) gets ENOSYS |
//! | `lazy-`   | SETATTR that sets the size, OPEN and CREATE are applied and answered after `--slow-ms`, while the server serves other requests (a multi-threaded server); their lines carry `deferred_ms=` |
//! | `lazytrunc-` | as `lazy-`, for SETATTR that sets the size only |
//! | `hangattr-` | SETATTR that does not set the size is never answered |
//! | `lazylookup-` | LOOKUP of the name is answered after `--slow-ms`, while the server serves other requests (its line carries `deferred_ms=`) |
//! | `badacl-` | GETXATTR of `system.posix_acl_*` answers a malformed ACL (`--xattr`) |
//! | `suidlater-` | CREATE answers the mode it made, then the file gets S_ISUID (another client's `chmod u+s`) |
//! | `ghost-` | LOOKUP answers ENOENT though the name exists (another client made it just after): the kernel CREATEs over it |
//! | `lazyread-` | READ is answered after `--slow-ms`, while the server serves other requests (its line carries `deferred_ms=`) |
//! | `lazywrite-` | WRITE is applied and answered, FSYNC answered, after `--slow-ms`, while the server serves other requests (their lines carry `deferred_ms=`) |
//! | `lazyflush-` | FLUSH is answered after `--slow-ms`, while the server serves other requests (its line carries `deferred_ms=`) |
//!
//! # Log
//!
//! One line per request, appended to `--log FILE` (stderr without it)
//! with one write(2) each, so a test can read the log while the server
//! runs. Fields are separated by single spaces; values are decimal unless
//! noted, `0x` hexadecimal, or `0`-prefixed octal (modes):
//!
//! ```text
//! OPNAME unique=U nodeid=N uid=U gid=G pid=P [file=NAME] OP-FIELDS...
//! REPLY unique=U error=E size=S op=OPNAME [file=NAME] [errno=ENAME] EXTRA...
//! NOREPLY unique=U op=OPNAME reason=hang [file=NAME]
//! ```
//!
//! `OPNAME` is the opcode without `FUSE_` (`OP<n>` if unknown). `file=` is
//! the name of the request's node (kept after UNLINK), or for LOOKUP,
//! CREATE, MKNOD and UNLINK the name in the request; absent for the root and unknown nodes. Names are
//! printed with bytes outside printable ASCII, and `\`, as `\xHH` (a
//! space is `\x20`). `REPLY` follows its request's line (after any delay);
//! `error` is 0 or the negative errno; `size` is the byte count for READ
//! (data returned), WRITE and COPY_FILE_RANGE (bytes written), else the
//! payload length. When the kernel refuses the reply's write(2),
//! ` write_error=ENAME` is appended. Requests without replies (FORGET,
//! BATCH_FORGET, INTERRUPT) have no REPLY line; `hang-` requests get a
//! NOREPLY line. Lines starting with `#` are the server's own notes
//! (connection closed, the exit summary).
//!
//! OP-FIELDS (bare words appear only when set):
//!
//! ```text
//! INIT        major= minor= max_readahead= flags=0x flags2=0x caps=NAME,NAME...
//! LOOKUP      name=
//! FORGET      nlookup= [unknown_node=1]
//! BATCH_FORGET count= nodes=NODEID:NLOOKUP,...
//! GETATTR     getattr_flags=0x fh=
//! SETATTR     valid=0x [mode=0OCT] [uid=] [gid=] [size=] [atime=S.NS] [atime_now]
//!             [mtime=S.NS] [mtime_now] [ctime=S.NS] [fh=] [lock_owner=0x] [kill_suidgid]
//! OPEN        flags=0x oflags=WRONLY|APPEND|... open_flags=0x
//! CREATE      flags=0x oflags=... mode=0OCT umask=0OCT open_flags=0x name=
//! MKNOD       mode=0OCT rdev=0x umask=0OCT name=
//! TMPFILE     as CREATE (name=/, file=tmpfile)
//! LINK        oldnodeid= name=
//! UNLINK      name=
//! READ        fh= offset= size= end= read_flags=0x lock_owner=0x flags=0x [wronly_fh=1]
//! WRITE       fh= offset= size= end= write_flags=0x cache=0|1 [kill_suidgid=1]
//!             lock_owner=0x flags=0x [data=N] [rdonly_fh=1]
//! FLUSH       fh= lock_owner=0x
//! FSYNC       fh= fsync_flags=0x [datasync]
//! RELEASE     fh= flags=0x release_flags=0x lock_owner=0x [release_flush] [flock_unlock]
//! RELEASEDIR  as RELEASE
//! FALLOCATE   fh= offset= length= mode=0x [keep_size] [punch_hole] [zero_range]
//! LSEEK       fh= offset= whence=SEEK_DATA|SEEK_HOLE|...
//! COPY_FILE_RANGE fh_in= off_in= nodeid_out= fh_out= off_out= len= flags=0x [file_out=]
//!             [badfh_out=1]
//! OPENDIR     flags=0x open_flags=0x
//! READDIR     fh= offset= size=
//! ACCESS      mask=0x
//! GETXATTR    size= name=
//! LISTXATTR   size=
//! SETXATTR    size= flags=0x setxattr_flags=0x [acl_kill_sgid] name=
//! REMOVEXATTR name=
//! INTERRUPT   target=UNIQUE
//! other       len=
//! ```
//!
//! `end` is offset + size. `cache=1` means FUSE_WRITE_CACHE (a write-back
//! WRITE). `wronly_fh=1`: the READ's handle was opened O_WRONLY (the
//! write-back read-modify-write); `rdonly_fh=1`: a WRITE on a handle
//! opened O_RDONLY; `badfh=1`: the handle is not an open handle of that
//! node (unknown, released, or another node's); `data=N`: the WRITE
//! carried N data bytes instead of `size`; `malformed=1`: the arguments
//! were too short (the reply is EINVAL). REPLY extras: INIT: the reply's
//! `major= minor= flags=0x flags2=0x caps= max_write= max_pages= time_gran=
//! max_readahead=`; LOOKUP: `ino= attr_size=`; CREATE: `fh= [open_flags=0x]
//! ino=`; TMPFILE as CREATE; MKNOD and LINK: `ino=`; OPEN: `fh= [open_flags=0x]` (the FOPEN_ flags of
//! the reply, when not 0); OPENDIR: `fh=`; GETATTR: `attr_size= attr_mtime=S.NS`;
//! SETATTR: `attr_size=`; WRITE: `delay_ms=` (`slow-`), `short=1`
//! (`short-`); LSEEK: `offset=`. Examples:
//!
//! ```text
//! WRITE unique=24 nodeid=2 uid=0 gid=0 pid=311 file=x fh=1 offset=0 size=12288 end=12288 write_flags=0x1 cache=1 lock_owner=0x0 flags=0x8001
//! REPLY unique=24 error=0 size=12288 op=WRITE file=x
//! ```
//!
//! # Options
//!
//! ```text
//! --log FILE           record to FILE (created/truncated) instead of stderr
//! --attr-timeout SECS  entry/attribute cache timeout of every reply (default 0)
//! --max-write BYTES    INIT max_write (default 1M; 4096..16M; K/M suffixes)
//! --max-pages N        INIT max_pages when the kernel offers MAX_PAGES (default 256)
//! --time-gran NS       INIT time_gran (default 1)
//! --writeback          ask for FUSE_WRITEBACK_CACHE
//! --atomic-o-trunc     ask for FUSE_ATOMIC_O_TRUNC
//! --parallel-dirops    ask for FUSE_PARALLEL_DIROPS
//! --killpriv-v2        ask for FUSE_HANDLE_KILLPRIV_V2
//! --xattr              serve GETXATTR, SETXATTR, LISTXATTR, REMOVEXATTR (in
//!                      memory; else they get ENOSYS) and ask for SETXATTR_EXT
//! --posix-acl          ask for FUSE_POSIX_ACL (implies --xattr)
//! --dont-mask          ask for FUSE_DONT_MASK (CREATE and MKNOD apply the umask)
//! --keep-cache         answer OPEN/CREATE with FOPEN_KEEP_CACHE (every file)
//! --slow-ms MS         delay of WRITE replies for slow- files (default 200)
//! --file NAME=SIZE     pre-create NAME with SIZE bytes, byte i = i % 251
//!                      (repeatable; at most 1G)
//! --no-create          CREATE gets ENOSYS (the kernel falls back to MKNOD+OPEN)
//! --no-flush, --no-fsync, --no-fallocate, --no-lseek, --no-copy-file-range,
//! --no-tmpfile         that request gets ENOSYS
//! --same-fh            every OPEN and CREATE answers handle 1 (as a server
//!                      that keeps no per-open state); RELEASE ends one of them
//! --splice             read requests with splice(2) through a pipe, as
//!                      libfuse does, instead of read(2)
//! --read-size BYTES    read(2) requests into a buffer of BYTES (8K..16M+4K;
//!                      default the largest): a request that does not fit
//!                      is failed by the kernel
//! -f                   ignored (it always runs in the foreground)
//! ```
//!
//! It exits 0 when the connection goes away (read(2) fails with ENODEV,
//! or poll(2) reports POLLERR) or on SIGTERM/SIGINT, printing
//! `fusewb-scriptserver: N requests, M replies, K left unanswered, F nodes,
//! H open handles (OP COUNT, ...)` to stderr (and as a `#` line to the
//! log); it exits 2 on usage or unexpected errors.

mod cli;
mod fs;
mod proto;
mod server;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

use proto::raw::{self, Polled, Received};
use server::Server;

const PROG: &str = "fusewb-scriptserver";

/// The splice pipe's size: the largest WRITE (`--max-write` up to 16 MiB)
/// plus headers.
const BUF_SIZE: usize = cli::READ_SIZE;

const USAGE: &str = "\
Usage: fusewb-scriptserver [OPTIONS] /dev/fd/N

A scripted FUSE server that records every request (one line each) for exact
protocol tests. Start it with fusewb-mount, which passes the mounted
connection as /dev/fd/N, e.g.:

  fusewb-mount -o allow_wbcache /mnt/p -- fusewb-scriptserver --writeback \\
      --log /tmp/p.log --file data=8192 %m

An in-memory flat root directory of regular files. File name prefixes script
the replies:
  short-   WRITE > 4096 bytes answered with size/2 (first half stored)
  eio-     WRITE fails with EIO         enospc-  WRITE fails with ENOSPC
  slow-    WRITE answered after --slow-ms
  stale-   GETATTR/LOOKUP report size + 1 MiB and mtime 1000000000
  hang-    READ and WRITE never answered
  dio-     OPEN/CREATE answer FOPEN_DIRECT_IO
  keep-    OPEN/CREATE answer FOPEN_KEEP_CACHE
  nocopy-  COPY_FILE_RANGE from it gets ENOSYS
  lazy-    size-setting SETATTR, OPEN, CREATE answered --slow-ms later,
           while other requests are served; lazytrunc-: that SETATTR only
  hangattr- SETATTR that does not set the size is never answered
  lazylookup- LOOKUP of the name answered --slow-ms later, others served
  badacl-     GETXATTR of system.posix_acl_* answers a malformed ACL
  suidlater-  CREATE answers the mode it made, then the file gets S_ISUID
  ghost-      LOOKUP answers ENOENT though the name exists
  lazyread-   READ answered --slow-ms later, others served
  lazywrite-  WRITE (applied then) and FSYNC answered --slow-ms later,
              others served; lazyflush-: FLUSH

Log lines (see the crate documentation for every field):
  OPNAME unique=U nodeid=N uid=U gid=G pid=P [file=NAME] FIELDS...
  REPLY unique=U error=E size=S op=OPNAME [file=NAME] [errno=ENAME] EXTRA...
  NOREPLY unique=U op=OPNAME reason=hang [file=NAME]

Options:
  --log FILE           record to FILE (created/truncated) instead of stderr
  --attr-timeout SECS  entry/attribute timeout of every reply (default 0)
  --max-write BYTES    INIT max_write (default 1M; 4096..16M)
  --max-pages N        INIT max_pages if the kernel offers MAX_PAGES (default 256)
  --time-gran NS       INIT time_gran (default 1)
  --writeback          ask for FUSE_WRITEBACK_CACHE
  --atomic-o-trunc     ask for FUSE_ATOMIC_O_TRUNC
  --parallel-dirops    ask for FUSE_PARALLEL_DIROPS
  --killpriv-v2        ask for FUSE_HANDLE_KILLPRIV_V2
  --xattr              serve GETXATTR/SETXATTR/LISTXATTR/REMOVEXATTR (in memory)
  --posix-acl          ask for FUSE_POSIX_ACL (implies --xattr)
  --dont-mask          ask for FUSE_DONT_MASK (CREATE/MKNOD apply the umask)
  --keep-cache         answer OPEN/CREATE with FOPEN_KEEP_CACHE
  --slow-ms MS         delay for slow- files (default 200)
  --file NAME=SIZE     pre-create NAME, byte i = i % 251 (repeatable)
  --no-create, --no-flush, --no-fsync, --no-fallocate, --no-lseek,
  --no-copy-file-range, --no-tmpfile
                       that request gets ENOSYS
  --same-fh            every OPEN and CREATE answers handle 1
  --splice             read requests by splice(2) through a pipe (as libfuse)
  --read-size BYTES    read(2) buffer (8K..16M+4K, default the largest); a
                       request that does not fit is failed by the kernel
  -f                   ignored (always in the foreground)
  -h, --help           print this help

Exits 0 when the connection goes away or on SIGTERM/SIGINT, printing a
summary to stderr; 2 on usage or unexpected errors.
";

/// Set by SIGTERM/SIGINT; the loop checks it (poll wakes with EINTR).
static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_terminate(_sig: libc::c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

/// The log: one write(2) per line on an O_APPEND descriptor, so readers
/// see whole lines as soon as they are written.
struct Log {
    fd: i32,
}

impl Log {
    fn line(&self, line: &str) {
        raw::write_line(self.fd, line);
    }
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    let cfg = match cli::parse_args(&args) {
        Ok(cli::Cli::Help) => {
            print!("{USAGE}");
            return;
        }
        Ok(cli::Cli::Serve(cfg)) => cfg,
        Err(msg) => {
            eprintln!("{PROG}: {msg}\nTry '{PROG} --help'.");
            std::process::exit(2);
        }
    };
    let log = match setup(cfg.fd, cfg.log.as_deref()) {
        Ok(log) => log,
        Err(msg) => {
            eprintln!("{PROG}: {msg}");
            std::process::exit(2);
        }
    };
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut server = Server::new(cfg.opts, uid, gid);
    for (name, size) in &cfg.files {
        if let Err(msg) = server.precreate(name, *size) {
            eprintln!("{PROG}: {msg}");
            std::process::exit(2);
        }
    }
    let pipe = match cfg.splice {
        true => match raw::SplicePipe::new(BUF_SIZE) {
            Ok(p) => Some(p),
            Err(msg) => {
                eprintln!("{PROG}: --splice: {msg}");
                std::process::exit(2);
            }
        },
        false => None,
    };
    let code = serve(cfg.fd, &log, &mut server, pipe.as_ref(), cfg.read_size);
    let summary = format!(
        "{PROG}: {}",
        server
            .stats
            .summary(server.fs.file_count(), server.fs.open_handles())
    );
    if log.fd != 2 {
        log.line(&format!("# {summary}"));
    }
    eprintln!("{summary}");
    std::process::exit(code);
}

fn setup(fd: i32, log_path: Option<&str>) -> Result<Log, String> {
    raw::prepare_dev_fd(fd)?;
    let log = match log_path {
        None => Log { fd: 2 },
        Some(path) => Log {
            fd: raw::open_log(path)?,
        },
    };
    // SAFETY: on_terminate only stores to an atomic. The loop sees the flag
    // because the handler interrupts poll(2) (EINTR, no SA_RESTART).
    unsafe { raw::on_terminate_signals(on_terminate, raw::SigMask::Empty) }
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    Ok(log)
}

/// Writes `reply` and logs its line (with the write's error, if any).
fn send_reply(fd: i32, log: &Log, reply: &server::Pending) {
    // The count is not looked at (fusewb-badserver judges it).
    match raw::write_reply(fd, &reply.bytes) {
        Ok(_) => log.line(&reply.line),
        Err(e) => log.line(&format!(
            "{} write_error={}",
            reply.line,
            server::errno_name(e)
        )),
    }
}

/// Serves until the connection goes away or a signal asks to stop;
/// returns the exit status.
fn serve(
    fd: i32,
    log: &Log,
    server: &mut Server,
    pipe: Option<&raw::SplicePipe>,
    read_size: usize,
) -> i32 {
    let mut buf = vec![0u8; read_size];
    // Requests put off (`lazy-`): when to handle them, and their bytes.
    let mut later: std::collections::VecDeque<(std::time::Instant, Vec<u8>)> =
        std::collections::VecDeque::new();
    loop {
        if TERMINATE.load(Ordering::SeqCst) {
            log.line("# terminated by signal");
            return 0;
        }
        let now = std::time::Instant::now();
        while later.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, bytes)) = later.pop_front() {
                let out = server.handle_deferred(&bytes);
                if let Some(reply) = out.reply {
                    send_reply(fd, log, &reply);
                }
            }
        }
        let timeout = later.front().map_or(1000, |(t, _)| {
            t.saturating_duration_since(now).as_millis().clamp(1, 1000) as i32
        });
        // The timeout bounds how long a signal that lands just before
        // poll(2) goes unnoticed.
        let revents = match raw::poll_in(fd, timeout) {
            Polled::Ready(revents) => revents,
            Polled::TimedOut | Polled::Interrupted => continue,
            Polled::Failed(e) => {
                log.line(&format!("# poll failed: {}", server::errno_name(e)));
                return 2;
            }
        };
        // An error bit ends the loop only when nothing is left to read
        // (fusewb-badserver stops at POLLERR alone: it tests the poll).
        if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
            && revents & libc::POLLIN == 0
        {
            log.line("# connection closed (poll reported an error)");
            return 0;
        }
        let got = match pipe {
            Some(p) => p.read_request(fd, &mut buf),
            None => raw::read_request(fd, &mut buf),
        };
        let n = match got {
            Received::Request(n) => n,
            Received::Retry => continue,
            Received::Closed(e) => {
                log.line(&format!("# connection closed ({})", server::errno_name(e)));
                return 0;
            }
            Received::EndOfFile => {
                log.line("# connection closed (read returned 0)");
                return 0;
            }
            Received::Failed(e) => {
                log.line(&format!(
                    "# read from fd {fd} failed: {} ({})",
                    server::errno_name(e),
                    io::Error::from_raw_os_error(e)
                ));
                return 2;
            }
        };
        let out = server.handle(&buf[..n]);
        log.line(&out.request_line);
        if out.deferred {
            let at = std::time::Instant::now() + std::time::Duration::from_millis(server.slow_ms());
            later.push_back((at, buf[..n].to_vec()));
        }
        if let Some(reply) = out.reply {
            if reply.delay_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(reply.delay_ms));
            }
            send_reply(fd, log, &reply);
        }
        if let Some(line) = out.noreply_line {
            log.line(&line);
        }
    }
}
