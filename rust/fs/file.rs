// SPDX-License-Identifier: GPL-2.0

//! Open files and the read path: OPEN/OPENDIR, RELEASE/RELEASEDIR, and
//! READ through the page cache (`read_folio`, `readahead`).

use super::dir;
use crate::abi;
use crate::bindings;
use crate::conn::{Connection, Payload};
use crate::proto::{pod, reply::ReplyKind};
use crate::vfs::{
    self,
    file::File,
    folio::{LockedFolio, Readahead},
    inode::{Inode, Kind},
};
use kernel::prelude::*;

/// fuse-wb's state of an open file or directory.
pub(crate) struct FuseFile {
    /// The server's file handle.
    pub(crate) fh: u64,
    /// `FOPEN_*` flags from the server.
    pub(crate) open_flags: u32,
    /// The `O_*` flags of the open.
    pub(crate) flags: u32,
    /// The server does not implement OPEN(DIR): no RELEASE either.
    no_release: bool,
}

fn open_opcodes(kind: Kind) -> (u32, u32) {
    if kind == Kind::Dir {
        (
            abi::fuse_opcode_FUSE_OPENDIR,
            abi::fuse_opcode_FUSE_RELEASEDIR,
        )
    } else {
        (abi::fuse_opcode_FUSE_OPEN, abi::fuse_opcode_FUSE_RELEASE)
    }
}

/// `file_operations.open`: OPEN or OPENDIR.
pub(crate) fn open(inode: &Inode, file: &File) -> Result<KBox<FuseFile>> {
    inode.fuse().check()?;
    let conn = inode.sb().conn();
    let (op, _) = open_opcodes(inode.kind());
    let flags = file.flags();
    if conn.is_enosys(op) {
        return Ok(KBox::new(
            FuseFile {
                fh: 0,
                open_flags: 0,
                flags,
                no_release: true,
            },
            GFP_KERNEL,
        )?);
    }
    // As mainline: creation flags are the VFS's business, not the server's.
    let wire_flags =
        flags & !(bindings::O_CREAT | bindings::O_EXCL | bindings::O_NOCTTY | bindings::O_TRUNC);
    let arg = abi::fuse_open_in {
        flags: wire_flags,
        open_flags: 0,
    };
    let ff = match conn.request(
        op,
        inode.fuse().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Open,
    ) {
        Ok(reply) => {
            let out = pod::read_exact::<abi::fuse_open_out>(&reply).ok_or(EIO)?;
            FuseFile {
                fh: out.fh,
                open_flags: out.open_flags,
                flags,
                no_release: false,
            }
        }
        // No OPEN support: every open succeeds without a handle (as mainline).
        Err(e) if e == vfs::enosys() => FuseFile {
            fh: 0,
            open_flags: 0,
            flags,
            no_release: true,
        },
        Err(e) => return Err(e),
    };
    if inode.kind() == Kind::Reg && ff.open_flags & abi::FOPEN_KEEP_CACHE == 0 {
        inode.invalidate_pages();
    }
    Ok(KBox::new(ff, GFP_KERNEL)?)
}

/// `file_operations.release`: RELEASE or RELEASEDIR, in the background.
pub(crate) fn release(inode: &Inode, ff: KBox<FuseFile>) {
    if ff.no_release {
        return;
    }
    let conn = inode.sb().conn();
    let (_, op) = open_opcodes(inode.kind());
    let arg = abi::fuse_release_in {
        fh: ff.fh,
        flags: ff.flags,
        release_flags: 0,
        lock_owner: 0,
    };
    // Nothing to do if it fails: the connection is gone or out of memory.
    let _ = conn.request_background(op, inode.fuse().nodeid(), &[pod::bytes_of(&arg)]);
}

/// Before a buffered read: refresh the size if the read goes past it (or
/// the server wants data changes noticed), as mainline.
pub(crate) fn before_read(file: &File, pos: i64, len: usize) -> Result {
    let inode = file.inode();
    inode.fuse().check()?;
    let conn = inode.sb().conn();
    let end = pos.saturating_add(i64::try_from(len).unwrap_or(i64::MAX));
    if conn.params().has(u64::from(abi::FUSE_AUTO_INVAL_DATA)) || end > inode.size() {
        dir::update_attributes(inode)?;
    }
    Ok(())
}

/// Before llseek: SEEK_END needs a fresh size.
pub(crate) fn before_llseek(file: &File, whence: u32) -> Result {
    if whence == bindings::SEEK_END {
        dir::update_attributes(file.inode())?;
    }
    Ok(())
}

/// Largest READ this connection sends, in bytes.
fn max_read(conn: &Connection) -> usize {
    let pages = conn.params().max_pages as usize * vfs::PAGE_SIZE;
    match conn.opts.max_read {
        Some(m) => pages.min((m as usize).max(vfs::PAGE_SIZE)),
        None => pages,
    }
}

/// Sends READ of `len` bytes at `pos` on the open file `file`.
fn read_range(inode: &Inode, file: Option<&File>, pos: i64, len: usize) -> Result<Payload> {
    inode.fuse().check()?;
    let ff = file.and_then(|f| f.fuse()).ok_or(EIO)?;
    let conn = inode.sb().conn();
    let arg = abi::fuse_read_in {
        fh: ff.fh,
        offset: u64::try_from(pos).map_err(|_| EINVAL)?,
        size: u32::try_from(len).map_err(|_| EINVAL)?,
        read_flags: 0,
        lock_owner: 0,
        flags: ff.flags,
        padding: 0,
    };
    conn.request(
        abi::fuse_opcode_FUSE_READ,
        inode.fuse().nodeid(),
        &[pod::bytes_of(&arg)],
        ReplyKind::Data { max: len },
    )
}

/// A READ that returned less than asked for ended at the server's EOF.
fn short_read(inode: &Inode, end: i64, version: u64) {
    super::inode::read_update_size(inode, end, version);
}

/// `address_space_operations.read_folio`.
pub(crate) fn read_folio(inode: &Inode, file: Option<&File>, mut folio: LockedFolio) -> Result {
    let conn = inode.sb().conn();
    let version = conn.attr_version();
    let (pos, size) = (folio.pos(), folio.size());
    let data = read_range(inode, file, pos, size)?;
    folio.fill(&data);
    folio.mark_uptodate();
    drop(folio);
    if data.len() < size {
        short_read(inode, pos.saturating_add(data.len() as i64), version);
    }
    Ok(())
}

/// `address_space_operations.readahead`: READs of up to `max_pages` pages
/// (and `max_read` bytes), each filling the folios it covers.
pub(crate) fn readahead(inode: &Inode, ra: &mut Readahead<'_>) {
    let conn = inode.sb().conn();
    let chunk = max_read(&conn);
    let mut pos = ra.pos();
    let mut left = ra.len();
    let file = ra.file();
    while left > 0 {
        let len = left.min(chunk);
        let version = conn.attr_version();
        let res = read_range(inode, file, pos, len);
        let mut covered = 0;
        while covered < len {
            let Some(mut folio) = ra.next_folio() else {
                return;
            };
            let fsize = folio.size();
            if let Ok(data) = &res {
                let start = covered.min(data.len());
                let end = (covered + fsize).min(data.len());
                folio.fill(data.get(start..end).unwrap_or(&[]));
                folio.mark_uptodate();
            }
            covered += fsize;
        }
        match res {
            Ok(data) => {
                if data.len() < len {
                    short_read(inode, pos.saturating_add(data.len() as i64), version);
                }
            }
            Err(_) => {
                // Leave the rest to read_folio, which reports the error.
                while ra.next_folio().is_some() {}
                return;
            }
        }
        pos = pos.saturating_add(len as i64);
        left -= len;
    }
}
