// SPDX-License-Identifier: GPL-2.0

//! Buffered writes into the page cache (`write_begin`/`write_end`, page
//! faults), and zeroing past EOF when a file grows.

use super::page_index;
use super::wait::wait_range;
use crate::fs::file as ffile;
use crate::fs::{File, Inode};
use crate::vfs;
use crate::vfs::folio::LockedFolio;
use kernel::prelude::*;

/// `write_begin`: the folio for a write of `len` bytes at `pos`, locked,
/// with no WRITE of it in flight, and read first if the write covers it
/// only partly (with the writer's own handle, which may be write-only).
pub(crate) fn write_begin(
    inode: &Inode,
    file: Option<&File>,
    pos: i64,
    len: usize,
) -> Result<LockedFolio> {
    let index = page_index(pos);
    if pos > inode.size() {
        // The bytes between the old EOF and the write become file data:
        // zeroes, not what a shared mapping stored past the old EOF.
        zero_past_eof(inode, inode.size());
    }
    let mut folio = LockedFolio::grab(inode, index)?;
    wait_range(inode, index, index)?;
    let size = folio.size();
    if folio.is_uptodate() || len >= size {
        return Ok(folio);
    }
    let fpos = folio.pos();
    if inode.size() <= fpos {
        // Nothing on the server here yet: start from zeroes.
        folio.zero(0, size);
        return Ok(folio);
    }
    let data = ffile::read_range(inode, file, fpos, size)?;
    folio.fill(&data);
    folio.mark_uptodate();
    Ok(folio)
}

/// `write_end`: `copied` of `len` bytes were copied into the folio.
/// Extends the size before the folio is dirty, so writeback of it is not
/// cropped away. Returns the bytes accepted.
pub(crate) fn write_end(
    inode: &Inode,
    pos: i64,
    len: usize,
    copied: usize,
    mut folio: LockedFolio,
) -> usize {
    if !folio.is_uptodate() {
        if copied < len {
            // Part of a folio that was never read: retry the whole chunk.
            return 0;
        }
        folio.mark_uptodate();
    }
    let end = pos.saturating_add(copied as i64);
    if end > inode.size() {
        inode.set_size(end);
    }
    if copied > 0 {
        folio.mark_dirty();
    }
    copied
}

/// The size grows from `old` (a write past EOF, or a truncate, fallocate
/// or copy that extends the file): the bytes of the cached folio holding
/// the old EOF that lie past it must read as zeros from now on. A shared mapping may have stored
/// there (it maps whole pages); those bytes were never file data, and
/// writeback would otherwise send them as such. Mainline gets the same by
/// writing back and invalidating around every size change.
pub(crate) fn zero_past_eof(inode: &Inode, old: i64) {
    let Ok(old) = u64::try_from(old) else { return };
    let off = (old % vfs::PAGE_SIZE as u64) as usize;
    if off == 0 {
        return;
    }
    let Some(mut folio) = LockedFolio::lookup(inode, old / vfs::PAGE_SIZE as u64) else {
        return;
    };
    // CAST: the folio holds byte `old`, so the difference is within it.
    let start = (old as i64).saturating_sub(folio.pos()) as usize;
    let size = folio.size();
    if start < size {
        folio.zero(start, size - start);
    }
}

/// `page_mkwrite`: a shared mapping is about to dirty `folio` (locked).
pub(crate) fn page_mkwrite(inode: &Inode, folio: &LockedFolio) -> Result {
    wait_range(inode, folio.index(), folio.index())
}
