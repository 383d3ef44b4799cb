//! Commands added after the python original, so without its compatibility
//! constraints: their words are parsed by the command itself (handles,
//! keywords and numbers mixed), numbers are the same `int(WORD, 0)`
//! literals, an unknown handle is `err EXC KeyError: 'H'`, a bad keyword
//! `err EXC ValueError: ...`.
//!
//! ```text
//! lseek H OFF WHENCE       WHENCE: set cur end data hole; answers the new offset
//! sync                     sync(2); answers the milliseconds it took
//! syncfs H                 syncfs(2) on H's filesystem; answers the milliseconds
//! fchown H UID GID         -1 leaves that id unchanged
//! futimens H ATIME MTIME   each: now, omit, SEC or SEC.FRACTION (up to 9 digits)
//! fstatx H                 answers "size=S mode=0OCT uid=U gid=G atime=S.NS
//!                          mtime=S.NS ctime=S.NS" (NS: 9 digits)
//! mmap H OFF LEN shared|private [write [BASE]]
//!                          maps LEN bytes at OFF; reads a byte of every page
//!                          or, with write, fills the map with the pattern of
//!                          BASE (default OFF); then munmap. A page beyond EOF
//!                          kills the program (SIGBUS)
//! copy HIN OFFIN HOUT OFFOUT LEN
//!                          copy_file_range(2) until LEN bytes or 0; answers
//!                          the bytes copied
//! appendrace H LEN COUNT   COUNT write(2)s of LEN bytes (H opened with
//!                          append), record r holding the pattern of BASE
//!                          r*LEN, while a second thread fstat(2)s H in a
//!                          loop; answers "stats=N" (the fstats done). A
//!                          short write fails with ValueError
//! mmapstore H OFF COUNT MS map the page at OFF shared and writable, store
//!                          a byte into it COUNT times, MS milliseconds
//!                          apart (each store after the page was cleaned by
//!                          writeback faults again), munmap; answers "ok"
//! mmapread H OFF LEN HSRC SRCOFF
//!                          map LEN bytes of H at OFF shared and writable,
//!                          pread(2) LEN bytes of HSRC at SRCOFF into the
//!                          map (the kernel's copy takes the write faults),
//!                          munmap; answers the count read
//! linkat H PATH            linkat(2) of H's file (AT_EMPTY_PATH, as root;
//!                          e.g. one opened with tmpfile) as PATH
//! truncate PATH SIZE       truncate(2) by path: no open file, so no flush
//!                          of other writers' dirty data and no handle
//! catch SIG                SIG: usr1 usr2 alrm; a handler that counts, with
//!                          SA_RESTART. From then on a call that fails with
//!                          EINTR answers it instead of being retried, so a
//!                          test sees what a handled signal did to a call
//! caught                   answers "N": the signals the handler counted
//! failnth [N]              with N: the N-th fault-injection point this
//!                          thread passes from now on fails (the kernel's
//!                          /proc/thread-self/fail-nth; 0 disarms it);
//!                          without: answers what is left of it, 0 once the
//!                          fault was injected (or never armed)
//! ```

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::{c_long, exc, fill_pattern, py_int, py_repr, retry, word, Fail, Pio, Res, PAGE};

/// Signals counted by the handler of `catch`.
static CAUGHT: AtomicU64 = AtomicU64::new(0);
/// Set by `catch`: EINTR is an answer, not retried.
static EINTR_IS_AN_ANSWER: AtomicBool = AtomicBool::new(false);

/// Whether a call that failed with EINTR is tried again.
pub(super) fn retry_eintr() -> bool {
    !EINTR_IS_AN_ANSWER.load(Ordering::Relaxed)
}

extern "C" fn count_signal(_sig: libc::c_int) {
    CAUGHT.fetch_add(1, Ordering::Relaxed);
}

fn catch(a: &[&[u8]]) -> Res<String> {
    let w = word(a, 1)?;
    let sig = match w {
        b"usr1" => libc::SIGUSR1,
        b"usr2" => libc::SIGUSR2,
        b"alrm" => libc::SIGALRM,
        _ => return Err(exc("ValueError", format!("unknown signal {}", py_repr(w)))),
    };
    // SAFETY: an all-zero sigaction is a valid value to fill in.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as *const () as usize;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: act is initialized; the handler only does an atomic add.
    if unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) } != 0 {
        return Err(last_err());
    }
    EINTR_IS_AN_ANSWER.store(true, Ordering::Relaxed);
    Ok(String::new())
}

fn truncate_path(a: &[&[u8]]) -> Res<String> {
    let path = word(a, 1)?;
    let size = c_long(int_at(a, 2)?)?;
    let path = std::ffi::CString::new(path).map_err(|_| exc("ValueError", "embedded null byte"))?;
    // SAFETY: path is a NUL-terminated string that outlives the call.
    if unsafe { libc::truncate(path.as_ptr(), size) } != 0 {
        return Err(last_err());
    }
    Ok(String::new())
}

/// The kernel's systematic fault injection for this thread.
const FAIL_NTH: &str = "/proc/thread-self/fail-nth";

fn fail_nth(a: &[&[u8]]) -> Res<String> {
    let io = |e: std::io::Error| Fail::Os(e.raw_os_error().unwrap_or(libc::EIO));
    if a.len() > 1 {
        let n = int_at(a, 1)?;
        std::fs::write(FAIL_NTH, n.to_string()).map_err(io)?;
        return Ok(String::new());
    }
    let left = std::fs::read_to_string(FAIL_NTH).map_err(io)?;
    Ok(left.trim().to_string())
}

fn last_err() -> Fail {
    Fail::Os(super::last_errno())
}

/// Number word `i`.
fn int_at(a: &[&[u8]], i: usize) -> Res<i128> {
    py_int(word(a, i)?, 0)
}

/// Milliseconds since `t0`, as an answer.
fn millis(t0: Instant) -> String {
    t0.elapsed().as_millis().to_string()
}

/// The lseek(2) whence of a keyword.
fn whence_of(w: &[u8]) -> Res<libc::c_int> {
    Ok(match w {
        b"set" => libc::SEEK_SET,
        b"cur" => libc::SEEK_CUR,
        b"end" => libc::SEEK_END,
        b"data" => libc::SEEK_DATA,
        b"hole" => libc::SEEK_HOLE,
        _ => {
            return Err(exc(
                "ValueError",
                format!("bad whence {} (set cur end data hole)", py_repr(w)),
            ))
        }
    })
}

/// A uid or gid; -1 (unchanged) is all ones.
fn id_of(v: i128) -> Res<u32> {
    if v == -1 {
        return Ok(u32::MAX);
    }
    u32::try_from(v).map_err(|_| exc("ValueError", format!("bad id {v}")))
}

/// A futimens(2) time: `now`, `omit`, `SEC` or `SEC.FRACTION`.
fn time_of(w: &[u8]) -> Res<libc::timespec> {
    // SAFETY: timespec is plain data; all zeroes is a valid value.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    match w {
        b"now" => t.tv_nsec = libc::UTIME_NOW,
        b"omit" => t.tv_nsec = libc::UTIME_OMIT,
        _ => {
            let bad = || exc("ValueError", format!("bad time {}", py_repr(w)));
            let (sec, frac) = match w.iter().position(|&b| b == b'.') {
                Some(i) => (&w[..i], Some(&w[i + 1..])),
                None => (w, None),
            };
            let sec = py_int(sec, 0).map_err(|_| bad())?;
            t.tv_sec = libc::time_t::try_from(sec).map_err(|_| bad())?;
            if let Some(f) = frac {
                if f.is_empty() || f.len() > 9 || !f.iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                let mut ns: libc::c_long = 0;
                for i in 0..9 {
                    ns = ns * 10 + f.get(i).map_or(0, |&d| libc::c_long::from(d - b'0'));
                }
                t.tv_nsec = ns;
            }
        }
    }
    Ok(t)
}

/// `fstatx`'s answer.
fn statx_answer(st: &libc::stat) -> String {
    format!(
        "size={} mode=0{:o} uid={} gid={} atime={}.{:09} mtime={}.{:09} ctime={}.{:09}",
        st.st_size,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        st.st_atime,
        st.st_atime_nsec,
        st.st_mtime,
        st.st_mtime_nsec,
        st.st_ctime,
        st.st_ctime_nsec
    )
}

impl Pio {
    /// The descriptor of handle word `i`.
    fn fd_at(&self, a: &[&[u8]], i: usize) -> Res<RawFd> {
        let h = word(a, i)?;
        self.fds
            .get(h)
            .copied()
            .ok_or_else(|| exc("KeyError", py_repr(h)))
    }

    /// Runs `a` if `op` is one of this module's commands.
    pub(super) fn run_ext(&mut self, op: &[u8], a: &[&[u8]]) -> Option<Res<String>> {
        Some(match op {
            b"lseek" => self.lseek(a),
            b"sync" => {
                let t0 = Instant::now();
                // SAFETY: sync(2) has no arguments and cannot fail.
                unsafe { libc::sync() };
                Ok(millis(t0))
            }
            b"syncfs" => self.syncfs(a),
            b"fchown" => self.fchown(a),
            b"futimens" => self.futimens(a),
            b"fstatx" => self.fstatx(a),
            b"mmap" => self.mmap(a),
            b"copy" => self.copy(a),
            b"appendrace" => self.appendrace(a),
            b"mmapstore" => self.mmapstore(a),
            b"mmapread" => self.mmapread(a),
            b"catch" => catch(a),
            b"caught" => Ok(CAUGHT.load(Ordering::Relaxed).to_string()),
            b"failnth" => fail_nth(a),
            b"truncate" => truncate_path(a),
            b"linkat" => self.linkat(a),
            _ => return None,
        })
    }

    fn lseek(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let off = c_long(int_at(a, 2)?)?;
        let whence = whence_of(word(a, 3)?)?;
        // SAFETY: plain system call on a descriptor.
        let r = retry(|| unsafe { libc::lseek(fd, off, whence) })?;
        Ok(r.to_string())
    }

    fn syncfs(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let t0 = Instant::now();
        // SAFETY: plain system call on a descriptor.
        retry(|| i64::from(unsafe { libc::syncfs(fd) }))?;
        Ok(millis(t0))
    }

    fn linkat(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let path = std::ffi::CString::new(word(a, 2)?)
            .map_err(|_| exc("ValueError", "embedded null byte"))?;
        let empty = c"";
        // SAFETY: both strings are NUL-terminated and outlive the call.
        retry(|| {
            i64::from(unsafe {
                libc::linkat(
                    fd,
                    empty.as_ptr(),
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            })
        })?;
        Ok(String::new())
    }

    fn fchown(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let (uid, gid) = (id_of(int_at(a, 2)?)?, id_of(int_at(a, 3)?)?);
        // SAFETY: plain system call on a descriptor.
        retry(|| i64::from(unsafe { libc::fchown(fd, uid, gid) }))?;
        Ok(String::new())
    }

    fn futimens(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let times = [time_of(word(a, 2)?)?, time_of(word(a, 3)?)?];
        // SAFETY: `times` holds the two timespecs futimens reads.
        retry(|| i64::from(unsafe { libc::futimens(fd, times.as_ptr()) }))?;
        Ok(String::new())
    }

    fn fstatx(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        // SAFETY: stat is plain data; all zeroes is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: st is valid for writing a struct stat.
        retry(|| i64::from(unsafe { libc::fstat(fd, &mut st) }))?;
        Ok(statx_answer(&st))
    }

    fn mmap(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let off = c_long(int_at(a, 2)?)?;
        let len = int_at(a, 3)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l > 0 && isize::try_from(l).is_ok())
            .ok_or_else(|| exc("ValueError", format!("bad mmap length {len}")))?;
        let flags = match word(a, 4)? {
            b"shared" => libc::MAP_SHARED,
            b"private" => libc::MAP_PRIVATE,
            w => {
                return Err(exc(
                    "ValueError",
                    format!("bad mmap mode {} (shared private)", py_repr(w)),
                ))
            }
        };
        let write = match a.get(5) {
            None => false,
            Some(&b"write") => true,
            Some(w) => {
                return Err(exc(
                    "ValueError",
                    format!("bad mmap access {} (write)", py_repr(w)),
                ))
            }
        };
        let base = if a.len() > 6 {
            int_at(a, 6)?
        } else {
            i128::from(off)
        };
        let prot = if write {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a new mapping chosen by the kernel; no existing memory
        // is affected.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, off) };
        if p == libc::MAP_FAILED {
            return Err(last_err());
        }
        let bytes = p.cast::<u8>();
        if write {
            // SAFETY: the mapping is `len` bytes, readable and writable, and
            // only this slice refers to it until munmap.
            fill_pattern(unsafe { std::slice::from_raw_parts_mut(bytes, len) }, base);
        } else {
            for i in (0..len).step_by(PAGE) {
                // SAFETY: `i < len`: inside the readable mapping.
                unsafe { std::ptr::read_volatile(bytes.add(i)) };
            }
        }
        // SAFETY: unmaps exactly the mapping made above.
        if unsafe { libc::munmap(p, len) } != 0 {
            return Err(last_err());
        }
        Ok(String::new())
    }

    fn copy(&self, a: &[&[u8]]) -> Res<String> {
        let fd_in = self.fd_at(a, 1)?;
        let mut off_in: libc::loff_t = c_long(int_at(a, 2)?)?;
        let fd_out = self.fd_at(a, 3)?;
        let mut off_out: libc::loff_t = c_long(int_at(a, 4)?)?;
        let len = int_at(a, 5)?;
        let len = u64::try_from(len).map_err(|_| exc("ValueError", format!("bad length {len}")))?;
        let mut done: u64 = 0;
        while done < len {
            let want = usize::try_from(len - done).unwrap_or(usize::MAX);
            // SAFETY: the offsets are valid for reading and writing.
            let n = retry(|| unsafe {
                libc::copy_file_range(fd_in, &mut off_in, fd_out, &mut off_out, want, 0) as i64
            })?;
            if n == 0 {
                break;
            }
            done += n as u64;
        }
        Ok(done.to_string())
    }
}

impl Pio {
    fn mmapstore(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let off = c_long(int_at(a, 2)?)?;
        let count = int_at(a, 3)?;
        let ms = int_at(a, 4)?;
        let (Ok(count), Ok(ms)) = (u64::try_from(count), u64::try_from(ms)) else {
            return Err(exc(
                "ValueError",
                format!("bad count {count} or interval {ms}"),
            ));
        };
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a new mapping chosen by the kernel; no existing memory
        // is affected.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), PAGE, prot, libc::MAP_SHARED, fd, off) };
        if p == libc::MAP_FAILED {
            return Err(last_err());
        }
        let byte = p.cast::<u8>();
        for i in 0..count {
            // SAFETY: the mapping is PAGE bytes long and writable.
            unsafe { std::ptr::write_volatile(byte, i as u8) };
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        // SAFETY: unmapping what was mapped above.
        unsafe { libc::munmap(p, PAGE) };
        Ok(String::new())
    }

    fn mmapread(&self, a: &[&[u8]]) -> Res<String> {
        let fd = self.fd_at(a, 1)?;
        let off = c_long(int_at(a, 2)?)?;
        let len = int_at(a, 3)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l > 0 && isize::try_from(l).is_ok())
            .ok_or_else(|| exc("ValueError", format!("bad mmap length {len}")))?;
        let src = self.fd_at(a, 4)?;
        let src_off = c_long(int_at(a, 5)?)?;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a new mapping chosen by the kernel; no existing memory
        // is affected.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, off) };
        if p == libc::MAP_FAILED {
            return Err(last_err());
        }
        // SAFETY: the kernel writes at most `len` bytes into the mapping,
        // which is `len` bytes long and writable.
        let n = unsafe { libc::pread(src, p, len, src_off) };
        let err = last_err();
        // SAFETY: unmapping what was mapped above.
        unsafe { libc::munmap(p, len) };
        if n < 0 {
            return Err(err);
        }
        Ok(n.to_string())
    }

    fn appendrace(&self, a: &[&[u8]]) -> Res<String> {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let fd = self.fd_at(a, 1)?;
        let len = int_at(a, 2)?;
        let count = int_at(a, 3)?;
        let len =
            usize::try_from(len).map_err(|_| exc("ValueError", format!("bad length {len}")))?;
        let count =
            u64::try_from(count).map_err(|_| exc("ValueError", format!("bad count {count}")))?;
        let done = AtomicBool::new(false);
        let stats = AtomicU64::new(0);
        let mut buf = vec![0u8; len];
        std::thread::scope(|sc| {
            sc.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    // SAFETY: stat is plain data; fstat fills it.
                    let mut st: libc::stat = unsafe { std::mem::zeroed() };
                    // SAFETY: plain system call on a descriptor.
                    unsafe { libc::fstat(fd, &mut st) };
                    stats.fetch_add(1, Ordering::Relaxed);
                }
            });
            let r = (|| {
                for r in 0..count {
                    fill_pattern(&mut buf, i128::from(r) * len as i128);
                    // SAFETY: the buffer is valid for `len` bytes.
                    let n = retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), len) as i64 })?;
                    if n as usize != len {
                        return Err(exc("ValueError", format!("short write {n} of record {r}")));
                    }
                }
                Ok(())
            })();
            done.store(true, Ordering::Relaxed);
            r
        })?;
        Ok(format!("stats={}", stats.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::session;
    use std::os::unix::fs::MetadataExt;

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("fusewb-pio-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::create_dir_all(&d);
        d
    }

    #[test]
    fn times_and_ids() {
        let t = time_of(b"12.5").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((t.tv_sec, t.tv_nsec), (12, 500_000_000));
        let t = time_of(b"7.000000001").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((t.tv_sec, t.tv_nsec), (7, 1));
        let t = time_of(b"0x10").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((t.tv_sec, t.tv_nsec), (16, 0));
        assert_eq!(time_of(b"now").map(|t| t.tv_nsec), Ok(libc::UTIME_NOW));
        assert_eq!(time_of(b"omit").map(|t| t.tv_nsec), Ok(libc::UTIME_OMIT));
        for bad in ["", "1.", "1.1234567890", "x", "1.a", ".5", "1.-5"] {
            assert_eq!(
                time_of(bad.as_bytes()).map(|_| ()),
                Err(exc("ValueError", format!("bad time '{bad}'"))),
                "{bad}"
            );
        }
        assert_eq!(id_of(-1), Ok(u32::MAX));
        assert_eq!(id_of(1234), Ok(1234));
        assert!(id_of(-2).is_err() && id_of(1 << 40).is_err());
        assert_eq!(whence_of(b"hole"), Ok(libc::SEEK_HOLE));
        assert!(whence_of(b"x").is_err());
    }

    #[test]
    fn file_commands() {
        let dir = tmpdir("ext");
        let (f, g) = (dir.join("f"), dir.join("g"));
        let mut pio = Pio::default();
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let got = session(
            &mut pio,
            &[
                &format!("open h {} rdwr,creat", f.display()),
                "pwrite h 0 10000",
                "lseek h 100 set",
                "lseek h 5 cur",
                "lseek h 0 end",
                "lseek h 10 data",
                "lseek h 0 sideways",
                "lseek nope 0 set",
                "futimens h 1000.25 2000",
                "fstatx h",
                "futimens h omit 3000.000000007",
                "fstatx h",
                "futimens h now omit",
                "futimens h soon now",
                &format!("fchown h {uid} -1"),
                &format!("fchown h -1 {gid}"),
                "syncfs h",
                "sync",
                "mmap h 4096 4096 shared write 7",
                "check h 4096 4096 7",
                "mmap h 0 8192 private write 3",
                "check h 0 4096",
                "mmap h 0 10000 shared",
                "mmap h 0 0 shared",
                "mmap h 0 4096 both",
                &format!("open g {} rdwr,creat", g.display()),
                "copy h 100 g 50 3000",
                "check g 50 3000 100",
                "copy h 9000 g 0 5000",
                "copy h 0 nope 0 1",
            ],
        );
        let want = [
            "ok",
            "ok 10000",
            "ok 100",
            "ok 105",
            "ok 10000",
            "ok 10",
            "err EXC ValueError: bad whence 'sideways' (set cur end data hole)",
            "err EXC KeyError: 'nope'",
            "ok",
            "ok size=10000 mode=MODE uid=UID gid=GID atime=1000.250000000 mtime=2000.000000000 ctime=",
            "ok",
            "ok size=10000 mode=MODE uid=UID gid=GID atime=1000.250000000 mtime=3000.000000007 ctime=",
            "ok",
            "err EXC ValueError: bad time 'soon'",
            "ok",
            "ok",
            "MS",
            "MS",
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "err EXC ValueError: bad mmap length 0",
            "err EXC ValueError: bad mmap mode 'both' (shared private)",
            "ok",
            "ok 3000",
            "ok",
            "ok 1000",
            "err EXC KeyError: 'nope'",
        ];
        assert_eq!(got.len(), want.len());
        let mode = std::fs::metadata(&f).map(|m| m.mode()).unwrap_or(0);
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let w = w
                .replace("MODE", &format!("0{mode:o}"))
                .replace("UID", &uid.to_string())
                .replace("GID", &gid.to_string());
            if w == "MS" {
                assert!(
                    g.strip_prefix("ok ")
                        .is_some_and(|n| n.parse::<u64>().is_ok()),
                    "line {i}: {g}"
                );
            } else if w.ends_with("ctime=") {
                assert!(g.starts_with(&w), "line {i}: {g}");
            } else {
                assert_eq!(g, &w, "line {i}");
            }
        }
        let data = std::fs::read(&f).unwrap_or_default();
        assert_eq!(data.len(), 10000);
        assert_eq!(data[4096], 7);
        assert_eq!(std::fs::metadata(&g).map(|m| m.len()).unwrap_or(0), 3050);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
