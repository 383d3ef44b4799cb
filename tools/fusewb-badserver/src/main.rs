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
//!   EINVAL and fail the caller's request with EIO; nothing more is sent;
//! * `hang`: READ is never answered (the test kills the server).
//!
//! Every malformed write and follow-up is logged as
//! `badserver: NAME: STEP -> RESULT (expected X) ok|MISMATCH`; a correct
//! reply is logged only if the kernel refused it. On exit (the connection
//! goes away, or SIGTERM/SIGINT) the summary `badserver: N ok, M mismatched`
//! is printed and the exit status is 1 if anything mismatched, else 0.

mod proto;
mod server;

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use server::{Server, Verdict};

const PROG: &str = "fusewb-badserver";

/// Read buffer: the kernel needs room for the largest WRITE request.
const BUF_SIZE: usize = 1024 * 1024 + 4096;

const USAGE: &str = "\
Usage: fusewb-badserver [--log FILE] /dev/fd/N
       fusewb-badserver --list

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
        request fail with EIO; nothing more is sent;
  hang  READ is never answered (kill the server: the reader must fail).
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
  --list       print 'NAME CLASS OP' per scenario and exit; CLASS is H, P or
               hang, OP the client command that triggers it (stat, cat, ls,
               readlink)
  -f           accepted and ignored (it always runs in the foreground)
  -h, --help   print this help
";

static OK_COUNT: AtomicU32 = AtomicU32::new(0);
static MISMATCH_COUNT: AtomicU32 = AtomicU32::new(0);
static LOG_FD: AtomicI32 = AtomicI32::new(2);

/// Writes all of `bytes` to `fd`, ignoring errors (async-signal-safe).
fn write_fd_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
}

fn log(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    write_fd_all(LOG_FD.load(Ordering::SeqCst), s.as_bytes());
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

fn install_signal_handlers() -> io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only uses atomics, write(2) and _exit(2).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_terminate as *const () as libc::sighandler_t;
            libc::sigfillset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Cli {
    Help,
    List,
    Serve { fd: i32, log: Option<String> },
}

/// Parses `/dev/fd/N` (or a plain `N`).
fn parse_fd(arg: &str) -> Option<i32> {
    let digits = arg.strip_prefix("/dev/fd/").unwrap_or(arg);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_args(args: &[String]) -> Result<Cli, String> {
    let mut log = None;
    let mut fd = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-h" | "--help" => return Ok(Cli::Help),
            "--list" => return Ok(Cli::List),
            "-f" => {}
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
        Some(fd) => Ok(Cli::Serve { fd, log }),
        None => Err("missing /dev/fd/N (start me with fusewb-mount)".to_string()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    let (fd, log_path) = match parse_args(&args) {
        Ok(Cli::Help) => {
            print!("{USAGE}");
            return;
        }
        Ok(Cli::List) => {
            print!("{}", server::list_text());
            return;
        }
        Ok(Cli::Serve { fd, log }) => (fd, log),
        Err(msg) => {
            eprintln!("{PROG}: {msg}\nTry '{PROG} --help'.");
            std::process::exit(2);
        }
    };
    if let Err(msg) = setup(fd, log_path.as_deref()) {
        eprintln!("{PROG}: {msg}");
        std::process::exit(2);
    }
    serve(fd);
}

fn setup(fd: i32, log_path: Option<&str>) -> Result<(), String> {
    // SAFETY: F_GETFL on an arbitrary number only queries it.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(format!(
            "descriptor {fd} is not open: {} (start me with fusewb-mount, which passes /dev/fd/N)",
            io::Error::last_os_error()
        ));
    }
    if fl & libc::O_NONBLOCK != 0 {
        // SAFETY: fd is open; we only clear O_NONBLOCK.
        unsafe { libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK) };
    }
    // Keep the connection out of anything we might exec (nothing, but be
    // tidy): only this process must hold it.
    // SAFETY: fd is open.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    if let Some(path) = log_path {
        let c = CString::new(path).map_err(|_| "log path contains a NUL byte".to_string())?;
        // SAFETY: valid C string.
        let lfd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND | libc::O_CLOEXEC,
                0o644,
            )
        };
        if lfd < 0 {
            return Err(format!(
                "cannot open log file {path}: {}",
                io::Error::last_os_error()
            ));
        }
        LOG_FD.store(lfd, Ordering::SeqCst);
    }
    install_signal_handlers().map_err(|e| format!("cannot install signal handlers: {e}"))
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

/// One write(2) of a whole reply: Ok(bytes written) or Err(errno).
fn write_reply(fd: i32, bytes: &[u8]) -> Result<usize, i32> {
    loop {
        // SAFETY: the pointer and length describe a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

fn serve(fd: i32) -> ! {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut server = Server::new(uid, gid);
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
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; -1 waits without a timeout.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r < 0 {
            let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if e == libc::EINTR {
                continue;
            }
            log(&format!(
                "badserver: poll failed: {}",
                server::errno_name(e)
            ));
            summary_and_exit(Some(2));
        }
        if pfd.revents & libc::POLLERR != 0 {
            log("badserver: connection closed (poll reported POLLERR)");
            summary_and_exit(None);
        }
        // SAFETY: buf is a live buffer of buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            match e {
                // Interrupted, or the request vanished before we read it.
                libc::EINTR | libc::EAGAIN | libc::ENOENT => continue,
                libc::ENODEV | libc::ENOTCONN | libc::ECONNABORTED => {
                    log(&format!(
                        "badserver: connection closed ({})",
                        server::errno_name(e)
                    ));
                    summary_and_exit(None);
                }
                _ => {
                    log(&format!(
                        "badserver: read from fd {fd} failed: {} ({})",
                        server::errno_name(e),
                        io::Error::from_raw_os_error(e)
                    ));
                    summary_and_exit(Some(2));
                }
            }
        }
        if n == 0 {
            log("badserver: connection closed (read returned 0)");
            summary_and_exit(None);
        }
        let response = server.handle(&buf[..n as usize]);
        for note in &response.notes {
            log(&format!("badserver: {note}"));
        }
        for step in &response.steps {
            let result = write_reply(fd, &step.bytes);
            let verdict = server::judge(&step.expect, result, step.bytes.len());
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
    fn parses_fd_paths() {
        assert_eq!(parse_fd("/dev/fd/3"), Some(3));
        assert_eq!(parse_fd("17"), Some(17));
        assert_eq!(parse_fd("/dev/fd/"), None);
        assert_eq!(parse_fd("/dev/fd/-1"), None);
        assert_eq!(parse_fd("/dev/fd/3x"), None);
        assert_eq!(parse_fd("/mnt"), None);
        assert_eq!(parse_fd("/dev/fd/99999999999"), None);
    }

    #[test]
    fn parses_command_lines() {
        assert_eq!(
            parse_args(&s(&["/dev/fd/4"])),
            Ok(Cli::Serve { fd: 4, log: None })
        );
        assert_eq!(
            parse_args(&s(&["--log", "/tmp/l", "-f", "/dev/fd/5"])),
            Ok(Cli::Serve {
                fd: 5,
                log: Some("/tmp/l".into())
            })
        );
        assert_eq!(
            parse_args(&s(&["/dev/fd/5", "--log=x"])),
            Ok(Cli::Serve {
                fd: 5,
                log: Some("x".into())
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
}
