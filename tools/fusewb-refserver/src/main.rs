//! `fusewb-refserver`: the project's reference FUSE server, a passthrough of a
//! backing directory built on the `fuser` crate, for tests and benchmarks of
//! both fuse-wb and mainline FUSE.
//!
//! It never mounts anything itself: the mount helper mounts and hands it the
//! connection as `/dev/fd/N`:
//!
//! ```sh
//! fusewb-mount /mnt -- fusewb-refserver --source /srv %m
//! fusewb-mount -o allow_wbcache /mnt -- fusewb-refserver --writeback --stats /tmp/st --source /srv %m
//! fusewb-mount --mainline /mnt -- fusewb-refserver --source /srv %m
//! ```
//!
//! Options:
//!
//! - `--source DIR` (required): the backing directory.
//! - `--writeback`: request `FUSE_WRITEBACK_CACHE` at INIT when the kernel
//!   offers it (fuse-wb offers it with the mount option `allow_wbcache`).
//! - `--max-write BYTES` (default 1 MiB, `K`/`M` suffixes): `max_write` at
//!   INIT; fuser derives `max_pages` from it when the kernel offers
//!   `FUSE_MAX_PAGES`.
//! - `--write-latency-us N`: sleep N µs in every WRITE before replying, to
//!   model a network back end.
//! - `--stats FILE`: write request statistics (per-opcode counts and bytes, a
//!   power-of-two histogram of WRITE sizes; `key value` lines, see
//!   [`stats::Stats::render`]) when the server ends (SIGTERM, SIGINT, or the
//!   kernel closing the connection) and on SIGUSR1.
//!
//! Semantics: every FUSE inode holds an `O_PATH` descriptor of its backing
//! file and lives until the kernel FORGETs all its lookups. Backing files are
//! opened read-write when the kernel opens them write-only (a write-back
//! kernel may READ on such handles) and never with `O_APPEND` (every WRITE is
//! done at its exact offset). When run as root, new nodes are given the
//! requesting uid/gid. Requests are served by one thread, in order.

mod cli;
mod fs;
mod stats;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use fuser::{Config, Session, SessionACL};

use crate::cli::Command;
use crate::stats::Stats;

fn dump(stats: &Mutex<Stats>, path: &Option<PathBuf>) {
    if let Some(path) = path {
        let s = stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Err(e) = s.write_to(path) {
            eprintln!("fusewb-refserver: writing {}: {e}", path.display());
        }
    }
}

/// Blocks SIGTERM, SIGINT and SIGUSR1 in this thread (and so in every thread
/// spawned later) and handles them in a dedicated thread with `sigwait`.
fn handle_signals(stats: Arc<Mutex<Stats>>, path: Option<PathBuf>) -> std::io::Result<()> {
    // SAFETY: plain libc signal-set manipulation on a local set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        let r = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if r != 0 {
            return Err(std::io::Error::from_raw_os_error(r));
        }
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig = 0;
            // SAFETY: valid set and out pointer.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            dump(&stats, &path);
            if sig != libc::SIGUSR1 {
                // The mount helper unmounts once we are gone.
                std::process::exit(0);
            }
        })?;
    Ok(())
}

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fusewb-refserver: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(opts.fd, libc::F_GETFD) } < 0 {
        eprintln!(
            "fusewb-refserver: /dev/fd/{}: {}",
            opts.fd,
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    // SAFETY: the descriptor is open (checked above) and was handed to us to own.
    let fd = unsafe { OwnedFd::from_raw_fd(opts.fd) };

    let stats = Arc::new(Mutex::new(Stats::default()));
    let stats_path = opts.stats.clone();
    if let Err(e) = handle_signals(stats.clone(), stats_path.clone()) {
        eprintln!("fusewb-refserver: signals: {e}");
        return ExitCode::FAILURE;
    }
    let fs = match fs::RefFs::new(opts.clone(), stats.clone()) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("fusewb-refserver: {}: {e}", opts.source.display());
            return ExitCode::FAILURE;
        }
    };
    // Access control is the kernel's (allow_other, default_permissions).
    let result =
        Session::from_fd(fs, fd, SessionACL::All, Config::default()).and_then(Session::run);
    dump(&stats, &stats_path);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fusewb-refserver: {e}");
            ExitCode::FAILURE
        }
    }
}
