//! `fusewb-badserver`: a deliberately misbehaving FUSE server that proves
//! the kernel validates every reply.
//!
//! ```text
//! fusewb-badserver [--log FILE] /dev/fd/N
//! fusewb-badserver --list
//! ```
//!
//! It is started by `fusewb-mount` with the connection as `/dev/fd/N` and
//! speaks the raw protocol on that descriptor: read(2) one request, write(2)
//! the reply (see [`proto`] for the hand-made encoders). It serves a fixed
//! tree whose root holds one entry per scenario (see [`server::SCENARIOS`]);
//! everything is answered correctly with zero cache timeouts, except the
//! operation a scenario names, whose reply is malformed:
//!
//! * class `H` (header level): the kernel must reject the write with
//!   EINVAL and keep the request pending; a proper `-ENOENT` reply for the
//!   same unique follows, which must succeed (the caller sees ENOENT);
//! * class `P` (payload level): the kernel must reject the write with
//!   EINVAL and fail the caller's request with EIO; nothing more is sent.
//!   `read-efault` is the exception to EINVAL: its READ reply is one
//!   writev(2) whose header is correct but whose payload's iovec points at
//!   a page mapped PROT_NONE, so the kernel's copy faults and the write
//!   must fail with EFAULT;
//! * `hang`: READ is never answered (the test kills the server);
//! * class `N` (notifications): malformed notifications are written before
//!   a correct reply; each must fail with EINVAL (or ENOENT, for a node the
//!   kernel does not know), the caller's operation succeeds.
//!
//! Every malformed write and follow-up is logged as
//! `badserver: NAME: STEP -> RESULT (expected X) ok|MISMATCH`; a correct
//! reply is logged only if the kernel refused it. On exit (the connection
//! goes away, or SIGTERM/SIGINT) the summary `badserver: N ok, M mismatched`
//! is printed and the exit status is 1 if anything mismatched, else 0.

mod proto;
mod server;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use proto::raw::{self, parse_fd, write_fd_all, Polled, Received};
use server::{Server, Verdict};

const PROG: &str = "fusewb-badserver";

/// Read buffer: the kernel needs room for the largest WRITE request.
const BUF_SIZE: usize = 1024 * 1024 + 4096;

const USAGE: &str = "\
Usage: fusewb-badserver [--log FILE] [--async-read] /dev/fd/N
       fusewb-badserver --list

  --async-read  answer INIT with FUSE_ASYNC_READ: readahead READs are then
                background requests (read-efault's first reply goes straight
                into the kernel's page cache); without it every READ has a
                waiting caller (hang relies on that: INTERRUPTs, waiting count)

A deliberately misbehaving FUSE server that checks that the kernel validates
every reply. It serves the already-mounted FUSE connection on descriptor N
(start it with fusewb-mount, which passes /dev/fd/N), e.g.:

  fusewb-mount /mnt/bad -- fusewb-badserver --log /tmp/bad.log

The root directory has one entry per scenario (see --list). Everything is
answered correctly, with zero cache timeouts, except the operation named by
the scenario, whose reply is malformed:
  H     header-level: the write must fail with EINVAL and the request stay
        pending; a proper -ENOENT reply follows and must succeed, so the
        client sees ENOENT;
  P     payload-level: the write must fail with EINVAL and the client's
        request fail with EIO; nothing more is sent (read-efault: the READ
        reply's header is correct but its payload is written from memory
        that is not mapped; the write must fail with EFAULT);
  hang  READ is never answered (kill the server: the reader must fail).
  N     notifications: malformed ones are written before a correct reply and
        must fail with EINVAL (ENOENT for unknown nodes); the client succeeds.
Regular files hold 100 bytes of 'x'.

One log line per malformed write and follow-up:
  badserver: NAME: STEP -> RESULT (expected X) ok|MISMATCH
Correct replies are logged only when the kernel refuses them (MISMATCH, or a
note for ENOENT = request no longer pending); at most 50 lines are logged
per scenario (all are counted). When the connection goes away
(read fails with ENODEV), or on SIGTERM/SIGINT, it prints
  badserver: N ok, M mismatched
and exits 1 if anything mismatched, else 0 (2 on usage or unexpected errors).

Options:
  --log FILE   append log lines to FILE (created/truncated) instead of stderr
  --list       print 'NAME CLASS OP' per scenario and exit; CLASS is H, P, N or
               hang, OP the client command that triggers it (stat, cat, ls,
               readlink)
  -f           accepted and ignored (it always runs in the foreground)
  -h, --help   print this help
";

static OK_COUNT: AtomicU32 = AtomicU32::new(0);
static MISMATCH_COUNT: AtomicU32 = AtomicU32::new(0);
static LOG_FD: AtomicI32 = AtomicI32::new(2);

fn log(line: &str) {
    raw::write_line(LOG_FD.load(Ordering::SeqCst), line);
}

fn exit_status() -> i32 {
    i32::from(MISMATCH_COUNT.load(Ordering::SeqCst) > 0)
}

/// Prints the summary line and exits; async-signal-safe.
fn summary_and_exit(code: Option<i32>) -> ! {
    let mut buf = [0u8; 80];
    let n = server::summary_line(
        OK_COUNT.load(Ordering::SeqCst),
        MISMATCH_COUNT.load(Ordering::SeqCst),
        &mut buf,
    );
    write_fd_all(LOG_FD.load(Ordering::SeqCst), &buf[..n]);
    let code = code.unwrap_or_else(exit_status);
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

extern "C" fn on_terminate(_sig: libc::c_int) {
    summary_and_exit(None);
}

#[derive(Debug, PartialEq, Eq)]
enum Cli {
    Help,
    List,
    Serve {
        fd: i32,
        log: Option<String>,
        async_read: bool,
    },
}

fn parse_args(args: &[String]) -> Result<Cli, String> {
    let mut log = None;
    let mut fd = None;
    let mut async_read = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-h" | "--help" => return Ok(Cli::Help),
            "--list" => return Ok(Cli::List),
            "-f" => {}
            "--async-read" => async_read = true,
            "--log" => {
                i += 1;
                log = Some(
                    args.get(i)
                        .ok_or_else(|| "--log needs a FILE".to_string())?
                        .clone(),
                );
            }
            _ if a.starts_with("--log=") => log = Some(a["--log=".len()..].to_string()),
            _ if a.starts_with('-') => return Err(format!("unknown option '{a}'")),
            _ => {
                if fd.is_some() {
                    return Err(format!("unexpected argument '{a}'"));
                }
                fd = Some(parse_fd(a).ok_or_else(|| {
                    format!("'{a}' is not of the form /dev/fd/N (start me with fusewb-mount)")
                })?);
            }
        }
        i += 1;
    }
    match fd {
        Some(fd) => Ok(Cli::Serve {
            fd,
            log,
            async_read,
        }),
        None => Err("missing /dev/fd/N (start me with fusewb-mount)".to_string()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    let (fd, log_path, async_read) = match parse_args(&args) {
        Ok(Cli::Help) => {
            print!("{USAGE}");
            return;
        }
        Ok(Cli::List) => {
            print!("{}", server::list_text());
            return;
        }
        Ok(Cli::Serve {
            fd,
            log,
            async_read,
        }) => (fd, log, async_read),
        Err(msg) => {
            eprintln!("{PROG}: {msg}\nTry '{PROG} --help'.");
            std::process::exit(2);
        }
    };
    if let Err(msg) = setup(fd, log_path.as_deref()) {
        eprintln!("{PROG}: {msg}");
        std::process::exit(2);
    }
    let unmapped = match unmapped_page() {
        Ok(addr) => addr,
        Err(msg) => {
            eprintln!("{PROG}: {msg}");
            std::process::exit(2);
        }
    };
    serve(fd, unmapped, async_read);
}

fn setup(fd: i32, log_path: Option<&str>) -> Result<(), String> {
    raw::prepare_dev_fd(fd)?;
    if let Some(path) = log_path {
        LOG_FD.store(raw::open_log(path)?, Ordering::SeqCst);
    }
    // SAFETY: on_terminate only uses atomics, write(2) and _exit(2); with
    // every signal blocked it runs to its end.
    unsafe { raw::on_terminate_signals(on_terminate, raw::SigMask::Full) }
        .map_err(|e| format!("cannot install signal handlers: {e}"))
}

/// Maps one page PROT_NONE and returns its address: `read-efault`'s
/// payloads are written from it, and the kernel's copy faults on their
/// first byte. It stays mapped (and inaccessible) until the process exits.
fn unmapped_page() -> Result<usize, String> {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    // SAFETY: a fresh anonymous mapping, placed where the kernel likes,
    // touches no existing memory.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(format!(
            "cannot map a PROT_NONE page: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(addr as usize)
}

/// One writev(2) (again on EINTR) of `head`, then `len` bytes from
/// `addr`, which nothing may be read from: Ok(bytes written) or
/// Err(errno).
fn write_from_unmapped(fd: i32, head: &[u8], addr: usize, len: usize) -> Result<usize, i32> {
    let iov = [
        libc::iovec {
            iov_base: head.as_ptr().cast_mut().cast(),
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: len,
        },
    ];
    loop {
        // SAFETY: the first iovec describes a live buffer; the second is
        // only read, by the kernel, which checks the access (that it fails
        // is the point).
        let n = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = raw::last_errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Caps the log lines per scenario (a looping client must not flood the
/// log); counting goes on regardless.
#[derive(Default)]
struct LogLimiter {
    lines: std::collections::HashMap<&'static str, u32>,
}

/// Log lines kept per scenario (and for normal replies, under "").
const MAX_LINES_PER_SCENARIO: u32 = 50;

impl LogLimiter {
    fn allow(&mut self, scenario: Option<&'static str>) -> bool {
        let key = scenario.unwrap_or("");
        let n = self.lines.entry(key).or_insert(0);
        *n += 1;
        if *n == MAX_LINES_PER_SCENARIO + 1 {
            let what = if key.is_empty() {
                "normal replies"
            } else {
                key
            };
            log(&format!(
                "badserver: {what}: more than {MAX_LINES_PER_SCENARIO} log lines, \
                 not logging further ones (still counted)"
            ));
        }
        *n <= MAX_LINES_PER_SCENARIO
    }
}

/// Serves `fd`; `unmapped` is the address of [`unmapped_page`];
/// `async_read`: offer FUSE_ASYNC_READ.
fn serve(fd: i32, unmapped: usize, async_read: bool) -> ! {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut server = Server::new(uid, gid);
    server.async_read = async_read;
    let mut buf = vec![0u8; BUF_SIZE];
    let mut limiter = LogLimiter::default();
    log(&format!(
        "badserver: serving fd {fd}, {} scenarios, protocol {}.{}",
        server::SCENARIOS.len(),
        proto::KERNEL_VERSION,
        proto::KERNEL_MINOR_VERSION
    ));
    loop {
        // Wait with poll(2) before every read, so the suite exercises the
        // device's poll: it must report a request as readable, and an
        // aborted connection as an error.
        // Without a timeout, poll(2) does not return TimedOut.
        let revents = match raw::poll_in(fd, -1) {
            Polled::Ready(revents) => revents,
            Polled::TimedOut | Polled::Interrupted => continue,
            Polled::Failed(e) => {
                log(&format!(
                    "badserver: poll failed: {}",
                    server::errno_name(e)
                ));
                summary_and_exit(Some(2));
            }
        };
        // POLLERR ends the loop even with requests still readable (the
        // aborted connection's poll is what is tested; fusewb-scriptserver
        // reads on while POLLIN is set).
        if revents & libc::POLLERR != 0 {
            log("badserver: connection closed (poll reported POLLERR)");
            summary_and_exit(None);
        }
        let n = match raw::read_request(fd, &mut buf) {
            Received::Request(n) => n,
            Received::Retry => continue,
            Received::Closed(e) => {
                log(&format!(
                    "badserver: connection closed ({})",
                    server::errno_name(e)
                ));
                summary_and_exit(None);
            }
            Received::EndOfFile => {
                log("badserver: connection closed (read returned 0)");
                summary_and_exit(None);
            }
            Received::Failed(e) => {
                log(&format!(
                    "badserver: read from fd {fd} failed: {} ({})",
                    server::errno_name(e),
                    io::Error::from_raw_os_error(e)
                ));
                summary_and_exit(Some(2));
            }
        };
        let response = server.handle(&buf[..n]);
        for note in &response.notes {
            log(&format!("badserver: {note}"));
        }
        for step in &response.steps {
            let result = if step.unmapped == 0 {
                raw::write_reply(fd, &step.bytes)
            } else {
                write_from_unmapped(fd, &step.bytes, unmapped, step.unmapped)
            };
            let verdict = server::judge(&step.expect, result, step.write_len());
            match verdict {
                Verdict::Ok => {
                    OK_COUNT.fetch_add(1, Ordering::SeqCst);
                }
                Verdict::Mismatch => {
                    MISMATCH_COUNT.fetch_add(1, Ordering::SeqCst);
                }
                Verdict::Unchecked => {}
            }
            if let Some(line) = server::log_line(step, result, verdict) {
                if limiter.allow(step.scenario) {
                    log(&line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_command_lines() {
        assert_eq!(
            parse_args(&s(&["/dev/fd/4"])),
            Ok(Cli::Serve {
                fd: 4,
                log: None,
                async_read: false
            })
        );
        assert_eq!(
            parse_args(&s(&["--log", "/tmp/l", "-f", "/dev/fd/5"])),
            Ok(Cli::Serve {
                fd: 5,
                log: Some("/tmp/l".into()),
                async_read: false
            })
        );
        assert_eq!(
            parse_args(&s(&["/dev/fd/5", "--log=x", "--async-read"])),
            Ok(Cli::Serve {
                fd: 5,
                log: Some("x".into()),
                async_read: true
            })
        );
        assert_eq!(parse_args(&s(&["--list"])), Ok(Cli::List));
        assert_eq!(parse_args(&s(&["--help"])), Ok(Cli::Help));
        assert!(parse_args(&s(&[])).is_err());
        assert!(parse_args(&s(&["--log"])).is_err());
        assert!(parse_args(&s(&["/mnt"])).is_err());
        assert!(parse_args(&s(&["/dev/fd/3", "/dev/fd/4"])).is_err());
        assert!(parse_args(&s(&["-x", "/dev/fd/3"])).is_err());
    }

    #[test]
    fn writes_from_the_unmapped_page_fault() {
        let page = unmapped_page().unwrap();
        let mut p = [0i32; 2];
        // SAFETY: p has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        // The copy faults on the first byte.
        assert_eq!(write_from_unmapped(p[1], &[], page, 100), Err(libc::EFAULT));
        // After a good head the write is not whole either (a pipe fails it
        // or keeps the head; the device fails it).
        assert_ne!(write_from_unmapped(p[1], b"head", page, 100), Ok(104));
        // SAFETY: both descriptors are ours; the page was mapped above.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
            libc::munmap(page as *mut libc::c_void, 1);
        }
    }
}
