// SPDX-License-Identifier: GPL-2.0

//! POLL, as mainline's `fuse_file_poll`: the server says which events are
//! ready; when someone will wait, it is asked to send NOTIFY_POLL with the
//! file's poll handle once that changes (the connection wakes the file's
//! pollers then). A server without POLL (ENOSYS, remembered) makes every
//! file readable and writable, as a file without poll support.

use super::File;
use crate::abi;
use crate::proto::{pod, reply::ReplyKind, request::poll_in};
use crate::vfs::{
    self,
    misc::{PollTable, POLL_DEFAULT, POLL_ERR},
};

/// `file_operations.poll`.
pub(crate) fn poll<'a>(file: &'a File, table: &mut PollTable<'a>) -> u32 {
    let inode = file.inode();
    let conn = inode.sb().data();
    if conn.is_enosys(abi::fuse_opcode_FUSE_POLL) {
        return POLL_DEFAULT;
    }
    let Some(ff) = file.data() else {
        return POLL_ERR;
    };
    if inode.data().check().is_err() {
        return POLL_ERR;
    }
    let Ok(wq) = ff.poll_queue() else {
        return POLL_ERR;
    };
    if let Some(q) = ff.poll_queue_ref() {
        table.register(q);
    }
    let kh = ff.poll_handle(&conn);
    let notify = table.will_wait();
    if notify && conn.polled(kh, wq).is_err() {
        return POLL_ERR;
    }
    let arg = poll_in(ff.fh, kh, notify, table.requested_events());
    match conn.request(
        abi::fuse_opcode_FUSE_POLL,
        inode.data().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Poll,
    ) {
        // `__poll_t` and the wire's poll bits are the same on this
        // architecture (no `mangle_poll` needed).
        Ok(r) => pod::read_exact::<abi::fuse_poll_out>(&r).map_or(POLL_ERR, |o| o.revents),
        Err(e) if e == vfs::enosys() => POLL_DEFAULT,
        Err(_) => POLL_ERR,
    }
}
