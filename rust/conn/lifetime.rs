// SPDX-License-Identifier: GPL-2.0

//! The life of a request with the server: queued, read, interrupted,
//! withdrawn, completed, and what an abandoned reply gives back.

use super::request::{End, Outcome, Phase, Request};
use super::{Connection, Inner, Payload};
use crate::abi;
use crate::proto::{self, reply::ReplyKind};
use crate::vfs::{self, wait::WaitMode};
use core::mem::size_of;
use kernel::prelude::*;
use kernel::rbtree::RBTreeNode;
use kernel::sync::Arc;

impl Connection {
    /// Queues `req` for the server: marks it pending and lets `place` put
    /// its node into a queue of the locked state; `place` says whether the
    /// device readers are to be woken. Refused (ENOTCONN) once the
    /// connection is aborted.
    pub(super) fn enqueue(
        &self,
        req: &Arc<Request>,
        place: impl FnOnce(&mut Inner, RBTreeNode<u64, Arc<Request>>) -> bool,
    ) -> Result {
        let node = RBTreeNode::new(req.unique, req.clone(), GFP_KERNEL)?;
        let wake = {
            let mut g = self.inner.lock();
            if g.aborted {
                drop(g);
                drop(node);
                return Err(vfs::enotconn());
            }
            req.state.lock().phase = Phase::Pending;
            place(&mut g, node)
        };
        if wake {
            self.readers.wake_up_one();
        }
        Ok(())
    }

    /// Queues `req` for the server at once.
    pub(super) fn queue(&self, req: &Arc<Request>) -> Result {
        self.enqueue(req, |g, node| {
            g.pending.insert(node);
            true
        })
    }

    /// Removes a request the server has not read yet; false if it has.
    pub(super) fn withdraw(&self, req: &Request) -> bool {
        let removed = self.inner.lock().pending.remove(&req.unique);
        removed.is_some()
    }

    pub(super) fn queue_interrupt(&self, req: &Arc<Request>) {
        let Ok(node) = RBTreeNode::new(req.unique, req.clone(), GFP_KERNEL) else {
            return;
        };
        let queued = {
            let mut g = self.inner.lock();
            let mut s = req.state.lock();
            // Only while the request is being processed: the one that ends
            // it takes its INTERRUPT out of the queue under this lock.
            if g.aborted
                || s.phase != Phase::Sent
                || s.interrupted
                || g.processing.get(&req.unique).is_none()
            {
                None
            } else {
                s.interrupted = true;
                drop(s);
                g.interrupts.insert(node);
                Some(())
            }
        };
        if queued.is_some() {
            self.readers.wake_up_one();
        }
    }

    /// A non-fatal signal came while `req` waited: the server is asked to
    /// interrupt it, now if it has read the request, else once it does.
    /// The request itself stays (as mainline): only the server decides
    /// whether it fails with EINTR, so a program's handled signals (timers,
    /// SIGCHLD, a runtime's preemption signals) never fail a stat or a
    /// read on their own.
    pub(super) fn interrupt(&self, req: &Arc<Request>) {
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

    pub(super) fn wait_answer(&self, req: &Arc<Request>) -> Outcome {
        if !self.is_enosys(abi::fuse_opcode_FUSE_INTERRUPT)
            && req
                .done
                .wait_until(WaitMode::Interruptible, || req.is_done())
                .is_err()
        {
            // A killed caller mirrors the change of a request whose hold
            // says so (a size change: see `Held::mirrored`): the server
            // must not be asked to cancel it then.
            let mirrored = req.state.lock().hold.as_ref().is_some_and(|h| h.mirrored());
            if !(mirrored && vfs::fatal_signal_pending()) {
                self.interrupt(req);
            }
        }
        if req
            .done
            .wait_until(WaitMode::Killable, || req.is_done())
            .is_err()
        {
            // Killed: never wait for the server any longer. A request the
            // server has not read yet goes with its caller, unless it is
            // forced: then it stays queued, abandoned.
            let forced = req.state.lock().forced;
            if !forced && self.withdraw(req) {
                return Outcome::Reply(Err(EINTR));
            }
            return match req.abandon() {
                Some(r) => Outcome::Reply(r),
                None => Outcome::Unknown,
            };
        }
        Outcome::Reply(req.take_result())
    }

    pub(super) fn complete(&self, req: &Arc<Request>, result: Result<Payload>) {
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
    /// is forgotten after the RELEASE of its handle ended; a lock granted
    /// (SETLK, SETLKW) is unlocked: its owner may already have closed the
    /// file (the FLUSH that drops its locks came before the grant).
    pub(super) fn give_back(&self, req: &Request, payload: &[u8]) {
        // The request's own arguments: `fuse_open_in` and `fuse_create_in`
        // both start with the open flags.
        let args = req.msg.get(proto::request::IN_HEADER..).unwrap_or(&[]);
        if req.opcode == abi::fuse_opcode_FUSE_SETLK || req.opcode == abi::fuse_opcode_FUSE_SETLKW {
            let lk = args.get(..size_of::<abi::fuse_lk_in>());
            if let Some(mut lk) = lk.and_then(proto::pod::read_exact::<abi::fuse_lk_in>) {
                if lk.lk.type_ != proto::lock::F_UNLCK {
                    lk.lk.type_ = proto::lock::F_UNLCK;
                    lk.lk.pid = 0;
                    // Nothing to do if it fails: the connection is gone.
                    let _ = self.request_background(
                        abi::fuse_opcode_FUSE_SETLK,
                        req.nodeid,
                        &[proto::pod::bytes_of(&lk)],
                        ReplyKind::Empty,
                        None,
                    );
                }
            }
            return;
        }
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
                    let arg = proto::request::release_in(o.fh, flags, None);
                    self.release_then_forget(req.nodeid, op, &arg, None);
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
                        &proto::request::release_in(o.fh, flags, None),
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
}
