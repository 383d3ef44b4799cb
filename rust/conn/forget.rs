// SPDX-License-Identifier: GPL-2.0

//! FORGETs: queued with room allocated ahead, sent in batches.

use super::Connection;
use crate::abi;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::RBTreeNodeReservation;

/// Largest number of forgets sent in one BATCH_FORGET.
pub(super) const FORGET_BATCH: usize = 64;

/// Preallocated room for one queued FORGET.
pub(crate) type ForgetReservation = RBTreeNodeReservation<u64, abi::fuse_forget_one>;

impl Connection {
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
        let seq = self.counters.next_forget.fetch_add(1, Ordering::Relaxed);
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
        self.readers.wake_up_one();
    }
}
