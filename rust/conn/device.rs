// SPDX-License-Identifier: GPL-2.0

//! The device side: what the server reads (requests, interrupts, forgets)
//! and writes (replies), each checked before it touches a request.

use super::forget::FORGET_BATCH;
use super::request::{End, Phase, Request};
use super::Connection;
use crate::abi;
use crate::proto::{self, reply::Header, reply::ReplyKind, request::Creds, ProtoError};
use crate::vfs::{self, iov::IovIter, iov::MsgDst, wait::WaitMode, wait::WaitQueue};
use core::mem::size_of;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::Arc;

/// How many rejected messages a connection logs before going quiet.
pub(super) const REJECT_LOG_LIMIT: u32 = 16;

pub(super) enum Item {
    Request(Arc<Request>),
    Interrupt(Arc<Request>),
    /// FORGETs are queued: allocate room for a batch and look again.
    NeedForgetRoom,
    Forgets,
    Oneway(super::Oneway),
}

impl Connection {
    pub(super) fn reject(&self, e: ProtoError) -> Error {
        if self.counters.rejects.fetch_add(1, Ordering::Relaxed) < REJECT_LOG_LIMIT {
            pr_warn!("rejected a malformed message from the server: {:?}\n", e);
        }
        EINVAL
    }

    /// The wait queue device readers sleep on (for poll).
    pub(crate) fn readers(&self) -> &WaitQueue {
        &self.readers
    }

    /// Whether a read would find something (or the connection is gone).
    pub(crate) fn poll_state(&self) -> (bool, bool) {
        let g = self.inner.lock();
        let ready = g.pending.iter().next().is_some()
            || g.interrupts.iter().next().is_some()
            || g.forgets.iter().next().is_some()
            || g.oneway.iter().next().is_some();
        (ready, g.aborted)
    }

    pub(super) fn has_work_or_aborted(&self) -> bool {
        let (ready, aborted) = self.poll_state();
        ready || aborted
    }

    /// Fails a request that was moved to `processing` but could not be
    /// handed to the server.
    pub(super) fn fail_sent(&self, req: &Arc<Request>) {
        self.fail_sent_with(req, EIO);
    }

    /// As `fail_sent`, with `err`.
    fn fail_sent_with(&self, req: &Arc<Request>, err: Error) {
        if self.end_processing(req.unique).is_some() {
            self.complete(req, Err(err));
        }
    }

    /// Takes request `unique`, which is ending, out of `processing`, with
    /// its INTERRUPT if one is still queued: a read would find nothing to
    /// send for it, so poll must not report it (a server that polls, then
    /// reads, would block), as mainline unlinks it when a request ends.
    fn end_processing(&self, unique: u64) -> Option<Arc<Request>> {
        let (req, interrupt) = {
            let mut g = self.inner.lock();
            let req = g.processing.remove(&unique);
            let interrupt = match req {
                Some(_) => g.interrupts.remove_node(&unique),
                None => None,
            };
            (req, interrupt)
        };
        drop(interrupt);
        req
    }

    /// read(2) on the device: hands the next message to the server.
    pub(crate) fn dev_read(&self, dst: &mut dyn MsgDst, nonblock: bool) -> Result<usize> {
        let cap = dst.room();
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
            let sent = match self.next_item(&mut forgets, batch)? {
                Some(Item::NeedForgetRoom) => {
                    forgets = KVec::with_capacity(FORGET_BATCH, GFP_KERNEL)?;
                    None
                }
                None => {
                    if nonblock {
                        return Err(EAGAIN);
                    }
                    // One server thread is woken per message (as
                    // mainline): the others sleep on.
                    self.readers
                        .wait_exclusive(WaitMode::Interruptible, || self.has_work_or_aborted())?;
                    None
                }
                Some(Item::Request(req)) => self.read_request(dst, cap, &req)?,
                Some(Item::Interrupt(req)) => Self::read_interrupt(dst, &req)?,
                Some(Item::Forgets) => Some(self.read_forgets(dst, &forgets, batch)?),
                Some(Item::Oneway(m)) => Self::read_oneway(dst, cap, &m)?,
            };
            if let Some(len) = sent {
                return Ok(len);
            }
        }
    }

    /// Takes what the server reads next, under the connection lock:
    /// interrupts first, then forgets (into `forgets`, once it has room),
    /// then the oldest pending request, which moves to `processing`.
    fn next_item(
        &self,
        forgets: &mut KVec<abi::fuse_forget_one>,
        batch: bool,
    ) -> Result<Option<Item>> {
        let mut g = self.inner.lock();
        if g.aborted {
            return Err(ENODEV);
        }
        let item = if let Some(c) = g.interrupts.cursor_front() {
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
        } else if let Some(c) = g.oneway.cursor_front() {
            let (_, node) = c.remove_current();
            let (_, m) = node.to_key_value();
            Some(Item::Oneway(m))
        } else if let Some(c) = g.pending.cursor_front() {
            // The node moves from `pending` to `processing`.
            let req = c.current().1.clone();
            let (_, node) = c.remove_current();
            req.state.lock().phase = Phase::Sent;
            g.processing.insert(node);
            Some(Item::Request(req))
        } else {
            None
        };
        Ok(item)
    }

    /// Copies a request that was just sent to `dst` (of `cap` bytes);
    /// `None` if it does not fit (the request fails, the next is read).
    fn read_request(
        &self,
        dst: &mut dyn MsgDst,
        cap: usize,
        req: &Arc<Request>,
    ) -> Result<Option<usize>> {
        // Cannot overflow: checked in `make_request`.
        let len = req
            .data
            .iter()
            .fold(req.msg.len(), |n, c| n.saturating_add(c.len()));
        if len > cap {
            // Larger than the reader's buffer (which holds any WRITE): as
            // mainline, EIO, but E2BIG for SETXATTR, whose value alone may
            // be too large.
            let err = if req.opcode == abi::fuse_opcode_FUSE_SETXATTR {
                E2BIG
            } else {
                EIO
            };
            self.fail_sent_with(req, err);
            return Ok(None);
        }
        let sent = dst
            .begin(len)
            .and_then(|()| dst.write_all(&req.msg))
            .and_then(|()| req.data.iter().try_for_each(|c| dst.write_all(c)));
        if let Err(e) = sent {
            self.fail_sent(req);
            return Err(e);
        }
        self.stats.count(req.opcode, len);
        // Its caller got a signal while it was pending (the phase moved to
        // `Sent` under the connection lock, so the flag can no longer
        // change).
        if req.state.lock().interrupt_when_sent {
            self.queue_interrupt(req);
        }
        Ok(Some(len))
    }

    /// Copies a one-way message to `dst` (of `cap` bytes); `None` if it
    /// does not fit (it is dropped: nobody waits for it).
    fn read_oneway(dst: &mut dyn MsgDst, cap: usize, m: &super::Oneway) -> Result<Option<usize>> {
        let len = m
            .data
            .iter()
            .fold(m.msg.len(), |n, c| n.saturating_add(c.len()));
        if len > cap {
            return Ok(None);
        }
        dst.begin(len)?;
        dst.write_all(&m.msg)?;
        m.data.iter().try_for_each(|c| dst.write_all(c))?;
        Ok(Some(len))
    }

    /// Writes the INTERRUPT of `req` to `dst`; `None` if the request ended
    /// meanwhile (it needs none).
    fn read_interrupt(dst: &mut dyn MsgDst, req: &Request) -> Result<Option<usize>> {
        if req.is_done() {
            return Ok(None);
        }
        let unique = req.unique;
        let arg = abi::fuse_interrupt_in { unique };
        let mut buf = [0u8; proto::request::IN_HEADER + size_of::<abi::fuse_interrupt_in>()];
        proto::request::encode(
            &mut buf,
            abi::fuse_opcode_FUSE_INTERRUPT,
            unique | proto::reply::INT_REQ_BIT,
            0,
            Creds::default(),
            &[proto::pod::bytes_of(&arg)],
        )
        .map_err(|_| EINVAL)?;
        dst.begin(buf.len())?;
        dst.write_all(&buf)?;
        Ok(Some(buf.len()))
    }

    /// Writes `forgets` as one FORGET or BATCH_FORGET to `dst`.
    fn read_forgets(
        &self,
        dst: &mut dyn MsgDst,
        forgets: &[abi::fuse_forget_one],
        batch: bool,
    ) -> Result<usize> {
        let len = proto::request::forget_len(forgets.len(), batch).map_err(|_| EINVAL)?;
        let mut buf = KVec::with_capacity(len, GFP_KERNEL)?;
        buf.extend_with(len, 0, GFP_KERNEL)?;
        proto::request::encode_forgets(&mut buf, self.unique(), forgets, batch)
            .map_err(|_| EINVAL)?;
        dst.begin(len)?;
        dst.write_all(&buf)?;
        Ok(len)
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
            Header::Notify { code } => {
                self.notification(src, code, total - proto::reply::OUT_HEADER)?;
                Ok(total)
            }
            Header::InterruptReply { unique, error } => {
                self.interrupt_reply(unique, error)?;
                Ok(total)
            }
            Header::Reply { unique, error } => {
                self.reply(src, unique, error, total - proto::reply::OUT_HEADER)?;
                Ok(total)
            }
        }
    }

    /// A notification `code` with `len` bytes of payload still in `src`:
    /// validated, then handed to the filesystem (ENOENT while nothing is
    /// mounted yet; ENODEV once the connection ended, as reads get: libfuse
    /// takes that for "unmounted" and stops notifying).
    fn notification(&self, src: &mut IovIter<'_>, code: i32, len: usize) -> Result {
        if self.is_aborted() {
            return Err(ENODEV);
        }
        if len > proto::notify::MAX_PAYLOAD {
            return Err(self.reject(ProtoError::BadSize));
        }
        let payload = read_payload(src, len)?;
        let n = proto::notify::parse(code, &payload).map_err(|e| self.reject(e))?;
        if let proto::notify::Notification::Poll { kh } = n {
            self.poll_wakeup(kh);
            return Ok(());
        }
        let handler = self.inner.lock().notify.clone();
        handler.ok_or(ENOENT)?.notify(self, n)
    }

    /// The server answered the INTERRUPT of request `unique` with `error`:
    /// ENOSYS means never again; EAGAIN asks for it again.
    fn interrupt_reply(&self, unique: u64, error: i32) -> Result {
        let req = self.inner.lock().processing.get(&unique).cloned();
        let Some(req) = req else {
            // The request ended meanwhile: a benign race, as mainline.
            return Err(ENOENT);
        };
        if error == vfs::enosys().to_errno() {
            self.note_enosys(abi::fuse_opcode_FUSE_INTERRUPT);
        } else if error == EAGAIN.to_errno() {
            req.state.lock().interrupted = false;
            self.queue_interrupt(&req);
        }
        Ok(())
    }

    /// The reply to request `unique`: `error`, or `payload_len` bytes of
    /// payload still in `src`, which must be what the request expects. The
    /// request ends either way; a bad reply fails it with EIO and the
    /// server's write with EINVAL.
    fn reply(&self, src: &mut IovIter<'_>, unique: u64, error: i32, payload_len: usize) -> Result {
        let Some(req) = self.end_processing(unique) else {
            return Err(self.reject(ProtoError::UnknownUnique));
        };
        if error != 0 {
            if payload_len != 0 {
                self.complete(&req, Err(EIO));
                return Err(self.reject(ProtoError::ErrorWithPayload));
            }
            if error == vfs::enosys().to_errno() {
                self.note_enosys(req.opcode);
            }
            self.complete(&req, Err(vfs::server_errno(error)));
            return Ok(());
        }
        if payload_len > req.kind.max_len() {
            self.complete(&req, Err(EIO));
            return Err(self.reject(ProtoError::BadSize));
        }
        // Data (needing no other check) may go straight where the request
        // wants it (a readahead READ: into its folios).
        if matches!(req.kind, ReplyKind::Data { .. }) && req.end == End::Callback {
            let cb = req.state.lock().callback.clone();
            match cb.and_then(|cb| cb.take_data(src, payload_len)) {
                Some(Ok(())) => {
                    self.complete(&req, Ok(KVVec::new()));
                    return Ok(());
                }
                Some(Err(e)) => {
                    self.complete(&req, Err(EIO));
                    return Err(e);
                }
                None => (),
            }
        }
        let payload = match read_payload(src, payload_len) {
            Ok(p) => p,
            Err(e) => {
                self.complete(&req, Err(if e == ENOMEM { ENOMEM } else { EIO }));
                return Err(e);
            }
        };
        if let Err(e) = proto::reply::check_reply(req.kind, 0, &payload) {
            self.complete(&req, Err(EIO));
            return Err(self.reject(e));
        }
        self.complete(&req, Ok(payload));
        Ok(())
    }
}

/// The `len` bytes of a reply's payload from `src`.
fn read_payload(src: &mut IovIter<'_>, len: usize) -> Result<KVVec<u8>> {
    let mut payload = KVVec::with_capacity(len, GFP_KERNEL)?;
    payload.extend_with(len, 0, GFP_KERNEL)?;
    src.read_exact(&mut payload)?;
    Ok(payload)
}
