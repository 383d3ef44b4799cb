// SPDX-License-Identifier: GPL-2.0

//! The FUSE connection: request queues, unique ids, INIT, interrupts,
//! forgets and abort.
//!
//! A request is an [`Arc<Request>`] holding its encoded message. It moves
//! from `pending` (queued, not yet read by the server) to `processing` (read,
//! awaiting a reply) and ends with a result. The caller waits killably; a
//! non-fatal signal sends an INTERRUPT (once the server has read the
//! request, as mainline) and the wait goes on. A caller killed while the
//! server holds its request leaves the request behind ("abandoned"); the late
//! reply is then validated and dropped. One killed before the server read it
//! takes it back, unless it is forced (a close's FLUSH): that one stays
//! queued, abandoned. Abort ends every request with `ENOTCONN`.
//!
//! Lock order: `Connection::inner` before `Request::state`. Nothing that may
//! sleep or free vmalloc memory runs under either.
//!
//! Files: `request` (a request's state; making, sending and waiting for
//! one), `lifetime` (queueing, interrupts, withdrawal, completion),
//! `background` (requests nobody waits for, and their bound), `init` (the
//! INIT negotiation), `forget` (queued FORGETs), `device` (what the server
//! reads and writes), `stats` (the sysfs counters); here: the connection
//! itself, its parameters and abort.

mod background;
mod device;
mod forget;
mod init;
mod lifetime;
mod request;
mod stats;

pub(crate) use forget::ForgetReservation;
use request::Request;
pub(crate) use request::{Completion, Held, Hold, Outcome};
pub(crate) use stats::Stats;

use crate::abi;
use crate::proto::{self, init::Negotiated, options::MountOptions};
use crate::vfs::{
    self, cred::PidNs, cred::UserNs, once::SetOnce, sb::SbLink, sysfs::ConnDir, wait::WaitQueue,
};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{Arc, Mutex, SpinLock};

/// A reply payload.
pub(crate) type Payload = KVVec<u8>;

/// Data sent after a request's arguments, in pieces (a WRITE's data: no
/// large contiguous buffer, nothing reallocated while it is built).
pub(crate) type Data = KVec<KVVec<u8>>;

/// Size of the pieces of [`Data`]: small enough for kmalloc (order 3),
/// large enough that 8 MiB are only 256 of them.
pub(crate) const DATA_CHUNK: usize = 32 * 1024;

struct Inner {
    aborted: bool,
    /// The mounted superblock, from `send_init`.
    sb: Option<Arc<SbLink>>,
    /// What acts on the server's notifications, from the mount.
    notify: Option<Arc<dyn Notifications>>,
    pending: RBTree<u64, Arc<Request>>,
    processing: RBTree<u64, Arc<Request>>,
    /// Background requests beyond `max_background`, oldest first.
    bg_queue: RBTree<u64, Arc<Request>>,
    /// Background requests in `pending` or `processing`.
    active_background: u32,
    interrupts: RBTree<u64, Arc<Request>>,
    forgets: RBTree<u64, abi::fuse_forget_one>,
    /// Messages the server reads and never answers (NOTIFY_REPLY), in
    /// order; their buffers are freed outside the lock.
    oneway: RBTree<u64, Oneway>,
    /// The wait queues of polled files, by poll handle: NOTIFY_POLL wakes
    /// them.
    polled: RBTree<u64, Arc<WaitQueue>>,
}

/// A message the server reads and never answers.
struct Oneway {
    msg: KVVec<u8>,
    data: Data,
}

/// The connection's lock-free counters and flags.
struct Counters {
    /// The next request id.
    next_unique: AtomicU64,
    /// The next FORGET's queue key.
    next_forget: AtomicU64,
    /// The readahead offered at INIT (the bdi's), in bytes.
    offered_readahead: AtomicU32,
    /// Orders attribute updates (see `fs::inode::change_attributes`).
    attr_version: AtomicU64,
    /// One bit per opcode the server answered ENOSYS.
    enosys: AtomicU64,
    /// Requests waiting for the server (sysfs `waiting`).
    num_waiting: AtomicU32,
    /// Replies refused as malformed.
    rejects: AtomicU32,
}

/// What the filesystem does with the server's notifications (validated by
/// `proto::notify`); the error, if any, fails the server's write(2).
pub(crate) trait Notifications: Send + Sync {
    /// Acts on `n`.
    fn notify(&self, conn: &Connection, n: proto::notify::Notification<'_>) -> Result;
}

/// One FUSE connection: one mount and its server.
#[pin_data]
pub(crate) struct Connection {
    #[pin]
    inner: SpinLock<Inner>,
    /// Device readers (read and poll) wait here.
    #[pin]
    readers: WaitQueue,
    /// Requests wait here for INIT to finish.
    #[pin]
    init_wait: WaitQueue,
    /// Writeback waiters: woken whenever a writeback WRITE ends or a
    /// drain or `writepages` call finishes (see `fs::writeback`).
    #[pin]
    wb_wait: WaitQueue,
    /// What INIT settled, set once its reply was processed: read on every
    /// request, without the lock.
    negotiated: SetOnce<Negotiated>,
    counters: Counters,
    /// Request statistics (see `proto::stats`).
    stats: Stats,
    /// The mount's options.
    pub(crate) opts: MountOptions,
    /// The mounter's user namespace: ids on the wire are in it.
    pub(crate) user_ns: UserNs,
    pid_ns: PidNs,
    /// The secret that turns lock owners (kernel addresses) into the ids
    /// the server sees ([`proto::lock::owner_id`]).
    lock_key: proto::lock::OwnerKey,
    /// `user_id` as a kernel uid.
    pub(crate) user_id: vfs::cred::Kuid,
    /// `group_id` as a kernel gid.
    pub(crate) group_id: vfs::cred::Kgid,
    /// The control directory in sysfs, while mounted.
    #[pin]
    ctl_dir: Mutex<Option<ConnDir>>,
}

impl Connection {
    /// Creates a connection for a mount with `opts`, whose ids are in `user_ns`.
    pub(crate) fn new(opts: MountOptions, user_ns: UserNs) -> Result<Arc<Self>> {
        let user_id = user_ns.make_kuid(opts.user_id.unwrap_or(0));
        let group_id = user_ns.make_kgid(opts.group_id.unwrap_or(0));
        // INVALID_UID / INVALID_GID are all ones.
        if user_id.val == u32::MAX || group_id.val == u32::MAX {
            return Err(EINVAL);
        }
        let mut lock_key = [0u32; 4];
        for k in lock_key.iter_mut() {
            let mut b = [0u8; 4];
            vfs::random_bytes(&mut b);
            *k = u32::from_ne_bytes(b);
        }
        Arc::pin_init(
            pin_init!(Self {
                inner <- kernel::new_spinlock!(Inner {
                    aborted: false,
                    sb: None,
                    notify: None,
                    pending: RBTree::new(),
                    processing: RBTree::new(),
                    bg_queue: RBTree::new(),
                    active_background: 0,
                    interrupts: RBTree::new(),
                    forgets: RBTree::new(),
                    oneway: RBTree::new(),
                    polled: RBTree::new(),
                }, "fuse_wb::Connection::inner"),
                readers <- WaitQueue::new(),
                init_wait <- WaitQueue::new(),
                wb_wait <- WaitQueue::new(),
                negotiated: SetOnce::new(),
                counters: Counters {
                    next_unique: AtomicU64::new(0),
                    next_forget: AtomicU64::new(0),
                    offered_readahead: AtomicU32::new(0),
                    attr_version: AtomicU64::new(1),
                    enosys: AtomicU64::new(0),
                    num_waiting: AtomicU32::new(0),
                    rejects: AtomicU32::new(0),
                },
                stats: Stats::new(),
                opts,
                user_ns,
                pid_ns: PidNs::current(),
                lock_key,
                user_id,
                group_id,
                ctl_dir <- kernel::new_mutex!(None, "fuse_wb::Connection::ctl_dir"),
            }),
            GFP_KERNEL,
        )
    }

    /// The id the server sees for the lock owner `owner` (an address).
    pub(crate) fn lock_owner_id(&self, owner: u64) -> u64 {
        proto::lock::owner_id(&self.lock_key, owner)
    }

    /// The pid namespace of the mount: pids on the wire are in it.
    pub(crate) fn pid_ns(&self) -> &PidNs {
        &self.pid_ns
    }

    /// Sets what acts on the server's notifications (at mount).
    pub(crate) fn set_notifications(&self, handler: Arc<dyn Notifications>) {
        self.inner.lock().notify = Some(handler);
    }

    /// The link to the mounted superblock (from `send_init`).
    pub(crate) fn sb_link(&self) -> Option<Arc<SbLink>> {
        self.inner.lock().sb.clone()
    }

    /// Dirty page-cache pages of the mount (its bdi's count), while mounted.
    pub(crate) fn dirty_pages(&self) -> u64 {
        self.sb_link().map_or(0, |l| l.dirty_pages())
    }

    /// The request statistics.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Aborts the connection: every request ends with `ENOTCONN`, the device
    /// reports `ENODEV`, new requests fail. Idempotent.
    pub(crate) fn abort(&self) {
        let (pending, processing, bg_queue, interrupts, forgets, oneway, polled) = {
            let mut g = self.inner.lock();
            if g.aborted {
                return;
            }
            g.aborted = true;
            (
                core::mem::take(&mut g.pending),
                core::mem::take(&mut g.processing),
                core::mem::take(&mut g.bg_queue),
                core::mem::take(&mut g.interrupts),
                core::mem::take(&mut g.forgets),
                core::mem::take(&mut g.oneway),
                core::mem::take(&mut g.polled),
            )
        };
        for (_, req) in pending.iter() {
            self.complete(req, Err(vfs::enotconn()));
        }
        for (_, req) in processing.iter() {
            self.complete(req, Err(vfs::enotconn()));
        }
        for (_, req) in bg_queue.iter() {
            self.complete(req, Err(vfs::enotconn()));
        }
        // Pollers look again and find the connection gone (mainline's
        // `end_polls`).
        for (_, wq) in polled.iter() {
            wq.wake_up_all();
        }
        drop((
            pending, processing, bg_queue, interrupts, forgets, oneway, polled,
        ));
        self.readers.wake_up_all();
        self.init_wait.wake_up_all();
        self.wb_wait.wake_up_all();
    }

    /// Queues a message (`opcode` with the server's `unique`, about
    /// `nodeid`: `args`, then `data`) that the server reads and never
    /// answers: NOTIFY_REPLY.
    pub(crate) fn send_oneway(
        &self,
        opcode: u32,
        unique: u64,
        nodeid: u64,
        args: &[&[u8]],
        data: Data,
    ) -> Result {
        let len = proto::request::message_len(args).map_err(|_| EINVAL)?;
        let mut msg = KVVec::with_capacity(len, GFP_KERNEL)?;
        msg.extend_with(proto::request::IN_HEADER, 0, GFP_KERNEL)?;
        for a in args {
            msg.extend_from_slice(a, GFP_KERNEL)?;
        }
        let data_len = data
            .iter()
            .try_fold(0usize, |n, c| n.checked_add(c.len()))
            .ok_or(EINVAL)?;
        let creds = proto::request::Creds::default();
        proto::request::encode_header(&mut msg, data_len, opcode, unique, nodeid, creds)
            .map_err(|_| EINVAL)?;
        // Keyed by a unique of ours: the order they were queued in.
        let node =
            kernel::rbtree::RBTreeNode::new(self.unique(), Oneway { msg, data }, GFP_KERNEL)?;
        {
            let mut g = self.inner.lock();
            if g.aborted {
                drop(g);
                drop(node);
                return Err(vfs::enotconn());
            }
            g.oneway.insert(node);
        }
        self.readers.wake_up_one();
        Ok(())
    }

    /// A new poll handle (`kh`) for a file.
    pub(crate) fn new_poll_handle(&self) -> u64 {
        self.unique()
    }

    /// Lets NOTIFY_POLL for `kh` wake `wq` (until [`Connection::unpolled`]).
    pub(crate) fn polled(&self, kh: u64, wq: Arc<WaitQueue>) -> Result {
        let node = kernel::rbtree::RBTreeNode::new(kh, wq, GFP_KERNEL)?;
        let old = {
            let mut g = self.inner.lock();
            if g.polled.get(&kh).is_some() {
                Some(node)
            } else {
                g.polled.insert(node);
                None
            }
        };
        drop(old);
        Ok(())
    }

    /// The file of poll handle `kh` is released.
    pub(crate) fn unpolled(&self, kh: u64) {
        let node = self.inner.lock().polled.remove_node(&kh);
        drop(node);
    }

    /// NOTIFY_POLL: wakes the pollers of `kh` (none known: nothing to do).
    fn poll_wakeup(&self, kh: u64) {
        let wq = self.inner.lock().polled.get(&kh).cloned();
        if let Some(wq) = wq {
            wq.wake_up_all();
        }
    }

    /// Installs the control directory.
    pub(crate) fn set_ctl_dir(&self, dir: ConnDir) {
        let old = self.ctl_dir.lock().replace(dir);
        drop(old);
    }

    /// Takes the control directory out (to remove it).
    pub(crate) fn take_ctl_dir(&self) -> Option<ConnDir> {
        self.ctl_dir.lock().take()
    }

    /// Whether the connection was aborted.
    pub(crate) fn is_aborted(&self) -> bool {
        self.inner.lock().aborted
    }

    /// Remembers that the server answered ENOSYS to `opcode`.
    fn note_enosys(&self, opcode: u32) {
        if opcode < 64 {
            self.counters
                .enosys
                .fetch_or(1 << opcode, Ordering::Relaxed);
        }
    }

    /// Whether the server answered ENOSYS to `opcode` before.
    pub(crate) fn is_enosys(&self, opcode: u32) -> bool {
        opcode < 64 && self.counters.enosys.load(Ordering::Relaxed) & (1 << opcode) != 0
    }

    /// The negotiated parameters (defaults before INIT completed).
    pub(crate) fn params(&self) -> Negotiated {
        self.negotiated.get().unwrap_or(Negotiated {
            minor: proto::init::MINOR,
            flags: 0,
            max_write: proto::init::MIN_MAX_WRITE,
            max_pages: proto::init::DEFAULT_MAX_PAGES,
            max_readahead: 0,
            time_gran: 1,
            max_background: proto::init::DEFAULT_MAX_BACKGROUND,
            congestion_threshold: 9,
        })
    }

    /// The current attribute version (see `fs::inode`).
    pub(crate) fn attr_version(&self) -> u64 {
        self.counters.attr_version.load(Ordering::Acquire)
    }

    /// A new, higher attribute version.
    pub(crate) fn next_attr_version(&self) -> u64 {
        self.counters
            .attr_version
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1)
    }

    /// Requests waiting for a reply (for the control directory).
    pub(crate) fn num_waiting(&self) -> u32 {
        self.counters.num_waiting.load(Ordering::Relaxed)
    }
}
