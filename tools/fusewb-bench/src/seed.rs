//! Part 1, "the seed's case" (issue 12): `cp` of a large file and `dd`
//! at three block sizes, on fuse-wb (write-through, write-back), mainline
//! FUSE (without and with write-back) and the raw back end, all with the
//! same reference server, with added latencies per WRITE, server thread
//! counts and max_write values; every case several times (see
//! [`crate::matrix`] for the cases, [`crate::summary`] for the report).
//!
//! Timing, identical for every configuration: from starting the command
//! until it has exited *and* an `fsync(2)` of the destination file (opened
//! by the benchmark after the command) has returned. The command alone is
//! "cmd_s" in the TSV file. Over the same span, the guest's system CPU
//! time from `/proc/stat`. Before each run: `sync`, drop caches.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fusewb_pattern::Pattern;

use crate::config::Settings;
use crate::matrix::{self, Case, Op};
use crate::report::{self, joined, TsvFile};
use crate::serve::{self, ServerSide};
use crate::summary::{self, Run};
use crate::sys::{self, Backing, Env, Mount, ServerSpec, Ticker};

/// Seed of the source file's data pattern.
const SEED: u64 = 0x5eed_0001;
const MIB: u64 = 1 << 20;

/// What every run needs: the settings, the paths, the source's pattern.
struct Ctx<'a> {
    env: &'a Env,
    s: &'a Settings,
    src: PathBuf,
    backing: PathBuf,
    mnt: PathBuf,
    stats: PathBuf,
    pattern: Pattern,
}

/// The report's header: the machine, the settings and the method.
fn header(env: &Env, s: &Settings) -> String {
    let first = s.first_server_label();
    format!(
        "fuse-wb benchmark, part 1: the seed's case\n\
         {}; source and backing directory on a tmpfs ({}/bench-data)\n\
         {}; vm.dirty_ratio {}, vm.dirty_background_ratio {}\n\
         server: fusewb-refserver, the same binary for every configuration; latencies added \
         per WRITE: {} us; --threads {}; --max-write {}\n\
         cp: cp SRC DST ({} MiB), with every latency, thread count and max_write; \
         dd: dd if=SRC of=DST bs=BS count=N ({} MiB), with every latency and the first \
         server setting ({first}); the raw back end has no server\n\
         every case {} times; the table shows the median total s and [min-max]; MB/s = 10^6 \
         bytes / median total s; WRITEs, mean WRITE and sys CPU s are medians, max in flight \
         the maximum over the runs\n\
         timing: command start until the command exited and fsync(2) of DST returned (total s)\n\
         before each run: {}; one mount per run\n\
         WRITEs, mean WRITE size (data bytes / WRITEs), max in flight (the most WRITEs the \
         server served at once): from the server's --stats file\n\
         sys CPU s: the guest's system + irq + softirq time over the timed span, all CPUs \
         (/proc/stat, USER_HZ {})\n\
         data check: {}\n",
        sys::machine(),
        env.scratch.display(),
        sys::module_params(),
        sys::read_small("/proc/sys/vm/dirty_ratio"),
        sys::read_small("/proc/sys/vm/dirty_background_ratio"),
        joined(&s.latencies),
        joined(&s.threads),
        joined(s.max_writes.iter().map(|&m| report::size_label(m))),
        s.cp_mb,
        s.dd_mb,
        s.reps,
        if s.drop_caches {
            "sync; echo 3 > /proc/sys/vm/drop_caches"
        } else {
            "nothing (BENCH_DROP_CACHES=0)"
        },
        sys::user_hz(),
        if s.verify {
            "every destination file is compared with the source after the unmount"
        } else {
            "off (BENCH_VERIFY=0)"
        }
    )
}

/// Memory needed in tmpfs for the source and one destination (with some
/// slack), MiB.
fn memory_needed_mib(s: &Settings) -> u64 {
    s.cp_mb * 2 + 256
}

/// Checks there is room in RAM for the tmpfs source and one destination.
fn check_memory(s: &Settings) -> Result<(), String> {
    sys::check_memory(
        &format!("the {} MiB source and a {} MiB copy", s.cp_mb, s.cp_mb),
        memory_needed_mib(s),
        "BENCH_CP_MB",
    )
}

/// Creates the source file, printing progress.
fn make_source(ctx: &Ctx<'_>) -> Result<(), String> {
    let t0 = Instant::now();
    println!(
        "creating the {} MiB source file {}",
        ctx.s.cp_mb,
        ctx.src.display()
    );
    let mut next = 256 * MIB;
    ctx.pattern
        .write_file(&ctx.src, ctx.s.cp_mb * MIB, MIB as usize, |done| {
            if done >= next {
                println!("  {} MiB", done / MIB);
                next += 256 * MIB;
            }
        })?;
    println!("source ready in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Runs every case of the plan `s.reps` times, appending each run to `tsv`.
fn run_all(ctx: &Ctx<'_>, cases: &[Case], tsv: &mut TsvFile) -> Result<Vec<Run>, String> {
    let total = matrix::run_count(ctx.s, cases);
    let mut runs = Vec::with_capacity(total);
    for &case in cases {
        for rep in 1..=ctx.s.reps {
            let r = run_one(ctx, case, rep)?;
            println!("{}", summary::progress_line(runs.len() + 1, total, &r));
            tsv.append(&summary::tsv_line(&r))?;
            runs.push(r);
        }
    }
    Ok(runs)
}

/// Runs part 1 and writes the report to `out`, every run to the TSV file
/// next to it.
pub fn run(env: &Env, s: &Settings, out: &Path) -> Result<(), String> {
    check_memory(s)?;
    let head = header(env, s);
    print!("{head}");
    let cases = matrix::plan(s);
    let plan = matrix::plan_summary(s, &cases);
    print!("{plan}");
    let tsv_path = report::tsv_path(out);
    let mut tsv = TsvFile::create(&tsv_path, summary::TSV_HEADER)?;
    // The source and one copy, in a tmpfs of their own.
    let data_dir = env.scratch.join("bench-data");
    let _tmpfs = sys::Tmpfs::mount(&data_dir, s.cp_mb * 2 + 64)?;
    let ctx = Ctx {
        env,
        s,
        src: data_dir.join("src"),
        backing: data_dir.join("backing"),
        mnt: env.scratch.join("bench-mnt"),
        stats: env.scratch.join("bench-server.stats"),
        pattern: Pattern::new(SEED),
    };
    let t0 = Instant::now();
    make_source(&ctx)?;
    let runs = run_all(&ctx, &cases, &mut tsv)?;
    sys::remove_file(&ctx.src)?;
    let sums = summary::summarize(&runs);
    let text = format!(
        "{head}{plan}\n{}\n{}\nWRITE sizes (server histogram summed over the runs of a case, \
         <=N:count):\n{}\nevery run: {}\nfinished in {:.0} s\n",
        summary::table(&sums).render(),
        summary::goals(&sums, s),
        summary::histograms(&sums),
        tsv_path.display(),
        t0.elapsed().as_secs_f64()
    );
    println!();
    print!("{text}");
    std::fs::write(out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("saved as {} and {}", out.display(), tsv_path.display());
    Ok(())
}

/// Mounts the server of `case` (None for the raw back end) and checks a
/// fuse-wb mount is in the mode it is labelled with.
fn mount_for(ctx: &Ctx<'_>, case: &Case) -> Result<Option<Mount>, String> {
    let kind = case.kind;
    let (Some(lat), Some(srv)) = (case.latency_us, case.server) else {
        return Ok(None);
    };
    let m = serve::mount(
        ctx.env,
        &ServerSpec {
            kind,
            mnt: &ctx.mnt,
            backing: Backing::Dir(&ctx.backing),
            latency_us: lat,
            threads: srv.threads,
            max_write: Some(srv.max_write),
            stats: &ctx.stats,
        },
    )?;
    Ok(Some(m))
}

/// The command of `op` writing `dst`, and its name.
fn command(ctx: &Ctx<'_>, op: Op, dst: &Path) -> (Command, &'static str) {
    match op {
        Op::Cp => {
            let mut c = Command::new("cp");
            c.arg(&ctx.src).arg(dst);
            (c, "cp")
        }
        Op::Dd(bs) => {
            let mut c = Command::new("dd");
            c.arg(format!("if={}", ctx.src.display()))
                .arg(format!("of={}", dst.display()))
                .arg(format!("bs={bs}"))
                .arg(format!("count={}", ctx.s.dd_mb * MIB / bs))
                .arg("status=none");
            (c, "dd")
        }
    }
}

/// Unmounts, then reads the server's statistics.
fn finish_mount(ctx: &Ctx<'_>, case: &Case, m: Mount) -> Result<ServerSide, String> {
    serve::finish(m, case.kind, &ctx.mnt, &ctx.stats, &case.short())
}

/// Checks the backing file holds the `bytes` written (all of the data
/// with BENCH_VERIFY, else its size), then removes it.
fn check_backing(ctx: &Ctx<'_>, case: &Case, bytes: u64) -> Result<(), String> {
    let backing_file = ctx.backing.join("file");
    sys::check_pattern_file(&ctx.pattern, &backing_file, bytes, ctx.s.verify)
        .map_err(|e| format!("{}: {e}", case.short()))?;
    sys::remove_file(&backing_file)
}

/// One timed run of `case`.
fn run_one(ctx: &Ctx<'_>, case: Case, rep: u32) -> Result<Run, String> {
    sys::fresh_dir(&ctx.backing)?;
    sys::remove_file(&ctx.stats)?;
    let mount = mount_for(ctx, &case)?;
    let dir = if case.kind.is_fuse() {
        &ctx.mnt
    } else {
        &ctx.backing
    };
    let dst = dir.join("file");
    let bytes = case.bytes(ctx.s);
    let (mut cmd, what) = command(ctx, case.op, &dst);
    if ctx.s.drop_caches {
        sys::sync_and_drop_caches();
    }
    let ticker = {
        let bf = ctx.backing.join("file");
        Ticker::start(
            format!("{} rep {rep}", case.short()),
            Duration::from_secs(30),
            move || format!("backing file at {}", sys::size_mib(&bf)),
        )
    };
    let cpu0 = sys::sys_cpu_now();
    let start = Instant::now();
    let res = sys::run_checked(&mut cmd, what);
    let cmd_s = start.elapsed().as_secs_f64();
    let res = res.and_then(|()| sys::fsync_path(&dst));
    let total_s = start.elapsed().as_secs_f64();
    let cpu1 = sys::sys_cpu_now();
    drop(ticker);
    res.map_err(|e| format!("{}, rep {rep}: {e}", case.short()))?;

    let server = match mount {
        Some(m) => Some(finish_mount(ctx, &case, m)?),
        None => None,
    };
    check_backing(ctx, &case, bytes)?;
    Ok(Run {
        case,
        rep,
        bytes,
        cmd_s,
        total_s,
        sys_cpu_s: cpu0.zip(cpu1).map(|(a, b)| (b - a).max(0.0)),
        writes: server.as_ref().map(|x| x.writes),
        inflight_max: server.as_ref().and_then(|x| x.inflight_max),
        hist: server.map(|x| x.hist).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory() {
        let s = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(memory_needed_mib(&s), 4352);
        assert_eq!(sys::suggested_vm_gib(memory_needed_mib(&s)), 6);
    }
}
