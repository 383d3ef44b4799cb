//! The skeleton the raw servers (fusewb-scriptserver, fusewb-badserver)
//! share: they serve the connection fusewb-mount passes as `/dev/fd/N`,
//! wait for it with poll(2), read one request per read(2), write one reply
//! per write(2) and log one write(2) per line.
//!
//! What differs between the two servers stays with them: the poll timeout,
//! what a poll error bit means, the signal mask, the log prefix and the
//! errno names (see [`crate::errno`]).

use std::ffi::CString;
use std::io;

/// The errno of the call that just failed (0 if there is none).
pub fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Parses `/dev/fd/N` (or a plain `N`).
pub fn parse_fd(arg: &str) -> Option<i32> {
    let digits = arg.strip_prefix("/dev/fd/").unwrap_or(arg);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Checks that the connection `fd` is open, makes it blocking and
/// close-on-exec.
pub fn prepare_dev_fd(fd: i32) -> Result<(), String> {
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
    Ok(())
}

/// Opens (creates, truncates) the log file `path` for appending; returns
/// its descriptor.
pub fn open_log(path: &str) -> Result<i32, String> {
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
    Ok(lfd)
}

/// The signals blocked while a terminate handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigMask {
    /// None besides the signal itself (the handler only sets a flag).
    Empty,
    /// All (the handler writes the summary and exits).
    Full,
}

/// Installs `handler` for SIGTERM and SIGINT, without SA_RESTART: a
/// poll(2) or read(2) in progress fails with EINTR.
///
/// # Safety
///
/// `handler` must be async-signal-safe.
pub unsafe fn on_terminate_signals(
    handler: extern "C" fn(libc::c_int),
    mask: SigMask,
) -> io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid starting value; the caller
        // vouches for the handler.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as libc::sighandler_t;
            match mask {
                SigMask::Empty => libc::sigemptyset(&mut sa.sa_mask),
                SigMask::Full => libc::sigfillset(&mut sa.sa_mask),
            };
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Writes all of `bytes` to `fd`, ignoring errors (async-signal-safe).
pub fn write_fd_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && last_errno() == libc::EINTR {
            continue;
        } else {
            return;
        }
    }
}

/// Writes `line` and a newline to `fd` in one write(2) (if the descriptor
/// takes it whole), so readers of an O_APPEND log see whole lines.
pub fn write_line(fd: i32, line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    write_fd_all(fd, s.as_bytes());
}

/// One write(2) of a whole reply (again on EINTR): Ok(bytes written) or
/// Err(errno).
pub fn write_reply(fd: i32, bytes: &[u8]) -> Result<usize, i32> {
    loop {
        // SAFETY: the pointer and length describe a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// What a poll(2) for a readable connection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// `revents`; the caller decides what its error bits mean.
    Ready(libc::c_short),
    TimedOut,
    /// EINTR (a signal).
    Interrupted,
    /// Any other errno.
    Failed(i32),
}

/// Waits up to `timeout_ms` (-1: without a timeout) for `fd` to become
/// readable.
pub fn poll_in(fd: i32, timeout_ms: i32) -> Polled {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if r < 0 {
        return match last_errno() {
            libc::EINTR => Polled::Interrupted,
            e => Polled::Failed(e),
        };
    }
    if r == 0 {
        return Polled::TimedOut;
    }
    Polled::Ready(pfd.revents)
}

/// What one read(2) of a request from the connection gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A request of this many bytes at the start of the buffer.
    Request(usize),
    /// Interrupted (EINTR), or the request vanished before it was read
    /// (EAGAIN, ENOENT): read again.
    Retry,
    /// The connection went away: ENODEV, ENOTCONN or ECONNABORTED.
    Closed(i32),
    /// read(2) returned 0.
    EndOfFile,
    /// Any other errno.
    Failed(i32),
}

/// Reads one request from the connection `fd` into `buf`.
pub fn read_request(fd: i32, buf: &mut [u8]) -> Received {
    // SAFETY: buf is a live buffer of buf.len() bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    received(n)
}

/// What a read(2) or splice(2) of the connection that returned `n` means.
fn received(n: isize) -> Received {
    if n < 0 {
        return match last_errno() {
            libc::EINTR | libc::EAGAIN | libc::ENOENT => Received::Retry,
            e @ (libc::ENODEV | libc::ENOTCONN | libc::ECONNABORTED) => Received::Closed(e),
            e => Received::Failed(e),
        };
    }
    if n == 0 {
        return Received::EndOfFile;
    }
    Received::Request(n as usize)
}

/// A pipe that requests are read through, as libfuse does: splice(2) moves
/// one request from the connection into the pipe, read(2) takes it out.
pub struct SplicePipe {
    rd: i32,
    wr: i32,
}

impl SplicePipe {
    /// A pipe that holds `size` bytes (F_SETPIPE_SZ; above
    /// /proc/sys/fs/pipe-max-size only for root).
    pub fn new(size: usize) -> Result<SplicePipe, String> {
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
        }
        let p = SplicePipe {
            rd: fds[0],
            wr: fds[1],
        };
        let want =
            libc::c_int::try_from(size).map_err(|_| format!("pipe size {size} too large"))?;
        // SAFETY: plain fcntl on a descriptor we own.
        if unsafe { libc::fcntl(p.wr, libc::F_SETPIPE_SZ, want) } < 0 {
            return Err(format!(
                "F_SETPIPE_SZ {size}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(p)
    }

    /// Reads one request from the connection `fd` through the pipe into
    /// `buf` (splice(2) of at most `buf.len()` bytes, then read(2)).
    pub fn read_request(&self, fd: i32, buf: &mut [u8]) -> Received {
        // SAFETY: plain splice(2) between two descriptors, no offsets.
        let n = unsafe {
            libc::splice(
                fd,
                std::ptr::null_mut(),
                self.wr,
                std::ptr::null_mut(),
                buf.len(),
                0,
            )
        };
        let n = match received(n) {
            Received::Request(n) => n,
            other => return other,
        };
        let mut got = 0;
        while got < n {
            let Some(rest) = buf.get_mut(got..n) else {
                return Received::Failed(libc::EOVERFLOW);
            };
            // SAFETY: rest is a live buffer of rest.len() bytes.
            let r = unsafe { libc::read(self.rd, rest.as_mut_ptr().cast(), rest.len()) };
            if r < 0 && last_errno() == libc::EINTR {
                continue;
            }
            if r <= 0 {
                return Received::Failed(if r < 0 { last_errno() } else { libc::EPIPE });
            }
            got += r as usize;
        }
        Received::Request(n)
    }
}

impl Drop for SplicePipe {
    fn drop(&mut self) {
        // SAFETY: closes the descriptors this pipe owns.
        unsafe {
            libc::close(self.rd);
            libc::close(self.wr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (i32, i32) {
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    }

    fn close(fd: i32) {
        // SAFETY: closes a descriptor this test opened.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn splice_pipe_reads_one_message() {
        let (r, w) = pipe();
        let msg: Vec<u8> = (0..10000u32).map(|i| (i % 251) as u8).collect();
        write_fd_all(w, &msg);
        let sp = SplicePipe::new(1 << 16).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        match sp.read_request(r, &mut buf) {
            Received::Request(n) => assert_eq!(&buf[..n], &msg[..]),
            other => panic!("{other:?}"),
        }
        close(w);
        assert!(matches!(sp.read_request(r, &mut buf), Received::EndOfFile));
        close(r);
    }

    #[test]
    fn parses_fd_paths() {
        assert_eq!(parse_fd("/dev/fd/3"), Some(3));
        assert_eq!(parse_fd("17"), Some(17));
        assert_eq!(parse_fd("/dev/fd/"), None);
        assert_eq!(parse_fd(""), None);
        assert_eq!(parse_fd("/dev/fd/-1"), None);
        assert_eq!(parse_fd("/dev/fd/+1"), None);
        assert_eq!(parse_fd("/dev/fd/3x"), None);
        assert_eq!(parse_fd("/mnt"), None);
        assert_eq!(parse_fd("/dev/fd/99999999999"), None);
    }

    #[test]
    fn lines_replies_and_requests_through_a_pipe() {
        let (r, w) = pipe();
        write_line(w, "one line");
        assert_eq!(write_reply(w, b"reply"), Ok(5));
        assert_eq!(poll_in(r, 0), Polled::Ready(libc::POLLIN));
        let mut buf = [0u8; 64];
        let Received::Request(n) = read_request(r, &mut buf) else {
            panic!("no request");
        };
        assert_eq!(&buf[..n], b"one line\nreply");
        assert_eq!(poll_in(r, 0), Polled::TimedOut);
        close(w);
        assert_eq!(read_request(r, &mut buf), Received::EndOfFile);
        close(r);
        // -1 is never open (a closed number may be reused by another test).
        assert_eq!(write_reply(-1, b"x"), Err(libc::EBADF));
        assert_eq!(read_request(-1, &mut buf), Received::Failed(libc::EBADF));
        // Errors are ignored.
        write_fd_all(-1, b"x");
    }

    #[test]
    fn prepares_descriptors() {
        assert!(prepare_dev_fd(-1)
            .unwrap_err()
            .starts_with("descriptor -1 is not open: "));
        let (r, w) = pipe();
        // SAFETY: r is open; F_SETFL only sets its status flags.
        unsafe { libc::fcntl(r, libc::F_SETFL, libc::O_NONBLOCK) };
        assert_eq!(prepare_dev_fd(r), Ok(()));
        // SAFETY: F_GETFL and F_GETFD only query r.
        let (fl, fd_flags) =
            unsafe { (libc::fcntl(r, libc::F_GETFL), libc::fcntl(r, libc::F_GETFD)) };
        assert_eq!(fl & libc::O_NONBLOCK, 0);
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        close(r);
        close(w);
        assert_eq!(
            open_log("a\0b"),
            Err("log path contains a NUL byte".to_string())
        );
        assert!(open_log("/nonexistent-dir/log")
            .unwrap_err()
            .starts_with("cannot open log file /nonexistent-dir/log: "));
    }
}
