// SPDX-License-Identifier: GPL-2.0

//! Request statistics of a connection (the sysfs `stats` file).

use super::Connection;
use crate::abi;
use crate::proto::stats;
use crate::vfs::sysfs::ControlFiles;
use core::sync::atomic::{AtomicU64, Ordering};

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
    /// Inode references that may outlive a request or its caller
    /// (`fs::writeback::InodeRef`: writeback WRITE completions, readahead
    /// READs, drains, RELEASE holds, handle uses); unmount waits for them.
    pub(crate) wb_inode_refs: AtomicU64,
    /// Background writeback passes that stopped because the data in flight
    /// was at its bound.
    pub(crate) wb_budget_stops: AtomicU64,
}

impl Stats {
    pub(super) fn new() -> Self {
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

    pub(super) fn count(&self, opcode: u32, len: usize) {
        let op = opcode as usize;
        if let (Some(c), Some(b)) = (self.count.get(op), self.bytes.get(op)) {
            c.fetch_add(1, Ordering::Relaxed);
            b.fetch_add(len as u64, Ordering::Relaxed);
        }
        if opcode == abi::fuse_opcode_FUSE_WRITE {
            let payload = len.saturating_sub(stats::WRITE_HEADER);
            // CAST: lossless.
            if let Some(h) = self.write_hist.get(stats::bucket(payload as u64)) {
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

impl ControlFiles for Connection {
    fn waiting(&self) -> u32 {
        self.num_waiting()
    }

    fn abort(&self) {
        Connection::abort(self)
    }

    fn stats(&self, out: &mut [u8]) -> usize {
        let st = self.stats();
        let (active, queued) = self.background_counts();
        let extra = [
            (
                stats::WRITEBACK_INFLIGHT_REQUESTS,
                st.wb_requests.load(Ordering::Relaxed),
            ),
            (
                stats::WRITEBACK_INFLIGHT_BYTES,
                st.wb_bytes.load(Ordering::Relaxed),
            ),
            (
                stats::WRITEBACK_SHORT_RESENDS,
                st.wb_resends.load(Ordering::Relaxed),
            ),
            (
                stats::WRITEBACK_BUDGET_STOPS,
                st.wb_budget_stops.load(Ordering::Relaxed),
            ),
            (stats::DIRTY_PAGES, self.dirty_pages()),
            (stats::BACKGROUND_ACTIVE, u64::from(active)),
            (stats::BACKGROUND_QUEUED, u64::from(queued)),
            (
                stats::WRITEBACK_CACHE,
                u64::from(self.has_writeback_cache()),
            ),
        ];
        st.render(&extra, out)
    }
}
