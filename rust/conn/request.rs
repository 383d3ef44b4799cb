// SPDX-License-Identifier: GPL-2.0

//! Requests: their state, how callers make, send and wait for them, and
//! what they hold while the server has them.

use super::{Connection, Data, Payload};
use crate::abi;
use crate::proto::{self, reply::ReplyKind, request::Creds};
use crate::vfs::{self, iov::IovIter, wait::WaitQueue};
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::{Arc, SpinLock};

/// What happens when a request ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// A caller waits for the result.
    Wake,
    /// Nobody waits (RELEASE and other background requests).
    Discard,
    /// The INIT reply configures the connection.
    Init,
    /// The request's [`Completion`] runs (writeback).
    Callback,
}

/// What runs when a background request with a callback ends: with the
/// request's arguments (the message after `fuse_in_header`), its data and
/// its result.
///
/// It runs in the context that ended the request: the server's write(2) on
/// the device, or an abort. It may sleep and may send new requests.
pub(crate) trait Completion: Send + Sync {
    /// The request ended with `result`.
    fn complete(&self, conn: &Connection, args: &[u8], data: &[KVVec<u8>], result: Result<Payload>);

    /// The valid (size-checked) data reply of `len` bytes is in `src`, the
    /// server's write(2): a completion with buffers of its own (the page
    /// cache) may copy it there itself and return `Some(Ok(()))`; then
    /// `complete` gets an empty payload and must use what it kept. `None`:
    /// the data comes to `complete` as the payload. On an error the
    /// request fails with EIO, the server's write with the error.
    fn take_data(&self, _src: &mut IovIter<'_>, _len: usize) -> Option<Result> {
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    New,
    Pending,
    Sent,
    Done,
}

pub(super) struct ReqState {
    pub(super) phase: Phase,
    pub(super) interrupted: bool,
    /// A signal came while the request was pending: its INTERRUPT follows
    /// it once the server has read it.
    pub(super) interrupt_when_sent: bool,
    pub(super) abandoned: bool,
    /// Goes to the server even when its caller is killed before the server
    /// read it (a close's FLUSH, as mainline's forced requests): a killed
    /// caller leaves it queued instead of withdrawing it.
    pub(super) forced: bool,
    pub(super) result: Option<Result<Payload>>,
    /// Kept alive until the request ends (see [`Hold`]).
    pub(super) hold: Option<Hold>,
    /// A node whose lookup is given back (FORGET) once the request ended:
    /// the RELEASE of an abandoned CREATE's handle goes first.
    pub(super) forget_after: Option<(u64, u64)>,
    /// Runs when the request ends (`End::Callback`), then goes: what it
    /// holds (a writeback WRITE's inode) must not live on with the request,
    /// which the device's read path may still hold while it copies it out.
    pub(super) callback: Option<Arc<dyn Completion>>,
}

/// Something a request keeps alive until it ends, whether or not its
/// caller still waits: a drain of writeback while the server truncates (a
/// killed caller must not let WRITEs overtake the truncate), the inode of
/// a RELEASE (so its FORGET cannot overtake the RELEASE), the use of a
/// file's handle (so its RELEASE cannot overtake the request). It is dropped
/// when the request ends (reply or abort), or with a request the server
/// never saw.
pub(crate) type Hold = Arc<dyn Held>;

/// What a request keeps alive until it ends (see [`Hold`]).
pub(crate) trait Held: Send + Sync {
    /// The request ended after its caller had given up on it (killed while
    /// the server had it, or while a forced request was still queued:
    /// [`Outcome::Unknown`]); `ok` tells whether the server did what was
    /// asked. Called once, before the hold is dropped.
    fn orphaned(&self, _ok: bool) {}

    /// Whether a killed caller mirrors the request's effect in the kernel
    /// (a size change: see [`Connection::request_holding`]), so that the
    /// server must not be asked to cancel it: then a fatal signal sends no
    /// INTERRUPT.
    fn mirrored(&self) -> bool {
        true
    }
}

/// How a request ended for its caller (see [`Connection::request_holding`]).
pub(crate) enum Outcome {
    /// The server answered (or the request failed before it saw it).
    Reply(Result<Payload>),
    /// The caller was killed after the server had read the request, or
    /// before it read a forced one: it may still happen. The request keeps
    /// its hold until it ends.
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
    pub(super) unique: u64,
    pub(super) opcode: u32,
    pub(super) nodeid: u64,
    pub(super) msg: KVVec<u8>,
    /// Sent after `msg`; counted in the header's length.
    pub(super) data: Data,
    pub(super) kind: ReplyKind,
    pub(super) end: End,
    /// Counted in `active_background` while queued or sent.
    pub(super) background: bool,
    #[pin]
    pub(super) state: SpinLock<ReqState>,
    #[pin]
    pub(super) done: WaitQueue,
}

impl Request {
    pub(super) fn is_done(&self) -> bool {
        self.state.lock().phase == Phase::Done
    }

    pub(super) fn take_result(&self) -> Result<Payload> {
        self.state.lock().result.take().unwrap_or(Err(EIO))
    }

    /// Marks the request as abandoned by its caller, unless it already ended,
    /// in which case its result is returned.
    pub(super) fn abandon(&self) -> Option<Result<Payload>> {
        let mut s = self.state.lock();
        if s.phase == Phase::Done {
            return Some(s.result.take().unwrap_or(Err(EIO)));
        }
        s.abandoned = true;
        None
    }
}

impl Connection {
    pub(super) fn unique(&self) -> u64 {
        // Unique ids are even: bit 0 marks INTERRUPT replies.
        self.counters
            .next_unique
            .fetch_add(2, Ordering::Relaxed)
            .wrapping_add(2)
    }

    /// The credentials of the current task, as the server sees them.
    pub(super) fn creds(&self) -> Creds {
        vfs::cred::current_creds(&self.user_ns, &self.pid_ns)
    }

    pub(super) fn new_request(
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
    pub(super) fn make_request(
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
                    forced: false,
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
    /// killed caller must still mirror (see [`Held::mirrored`]), and for
    /// those whose hold must outlive a killed caller.
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
    /// `data`, without a bounce buffer); `hold` is kept until the request
    /// ends (see [`Hold`]).
    pub(crate) fn request_msg(
        &self,
        opcode: u32,
        nodeid: u64,
        msg: KVVec<u8>,
        data: Data,
        kind: ReplyKind,
        hold: Option<Hold>,
    ) -> Result<Payload> {
        let creds = self.creds();
        let req = self.make_request(opcode, nodeid, msg, data, kind, End::Wake, creds, None)?;
        req.state.lock().hold = hold;
        self.send_and_wait(&req)
    }

    pub(super) fn send_and_wait(&self, req: &Arc<Request>) -> Result<Payload> {
        self.send_and_wait_outcome(req).reply()
    }

    pub(super) fn send_and_wait_outcome(&self, req: &Arc<Request>) -> Outcome {
        if let Err(e) = self.wait_initialized() {
            return Outcome::Reply(Err(e));
        }
        self.counters.num_waiting.fetch_add(1, Ordering::Relaxed);
        let r = match self.queue(req) {
            Ok(()) => self.wait_answer(req),
            Err(e) => Outcome::Reply(Err(e)),
        };
        self.counters.num_waiting.fetch_sub(1, Ordering::Relaxed);
        r
    }

    /// Sends a request whose only reply is success, for an operation the
    /// server may leave out: ENOSYS counts as success (and is remembered,
    /// so callers skip the opcode from then on). `hold`, if any, is kept
    /// until the request ends (see [`Hold`]).
    pub(crate) fn request_optional(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        hold: Option<Hold>,
    ) -> Result {
        self.optional(opcode, nodeid, args, hold, false)
    }

    /// As [`Connection::request_optional`], for a request the server must
    /// get even when the caller is killed before it read it (a close's
    /// FLUSH: the server may commit the file or drop the closer's locks
    /// there, and mainline forces it). The killed caller does not wait:
    /// the request stays queued without it, and ends with EINTR for it.
    pub(crate) fn request_optional_forced(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        hold: Option<Hold>,
    ) -> Result {
        self.optional(opcode, nodeid, args, hold, true)
    }

    fn optional(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        hold: Option<Hold>,
        forced: bool,
    ) -> Result {
        let req = self.new_request(opcode, nodeid, args, ReplyKind::Empty, End::Wake)?;
        {
            let mut s = req.state.lock();
            s.hold = hold;
            s.forced = forced;
        }
        match self.send_and_wait(&req) {
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
        self.request_callback_creds(opcode, nodeid, args, kind, done, Creds::default())
    }

    /// As [`Connection::request_callback`], with the calling task's
    /// credentials (a readahead READ, as mainline's background READs).
    pub(crate) fn request_callback_as_caller(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
        done: Arc<dyn Completion>,
    ) -> Result {
        self.request_callback_creds(opcode, nodeid, args, kind, done, self.creds())
    }

    fn request_callback_creds(
        &self,
        opcode: u32,
        nodeid: u64,
        args: &[&[u8]],
        kind: ReplyKind,
        done: Arc<dyn Completion>,
        creds: Creds,
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
            creds,
            Some(done),
        )?;
        self.queue_background(req)
    }

    /// RELEASE (`op`) of a handle nobody owns; then, once it ended, the
    /// FORGET of `forget_after` (node, lookups), if any: FORGETs are read
    /// first, so the order needs the RELEASE to end first. If the RELEASE
    /// cannot be sent, the FORGET is queued at once.
    pub(crate) fn release_then_forget(
        &self,
        nodeid: u64,
        op: u32,
        arg: &abi::fuse_release_in,
        forget_after: Option<(u64, u64)>,
    ) {
        let sent = self
            .new_request(
                op,
                nodeid,
                &[proto::pod::bytes_of(arg)],
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
}
