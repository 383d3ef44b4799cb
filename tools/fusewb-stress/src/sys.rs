//! Thin wrappers of the system calls the stress test makes, all reporting
//! failures as a [`SysErr`] naming the call and the errno.

use std::alloc::{self, Layout};
use std::ffi::CString;
use std::fmt;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Alignment (of buffer, offset and length) used for `O_DIRECT`.
pub const DIRECT_ALIGN: usize = 4096;

/// A failed system call. `errno` 0 stands for a call that made no progress
/// without failing (a `write` returning 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysErr {
    pub call: &'static str,
    pub errno: i32,
}

impl SysErr {
    /// The error of the call that just failed.
    pub fn last(call: &'static str) -> Self {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        Self { call, errno }
    }
}

impl fmt::Display for SysErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno == 0 {
            write!(f, "{}: returned 0 (no progress)", self.call)
        } else {
            let text = std::io::Error::from_raw_os_error(self.errno).to_string();
            // Without std's " (os error N)" suffix: the name says it.
            let text = text.split(" (os error").next().unwrap_or_default();
            write!(f, "{}: {} ({text})", self.call, errno_name(self.errno))
        }
    }
}

/// The errnos named in the report; any other is `errno N`.
const NAMED_ERRNOS: &str = "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG EBADF EAGAIN ENOMEM EACCES \
    EFAULT EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ETXTBSY EFBIG ENOSPC \
    ESPIPE EROFS EPIPE ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP ENODATA \
    EOVERFLOW EOPNOTSUPP ECONNABORTED ECONNRESET ENOTCONN ESHUTDOWN ETIMEDOUT ECONNREFUSED \
    ESTALE EDQUOT ECANCELED EHWPOISON";

/// The symbolic name of an errno value (`ENOTCONN`), or `errno N`; 0 is
/// "no progress" (see [`SysErr`]).
pub fn errno_name(e: i32) -> String {
    if e == 0 {
        return "no progress".to_string();
    }
    fusewb_wire::errno::name_if_listed(e, NAMED_ERRNOS)
        .map_or_else(|| format!("errno {e}"), str::to_string)
}

/// `open(path, flags | O_CLOEXEC, 0644)`.
pub fn open(path: &Path, flags: i32) -> Result<OwnedFd, SysErr> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| SysErr {
        call: "open",
        errno: libc::EINVAL,
    })?;
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        return Err(SysErr::last("open"));
    }
    // SAFETY: `fd` was just opened and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `close`, reporting its error (on FUSE, the FLUSH's: deferred write errors).
pub fn close(fd: OwnedFd) -> Result<(), SysErr> {
    let raw = fd.into_raw_fd();
    // SAFETY: we own `raw` and close it exactly once (even on error: Linux
    // always releases the descriptor).
    if unsafe { libc::close(raw) } < 0 {
        return Err(SysErr::last("close"));
    }
    Ok(())
}

/// `write` of all of `buf` (on an `O_APPEND` descriptor every chunk goes to
/// the end of the file).
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<(), SysErr> {
    while !buf.is_empty() {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        match n {
            n if n < 0 => return Err(SysErr::last("write")),
            0 => {
                return Err(SysErr {
                    call: "write",
                    errno: 0,
                })
            }
            n => buf = &buf[n as usize..],
        }
    }
    Ok(())
}

/// `pwrite` of all of `buf` at `off`.
pub fn pwrite_all(fd: RawFd, mut buf: &[u8], mut off: u64) -> Result<(), SysErr> {
    while !buf.is_empty() {
        // SAFETY: valid buffer.
        let n = unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off as libc::off_t) };
        match n {
            n if n < 0 => return Err(SysErr::last("pwrite")),
            0 => {
                return Err(SysErr {
                    call: "pwrite",
                    errno: 0,
                })
            }
            n => {
                buf = &buf[n as usize..];
                off += n as u64;
            }
        }
    }
    Ok(())
}

/// `pread` until `buf` is full or the end of the file; returns the count.
pub fn pread_full(fd: RawFd, buf: &mut [u8], off: u64) -> Result<usize, SysErr> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: valid buffer.
        let n = unsafe {
            libc::pread(
                fd,
                rest.as_mut_ptr().cast(),
                rest.len(),
                (off + done as u64) as libc::off_t,
            )
        };
        match n {
            n if n < 0 => return Err(SysErr::last("pread")),
            0 => break,
            n => done += n as usize,
        }
    }
    Ok(done)
}

/// `pread` on an `O_DIRECT` descriptor: continues after a short read only
/// while the count read keeps offset and buffer aligned (a short read that
/// is not a multiple of the alignment is the end of the file).
pub fn pread_direct(fd: RawFd, buf: &mut [u8], off: u64) -> Result<usize, SysErr> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: valid buffer.
        let n = unsafe {
            libc::pread(
                fd,
                rest.as_mut_ptr().cast(),
                rest.len(),
                (off + done as u64) as libc::off_t,
            )
        };
        match n {
            n if n < 0 => return Err(SysErr::last("pread(O_DIRECT)")),
            0 => break,
            n => {
                done += n as usize;
                if !(n as usize).is_multiple_of(DIRECT_ALIGN) {
                    break;
                }
            }
        }
    }
    Ok(done)
}

pub fn ftruncate(fd: RawFd, len: u64) -> Result<(), SysErr> {
    // SAFETY: plain system call.
    if unsafe { libc::ftruncate(fd, len as libc::off_t) } < 0 {
        return Err(SysErr::last("ftruncate"));
    }
    Ok(())
}

/// `fstat`'s `st_size`.
pub fn fstat_size(fd: RawFd) -> Result<u64, SysErr> {
    // SAFETY: an all-zero `stat` is valid; the kernel fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(SysErr::last("fstat"));
    }
    Ok(st.st_size as u64)
}

/// `fsync`, or `fdatasync` if `data_only`.
pub fn fsync(fd: RawFd, data_only: bool) -> Result<(), SysErr> {
    // SAFETY: plain system calls.
    let r = unsafe {
        if data_only {
            libc::fdatasync(fd)
        } else {
            libc::fsync(fd)
        }
    };
    if r < 0 {
        return Err(SysErr::last(if data_only { "fdatasync" } else { "fsync" }));
    }
    Ok(())
}

/// The system page size.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no side effects.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// A zeroed heap buffer aligned for `O_DIRECT`.
pub struct AlignedBuf {
    ptr: *mut u8,
    layout: Layout,
}

impl AlignedBuf {
    /// `len` bytes (non-zero) aligned to [`DIRECT_ALIGN`].
    pub fn new(len: usize) -> Self {
        let layout = Layout::from_size_align(len.max(1), DIRECT_ALIGN).expect("buffer layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        Self { ptr, layout }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` points to `layout.size()` initialized bytes we own.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.ptr, self.layout) }
    }
}

/// Maps `map_len` bytes of `fd` at the page-aligned `map_off` shared and
/// writable, copies `data` to `at` bytes into the mapping, and unmaps.
///
/// The caller guarantees that every page of the mapping holds at least one
/// byte below the end of the file and that `data` ends before it, so no
/// access can fault with SIGBUS on a local filesystem. On a FUSE mount a
/// page may still fail to come in (server gone): the pages are first
/// populated for writing with `MADV_POPULATE_WRITE`, which returns that
/// failure as an error (`EFAULT`) instead of a SIGBUS. Where the kernel
/// lacks it (`EINVAL`), `populate` is cleared and the copy is done directly.
pub fn mmap_write(
    fd: RawFd,
    map_off: u64,
    map_len: usize,
    at: usize,
    data: &[u8],
    populate: &AtomicBool,
) -> Result<(), SysErr> {
    assert!(at + data.len() <= map_len);
    // SAFETY: a new shared mapping of our own descriptor; nothing else is
    // placed at the address the kernel picks.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            map_off as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(SysErr::last("mmap"));
    }
    let mut result = Ok(());
    if populate.load(Ordering::Relaxed) {
        // SAFETY: the range is our mapping.
        if unsafe { libc::madvise(p, map_len, libc::MADV_POPULATE_WRITE) } < 0 {
            let e = SysErr::last("madvise(MADV_POPULATE_WRITE)");
            if e.errno == libc::EINVAL {
                populate.store(false, Ordering::Relaxed);
            } else {
                result = Err(e);
            }
        }
    }
    if result.is_ok() {
        // SAFETY: `at + data.len() <= map_len` (checked above), inside the
        // file (the caller's guarantee).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), p.cast::<u8>().add(at), data.len());
        }
    }
    // SAFETY: unmapping exactly our mapping.
    if unsafe { libc::munmap(p, map_len) } < 0 && result.is_ok() {
        result = Err(SysErr::last("munmap"));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(errno_name(libc::ENOTCONN), "ENOTCONN");
        assert_eq!(errno_name(libc::EIO), "EIO");
        assert_eq!(errno_name(9999), "errno 9999");
        assert_eq!(errno_name(0), "no progress");
        assert_eq!(errno_name(libc::EDEADLK), "EDEADLK");
        // Named elsewhere, not in this report.
        assert_eq!(
            errno_name(libc::EMSGSIZE),
            format!("errno {}", libc::EMSGSIZE)
        );
        for n in NAMED_ERRNOS.split_whitespace() {
            assert!((1..200).any(|e| errno_name(e) == n), "{n}");
        }
        let e = SysErr {
            call: "pwrite",
            errno: libc::EIO,
        };
        assert_eq!(e.to_string(), "pwrite: EIO (Input/output error)");
    }

    #[test]
    fn aligned() {
        let mut b = AlignedBuf::new(8192);
        let s = b.as_mut_slice();
        assert_eq!(s.len(), 8192);
        assert_eq!(s.as_ptr() as usize % DIRECT_ALIGN, 0);
        assert!(s.iter().all(|x| *x == 0));
    }
}
