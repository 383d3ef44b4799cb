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
//! reply is then validated and dropped. Abort ends every request with
//! `ENOTCONN`.
//!
//! Lock order: `Connection::inner` before `Request::state`. Nothing that may
//! sleep or free vmalloc memory runs under either.

use crate::abi;
use crate::proto::{
    self,
    init::Negotiated,
    options::MountOptions,
    reply::{Header, ReplyKind},
    request::Creds,
    stats, ProtoError,
};
use crate::vfs::{
    self,
    cred::{PidNs, UserNs},
    iov::IovIter,
    once::SetOnce,
    sb::SbLink,
    sysfs::ConnDir,
    wait::{WaitMode, WaitQueue},
};
use core::mem::size_of;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation};
use kernel::sync::{Arc, Mutex, SpinLock};

/// A reply payload.
pub(crate) type Payload = KVVec<u8>;

/// Largest number of forgets sent in one BATCH_FORGET.
const FORGET_BATCH: usize = 64;

/// How many rejected messages a connection logs before going quiet.
const REJECT_LOG_LIMIT: u32 = 16;

/// What happens when a request ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// A caller waits for the result.
    Wake,
    /// Nobody waits (RELEASE and other background requests).
    Discard,
    /// The INIT reply configures the connection.
    Init,
    /// The request's [`Completion`] runs (writeback).
    Callback,
}

/// Data sent after a request's arguments, in pieces (a WRITE's data: no
/// large contiguous buffer, nothing reallocated while it is built).
pub(crate) type Data = KVec<KVVec<u8>>;

/// Size of the pieces of [`Data`]: small enough for kmalloc (order 3),
/// large enough that 8 MiB are only 256 of them.
pub(crate) const DATA_CHUNK: usize = 32 * 1024;

/// What runs when a background request with a callback ends: with the
/// request's arguments (the message after `fuse_in_header`), its data and
/// its result.
///
/// It runs in the context that ended the request: the server's write(2) on
/// the device, or an abort. It may sleep and may send new requests.
pub(crate) trait Completion: Send + Sync {
    /// The request ended with `result`.
    fn complete(&self, conn: &Connection, args: &[u8], data: &[KVVec<u8>], result: Result<Payload>);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Pending,
    Sent,
    Done,
}

struct ReqState {
    phase: Phase,
    interrupted: bool,
    /// A signal came while the request was pending: its INTERRUPT follows
    /// it once the server has read it.
    interrupt_when_sent: bool,
    abandoned: bool,
    result: Option<Result<Payload>>,
    /// Kept alive until the request ends (see [`Hold`]).
    hold: Option<Hold>,
    /// A node whose lookup is given back (FORGET) once the request ended:
    /// the RELEASE of an abandoned CREATE's handle goes first.
    forget_after: Option<(u64, u64)>,
    /// Runs when the request ends (`End::Callback`), then goes: what it
    /// holds (a writeback WRITE's inode) must not live on with the request,
    /// which the device's read path may still hold while it copies it out.
    callback: Option<Arc<dyn Completion>>,
}

/// Something a request keeps alive until it ends, whether or not its
/// caller still waits: a drain of writeback while the server truncates (a
/// killed caller must not let WRITEs overtake the truncate), the inode of
/// a RELEASE (so its FORGET cannot overtake the RELEASE). It is dropped
/// when the request ends (reply or abort), or with a request the server
/// never saw.
pub(crate) type Hold = Arc<dyn Held>;

/// What a request keeps alive until it ends (see [`Hold`]).
pub(crate) trait Held: Send + Sync {
    /// The request ended after its caller had given up on it (killed while
    /// the server had it: [`Outcome::Unknown`]); `ok` tells whether the
    /// server did what was asked. Called once, before the hold is dropped.
    fn orphaned(&self, _ok: bool) {}
}

/// How a request ended for its caller (see [`Connection::request_holding`]).
pub(crate) enum Outcome {
    /// The server answered (or the request failed before it saw it).
    Reply(Result<Payload>),
    /// The caller was killed after the server had read the request: it may
    /// still happen. The request keeps its hold until it ends.
    Unknown,
}

impl Outcome {
    /// The reply, with [`Outcome::Unknown`] as EINTR.
    pub(crate) fn reply(self) -> Result<Payload> {
        match self {
            Outcome::Reply(r) => r,
            Outcome::Unknown => Err(EINTR),
        }
    }
}

/// One request to the server.
#[pin_data]
pub(crate) struct Request {
    unique: u64,
    opcode: u32,
    nodeid: u64,
    msg: KVVec<u8>,
    /// Sent after `msg`; counted in the header's length.
    data: Data,
    kind: ReplyKind,
    end: End,
    /// Counted in `active_background` while queued or sent.
    background: bool,
    #[pin]
    state: SpinLock<ReqState>,
    #[pin]
    done: WaitQueue,
}

impl Request {
    fn is_done(&self) -> bool {
        self.state.lock().phase == Phase::Done
    }

    fn take_result(&self) -> Result<Payload> {
        self.state.lock().result.take().unwrap_or(Err(EIO))
    }

    /// Marks the request as abandoned by its caller, unless it already ended,
    /// in which case its result is returned.
    fn abandon(&self) -> Option<Result<Payload>> {
        let mut s = self.state.lock();
        if s.phase == Phase::Done {
            return Some(s.result.take().unwrap_or(Err(EIO)));
        }
        s.abandoned = true;
        None
    }
}

struct Inner {
    aborted: bool,
    /// The mounted superblock, from `send_init`.
    sb: Option<Arc<SbLink>>,
    pending: RBTree<u64, Arc<Request>>,
    processing: RBTree<u64, Arc<Request>>,
    /// Background requests beyond `max_background`, oldest first.
    bg_queue: RBTree<u64, Arc<Request>>,
    /// Background requests in `pending` or `processing`.
    active_background: u32,
    interrupts: RBTree<u64, Arc<Request>>,
    forgets: RBTree<u64, abi::fuse_forget_one>,
}

/// Preallocated room for one queued FORGET.
pub(crate) type ForgetReservation = RBTreeNodeReservation<u64, abi::fuse_forget_one>;

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
    next_unique: AtomicU64,
    next_forget: AtomicU64,
    /// The readahead offered at INIT (the bdi's), in bytes.
    offered_readahead: AtomicU32,
    attr_version: AtomicU64,
    enosys: AtomicU64,
    num_waiting: AtomicU32,
    rejects: AtomicU32,
    /// Request statistics (see `proto::stats`).
    stats: Stats,
    /// The mount's options.
    pub(crate) opts: MountOptions,
    /// The mounter's user namespace: ids on the wire are in it.
    pub(crate) user_ns: UserNs,
    pid_ns: PidNs,
    /// `user_id` as a kernel uid.
    pub(crate) user_id: crate::bindings::kuid_t,
    /// `group_id` as a kernel gid.
    pub(crate) group_id: crate::bindings::kgid_t,
    /// The control directory in sysfs, while mounted.
    #[pin]
    ctl_dir: Mutex<Option<ConnDir>>,
}

/// Counters of what the server was sent.
pub(crate) struct Stats {
    count: [AtomicU64; stats::OPCODES],
    bytes: [AtomicU64; stats::OPCODES],
    write_hist: [AtomicU64; stats::BUCKETS],
    /// Writeback WRITEs sent and not yet answered, and their bytes.
    pub(crate) wb_requests: AtomicU64,
    pub(crate) wb_bytes: AtomicU64,
    /// Short writeback WRITEs whose rest was resent.
    pub(crate) wb_resends: AtomicU64,
    /// Write-behind work items queued or running (each holds an inode).
    pub(crate) behind_works: AtomicU64,
    /// Writeback WRITE completions alive (each holds an inode reference,
    /// which may outlive the request's end: see `fs::writeback::WbWrite`).
    pub(crate) wb_inode_refs: AtomicU64,
    /// Background writeback passes that stopped because the data in flight
    /// was at its bound.
    pub(crate) wb_budget_stops: AtomicU64,
}

impl Stats {
    fn new() -> Self {
        Self {
            count: [const { AtomicU64::new(0) }; stats::OPCODES],
            bytes: [const { AtomicU64::new(0) }; stats::OPCODES],
            write_hist: [const { AtomicU64::new(0) }; stats::BUCKETS],
            wb_requests: AtomicU64::new(0),
            wb_bytes: AtomicU64::new(0),
            wb_resends: AtomicU64::new(0),
            behind_works: AtomicU64::new(0),
            wb_inode_refs: AtomicU64::new(0),
            wb_budget_stops: AtomicU64::new(0),
        }
    }

    fn count(&self, opcode: u32, len: usize) {
        let op = opcode as usize;
        if let (Some(c), Some(b)) = (self.count.get(op), self.bytes.get(op)) {
            c.fetch_add(1, Ordering::Relaxed);
            b.fetch_add(len as u64, Ordering::Relaxed);
        }
        if opcode == abi::fuse_opcode_FUSE_WRITE {
            let payload =
                len.saturating_sub(proto::request::IN_HEADER + size_of::<abi::fuse_write_in>());
            if let Some(h) = self.write_hist.get(stats::bucket(payload)) {
                h.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Renders the counters and `extra` lines into `out`; returns its length.
    pub(crate) fn render(&self, extra: &[(&str, u64)], out: &mut [u8]) -> usize {
        let count = self.count.each_ref().map(|a| a.load(Ordering::Relaxed));
        let bytes = self.bytes.each_ref().map(|a| a.load(Ordering::Relaxed));
        let write_hist = self
            .write_hist
            .each_ref()
            .map(|a| a.load(Ordering::Relaxed));
        let snap = stats::Snapshot {
            count: &count,
            bytes: &bytes,
            write_hist: &write_hist,
            extra,
        };
        let mut w = stats::SliceWriter::new(out);
        // A full buffer truncates the text; the counters are still right.
        let _ = stats::render(&snap, &mut w);
        w.len()
    }
}

/// The `max_pages_limit` module parameter, clamped to what the module
/// supports.
fn max_pages_limit() -> u32 {
    crate::vfs::max_pages_limit_param().clamp(1, proto::init::MAX_MAX_PAGES_LIMIT)
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
        Arc::pin_init(
            pin_init!(Self {
                inner <- kernel::new_spinlock!(Inner {
                    aborted: false,
                    sb: None,
                    pending: RBTree::new(),
                    processing: RBTree::new(),
                    bg_queue: RBTree::new(),
                    active_background: 0,
                    interrupts: RBTree::new(),
                    forgets: RBTree::new(),
                }, "fuse_wb::Connection::inner"),
                readers <- WaitQueue::new(),
                init_wait <- WaitQueue::new(),
                wb_wait <- WaitQueue::new(),
                negotiated: SetOnce::new(),
                next_unique: AtomicU64::new(0),
                next_forget: AtomicU64::new(0),
                offered_readahead: AtomicU32::new(0),
                attr_version: AtomicU64::new(1),
                enosys: AtomicU64::new(0),
                num_waiting: AtomicU32::new(0),
                rejects: AtomicU32::new(0),
                stats: Stats::new(),
                opts,
                user_ns,
                pid_ns: PidNs::current(),
                user_id,
                group_id,
                ctl_dir <- kernel::new_mutex!(None, "fuse_wb::Connection::ctl_dir"),
            }),
            GFP_KERNEL,
        )
    }

    fn unique(&self) -> u64 {
        // Unique ids are even: bit 0 marks INTERRUPT replies.
        self.next_unique
            .fetch_add(2, Ordering::Relaxed)
            .wrapping_add(2)
    }

    /// The credentials of the current task, as the server sees them.
    fn creds(&self) -> Creds {
        vfs::cred::current_creds(&self.user_ns, &self.pid_ns)
    }

    fn new_request(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
        end: End,
    ) -> Result<Arc<Request>> {
        let len = proto::request::message_len(args).map_err(|_| EINVAL)?;
        let mut msg = KVVec::with_capacity(len, GFP_KERNEL)?;
        msg.extend_with(proto::request::IN_HEADER, 0, GFP_KERNEL)?;
        for a in args {
            msg.extend_from_slice(a, GFP_KERNEL)?;
        }
        let creds = self.creds();
        self.make_request(opcode, nodeid, msg, KVec::new(), kind, end, creds, None)
    }

    /// Wraps `msg` (room for the header, then the arguments) as a request.
    #[allow(clippy::too_many_arguments)]
    fn make_request(
        &self,
        opcode: u32,
        nodeid: u64,
        mut msg: KVVec<u8>,
        data: Data,
        kind: ReplyKind,
        end: End,
        creds: Creds,
        callback: Option<Arc<dyn Completion>>,
    ) -> Result<Arc<Request>> {
        let unique = self.unique();
        let data_len = data
            .iter()
            .try_fold(0usize, |n, c| n.checked_add(c.len()))
            .ok_or(EINVAL)?;
        proto::request::encode_header(&mut msg, data_len, opcode, unique, nodeid, creds)
            .map_err(|_| EINVAL)?;
        let background = end == End::Discard || end == End::Callback;
        Arc::pin_init(
            pin_init!(Request {
                unique,
                opcode,
                nodeid,
                msg,
                data,
                kind,
                end,
                background,
                state <- kernel::new_spinlock!(ReqState {
                    phase: Phase::New,
                    interrupted: false,
                    interrupt_when_sent: false,
                    abandoned: false,
                    result: None,
                    hold: None,
                    forget_after: None,
                    callback,
                }, "fuse_wb::Request::state"),
                done <- WaitQueue::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Sends a request and waits (killably) for its reply payload.
    pub(crate) fn request(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
    ) -> Result<Payload> {
        let req = self.new_request(opcode, nodeid, args, kind, End::Wake)?;
        self.send_and_wait(&req)
    }

    /// As [`Connection::request`], keeping `hold` alive until the request
    /// ends, even when the caller is killed before (see [`Hold`]), and
    /// telling a caller killed while the server had the request
    /// ([`Outcome::Unknown`]) from one whose request never reached it: for
    /// requests whose effect the kernel mirrors (a size change), which a
    /// killed caller must still mirror.
    pub(crate) fn request_holding(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
        hold: Hold,
    ) -> Outcome {
        let req = match self.new_request(opcode, nodeid, args, kind, End::Wake) {
            Ok(r) => r,
            Err(e) => return Outcome::Reply(Err(e)),
        };
        req.state.lock().hold = Some(hold);
        self.send_and_wait_outcome(&req)
    }

    /// As [`Connection::request`], for a message `msg` the caller built:
    /// room for `fuse_in_header`, then the arguments; `data` is sent after
    /// it (a WRITE: its data is copied from the user buffer into `msg` or
    /// `data`, without a bounce buffer).
    pub(crate) fn request_msg(
        &self,
        opcode: u32,
        nodeid: u64,
        msg: KVVec<u8>,
        data: Data,
        kind: ReplyKind,
    ) -> Result<Payload> {
        let creds = self.creds();
        let req = self.make_request(opcode, nodeid, msg, data, kind, End::Wake, creds, None)?;
        self.send_and_wait(&req)
    }

    fn send_and_wait(&self, req: &Arc<Request>) -> Result<Payload> {
        self.send_and_wait_outcome(req).reply()
    }

    fn send_and_wait_outcome(&self, req: &Arc<Request>) -> Outcome {
        if let Err(e) = self.wait_initialized() {
            return Outcome::Reply(Err(e));
        }
        self.num_waiting.fetch_add(1, Ordering::Relaxed);
        let r = match self.queue(req) {
            Ok(()) => self.wait_answer(req),
            Err(e) => Outcome::Reply(Err(e)),
        };
        self.num_waiting.fetch_sub(1, Ordering::Relaxed);
        r
    }

    /// Sends a request whose only reply is success, for an operation the
    /// server may leave out: ENOSYS counts as success (and is remembered,
    /// so callers skip the opcode from then on).
    pub(crate) fn request_optional(&self, opcode: u32, nodeid: u64, args: &[&[u8]]) -> Result {
        match self.request(opcode, nodeid, args, ReplyKind::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e == vfs::enosys() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends a request nobody waits for (its reply is validated and
    /// dropped); `hold`, if any, is kept alive until it ends.
    pub(crate) fn request_background(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
        hold: Option<Hold>,
    ) -> Result {
        let req = self.new_request(opcode, nodeid, args, kind, End::Discard)?;
        req.state.lock().hold = hold;
        self.queue_background(req)
    }

    /// Sends a background request without credentials (the kernel's own,
    /// as writeback's); `done` runs when it ends.
    pub(crate) fn request_callback(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
        done: Arc<dyn Completion>,
    ) -> Result {
        let len = proto::request::message_len(args).map_err(|_| EINVAL)?;
        let mut msg = KVVec::with_capacity(len, GFP_KERNEL)?;
        msg.extend_with(proto::request::IN_HEADER, 0, GFP_KERNEL)?;
        for a in args {
            msg.extend_from_slice(a, GFP_KERNEL)?;
        }
        let req = self.make_request(
            opcode,
            nodeid,
            msg,
            KVec::new(),
            kind,
            End::Callback,
            Creds::default(),
            Some(done),
        )?;
        self.queue_background(req)
    }

    /// Sends a background WRITE (writeback) whose message `msg` was built
    /// by the caller: room for `fuse_in_header`, then `fuse_write_in`; the
    /// data follows in `data`. No credentials, as [`Connection::request_async`].
    pub(crate) fn queue_write(
        &self,
        nodeid: u64,
        msg: KVVec<u8>,
        data: Data,
        kind: ReplyKind,
        done: Arc<dyn Completion>,
    ) -> Result {
        let req = self.make_request(
            abi::fuse_opcode_FUSE_WRITE,
            nodeid,
            msg,
            data,
            kind,
            End::Callback,
            Creds::default(),
            Some(done),
        )?;
        self.queue_background(req)
    }

    /// The writeback wait queue.
    pub(crate) fn wb_wait(&self) -> &WaitQueue {
        &self.wb_wait
    }

    fn queue_background(&self, req: Arc<Request>) -> Result {
        let max = u32::from(self.params().max_background).max(1);
        let node = RBTreeNode::new(req.unique, req.clone(), GFP_KERNEL)?;
        {
            let mut g = self.inner.lock();
            if g.aborted {
                drop(g);
                drop(node);
                return Err(vfs::enotconn());
            }
            req.state.lock().phase = Phase::Pending;
            if g.active_background < max {
                g.active_background += 1;
                g.pending.insert(node);
            } else {
                g.bg_queue.insert(node);
                return Ok(());
            }
        }
        self.readers.wake_up_all();
        Ok(())
    }

    /// A background request ended: let the next queued one go.
    fn end_background(&self) {
        let max = u32::from(self.params().max_background).max(1);
        let moved = {
            let mut g = self.inner.lock();
            g.active_background = g.active_background.saturating_sub(1);
            if g.aborted || g.active_background >= max {
                false
            } else if let Some(c) = g.bg_queue.cursor_front() {
                let (_, node) = c.remove_current();
                g.active_background += 1;
                g.pending.insert(node);
                true
            } else {
                false
            }
        };
        if moved {
            self.readers.wake_up_all();
        }
    }

    /// Background requests with the server, and queued for it.
    pub(crate) fn background_counts(&self) -> (u32, u32) {
        let g = self.inner.lock();
        (g.active_background, g.bg_queue.iter().count() as u32)
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

    /// Sends INIT. The mount does not wait: the server usually starts only
    /// after mount(2) returned. Requests wait for the reply instead.
    pub(crate) fn send_init(&self, sb: Arc<SbLink>, max_readahead: u32) -> Result {
        self.inner.lock().sb = Some(sb);
        self.offered_readahead
            .store(max_readahead, Ordering::Relaxed);
        let arg = proto::init::init_in(self.offered_flags(), max_readahead);
        let req = self.new_request(
            abi::fuse_opcode_FUSE_INIT,
            0,
            &[proto::pod::bytes_of(&arg)],
            ReplyKind::Init,
            End::Init,
        )?;
        self.queue(&req)
    }

    fn offered_flags(&self) -> u64 {
        proto::init::offered_flags(self.opts.allow_wbcache)
    }

    fn wait_initialized(&self) -> Result {
        // After INIT, `queue` alone refuses requests of an aborted
        // connection.
        if self.negotiated.get().is_some() {
            return Ok(());
        }
        self.init_wait
            .wait_until(WaitMode::Killable, || {
                self.negotiated.get().is_some() || self.inner.lock().aborted
            })
            .map_err(|_| EINTR)?;
        if self.inner.lock().aborted {
            return Err(vfs::enotconn());
        }
        Ok(())
    }

    fn queue(&self, req: &Arc<Request>) -> Result {
        let node = RBTreeNode::new(req.unique, req.clone(), GFP_KERNEL)?;
        {
            let mut g = self.inner.lock();
            if g.aborted {
                drop(g);
                drop(node);
                return Err(vfs::enotconn());
            }
            req.state.lock().phase = Phase::Pending;
            g.pending.insert(node);
        }
        self.readers.wake_up_all();
        Ok(())
    }

    /// Removes a request the server has not read yet; false if it has.
    fn withdraw(&self, req: &Request) -> bool {
        let removed = self.inner.lock().pending.remove(&req.unique);
        removed.is_some()
    }

    fn queue_interrupt(&self, req: &Arc<Request>) {
        let Ok(node) = RBTreeNode::new(req.unique, req.clone(), GFP_KERNEL) else {
            return;
        };
        let queued = {
            let mut g = self.inner.lock();
            let mut s = req.state.lock();
            if g.aborted || s.phase != Phase::Sent || s.interrupted {
                None
            } else {
                s.interrupted = true;
                drop(s);
                g.interrupts.insert(node);
                Some(())
            }
        };
        if queued.is_some() {
            self.readers.wake_up_all();
        }
    }

    /// A non-fatal signal came while `req` waited: the server is asked to
    /// interrupt it, now if it has read the request, else once it does.
    /// The request itself stays (as mainline): only the server decides
    /// whether it fails with EINTR, so a program's handled signals (timers,
    /// SIGCHLD, a runtime's preemption signals) never fail a stat or a
    /// read on their own.
    fn interrupt(&self, req: &Arc<Request>) {
        {
            let _g = self.inner.lock();
            let mut s = req.state.lock();
            if s.phase == Phase::Pending {
                s.interrupt_when_sent = true;
                return;
            }
        }
        self.queue_interrupt(req);
    }

    fn wait_answer(&self, req: &Arc<Request>) -> Outcome {
        if !self.is_enosys(abi::fuse_opcode_FUSE_INTERRUPT)
            && req
                .done
                .wait_until(WaitMode::Interruptible, || req.is_done())
                .is_err()
        {
            // A killed caller mirrors the change of a request that holds
            // something (a size change: see `request_holding`): the server
            // must not be asked to cancel it then.
            let mirrored = req.state.lock().hold.is_some();
            if !(mirrored && vfs::fatal_signal_pending()) {
                self.interrupt(req);
            }
        }
        if req
            .done
            .wait_until(WaitMode::Killable, || req.is_done())
            .is_err()
        {
            // Killed: never wait for the server any longer.
            if self.withdraw(req) {
                return Outcome::Reply(Err(EINTR));
            }
            return match req.abandon() {
                Some(r) => Outcome::Reply(r),
                None => Outcome::Unknown,
            };
        }
        Outcome::Reply(req.take_result())
    }

    fn complete(&self, req: &Arc<Request>, result: Result<Payload>) {
        // Dropped when this function returns, after the caller was woken
        // (never under a lock: dropping it may sleep).
        let (hold, forget_after) = {
            let mut s = req.state.lock();
            (s.hold.take(), s.forget_after.take())
        };
        if let Some((nodeid, n)) = forget_after {
            self.forget(nodeid, n);
        }
        if req.background {
            self.end_background();
        }
        match req.end {
            End::Callback => {
                let cb = {
                    let mut s = req.state.lock();
                    if s.phase == Phase::Done {
                        return;
                    }
                    s.phase = Phase::Done;
                    s.callback.take()
                };
                if let Some(cb) = cb {
                    let args = req.msg.get(proto::request::IN_HEADER..).unwrap_or(&[]);
                    cb.complete(self, args, &req.data, result);
                }
            }
            End::Init => {
                req.state.lock().phase = Phase::Done;
                self.process_init(result);
            }
            End::Discard => req.state.lock().phase = Phase::Done,
            End::Wake => {
                let forget = {
                    let mut s = req.state.lock();
                    if s.phase == Phase::Done {
                        return;
                    }
                    s.phase = Phase::Done;
                    if s.abandoned {
                        // The server counted a lookup nobody will use.
                        Some(result)
                    } else {
                        s.result = Some(result);
                        None
                    }
                };
                req.done.wake_up_all();
                if let (Some(r), Some(h)) = (&forget, &hold) {
                    h.orphaned(r.is_ok());
                }
                if let Some(Ok(payload)) = forget {
                    self.give_back(req, &payload);
                }
            }
        }
    }

    /// The caller of `req` was killed before its successful reply came: give
    /// back what the reply handed out and nobody will use, as the caller
    /// would have on failure. Lookups (LOOKUP, READDIRPLUS entries) get a
    /// FORGET; handles (OPEN, OPENDIR, CREATE) a RELEASE; a CREATE's node
    /// is forgotten after the RELEASE of its handle ended.
    fn give_back(&self, req: &Request, payload: &[u8]) {
        // The request's own arguments: `fuse_open_in` and `fuse_create_in`
        // both start with the open flags.
        let args = req.msg.get(proto::request::IN_HEADER..).unwrap_or(&[]);
        let flags = args
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_ne_bytes);
        match req.kind {
            ReplyKind::Entry => {
                if let Some(e) = proto::pod::read_exact::<abi::fuse_entry_out>(payload) {
                    if e.nodeid != 0 {
                        self.forget(e.nodeid, 1);
                    }
                }
            }
            ReplyKind::Open => {
                if let Some(o) = proto::pod::read_exact::<abi::fuse_open_out>(payload) {
                    let op = if req.opcode == abi::fuse_opcode_FUSE_OPENDIR {
                        abi::fuse_opcode_FUSE_RELEASEDIR
                    } else {
                        abi::fuse_opcode_FUSE_RELEASE
                    };
                    self.release_then_forget(req.nodeid, op, o.fh, flags, None);
                }
            }
            ReplyKind::Create => {
                let e_len = size_of::<abi::fuse_entry_out>();
                let (e, o) = (
                    payload
                        .get(..e_len)
                        .and_then(proto::pod::read_exact::<abi::fuse_entry_out>),
                    payload
                        .get(e_len..)
                        .and_then(proto::pod::read_exact::<abi::fuse_open_out>),
                );
                if let (Some(e), Some(o)) = (e, o) {
                    let forget = (e.nodeid != 0).then_some((e.nodeid, 1));
                    self.release_then_forget(
                        e.nodeid,
                        abi::fuse_opcode_FUSE_RELEASE,
                        o.fh,
                        flags,
                        forget,
                    );
                }
            }
            ReplyKind::Dirents { plus: true, .. } => {
                for d in proto::dirent::iter(payload, true).flatten() {
                    if let Some(e) = d.entry {
                        if e.nodeid != 0 && d.name != b"." && d.name != b".." {
                            self.forget(e.nodeid, 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// RELEASE (`op`) of a handle nobody owns; then, once it ended, the
    /// FORGET of `forget_after` (node, lookups), if any: FORGETs are read
    /// first, so the order needs the RELEASE to end first. If the RELEASE
    /// cannot be sent, the FORGET is queued at once.
    pub(crate) fn release_then_forget(
        &self,
        nodeid: u64,
        op: u32,
        fh: u64,
        flags: u32,
        forget_after: Option<(u64, u64)>,
    ) {
        let arg = abi::fuse_release_in {
            fh,
            flags,
            release_flags: 0,
            lock_owner: 0,
        };
        let sent = self
            .new_request(
                op,
                nodeid,
                &[proto::pod::bytes_of(&arg)],
                ReplyKind::Empty,
                End::Discard,
            )
            .and_then(|r| {
                r.state.lock().forget_after = forget_after;
                self.queue_background(r)
            });
        if sent.is_err() {
            if let Some((node, n)) = forget_after {
                self.forget(node, n);
            }
        }
    }

    fn process_init(&self, result: Result<Payload>) {
        let max_ra = self.offered_readahead.load(Ordering::Relaxed);
        let neg = result.ok().and_then(|p| {
            proto::init::negotiate(&p, self.offered_flags(), max_ra, max_pages_limit()).ok()
        });
        match neg {
            Some(n) => {
                if let Some(sb) = self.sb_link() {
                    sb.limit_readahead(n.max_readahead as usize / vfs::PAGE_SIZE);
                    // Local times are stored at the server's granularity, as
                    // mainline.
                    sb.set_time_gran(n.time_gran);
                }
                // Only the one INIT reply gets here.
                self.negotiated.set(n);
            }
            None => {
                if !self.is_aborted() {
                    pr_err!("INIT failed or its reply was invalid; aborting the connection\n");
                    self.abort();
                }
            }
        }
        self.init_wait.wake_up_all();
    }

    /// A node for [`Connection::forget_with`], allocated ahead of time so an
    /// inode can always return its lookups, even when evicted under memory
    /// pressure.
    pub(crate) fn forget_reservation() -> Result<ForgetReservation> {
        RBTreeNodeReservation::new(GFP_KERNEL)
    }

    /// Queues a FORGET for `nlookup` lookups of `nodeid`.
    pub(crate) fn forget(&self, nodeid: u64, nlookup: u64) {
        match Self::forget_reservation() {
            Ok(r) => self.forget_with(r, nodeid, nlookup),
            // The server keeps a lookup count it will never see dropped; the
            // kernel loses nothing.
            Err(_) => pr_warn!("out of memory: FORGET for node {} not sent\n", nodeid),
        }
    }

    /// Queues a FORGET using a preallocated node (never allocates).
    pub(crate) fn forget_with(&self, slot: ForgetReservation, nodeid: u64, nlookup: u64) {
        let seq = self.next_forget.fetch_add(1, Ordering::Relaxed);
        let node = slot.into_node(seq, abi::fuse_forget_one { nodeid, nlookup });
        {
            let mut g = self.inner.lock();
            if g.aborted {
                drop(g);
                drop(node);
                return;
            }
            g.forgets.insert(node);
        }
        self.readers.wake_up_all();
    }

    /// Aborts the connection: every request ends with `ENOTCONN`, the device
    /// reports `ENODEV`, new requests fail. Idempotent.
    pub(crate) fn abort(&self) {
        let (pending, processing, bg_queue, interrupts, forgets) = {
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
        drop((pending, processing, bg_queue, interrupts, forgets));
        self.readers.wake_up_all();
        self.init_wait.wake_up_all();
        self.wb_wait.wake_up_all();
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
            self.enosys.fetch_or(1 << opcode, Ordering::Relaxed);
        }
    }

    /// Whether the server answered ENOSYS to `opcode` before.
    pub(crate) fn is_enosys(&self, opcode: u32) -> bool {
        opcode < 64 && self.enosys.load(Ordering::Relaxed) & (1 << opcode) != 0
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
        self.attr_version.load(Ordering::Acquire)
    }

    /// A new, higher attribute version.
    pub(crate) fn next_attr_version(&self) -> u64 {
        self.attr_version
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1)
    }

    /// Requests waiting for a reply (for the control directory).
    pub(crate) fn num_waiting(&self) -> u32 {
        self.num_waiting.load(Ordering::Relaxed)
    }

    fn reject(&self, e: ProtoError) -> Error {
        if self.rejects.fetch_add(1, Ordering::Relaxed) < REJECT_LOG_LIMIT {
            pr_warn!("rejected a malformed message from the server: {:?}\n", e);
        }
        EINVAL
    }

    // --- The device side -------------------------------------------------

    /// The wait queue device readers sleep on (for poll).
    pub(crate) fn readers(&self) -> &WaitQueue {
        &self.readers
    }

    /// Whether a read would find something (or the connection is gone).
    pub(crate) fn poll_state(&self) -> (bool, bool) {
        let g = self.inner.lock();
        let ready = g.pending.iter().next().is_some()
            || g.interrupts.iter().next().is_some()
            || g.forgets.iter().next().is_some();
        (ready, g.aborted)
    }

    fn has_work_or_aborted(&self) -> bool {
        let (ready, aborted) = self.poll_state();
        ready || aborted
    }

    /// Fails a request that was moved to `processing` but could not be
    /// handed to the server.
    fn fail_sent(&self, req: &Arc<Request>) {
        let removed = self.inner.lock().processing.remove(&req.unique);
        if removed.is_some() {
            self.complete(req, Err(EIO));
        }
    }

    /// read(2) on the device: hands the next message to the server.
    pub(crate) fn dev_read(&self, dst: &mut IovIter<'_>, nonblock: bool) -> Result<usize> {
        let cap = dst.len();
        let max_write = self.params().max_write as usize;
        let need = (proto::request::IN_HEADER + size_of::<abi::fuse_write_in>())
            .saturating_add(max_write)
            .max(8192);
        if cap < need {
            return Err(EINVAL);
        }
        let batch = self.params().minor >= 16;
        // Room for forgets is allocated only once some are queued: most
        // reads hand out a request, and take no allocation at all.
        let mut forgets = KVec::new();
        loop {
            let item = {
                let mut g = self.inner.lock();
                if g.aborted {
                    return Err(ENODEV);
                }
                if let Some(c) = g.interrupts.cursor_front() {
                    let (_, node) = c.remove_current();
                    let (_, req) = node.to_key_value();
                    Some(Item::Interrupt(req))
                } else if g.forgets.iter().next().is_some() && forgets.capacity() == 0 {
                    Some(Item::NeedForgetRoom)
                } else if g.forgets.iter().next().is_some() {
                    let max = if batch { FORGET_BATCH } else { 1 };
                    while forgets.len() < max {
                        let Some(c) = g.forgets.cursor_front() else {
                            break;
                        };
                        let (_, node) = c.remove_current();
                        let (_, one) = node.to_key_value();
                        // Cannot fail: capacity was reserved above.
                        if forgets.push(one, GFP_ATOMIC).is_err() {
                            break;
                        }
                    }
                    Some(Item::Forgets)
                } else if let Some(c) = g.pending.cursor_front() {
                    // The node moves from `pending` to `processing`.
                    let req = c.current().1.clone();
                    let (_, node) = c.remove_current();
                    req.state.lock().phase = Phase::Sent;
                    g.processing.insert(node);
                    Some(Item::Request(req))
                } else {
                    None
                }
            };
            match item {
                Some(Item::NeedForgetRoom) => {
                    forgets = KVec::with_capacity(FORGET_BATCH, GFP_KERNEL)?;
                }
                None => {
                    if nonblock {
                        return Err(EAGAIN);
                    }
                    self.readers
                        .wait_until(WaitMode::Interruptible, || self.has_work_or_aborted())?;
                }
                Some(Item::Request(req)) => {
                    // Cannot overflow: checked in `make_request`.
                    let len = req
                        .data
                        .iter()
                        .fold(req.msg.len(), |n, c| n.saturating_add(c.len()));
                    if len > cap {
                        self.fail_sent(&req);
                        continue;
                    }
                    let sent = dst
                        .write_all(&req.msg)
                        .and_then(|()| req.data.iter().try_for_each(|c| dst.write_all(c)));
                    if let Err(e) = sent {
                        self.fail_sent(&req);
                        return Err(e);
                    }
                    self.stats.count(req.opcode, len);
                    // Its caller got a signal while it was pending (the
                    // phase moved to `Sent` under the connection lock, so
                    // the flag can no longer change).
                    if req.state.lock().interrupt_when_sent {
                        self.queue_interrupt(&req);
                    }
                    return Ok(len);
                }
                Some(Item::Interrupt(req)) => {
                    // A request that ended meanwhile needs no INTERRUPT.
                    if req.is_done() {
                        continue;
                    }
                    let unique = req.unique;
                    let arg = abi::fuse_interrupt_in { unique };
                    let mut buf =
                        [0u8; proto::request::IN_HEADER + size_of::<abi::fuse_interrupt_in>()];
                    proto::request::encode(
                        &mut buf,
                        abi::fuse_opcode_FUSE_INTERRUPT,
                        unique | proto::reply::INT_REQ_BIT,
                        0,
                        Creds::default(),
                        &[proto::pod::bytes_of(&arg)],
                    )
                    .map_err(|_| EINVAL)?;
                    dst.write_all(&buf)?;
                    return Ok(buf.len());
                }
                Some(Item::Forgets) => {
                    let len =
                        proto::request::forget_len(forgets.len(), batch).map_err(|_| EINVAL)?;
                    let mut buf = KVec::with_capacity(len, GFP_KERNEL)?;
                    buf.extend_with(len, 0, GFP_KERNEL)?;
                    proto::request::encode_forgets(&mut buf, self.unique(), &forgets, batch)
                        .map_err(|_| EINVAL)?;
                    dst.write_all(&buf)?;
                    return Ok(len);
                }
            }
        }
    }

    /// write(2) on the device: a reply (or notification) from the server.
    pub(crate) fn dev_write(&self, src: &mut IovIter<'_>) -> Result<usize> {
        let total = src.len();
        let mut head = [0u8; proto::reply::OUT_HEADER];
        if total >= head.len() {
            src.read_exact(&mut head)?;
        }
        let hdr = proto::reply::parse_header(&head, total).map_err(|e| self.reject(e))?;
        match hdr {
            // No notifications are supported yet.
            Header::Notify { .. } => Err(self.reject(ProtoError::UnsupportedNotify)),
            Header::InterruptReply { unique, error } => {
                let req = self.inner.lock().processing.get(&unique).cloned();
                let Some(req) = req else {
                    // The request ended meanwhile: a benign race, as mainline.
                    return Err(ENOENT);
                };
                if error == -(crate::bindings::ENOSYS as i32) {
                    self.note_enosys(abi::fuse_opcode_FUSE_INTERRUPT);
                } else if error == -(crate::bindings::EAGAIN as i32) {
                    req.state.lock().interrupted = false;
                    self.queue_interrupt(&req);
                }
                Ok(total)
            }
            Header::Reply { unique, error } => {
                let req = self.inner.lock().processing.remove(&unique);
                let Some(req) = req else {
                    return Err(self.reject(ProtoError::UnknownUnique));
                };
                let payload_len = total - proto::reply::OUT_HEADER;
                if error != 0 {
                    if payload_len != 0 {
                        self.complete(&req, Err(EIO));
                        return Err(self.reject(ProtoError::ErrorWithPayload));
                    }
                    if error == -(crate::bindings::ENOSYS as i32) {
                        self.note_enosys(req.opcode);
                    }
                    self.complete(&req, Err(vfs::server_errno(error)));
                    return Ok(total);
                }
                if payload_len > req.kind.max_len() {
                    self.complete(&req, Err(EIO));
                    return Err(self.reject(ProtoError::BadSize));
                }
                let mut payload = match KVVec::with_capacity(payload_len, GFP_KERNEL) {
                    Ok(p) => p,
                    Err(e) => {
                        self.complete(&req, Err(ENOMEM));
                        return Err(e.into());
                    }
                };
                if let Err(e) = payload.extend_with(payload_len, 0, GFP_KERNEL) {
                    self.complete(&req, Err(ENOMEM));
                    return Err(e.into());
                }
                if let Err(e) = src.read_exact(&mut payload) {
                    self.complete(&req, Err(EIO));
                    return Err(e);
                }
                if let Err(e) = proto::reply::check_reply(req.kind, 0, &payload) {
                    self.complete(&req, Err(EIO));
                    return Err(self.reject(e));
                }
                self.complete(&req, Ok(payload));
                Ok(total)
            }
        }
    }
}

enum Item {
    Request(Arc<Request>),
    Interrupt(Arc<Request>),
    /// FORGETs are queued: allocate room for a batch and look again.
    NeedForgetRoom,
    Forgets,
}
