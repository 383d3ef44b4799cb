// SPDX-License-Identifier: GPL-2.0

//! `/dev/fuse-wb`: an open device file and the connection mounted on it.
//!
//! The server opens the device, passes its file descriptor to mount(2)
//! (`fd=N`), then reads requests and writes replies. Closing the last file
//! descriptor aborts the connection.

use crate::conn::Connection;
use crate::vfs::iov::{IovIter, MsgDst};
use crate::vfs::misc::{self, MiscDevice, PollTable};
use crate::vfs::once::OnceArc;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The `/dev/fuse-wb` misc device.
pub(crate) struct Device;

impl Device {
    /// Registers `/dev/fuse-wb` (mode 0666 like `/dev/fuse`).
    pub(crate) fn register() -> Result<misc::Registration<Device>> {
        misc::Registration::register(c"fuse-wb", 0o666)
    }
}

/// One open `/dev/fuse-wb`.
pub(crate) struct DevFile {
    /// The connection of the mount served through this file: set once, by
    /// the mount, and kept until the file is closed.
    conn: OnceArc<Connection>,
}

impl DevFile {
    /// The connection mounted on this file, if any.
    pub(crate) fn connection(&self) -> Option<&Connection> {
        self.conn.get()
    }

    /// Attaches a new mount's connection; a file serves one mount only.
    pub(crate) fn attach(&self, conn: &Arc<Connection>) -> Result {
        self.conn.set(conn.clone()).map_err(|_| EINVAL)
    }
}

#[vtable]
impl MiscDevice for Device {
    type Data = DevFile;

    /// open(2) of the device.
    fn open() -> Result<Arc<DevFile>> {
        Ok(Arc::new(
            DevFile {
                conn: OnceArc::new(),
            },
            GFP_KERNEL,
        )?)
    }

    /// Last close of the device: the server is gone, abort its connection.
    fn release(d: Arc<DevFile>) {
        if let Some(c) = d.connection() {
            c.abort();
        }
        // The file's reference to the connection goes with `d` (the last
        // one unless a mount being made still holds the file).
    }

    /// read(2) or splice(2): the next request for the server.
    fn read(d: &DevFile, dst: &mut dyn MsgDst, nonblock: bool) -> Result<usize> {
        // As mainline: reading a device that is not mounted yet is refused.
        let conn = d.connection().ok_or(EPERM)?;
        conn.dev_read(dst, nonblock)
    }

    /// write(2): a reply from the server.
    fn write(d: &DevFile, src: &mut IovIter<'_>) -> Result<usize> {
        let conn = d.connection().ok_or(EPERM)?;
        conn.dev_write(src)
    }

    /// poll(2): always writable; readable when a request waits; an error
    /// once aborted.
    fn poll<'a>(d: &'a DevFile, table: &mut PollTable<'a>) -> u32 {
        let Some(conn) = d.connection() else {
            // Not mounted yet: writable, nothing to read (as mainline).
            return misc::POLL_OUT;
        };
        // The wait queue lives in the connection, which the file keeps
        // until it is released.
        table.register(conn.readers());
        let (ready, aborted) = conn.poll_state();
        let mut mask = misc::POLL_OUT;
        if aborted {
            return mask | misc::POLL_ERR;
        }
        if ready {
            mask |= misc::POLL_IN;
        }
        mask
    }
}
