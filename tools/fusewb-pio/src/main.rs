//! `fusewb-pio`: the file-operation helper of the VM protocol tests
//! (`tests/vm/60-protocol.sh`). It runs as a bash coprocess and keeps files
//! open across shell steps, so that a test can write, look at the server's
//! log, then fsync or close the same open file.
//!
//! It replaces a python3 program with the same line protocol (python takes
//! about 30 s to start in the TCG test VM); where python's behaviour on odd
//! input is visible in an answer, it is reproduced (see "Python
//! compatibility" below).
//!
//! # Protocol
//!
//! One command per `\n`-terminated line on stdin, one answer line per
//! command on stdout (flushed after each). Words are separated by
//! whitespace as python's `str.split()` sees it (`\r`, `\x0b`, `\x0c`,
//! `\x1c`-`\x1f` and Unicode spaces too; bytes that are not UTF-8 are word
//! characters). Blank lines are skipped. `quit` (with anything after it) or
//! EOF ends the program; open files are closed by the exit.
//!
//! ```text
//! open H PATH FLAGS        FLAGS: comma list of rdonly wronly rdwr creat excl
//!                          trunc append direct sync tmpfile (PATH: the
//!                          directory); mode 0644; O_CLOEXEC
//! close H | fsync H | fdatasync H | ftruncate H SIZE | fchmod H OCTAL
//! pwrite H OFF LEN [BASE]  LEN bytes, byte i = (BASE + i) % 251; BASE
//!                          defaults to OFF; answers the count written
//! pwrites H OFF LEN COUNT  COUNT pwrites of LEN bytes from OFF on, each with
//!                          BASE = its offset; answers "short W at OFF" at
//!                          the first short one
//! write H LEN [BASE]       at the file position (BASE defaults to 0);
//!                          answers the count written
//! dwrite H OFF LEN [BASE]  pwrite from a page-aligned buffer (O_DIRECT);
//!                          answers the count written
//! pread H OFF LEN          reads until LEN bytes or EOF; answers the count
//! check H OFF LEN [BASE]   reads LEN bytes, compares with the pattern
//! zeros H OFF LEN          reads LEN bytes, all must be zero
//! fstat H                  answers "size=S mtime=SECONDS"
//! quit
//! ```
//!
//! Commands added since, which the python original did not have (see
//! [`ext`] for their details):
//!
//! ```text
//! lseek H OFF WHENCE       WHENCE: set cur end data hole; answers the offset
//! sync | syncfs H          answer the milliseconds the call took
//! fchown H UID GID         -1 leaves that id
//! futimens H ATIME MTIME   each: now, omit, SEC or SEC.FRACTION
//! fstatx H                 "size=S mode=0OCT uid=U gid=G atime=S.NS mtime=S.NS ctime=S.NS"
//! mmap H OFF LEN shared|private [write [BASE]]
//!                          map, touch every page or write the pattern, munmap
//! copy HIN OFFIN HOUT OFFOUT LEN
//!                          copy_file_range(2) until LEN or 0; answers the count
//! catch SIG | caught       count SIG (usr1 usr2 alrm) in a handler, answer EINTR
//! linkat H PATH            linkat(2) of H's file with AT_EMPTY_PATH
//! ```
//!
//! `H` is a handle: any word, naming the file descriptor of its last
//! `open` (opening a handle again leaves the earlier descriptor open).
//! Numbers are python `int(WORD, 0)` literals: decimal without leading
//! zeros, or `0x`/`0o`/`0b` prefixed, optionally signed, `_` between
//! digits. For every command of the original but `open`, all words after
//! the handle are parsed so before the command runs, whether it uses them
//! or not (so `fchmod h 0600` fails: write `600` or `0o600`); `fchmod` then
//! reads its OCTAL again in base 8. The added commands parse their own
//! words.
//!
//! Answers:
//!
//! ```text
//! ok [RESULT]
//! err ENAME STRERROR       a system call failed: ENAME as python's
//!                          errno.errorcode (the number if it has none)
//! err EXC TYPE: MESSAGE    anything else, named after python's exception
//! ```
//!
//! `check` and `zeros` fail with `err EXC ValueError: read N bytes, expected
//! M` or `err EXC ValueError: byte at OFFSET is GOT, expected WANT`; an
//! unknown command with `ValueError: unknown command OP`, an unknown
//! handle with `KeyError: 'H'` (close) or `TypeError: ...` (when a system
//! call would need its descriptor), a missing argument with `IndexError:
//! list index out of range`, a bad number with `ValueError: invalid
//! literal for int() with base 0: 'WORD'`, an unknown open flag with
//! `KeyError: 'FLAG'`.
//!
//! # Python compatibility
//!
//! System calls are retried on EINTR, as python does (PEP 475), except
//! close, and except after `catch`. ENAME is python 3.11's: 11 is EAGAIN, 35 EDEADLOCK and 95
//! ENOTSUP (not EOPNOTSUPP). The mtime of `fstat` is python's float
//! `st_mtime` truncated to an integer. Negative lengths behave like the
//! python slices they were (`pread` reads nothing, `pwrite` writes a few
//! pattern bytes, `dwrite` part of its 4096-byte buffer, `zeros` fails with
//! `ValueError: negative count`).
//!
//! Numbers are held as 128-bit integers where python's are unbounded, so a
//! literal beyond that range fails with an `OverflowError` where python
//! would go on (and usually fail later), and running out of memory answers
//! `err EXC MemoryError: ` where python may name another exception.
//! Unicode digits, which python's `int()` accepts, are refused. The
//! `repr()` of a word in a message escapes only control characters.

use std::alloc::Layout;
use std::collections::HashMap;
use std::ffi::CString;
use std::io::{self, BufRead, Write};
use std::os::fd::RawFd;
use std::ptr::NonNull;

mod ext;

/// The period of the data pattern: byte `i` of a pattern with base `B` is
/// `(B + i) % 251`.
const PERIOD: i128 = 251;
/// Alignment and minimum size of the `dwrite` buffer.
const PAGE: usize = 4096;

/// Why a command failed.
#[derive(Debug, PartialEq, Eq)]
enum Fail {
    /// A system call failed with this errno: `err ENAME STRERROR`.
    Os(i32),
    /// Anything else, as python's exception type and message (bytes: an
    /// unknown command is echoed as it came): `err EXC TYPE: MESSAGE`.
    Exc(&'static str, Vec<u8>),
}

type Res<T> = Result<T, Fail>;

/// A python exception of type `ty` with message `msg`.
fn exc(ty: &'static str, msg: impl Into<Vec<u8>>) -> Fail {
    Fail::Exc(ty, msg.into())
}

fn index_error() -> Fail {
    exc("IndexError", "list index out of range")
}

fn memory_error() -> Fail {
    exc("MemoryError", "")
}

/// python's error for an int that does not fit the C type `ctype`.
fn overflow(ctype: &str) -> Fail {
    exc(
        "OverflowError",
        format!("Python int too large to convert to C {ctype}"),
    )
}

/// python's error for a length too large for any buffer.
fn index_overflow() -> Fail {
    exc(
        "OverflowError",
        "cannot fit 'int' into an index-sized integer",
    )
}

/// python's TypeError for an unknown handle (`None`) given to os.pread,
/// os.pwrite, os.write, os.ftruncate, os.fchmod, os.fstat.
const NOT_AN_INT: &str = "'NoneType' object cannot be interpreted as an integer";
/// The same for os.fsync and os.fdatasync.
const NO_FILENO: &str = "argument must be an int, or have a fileno() method.";

// --- Parsing -----------------------------------------------------------------

/// Whitespace as python's `str.isspace()`.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The words of a line, as python's `line.split()` on the line decoded as
/// UTF-8 with invalid bytes kept (they are never whitespace).
fn split_words(line: &[u8]) -> Vec<&[u8]> {
    let mut words = Vec::new();
    let mut start = None;
    let mut pos = 0;
    for chunk in line.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            if is_py_space(c) {
                if let Some(s) = start.take() {
                    words.push(&line[s..pos + i]);
                }
            } else if start.is_none() {
                start = Some(pos + i);
            }
        }
        pos += chunk.valid().len();
        if !chunk.invalid().is_empty() && start.is_none() {
            start = Some(pos);
        }
        pos += chunk.invalid().len();
    }
    if let Some(s) = start {
        words.push(&line[s..]);
    }
    words
}

/// python's `repr()` of a word (a str), for messages: quoted, with `\`,
/// the quote and control characters escaped, bytes that are not UTF-8 as
/// the `\udcXX` of python's surrogateescape.
fn py_repr(word: &[u8]) -> String {
    let q = if word.contains(&b'\'') && !word.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(q);
    for chunk in word.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if c == q => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\udc{b:02x}"));
        }
    }
    out.push(q);
    out
}

/// python's `int(word, base)` for base 0 (prefix decides, decimal has no
/// leading zeros) and base 8.
fn py_int(word: &[u8], base: u32) -> Res<i128> {
    let invalid = || {
        let repr: String = py_repr(word).chars().take(200).collect();
        exc(
            "ValueError",
            format!("invalid literal for int() with base {base}: {repr}"),
        )
    };
    let (neg, mut s) = match word.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, word),
    };
    let lower2 = s.get(1).map(u8::to_ascii_lowercase);
    let mut radix = base;
    let mut zeros_only = false;
    if radix == 0 {
        radix = match (s.first(), lower2) {
            (Some(b'0'), Some(b'x')) => 16,
            (Some(b'0'), Some(b'o')) => 8,
            (Some(b'0'), Some(b'b')) => 2,
            (Some(b'0'), _) => {
                zeros_only = true;
                10
            }
            _ => 10,
        };
    }
    let prefix = match radix {
        16 => Some(b'x'),
        8 => Some(b'o'),
        2 => Some(b'b'),
        _ => None,
    };
    if s.first() == Some(&b'0') && lower2.is_some() && lower2 == prefix {
        s = &s[2..];
        // One underscore is allowed after the prefix.
        if let Some(rest) = s.strip_prefix(b"_") {
            s = rest;
        }
    }
    if s.is_empty() || s[0] == b'_' {
        return Err(invalid());
    }
    let mut value: Option<i128> = Some(0);
    let mut after_underscore = false;
    for &c in s {
        if c == b'_' {
            if after_underscore {
                return Err(invalid());
            }
            after_underscore = true;
            continue;
        }
        after_underscore = false;
        let d = char::from(c).to_digit(radix).ok_or_else(invalid)?;
        value = value
            .and_then(|v| v.checked_mul(i128::from(radix)))
            .and_then(|v| v.checked_add(i128::from(d)));
    }
    if after_underscore {
        return Err(invalid());
    }
    let value = value.ok_or_else(|| overflow("long"))?;
    if zeros_only && value != 0 {
        return Err(invalid());
    }
    Ok(if neg { -value } else { value })
}

/// The open(2) flags of a comma list (python's `FLAGS[f]` for each).
fn open_flags(list: &[u8]) -> Res<libc::c_int> {
    let mut flags = 0;
    for f in list.split(|&b| b == b',') {
        flags |= match f {
            b"rdonly" => libc::O_RDONLY,
            b"wronly" => libc::O_WRONLY,
            b"rdwr" => libc::O_RDWR,
            b"creat" => libc::O_CREAT,
            b"excl" => libc::O_EXCL,
            b"trunc" => libc::O_TRUNC,
            b"append" => libc::O_APPEND,
            b"direct" => libc::O_DIRECT,
            b"sync" => libc::O_SYNC,
            b"tmpfile" => libc::O_TMPFILE,
            _ => return Err(exc("KeyError", py_repr(f))),
        };
    }
    Ok(flags)
}

// --- The data pattern ----------------------------------------------------------

/// How long python's slice `[:n]` of a sequence of `total` items is.
fn slice_len(total: i128, n: i128) -> i128 {
    if n >= 0 {
        n.min(total)
    } else {
        (total + n).max(0)
    }
}

/// The length of the python program's `data(base, n)`: `n`, or for a
/// negative `n` what `(CYCLE[s:] + CYCLE * (n // 251 + 2))[:n]` leaves.
fn pattern_len(base: i128, n: i128) -> i128 {
    let s = base.rem_euclid(PERIOD);
    let reps = n.div_euclid(PERIOD).saturating_add(2).max(0);
    let total = (PERIOD - s).saturating_add(reps.saturating_mul(PERIOD));
    slice_len(total, n)
}

/// Fills `buf` with the pattern of base `base`: byte i = (base + i) % 251.
fn fill_pattern(buf: &mut [u8], base: i128) {
    // rem_euclid(251) is in 0..251, so the conversion cannot fail.
    let mut b = u8::try_from(base.rem_euclid(PERIOD)).unwrap_or(0);
    for x in buf {
        *x = b;
        b = if b == 250 { 0 } else { b + 1 };
    }
}

/// A buffer length from a python int: too large for any buffer fails as
/// python's sequence repetition does.
fn buffer_len(n: i128) -> Res<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| isize::try_from(n).is_ok())
        .ok_or_else(index_overflow)
}

/// The python program's `data(base, n)`.
fn pattern(base: i128, n: i128) -> Res<Vec<u8>> {
    let len = buffer_len(pattern_len(base, n))?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| memory_error())?;
    v.resize(len, 0);
    fill_pattern(&mut v, base);
    Ok(v)
}

/// The verdict of `check` and `zeros`: `got`, read at `off`, against
/// `want_len` bytes with byte i `want(i)`.
fn verify(got: &[u8], off: i128, want_len: i128, want: impl Fn(usize) -> u8) -> Res<()> {
    if i128::try_from(got.len()).ok() != Some(want_len) {
        return Err(exc(
            "ValueError",
            format!("read {} bytes, expected {}", got.len(), want_len),
        ));
    }
    for (i, &g) in got.iter().enumerate() {
        let w = want(i);
        if g != w {
            return Err(exc(
                "ValueError",
                format!(
                    "byte at {} is {}, expected {}",
                    off.saturating_add(i as i128),
                    g,
                    w
                ),
            ));
        }
    }
    Ok(())
}

/// The pattern byte `i` of base `base`.
fn pattern_byte(base: i128, i: usize) -> u8 {
    let b = (base.rem_euclid(PERIOD) + (i as i128 % PERIOD)) % PERIOD;
    u8::try_from(b).unwrap_or(0)
}

/// `fstat`'s answer: python's `"size=%d mtime=%d" % (st_size, st_mtime)`,
/// st_mtime being the float `sec + nsec * 1e-9` (which `%d` truncates).
fn fstat_answer(size: i64, sec: i64, nsec: i64) -> String {
    let mtime = sec as f64 + nsec as f64 * 1e-9;
    format!("size={} mtime={}", size, mtime.trunc() as i64)
}

// --- Answers -----------------------------------------------------------------

/// python 3.11's `errno.errorcode` on Linux: the common table, but with
/// python's names for 35 and 95, and without EHWPOISON (133).
fn errno_name(e: i32) -> Option<&'static str> {
    match e {
        libc::EDEADLK => Some("EDEADLOCK"),
        libc::EOPNOTSUPP => Some("ENOTSUP"),
        libc::EHWPOISON => None,
        _ => fusewb_wire::errno::name(e),
    }
}

/// The C library's text for errno `e` (what python's `strerror` holds).
fn strerror(e: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the XSI strerror_r
    // NUL-terminates what it writes.
    let r = unsafe { libc::strerror_r(e, buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if r != 0 && len == 0 {
        return format!("Unknown error {e}");
    }
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// The answer line (with its newline) to a command's result.
fn answer(result: &Res<String>) -> Vec<u8> {
    match result {
        Ok(r) if r.is_empty() => b"ok\n".to_vec(),
        Ok(r) => format!("ok {r}\n").into_bytes(),
        Err(Fail::Os(e)) => match errno_name(*e) {
            Some(name) => format!("err {} {}\n", name, strerror(*e)).into_bytes(),
            None => format!("err {} {}\n", e, strerror(*e)).into_bytes(),
        },
        Err(Fail::Exc(ty, msg)) => {
            let mut line = format!("err EXC {ty}: ").into_bytes();
            line.extend_from_slice(msg);
            line.push(b'\n');
            line
        }
    }
}

// --- System calls ---------------------------------------------------------------

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Runs a system call (its result as i64), again while it fails with
/// EINTR, as python does (PEP 475).
fn retry(mut call: impl FnMut() -> i64) -> Res<i64> {
    loop {
        let r = call();
        if r >= 0 {
            return Ok(r);
        }
        let e = last_errno();
        if e != libc::EINTR || !ext::retry_eintr() {
            return Err(Fail::Os(e));
        }
    }
}

/// The descriptor of a handle; an unknown handle (python's `None`) fails
/// with python's TypeError `msg`.
fn need_fd(fd: Option<RawFd>, msg: &str) -> Res<RawFd> {
    fd.ok_or_else(|| exc("TypeError", msg))
}

/// An offset or file size (python's `Py_off_t` argument).
fn c_long(v: i128) -> Res<i64> {
    i64::try_from(v).map_err(|_| overflow("long"))
}

fn sys_open(path: &[u8], flags: libc::c_int) -> Res<RawFd> {
    let path = CString::new(path).map_err(|_| exc("ValueError", "embedded null byte"))?;
    let mode: libc::c_uint = 0o644;
    let fd = retry(|| {
        // SAFETY: path is a NUL-terminated string that outlives the call.
        i64::from(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) })
    })?;
    RawFd::try_from(fd).map_err(|_| Fail::Os(libc::EBADF))
}

/// python's `os.pwrite(fd, buf, off)`: one pwrite(2).
fn sys_pwrite(fd: Option<RawFd>, buf: &[u8], off: i128) -> Res<i64> {
    let fd = need_fd(fd, NOT_AN_INT)?;
    let off = c_long(off)?;
    // SAFETY: buf is valid for reading buf.len() bytes.
    retry(|| unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off) } as i64)
}

/// The python program's `read_all(fd, off, n)`: pread(2) until `n` bytes
/// or EOF.
fn read_all(fd: Option<RawFd>, off: i128, n: i128) -> Res<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    if n <= 0 {
        return Ok(out);
    }
    let fd = need_fd(fd, NOT_AN_INT)?;
    let want = usize::try_from(n)
        .ok()
        .filter(|&n| isize::try_from(n).is_ok())
        .ok_or_else(|| overflow("ssize_t"))?;
    c_long(off)?;
    out.try_reserve_exact(want).map_err(|_| memory_error())?;
    while out.len() < want {
        let pos = c_long(off.saturating_add(out.len() as i128))?;
        let have = out.len();
        let spare = out.spare_capacity_mut();
        let (ptr, len) = (spare.as_mut_ptr(), want - have);
        // SAFETY: ptr is valid for writing len bytes (the spare capacity
        // reserved above).
        let r = retry(|| unsafe { libc::pread(fd, ptr.cast(), len, pos) } as i64)?;
        if r == 0 {
            break;
        }
        let got = usize::try_from(r)
            .map_err(|_| Fail::Os(libc::EIO))?
            .min(len);
        // SAFETY: pread initialised the `got` bytes after `have`.
        unsafe { out.set_len(have + got) };
    }
    Ok(out)
}

/// A zero-filled, page-aligned buffer (python's anonymous mmap), for
/// O_DIRECT writes.
struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl AlignedBuf {
    /// `len` bytes (at least one page), or ENOMEM as python's mmap.
    fn zeroed(len: usize) -> Res<Self> {
        let layout =
            Layout::from_size_align(len.max(PAGE), PAGE).map_err(|_| Fail::Os(libc::ENOMEM))?;
        // SAFETY: the layout's size is not zero.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        NonNull::new(ptr)
            .map(|ptr| AlignedBuf { ptr, layout })
            .ok_or(Fail::Os(libc::ENOMEM))
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: ptr points to layout.size() initialised bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in zeroed() with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

// --- Commands ------------------------------------------------------------------

/// The open handles.
#[derive(Default)]
struct Pio {
    fds: HashMap<Vec<u8>, RawFd>,
}

/// Word `i` of a command (python's `a[i]`).
fn word<'a>(a: &[&'a [u8]], i: usize) -> Res<&'a [u8]> {
    a.get(i).copied().ok_or_else(index_error)
}

impl Pio {
    /// Runs the command `a` (not empty, not quit): the RESULT of an `ok`
    /// answer, or why it failed.
    fn run(&mut self, a: &[&[u8]]) -> Res<String> {
        let op = word(a, 0)?;
        if op == b"open" {
            let flags = open_flags(word(a, 3)?)?;
            let fd = sys_open(word(a, 2)?, flags)?;
            // A handle opened again leaves its earlier descriptor open.
            self.fds.insert(word(a, 1)?.to_vec(), fd);
            return Ok(String::new());
        }
        if let Some(r) = self.run_ext(op, a) {
            return r;
        }
        let fd = a.get(1).and_then(|h| self.fds.get(*h).copied());
        let n = a
            .get(2..)
            .unwrap_or(&[])
            .iter()
            .map(|w| py_int(w, 0))
            .collect::<Res<Vec<i128>>>()?;
        let num = |i: usize| n.get(i).copied().ok_or_else(index_error);
        match op {
            b"close" => {
                let h = word(a, 1)?;
                let fd = self
                    .fds
                    .remove(h)
                    .ok_or_else(|| exc("KeyError", py_repr(h)))?;
                // Not retried on EINTR (the descriptor is gone anyway).
                // SAFETY: closes a descriptor this program opened.
                if unsafe { libc::close(fd) } < 0 {
                    return Err(Fail::Os(last_errno()));
                }
            }
            b"fsync" => {
                let fd = need_fd(fd, NO_FILENO)?;
                // SAFETY: plain system call on a descriptor.
                retry(|| i64::from(unsafe { libc::fsync(fd) }))?;
            }
            b"fdatasync" => {
                let fd = need_fd(fd, NO_FILENO)?;
                // SAFETY: plain system call on a descriptor.
                retry(|| i64::from(unsafe { libc::fdatasync(fd) }))?;
            }
            b"ftruncate" => {
                let size = num(0)?;
                let fd = need_fd(fd, NOT_AN_INT)?;
                let size = c_long(size)?;
                // SAFETY: plain system call on a descriptor.
                retry(|| i64::from(unsafe { libc::ftruncate(fd, size) }))?;
            }
            b"fchmod" => {
                let mode = py_int(word(a, 2)?, 8)?;
                let fd = need_fd(fd, NOT_AN_INT)?;
                let mode = i32::try_from(mode).map_err(|_| overflow("int"))?;
                // As C converts python's int argument to mode_t.
                let mode = mode as libc::mode_t;
                // SAFETY: plain system call on a descriptor.
                retry(|| i64::from(unsafe { libc::fchmod(fd, mode) }))?;
            }
            b"pwrite" => {
                let base = if n.len() > 2 { n[2] } else { num(0)? };
                let data = pattern(base, num(1)?)?;
                return Ok(sys_pwrite(fd, &data, num(0)?)?.to_string());
            }
            b"pwrites" => {
                let count = num(2)?;
                let (start, len) = (num(0)?, num(1)?);
                let mut i: i128 = 0;
                while i < count {
                    let off = i
                        .checked_mul(len)
                        .and_then(|x| x.checked_add(start))
                        .ok_or_else(|| overflow("long"))?;
                    let data = pattern(off, len)?;
                    let w = sys_pwrite(fd, &data, off)?;
                    if i128::from(w) != len {
                        return Ok(format!("short {w} at {off}"));
                    }
                    i += 1;
                }
            }
            b"write" => {
                let base = if n.len() > 1 { n[1] } else { 0 };
                let data = pattern(base, num(0)?)?;
                let fd = need_fd(fd, NOT_AN_INT)?;
                // SAFETY: data is valid for reading data.len() bytes.
                let w =
                    retry(|| unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as i64)?;
                return Ok(w.to_string());
            }
            b"dwrite" => {
                let base = if n.len() > 2 { n[2] } else { num(0)? };
                let len = num(1)?;
                let map_len = len.max(PAGE as i128);
                let map_len_usize = usize::try_from(map_len)
                    .ok()
                    .filter(|&n| isize::try_from(n).is_ok())
                    .ok_or_else(|| overflow("ssize_t"))?;
                let mut buf = AlignedBuf::zeroed(map_len_usize)?;
                // Never longer than the buffer: len itself, or < 502 bytes.
                let plen = buffer_len(pattern_len(base, len))?;
                let slice = buf.as_mut_slice();
                let plen = plen.min(slice.len());
                fill_pattern(&mut slice[..plen], base);
                let used = buffer_len(slice_len(map_len, len))?.min(slice.len());
                return Ok(sys_pwrite(fd, &slice[..used], num(0)?)?.to_string());
            }
            b"pread" => {
                let got = read_all(fd, num(0)?, num(1)?)?;
                return Ok(got.len().to_string());
            }
            b"check" | b"zeros" => {
                let (off, len) = (num(0)?, num(1)?);
                let got = read_all(fd, off, len)?;
                if op == b"zeros" {
                    if len < 0 {
                        return Err(exc("ValueError", "negative count"));
                    }
                    verify(&got, off, len, |_| 0)?;
                } else {
                    let base = if n.len() > 2 { n[2] } else { off };
                    verify(&got, off, pattern_len(base, len), |i| pattern_byte(base, i))?;
                }
            }
            b"fstat" => {
                let fd = need_fd(fd, NOT_AN_INT)?;
                // SAFETY: stat is plain data; all zeroes is a valid value.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: st is valid for writing a struct stat.
                retry(|| i64::from(unsafe { libc::fstat(fd, &mut st) }))?;
                return Ok(fstat_answer(st.st_size, st.st_mtime, st.st_mtime_nsec));
            }
            _ => return Err(exc("ValueError", [&b"unknown command "[..], op].concat())),
        }
        Ok(String::new())
    }
}

fn main() {
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let mut pio = Pio::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            // read_until retries EINTR itself.
            Err(_) => std::process::exit(1),
        }
        let words = split_words(&buf);
        match words.first() {
            None => continue,
            Some(&w) if w == b"quit" => return,
            Some(_) => {}
        }
        let reply = answer(&pio.run(&words));
        if output
            .write_all(&reply)
            .and_then(|()| output.flush())
            .is_err()
        {
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_python() {
        assert_eq!(
            split_words(b"  open h\t/x  rdonly \n"),
            vec![&b"open"[..], b"h", b"/x", b"rdonly"]
        );
        assert_eq!(split_words(b"a\x0bb\x1cc"), vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(
            split_words("a\u{a0}b\u{3000}c".as_bytes()),
            vec![&b"a"[..], b"b", b"c"]
        );
        // Bytes that are not UTF-8 are word characters.
        assert_eq!(split_words(b"\xff x\xfey"), vec![&b"\xff"[..], b"x\xfey"]);
        assert!(split_words(b" \t ").is_empty());
    }

    #[test]
    fn cr_is_whitespace() {
        // python's sys.stdin ends lines at \n only (no newline translation).
        assert_eq!(
            split_words(b"fstat a\rfstat b\r\n"),
            vec![&b"fstat"[..], b"a", b"fstat", b"b"]
        );
    }

    #[test]
    fn int_base_0() {
        for (s, v) in [
            ("0", 0),
            ("00", 0),
            ("0_0", 0),
            ("-0", 0),
            ("4096", 4096),
            ("1_048_576", 1 << 20),
            ("+7", 7),
            ("-5", -5),
            ("0x10", 16),
            ("0X_1f", 31),
            ("0o17", 15),
            ("0b101", 5),
            ("-0x1_0", -16),
        ] {
            assert_eq!(py_int(s.as_bytes(), 0), Ok(v), "{s}");
        }
        for s in [
            "0600", "_1", "1_", "1__0", "0x", "0x__1", "", "-", "--1", "abc", "0o8", "1.5", "0b2",
        ] {
            assert_eq!(
                py_int(s.as_bytes(), 0),
                Err(exc(
                    "ValueError",
                    format!("invalid literal for int() with base 0: '{s}'")
                )),
                "{s}"
            );
        }
        assert_eq!(
            py_int(b"1000000000000000000000000000000000000000000", 0),
            Err(overflow("long"))
        );
    }

    #[test]
    fn int_base_8() {
        assert_eq!(py_int(b"600", 8), Ok(0o600));
        assert_eq!(py_int(b"0600", 8), Ok(0o600));
        assert_eq!(py_int(b"0o600", 8), Ok(0o600));
        assert_eq!(
            py_int(b"8", 8),
            Err(exc(
                "ValueError",
                "invalid literal for int() with base 8: '8'"
            ))
        );
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr(b"h"), "'h'");
        assert_eq!(py_repr(b"it's"), "\"it's\"");
        assert_eq!(py_repr(b"'\""), "'\\'\"'");
        assert_eq!(py_repr(b"a\\b\x01"), "'a\\\\b\\x01'");
        assert_eq!(py_repr(b"\xff"), "'\\udcff'");
        assert_eq!(py_repr("é".as_bytes()), "'é'");
        let long = py_int(&[b'x'; 300], 0);
        match long {
            Err(Fail::Exc(_, m)) => assert!(m.ends_with(&[b'x'; 199]) && !m.ends_with(b"'")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags() {
        assert_eq!(open_flags(b"rdonly"), Ok(libc::O_RDONLY));
        assert_eq!(
            open_flags(b"wronly,creat,trunc"),
            Ok(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)
        );
        assert_eq!(
            open_flags(b"rdwr,direct,sync,append,excl"),
            Ok(libc::O_RDWR | libc::O_DIRECT | libc::O_SYNC | libc::O_APPEND | libc::O_EXCL)
        );
        assert_eq!(open_flags(b"rdonly,bogus"), Err(exc("KeyError", "'bogus'")));
        assert_eq!(open_flags(b"rdonly,"), Err(exc("KeyError", "''")));
    }

    /// The python program's data(), literally, for comparison.
    fn python_data(base: i128, n: i128) -> Vec<u8> {
        let cycle: Vec<u8> = (0..=250).collect();
        let s = base.rem_euclid(251) as usize;
        let reps = n.div_euclid(251) + 2;
        let mut all = cycle[s..].to_vec();
        for _ in 0..reps.max(0) {
            all.extend_from_slice(&cycle);
        }
        let len = slice_len(all.len() as i128, n) as usize;
        all.truncate(len);
        all
    }

    #[test]
    fn pattern_is_pythons_data() {
        for base in [0, 1, 7, 250, 251, 252, 4096, 1 << 20, -1, -300] {
            for n in [
                0, 1, 100, 250, 251, 252, 4096, 5000, -1, -5, -250, -251, -252, -600,
            ] {
                assert_eq!(pattern(base, n), Ok(python_data(base, n)), "{base} {n}");
                assert_eq!(pattern_len(base, n), python_data(base, n).len() as i128);
            }
        }
        let p = pattern(4096, 600).unwrap_or_default();
        for (i, &b) in p.iter().enumerate() {
            assert_eq!(i128::from(b), (4096 + i as i128) % 251);
            assert_eq!(b, pattern_byte(4096, i));
        }
        assert_eq!(pattern(0, i128::MAX), Err(index_overflow()));
    }

    #[test]
    fn verify_messages() {
        let p = pattern(10, 20).unwrap_or_default();
        assert_eq!(verify(&p, 10, 20, |i| pattern_byte(10, i)), Ok(()));
        assert_eq!(
            verify(&p[..5], 10, 20, |i| pattern_byte(10, i)),
            Err(exc("ValueError", "read 5 bytes, expected 20"))
        );
        let mut bad = p.clone();
        bad[3] = 0;
        assert_eq!(
            verify(&bad, 10, 20, |i| pattern_byte(10, i)),
            Err(exc("ValueError", "byte at 13 is 0, expected 13"))
        );
        assert_eq!(
            verify(&[0, 0, 9], 4096, 3, |_| 0),
            Err(exc("ValueError", "byte at 4098 is 9, expected 0"))
        );
    }

    #[test]
    fn fstat_mtime_is_truncated_float() {
        assert_eq!(
            fstat_answer(5000, 1_700_000_000, 500_000_000),
            "size=5000 mtime=1700000000"
        );
        // The float sum rounds up to the next second, as in python.
        assert_eq!(
            fstat_answer(0, 1_700_000_000, 999_999_999),
            "size=0 mtime=1700000001"
        );
        assert_eq!(fstat_answer(0, -2, 500_000_000), "size=0 mtime=-1");
    }

    #[test]
    fn answers() {
        assert_eq!(answer(&Ok(String::new())), b"ok\n");
        assert_eq!(answer(&Ok("4096".into())), b"ok 4096\n");
        assert_eq!(
            answer(&Err(Fail::Os(libc::EIO))),
            b"err EIO Input/output error\n"
        );
        assert_eq!(
            answer(&Err(Fail::Os(libc::ENOTCONN))),
            b"err ENOTCONN Transport endpoint is not connected\n"
        );
        assert_eq!(
            answer(&Err(Fail::Os(95))),
            b"err ENOTSUP Operation not supported\n"
        );
        assert_eq!(answer(&Err(Fail::Os(512))), b"err 512 Unknown error 512\n");
        assert_eq!(
            answer(&Err(exc("ValueError", "read 0 bytes, expected 1"))),
            b"err EXC ValueError: read 0 bytes, expected 1\n"
        );
        // An unknown command is echoed byte for byte.
        let mut pio = Pio::default();
        assert_eq!(
            answer(&pio.run(&[b"x\xff"])),
            b"err EXC ValueError: unknown command x\xff\n"
        );
        assert_eq!(errno_name(libc::EAGAIN), Some("EAGAIN"));
        assert_eq!(errno_name(libc::ECONNABORTED), Some("ECONNABORTED"));
        assert_eq!(errno_name(35), Some("EDEADLOCK"));
        assert_eq!(errno_name(95), Some("ENOTSUP"));
        assert_eq!(errno_name(132), Some("ERFKILL"));
        assert_eq!(errno_name(133), None);
        assert_eq!(errno_name(41), None);
    }

    /// Runs command lines through a Pio, returning the answers.
    pub(crate) fn session(pio: &mut Pio, lines: &[&str]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let words = split_words(l.as_bytes());
                let a = String::from_utf8_lossy(&answer(&pio.run(&words))).into_owned();
                a.trim_end_matches('\n').to_string()
            })
            .collect()
    }

    #[test]
    fn file_session() {
        let dir = std::env::temp_dir().join(format!("fusewb-pio-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("f");
        let _ = std::fs::remove_file(&f);
        let p = f.display();
        let mut pio = Pio::default();
        let got = session(
            &mut pio,
            &[
                &format!("open h {p} rdwr,creat"),
                "pwrite h 0 4096",
                "pwrite h 4096 100 7",
                "check h 0 4096",
                "check h 4096 100 7",
                "check h 4096 100",
                "pread h 4000 1000",
                "fstat h",
                "ftruncate h 10000",
                "zeros h 4196 5804",
                "zeros h 0 2",
                "pwrites h 0 100 3",
                "check h 0 300",
                "write h 10 5",
                "check h 0 10 5",
                "fchmod h 600",
                "fchmod h 0600",
                "fsync h",
                "fdatasync h",
                "close h",
                "close h",
                "fsync h",
                "pread h 0 0",
                "pread h 0 1",
                "pwrite h 0",
                "frob h",
                "frob",
                &format!("open r {p} rdonly,bogus"),
                &format!("open r {p}/nope rdonly"),
                "pread r",
            ],
        );
        let want = [
            "ok",
            "ok 4096",
            "ok 100",
            "ok",
            "ok",
            "err EXC ValueError: byte at 4096 is 7, expected 80",
            "ok 196",
            "SKIP",
            "ok",
            "ok",
            "err EXC ValueError: byte at 1 is 1, expected 0",
            "ok",
            "ok",
            "ok 10",
            "ok",
            "ok",
            "err EXC ValueError: invalid literal for int() with base 0: '0600'",
            "ok",
            "ok",
            "ok",
            "err EXC KeyError: 'h'",
            "err EXC TypeError: argument must be an int, or have a fileno() method.",
            "ok 0",
            "err EXC TypeError: 'NoneType' object cannot be interpreted as an integer",
            "err EXC IndexError: list index out of range",
            "err EXC ValueError: unknown command frob",
            "err EXC ValueError: unknown command frob",
            "err EXC KeyError: 'bogus'",
            "err ENOTDIR Not a directory",
            "err EXC IndexError: list index out of range",
        ];
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if w == "SKIP" {
                assert!(g.starts_with("ok size=4196 mtime="), "line {i}: {g}");
            } else {
                assert_eq!(g, w, "line {i}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dwrite_uses_an_aligned_buffer() {
        let mut b = AlignedBuf::zeroed(100).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(b.as_mut_slice().len(), PAGE);
        assert_eq!(b.as_mut_slice().as_ptr() as usize % PAGE, 0);
        assert!(b.as_mut_slice().iter().all(|&x| x == 0));
        let dir = std::env::temp_dir().join(format!("fusewb-pio-dw-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("f");
        let mut pio = Pio::default();
        let got = session(
            &mut pio,
            &[
                &format!("open h {} wronly,creat,trunc", p.display()),
                "dwrite h 0 8192 3",
                "dwrite h 8192 100",
                "dwrite h 0 -5",
                "close h",
            ],
        );
        assert_eq!(got, ["ok", "ok 8192", "ok 100", "ok 4091", "ok"]);
        let data = std::fs::read(&p).unwrap_or_default();
        assert_eq!(data.len(), 8292);
        assert_eq!(
            &data[..4091],
            &pattern(0, -5)
                .map(|mut v| {
                    v.resize(4091, 0);
                    v
                })
                .unwrap_or_default()[..]
        );
        assert_eq!(
            &data[4096..8192],
            &pattern(3 + 4096, 4096).unwrap_or_default()[..]
        );
        assert_eq!(&data[8192..], &pattern(8192, 100).unwrap_or_default()[..]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
