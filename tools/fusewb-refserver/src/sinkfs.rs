//! `--sink-pattern SEED`: serves the [`Sink`] over FUSE. The requests map
//! one to one onto its methods; this file only converts arguments,
//! replies, counts requests in the statistics and applies
//! `--write-latency-us` and `--random-delay-us`.
//!
//! Access control is left to the kernel (`default_permissions`, or none):
//! ACCESS always succeeds. When run as root, new nodes are given the
//! requesting uid/gid, as the passthrough does; otherwise the server's.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use fuser::{
    AccessFlags, Errno, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};

use crate::cli::Options;
use crate::fs::{before_write, configure, data, empty, lock, random_delay, TTL};
use crate::sink::{Owner, SetAttr, Sink};
use crate::stats::Stats;

/// The file type of a `mknod` mode (`None` for directories and unknown types).
fn kind_of_mode(mode: u32) -> Option<FileType> {
    match mode & libc::S_IFMT {
        libc::S_IFREG | 0 => Some(FileType::RegularFile),
        libc::S_IFIFO => Some(FileType::NamedPipe),
        libc::S_IFSOCK => Some(FileType::Socket),
        libc::S_IFCHR => Some(FileType::CharDevice),
        libc::S_IFBLK => Some(FileType::BlockDevice),
        _ => None,
    }
}

/// The sink filesystem.
pub struct SinkFs {
    opts: Options,
    sink: Arc<Mutex<Sink>>,
    stats: Arc<Mutex<Stats>>,
    /// Whether new nodes get the caller's uid/gid (only possible as root).
    chown_new: bool,
    /// The server's own ids otherwise.
    me: Owner,
}

impl SinkFs {
    /// Serves `sink` (shared with the statistics writer).
    pub fn new(opts: Options, sink: Arc<Mutex<Sink>>, stats: Arc<Mutex<Stats>>) -> Self {
        let me = current_owner();
        Self {
            opts,
            sink,
            stats,
            chown_new: me.uid == 0,
            me,
        }
    }

    /// Waits `--random-delay-us`, then counts one request of `op`: the
    /// first thing every request handler does but READ and WRITE.
    fn note(&self, op: &'static str, bytes: u64) {
        random_delay(&self.opts);
        lock(&self.stats).record(op, bytes);
    }

    fn sink(&self) -> MutexGuard<'_, Sink> {
        lock(&self.sink)
    }

    fn owner(&self, req: &Request) -> Owner {
        if self.chown_new {
            Owner {
                uid: req.uid(),
                gid: req.gid(),
            }
        } else {
            self.me
        }
    }

    fn entry(&self, reply: ReplyEntry, r: Result<fuser::FileAttr, Errno>) {
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }
}

/// The server's effective uid and gid.
pub fn current_owner() -> Owner {
    // SAFETY: geteuid and getegid cannot fail.
    unsafe {
        Owner {
            uid: libc::geteuid(),
            gid: libc::getegid(),
        }
    }
}

impl Filesystem for SinkFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        self.note("INIT", 0);
        configure(&self.opts, config);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.note("LOOKUP", 0);
        let r = self.sink().lookup(parent.0, name);
        self.entry(reply, r);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.note("FORGET", 0);
        self.sink().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.note("GETATTR", 0);
        match self.sink().attr(ino.0) {
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
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.note("SETATTR", 0);
        let a = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        };
        match self.sink().setattr(ino.0, a) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
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
        let r = match kind_of_mode(mode) {
            Some(kind) => self
                .sink()
                .make(parent.0, name, kind, mode, self.owner(req), rdev),
            None => Err(Errno::EINVAL),
        };
        self.entry(reply, r);
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
        let r = self.sink().make(
            parent.0,
            name,
            FileType::Directory,
            mode,
            self.owner(req),
            0,
        );
        self.entry(reply, r);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note("UNLINK", 0);
        empty(reply, self.sink().unlink(parent.0, name));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.note("RMDIR", 0);
        empty(reply, self.sink().rmdir(parent.0, name));
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        self.note("SYMLINK", 0);
        reply.error(Errno::EPERM);
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
        self.note("RENAME", 0);
        let r = self
            .sink()
            .rename(parent.0, name, newparent.0, newname, flags.bits());
        empty(reply, r);
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        self.note("LINK", 0);
        reply.error(Errno::EPERM);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.note("OPEN", 0);
        match self.sink().open(ino.0, flags.0) {
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
        let r = self.sink().read(fh.0, offset, size);
        data(&self.stats, reply, r);
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
        let r = self.sink().write(fh.0, offset, data);
        match r {
            Ok(log) => {
                if let Some(msg) = log {
                    eprintln!("fusewb-refserver: {msg}");
                }
                // CAST: a WRITE carries less than 4 GiB.
                reply.written(data.len() as u32)
            }
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.note("FLUSH", 0);
        empty(reply, self.sink().handle(fh.0).map(|_| ()));
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.note("RELEASE", 0);
        self.sink().release(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.note("FSYNC", 0);
        // Nothing is stored: every WRITE replied to is already "durable".
        empty(reply, self.sink().handle(fh.0).map(|_| ()));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.note("OPENDIR", 0);
        match self.sink().opendir(ino.0) {
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
        let mut sink = self.sink();
        match sink.readdir(fh.0, offset) {
            Ok(entries) => {
                for (i, (ino, kind, name)) in entries.iter().enumerate() {
                    if reply.add(INodeNo(*ino), offset + i as u64 + 1, *kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
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
        self.sink().releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.note("FSYNCDIR", 0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.note("STATFS", 0);
        let (blocks, bfree, files, ffree) = self.sink().statfs();
        reply.statfs(blocks, bfree, bfree, files, ffree, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        self.note("ACCESS", 0);
        empty(reply, self.sink().attr(ino.0).map(|_| ()));
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
        let r = self
            .sink()
            .create(parent.0, name, mode, flags, self.owner(req));
        match r {
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
        empty(reply, self.sink().fallocate(fh.0, offset, length, mode));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mknod_kinds() {
        assert_eq!(
            kind_of_mode(libc::S_IFREG | 0o644),
            Some(FileType::RegularFile)
        );
        assert_eq!(kind_of_mode(0o644), Some(FileType::RegularFile));
        assert_eq!(kind_of_mode(libc::S_IFIFO), Some(FileType::NamedPipe));
        assert_eq!(kind_of_mode(libc::S_IFDIR | 0o755), None);
        assert_eq!(kind_of_mode(libc::S_IFLNK), None);
    }
}
