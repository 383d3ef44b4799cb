//! `fusewb-stress`: a concurrency stress test and model checker for a
//! directory, meant for a fuse-wb write-back mount in the test VM (it runs
//! on any filesystem: tmpfs and ext4 on the host pass it).
//!
//! ```text
//! fusewb-stress DIR [--seconds N] [--ops N] [--seed S] [--threads T] [--racers R]
//!                   [--files F] [--max-size BYTES] [--no-direct] [--no-mmap]
//!                   [--drop-caches] [--tolerate-errors] [--durable BACKING]
//! ```
//!
//! # Design
//!
//! `F` shared files `DIR/stress-0` .. `DIR/stress-{F-1}` (default 3) are
//! created empty (`O_CREAT | O_TRUNC`). The program keeps a model of each:
//! a `Vec<u8>` of the bytes it must contain, so also its size.
//!
//! `T` worker threads (default 4) each hold their own descriptors of every
//! file: one `O_RDWR`, one `O_RDWR | O_APPEND` and, unless `--no-direct`,
//! one `O_RDONLY | O_DIRECT` (when the filesystem refuses `O_DIRECT` with
//! EINVAL, direct reads are turned off and the start says so). Each worker
//! loops choosing an operation and a file with its own xorshift generator,
//! seeded from the seed plus the thread's index:
//!
//! - append: `write` on the `O_APPEND` descriptor, 1 B .. 256 KiB;
//! - pwrite: at an offset up to 64 KiB past the end (leaving a hole of
//!   zeros), 1 B .. 256 KiB;
//! - truncate: `ftruncate` shrinking (often within the last two pages) or
//!   extending by up to 1 MiB (the extension reads as zeros);
//! - fstat: `st_size` must equal the model's size (on any of the
//!   descriptors);
//! - pread: a range, possibly crossing or past the end, must read back as
//!   the model (fewer bytes at the end, none past it);
//! - direct: the same with `O_DIRECT`: 4096-aligned buffer, offset and
//!   length (short at the end of the file);
//! - mmap: a `MAP_SHARED` mapping of the whole pages covering a range that
//!   lies within the current size, a copy into it, `munmap` (the pages are
//!   first populated with `MADV_POPULATE_WRITE`, so a page the filesystem
//!   cannot supply is an error, not a SIGBUS); nothing past the end of the
//!   file is ever touched;
//! - fsync: `fsync` or `fdatasync` on one of the descriptors;
//! - reopen: close (checking `close`'s result: on FUSE, the FLUSH's) and
//!   reopen all the thread's descriptors.
//!
//! Offsets are chosen uniformly, page-aligned, near the end of the file or
//! near a page boundary; lengths tiny, a few pages or large. Files never
//! grow past `--max-size` (default 4 MiB): an append that finds no room
//! shrinks the file instead.
//!
//! Every operation that changes data or checks it runs under one global
//! mutex which also updates or checks the model, so the expected content is
//! exact whatever the interleaving. The data written by operation number
//! `n` is a pseudo-random pattern of (seed, `n`) without zero bytes, so a
//! lost write or a zeroed page always shows. fsync and reopen touch no
//! model and run outside the lock, racing with the other workers (under it
//! with `--tolerate-errors`). Besides, `R` racer threads (default 2) run
//! without the lock, in a tight loop, `fstat` and small `pread`s on random
//! files through their own descriptors: their results are not checked, they
//! only make concurrent traffic (attribute refreshes and reads racing the
//! writers); their system call errors count like the workers'.
//!
//! The run ends after `--seconds` (default 20) or `--ops` operations of
//! the workers in total (default 0: no limit), whichever comes first. Then
//! all threads stop and close their descriptors, every file is fsynced,
//! with `--drop-caches` "3" is written to `/proc/sys/vm/drop_caches` (needs
//! root; a failure is a warning) so that the data comes back from the
//! server, and each file's whole content (normal reads) and size are
//! compared with the model.
//!
//! # Output and exit status
//!
//! A start line with all parameters and the seed; every 5 s a progress line
//! (`stress: 10 s, 12345 ops (append 1234, pwrite ..., ...; racers N)`); at
//! the end a line with the counts and ops/s, then
//! `stress: N ops in S s, seed X: all F files match` and exit status 0.
//!
//! The first mismatch (a read or a size that differs from the model) is
//! printed with the file, the offset, a few expected and found bytes, the
//! operation number and kind, the thread, the last changes made to that
//! file and the seed with a command line to replay the same choices (the
//! interleaving of the threads is up to the scheduler, so a replay is not
//! exact); the run stops and the exit status is 1. A failed system call
//! (any of them, racers' included) is a failure too, printed with the
//! operation and the errno name.
//!
//! With `--tolerate-errors` (for fault injection: the connection aborted or
//! the server killed mid-run), failed system calls (ENOTCONN, EIO, EINTR,
//! ...) are counted and printed (the first 20), the model is no longer
//! checked after the first one, and the exit status is 0 when the run ends
//! by itself; a mismatch seen before any error still fails. SIGTERM and
//! SIGINT keep their default action. A usage error exits with status 2.
//!
//! With `--durable BACKING` (the server's directory of the files, for a
//! passthrough server) fsync runs under the lock too, and each successful
//! one records the file's content as durable; every later change marks
//! the bytes it touched (a failed operation marks what it may have done
//! in part). At the end, after the final fsync, each `BACKING/stress-N`
//! must hold every durable byte not touched since, and the durable size if
//! no size change came after. This check survives faults: an abort or a
//! dead server may lose what was never fsynced, never what was. Snapshots
//! stop at the first tolerated error (the model may be off from then on).

mod cli;
mod model;
mod rng;
mod stress;
mod sys;

use std::process::ExitCode;

use crate::cli::Command;

fn main() -> ExitCode {
    let cfg = match cli::parse(std::env::args().skip(1), cli::time_seed()) {
        Ok(Command::Run(c)) => c,
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fusewb-stress: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if stress::run(&cfg).ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
