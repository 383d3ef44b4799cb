// SPDX-License-Identifier: GPL-2.0

//! fuse-wb's per-inode state and how server attributes reach the inode.
//!
//! Each inode knows its node id and how many times the server handed it out
//! (`nlookup`, returned with FORGET when the inode goes). Attributes carry a
//! version: a reply older than the inode's last update is dropped, so a slow
//! reply never overwrites newer information.

use super::{Inode, SuperBlock};
use crate::abi;
use crate::conn::{Connection, ForgetReservation};
use crate::proto::{attr, time};
use crate::vfs::{
    self,
    inode::{self as vinode, Kind},
};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::SpinLock;
use kernel::types::ARef;

/// fuse-wb's state of one inode (lives next to the VFS inode).
#[pin_data]
pub(crate) struct FuseInode {
    nodeid: AtomicU64,
    nlookup: AtomicU64,
    /// When the cached attributes expire (jiffies; 0 = expired).
    attr_expiry: AtomicU64,
    /// Version of the last attribute update (see `Connection::attr_version`).
    attr_version: AtomicU64,
    /// Server mtime of the last update, to notice data changes.
    mtime: AtomicU64,
    mtime_nsec: AtomicU64,
    bad: AtomicBool,
    /// The server may have changed atime since the cached attributes came
    /// (a READ, READLINK or READDIR went to it): a stat that wants atime
    /// asks the server (mainline's `inval_mask` with STATX_ATIME).
    atime_stale: AtomicBool,
    /// Serialises attribute updates (mainline's `fi->lock`) and holds the
    /// node the inode's FORGET will use, allocated when the inode is made.
    #[pin]
    lock: SpinLock<Option<ForgetReservation>>,
    /// Writeback state of a regular file (see `fs::writeback`).
    #[pin]
    pub(crate) wb: SpinLock<super::writeback::WbInode>,
    /// Of a directory, when the server did not set FUSE_PARALLEL_DIROPS:
    /// held across its LOOKUPs and READDIRs so that they do not overlap
    /// (mainline's `fuse_lock_inode`). See [`lock_dir`].
    #[pin]
    dirops: vfs::wait::KillableLock,
}

impl FuseInode {
    /// State of a new inode (no node id yet).
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            nodeid: AtomicU64::new(0),
            nlookup: AtomicU64::new(0),
            attr_expiry: AtomicU64::new(0),
            attr_version: AtomicU64::new(0),
            mtime: AtomicU64::new(0),
            mtime_nsec: AtomicU64::new(0),
            bad: AtomicBool::new(false),
            atime_stale: AtomicBool::new(false),
            lock <- kernel::new_spinlock!(None, "fuse_wb::FuseInode::lock"),
            wb <- kernel::new_spinlock!(super::writeback::WbInode::new(), "fuse_wb::FuseInode::wb"),
            dirops <- vfs::wait::KillableLock::new(),
        })
    }

    /// The server's node id.
    pub(crate) fn nodeid(&self) -> u64 {
        self.nodeid.load(Ordering::Relaxed)
    }

    /// Sets the node id of a new inode.
    pub(crate) fn set_nodeid(&self, id: u64) {
        self.nodeid.store(id, Ordering::Relaxed);
    }

    /// Marks the inode bad (its type changed on the server, or it misbehaved).
    pub(crate) fn set_bad(&self) {
        self.bad.store(true, Ordering::Release);
    }

    /// Whether the inode is bad: every operation fails with EIO.
    pub(crate) fn is_bad(&self) -> bool {
        self.bad.load(Ordering::Acquire)
    }

    /// Fails with EIO if the inode is bad.
    pub(crate) fn check(&self) -> Result {
        if self.is_bad() {
            Err(EIO)
        } else {
            Ok(())
        }
    }

    /// Whether the cached attributes are still valid.
    pub(crate) fn attr_valid(&self) -> bool {
        time::is_valid(self.attr_expiry.load(Ordering::Acquire), vfs::jiffies())
    }

    /// Forgets the cached attributes (the file changed): the next stat asks
    /// the server, and replies to requests sent before now are ignored.
    pub(crate) fn invalidate_attrs(&self, conn: &Connection) {
        let _g = self.lock.lock();
        self.attr_expiry.store(0, Ordering::Release);
        self.attr_version
            .store(conn.next_attr_version(), Ordering::Relaxed);
    }

    /// Whether atime may be stale (see `invalidate_atime`).
    pub(crate) fn atime_stale(&self) -> bool {
        self.atime_stale.load(Ordering::Acquire)
    }

    /// Counts one more lookup handed out by the server.
    pub(crate) fn inc_nlookup(&self) {
        self.nlookup.fetch_add(1, Ordering::Relaxed);
    }
}

/// Serialises LOOKUP and READDIR(PLUS) requests about directory `dir`
/// unless the server set FUSE_PARALLEL_DIROPS (the VFS holds the
/// directory's lock only shared for both). The wait is killable.
pub(crate) fn lock_dir<'a>(
    dir: &'a Inode,
    conn: &Connection,
) -> Result<Option<vfs::wait::KillableGuard<'a>>> {
    if conn.params().has(u64::from(abi::FUSE_PARALLEL_DIROPS)) {
        return Ok(None);
    }
    dir.data().dirops.lock().map(Some)
}

/// The server was asked to read `inode` (its data, symlink target or
/// directory), which may have changed its atime: the next stat that wants
/// atime asks the server, as mainline's `fuse_invalidate_atime` (not on a
/// read-only mount).
pub(crate) fn invalidate_atime(inode: &Inode) {
    if !inode.sb().is_read_only() {
        inode.data().atime_stale.store(true, Ordering::Release);
    }
}

/// The data of `inode` changed through this mount (a write, fallocate,
/// copy_file_range). In write-back mode the kernel owns c/mtime: they are
/// set now and sent later by `write_inode`. Otherwise the server changed
/// them: the cached attributes are stale.
pub(crate) fn data_changed(inode: &Inode, conn: &Connection) {
    if super::writeback::is_wb(inode) {
        let now = inode.now();
        inode.set_mtime(now);
        inode.set_ctime(now);
        inode.mark_dirty_sync();
    } else {
        inode.data().invalidate_attrs(conn);
    }
}

/// The change time of `inode` changed through this mount (a rename, a new
/// link): in write-back mode the kernel sets it (and sends it later), else
/// the cached attributes are stale.
pub(crate) fn ctime_changed(inode: &Inode, conn: &Connection) {
    if super::writeback::is_wb(inode) {
        inode.set_ctime(inode.now());
        inode.mark_dirty_sync();
    } else {
        inode.data().invalidate_attrs(conn);
    }
}

/// Marks `inode` bad: it is unhashed (a later lookup of its node id makes
/// a new inode) and every operation on it fails with EIO.
pub(crate) fn make_bad(inode: &Inode) {
    inode.unhash();
    inode.data().set_bad();
}

/// Gets (or creates) the inode of `nodeid` with attributes `a` (validated),
/// counting one lookup. `valid_sec`/`valid_nsec` is the attribute timeout;
/// `version` the attribute version sampled before the request was sent (0
/// when there was no request).
pub(crate) fn iget(
    sb: &SuperBlock,
    nodeid: u64,
    a: &abi::fuse_attr,
    valid_sec: u64,
    valid_nsec: u32,
    version: u64,
) -> Result<ARef<Inode>> {
    loop {
        // Room for this inode's FORGET, taken before the inode exists.
        let slot = Connection::forget_reservation()?;
        // The server owns atime, and c/mtime too except those of regular
        // files in write-back mode (mainline's `fuse_iget`). Without
        // S_NOATIME a read dirties the inode and its close sends the
        // kernel's (stale) c/mtime back with a SETATTR.
        let conn = sb.data();
        let how = vinode::NewInode {
            noatime: true,
            nocmtime: !conn.has_writeback_cache() || !attr::same_type(a.mode, attr::S_IFREG),
            // Only ACLs the kernel enforces are cached (see `acl`); the
            // root inode, made before INIT, starts caching when its
            // attributes are first refreshed.
            cache_acls: conn.params().posix_acl(),
            // A symlink's target never changes (only INVAL_INODE drops it).
            cache_link: conn.params().cache_symlinks(),
        };
        let (inode, new) = vinode::iget(sb, nodeid, |i| {
            vinode::set_ops::<super::ops::FuseWb>(i, a.mode, a.rdev, how)
        })?;
        if new {
            *inode.data().lock.lock() = Some(slot);
        }
        if !attr::same_type(inode.mode(), a.mode) {
            // The node id now names a file of another type: the old inode is
            // stale. Unhash it and make a new one, as mainline.
            make_bad(&inode);
            continue;
        }
        inode.data().inc_nlookup();
        if new {
            // A new inode takes everything from the server, size included.
            change_attributes_initial(&inode, a, valid_sec, valid_nsec);
        } else {
            change_attributes(&inode, a, valid_sec, valid_nsec, version);
        }
        return Ok(inode);
    }
}

fn change_attributes_initial(inode: &Inode, a: &abi::fuse_attr, valid_sec: u64, valid_nsec: u32) {
    apply(inode, a, valid_sec, valid_nsec, 0, false);
}

/// Applies server attributes `a` (validated, same file type) to `inode`,
/// unless a newer update happened since `version` was sampled (0: always).
///
/// In write-back mode the kernel owns a regular file's size and c/mtime:
/// the server's values are ignored (as mainline's "trust local attrs").
pub(crate) fn change_attributes(
    inode: &Inode,
    a: &abi::fuse_attr,
    valid_sec: u64,
    valid_nsec: u32,
    version: u64,
) {
    super::acl::forget_cached(&inode.sb().data(), inode);
    apply(
        inode,
        a,
        valid_sec,
        valid_nsec,
        version,
        super::writeback::is_wb(inode),
    );
}

fn apply(
    inode: &Inode,
    a: &abi::fuse_attr,
    valid_sec: u64,
    valid_nsec: u32,
    version: u64,
    trust_local: bool,
) {
    let local = if trust_local {
        with_local_size_and_times(inode, a)
    } else {
        *a
    };
    let a = &local;
    let conn = inode.sb().data();
    let fi = inode.data();
    let old_size;
    let mtime_changed;
    {
        let _g = fi.lock.lock();
        if version != 0 && fi.attr_version.load(Ordering::Relaxed) > version {
            return;
        }
        fi.attr_version
            .store(conn.next_attr_version(), Ordering::Relaxed);
        fi.attr_expiry.store(
            time::expiry(vfs::jiffies(), valid_sec, valid_nsec, vfs::HZ),
            Ordering::Release,
        );
        fi.atime_stale.store(false, Ordering::Release);
        let blkbits = attr::blkbits(a.blksize, conn.opts.blksize, inode.sb().blocksize_bits());
        old_size = inode.size();
        mtime_changed = fi.mtime.swap(a.mtime, Ordering::Relaxed) != a.mtime
            || fi
                .mtime_nsec
                .swap(u64::from(a.mtimensec), Ordering::Relaxed)
                != u64::from(a.mtimensec);
        inode.set_attributes(a, blkbits, !trust_local);
    }
    if inode.kind() != Kind::Reg || trust_local {
        return;
    }
    // CAST: validated to fit i64 in proto::attr.
    server_data_changed(inode, &conn, old_size, a.size as i64, mtime_changed);
}

/// `a` with the size and c/mtime of `inode`: where the kernel owns them,
/// they are not taken from the server at all (`set_attributes` leaves
/// them). Read here, outside the writers' locks, and written back later,
/// they could undo a concurrent append or its time update; the copy only
/// keeps `a` consistent for the code that reads it.
fn with_local_size_and_times(inode: &Inode, a: &abi::fuse_attr) -> abi::fuse_attr {
    let mut local = *a;
    // CAST: sizes and times travel as u64 on the wire.
    local.size = inode.size() as u64;
    let (ms, mn) = inode.mtime();
    let (cs, cn) = inode.ctime();
    local.mtime = ms as u64;
    local.mtimensec = mn;
    local.ctime = cs as u64;
    local.ctimensec = cn;
    local
}

/// The server's attributes say the file changed (size `old_size` to
/// `new_size`, or its mtime): cached pages past the new size go, and the
/// rest is dropped as mainline does (unless the server invalidates data
/// explicitly; on an mtime change only with AUTO_INVAL_DATA).
fn server_data_changed(
    inode: &Inode,
    conn: &Connection,
    old_size: i64,
    new_size: i64,
    mtime_changed: bool,
) {
    let params = conn.params();
    let mut inval = false;
    if old_size != new_size {
        inode.truncate_pagecache(new_size);
        inval = !params.has(u64::from(abi::FUSE_EXPLICIT_INVAL_DATA));
    } else if mtime_changed && params.has(u64::from(abi::FUSE_AUTO_INVAL_DATA)) {
        inval = true;
    }
    if inval {
        inode.invalidate_pages();
    }
}

/// A READ ended at `size`, before the cached size: the file shrank on the
/// server. Applied unless attributes changed since `version` was sampled.
pub(crate) fn read_update_size(inode: &Inode, size: i64, version: u64) {
    if super::writeback::is_wb(inode) {
        // The kernel owns the size: a short READ is a hole, not an EOF.
        return;
    }
    let fi = inode.data();
    let _g = fi.lock.lock();
    if version >= fi.attr_version.load(Ordering::Relaxed) && size < inode.size() {
        fi.attr_version
            .store(inode.sb().data().next_attr_version(), Ordering::Relaxed);
        inode.set_size(size);
    }
}

/// The server stored data up to `end` (STORE): the size grows to it, and
/// the attributes are stale, as mainline's `fuse_write_update_attr`.
pub(crate) fn stored(inode: &Inode, conn: &Connection, end: i64) {
    let fi = inode.data();
    {
        let _g = fi.lock.lock();
        if end > inode.size() {
            inode.set_size(end);
        }
    }
    fi.invalidate_attrs(conn);
}

/// The inode a LOOKUP-style entry names (node id != 0), counting the lookup.
pub(crate) fn iget_entry(
    sb: &SuperBlock,
    e: &abi::fuse_entry_out,
    version: u64,
) -> Result<ARef<Inode>> {
    iget(
        sb,
        e.nodeid,
        &e.attr,
        e.attr_valid,
        e.attr_valid_nsec,
        version,
    )
}

/// The inode is being evicted: release the handles writeback still kept,
/// then return its lookups to the server (after those RELEASEs ended).
pub(crate) fn evict(inode: &Inode) {
    let fi = inode.data();
    let nodeid = fi.nodeid();
    let n = fi.nlookup.swap(0, Ordering::Relaxed);
    let slot = fi.lock.lock().take();
    let conn = inode.sb().data();
    let mut forget = (nodeid != 0 && n != 0).then_some((nodeid, n));
    let releases = super::writeback::take_releases(inode);
    let last = releases.len().saturating_sub(1);
    for (i, arg) in releases.iter().enumerate() {
        let after = if i == last { forget.take() } else { None };
        conn.release_then_forget(nodeid, abi::fuse_opcode_FUSE_RELEASE, arg, after);
    }
    if let Some((nodeid, n)) = forget {
        match slot {
            Some(s) => conn.forget_with(s, nodeid, n),
            None => conn.forget(nodeid, n),
        }
    }
}
