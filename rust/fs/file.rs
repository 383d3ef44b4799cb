// SPDX-License-Identifier: GPL-2.0

//! Open files and the read path: OPEN/OPENDIR, RELEASE/RELEASEDIR, and
//! READ through the page cache (`read_folio`, `readahead`).

use super::{dir, writeback};
use super::{File, Inode, Readahead};
use crate::abi;
use crate::conn::{Connection, Hold, Outcome, Payload};
use crate::proto::{pod, reply::ReplyKind};
use crate::vfs::file::flags;
use crate::vfs::{
    self,
    folio::LockedFolio,
    inode::Kind,
    once::{OnceArc, SetOnce},
    wait::WaitQueue,
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

/// fuse-wb's state of an open file or directory.
pub(crate) struct FuseFile {
    /// The server's file handle.
    pub(crate) fh: u64,
    /// `FOPEN_*` flags from the server.
    pub(crate) open_flags: u32,
    /// The file's `O_*` flags as the VFS keeps them once open (without
    /// O_CREAT, O_EXCL, O_NOCTTY and O_TRUNC): READ, WRITE and RELEASE
    /// carry them, as mainline's `file->f_flags`.
    pub(crate) flags: u32,
    /// The server does not implement OPEN(DIR): no RELEASE either.
    no_release: bool,
    /// This open's own number (the handle may be any value, the same for
    /// several opens): READs and other requests in flight are registered by
    /// it, so that a closed file's RELEASE waits for its own requests only.
    pub(crate) serial: u64,
    /// The owner id of the file's flock(2) locks once the server took or
    /// released one (0: never): RELEASE then asks the server to drop them
    /// (`FUSE_RELEASE_FLOCK_UNLOCK`), as the kernel holds none to drop.
    flock_owner: AtomicU64,
    /// Pollers of the file wait here (made at the first poll).
    poll_wait: OnceArc<WaitQueue>,
    /// The file's poll handle (`kh`), once polled.
    poll_handle: SetOnce<u64>,
}

/// The next [`FuseFile::serial`] (at one open per nanosecond, it wraps
/// after five centuries).
fn next_serial() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl FuseFile {
    /// An open file without a server handle (the server has no OPEN).
    fn without_handle(flags: u32) -> Self {
        FuseFile {
            fh: 0,
            open_flags: 0,
            flags: file_flags(flags),
            no_release: true,
            serial: next_serial(),
            flock_owner: AtomicU64::new(0),
            poll_wait: OnceArc::new(),
            poll_handle: SetOnce::new(),
        }
    }

    /// The server does not implement OPEN: no RELEASE either.
    pub(crate) fn no_release(&self) -> bool {
        self.no_release
    }

    /// The state of a file the server opened with handle `fh`.
    pub(crate) fn opened(fh: u64, open_flags: u32, flags: u32) -> Self {
        Self {
            fh,
            open_flags,
            flags: file_flags(flags),
            no_release: false,
            serial: next_serial(),
            flock_owner: AtomicU64::new(0),
            poll_wait: OnceArc::new(),
            poll_handle: SetOnce::new(),
        }
    }

    /// The server holds (or held) flock(2) locks of this file, owned by
    /// the id `owner`.
    pub(crate) fn set_flock_owner(&self, owner: u64) {
        self.flock_owner.store(owner, Ordering::Relaxed);
    }

    /// The queue the file's pollers wait on (made now if needed).
    pub(crate) fn poll_queue(&self) -> Result<Arc<WaitQueue>> {
        if let Some(wq) = self.poll_wait.get_arc() {
            return Ok(wq);
        }
        let wq = Arc::pin_init(WaitQueue::new(), GFP_KERNEL)?;
        // Another poller may have been first: then its queue is used.
        let _ = self.poll_wait.set(wq);
        self.poll_wait.get_arc().ok_or(ENOMEM)
    }

    /// The queue the file's pollers wait on, once made, borrowed with the
    /// file's state.
    pub(crate) fn poll_queue_ref(&self) -> Option<&WaitQueue> {
        self.poll_wait.get()
    }

    /// The file's poll handle (made now if needed).
    pub(crate) fn poll_handle(&self, conn: &Connection) -> u64 {
        if let Some(kh) = self.poll_handle.get() {
            return kh;
        }
        let _ = self.poll_handle.set(conn.new_poll_handle());
        self.poll_handle.get().unwrap_or(0)
    }

    /// The owner id to unlock at RELEASE, if the server took flock locks.
    pub(crate) fn flock_owner(&self) -> Option<u64> {
        Some(self.flock_owner.load(Ordering::Relaxed)).filter(|&o| o != 0)
    }
}

/// Sends RELEASE (`op`: or RELEASEDIR) with `arg`
/// ([`crate::proto::request::release_in`]) of a handle of `inode` which no
/// open file owns any more. The request holds the inode until it is
/// answered, as mainline: the inode's FORGET (sent when it is evicted) must
/// not reach the server before the RELEASE.
pub(crate) fn release_handle(
    conn: &Connection,
    inode: &Inode,
    op: u32,
    arg: &abi::fuse_release_in,
) {
    let hold = writeback::InodeRef::new(inode)
        .ok()
        .and_then(|r| Arc::new(r, GFP_KERNEL).ok())
        .map(|h| h as Hold);
    release_node(conn, inode.data().nodeid(), op, arg, hold);
}

/// Sends RELEASE (`op`) with `arg` of a handle of node `nodeid`, keeping
/// `hold` until it is answered.
pub(crate) fn release_node(
    conn: &Connection,
    nodeid: u64,
    op: u32,
    arg: &abi::fuse_release_in,
    hold: Option<Hold>,
) {
    // Nothing to do if it fails: the connection is gone or out of memory.
    let _ = conn.request_background(op, nodeid, &[pod::bytes_of(arg)], ReplyKind::Empty, hold);
}

fn open_opcodes(kind: Kind) -> (u32, u32) {
    if kind == Kind::Dir {
        (
            abi::fuse_opcode_FUSE_OPENDIR,
            abi::fuse_opcode_FUSE_RELEASEDIR,
        )
    } else {
        (abi::fuse_opcode_FUSE_OPEN, abi::fuse_opcode_FUSE_RELEASE)
    }
}

/// `file_operations.open`: OPEN or OPENDIR.
pub(crate) fn open(inode: &Inode, file: &File) -> Result<KBox<FuseFile>> {
    inode.data().check()?;
    let conn = inode.sb().data();
    let (op, _) = open_opcodes(inode.kind());
    let flags = file.flags();
    if conn.is_enosys(op) {
        let ff = KBox::new(FuseFile::without_handle(flags), GFP_KERNEL)?;
        return register(inode, file, ff);
    }
    let ff = send_open(&conn, inode, op, flags)?;
    if inode.kind() == Kind::Reg && ff.open_flags & abi::FOPEN_KEEP_CACHE == 0 {
        drop_cache(inode);
    }
    register(inode, file, KBox::new(ff, GFP_KERNEL)?)
}

/// An open without FOPEN_KEEP_CACHE: cached data may be older than the
/// server's and is dropped (dirty data, newer, is written first).
fn drop_cache(inode: &Inode) {
    if writeback::is_wb(inode) {
        let _ = inode.write_and_wait_range(0, i64::MAX);
        let _ = writeback::wait_all(inode);
    }
    inode.invalidate_pages();
}

/// After CREATE or TMPFILE opened `inode` with the wire flags
/// `wire_flags` and the server's `open_flags`. The file is new, unless
/// another client made the name after our LOOKUP: then it may be a file
/// this kernel knows under another name, with cached (even dirty) pages
/// and, in write-back mode, a size the reply did not change. If the
/// server truncated it (O_TRUNC, which the VFS does not apply to a file
/// atomic_open reports as created), so do the cache and the size, as
/// after a truncating OPEN; else the cache is dropped as at OPEN. (Dirty
/// data whose WRITE is already in flight may still land after the
/// server's truncation, as on mainline: the truncation could not be
/// ordered after it, the inode being unknown until the reply.)
pub(crate) fn after_create(conn: &Connection, inode: &Inode, wire_flags: u32, open_flags: u32) {
    if inode.kind() != Kind::Reg || (inode.size() == 0 && !inode.has_cached_pages()) {
        // New (or empty and uncached): nothing is stale.
        return;
    }
    if wire_flags & flags::O_TRUNC != 0 {
        let _lock = inode.lock();
        inode.data().invalidate_attrs(conn);
        inode.truncate_setsize(0);
        writeback::send_releases(conn, inode);
    } else if open_flags & abi::FOPEN_KEEP_CACHE == 0 {
        drop_cache(inode);
    }
}

/// The open flags `flags` as an open file keeps them (the VFS drops the
/// creation flags from `f_flags` after `open`).
fn file_flags(flags: u32) -> u32 {
    flags & !(flags::O_CREAT | flags::O_EXCL | flags::O_NOCTTY | flags::O_TRUNC)
}

/// The open flags the server sees. As mainline: creation flags are the
/// VFS's business, not the server's; O_TRUNC goes to the server only if it
/// truncates atomically at OPEN.
fn open_wire_flags(conn: &Connection, flags: u32) -> u32 {
    let mut strip = flags::O_CREAT | flags::O_EXCL | flags::O_NOCTTY;
    if !conn.params().has(u64::from(abi::FUSE_ATOMIC_O_TRUNC)) {
        strip |= flags::O_TRUNC;
    }
    flags & !strip
}

/// `fuse_open_in.open_flags` for the wire flags `wire_flags`:
/// FUSE_OPEN_KILL_SUIDGID when a server that clears suid/sgid itself
/// (HANDLE_KILLPRIV_V2) truncates at OPEN for a task without CAP_FSETID.
pub(crate) fn open_kill_flags(conn: &Connection, wire_flags: u32) -> u32 {
    if wire_flags & flags::O_TRUNC != 0
        && conn.params().server_kills_privs()
        && !crate::vfs::cred::current_has_fsetid()
    {
        abi::FUSE_OPEN_KILL_SUIDGID
    } else {
        0
    }
}

/// The open flags CREATE sends, as mainline: all but O_NOCTTY. O_CREAT
/// and O_EXCL go to the server (it creates the file), and so does O_TRUNC
/// with or without ATOMIC_O_TRUNC: the name may exist on the server by now
/// (made by another client), and the VFS truncates no file its
/// atomic_open reports as created.
pub(crate) fn create_wire_flags(flags: u32) -> u32 {
    flags & !flags::O_NOCTTY
}

/// `fuse_create_in.open_flags` for the wire flags `wire_flags`: as OPEN's,
/// but an O_EXCL create makes a new file, with nothing to clear.
pub(crate) fn create_kill_flags(conn: &Connection, wire_flags: u32) -> u32 {
    if wire_flags & flags::O_EXCL != 0 {
        0
    } else {
        open_kill_flags(conn, wire_flags)
    }
}

/// OPEN or OPENDIR (`op`) of `inode` with the open flags `flags`; a server
/// without it gives a file without a handle (as mainline).
fn send_open(conn: &Connection, inode: &Inode, op: u32, flags: u32) -> Result<FuseFile> {
    let wire_flags = open_wire_flags(conn, flags);
    // A truncating OPEN is a size change: under the inode lock (as
    // mainline in write-back mode), draining writeback and other size
    // changes until the server answered, even if we are killed first.
    let truncating = wire_flags & flags::O_TRUNC != 0 && inode.kind() == Kind::Reg;
    let _lock = truncating.then(|| inode.lock());
    let drain = match truncating {
        true => Some(writeback::drain(inode)?),
        false => None,
    };
    let arg = abi::fuse_open_in {
        flags: wire_flags,
        open_flags: open_kill_flags(conn, wire_flags),
    };
    let (nodeid, args) = (inode.data().nodeid(), [pod::bytes_of(&arg)]);
    let reply = match drain.clone() {
        Some(d) => match conn.request_holding(op, nodeid, &args, ReplyKind::Open, d) {
            Outcome::Reply(r) => r,
            Outcome::Unknown => {
                // The server may truncate at any time: so does the cache,
                // now (a late reply's handle is released by the
                // connection).
                inode.data().invalidate_attrs(conn);
                inode.truncate_setsize(0);
                return Err(EINTR);
            }
        },
        None => conn.request(op, nodeid, &args, ReplyKind::Open),
    };
    let ff = match reply {
        Ok(reply) => {
            let out = pod::read_exact::<abi::fuse_open_out>(&reply).ok_or(EIO)?;
            FuseFile::opened(out.fh, out.open_flags, flags)
        }
        // No OPEN support: every open succeeds without a handle (as mainline).
        Err(e) if e == vfs::enosys() => FuseFile::without_handle(flags),
        Err(e) => return Err(e),
    };
    if wire_flags & flags::O_TRUNC != 0 && !ff.no_release {
        // The server truncated at OPEN: so does the page cache (before any
        // dirty data could be written back past the new EOF).
        inode.data().invalidate_attrs(conn);
        inode.truncate_setsize(0);
        // A handle kept for dirty data may have none left.
        writeback::send_releases(conn, inode);
    }
    Ok(ff)
}

/// A writable regular file's handle becomes usable by writeback.
pub(crate) fn register(inode: &Inode, file: &File, ff: KBox<FuseFile>) -> Result<KBox<FuseFile>> {
    if inode.kind() == Kind::Reg && file.is_writable() {
        if let Err(e) = writeback::add_writer(inode, &ff) {
            release(inode, ff);
            return Err(e);
        }
    }
    Ok(ff)
}

/// `file_operations.release`: RELEASE or RELEASEDIR, in the background,
/// after the WRITEs that use the file's handle.
pub(crate) fn release(inode: &Inode, ff: KBox<FuseFile>) {
    if let Some(kh) = ff.poll_handle.get() {
        inode.sb().data().unpolled(kh);
    }
    if inode.kind() == Kind::Reg && writeback::remove_writer(inode, &ff) {
        // Sent when the WRITEs that use the handle end.
        return;
    }
    if ff.no_release {
        return;
    }
    if inode.kind() == Kind::Reg && writeback::defer_release(inode, &ff) {
        // Sent when the READs and other requests that use the handle end.
        return;
    }
    let conn = inode.sb().data();
    let (_, op) = open_opcodes(inode.kind());
    let arg = crate::proto::request::release_in(ff.fh, ff.flags, ff.flock_owner());
    release_handle(&conn, inode, op, &arg);
}

/// Before a buffered read: refresh the size if the read goes past it (or
/// the server wants data changes noticed), as mainline.
pub(crate) fn before_read(file: &File, pos: i64, len: usize) -> Result {
    let inode = file.inode();
    inode.data().check()?;
    let conn = inode.sb().data();
    let end = pos.saturating_add(i64::try_from(len).unwrap_or(i64::MAX));
    if conn.params().has(u64::from(abi::FUSE_AUTO_INVAL_DATA)) || end > inode.size() {
        dir::update_attributes(inode, file.data())?;
    }
    Ok(())
}

/// Before llseek: SEEK_END needs a fresh size.
pub(crate) fn before_llseek(file: &File, whence: u32) -> Result {
    if whence == flags::SEEK_END {
        dir::update_attributes(file.inode(), file.data())?;
    }
    Ok(())
}

/// Largest READ this connection sends through the page cache, in bytes:
/// whole pages, `max_pages` of them at most, and `max_read` rounded down to
/// whole pages (at least one), as mainline.
pub(crate) fn max_read(conn: &Connection) -> usize {
    let pages = conn.params().max_pages as usize * vfs::PAGE_SIZE;
    match conn.opts.max_read {
        Some(m) => pages.min((m as usize / vfs::PAGE_SIZE).max(1) * vfs::PAGE_SIZE),
        None => pages,
    }
}

/// The arguments of a READ of `len` bytes at `pos` through `ff`.
pub(crate) fn read_in(ff: &FuseFile, pos: i64, len: usize) -> Result<abi::fuse_read_in> {
    Ok(abi::fuse_read_in {
        fh: ff.fh,
        offset: u64::try_from(pos).map_err(|_| EINVAL)?,
        size: u32::try_from(len).map_err(|_| EINVAL)?,
        read_flags: 0,
        lock_owner: 0,
        flags: ff.flags,
        padding: 0,
    })
}

/// Sends READ of `len` bytes at `pos` on the open file `file` and waits
/// (killably) for its data.
pub(crate) fn read_range(
    inode: &Inode,
    file: Option<&File>,
    pos: i64,
    len: usize,
) -> Result<Payload> {
    inode.data().check()?;
    let ff = file.and_then(|f| f.data()).ok_or(EIO)?;
    let conn = inode.sb().data();
    let arg = read_in(ff, pos, len)?;
    let (op, nodeid, args, kind) = (
        abi::fuse_opcode_FUSE_READ,
        inode.data().nodeid(),
        [pod::bytes_of(&arg)],
        ReplyKind::Data { max: len },
    );
    // The file's RELEASE comes after the READ, even if we are killed.
    let reply = match writeback::HandleUse::hold(inode, ff)? {
        Some(hold) => conn.request_holding(op, nodeid, &args, kind, hold).reply(),
        None => conn.request(op, nodeid, &args, kind),
    };
    super::inode::invalidate_atime(inode);
    reply
}

/// A READ that returned less than asked for ended at the server's EOF.
pub(crate) fn short_read(inode: &Inode, end: i64, version: u64) {
    super::inode::read_update_size(inode, end, version);
}

/// `address_space_operations.read_folio`.
pub(crate) fn read_folio(inode: &Inode, file: Option<&File>, mut folio: LockedFolio) -> Result {
    let conn = inode.sb().data();
    let version = conn.attr_version();
    let (pos, size) = (folio.pos(), folio.size());
    // The server has old data while a WRITE of this folio is in flight.
    writeback::wait_bytes(inode, pos, size)?;
    let data = read_range(inode, file, pos, size)?;
    folio.fill(&data);
    folio.mark_uptodate();
    if data.len() < size {
        short_read(inode, pos.saturating_add(data.len() as i64), version);
    }
    // Unlocked once the size is right for the readers it wakes.
    drop(folio);
    Ok(())
}

/// `address_space_operations.readahead`: READs of up to `max_pages` pages
/// (and `max_read` bytes), each filling the folios it covers; sent in the
/// background when the server takes several READs at once (`readahead`),
/// else one after the other.
pub(crate) fn readahead(inode: &Inode, ra: &mut Readahead<'_>) {
    let conn = inode.sb().data();
    let chunk = max_read(&conn);
    let mut pos = ra.pos();
    let mut left = ra.len();
    let file = ra.file();
    // Killed: the folios are left to the caller (`read_pages`).
    if writeback::wait_bytes(inode, pos, left).is_err() {
        return;
    }
    if super::readahead::enabled(&conn) && inode.data().check().is_ok() {
        if let Some(ff) = file.and_then(|f| f.data()) {
            super::readahead::send_all(inode, ff, ra, chunk);
            return;
        }
    }
    while left > 0 {
        let len = left.min(chunk);
        let version = conn.attr_version();
        let res = read_range(inode, file, pos, len);
        let mut covered = 0;
        while covered < len {
            let Some(mut folio) = ra.next_folio() else {
                return;
            };
            let fsize = folio.size();
            if let Ok(data) = &res {
                let start = covered.min(data.len());
                let end = (covered + fsize).min(data.len());
                folio.fill(data.get(start..end).unwrap_or(&[]));
                folio.mark_uptodate();
            }
            covered += fsize;
        }
        match res {
            Ok(data) => {
                if data.len() < len {
                    short_read(inode, pos.saturating_add(data.len() as i64), version);
                }
            }
            // This READ's folios stay, not up to date, for read_folio (which
            // reports the error); the rest are left to the caller.
            Err(_) => return,
        }
        // The next READ starts where the folios just filled end (a large
        // folio may reach past `len`).
        pos = pos.saturating_add(covered as i64);
        left = left.saturating_sub(covered);
    }
}

/// `file_operations.flush` (every close): the file's dirty data reaches
/// the server and is acknowledged, the mapping's write errors are reported
/// (once), then FLUSH.
pub(crate) fn flush(file: &File, lock_owner: u64) -> Result {
    let inode = file.inode();
    if inode.data().is_bad() {
        return Err(EIO);
    }
    let res = flush_and_send(file, lock_owner);
    // In write-back mode the kernel does not keep i_blocks: after the data
    // reached the server, the cached count is stale (mainline invalidates
    // STATX_BLOCKS here). Only a writer can have changed it.
    if res.is_ok() && file.is_writable() && writeback::is_wb(inode) {
        inode.data().invalidate_attrs(&inode.sb().data());
    }
    res
}

/// `flush` without the attribute invalidation: write back, wait, FLUSH.
fn flush_and_send(file: &File, lock_owner: u64) -> Result {
    let inode = file.inode();
    let conn = inode.sb().data();
    let res = writeback::flush_inode(inode).and(inode.check_errors());
    let Some(ff) = file.data() else { return res };
    if ff.no_release || conn.is_enosys(abi::fuse_opcode_FUSE_FLUSH) {
        return res;
    }
    if ff.open_flags & abi::FOPEN_NOFLUSH != 0 && !writeback::is_wb(inode) {
        return res;
    }
    let arg = abi::fuse_flush_in {
        fh: ff.fh,
        unused: 0,
        padding: 0,
        // The server drops the closer's POSIX locks (a process's locks end
        // with any close of the file); it sees an id, not the address.
        lock_owner: conn.lock_owner_id(lock_owner),
    };
    // Forced, as mainline's: a closer killed before the server read it
    // leaves it queued (mainline waits for it). The RELEASE that follows
    // waits for it, even if we are killed; without memory for that, the
    // FLUSH still goes.
    let flushed = conn.request_optional_forced(
        abi::fuse_opcode_FUSE_FLUSH,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        writeback::HandleUse::hold(inode, ff).ok().flatten(),
    );
    res.and(flushed)
}

/// `file_operations.fsync`: write back and wait (page cache and WRITEs in
/// flight), report this file's unseen write errors, flush times, FSYNC.
pub(crate) fn fsync(file: &File, start: i64, end: i64, datasync: bool) -> Result {
    let inode = file.inode();
    inode.data().check()?;
    let conn = inode.sb().data();
    let _lock = inode.lock();
    let wrote = file.write_and_wait_range(start, end);
    writeback::wait_all(inode)?;
    wrote?;
    file.check_and_advance_wb_err()?;
    if writeback::is_wb(inode) {
        inode.sync_metadata()?;
        writeback::wait_times(inode)?;
    }
    let Some(ff) = file.data() else { return Ok(()) };
    if ff.no_release || conn.is_enosys(abi::fuse_opcode_FUSE_FSYNC) {
        return Ok(());
    }
    let arg = abi::fuse_fsync_in {
        fh: ff.fh,
        fsync_flags: u32::from(datasync),
        padding: 0,
    };
    // As for FLUSH: ordered before the RELEASE when there is memory for it.
    conn.request_optional(
        abi::fuse_opcode_FUSE_FSYNC,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        writeback::HandleUse::hold(inode, ff).ok().flatten(),
    )
}

/// `file_operations.fsync` of a directory: FSYNCDIR under the directory's
/// lock, as mainline (a server without it is not asked again, and that is
/// no error).
pub(crate) fn fsyncdir(file: &File, datasync: bool) -> Result {
    let inode = file.inode();
    inode.data().check()?;
    let conn = inode.sb().data();
    let op = abi::fuse_opcode_FUSE_FSYNCDIR;
    let Some(ff) = file.data() else { return Ok(()) };
    if ff.no_release || conn.is_enosys(op) {
        return Ok(());
    }
    let _lock = inode.lock();
    let arg = abi::fuse_fsync_in {
        fh: ff.fh,
        fsync_flags: u32::from(datasync),
        padding: 0,
    };
    conn.request_optional(op, inode.data().nodeid(), &[pod::bytes_of(&arg)], None)
}

/// `file_operations.mmap`, before the generic part: shared maps of a
/// direct-I/O file would bypass the server (as mainline without
/// FUSE_DIRECT_IO_ALLOW_MMAP).
pub(crate) fn mmap_check(file: &File, shared: bool) -> Result {
    let ff = file.data().ok_or(EIO)?;
    if ff.open_flags & abi::FOPEN_DIRECT_IO != 0 && shared {
        return Err(ENODEV);
    }
    Ok(())
}

/// A shared mapping goes away: write back what it dirtied (mainline's
/// write-back on munmap); errors go to the mapping.
pub(crate) fn vma_close(inode: &Inode) {
    if let Err(e) = writeback::flush_inode(inode) {
        if e != EINTR {
            inode.set_mapping_error(e);
        }
    }
}

/// SEEK_DATA / SEEK_HOLE: LSEEK, after dirty data reached the server (so
/// its hole map is current); `None` if the server has no LSEEK.
pub(crate) fn lseek(file: &File, offset: i64, whence: u32) -> Result<Option<i64>> {
    let inode = file.inode();
    inode.data().check()?;
    let conn = inode.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_LSEEK) {
        return Ok(None);
    }
    let ff = file.data().ok_or(EIO)?;
    if ff.no_release {
        return Ok(None);
    }
    inode.write_and_wait_range(0, i64::MAX)?;
    writeback::wait_all(inode)?;
    let arg = abi::fuse_lseek_in {
        fh: ff.fh,
        offset: u64::try_from(offset).map_err(|_| ENXIO)?,
        whence,
        padding: 0,
    };
    match conn.request(
        abi::fuse_opcode_FUSE_LSEEK,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Lseek,
    ) {
        Ok(reply) => {
            let out = pod::read_exact::<abi::fuse_lseek_out>(&reply).ok_or(EIO)?;
            // CAST: validated to fit i64 in proto::reply.
            Ok(Some(out.offset as i64))
        }
        Err(e) if e == vfs::enosys() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `file_operations.fallocate`: FALLOCATE after writing back and draining
/// the file's writeback; the page cache follows the server.
pub(crate) fn fallocate(file: &File, mode: i32, offset: i64, len: i64) -> Result {
    let inode = file.inode();
    inode.data().check()?;
    let conn = inode.sb().data();
    let allowed =
        flags::FALLOC_FL_KEEP_SIZE | flags::FALLOC_FL_PUNCH_HOLE | flags::FALLOC_FL_ZERO_RANGE;
    if mode & !allowed != 0 || conn.is_enosys(abi::fuse_opcode_FUSE_FALLOCATE) {
        return Err(vfs::eopnotsupp());
    }
    let ff = file.data().ok_or(EIO)?;
    let end = offset.checked_add(len).ok_or(EINVAL)?;
    let _lock = inode.lock();
    let punch = mode & (flags::FALLOC_FL_PUNCH_HOLE | flags::FALLOC_FL_ZERO_RANGE) != 0;
    if punch {
        inode.write_and_wait_range(offset, i64::MAX)?;
    }
    // The drain lasts until the server answered, even if we are killed.
    let drain = writeback::drain(inode)?;
    let arg = abi::fuse_fallocate_in {
        fh: ff.fh,
        // CAST: the VFS checked offset and len are non-negative.
        offset: offset as u64,
        length: len as u64,
        mode: mode as u32,
        padding: 0,
    };
    let (op, nodeid, args) = (
        abi::fuse_opcode_FUSE_FALLOCATE,
        inode.data().nodeid(),
        [pod::bytes_of(&arg)],
    );
    let killed = match conn.request_holding(op, nodeid, &args, ReplyKind::Empty, drain.clone()) {
        Outcome::Reply(Ok(_)) => false,
        Outcome::Reply(Err(e)) if e == vfs::enosys() => return Err(vfs::eopnotsupp()),
        Outcome::Reply(Err(e)) => return Err(e),
        // Killed while the server has it: it may happen at any time, so
        // the cache follows it now, as after a reply.
        Outcome::Unknown => true,
    };
    if mode & flags::FALLOC_FL_KEEP_SIZE == 0 && end > inode.size() {
        writeback::zero_past_eof(inode, inode.size());
        inode.set_size(end);
    }
    if punch {
        inode.truncate_pagecache_range(offset, end - 1);
    }
    super::inode::data_changed(inode, &conn);
    drop(drain);
    match killed {
        true => Err(EINTR),
        false => Ok(()),
    }
}

/// The server copied `written` bytes to `off_out` of `iout`: the cached
/// pages there are stale, the size grows to cover them, the times change.
fn after_copy(iout: &Inode, conn: &Connection, off_out: i64, written: usize) {
    if written > 0 {
        let end = off_out.saturating_add(written as i64);
        let (first, last) = crate::proto::write::page_cover(off_out, end, vfs::PAGE_SIZE);
        iout.truncate_pagecache_range(first, last);
        if end > iout.size() {
            writeback::zero_past_eof(iout, iout.size());
            iout.set_size(end);
        }
    }
    super::inode::data_changed(iout, conn);
}

/// `file_operations.copy_file_range`: COPY_FILE_RANGE after both ranges
/// reached the server; `None` asks for the splice fallback (no support, or
/// another filesystem).
pub(crate) fn copy_file_range(
    fin: &File,
    off_in: i64,
    fout: &File,
    off_out: i64,
    len: usize,
) -> Result<Option<usize>> {
    let (iin, iout) = (fin.inode(), fout.inode());
    if !core::ptr::eq(iin.sb(), iout.sb()) {
        return Ok(None);
    }
    iout.data().check()?;
    iin.data().check()?;
    let conn = iout.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_COPY_FILE_RANGE) {
        return Ok(None);
    }
    let (ffin, ffout) = (fin.data().ok_or(EIO)?, fout.data().ok_or(EIO)?);
    // As mainline: at most 4 GiB - 1 page per request.
    let len = len.min((u32::MAX as usize) & !(vfs::PAGE_SIZE - 1));
    if len == 0 {
        return Ok(Some(0));
    }
    writeback::flush_range(iin, off_in, len)?;
    let _lock = iout.lock();
    writeback::flush_range(iout, off_out, len)?;
    // The target may grow: a size change, until the server answered.
    let drain = writeback::drain(iout)?;
    // CAST: the VFS checked the offsets are non-negative.
    let arg = abi::fuse_copy_file_range_in {
        fh_in: ffin.fh,
        off_in: off_in as u64,
        nodeid_out: iout.data().nodeid(),
        fh_out: ffout.fh,
        off_out: off_out as u64,
        len: len as u64,
        flags: 0,
    };
    let outcome = conn.request_holding(
        abi::fuse_opcode_FUSE_COPY_FILE_RANGE,
        iin.data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Write { max: len as u64 },
        drain.clone(),
    );
    let (written, killed) = match outcome {
        Outcome::Reply(Ok(r)) => (
            pod::read_exact::<abi::fuse_write_out>(&r).ok_or(EIO)?.size,
            false,
        ),
        Outcome::Reply(Err(e)) if e == vfs::enosys() => return Ok(None),
        Outcome::Reply(Err(e)) => return Err(e),
        // Killed while the server copies: it may copy all of it at any
        // time, so the cache assumes it did.
        // CAST: `len` is below 4 GiB.
        Outcome::Unknown => (len as u32, true),
    };
    let written = written as usize;
    after_copy(iout, &conn, off_out, written);
    drop(drain);
    match killed {
        true => Err(EINTR),
        false => Ok(Some(written)),
    }
}
