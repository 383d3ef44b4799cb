// SPDX-License-Identifier: GPL-2.0

//! Write-behind: full WRITEs of a sequential writer sent at once, from a
//! work item, without waiting for the flusher.

use crate::conn::Connection;
use crate::fs::Inode;
use crate::proto::write as pw;
use crate::vfs;
use crate::vfs::wait::WaitMode;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ARef;
use kernel::workqueue;

/// Write-behind, after a buffered write of `start..end`: once a sequential
/// stream has a full WRITE's worth of whole pages behind it, hand them to
/// writeback now instead of when the flusher comes. A large copy then
/// streams full-size WRITEs to the server while the writer goes on, and its
/// dirty pages do not pile up to the dirty limit first. The copying into
/// the WRITE runs in a work item, in parallel with the writer. Best effort:
/// the writeback bound and errors are handled by `writepages`.
pub(crate) fn write_behind(inode: &Inode, start: i64, end: i64) {
    if !vfs::write_behind_param() {
        return;
    }
    let (Ok(start), Ok(end)) = (u64::try_from(start), u64::try_from(end)) else {
        return;
    };
    let params = inode.sb().data().params();
    let batch =
        pw::writeback_pages(params.max_write, params.max_pages, vfs::PAGE_SIZE) * vfs::PAGE_SIZE;
    let range = {
        let mut g = inode.data().wb.lock();
        pw::write_behind(
            &mut g.behind,
            start,
            end,
            batch as u64,
            vfs::PAGE_SIZE as u64,
        )
    };
    let Some((from, to)) = range else { return };
    let (Ok(from), Ok(last)) = (i64::try_from(from), i64::try_from(to - 1)) else {
        return;
    };
    let conn: Arc<Connection> = inode.sb().data().into();
    let me: ARef<Inode> = inode.into();
    conn.stats().behind_works.fetch_add(1, Ordering::AcqRel);
    let c = conn.clone();
    let spawned = workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
        // Errors reach the mapping; fsync and close report them.
        let _ = me.start_writeback_range(from, last);
        // The inode reference goes before the count: unmount waits for it.
        drop(me);
        behind_done(&c);
    });
    if spawned.is_err() {
        // The closure (and its references) is gone: do it here.
        behind_done(&conn);
        let _ = inode.start_writeback_range(from, last);
    }
}

pub(super) fn behind_done(conn: &Connection) {
    conn.stats().behind_works.fetch_sub(1, Ordering::AcqRel);
    conn.wb_wait().wake_up_all();
}

/// Waits until no write-behind work item of the connection holds an inode
/// (before unmount writes back). Killable: [`wait_unreferenced`] is what
/// unmount relies on.
pub(crate) fn wait_behind(conn: &Connection) {
    let _ = conn.wb_wait().wait_until(WaitMode::Killable, || {
        conn.stats().behind_works.load(Ordering::Acquire) == 0
    });
}

/// After the connection was aborted, before unmount evicts the inodes:
/// waits until no write-behind work item and no writeback WRITE completion
/// holds an inode reference any more. Neither waits for the server (the
/// work items start writeback without waiting, and an aborted connection
/// ends every request), so the wait is short and need not be killable;
/// it must not be, or a killed `umount` would free the superblock under
/// them.
pub(crate) fn wait_unreferenced(conn: &Connection) {
    let _ = conn.wb_wait().wait_until(WaitMode::Uninterruptible, || {
        let st = conn.stats();
        st.behind_works.load(Ordering::Acquire) == 0
            && st.wb_inode_refs.load(Ordering::Acquire) == 0
    });
}
