// SPDX-License-Identifier: GPL-2.0

//! `write_iter` and direct I/O.
//!
//! Three ways to write:
//! - write-back mode, buffered: into the page cache (`generic_perform_write`
//!   with `fs::writeback`'s `write_begin`/`write_end`); no WRITE now;
//! - write-through mode, buffered: synchronous WRITEs of at most `max_write`
//!   bytes and `max_pages` pages each (BIG_WRITES), then the written range's
//!   cached folios are dropped so later reads see the server's data;
//! - O_DIRECT (either mode) and FOPEN_DIRECT_IO files: the same synchronous
//!   WRITEs, after writing back and waiting for cached data of the range.
//!
//! A short WRITE reply ends the write: the caller gets the short count.

use super::file::FuseFile;
use super::{file as ffile, writeback};
use super::{Inode, Kiocb};
use crate::abi;
use crate::conn::{Connection, Data, DATA_CHUNK};
use crate::proto::{
    pod,
    reply::ReplyKind,
    request::{IN_HEADER, WRITE_IN},
    write as pw,
};
use crate::vfs::{self, iov::IovIter};
use kernel::prelude::*;

/// `file_operations.write_iter`.
pub(crate) fn write_iter(iocb: &mut Kiocb<'_>, from: &mut IovIter<'_>) -> Result<usize> {
    let file = iocb.file();
    let inode = file.inode();
    inode.data().check()?;
    let ff = file.data().ok_or(EIO)?;
    let direct = iocb.is_direct() || ff.open_flags & abi::FOPEN_DIRECT_IO != 0;
    let wb = writeback::is_wb(inode);
    let conn = inode.sb().data();
    if wb && ff.open_flags & abi::FOPEN_DIRECT_IO == 0 {
        // The mode decides below whether the write clears suid/sgid; in
        // write-back mode no WRITE reaches the server now to clear them
        // there, so expired attributes are refreshed first (as mainline's
        // fuse_cache_write_iter: a GETATTR per write with a zero timeout).
        super::dir::update_attributes(inode, Some(ff))?;
    }
    let mut start = 0;
    let mut cached = false;
    let written = {
        let _lock = inode.lock();
        let count = iocb.write_checks(from)?;
        if count == 0 {
            return Ok(0);
        }
        // A server with HANDLE_KILLPRIV_V2 clears suid/sgid itself when a
        // WRITE says so (FUSE_WRITE_KILL_SUIDGID: a writer without
        // CAP_FSETID); a write that must clear them goes to it at once,
        // not through the cache (as mainline's fuse_cache_write_iter).
        let v2 = conn.params().server_kills_privs();
        let kill = v2 && inode.should_drop_suidgid();
        let write_flags = if v2 && !vfs::cred::current_has_fsetid() {
            abi::FUSE_WRITE_KILL_SUIDGID
        } else {
            0
        };
        file.remove_privs()?;
        if wb && !direct && !kill {
            file.update_time()?;
            start = iocb.pos();
            cached = true;
            iocb.perform_write(from)?
        } else {
            let n = direct_write(iocb, from, count, write_flags)?;
            if kill {
                // The server changed the mode.
                inode.data().invalidate_attrs(&conn);
            }
            n
        }
    };
    if cached && written > 0 {
        writeback::write_behind(inode, start, iocb.pos());
    }
    iocb.write_sync(written)
}

/// Synchronous WRITEs of `count` bytes at the kiocb's position, with
/// `write_flags` (`FUSE_WRITE_*`).
fn direct_write(
    iocb: &mut Kiocb<'_>,
    from: &mut IovIter<'_>,
    count: usize,
    write_flags: u32,
) -> Result<usize> {
    let file = iocb.file();
    let inode = file.inode();
    let conn = inode.sb().data();
    let ff = file.data().ok_or(EIO)?;
    let pos = iocb.pos();
    before_direct_write(inode, pos, count)?;
    let (max, max_pages) = write_limits(&conn, iocb.is_direct());
    let mut done = 0usize;
    let mut err = None;
    while done < count {
        let at = pos.saturating_add(done as i64);
        // CAST: `at` is non-negative.
        let n = pw::chunk_len(at as u64, count - done, max, max_pages, vfs::PAGE_SIZE);
        match write_chunk(&conn, inode, ff, from, at, n, write_flags) {
            Ok((written, sent)) => {
                done += written;
                if written < sent {
                    // Short: the caller sees what was written.
                    break;
                }
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    if done == 0 {
        return Err(err.unwrap_or(EIO));
    }
    after_direct_write(iocb, &conn, pos, done);
    Ok(done)
}

/// Before WRITEs of `count` bytes at `pos` bypass the page cache: a size
/// change a killed task left with the server goes first, and cached data
/// of the range is written and dropped (it must not be written back over
/// ours later). Without cached folios only WRITEs in flight can be.
fn before_direct_write(inode: &Inode, pos: i64, count: usize) -> Result {
    writeback::settled(inode)?;
    if inode.has_cached_pages() {
        writeback::flush_range(inode, pos, count)?;
        inode.invalidate_range(pos, pos.saturating_add(count as i64 - 1));
        Ok(())
    } else {
        writeback::wait_bytes(inode, pos, count)
    }
}

/// The largest WRITE (bytes, pages). Buffered write-through without
/// BIG_WRITES: one page per WRITE (as mainline); direct I/O is bounded by
/// max_write alone.
fn write_limits(conn: &Connection, direct: bool) -> (usize, u32) {
    let params = conn.params();
    let max_pages = if direct || params.has(u64::from(abi::FUSE_BIG_WRITES)) {
        params.max_pages
    } else {
        1
    };
    (
        pw::max_write_bytes(params.max_write, max_pages, vfs::PAGE_SIZE),
        max_pages,
    )
}

/// One synchronous WRITE of up to `n` bytes from `from` at `at`: the bytes
/// the server wrote and the bytes sent. What was not written is given back
/// to `from`.
fn write_chunk(
    conn: &Connection,
    inode: &Inode,
    ff: &FuseFile,
    from: &mut IovIter<'_>,
    at: i64,
    n: usize,
    write_flags: u32,
) -> Result<(usize, usize)> {
    let (mut msg, data, got) = write_message(from, n)?;
    if got == 0 {
        return Err(EFAULT);
    }
    let arg = abi::fuse_write_in {
        fh: ff.fh,
        // CAST: non-negative.
        offset: at as u64,
        size: got as u32,
        write_flags,
        lock_owner: 0,
        flags: ff.flags,
        padding: 0,
    };
    if let Some(room) = msg.get_mut(IN_HEADER..IN_HEADER + WRITE_IN) {
        room.copy_from_slice(pod::bytes_of(&arg));
    }
    // The file's RELEASE comes after the WRITE, even if we are killed.
    let hold = match writeback::HandleUse::hold(inode, ff) {
        Ok(h) => h,
        Err(e) => {
            from.revert(got);
            return Err(e);
        }
    };
    let reply = conn.request_msg(
        abi::fuse_opcode_FUSE_WRITE,
        inode.data().nodeid(),
        msg,
        data,
        ReplyKind::Write { max: got as u64 },
        hold,
    );
    // The reply was validated: a `fuse_write_out` of at most `got` bytes.
    let written = match reply.and_then(|p| pod::read_exact::<abi::fuse_write_out>(&p).ok_or(EIO)) {
        Ok(out) => out.size as usize,
        Err(e) => {
            from.revert(got);
            return Err(e);
        }
    };
    if written < got {
        from.revert(got - written);
    }
    Ok((written, got))
}

/// After `done` bytes at `pos` were written past the page cache: the size
/// grows to cover them, the position moves, folios a reader brought in
/// meanwhile (which may hold the old data) go, and the times change.
fn after_direct_write(iocb: &mut Kiocb<'_>, conn: &Connection, pos: i64, done: usize) {
    let inode = iocb.file().inode();
    let new_end = pos.saturating_add(done as i64);
    if new_end > inode.size() {
        writeback::zero_past_eof(inode, inode.size());
        inode.set_size(new_end);
    }
    iocb.set_pos(new_end);
    if inode.has_cached_pages() {
        inode.invalidate_range(pos, new_end - 1);
    }
    super::inode::data_changed(inode, conn);
}

/// Builds a synchronous WRITE of up to `n` bytes from the user buffer: a
/// message with room for `fuse_in_header` and `fuse_write_in` (the caller
/// fills it in once the length is known), and the data copied from the
/// user buffer (no bounce buffer: the request sends it). Up to
/// `DATA_CHUNK` bytes follow in the message itself (one allocation for a
/// small WRITE); more go in pieces. Returns the message, the pieces and
/// how many bytes were copied, fewer on a fault.
fn write_message(from: &mut IovIter<'_>, n: usize) -> Result<(KVVec<u8>, Data, usize)> {
    let head = IN_HEADER + WRITE_IN;
    let inline = if n <= DATA_CHUNK { n } else { 0 };
    let mut msg = KVVec::with_capacity(head + inline, GFP_KERNEL)?;
    msg.extend_with(head, 0, GFP_KERNEL)?;
    if inline > 0 {
        let got = from.read_into(inline, &mut msg)?;
        return Ok((msg, KVec::new(), got));
    }
    let (data, got) = user_data(from, n)?;
    Ok((msg, data, got))
}

/// Copies up to `n` bytes from the user buffer into the pieces of a
/// WRITE's data. Returns them and how many bytes were copied, fewer on a
/// fault.
fn user_data(from: &mut IovIter<'_>, n: usize) -> Result<(Data, usize)> {
    let mut got = 0usize;
    let res = (|| -> Result<Data> {
        let mut data = KVec::with_capacity(n.div_ceil(DATA_CHUNK).max(1), GFP_KERNEL)?;
        while got < n {
            let want = (n - got).min(DATA_CHUNK);
            let mut piece = KVVec::with_capacity(want, GFP_KERNEL)?;
            let k = from.read_into(want, &mut piece)?;
            got += k;
            if k > 0 {
                data.push(piece, GFP_KERNEL)?;
            }
            if k < want {
                break;
            }
        }
        Ok(data)
    })();
    match res {
        Ok(data) => Ok((data, got)),
        Err(e) => {
            // Nothing was sent: give the bytes back.
            from.revert(got);
            Err(e)
        }
    }
}

/// Direct read (O_DIRECT, FOPEN_DIRECT_IO): READs straight into the user
/// buffer, after cached data of the range reached the server.
pub(crate) fn direct_read(iocb: &mut Kiocb<'_>, to: &mut IovIter<'_>) -> Result<usize> {
    let file = iocb.file();
    let inode = file.inode();
    inode.data().check()?;
    let count = to.len();
    if count == 0 {
        return Ok(0);
    }
    let pos = iocb.pos();
    writeback::flush_range(inode, pos, count)?;
    let conn = inode.sb().data();
    let chunk = ffile::max_read(&conn);
    let mut done = 0usize;
    let mut eof = false;
    while done < count {
        let at = pos.saturating_add(done as i64);
        let n = (count - done).min(chunk);
        let data = match ffile::read_range(inode, Some(file), at, n) {
            Ok(d) => d,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let put = to.write_some(&data);
        done += put;
        if put < data.len() {
            if done == 0 {
                return Err(EFAULT);
            }
            break;
        }
        if data.len() < n {
            eof = true;
            break;
        }
    }
    if eof && writeback::is_wb(inode) {
        // The kernel owns the size: what the server lacks below it is a
        // hole (its file may end early while dirty data past this range
        // is still to be written), as for reads through the page cache.
        let end = pos.saturating_add(count as i64).min(inode.size());
        let at = pos.saturating_add(done as i64);
        if at < end {
            // CAST: `end - at` is at most `count - done`.
            done += to.zero((end - at) as usize);
        }
    }
    iocb.set_pos(pos.saturating_add(done as i64));
    Ok(done)
}
