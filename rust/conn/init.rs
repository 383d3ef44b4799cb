// SPDX-License-Identifier: GPL-2.0

//! INIT: what the connection offers, the negotiation of the reply, and the
//! wait of the first requests for it.

use super::request::End;
use super::{Connection, Payload};
use crate::abi;
use crate::proto::{self, reply::ReplyKind};
use crate::vfs::{self, sb::SbLink, wait::WaitMode};
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The `max_pages_limit` module parameter, clamped to what the module
/// supports.
pub(super) fn max_pages_limit() -> u32 {
    crate::vfs::max_pages_limit_param().clamp(1, proto::init::MAX_MAX_PAGES_LIMIT)
}

impl Connection {
    /// Sends INIT. The mount does not wait: the server usually starts only
    /// after mount(2) returned. Requests wait for the reply instead.
    pub(crate) fn send_init(&self, sb: Arc<SbLink>, max_readahead: u32) -> Result {
        self.inner.lock().sb = Some(sb);
        self.counters
            .offered_readahead
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

    pub(super) fn offered_flags(&self) -> u64 {
        proto::init::offered_flags(self.opts.allow_wbcache)
    }

    pub(super) fn wait_initialized(&self) -> Result {
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

    pub(super) fn process_init(&self, result: Result<Payload>) {
        let max_ra = self.counters.offered_readahead.load(Ordering::Relaxed);
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

    /// Whether the kernel checks permissions from the mode (and ACLs): the
    /// mount option `default_permissions`, or FUSE_POSIX_ACL from the
    /// server (as mainline).
    pub(crate) fn default_permissions(&self) -> bool {
        self.opts.default_permissions || self.params().posix_acl()
    }

    /// Whether the server agreed to the write-back cache (INIT).
    pub(crate) fn has_writeback_cache(&self) -> bool {
        self.params().has(u64::from(abi::FUSE_WRITEBACK_CACHE))
    }
}
