// SPDX-License-Identifier: GPL-2.0

//! `/dev/fuse-wb`: an open device file and the connection mounted on it.
//!
//! The server opens the device, passes its file descriptor to mount(2)
//! (`fd=N`), then reads requests and writes replies. Closing the last file
//! descriptor aborts the connection.

use crate::conn::Connection;
use crate::vfs::iov::IovIter;
use kernel::prelude::*;
use kernel::sync::{Arc, SpinLock};

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

/// open(2) of the device.
pub(crate) fn open() -> Result<Arc<DevFile>> {
    Arc::pin_init(
        pin_init!(DevFile { conn <- kernel::new_spinlock!(None, "fuse_wb::DevFile::conn") }),
        GFP_KERNEL,
    )
}

/// Last close of the device: the server is gone, abort its connection.
pub(crate) fn release(d: Arc<DevFile>) {
    // Not under the lock: the abort ends requests, whose last references
    // may drop inodes (and evicting one sleeps).
    let conn = d.conn.lock().take();
    if let Some(c) = conn {
        c.abort();
    }
}

/// read(2): the next request for the server.
pub(crate) fn read(d: &DevFile, dst: &mut IovIter<'_>, nonblock: bool) -> Result<usize> {
    // As mainline: reading a device that is not mounted yet is refused.
    let conn = d.connection().ok_or(EPERM)?;
    conn.dev_read(dst, nonblock)
}

/// write(2): a reply from the server.
pub(crate) fn write(d: &DevFile, src: &mut IovIter<'_>) -> Result<usize> {
    let conn = d.connection().ok_or(EPERM)?;
    conn.dev_write(src)
}
