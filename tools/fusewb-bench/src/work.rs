//! Part 3, the workloads of issue 12 beyond the seed's copy: four writers
//! at once, a large file read cold, warm and at random offsets, and many
//! small files created and removed; on the configurations of part 1 over
//! `fusewb-refserver --source` on a tmpfs backing directory (its first
//! server setting, every latency of `BENCH_WORK_LATENCIES`) and on that
//! directory itself (the raw back end).
//!
//! A run is one mount: the four writers (one row), the reads (three rows:
//! cold, warm, random 4K) or the small files (two rows: the files with
//! their syncfs, then `rm -rf`). Every run is repeated `BENCH_REPS` times;
//! the table shows the medians with [min-max], as part 1's. Before each
//! run: `sync`, drop caches (`BENCH_DROP_CACHES`); before a cold or random
//! read always.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusewb_pattern::Pattern;

use crate::config::{Kind, ServerSetting, Settings};
use crate::report::{self, joined, Align, Table, TsvFile};
use crate::serve;
use crate::stats::WriteStats;
use crate::summary::{median, opt};
use crate::sys::{self, Backing, Env, ServerSpec, Ticker};

const MIB: u64 = 1 << 20;
/// Bytes per write(2) of the writers and per read(2) of the sequential reads.
const CHUNK: usize = 128 << 10;
/// Bytes per random pread(2), per small file, and the pattern's page.
const PAGE: u64 = 4096;
/// The concurrent writers.
const WRITERS: u64 = 4;
/// Directories the small files are spread over.
const SMALL_DIRS: u64 = 100;
/// Seeds of the data patterns (the writers' are WRITER_SEED + writer) and
/// of the random offsets.
const READ_SEED: u64 = 0x5eed_0031;
const WRITER_SEED: u64 = 0x5eed_0040;
const SMALL_SEED: u64 = 0x5eed_0050;
const RANDOM_SEED: u64 = 0x5eed_0060;
/// The file read, in the backing directory.
const READ_FILE: &str = "read";
/// The small files' tree.
const SMALL_TREE: &str = "small";
/// How often a long phase prints that it is still running.
const TICK: Duration = Duration::from_secs(30);

/// The workloads a run (one mount) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Writers,
    Reads,
    Small,
}

impl Group {
    /// In the order they run.
    pub const ALL: [Group; 3] = [Group::Writers, Group::Reads, Group::Small];

    pub fn label(self) -> &'static str {
        match self {
            Group::Writers => "four writers",
            Group::Reads => "reads",
            Group::Small => "small files",
        }
    }

    /// The rows a run of the group times, in order.
    pub fn ops(self) -> &'static [Op] {
        match self {
            Group::Writers => &[Op::FourWriters],
            Group::Reads => &[Op::ReadCold, Op::ReadWarm, Op::Random4K],
            Group::Small => &[Op::SmallFiles, Op::RmRf],
        }
    }
}

/// One timed operation, a row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    FourWriters,
    ReadCold,
    ReadWarm,
    Random4K,
    SmallFiles,
    RmRf,
}

impl Op {
    /// In the order of the table.
    pub const ALL: [Op; 6] = [
        Op::FourWriters,
        Op::ReadCold,
        Op::ReadWarm,
        Op::Random4K,
        Op::SmallFiles,
        Op::RmRf,
    ];

    /// Label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Op::FourWriters => "four writers",
            Op::ReadCold => "read cold",
            Op::ReadWarm => "read warm",
            Op::Random4K => "random 4K",
            Op::SmallFiles => "small files",
            Op::RmRf => "rm -rf",
        }
    }

    /// Name in the TSV file (no blanks).
    pub fn key(self) -> &'static str {
        match self {
            Op::FourWriters => "four-writers",
            Op::ReadCold => "read-cold",
            Op::ReadWarm => "read-warm",
            Op::Random4K => "random-4K",
            Op::SmallFiles => "small-files",
            Op::RmRf => "rm-rf",
        }
    }

    /// Data bytes the operation moves (0: none).
    pub fn bytes(self, s: &Settings) -> u64 {
        match self {
            Op::FourWriters => WRITERS * s.work_mb * MIB,
            Op::ReadCold | Op::ReadWarm => s.read_mb * MIB,
            Op::Random4K => s.random_reads * PAGE,
            Op::SmallFiles => s.small_files * PAGE,
            Op::RmRf => 0,
        }
    }

    /// Operations counted for ops/s (preads, files), if that is its rate.
    pub fn count(self, s: &Settings) -> Option<u64> {
        match self {
            Op::Random4K => Some(s.random_reads),
            Op::SmallFiles | Op::RmRf => Some(s.small_files),
            Op::FourWriters | Op::ReadCold | Op::ReadWarm => None,
        }
    }

    /// What the operations of [`Op::count`] are, for progress lines.
    fn unit(self) -> &'static str {
        match self {
            Op::Random4K => "reads/s",
            _ => "files/s",
        }
    }

    /// The size column: `4 x 256 MiB`, `20000 x 4K`, `10000 files`.
    pub fn size(self, s: &Settings) -> String {
        match self {
            Op::FourWriters => format!("{WRITERS} x {} MiB", s.work_mb),
            Op::ReadCold | Op::ReadWarm => format!("{} MiB", s.read_mb),
            Op::Random4K => format!("{} x 4K", s.random_reads),
            Op::SmallFiles => format!("{} x 4K", s.small_files),
            Op::RmRf => format!("{} files", s.small_files),
        }
    }
}

/// One case: a configuration, its latency and server, and a group, timed
/// `BENCH_REPS` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub kind: Kind,
    /// Added WRITE latency (None for the raw back end).
    pub latency_us: Option<u64>,
    /// The server's threads and max_write (None for the raw back end).
    pub server: Option<ServerSetting>,
    pub group: Group,
}

impl Case {
    /// Short name for progress lines: `wb +1000us four writers`, `raw reads`.
    pub fn short(&self) -> String {
        match self.latency_us {
            Some(us) => format!("{} +{us}us {}", self.kind.name(), self.group.label()),
            None => format!("{} {}", self.kind.name(), self.group.label()),
        }
    }
}

/// The cases of `s`, in the order they run: per group, the raw back end,
/// then per latency every FUSE configuration. The reads do no WRITE, so
/// the WRITE latency cannot change them: they run with the first latency
/// only.
pub fn plan(s: &Settings, server: ServerSetting) -> Vec<Case> {
    let mut cases = Vec::new();
    for group in Group::ALL {
        if s.kinds.contains(&Kind::Raw) {
            cases.push(Case {
                kind: Kind::Raw,
                latency_us: None,
                server: None,
                group,
            });
        }
        let lats = match group {
            Group::Reads => &s.work_latencies[..s.work_latencies.len().min(1)],
            _ => &s.work_latencies[..],
        };
        for &lat in lats {
            for &kind in s.kinds.iter().filter(|k| k.is_fuse()) {
                cases.push(Case {
                    kind,
                    latency_us: Some(lat),
                    server: Some(server),
                    group,
                });
            }
        }
    }
    cases
}

/// Timed runs (mounts) of `cases`: every case `BENCH_REPS` times.
pub fn run_count(s: &Settings, cases: &[Case]) -> usize {
    // CAST: reps is a small count.
    cases.len() * s.reps as usize
}

/// Timed measurements (rows of the TSV file) of `cases`.
pub fn measurement_count(s: &Settings, cases: &[Case]) -> usize {
    // CAST: reps is a small count.
    cases.iter().map(|c| c.group.ops().len()).sum::<usize>() * s.reps as usize
}

/// The lines printed before the runs start.
pub fn plan_summary(s: &Settings, cases: &[Case]) -> String {
    let n = |g: Group| cases.iter().filter(|c| c.group == g).count();
    format!(
        "plan: {} timed runs = {} cases x {} repetitions, one mount each (four writers: {} \
         cases, reads: {} cases, small files: {} cases); {} timed rows in the TSV file\n",
        run_count(s, cases),
        cases.len(),
        s.reps,
        n(Group::Writers),
        n(Group::Reads),
        n(Group::Small),
        measurement_count(s, cases)
    )
}

/// MiB of the small files' data (whole MiB).
fn small_mib(s: &Settings) -> u64 {
    (s.small_files * PAGE).div_ceil(MIB)
}

/// Size of the backing tmpfs, MiB: the read file, the four writers'
/// files and the small files at once, with some room.
pub fn tmpfs_mib(s: &Settings) -> u64 {
    s.read_mb + WRITERS * s.work_mb + small_mib(s) + 64
}

/// Memory the guest needs for the backing tmpfs, with slack, MiB (the
/// mounts' page caches are reclaimable).
pub fn memory_needed_mib(s: &Settings) -> u64 {
    tmpfs_mib(s) + 192
}

/// Checks there is room in RAM for the backing data.
fn check_memory(s: &Settings) -> Result<(), String> {
    sys::check_memory(
        &format!(
            "the {} MiB file read, the four writers' {WRITERS} x {} MiB and {} small files \
             ({} MiB)",
            s.read_mb,
            s.work_mb,
            s.small_files,
            small_mib(s)
        ),
        memory_needed_mib(s),
        "BENCH_READ_MB, BENCH_WORK_MB or BENCH_SMALL_FILES",
    )
}

/// splitmix64, the random offsets' generator.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` offsets of whole pages inside a file of `len` bytes (at least one
/// page), pseudo-random from `seed`: the same for every run.
pub fn random_offsets(seed: u64, len: u64, n: u64) -> Vec<u64> {
    let pages = (len / PAGE).max(1);
    let mut state = seed;
    (0..n)
        .map(|_| splitmix64(&mut state) % pages * PAGE)
        .collect()
}

/// The first 16 bytes of page `p` of the pattern of `seed`: `p ^ seed`
/// and `seed`, little endian (fusewb-pattern's stamp; a test checks it
/// against [`Pattern::fill`]).
fn stamp(seed: u64, p: u64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&(p ^ seed).to_le_bytes());
    s[8..].copy_from_slice(&seed.to_le_bytes());
    s
}

/// Checks that every page of `buf`, read at file offset `off` (a multiple
/// of the page), begins with the stamp of the pattern of `seed` there: the
/// page is this file's at this offset. Cheap: 16 bytes a page.
pub fn check_stamps(seed: u64, off: u64, buf: &[u8]) -> Result<(), String> {
    // CAST: PAGE is 4096.
    for (i, page) in buf.chunks(PAGE as usize).enumerate() {
        let p = off / PAGE + i as u64;
        let want = stamp(seed, p);
        let n = page.len().min(want.len());
        if page[..n] != want[..n] {
            let zeros = if page.iter().all(|b| *b == 0) {
                "; the page reads as zeros"
            } else {
                ""
            };
            return Err(format!(
                "wrong data at offset {} (page {p}): not the data written there{zeros}",
                p * PAGE
            ));
        }
    }
    Ok(())
}

/// A small file's path in the tree: file `i` in directory `i % 100`.
pub fn small_file(i: u64) -> PathBuf {
    PathBuf::from(format!("d{:02}/f{i}", i % SMALL_DIRS))
}

/// The file of writer `i`.
fn writer_file(i: u64) -> String {
    format!("w{i}")
}

/// One timed measurement.
#[derive(Debug, Clone)]
pub struct Run {
    pub case: Case,
    pub op: Op,
    /// 1-based repetition.
    pub rep: u32,
    pub bytes: u64,
    /// Operations for ops/s.
    pub count: Option<u64>,
    pub total_s: f64,
    /// The part of total_s in fsync(2) or syncfs(2).
    pub sync_s: Option<f64>,
    /// The guest's system CPU seconds over the timed span.
    pub sys_cpu_s: Option<f64>,
    /// From the server's statistics of the run's mount, on its first row.
    pub writes: Option<WriteStats>,
}

/// Header of the TSV file: one line per measurement follows.
pub const TSV_HEADER: &str = "config\tlatency_us\tthreads\tmax_write\top\trep\tbytes\tops\t\
    total_s\tsync_s\twrites\tmean_write_bytes\tsys_cpu_s\n";

/// A measurement as a line of the TSV file (unknown values "-").
pub fn tsv_line(r: &Run) -> String {
    let c = &r.case;
    let fields = [
        c.kind.name().to_string(),
        opt(c.latency_us),
        opt(c.server.map(|s| s.threads)),
        opt(c.server.map(|s| s.max_write)),
        r.op.key().to_string(),
        r.rep.to_string(),
        r.bytes.to_string(),
        opt(r.count),
        format!("{:.6}", r.total_s),
        opt(r.sync_s.map(|s| format!("{s:.6}"))),
        opt(r.writes.map(|w| w.count)),
        opt(r.writes.and_then(|w| w.mean()).map(|m| format!("{m:.0}"))),
        opt(r.sys_cpu_s.map(|s| format!("{s:.2}"))),
    ];
    let mut line = fields.join("\t");
    line.push('\n');
    line
}

/// Operations per second, no decimals; "-" without a count or time.
fn ops_per_s(count: Option<u64>, secs: f64) -> String {
    match count {
        // CAST: counts stay far below 2^53.
        Some(n) if secs > 0.0 => format!("{:.0}", n as f64 / secs),
        _ => "-".to_string(),
    }
}

/// The rate of a measurement for a progress line: `87.3 MB/s`, `4000 reads/s`.
fn rate(r: &Run) -> String {
    let mut parts = Vec::new();
    if r.bytes > 0 {
        parts.push(format!("{} MB/s", report::mb_per_s(r.bytes, r.total_s)));
    }
    if r.count.is_some() {
        parts.push(format!("{} {}", ops_per_s(r.count, r.total_s), r.op.unit()));
    }
    parts.join(", ")
}

/// The progress line of a run: `[3/69] wb +0us reads rep 1: read cold
/// 12.3 s, 87.3 MB/s; read warm ...`.
pub fn progress_line(i: usize, n: usize, case: &Case, rep: u32, rows: &[Run]) -> String {
    let parts: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {:.1} s, {}", r.op.label(), r.total_s, rate(r)))
        .collect();
    format!("[{i}/{n}] {} rep {rep}: {}", case.short(), parts.join("; "))
}

/// The runs of one case and operation, summarized.
#[derive(Debug, Clone)]
pub struct Summary {
    pub case: Case,
    pub op: Op,
    pub bytes: u64,
    pub count: Option<u64>,
    pub total_med: f64,
    pub total_min: f64,
    pub total_max: f64,
    pub sync_med: Option<f64>,
    pub writes_med: Option<f64>,
    pub mean_write_med: Option<f64>,
    pub sys_cpu_med: Option<f64>,
}

fn summarize_one(case: Case, op: Op, runs: &[&Run]) -> Summary {
    let med = |f: &dyn Fn(&Run) -> Option<f64>| {
        let v: Vec<f64> = runs.iter().filter_map(|r| f(r)).collect();
        median(&v)
    };
    let totals: Vec<f64> = runs.iter().map(|r| r.total_s).collect();
    Summary {
        case,
        op,
        bytes: runs.first().map(|r| r.bytes).unwrap_or(0),
        count: runs.first().and_then(|r| r.count),
        total_med: median(&totals).unwrap_or(0.0),
        total_min: totals.iter().copied().fold(f64::INFINITY, f64::min),
        total_max: totals.iter().copied().fold(0.0, f64::max),
        sync_med: med(&|r| r.sync_s),
        // CAST: WRITE counts stay far below 2^53.
        writes_med: med(&|r| r.writes.map(|w| w.count as f64)),
        mean_write_med: med(&|r| r.writes.and_then(|w| w.mean())),
        sys_cpu_med: med(&|r| r.sys_cpu_s),
    }
}

/// One summary per case and operation: in the order of [`Op::ALL`], then
/// of the cases' first runs.
pub fn summarize(runs: &[Run]) -> Vec<Summary> {
    let mut keys: Vec<(Case, Op)> = Vec::new();
    for r in runs {
        if !keys.contains(&(r.case, r.op)) {
            keys.push((r.case, r.op));
        }
    }
    keys.sort_by_key(|(_, op)| Op::ALL.iter().position(|o| o == op));
    keys.into_iter()
        .map(|(case, op)| {
            let of: Vec<&Run> = runs
                .iter()
                .filter(|r| r.case == case && r.op == op)
                .collect();
            summarize_one(case, op, &of)
        })
        .collect()
}

const COLUMNS: [(&str, Align); 12] = [
    ("workload", Align::Left),
    ("configuration", Align::Left),
    ("+latency", Align::Right),
    ("size", Align::Right),
    ("total s", Align::Right),
    ("[min-max]", Align::Left),
    ("sync s", Align::Right),
    ("MB/s", Align::Right),
    ("ops/s", Align::Right),
    ("WRITEs", Align::Right),
    ("mean WRITE KiB", Align::Right),
    ("sys CPU s", Align::Right),
];

/// The results table: one row per case and operation.
pub fn table(sums: &[Summary], s: &Settings) -> Table {
    let mut t = Table::new(&COLUMNS);
    for x in sums {
        t.push(vec![
            x.op.label().to_string(),
            x.case.kind.label().to_string(),
            opt(x.case.latency_us.map(|us| format!("{us} us"))),
            x.op.size(s),
            report::secs(x.total_med),
            format!(
                "[{}-{}]",
                report::secs(x.total_min),
                report::secs(x.total_max)
            ),
            opt(x.sync_med.map(report::secs)),
            if x.bytes > 0 {
                report::mb_per_s(x.bytes, x.total_med)
            } else {
                "-".to_string()
            },
            ops_per_s(x.count, x.total_med),
            opt(x.writes_med.map(|w| format!("{w:.0}"))),
            opt(x.mean_write_med.map(report::kib)),
            opt(x.sys_cpu_med.map(|c| format!("{c:.2}"))),
        ]);
    }
    t
}

/// The report's header: the machine, the settings and the method.
fn header(env: &Env, s: &Settings, server: ServerSetting) -> String {
    format!(
        "fuse-wb benchmark, part 3: workloads (four writers, reads, small files)\n\
         {}; backing directory on a tmpfs ({}/bench-work-data)\n\
         {}; vm.dirty_ratio {}, vm.dirty_background_ratio {}\n\
         server: fusewb-refserver --source (the backing directory), the same binary for every \
         configuration; --threads {} --max-write {} (part 1's first server setting); latencies \
         added per WRITE: {} us; the raw back end has no server\n\
         four writers: {WRITERS} threads at once, each creating its own file and writing {} MiB of \
         generated data in {} KiB write(2) calls, then fsync(2); total s until all {WRITERS} are \
         done, sync s from the last write(2) to the last fsync's return\n\
         reads: a {} MiB file created in the backing directory (not through FUSE) before the \
         runs; read cold: after sync and drop caches, read(2)s of {} KiB from start to end; \
         read warm: the same again at once, caches kept; random 4K: after sync and drop \
         caches, {} pread(2)s of 4 KiB at page-aligned offsets from a fixed-seed PRNG (the same \
         in every run); all three through one open file (an open drops the cached pages: the \
         server does not set FOPEN_KEEP_CACHE); the reads do no WRITE: they run with the first \
         latency only\n\
         small files: mkdir of {SMALL_DIRS} directories, then create, write(2) of 4 KiB and \
         close of {} files spread over them, then syncfs(2) of the mount (sync s, part of \
         total s); rm -rf: rm -rf of the tree, in the same mount\n\
         every run (one mount: the four writers; read cold, warm and random 4K; small files \
         and rm -rf) {} times; the table shows the median total s and [min-max]; MB/s = 10^6 \
         bytes / median total s; ops/s: reads/s (random 4K) or files/s (small files, rm -rf); \
         sync s, WRITEs, mean WRITE and sys CPU s are medians\n\
         before each run: {}\n\
         WRITEs, mean WRITE size (data bytes / WRITEs): from the server's --stats file of the \
         run's mount, on the run's first row (for the reads: read cold; for the small files: \
         small files, including rm -rf)\n\
         sys CPU s: the guest's system + irq + softirq time over the timed span, all CPUs \
         (/proc/stat, USER_HZ {})\n\
         data check: every 4 KiB page read must begin with the stamp of its file and offset \
         (a misplaced, foreign or zeroed page fails the run){}; the four writers' files {} \
         after the unmount; the small files are counted in the backing directory before \
         rm -rf, which must remove the tree\n",
        sys::machine(),
        env.scratch.display(),
        sys::module_params(),
        sys::read_small("/proc/sys/vm/dirty_ratio"),
        sys::read_small("/proc/sys/vm/dirty_background_ratio"),
        server.threads,
        report::size_label(server.max_write),
        joined(&s.work_latencies),
        s.work_mb,
        CHUNK >> 10,
        s.read_mb,
        CHUNK >> 10,
        s.random_reads,
        s.small_files,
        s.reps,
        if s.drop_caches {
            "sync; echo 3 > /proc/sys/vm/drop_caches; one mount per run"
        } else {
            "nothing (BENCH_DROP_CACHES=0; read cold and random 4K still drop caches); one \
             mount per run"
        },
        sys::user_hz(),
        if s.verify {
            ", and the whole file is compared with the data after read warm (not timed)"
        } else {
            ""
        },
        if s.verify {
            "are compared with the data written"
        } else {
            "are checked for their size (BENCH_VERIFY=0)"
        }
    )
}

/// What every run needs.
struct Ctx<'a> {
    env: &'a Env,
    s: &'a Settings,
    backing: PathBuf,
    mnt: PathBuf,
    stats: PathBuf,
    read_pattern: Pattern,
    writer_patterns: Vec<Pattern>,
    small_pattern: Pattern,
    offsets: Vec<u64>,
}

/// Runs part 3 and writes the report to `out`, every measurement to the
/// TSV file next to it.
pub fn run(env: &Env, s: &Settings, out: &Path) -> Result<(), String> {
    check_memory(s)?;
    let server = s
        .server_settings()
        .first()
        .copied()
        .ok_or("BENCH_THREADS and BENCH_MAX_WRITES give no server setting")?;
    let head = header(env, s, server);
    print!("{head}");
    let cases = plan(s, server);
    let plan_text = plan_summary(s, &cases);
    print!("{plan_text}");
    let tsv_path = report::tsv_path(out);
    let mut tsv = TsvFile::create(&tsv_path, TSV_HEADER)?;
    let data_dir = env.scratch.join("bench-work-data");
    let _tmpfs = sys::Tmpfs::mount(&data_dir, tmpfs_mib(s))?;
    let ctx = Ctx {
        env,
        s,
        backing: data_dir.join("backing"),
        mnt: env.scratch.join("bench-work-mnt"),
        stats: env.scratch.join("bench-work-server.stats"),
        read_pattern: Pattern::new(READ_SEED),
        writer_patterns: (0..WRITERS)
            .map(|i| Pattern::new(WRITER_SEED + i))
            .collect(),
        small_pattern: Pattern::new(SMALL_SEED),
        offsets: random_offsets(RANDOM_SEED, s.read_mb * MIB, s.random_reads),
    };
    sys::fresh_dir(&ctx.backing)?;
    let t0 = Instant::now();
    if cases.iter().any(|c| c.group == Group::Reads) {
        make_read_file(&ctx)?;
    }
    let runs = run_all(&ctx, &cases, &mut tsv)?;
    let text = format!(
        "{head}{plan_text}\n{}\nevery run: {}\nfinished in {:.0} s\n",
        table(&summarize(&runs), s).render(),
        tsv_path.display(),
        t0.elapsed().as_secs_f64()
    );
    println!();
    print!("{text}");
    std::fs::write(out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("saved as {} and {}", out.display(), tsv_path.display());
    Ok(())
}

/// Creates the file read, in the backing directory, printing progress.
fn make_read_file(ctx: &Ctx<'_>) -> Result<(), String> {
    let path = ctx.backing.join(READ_FILE);
    let t0 = Instant::now();
    println!(
        "creating the {} MiB file {} to read",
        ctx.s.read_mb,
        path.display()
    );
    let mut next = 256 * MIB;
    ctx.read_pattern
        .write_file(&path, ctx.s.read_mb * MIB, MIB as usize, |done| {
            if done >= next {
                println!("  {} MiB", done / MIB);
                next += 256 * MIB;
            }
        })?;
    println!("file ready in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Runs every case `s.reps` times, appending each measurement to `tsv`.
fn run_all(ctx: &Ctx<'_>, cases: &[Case], tsv: &mut TsvFile) -> Result<Vec<Run>, String> {
    let total = run_count(ctx.s, cases);
    let mut runs = Vec::with_capacity(measurement_count(ctx.s, cases));
    let mut i = 0;
    for &case in cases {
        for rep in 1..=ctx.s.reps {
            i += 1;
            let rows = run_one(ctx, case, rep)?;
            println!("{}", progress_line(i, total, &case, rep, &rows));
            for r in &rows {
                tsv.append(&tsv_line(r))?;
            }
            runs.extend(rows);
        }
    }
    Ok(runs)
}

/// One timed operation's result, before it is a [`Run`].
struct Timed {
    op: Op,
    total_s: f64,
    sync_s: Option<f64>,
    sys_cpu_s: Option<f64>,
}

/// The system CPU seconds between two readings.
fn cpu_delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    a.zip(b).map(|(a, b)| (b - a).max(0.0))
}

/// Times `f` with the system CPU time spent meanwhile.
fn timed(op: Op, f: impl FnOnce() -> Result<(), String>) -> Result<Timed, String> {
    let cpu0 = sys::sys_cpu_now();
    let start = Instant::now();
    f()?;
    let total_s = start.elapsed().as_secs_f64();
    Ok(Timed {
        op,
        total_s,
        sync_s: None,
        sys_cpu_s: cpu_delta(cpu0, sys::sys_cpu_now()),
    })
}

/// Removes what an earlier run may have left in the backing directory
/// (the writers' files, the small files); the file read stays.
fn clean_backing(ctx: &Ctx<'_>) -> Result<(), String> {
    for i in 0..WRITERS {
        sys::remove_file(&ctx.backing.join(writer_file(i)))?;
    }
    let tree = ctx.backing.join(SMALL_TREE);
    if tree.exists() {
        std::fs::remove_dir_all(&tree)
            .map_err(|e| format!("rm -r {}: {}", tree.display(), sys::describe(&e)))?;
    }
    Ok(())
}

/// One run of `case`: mount, its workloads, unmount, checks.
fn run_one(ctx: &Ctx<'_>, case: Case, rep: u32) -> Result<Vec<Run>, String> {
    let label = format!("{} rep {rep}", case.short());
    clean_backing(ctx)?;
    sys::remove_file(&ctx.stats)?;
    let mount = match (case.latency_us, case.server) {
        (Some(lat), Some(srv)) => Some(serve::mount(
            ctx.env,
            &ServerSpec {
                kind: case.kind,
                mnt: &ctx.mnt,
                backing: Backing::Dir(&ctx.backing),
                latency_us: lat,
                threads: srv.threads,
                max_write: Some(srv.max_write),
                stats: &ctx.stats,
            },
        )?),
        _ => None,
    };
    let dir = if mount.is_some() {
        &ctx.mnt
    } else {
        &ctx.backing
    };
    if ctx.s.drop_caches {
        sys::sync_and_drop_caches();
    }
    let timed = match case.group {
        Group::Writers => four_writers(ctx, dir, &label).map(|t| vec![t]),
        Group::Reads => reads(ctx, dir, &label),
        Group::Small => small_files(ctx, dir, &label),
    }
    .map_err(|e| format!("{label}: {e}"))?;
    let server = match mount {
        Some(m) => Some(serve::finish(m, case.kind, &ctx.mnt, &ctx.stats, &label)?),
        None => None,
    };
    if case.group == Group::Writers {
        check_writers(ctx).map_err(|e| format!("{label}: {e}"))?;
    }
    Ok(timed
        .into_iter()
        .enumerate()
        .map(|(i, t)| Run {
            case,
            op: t.op,
            rep,
            bytes: t.op.bytes(ctx.s),
            count: t.op.count(ctx.s),
            total_s: t.total_s,
            sync_s: t.sync_s,
            sys_cpu_s: t.sys_cpu_s,
            writes: server.as_ref().filter(|_| i == 0).map(|x| x.writes),
        })
        .collect())
}

/// Writes `len` bytes of `pattern` to a new file `path` in 128 KiB
/// write(2)s, then fsyncs it; returns when the writes and the fsync ended.
fn write_one(
    path: &Path,
    len: u64,
    pattern: &Pattern,
    done: &AtomicU64,
) -> Result<(Instant, Instant), String> {
    let mut f = File::create(path)
        .map_err(|e| format!("cannot create {}: {}", path.display(), sys::describe(&e)))?;
    let mut buf = vec![0u8; CHUNK];
    let mut off = 0u64;
    while off < len {
        // CAST: bounded by CHUNK.
        let n = (len - off).min(CHUNK as u64) as usize;
        pattern.fill(off, &mut buf[..n]);
        f.write_all(&buf[..n]).map_err(|e| {
            format!(
                "writing {} at offset {off}: {}",
                path.display(),
                sys::describe(&e)
            )
        })?;
        off += n as u64;
        done.fetch_add(n as u64, Ordering::Relaxed);
    }
    let written = Instant::now();
    f.sync_all()
        .map_err(|e| format!("fsync {}: {}", path.display(), sys::describe(&e)))?;
    Ok((written, Instant::now()))
}

/// The four writers at once, in `dir`.
fn four_writers(ctx: &Ctx<'_>, dir: &Path, label: &str) -> Result<Timed, String> {
    let len = ctx.s.work_mb * MIB;
    let done = Arc::new(AtomicU64::new(0));
    let ticker = {
        let done = done.clone();
        Ticker::start(label.to_string(), TICK, move || {
            format!(
                "{} of {} MiB written",
                done.load(Ordering::Relaxed) / MIB,
                WRITERS * len / MIB
            )
        })
    };
    let cpu0 = sys::sys_cpu_now();
    let start = Instant::now();
    let ends = std::thread::scope(|sc| {
        let mut handles = Vec::new();
        let mut err = None;
        for (i, pattern) in (0..WRITERS).zip(&ctx.writer_patterns) {
            let path = dir.join(writer_file(i));
            let done = &*done;
            match std::thread::Builder::new()
                .name(format!("writer{i}"))
                .spawn_scoped(sc, move || write_one(&path, len, pattern, done))
            {
                Ok(h) => handles.push(h),
                Err(e) => {
                    err = Some(format!("cannot start writer {i}: {e}"));
                    break;
                }
            }
        }
        let (mut written, mut end) = (start, start);
        for h in handles {
            match h.join() {
                Ok(Ok((w, e))) => {
                    written = written.max(w);
                    end = end.max(e);
                }
                Ok(Err(e)) => {
                    err.get_or_insert(e);
                }
                Err(_) => {
                    err.get_or_insert_with(|| "a writer thread panicked".to_string());
                }
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok((written, end)),
        }
    });
    let cpu1 = sys::sys_cpu_now();
    drop(ticker);
    let (written, end) = ends?;
    Ok(Timed {
        op: Op::FourWriters,
        total_s: end.duration_since(start).as_secs_f64(),
        sync_s: Some(end.duration_since(written).as_secs_f64()),
        sys_cpu_s: cpu_delta(cpu0, cpu1),
    })
}

/// Checks the writers' files in the backing directory (all of the data
/// with BENCH_VERIFY, else their sizes), then removes them.
fn check_writers(ctx: &Ctx<'_>) -> Result<(), String> {
    let len = ctx.s.work_mb * MIB;
    for (i, pattern) in (0..WRITERS).zip(&ctx.writer_patterns) {
        let path = ctx.backing.join(writer_file(i));
        sys::check_pattern_file(pattern, &path, len, ctx.s.verify)
            .map_err(|e| format!("writer {i}: {e}"))?;
        sys::remove_file(&path)?;
    }
    Ok(())
}

/// A ticker for a phase counting bytes or operations in `done`.
fn phase_ticker(label: &str, phase: &str, done: &Arc<AtomicU64>, of: String) -> Ticker {
    let done = done.clone();
    Ticker::start(format!("{label}, {phase}"), TICK, move || {
        format!("{} of {of}", done.load(Ordering::Relaxed))
    })
}

/// Reads the open file `f` (`path`, `len` bytes) from start to end in
/// 128 KiB read(2)s, checking every page's stamp; `done` counts the bytes
/// read.
fn read_sequential(
    mut f: &File,
    path: &Path,
    len: u64,
    seed: u64,
    done: &AtomicU64,
) -> Result<(), String> {
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("lseek {}: {}", path.display(), sys::describe(&e)))?;
    let mut buf = vec![0u8; CHUNK];
    let mut off = 0u64;
    while off < len {
        // CAST: bounded by CHUNK.
        let n = (len - off).min(CHUNK as u64) as usize;
        f.read_exact(&mut buf[..n]).map_err(|e| {
            format!(
                "reading {} at offset {off}: {}",
                path.display(),
                sys::describe(&e)
            )
        })?;
        check_stamps(seed, off, &buf[..n]).map_err(|e| format!("{}: {e}", path.display()))?;
        off += n as u64;
        done.store(off, Ordering::Relaxed);
    }
    let extra = f.read(&mut buf[..1]).map_err(|e| {
        format!(
            "reading {} at its end: {}",
            path.display(),
            sys::describe(&e)
        )
    })?;
    if extra != 0 {
        return Err(format!(
            "{} is longer than the {len} bytes written",
            path.display()
        ));
    }
    Ok(())
}

/// 4 KiB pread(2)s of the open file `f` (`path`) at `offsets`, checking
/// each page's stamp; `done` counts the reads.
fn read_random(
    f: &File,
    path: &Path,
    offsets: &[u64],
    seed: u64,
    done: &AtomicU64,
) -> Result<(), String> {
    // CAST: PAGE is 4096.
    let mut buf = vec![0u8; PAGE as usize];
    for (i, &off) in offsets.iter().enumerate() {
        f.read_exact_at(&mut buf, off).map_err(|e| {
            format!(
                "pread of {} at offset {off}: {}",
                path.display(),
                sys::describe(&e)
            )
        })?;
        check_stamps(seed, off, &buf).map_err(|e| format!("{}: {e}", path.display()))?;
        done.store(i as u64 + 1, Ordering::Relaxed);
    }
    Ok(())
}

/// The reads of the file in `dir`: cold, warm, random 4K, all through one
/// open file: the server's OPEN replies do not set FOPEN_KEEP_CACHE, so
/// every open drops the file's cached pages, on fuse-wb as on mainline.
fn reads(ctx: &Ctx<'_>, dir: &Path, label: &str) -> Result<Vec<Timed>, String> {
    let path = dir.join(READ_FILE);
    let len = ctx.s.read_mb * MIB;
    let f = File::open(&path)
        .map_err(|e| format!("cannot open {}: {}", path.display(), sys::describe(&e)))?;
    let mut out = Vec::new();
    for (op, phase) in [(Op::ReadCold, "read cold"), (Op::ReadWarm, "read warm")] {
        if op == Op::ReadCold {
            sys::sync_and_drop_caches();
        }
        let done = Arc::new(AtomicU64::new(0));
        let _ticker = phase_ticker(label, phase, &done, format!("{len} bytes read"));
        out.push(timed(op, || {
            read_sequential(&f, &path, len, READ_SEED, &done)
        })?);
    }
    // Untimed; its own open drops the cache, as the next drop_caches does.
    if ctx.s.verify {
        ctx.read_pattern
            .verify_file(&path, len, |_| {})
            .map_err(|e| format!("wrong data read: {e}"))?;
    }
    sys::sync_and_drop_caches();
    let done = Arc::new(AtomicU64::new(0));
    let _ticker = phase_ticker(
        label,
        "random 4K",
        &done,
        format!("{} preads done", ctx.offsets.len()),
    );
    out.push(timed(Op::Random4K, || {
        read_random(&f, &path, &ctx.offsets, READ_SEED, &done)
    })?);
    Ok(out)
}

/// Creates the small files' tree at `root`: the directories, then `n`
/// files of 4 KiB (file `i` holds the pattern's page `i`); `done` counts
/// the files.
fn create_tree(root: &Path, n: u64, pattern: &Pattern, done: &AtomicU64) -> Result<(), String> {
    let mkdir = |d: &Path| {
        std::fs::create_dir(d).map_err(|e| format!("mkdir {}: {}", d.display(), sys::describe(&e)))
    };
    mkdir(root)?;
    for d in 0..SMALL_DIRS {
        mkdir(&root.join(format!("d{d:02}")))?;
    }
    // CAST: PAGE is 4096.
    let mut buf = vec![0u8; PAGE as usize];
    for i in 0..n {
        let path = root.join(small_file(i));
        pattern.fill(i * PAGE, &mut buf);
        let mut f = File::create(&path)
            .map_err(|e| format!("cannot create {}: {}", path.display(), sys::describe(&e)))?;
        f.write_all(&buf)
            .map_err(|e| format!("writing {}: {}", path.display(), sys::describe(&e)))?;
        drop(f);
        done.store(i + 1, Ordering::Relaxed);
    }
    Ok(())
}

/// Regular files in the directories under `root`.
fn count_files(root: &Path) -> Result<u64, String> {
    let list = |d: &Path| {
        std::fs::read_dir(d)
            .map_err(|e| format!("cannot list {}: {}", d.display(), sys::describe(&e)))
    };
    let mut n = 0;
    for sub in list(root)? {
        let sub = sub.map_err(|e| format!("listing {}: {}", root.display(), sys::describe(&e)))?;
        for f in list(&sub.path())? {
            let f = f.map_err(|e| format!("listing {}: {}", root.display(), sys::describe(&e)))?;
            if f.file_type().is_ok_and(|t| t.is_file()) {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The small files in `dir`: create them and syncfs, count them in the
/// backing directory, then `rm -rf` them.
fn small_files(ctx: &Ctx<'_>, dir: &Path, label: &str) -> Result<Vec<Timed>, String> {
    let root = dir.join(SMALL_TREE);
    let n = ctx.s.small_files;
    let done = Arc::new(AtomicU64::new(0));
    let ticker = phase_ticker(label, "small files", &done, format!("{n} files created"));
    let cpu0 = sys::sys_cpu_now();
    let start = Instant::now();
    let res = create_tree(&root, n, &ctx.small_pattern, &done);
    let created = Instant::now();
    let res = res.and_then(|()| sys::syncfs_path(&root));
    let end = Instant::now();
    let cpu1 = sys::sys_cpu_now();
    drop(ticker);
    res?;
    let files = Timed {
        op: Op::SmallFiles,
        total_s: end.duration_since(start).as_secs_f64(),
        sync_s: Some(end.duration_since(created).as_secs_f64()),
        sys_cpu_s: cpu_delta(cpu0, cpu1),
    };

    let backing_tree = ctx.backing.join(SMALL_TREE);
    let got = count_files(&backing_tree)?;
    if got != n {
        return Err(format!(
            "{} holds {got} files, expected {n}",
            backing_tree.display()
        ));
    }
    let _ticker = Ticker::start(format!("{label}, rm -rf"), TICK, || "removing".to_string());
    let rm = timed(Op::RmRf, || {
        sys::run_checked(Command::new("rm").arg("-rf").arg(&root), "rm -rf")
    })?;
    if backing_tree.exists() {
        return Err(format!(
            "rm -rf {} returned, but {} is still there",
            root.display(),
            backing_tree.display()
        ));
    }
    Ok(vec![files, rm])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRV: ServerSetting = ServerSetting {
        threads: 1,
        max_write: 1 << 20,
    };

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn default_plan() {
        let s = settings(&[]);
        let cases = plan(&s, SRV);
        // Per group: raw, then 2 latencies x 4 FUSE configurations; the
        // reads with the first latency only.
        assert_eq!(cases.len(), (1 + 8) + (1 + 4) + (1 + 8));
        assert_eq!(run_count(&s, &cases), 69);
        assert_eq!(measurement_count(&s, &cases), (9 + 5 * 3 + 9 * 2) * 3);
        let names: Vec<String> = cases.iter().map(|c| c.short()).collect();
        assert_eq!(names[0], "raw four writers");
        assert_eq!(names[1], "wt +0us four writers");
        assert_eq!(names[5], "wt +1000us four writers");
        assert_eq!(names[9], "raw reads");
        assert_eq!(names[13], "ml-wb +0us reads");
        assert_eq!(names[14], "raw small files");
        assert_eq!(names[22], "ml-wb +1000us small files");
        assert!(cases
            .iter()
            .all(|c| c.server == c.kind.is_fuse().then_some(SRV)));
        assert!(cases
            .iter()
            .filter(|c| c.group == Group::Reads)
            .all(|c| c.latency_us.unwrap_or(0) == 0));
        assert_eq!(
            plan_summary(&s, &cases),
            "plan: 69 timed runs = 23 cases x 3 repetitions, one mount each (four writers: 9 \
             cases, reads: 5 cases, small files: 9 cases); 126 timed rows in the TSV file\n"
        );
    }

    #[test]
    fn subset_plan() {
        let s = settings(&[
            ("BENCH_CONFIGS", "wb raw"),
            ("BENCH_WORK_LATENCIES", "5000 0"),
            ("BENCH_REPS", "2"),
        ]);
        let cases = plan(&s, SRV);
        let names: Vec<String> = cases.iter().map(|c| c.short()).collect();
        assert_eq!(
            names,
            [
                "raw four writers",
                "wb +5000us four writers",
                "wb +0us four writers",
                "raw reads",
                "wb +5000us reads",
                "raw small files",
                "wb +5000us small files",
                "wb +0us small files",
            ]
        );
        assert_eq!(run_count(&s, &cases), 16);
        let s = settings(&[("BENCH_CONFIGS", "raw")]);
        assert_eq!(plan(&s, SRV).len(), 3);
    }

    #[test]
    fn ops() {
        let s = settings(&[]);
        let all: Vec<Op> = Group::ALL.iter().flat_map(|g| g.ops().to_vec()).collect();
        assert_eq!(all, Op::ALL);
        let sizes: Vec<String> = Op::ALL.iter().map(|o| o.size(&s)).collect();
        assert_eq!(
            sizes,
            [
                "4 x 256 MiB",
                "1024 MiB",
                "1024 MiB",
                "20000 x 4K",
                "10000 x 4K",
                "10000 files"
            ]
        );
        assert_eq!(Op::FourWriters.bytes(&s), 1 << 30);
        assert_eq!(Op::Random4K.bytes(&s), 20000 * 4096);
        assert_eq!(Op::RmRf.bytes(&s), 0);
        assert_eq!(Op::RmRf.count(&s), Some(10000));
        assert_eq!(Op::ReadWarm.count(&s), None);
        for o in Op::ALL {
            assert!(!o.key().contains(' '));
        }
    }

    #[test]
    fn memory() {
        let s = settings(&[]);
        // 1024 read + 4 x 256 writers + 40 small files (10000 x 4 KiB) + 64.
        assert_eq!(tmpfs_mib(&s), 2152);
        assert_eq!(memory_needed_mib(&s), 2344);
        assert_eq!(sys::suggested_vm_gib(memory_needed_mib(&s)), 4);
        let s = settings(&[
            ("BENCH_READ_MB", "8"),
            ("BENCH_WORK_MB", "4"),
            ("BENCH_SMALL_FILES", "100"),
        ]);
        assert_eq!(tmpfs_mib(&s), 8 + 16 + 1 + 64);
    }

    #[test]
    fn offsets() {
        let a = random_offsets(RANDOM_SEED, 1 << 30, 20000);
        assert_eq!(a.len(), 20000);
        assert_eq!(a, random_offsets(RANDOM_SEED, 1 << 30, 20000));
        assert_ne!(a, random_offsets(RANDOM_SEED + 1, 1 << 30, 20000));
        assert!(a.iter().all(|o| o % PAGE == 0 && *o < 1 << 30));
        // Spread over the file: both halves, many distinct pages.
        assert!(a.iter().any(|o| *o < 1 << 29) && a.iter().any(|o| *o >= 1 << 29));
        let mut d = a.clone();
        d.sort_unstable();
        d.dedup();
        assert!(d.len() > 19000, "{}", d.len());
        // A file of one page (or less): always offset 0.
        assert!(random_offsets(1, 4096, 10).iter().all(|o| *o == 0));
        assert!(random_offsets(1, 100, 3).iter().all(|o| *o == 0));
        assert!(random_offsets(1, 1 << 20, 0).is_empty());
    }

    #[test]
    fn stamps_match_the_pattern() {
        let p = Pattern::new(READ_SEED);
        let mut buf = vec![0u8; 3 * 4096];
        let off = 7 * 4096;
        p.fill(off, &mut buf);
        for (i, page) in buf.chunks(4096).enumerate() {
            assert_eq!(page[..16], stamp(READ_SEED, 7 + i as u64));
        }
        check_stamps(READ_SEED, off, &buf).unwrap();
        // Another offset, another seed, a zeroed page.
        let e = check_stamps(READ_SEED, off + 4096, &buf).unwrap_err();
        assert!(e.contains("offset 32768 (page 8)"), "{e}");
        assert!(check_stamps(READ_SEED + 1, off, &buf).is_err());
        buf[4096..8192].fill(0);
        let e = check_stamps(READ_SEED, off, &buf).unwrap_err();
        assert!(e.contains("page 8") && e.contains("zeros"), "{e}");
    }

    #[test]
    fn small_paths() {
        assert_eq!(small_file(0), Path::new("d00/f0"));
        assert_eq!(small_file(7), Path::new("d07/f7"));
        assert_eq!(small_file(1234), Path::new("d34/f1234"));
    }

    fn case(kind: Kind, lat: Option<u64>, group: Group) -> Case {
        Case {
            kind,
            latency_us: lat,
            server: lat.map(|_| SRV),
            group,
        }
    }

    fn run(c: Case, op: Op, rep: u32, total_s: f64, writes: Option<(u64, u64)>) -> Run {
        let s = settings(&[]);
        Run {
            case: c,
            op,
            rep,
            bytes: op.bytes(&s),
            count: op.count(&s),
            total_s,
            sync_s: matches!(op, Op::FourWriters | Op::SmallFiles).then_some(total_s / 2.0),
            sys_cpu_s: Some(total_s / 4.0),
            writes: writes.map(|(count, bytes)| WriteStats { count, bytes }),
        }
    }

    #[test]
    fn tsv() {
        let c = case(Kind::WbBack, Some(1000), Group::Writers);
        assert_eq!(
            tsv_line(&run(c, Op::FourWriters, 2, 2.0, Some((8, 8 << 20)))),
            "wb\t1000\t1\t1048576\tfour-writers\t2\t1073741824\t-\t2.000000\t1.000000\t8\t\
             1048576\t0.50\n"
        );
        let raw = Run {
            sys_cpu_s: None,
            ..run(
                case(Kind::Raw, None, Group::Reads),
                Op::Random4K,
                1,
                4.0,
                None,
            )
        };
        assert_eq!(
            tsv_line(&raw),
            "raw\t-\t-\t-\trandom-4K\t1\t81920000\t20000\t4.000000\t-\t-\t-\t-\n"
        );
        let cols = TSV_HEADER.trim_end().split('\t').count();
        assert_eq!(cols, 13);
        assert_eq!(tsv_line(&raw).trim_end().split('\t').count(), cols);
    }

    #[test]
    fn progress() {
        let c = case(Kind::WbBack, Some(0), Group::Reads);
        let rows = [
            run(c, Op::ReadCold, 1, 10.0, Some((0, 0))),
            run(c, Op::ReadWarm, 1, 1.0, None),
            run(c, Op::Random4K, 1, 5.0, None),
        ];
        assert_eq!(
            progress_line(3, 69, &c, 1, &rows),
            "[3/69] wb +0us reads rep 1: read cold 10.0 s, 107.4 MB/s; read warm 1.0 s, \
             1073.7 MB/s; random 4K 5.0 s, 16.4 MB/s, 4000 reads/s"
        );
        let c = case(Kind::Raw, None, Group::Small);
        let rows = [
            run(c, Op::SmallFiles, 2, 2.0, None),
            run(c, Op::RmRf, 2, 0.5, None),
        ];
        assert_eq!(
            progress_line(1, 2, &c, 2, &rows),
            "[1/2] raw small files rep 2: small files 2.0 s, 20.5 MB/s, 5000 files/s; \
             rm -rf 0.5 s, 20000 files/s"
        );
    }

    #[test]
    fn summaries_and_table() {
        let s = settings(&[]);
        let small = case(Kind::WbBack, Some(1000), Group::Small);
        let raw = case(Kind::Raw, None, Group::Small);
        let runs = [
            run(small, Op::SmallFiles, 1, 4.0, Some((100, 100 << 12))),
            run(small, Op::RmRf, 1, 1.0, None),
            run(small, Op::SmallFiles, 2, 2.0, Some((200, 100 << 12))),
            run(small, Op::RmRf, 2, 3.0, None),
            run(raw, Op::SmallFiles, 1, 1.0, None),
            run(raw, Op::RmRf, 1, 0.5, None),
        ];
        let sums = summarize(&runs);
        let order: Vec<(Kind, Op)> = sums.iter().map(|x| (x.case.kind, x.op)).collect();
        assert_eq!(
            order,
            [
                (Kind::WbBack, Op::SmallFiles),
                (Kind::Raw, Op::SmallFiles),
                (Kind::WbBack, Op::RmRf),
                (Kind::Raw, Op::RmRf),
            ]
        );
        let x = &sums[0];
        assert_eq!((x.total_med, x.total_min, x.total_max), (3.0, 2.0, 4.0));
        assert_eq!(x.sync_med, Some(1.5));
        assert_eq!(x.writes_med, Some(150.0));
        assert_eq!(x.mean_write_med, Some(3072.0));
        assert_eq!(sums[2].writes_med, None);
        let text = table(&sums, &s).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(
            lines[0],
            "workload     configuration       +latency         size  total s  [min-max]      \
             sync s  MB/s  ops/s  WRITEs  mean WRITE KiB  sys CPU s"
        );
        assert_eq!(
            lines[2],
            "small files  fuse-wb write-back   1000 us   10000 x 4K    3.000  [2.000-4.000]   \
             1.500  13.7   3333     150             3.0       0.75"
        );
        assert_eq!(
            lines[5],
            "rm -rf       raw back end               -  10000 files    0.500  [0.500-0.500]       \
             -     -  20000       -               -       0.12"
        );
    }
}
