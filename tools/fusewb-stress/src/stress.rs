//! The run: setup, worker and racer threads, progress, the final check.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cli::Config;
use crate::model::{compare, FileModel};
use crate::rng::{fill_pattern, mix, Rng};
use crate::sys::{self, AlignedBuf, SysErr, DIRECT_ALIGN};

/// The operations of the worker threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Append,
    Pwrite,
    Truncate,
    Fstat,
    Pread,
    Direct,
    Mmap,
    Fsync,
    Reopen,
}

const KINDS: [Kind; 9] = [
    Kind::Append,
    Kind::Pwrite,
    Kind::Truncate,
    Kind::Fstat,
    Kind::Pread,
    Kind::Direct,
    Kind::Mmap,
    Kind::Fsync,
    Kind::Reopen,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Append => "append",
            Kind::Pwrite => "pwrite",
            Kind::Truncate => "truncate",
            Kind::Fstat => "fstat",
            Kind::Pread => "pread",
            Kind::Direct => "direct",
            Kind::Mmap => "mmap",
            Kind::Fsync => "fsync",
            Kind::Reopen => "reopen",
        }
    }

    /// Relative frequency.
    fn weight(self) -> u64 {
        match self {
            Kind::Append => 14,
            Kind::Pwrite => 18,
            Kind::Truncate => 6,
            Kind::Fstat => 10,
            Kind::Pread => 18,
            Kind::Direct => 10,
            Kind::Mmap => 10,
            Kind::Fsync => 6,
            Kind::Reopen => 2,
        }
    }
}

/// Largest append or pwrite.
const MAX_WRITE: u64 = 256 * 1024;
/// Largest store through a mapping.
const MAX_MMAP_WRITE: u64 = 64 * 1024;
/// Largest extension by one ftruncate.
const MAX_EXTEND: u64 = 1 << 20;
/// Largest O_DIRECT read, in pages of [`DIRECT_ALIGN`].
const MAX_DIRECT_PAGES: u64 = 32;
/// Data-changing operations remembered per file, shown on a mismatch.
const HISTORY: usize = 16;
/// Tolerated errors printed: the first [`FIRST_ERRORS`], the first of each
/// thread and the first of each errno, at most [`PRINTED_ERRORS`] lines;
/// the others are only counted.
const FIRST_ERRORS: u64 = 10;
const PRINTED_ERRORS: u64 = 50;
/// Pause of a thread after a tolerated error, so that a dead connection
/// does not make every thread spin on failing calls.
const ERROR_BACKOFF: Duration = Duration::from_millis(1);

thread_local! {
    /// Tolerated errors of the current thread.
    static THREAD_ERRORS: Cell<u64> = const { Cell::new(0) };
}

/// Tolerated errors of the calling thread so far.
fn thread_errors() -> u64 {
    THREAD_ERRORS.with(Cell::get)
}

/// Sleeps [`ERROR_BACKOFF`] if the calling thread had a tolerated error
/// since `*seen` (and updates `*seen`).
fn backoff(seen: &mut u64) {
    let now = thread_errors();
    if now != *seen {
        *seen = now;
        std::thread::sleep(ERROR_BACKOFF);
    }
}
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the global lock protects: the model and the recent history.
struct State {
    files: Vec<FileModel>,
    history: Vec<VecDeque<String>>,
}

impl State {
    fn note(&mut self, file: usize, what: String) {
        let h = &mut self.history[file];
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(what);
    }
}

/// Who did an operation, for messages.
#[derive(Clone, Copy, Debug)]
enum Who {
    Worker { op: u64, thread: usize },
    Racer(usize),
    Setup,
    Final,
}

#[derive(Clone, Copy, Debug)]
struct Ctx {
    who: Who,
    what: &'static str,
    file: usize,
}

impl Ctx {
    fn describe(&self) -> String {
        let f = self.file;
        match self.who {
            Who::Worker { op, thread } => {
                format!("op {op} ({} on stress-{f}, thread {thread})", self.what)
            }
            Who::Racer(r) => format!("racer {r} ({} on stress-{f})", self.what),
            Who::Setup => format!("setup ({} on stress-{f})", self.what),
            Who::Final => format!("final check ({} on stress-{f})", self.what),
        }
    }

    /// Short prefix of a history line.
    fn tag(&self) -> String {
        match self.who {
            Who::Worker { op, thread } => format!("op {op} t{thread}"),
            _ => self.describe(),
        }
    }
}

/// One worker's descriptors of one file.
struct Fds {
    rw: OwnedFd,
    app: OwnedFd,
    direct: Option<OwnedFd>,
}

impl Fds {
    /// One of the descriptors, at random, and its name.
    fn any(&self, rng: &mut Rng) -> (RawFd, &'static str) {
        match (rng.below(3), &self.direct) {
            (0, _) => (self.rw.as_raw_fd(), "O_RDWR fd"),
            (1, Some(d)) => (d.as_raw_fd(), "O_DIRECT fd"),
            _ => (self.app.as_raw_fd(), "O_APPEND fd"),
        }
    }

    /// One of the two buffered descriptors.
    fn buffered(&self, rng: &mut Rng) -> RawFd {
        if rng.chance(50) {
            self.rw.as_raw_fd()
        } else {
            self.app.as_raw_fd()
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit status 0.
    pub ok: bool,
    /// Worker operations done.
    pub ops: u64,
    /// System call errors counted with `--tolerate-errors`.
    pub errors: u64,
}

/// Everything the threads share.
struct Shared<'a> {
    cfg: &'a Config,
    paths: Vec<PathBuf>,
    /// O_DIRECT reads are done (asked for and accepted by the filesystem).
    direct: bool,
    page: u64,
    state: Mutex<State>,
    stop: AtomicBool,
    failed: AtomicBool,
    next_op: AtomicU64,
    counts: [AtomicU64; KINDS.len()],
    racer_ops: AtomicU64,
    /// `MADV_POPULATE_WRITE` works.
    populate: AtomicBool,
    errors: Mutex<BTreeMap<i32, u64>>,
    error_total: AtomicU64,
    error_lines: AtomicU64,
    /// Op number of the first tolerated error (`u64::MAX`: none yet); the
    /// model is not checked from then on.
    broken_at: AtomicU64,
}

impl Shared<'_> {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, k: Kind) {
        self.counts[k as usize].fetch_add(1, Relaxed);
    }

    fn total_ops(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn broken(&self) -> bool {
        self.broken_at.load(Relaxed) != u64::MAX
    }

    fn counts_line(&self) -> String {
        let mut s = String::new();
        for k in KINDS {
            if !s.is_empty() {
                s.push_str(", ");
            }
            let _ = write!(s, "{} {}", k.name(), self.counts[k as usize].load(Relaxed));
        }
        let _ = write!(s, "; racers {}", self.racer_ops.load(Relaxed));
        s
    }

    /// Records the first failure: prints `msg` and the replay line, stops
    /// all threads. Later failures are not printed.
    fn fail(&self, msg: &str) {
        self.stop.store(true, Relaxed);
        if !self.failed.swap(true, Relaxed) {
            eprintln!("stress: FAILED: {msg}");
            eprintln!(
                "stress: seed {}; replay (same choices, the interleaving may differ): fusewb-stress {}",
                self.cfg.seed,
                self.cfg.replay_args()
            );
        }
    }

    /// A failed system call: a failure, or with `--tolerate-errors` an
    /// error counted (and printed, the first [`PRINTED_ERRORS`]) after which
    /// the model is no longer checked.
    fn sys_error(&self, ctx: Ctx, e: SysErr) {
        if !self.cfg.tolerate_errors {
            self.fail(&format!("{}: {e}", ctx.describe()));
            return;
        }
        let op = match ctx.who {
            Who::Worker { op, .. } => op,
            _ => self.next_op.load(Relaxed),
        };
        self.broken_at.fetch_min(op, Relaxed);
        let first_errno = {
            let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            let count = errors.entry(e.errno).or_insert(0);
            *count += 1;
            *count == 1
        };
        let mine = THREAD_ERRORS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let n = self.error_total.fetch_add(1, Relaxed) + 1;
        if n <= FIRST_ERRORS || mine == 1 || first_errno {
            let line = self.error_lines.fetch_add(1, Relaxed) + 1;
            if line <= PRINTED_ERRORS {
                println!("stress: tolerated error: {}: {e}", ctx.describe());
            }
            if line == PRINTED_ERRORS {
                println!("stress: further errors are only counted");
            }
        }
    }

    /// A read or a size that differs from the model (ignored once the model
    /// is broken by a tolerated error).
    fn mismatch(&self, ctx: Ctx, st: &State, msg: &str) {
        if self.broken() {
            return;
        }
        let f = ctx.file;
        let mut m = format!(
            "MISMATCH in {}: {}: {msg}\nstress: model size of stress-{f}: {}; its last changes:",
            self.paths[f].display(),
            ctx.describe(),
            st.files[f].len()
        );
        for h in &st.history[f] {
            let _ = write!(m, "\nstress:   {h}");
        }
        self.fail(&m);
    }

    /// Opens a worker's three descriptors of `file` (two without O_DIRECT).
    fn open_fds(&self, ctx: Ctx) -> Option<Fds> {
        let path = &self.paths[ctx.file];
        let open = |flags| match sys::open(path, flags) {
            Ok(fd) => Some(fd),
            Err(e) => {
                self.sys_error(ctx, e);
                None
            }
        };
        let rw = open(libc::O_RDWR)?;
        let app = open(libc::O_RDWR | libc::O_APPEND)?;
        let direct = if self.direct {
            Some(open(libc::O_RDONLY | libc::O_DIRECT)?)
        } else {
            None
        };
        Some(Fds { rw, app, direct })
    }

    /// Closes descriptors, reporting close errors.
    fn close_fds(&self, ctx: Ctx, fds: Fds) {
        for fd in [Some(fds.rw), Some(fds.app), fds.direct]
            .into_iter()
            .flatten()
        {
            if let Err(e) = sys::close(fd) {
                self.sys_error(ctx, e);
            }
        }
    }
}

/// A length in `1..=max`: often tiny, often a few pages, sometimes large.
fn rand_len(rng: &mut Rng, max: u64) -> u64 {
    let len = match rng.below(3) {
        0 => 1 + rng.below(512),
        1 => 1 + rng.below(16 * 1024),
        _ => 1 + rng.below(max),
    };
    len.min(max)
}

/// An offset in `0..=size + slack`: uniform, page-aligned, near the end of
/// the file or near a page boundary, a quarter of the time each.
fn rand_offset(rng: &mut Rng, size: u64, slack: u64, page: u64) -> u64 {
    let end = size + slack;
    match rng.below(4) {
        0 => rng.below(end + 1),
        1 => rng.below(end / page + 1) * page,
        2 => (size.saturating_sub(rng.below(2 * page + 1)) + rng.below(page + 1)).min(end),
        _ => {
            let p = rng.below(end / page + 1) * page;
            (p + rng.below(64)).saturating_sub(rng.below(64)).min(end)
        }
    }
}

/// The data of operation `op`.
fn pattern(sh: &Shared, op: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len as usize];
    fill_pattern(sh.cfg.seed, op, &mut buf);
    buf
}

fn op_number(ctx: Ctx) -> u64 {
    match ctx.who {
        Who::Worker { op, .. } => op,
        _ => 0,
    }
}

fn op_append(sh: &Shared, mut ctx: Ctx, fds: &Fds, st: &mut State, rng: &mut Rng) {
    let f = ctx.file;
    let size = st.files[f].len();
    let room = sh.cfg.max_size.saturating_sub(size);
    if room == 0 {
        ctx.what = "truncate";
        return op_truncate(sh, ctx, fds, st, rng, true);
    }
    sh.count(Kind::Append);
    let len = rand_len(rng, MAX_WRITE).min(room);
    let buf = pattern(sh, op_number(ctx), len);
    if let Err(e) = sys::write_all(fds.app.as_raw_fd(), &buf) {
        st.files[f].touch_failed(size as usize, (size + len) as usize);
        return sh.sys_error(ctx, e);
    }
    st.files[f].append(&buf);
    st.note(f, format!("{}: append {len} at {size}", ctx.tag()));
}

fn op_pwrite(sh: &Shared, ctx: Ctx, fds: &Fds, st: &mut State, rng: &mut Rng) {
    sh.count(Kind::Pwrite);
    let f = ctx.file;
    let max = sh.cfg.max_size;
    let size = st.files[f].len();
    let off = rand_offset(rng, size, 64 * 1024, sh.page).min(max - 1);
    let len = rand_len(rng, MAX_WRITE).min(max - off);
    let buf = pattern(sh, op_number(ctx), len);
    if let Err(e) = sys::pwrite_all(fds.rw.as_raw_fd(), &buf, off) {
        st.files[f].touch_failed(off.min(size) as usize, (off + len) as usize);
        return sh.sys_error(ctx, e);
    }
    st.files[f].write_at(off, &buf);
    st.note(
        f,
        format!("{}: pwrite {len} at {off} (size {size})", ctx.tag()),
    );
}

fn op_truncate(sh: &Shared, ctx: Ctx, fds: &Fds, st: &mut State, rng: &mut Rng, shrink: bool) {
    sh.count(Kind::Truncate);
    let f = ctx.file;
    let max = sh.cfg.max_size;
    let size = st.files[f].len();
    let new = if shrink || size >= max || rng.chance(50) {
        if rng.chance(50) {
            // Within the last pages: partial-page truncation.
            size - rng.below(size.min(2 * sh.page) + 1)
        } else {
            rng.below(size + 1)
        }
    } else {
        size + 1 + rng.below((max - size).min(MAX_EXTEND))
    };
    if let Err(e) = sys::ftruncate(fds.rw.as_raw_fd(), new) {
        st.files[f].touch_failed(size.min(new) as usize, size.max(new) as usize);
        return sh.sys_error(ctx, e);
    }
    st.files[f].truncate(new);
    st.note(f, format!("{}: ftruncate {size} -> {new}", ctx.tag()));
}

fn op_fstat(sh: &Shared, ctx: Ctx, fds: &Fds, st: &State, rng: &mut Rng) {
    sh.count(Kind::Fstat);
    let (fd, which) = fds.any(rng);
    let expected = st.files[ctx.file].len();
    match sys::fstat_size(fd) {
        Err(e) => sh.sys_error(ctx, e),
        Ok(size) if size != expected => sh.mismatch(
            ctx,
            st,
            &format!("fstat on the {which}: st_size {size}, expected {expected}"),
        ),
        Ok(_) => {}
    }
}

fn op_pread(sh: &Shared, ctx: Ctx, fds: &Fds, st: &State, rng: &mut Rng) {
    sh.count(Kind::Pread);
    let model = &st.files[ctx.file];
    let off = rand_offset(rng, model.len(), 16 * 1024, sh.page);
    let len = rand_len(rng, MAX_WRITE);
    let mut buf = vec![0u8; len as usize];
    match sys::pread_full(fds.buffered(rng), &mut buf, off) {
        Err(e) => sh.sys_error(ctx, e),
        Ok(n) => {
            if let Some(m) = compare(model.expected(off, len), &buf[..n], off) {
                sh.mismatch(ctx, st, &format!("pread of {len} at {off}: {m}"));
            }
        }
    }
}

fn op_direct(sh: &Shared, ctx: Ctx, fds: &Fds, st: &State, rng: &mut Rng) {
    let Some(dfd) = &fds.direct else {
        return op_pread(sh, ctx, fds, st, rng);
    };
    sh.count(Kind::Direct);
    let model = &st.files[ctx.file];
    let align = DIRECT_ALIGN as u64;
    let off = rand_offset(rng, model.len(), 2 * align, sh.page) / align * align;
    let len = (1 + rng.below(MAX_DIRECT_PAGES)) * align;
    let mut buf = AlignedBuf::new(len as usize);
    let buf = buf.as_mut_slice();
    match sys::pread_direct(dfd.as_raw_fd(), buf, off) {
        Err(e) => sh.sys_error(ctx, e),
        Ok(n) => {
            if let Some(m) = compare(model.expected(off, len), &buf[..n], off) {
                sh.mismatch(ctx, st, &format!("O_DIRECT pread of {len} at {off}: {m}"));
            }
        }
    }
}

fn op_mmap(sh: &Shared, mut ctx: Ctx, fds: &Fds, st: &mut State, rng: &mut Rng) {
    let f = ctx.file;
    let size = st.files[f].len();
    if size == 0 {
        ctx.what = "pwrite";
        return op_pwrite(sh, ctx, fds, st, rng);
    }
    sh.count(Kind::Mmap);
    let page = sh.page;
    let off = rand_offset(rng, size, 0, page).min(size - 1);
    let len = rand_len(rng, MAX_MMAP_WRITE).min(size - off);
    let map_off = off / page * page;
    let map_end = (off + len).div_ceil(page) * page;
    let buf = pattern(sh, op_number(ctx), len);
    if let Err(e) = sys::mmap_write(
        fds.rw.as_raw_fd(),
        map_off,
        (map_end - map_off) as usize,
        (off - map_off) as usize,
        &buf,
        &sh.populate,
    ) {
        st.files[f].touch_failed(off as usize, (off + len) as usize);
        return sh.sys_error(ctx, e);
    }
    st.files[f].write_at(off, &buf);
    st.note(
        f,
        format!("{}: mmap write {len} at {off} (size {size})", ctx.tag()),
    );
}

/// `st`: the model, when the caller holds its lock (`--tolerate-errors`,
/// `--durable`); with `--durable` a successful fsync makes it durable,
/// unless an error already broke the model.
fn op_fsync(sh: &Shared, ctx: Ctx, fds: &Fds, rng: &mut Rng, st: Option<&mut State>) {
    sh.count(Kind::Fsync);
    let (fd, _) = fds.any(rng);
    match sys::fsync(fd, rng.chance(50)) {
        Err(e) => sh.sys_error(ctx, e),
        Ok(()) => {
            if let Some(st) = st.filter(|_| sh.cfg.durable.is_some() && !sh.broken()) {
                st.files[ctx.file].synced();
            }
        }
    }
}

/// Closes and reopens all of a worker's descriptors.
fn op_reopen(sh: &Shared, ctx: Ctx, fds: &mut [Option<Fds>]) {
    sh.count(Kind::Reopen);
    for (file, slot) in fds.iter_mut().enumerate() {
        let ctx = Ctx { file, ..ctx };
        if let Some(old) = slot.take() {
            sh.close_fds(ctx, old);
        }
        *slot = sh.open_fds(ctx);
    }
}

fn worker(sh: &Shared, thread: usize) {
    let cfg = sh.cfg;
    let mut rng = Rng::new(cfg.seed.wrapping_add(thread as u64));
    let kinds: Vec<Kind> = KINDS
        .into_iter()
        .filter(|k| match k {
            Kind::Direct => sh.direct,
            Kind::Mmap => cfg.mmap,
            _ => true,
        })
        .collect();
    let total: u64 = kinds.iter().map(|k| k.weight()).sum();
    let mut fds: Vec<Option<Fds>> = (0..cfg.files)
        .map(|file| {
            sh.open_fds(Ctx {
                who: Who::Setup,
                what: "open",
                file,
            })
        })
        .collect();
    let mut errors_seen = 0;
    while !sh.stop.load(Relaxed) {
        backoff(&mut errors_seen);
        let op = sh.next_op.fetch_add(1, Relaxed);
        if cfg.ops > 0 && op >= cfg.ops {
            sh.stop.store(true, Relaxed);
            break;
        }
        let file = rng.below(cfg.files as u64) as usize;
        let mut pick = rng.below(total);
        let mut kind = kinds[0];
        for k in &kinds {
            if pick < k.weight() {
                kind = *k;
                break;
            }
            pick -= k.weight();
        }
        if fds[file].is_none() {
            // A tolerated error left this file without descriptors.
            kind = Kind::Reopen;
        }
        let ctx = Ctx {
            who: Who::Worker { op, thread },
            what: kind.name(),
            file,
        };
        if matches!(kind, Kind::Fsync | Kind::Reopen) {
            // No model involved: these race with the other workers, except
            // with --tolerate-errors, where errors must be ordered with the
            // checks (a failed fsync may lose data that a check then misses),
            // and with --durable, where an fsync records what is durable.
            let mut guard = (cfg.tolerate_errors || cfg.durable.is_some()).then(|| sh.lock());
            if sh.failed.load(Relaxed) {
                break;
            }
            match (kind, &fds[file]) {
                (Kind::Fsync, Some(f)) => op_fsync(sh, ctx, f, &mut rng, guard.as_deref_mut()),
                _ => op_reopen(sh, ctx, &mut fds),
            }
            continue;
        }
        let mut st = sh.lock();
        if sh.failed.load(Relaxed) {
            break;
        }
        let Some(f) = &fds[file] else { continue };
        let st = &mut *st;
        match kind {
            Kind::Append => op_append(sh, ctx, f, st, &mut rng),
            Kind::Pwrite => op_pwrite(sh, ctx, f, st, &mut rng),
            Kind::Truncate => op_truncate(sh, ctx, f, st, &mut rng, false),
            Kind::Fstat => op_fstat(sh, ctx, f, st, &mut rng),
            Kind::Pread => op_pread(sh, ctx, f, st, &mut rng),
            Kind::Direct => op_direct(sh, ctx, f, st, &mut rng),
            Kind::Mmap => op_mmap(sh, ctx, f, st, &mut rng),
            Kind::Fsync | Kind::Reopen => unreachable!(),
        }
    }
    if !sh.failed.load(Relaxed) {
        for (file, slot) in fds.into_iter().enumerate() {
            if let Some(f) = slot {
                let ctx = Ctx {
                    who: Who::Final,
                    what: "close",
                    file,
                };
                sh.close_fds(ctx, f);
            }
        }
    }
}

/// Unlocked traffic: fstat and small preads, results unchecked, errors
/// reported like the workers'.
fn racer(sh: &Shared, r: usize) {
    let cfg = sh.cfg;
    let mut rng = Rng::new(cfg.seed ^ mix(0x7ace_0000 + r as u64));
    let mut fds: Vec<Option<OwnedFd>> = (0..cfg.files).map(|_| None).collect();
    let mut sizes = vec![0u64; cfg.files];
    let mut buf = [0u8; 4096];
    let mut errors_seen = 0;
    while !sh.stop.load(Relaxed) {
        backoff(&mut errors_seen);
        let file = rng.below(cfg.files as u64) as usize;
        let mut ctx = Ctx {
            who: Who::Racer(r),
            what: "open",
            file,
        };
        if fds[file].is_none() {
            match sys::open(&sh.paths[file], libc::O_RDONLY) {
                Ok(fd) => fds[file] = Some(fd),
                Err(e) => {
                    sh.sys_error(ctx, e);
                    continue;
                }
            }
        }
        let Some(fd) = fds[file].as_ref().map(|f| f.as_raw_fd()) else {
            continue;
        };
        let res = if rng.chance(50) {
            ctx.what = "fstat";
            sys::fstat_size(fd).map(|s| sizes[file] = s)
        } else {
            ctx.what = "pread";
            let off = rng.below(sizes[file] + 4096);
            let len = 1 + rng.below(buf.len() as u64) as usize;
            sys::pread_full(fd, &mut buf[..len], off).map(|_| ())
        };
        if let Err(e) = res {
            sh.sys_error(ctx, e);
        }
        sh.racer_ops.fetch_add(1, Relaxed);
    }
}

/// Whether O_DIRECT reads work on `path`: `Ok(false)` if the filesystem
/// refuses them with EINVAL.
fn probe_direct(path: &Path) -> Result<bool, SysErr> {
    let fd = match sys::open(path, libc::O_RDONLY | libc::O_DIRECT) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::EINVAL => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut buf = AlignedBuf::new(DIRECT_ALIGN);
    match sys::pread_direct(fd.as_raw_fd(), buf.as_mut_slice(), 0) {
        Ok(_) => Ok(true),
        Err(e) if e.errno == libc::EINVAL => Ok(false),
        Err(e) => Err(e),
    }
}

/// Compares the whole file at `path` (normal reads, then fstat) with
/// `model`: `Ok(Some(description))` on a difference.
fn verify_file(path: &Path, model: &FileModel) -> Result<Option<String>, SysErr> {
    const CHUNK: u64 = 1 << 20;
    let fd = sys::open(path, libc::O_RDONLY)?;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut off = 0;
    loop {
        let n = sys::pread_full(fd.as_raw_fd(), &mut buf, off)?;
        if let Some(m) = compare(model.expected(off, CHUNK), &buf[..n], off) {
            return Ok(Some(format!("content {m}")));
        }
        if (n as u64) < CHUNK {
            break;
        }
        off += CHUNK;
    }
    let size = sys::fstat_size(fd.as_raw_fd())?;
    if size != model.len() {
        return Ok(Some(format!(
            "fstat st_size {size}, expected {} (the content read matches)",
            model.len()
        )));
    }
    sys::close(fd)?;
    Ok(None)
}

/// After the workers: fsync every file, drop the caches if asked, compare
/// every file with the model.
fn final_check(sh: &Shared) {
    for (file, path) in sh.paths.iter().enumerate() {
        let mut ctx = Ctx {
            who: Who::Final,
            what: "open",
            file,
        };
        match sys::open(path, libc::O_RDWR) {
            Err(e) => sh.sys_error(ctx, e),
            Ok(fd) => {
                ctx.what = "fsync";
                match sys::fsync(fd.as_raw_fd(), false) {
                    Err(e) => sh.sys_error(ctx, e),
                    Ok(()) if !sh.broken() => sh.lock().files[file].synced(),
                    Ok(()) => {}
                }
                ctx.what = "close";
                if let Err(e) = sys::close(fd) {
                    sh.sys_error(ctx, e);
                }
            }
        }
    }
    if sh.failed.load(Relaxed) {
        return;
    }
    if sh.cfg.drop_caches {
        match std::fs::write("/proc/sys/vm/drop_caches", "3") {
            Ok(()) => println!("stress: dropped the page cache"),
            Err(e) => println!("stress: warning: cannot drop caches ({e}); checking without"),
        }
    }
    if sh.broken() {
        return;
    }
    let st = sh.lock();
    for (file, path) in sh.paths.iter().enumerate() {
        let ctx = Ctx {
            who: Who::Final,
            what: "verify",
            file,
        };
        match verify_file(path, &st.files[file]) {
            Err(e) => sh.sys_error(ctx, e),
            Ok(Some(m)) => sh.mismatch(ctx, &st, &m),
            Ok(None) => {}
        }
        if sh.failed.load(Relaxed) {
            return;
        }
    }
}

/// With `--durable`: each file as the server holds it (in `backing`)
/// against what its last successful fsync made durable.
fn durable_check(sh: &Shared, backing: &Path) {
    let st = sh.lock();
    for (file, path) in sh.paths.iter().enumerate() {
        let Some(name) = path.file_name() else {
            continue;
        };
        let p = backing.join(name);
        let found = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return sh.fail(&format!("durable: cannot read {}: {e}", p.display())),
        };
        if let Some(m) = st.files[file].check_durable(&found) {
            return sh.fail(&format!("durable: {} on the server: {m}", p.display()));
        }
    }
    println!(
        "stress: durable: every fsynced byte not changed since is in {}",
        backing.display()
    );
}

/// Runs the stress test as `cfg` says, printing progress and the result.
pub fn run(cfg: &Config) -> Outcome {
    let onoff = |b: bool| if b { "on" } else { "off" };
    println!(
        "stress: dir {}, files {}, threads {}, racers {}, seconds {}, ops {}, max-size {}, \
         direct {}, mmap {}, drop-caches {}, tolerate-errors {}, seed {}",
        cfg.dir.display(),
        cfg.files,
        cfg.threads,
        cfg.racers,
        cfg.seconds,
        cfg.ops,
        cfg.max_size,
        onoff(cfg.direct),
        onoff(cfg.mmap),
        onoff(cfg.drop_caches),
        onoff(cfg.tolerate_errors),
        cfg.seed
    );
    let setup_failed = |msg: String| {
        eprintln!("stress: FAILED: setup: {msg}");
        Outcome {
            ok: false,
            ops: 0,
            errors: 0,
        }
    };
    let paths: Vec<PathBuf> = (0..cfg.files)
        .map(|i| cfg.dir.join(format!("stress-{i}")))
        .collect();
    for p in &paths {
        let created =
            sys::open(p, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC).and_then(sys::close);
        if let Err(e) = created {
            return setup_failed(format!("{}: {e}", p.display()));
        }
    }
    let mut direct = cfg.direct;
    if direct {
        match probe_direct(&paths[0]) {
            Ok(true) => {}
            Ok(false) => {
                println!(
                    "stress: O_DIRECT refused (EINVAL) in {}: direct reads disabled",
                    cfg.dir.display()
                );
                direct = false;
            }
            Err(e) => return setup_failed(format!("{}: O_DIRECT: {e}", paths[0].display())),
        }
    }
    let sh = Shared {
        cfg,
        paths,
        direct,
        page: sys::page_size(),
        state: Mutex::new(State {
            files: vec![FileModel::default(); cfg.files],
            history: vec![VecDeque::new(); cfg.files],
        }),
        stop: AtomicBool::new(false),
        failed: AtomicBool::new(false),
        next_op: AtomicU64::new(0),
        counts: Default::default(),
        racer_ops: AtomicU64::new(0),
        populate: AtomicBool::new(true),
        errors: Mutex::new(BTreeMap::new()),
        error_total: AtomicU64::new(0),
        error_lines: AtomicU64::new(0),
        broken_at: AtomicU64::new(u64::MAX),
    };
    let start = Instant::now();
    std::thread::scope(|s| {
        let sh = &sh;
        for t in 0..cfg.threads {
            std::thread::Builder::new()
                .name(format!("worker-{t}"))
                .spawn_scoped(s, move || worker(sh, t))
                .expect("spawning a worker thread");
        }
        for r in 0..cfg.racers {
            std::thread::Builder::new()
                .name(format!("racer-{r}"))
                .spawn_scoped(s, move || racer(sh, r))
                .expect("spawning a racer thread");
        }
        let limit = Duration::from_secs(cfg.seconds);
        let mut next = PROGRESS_EVERY;
        while !sh.stop.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            let t = start.elapsed();
            if cfg.seconds > 0 && t >= limit {
                sh.stop.store(true, Relaxed);
            } else if t >= next {
                println!(
                    "stress: {} s, {} ops ({})",
                    next.as_secs(),
                    sh.total_ops(),
                    sh.counts_line()
                );
                next += PROGRESS_EVERY;
            }
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let ops = sh.total_ops();
    if !sh.failed.load(Relaxed) {
        final_check(&sh);
    }
    if let (Some(b), false) = (&cfg.durable, sh.failed.load(Relaxed)) {
        durable_check(&sh, b);
    }
    let errors = sh.error_total.load(Relaxed);
    let failed = sh.failed.load(Relaxed);
    println!(
        "stress: done: {ops} ops in {secs:.1} s ({:.0} ops/s): {}",
        ops as f64 / secs.max(1e-9),
        sh.counts_line()
    );
    if failed {
        println!(
            "stress: {ops} ops in {secs:.1} s, seed {}: FAILED",
            cfg.seed
        );
    } else if sh.broken() {
        let by_errno = sh.errors.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<String> = by_errno
            .iter()
            .map(|(e, n)| format!("{} {n}", sys::errno_name(*e)))
            .collect();
        println!(
            "stress: {ops} ops in {secs:.1} s, seed {}: {errors} errors tolerated ({}); \
             model not checked from op {} on",
            cfg.seed,
            list.join(", "),
            sh.broken_at.load(Relaxed)
        );
    } else {
        println!(
            "stress: {ops} ops in {secs:.1} s, seed {}: all {} files match",
            cfg.seed, cfg.files
        );
    }
    Outcome {
        ok: !failed,
        ops,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty directory under the system's temporary directory.
    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fusewb-stress-{name}-{}-{}",
            std::process::id(),
            crate::cli::time_seed()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn offsets_and_lengths_stay_in_range() {
        let mut rng = Rng::new(1);
        for size in [0, 1, 4095, 4096, 4097, 1 << 20] {
            for _ in 0..2000 {
                let o = rand_offset(&mut rng, size, 100, 4096);
                assert!(o <= size + 100, "{o} {size}");
                let l = rand_len(&mut rng, 300);
                assert!((1..=300).contains(&l));
            }
        }
    }

    #[test]
    fn verify_catches_differences() {
        let dir = temp_dir("verify");
        let p = dir.join("f");
        std::fs::write(&p, b"hello world").unwrap();
        let mut m = FileModel::default();
        m.append(b"hello world");
        assert_eq!(verify_file(&p, &m), Ok(None));
        m.write_at(6, b"W");
        let d = verify_file(&p, &m).unwrap().unwrap();
        assert!(d.contains("offset 6"), "{d}");
        m.write_at(6, b"w");
        m.append(b"!");
        let d = verify_file(&p, &m).unwrap().unwrap();
        assert!(
            d.contains("offset 11") && d.contains("found nothing"),
            "{d}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ops_limit_is_exact() {
        let dir = temp_dir("ops");
        let mut cfg = Config::new(dir.clone(), 5);
        cfg.seconds = 60;
        cfg.ops = 500;
        cfg.threads = 3;
        cfg.racers = 1;
        cfg.max_size = 256 * 1024;
        let out = run(&cfg);
        assert!(out.ok, "{out:?}");
        assert_eq!(out.ops, 500);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The whole stress test for about two seconds (O_DIRECT is turned off
    /// by the probe where the temporary directory refuses it).
    #[test]
    fn short_run_passes() {
        let dir = temp_dir("run");
        let mut cfg = Config::new(dir.clone(), crate::cli::time_seed());
        cfg.seconds = 2;
        cfg.threads = 4;
        cfg.files = 2;
        cfg.max_size = 1 << 20;
        let out = run(&cfg);
        assert!(out.ok, "{out:?}");
        assert!(out.ops > 0);
        assert_eq!(out.errors, 0);
        for f in 0..2 {
            assert!(dir.join(format!("stress-{f}")).exists());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The checker does notice when the files are not what the model says:
    /// another process's write, simulated by a racer-like thread here,
    /// ends the run with a mismatch.
    #[test]
    fn corruption_is_detected() {
        let dir = temp_dir("corrupt");
        let mut cfg = Config::new(dir.clone(), 3);
        cfg.seconds = 30;
        cfg.threads = 2;
        cfg.racers = 0;
        cfg.files = 1;
        cfg.max_size = 256 * 1024;
        let path = dir.join("stress-0");
        let stop = AtomicBool::new(false);
        let out = std::thread::scope(|s| {
            s.spawn(|| {
                // Keep overwriting the first bytes with zeros (the pattern
                // has no zero bytes) once the file exists.
                while !stop.load(Relaxed) {
                    if let Ok(fd) = sys::open(&path, libc::O_WRONLY) {
                        let _ = sys::pwrite_all(fd.as_raw_fd(), &[0u8; 8], 0);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let out = run(&cfg);
            stop.store(true, Relaxed);
            out
        });
        assert!(!out.ok, "{out:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
