//! `fusewb-refserver`: the project's reference FUSE server, a passthrough of a
//! backing directory built on the `fuser` crate, for tests and benchmarks of
//! both fuse-wb and mainline FUSE; or, with `--sink-pattern`, a data sink
//! that stores no data and checks every WRITE against a known pattern.
//!
//! It never mounts anything itself: the mount helper mounts and hands it the
//! connection as `/dev/fd/N`:
//!
//! ```sh
//! fusewb-mount /mnt -- fusewb-refserver --source /srv %m
//! fusewb-mount -o allow_wbcache /mnt -- fusewb-refserver --writeback --stats /tmp/st --source /srv %m
//! fusewb-mount --mainline /mnt -- fusewb-refserver --source /srv %m
//! fusewb-mount -o allow_wbcache /mnt -- fusewb-refserver --writeback --sink-pattern 0xd1a70002 --stats /tmp/st %m
//! ```
//!
//! Options (one of `--source` and `--sink-pattern` is required):
//!
//! - `--source DIR`: the backing directory.
//! - `--sink-pattern SEED` (decimal or `0x` hex): serve an in-memory tree
//!   whose files keep only metadata and the byte ranges written; every WRITE
//!   is compared with `fusewb_pattern::Pattern::new(SEED)` at its offset,
//!   READ returns the pattern in written ranges and zeros elsewhere (see
//!   [`sink`]). For writing more data than fits in RAM or on disk, fast.
//! - `--writeback`: request `FUSE_WRITEBACK_CACHE` at INIT when the kernel
//!   offers it (fuse-wb offers it with the mount option `allow_wbcache`).
//! - `--max-write BYTES` (default 1 MiB, `K`/`M` suffixes): `max_write` at
//!   INIT; fuser derives `max_pages` from it when the kernel offers
//!   `FUSE_MAX_PAGES`.
//! - `--write-latency-us N`: sleep N µs in every WRITE before replying, to
//!   model a network back end.
//! - `--random-delay-us MAX`: at the start of every request (all of them:
//!   LOOKUP, GETATTR, SETATTR, OPEN, CREATE, READ, WRITE, FLUSH, FSYNC,
//!   RELEASE, FALLOCATE, ...), sleep a random 0..=MAX µs (splitmix64 seeded
//!   from the process id), so that replies come with irregular timing: for
//!   stress tests that look for races in the kernel. In a WRITE it comes
//!   before `--write-latency-us`. With one thread requests are served one
//!   at a time, so the delays add up.
//! - `--threads N` (default 1): N threads read the connection and serve
//!   requests at once (fuser's event loops on the one descriptor), so
//!   `--write-latency-us` of concurrent WRITEs overlaps, as over a network.
//! - `--stats FILE`: write request statistics (per-opcode counts and bytes, a
//!   power-of-two histogram of WRITE sizes; `key value` lines, see
//!   [`stats::Stats::render`]) when the server ends (SIGTERM, SIGINT, or the
//!   kernel closing the connection) and on SIGUSR1. With `--sink-pattern`,
//!   followed by the sink's `sink.*` lines ([`sink::Sink::render`]): bytes
//!   written, bytes equal to the pattern, mismatching WRITEs, and the size
//!   and bytes written of every file.
//!
//! Passthrough semantics: every FUSE inode holds an `O_PATH` descriptor of
//! its backing file and lives until the kernel FORGETs all its lookups.
//! Backing files are opened read-write when the kernel opens them write-only
//! (a write-back kernel may READ on such handles), never with `O_APPEND`
//! (every WRITE is done at its exact offset) and never with `O_DIRECT` (the
//! kernel did the direct I/O; the server's buffers are not aligned). When
//! run as root, new nodes are given the requesting uid/gid (in both back
//! ends). Requests are served by one thread, in order.

mod cli;
mod fs;
mod sink;
mod sinkfs;
mod stats;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use fuser::{Config, Filesystem, Session, SessionACL};

use crate::cli::{Backend, Command};
use crate::sink::Sink;
use crate::stats::Stats;

/// What the statistics file shows: the request counters and, with
/// `--sink-pattern`, the sink's lines after them.
#[derive(Clone)]
struct Report {
    stats: Arc<Mutex<Stats>>,
    sink: Option<Arc<Mutex<Sink>>>,
    path: Option<PathBuf>,
}

impl Report {
    /// Writes the statistics file (if `--stats` was given). The two locks
    /// are taken one after the other, never together.
    fn dump(&self) {
        let Some(path) = &self.path else {
            return;
        };
        let mut text = self
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .render();
        if let Some(sink) = &self.sink {
            text.push_str(&sink.lock().unwrap_or_else(|p| p.into_inner()).render());
        }
        if let Err(e) = stats::write_atomically(path, &text) {
            eprintln!("fusewb-refserver: writing {}: {e}", path.display());
        }
    }
}

/// Blocks SIGTERM, SIGINT and SIGUSR1 in this thread (and so in every thread
/// spawned later) and handles them in a dedicated thread with `sigwait`.
fn handle_signals(report: Report) -> std::io::Result<()> {
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
            report.dump();
            if sig != libc::SIGUSR1 {
                // The mount helper unmounts once we are gone.
                std::process::exit(0);
            }
        })?;
    Ok(())
}

/// Serves the connection `fd` with `fs` until it ends. Access control is
/// the kernel's (allow_other, default_permissions).
fn serve<FS: Filesystem>(fs: FS, fd: OwnedFd, threads: usize) -> std::io::Result<()> {
    let mut config = Config::default();
    config.n_threads = Some(threads);
    Session::from_fd(fs, fd, SessionACL::All, config).and_then(Session::run)
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
    // The sink is shared by the filesystem and the statistics writer.
    enum Served {
        Dir(PathBuf),
        Sink(Arc<Mutex<Sink>>),
    }
    let served = match &opts.backend {
        Backend::Source(dir) => Served::Dir(dir.clone()),
        Backend::Sink(seed) => Served::Sink(Arc::new(Mutex::new(Sink::new(
            *seed,
            sinkfs::current_owner(),
            0o755,
        )))),
    };
    let report = Report {
        stats: stats.clone(),
        sink: match &served {
            Served::Sink(s) => Some(s.clone()),
            Served::Dir(_) => None,
        },
        path: opts.stats.clone(),
    };
    if let Err(e) = handle_signals(report.clone()) {
        eprintln!("fusewb-refserver: signals: {e}");
        return ExitCode::FAILURE;
    }
    let result = match served {
        Served::Sink(sink) => serve(
            sinkfs::SinkFs::new(opts.clone(), sink, stats),
            fd,
            opts.threads,
        ),
        Served::Dir(dir) => match fs::RefFs::new(&dir, opts.clone(), stats) {
            Ok(fs) => serve(fs, fd, opts.threads),
            Err(e) => {
                eprintln!("fusewb-refserver: {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        },
    };
    report.dump();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fusewb-refserver: {e}");
            ExitCode::FAILURE
        }
    }
}
