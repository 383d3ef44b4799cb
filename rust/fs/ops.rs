// SPDX-License-Identifier: GPL-2.0

//! The filesystem's side of the glue's operation traits: [`FuseWb`]
//! implements them by calling the logic in the other files of `fs`. (The
//! remaining C tables of `vfs` still call into `fs` directly; they move
//! behind traits the same way.)

use super::{dir, file as ffile, writeback};
use crate::vfs::{
    dentry::{Dentry, DentryOperations},
    file::File,
    folio::{AddressSpaceOperations, LockedFolio, Readahead, WritebackCtl},
    inode::Inode,
    mm::VmOperations,
};
use kernel::prelude::*;

/// The fuse-wb filesystem type.
pub(crate) struct FuseWb;

#[vtable]
impl AddressSpaceOperations for FuseWb {
    fn read_folio(inode: &Inode, file: Option<&File>, folio: LockedFolio) -> Result {
        ffile::read_folio(inode, file, folio)
    }

    fn readahead(inode: &Inode, ra: &mut Readahead<'_>) {
        ffile::readahead(inode, ra)
    }

    fn writepages(inode: &Inode, ctl: &mut WritebackCtl<'_>) -> Result {
        writeback::writepages(inode, ctl)
    }

    fn write_begin(
        inode: &Inode,
        file: Option<&File>,
        pos: i64,
        len: usize,
    ) -> Result<LockedFolio> {
        writeback::write_begin(inode, file, pos, len)
    }

    fn write_end(inode: &Inode, pos: i64, len: usize, copied: usize, folio: LockedFolio) -> usize {
        writeback::write_end(inode, pos, len, copied, folio)
    }

    fn launder_folio(inode: &Inode, folio: &mut LockedFolio) -> Result {
        writeback::launder_folio(inode, folio)
    }
}

#[vtable]
impl VmOperations for FuseWb {
    fn fault_updates_times(inode: &Inode) -> bool {
        // In write-back mode the kernel owns the times (else the server).
        writeback::is_wb(inode)
    }

    fn page_mkwrite(_file: &File, inode: &Inode, folio: &LockedFolio) -> Result {
        writeback::page_mkwrite(inode, folio)
    }

    fn close_shared(inode: &Inode) {
        ffile::vma_close(inode)
    }
}

#[vtable]
impl DentryOperations for FuseWb {
    fn revalidate(dentry: &Dentry, rcu: bool, flags: u32) -> Result<bool> {
        dir::revalidate(dentry, rcu, flags)
    }
}
