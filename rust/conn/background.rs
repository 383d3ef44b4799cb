// SPDX-License-Identifier: GPL-2.0

//! Background requests (no caller waits) and the bound on them; the
//! write-back WRITE queue.

use super::request::{Completion, End, Request};
use super::{Connection, Data};
use crate::abi;
use crate::proto::{reply::ReplyKind, request::Creds};
use crate::vfs::wait::WaitQueue;
use kernel::prelude::*;
use kernel::sync::Arc;

impl Connection {
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

    pub(super) fn queue_background(&self, req: Arc<Request>) -> Result {
        let max = u32::from(self.params().max_background).max(1);
        // Past `max_background` in flight, it waits in `bg_queue` (the
        // server sees it when `end_background` moves it on).
        self.enqueue(&req, |g, node| {
            if g.active_background < max {
                g.active_background += 1;
                g.pending.insert(node);
                true
            } else {
                g.bg_queue.insert(node);
                false
            }
        })
    }

    /// A background request ended: let the next queued one go.
    pub(super) fn end_background(&self) {
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
            self.readers.wake_up_one();
        }
    }

    /// Whether the background requests reached the server's congestion
    /// threshold (optional work, as async readahead, then waits). Past
    /// `max_background` (at least the threshold) they queue, so those in
    /// flight are the count.
    pub(crate) fn congested(&self) -> bool {
        let threshold = u32::from(self.params().congestion_threshold);
        self.inner.lock().active_background >= threshold
    }

    /// Background requests with the server, and queued for it.
    pub(crate) fn background_counts(&self) -> (u32, u32) {
        let g = self.inner.lock();
        (g.active_background, g.bg_queue.iter().count() as u32)
    }
}
