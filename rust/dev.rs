// SPDX-License-Identifier: GPL-2.0

//! `/dev/fuse-wb`: an open device file and the connection mounted on it.
//!
//! The server opens the device, passes its file descriptor to mount(2)
//! (`fd=N`), then reads requests and writes replies. Closing the last file
//! descriptor aborts the connection.

use crate::conn::Connection;
use crate::vfs::iov::IovIter;
use crate::vfs::misc::{self, MiscDevice, PollTable};
use kernel::prelude::*;
use kernel::sync::{Arc, SpinLock};

/// The `/dev/fuse-wb` misc device.
pub(crate) struct Device;

impl Device {
    /// Registers `/dev/fuse-wb` (mode 0666 like `/dev/fuse`).
    pub(crate) fn register() -> Result<misc::Registration<Device>> {
        misc::Registration::register(c"fuse-wb", 0o666)
    }
}

/// One open `/dev/fuse-wb`.
#[pin_data]
pub(crate) struct DevFile {
    #[pin]
    conn: SpinLock<Option<Arc<Connection>>>,
}

impl DevFile {
    /// The connection mounted on this file, if any.
    pub(crate) fn connection(&self) -> Option<Arc<Connection>> {
        self.conn.lock().clone()
    }

    /// Attaches a new mount's connection; a file serves one mount only.
    pub(crate) fn attach(&self, conn: &Arc<Connection>) -> Result {
        let mut g = self.conn.lock();
        if g.is_some() {
            return Err(EINVAL);
        }
        *g = Some(conn.clone());
        Ok(())
    }
}

#[vtable]
impl MiscDevice for Device {
    type Data = DevFile;

    /// open(2) of the device.
    fn open() -> Result<Arc<DevFile>> {
        Arc::pin_init(
            pin_init!(DevFile { conn <- kernel::new_spinlock!(None, "fuse_wb::DevFile::conn") }),
            GFP_KERNEL,
        )
    }

    /// Last close of the device: the server is gone, abort its connection.
    fn release(d: Arc<DevFile>) {
        // Not under the lock: the abort ends requests, whose last references
        // may drop inodes (and evicting one sleeps).
        let conn = d.conn.lock().take();
        if let Some(c) = conn {
            c.abort();
        }
    }

    /// read(2): the next request for the server.
    fn read(d: &DevFile, dst: &mut IovIter<'_>, nonblock: bool) -> Result<usize> {
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
    fn poll(d: &DevFile, table: &mut PollTable<'_>) -> u32 {
        let Some(conn) = d.connection() else {
            // Not mounted yet: writable, nothing to read (as mainline).
            return misc::POLL_OUT;
        };
        // The wait queue lives in the connection, which outlives the file's
        // reference to it.
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
