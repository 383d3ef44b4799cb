//! Part 1, "the seed's case": `cp` of a large file and `dd` at three block
//! sizes, on fuse-wb (write-through, write-back), mainline FUSE (without
//! and with write-back) and the raw back end, all with the same reference
//! server, without and with an added latency per WRITE.
//!
//! Timing, identical for every configuration: from starting the command
//! until it has exited *and* an `fsync(2)` of the destination file (opened
//! by the benchmark after the command) has returned. The command alone is
//! shown as "cmd s". Before each operation: `sync`, drop caches.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fusewb_pattern::Pattern;

use crate::config::{Kind, Settings};
use crate::report::{self, Align, Table};
use crate::stats::{self, WriteStats};
use crate::sys::{self, Backing, Env, Mount, ServerSpec, Ticker};

/// Seed of the source file's data pattern.
const SEED: u64 = 0x5eed_0001;
const MIB: u64 = 1 << 20;

/// One timed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `cp SRC DST`.
    Cp,
    /// `dd if=SRC of=DST bs=BS count=N`.
    Dd(u64),
}

impl Op {
    /// Label in the table.
    pub fn label(self) -> String {
        match self {
            Op::Cp => "cp".to_string(),
            Op::Dd(bs) => format!("dd bs={}", report::size_label(bs)),
        }
    }
}

/// The operations of one configuration, in order.
pub const OPS: [Op; 4] = [Op::Cp, Op::Dd(4 << 10), Op::Dd(128 << 10), Op::Dd(1 << 20)];

/// The outcome of one operation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Kind,
    /// Added WRITE latency (None for the raw back end).
    pub latency_us: Option<u64>,
    pub op: Op,
    pub bytes: u64,
    /// Command alone.
    pub cmd_s: f64,
    /// Command and fsync.
    pub total_s: f64,
    /// From the server's statistics (None for the raw back end).
    pub writes: Option<WriteStats>,
    /// WRITE-size histogram from the server's statistics.
    pub hist: Vec<(u64, u64)>,
}

/// The results table.
pub fn table(rows: &[Outcome]) -> Table {
    let mut t = Table::new(&[
        ("configuration", Align::Left),
        ("+latency", Align::Right),
        ("operation", Align::Left),
        ("MiB", Align::Right),
        ("cmd s", Align::Right),
        ("total s", Align::Right),
        ("MB/s", Align::Right),
        ("WRITEs", Align::Right),
        ("mean WRITE KiB", Align::Right),
    ]);
    for r in rows {
        let (count, mean) = match r.writes {
            Some(w) => (
                w.count.to_string(),
                w.mean().map(report::kib).unwrap_or_else(|| "-".into()),
            ),
            None => ("-".into(), "-".into()),
        };
        t.push(vec![
            r.kind.label().to_string(),
            match r.latency_us {
                None => "-".to_string(),
                Some(us) => format!("{us} us"),
            },
            r.op.label(),
            (r.bytes / MIB).to_string(),
            report::secs(r.cmd_s),
            report::secs(r.total_s),
            report::mb_per_s(r.bytes, r.total_s),
            count,
            mean,
        ]);
    }
    t
}

/// The WRITE-size histograms, one line per FUSE operation.
pub fn histograms(rows: &[Outcome]) -> String {
    let mut out = String::new();
    for r in rows.iter().filter(|r| r.writes.is_some()) {
        out.push_str(&format!(
            "  {}, +{} us, {}: {}\n",
            r.kind.label(),
            r.latency_us.unwrap_or(0),
            r.op.label(),
            report::histogram(&r.hist)
        ));
    }
    out
}

struct Ctx<'a> {
    env: &'a Env,
    s: &'a Settings,
    src: PathBuf,
    backing: PathBuf,
    mnt: PathBuf,
    stats: PathBuf,
    pattern: Pattern,
}

fn header(env: &Env, s: &Settings) -> String {
    let mem = sys::meminfo()
        .ok()
        .and_then(|m| m.get("MemTotal").copied())
        .map(|b| format!("{} MiB", b >> 20))
        .unwrap_or_else(|| "?".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "fuse-wb benchmark, part 1: the seed's case\n\
         kernel {}, {cpus} CPUs, MemTotal {mem}; source and backing directory on a tmpfs ({}/bench-data)\n\
         {}; vm.dirty_ratio {}, vm.dirty_background_ratio {}\n\
         server: fusewb-refserver (max_write 1 MiB, one thread); latencies added per WRITE: {} us\n\
         cp: cp SRC DST ({} MiB); dd: dd if=SRC of=DST bs=BS count=N ({} MiB)\n\
         timing: command start until the command exited and fsync(2) of DST returned (total s); \
         cmd s = the command alone\n\
         before each operation: {}; one mount per operation\n\
         MB/s = 10^6 bytes / total s; WRITEs and mean WRITE size (data bytes / WRITEs) from the \
         server's --stats file\n\
         data check: {}\n",
        sys::read_small("/proc/sys/kernel/osrelease"),
        env.scratch.display(),
        sys::module_params(),
        sys::read_small("/proc/sys/vm/dirty_ratio"),
        sys::read_small("/proc/sys/vm/dirty_background_ratio"),
        s.latencies
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        s.cp_mb,
        s.dd_mb,
        if s.drop_caches {
            "sync; echo 3 > /proc/sys/vm/drop_caches"
        } else {
            "nothing (BENCH_DROP_CACHES=0)"
        },
        if s.verify {
            "every destination file is compared with the source after the unmount"
        } else {
            "off (BENCH_VERIFY=0)"
        }
    )
}

/// Checks there is room in RAM for the tmpfs source and one destination.
fn check_memory(s: &Settings) -> Result<(), String> {
    let need = (s.cp_mb * 2 + 256) * MIB;
    let m = sys::meminfo()?;
    let avail = m.get("MemAvailable").copied().unwrap_or(0);
    if avail < need {
        return Err(format!(
            "the {} MiB source and a {} MiB copy live in tmpfs (RAM): about {} MiB are needed, \
             MemAvailable is {} MiB; give the VM more memory (scripts/vm-run --mem 4G) or set BENCH_CP_MB lower",
            s.cp_mb,
            s.cp_mb,
            need / MIB,
            avail / MIB
        ));
    }
    Ok(())
}

/// Runs part 1 and writes the report to `out`.
pub fn run(env: &Env, s: &Settings, out: &Path) -> Result<(), String> {
    check_memory(s)?;
    let head = header(env, s);
    print!("{head}");
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
    println!(
        "creating the {} MiB source file {}",
        s.cp_mb,
        ctx.src.display()
    );
    let mut next = 256 * MIB;
    ctx.pattern
        .write_file(&ctx.src, s.cp_mb * MIB, MIB as usize, |done| {
            if done >= next {
                println!("  {} MiB", done / MIB);
                next += 256 * MIB;
            }
        })?;
    println!("source ready in {:.1} s", t0.elapsed().as_secs_f64());

    let mut plan: Vec<(Kind, Option<u64>)> = Vec::new();
    if s.kinds.contains(&Kind::Raw) {
        plan.push((Kind::Raw, None));
    }
    for &lat in &s.latencies {
        for &k in s.kinds.iter().filter(|k| k.is_fuse()) {
            plan.push((k, Some(lat)));
        }
    }
    let total = plan.len() * OPS.len();
    let mut rows = Vec::new();
    for (kind, lat) in plan {
        for op in OPS {
            println!(
                "[{}/{total}] {}{}: {} ({:.0} s so far)",
                rows.len() + 1,
                kind.label(),
                lat.map(|l| format!(", +{l} us per WRITE"))
                    .unwrap_or_default(),
                op.label(),
                t0.elapsed().as_secs_f64()
            );
            let r = run_one(&ctx, kind, lat, op)?;
            println!(
                "      {} s (command {} s), {} MB/s{}",
                report::secs(r.total_s),
                report::secs(r.cmd_s),
                report::mb_per_s(r.bytes, r.total_s),
                match r.writes {
                    Some(w) => format!(
                        ", {} WRITEs, mean {} KiB",
                        w.count,
                        w.mean().map(report::kib).unwrap_or_else(|| "-".into())
                    ),
                    None => String::new(),
                }
            );
            rows.push(r);
        }
    }
    sys::remove_file(&ctx.src)?;
    let text = format!(
        "{head}\n{}\nWRITE sizes (server histogram, <=N:count):\n{}\nfinished in {:.0} s\n",
        table(&rows).render(),
        histograms(&rows),
        t0.elapsed().as_secs_f64()
    );
    println!();
    print!("{text}");
    std::fs::write(out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("saved as {}", out.display());
    Ok(())
}

fn run_one(ctx: &Ctx<'_>, kind: Kind, lat: Option<u64>, op: Op) -> Result<Outcome, String> {
    let s = ctx.s;
    sys::fresh_dir(&ctx.backing)?;
    sys::remove_file(&ctx.stats)?;
    let mount = if kind.is_fuse() {
        let m = Mount::start(
            ctx.env,
            &ServerSpec {
                kind,
                mnt: &ctx.mnt,
                backing: Backing::Dir(&ctx.backing),
                latency_us: lat.unwrap_or(0),
                stats: &ctx.stats,
            },
        )?;
        if !kind.is_mainline() {
            let st = sys::read_kv(&sys::conn_stats_path(&ctx.mnt)?)?;
            let want = u64::from(kind.server_writeback());
            let got = st.get(stats::WRITEBACK_CACHE).copied();
            if got != Some(want) {
                return Err(format!(
                    "{kind}: the connection's writeback_cache is {got:?}, expected {want}: \
                     the mount is not in the mode it is labelled with"
                ));
            }
        }
        Some(m)
    } else {
        None
    };
    let dir = if kind.is_fuse() {
        &ctx.mnt
    } else {
        &ctx.backing
    };
    let dst = dir.join("file");
    let backing_file = ctx.backing.join("file");
    let (bytes, mut cmd, what) = match op {
        Op::Cp => {
            let mut c = Command::new("cp");
            c.arg(&ctx.src).arg(&dst);
            (s.cp_mb * MIB, c, "cp")
        }
        Op::Dd(bs) => {
            let bytes = s.dd_mb * MIB;
            let mut c = Command::new("dd");
            c.arg(format!("if={}", ctx.src.display()))
                .arg(format!("of={}", dst.display()))
                .arg(format!("bs={bs}"))
                .arg(format!("count={}", bytes / bs))
                .arg("status=none");
            (bytes, c, "dd")
        }
    };
    if s.drop_caches {
        sys::sync_and_drop_caches();
    }
    let ticker = {
        let bf = backing_file.clone();
        Ticker::start(op.label(), Duration::from_secs(30), move || {
            format!("backing file at {}", sys::size_mib(&bf))
        })
    };
    let start = Instant::now();
    let res = sys::run_checked(&mut cmd, what);
    let cmd_s = start.elapsed().as_secs_f64();
    let res = res.and_then(|()| sys::fsync_path(&dst));
    let total_s = start.elapsed().as_secs_f64();
    drop(ticker);
    res.map_err(|e| format!("{kind}, {}: {e}", op.label()))?;

    let (writes, hist) = match mount {
        Some(m) => {
            let kernel = if kind.is_mainline() {
                None
            } else {
                sys::conn_stats_path(&ctx.mnt)
                    .and_then(|p| sys::read_kv(&p))
                    .ok()
                    .map(|m| WriteStats::from_kernel(&m))
            };
            m.finish()?;
            let st = sys::server_stats(&ctx.stats)?;
            let w = WriteStats::from_server(&st);
            if let Some(k) = kernel {
                if k.count != w.count {
                    eprintln!(
                        "fusewb-bench: note: {kind}, {}: the kernel counted {} WRITEs, the server {}",
                        op.label(),
                        k.count,
                        w.count
                    );
                }
            }
            (Some(w), stats::histogram(&st))
        }
        None => (None, Vec::new()),
    };
    if s.verify {
        ctx.pattern
            .verify_file(&backing_file, bytes, |_| {})
            .map_err(|e| format!("{kind}, {}: wrong data: {e}", op.label()))?;
    } else {
        let len = std::fs::metadata(&backing_file)
            .map_err(|e| format!("{kind}, {}: {}: {e}", op.label(), backing_file.display()))?
            .len();
        if len != bytes {
            return Err(format!(
                "{kind}, {}: {} has {len} bytes, expected {bytes}",
                op.label(),
                backing_file.display()
            ));
        }
    }
    sys::remove_file(&backing_file)?;
    Ok(Outcome {
        kind,
        latency_us: lat,
        op,
        bytes,
        cmd_s,
        total_s,
        writes,
        hist,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(kind: Kind, lat: Option<u64>, op: Op, w: Option<(u64, u64)>) -> Outcome {
        Outcome {
            kind,
            latency_us: lat,
            op,
            bytes: 256 * MIB,
            cmd_s: 1.0,
            total_s: 2.0,
            writes: w.map(|(count, bytes)| WriteStats { count, bytes }),
            hist: vec![(4096, 3)],
        }
    }

    #[test]
    fn labels() {
        assert_eq!(Op::Cp.label(), "cp");
        let l: Vec<String> = OPS.iter().map(|o| o.label()).collect();
        assert_eq!(l, ["cp", "dd bs=4K", "dd bs=128K", "dd bs=1M"]);
    }

    #[test]
    fn table_rows() {
        let rows = [
            outcome(Kind::Raw, None, Op::Cp, None),
            outcome(
                Kind::WbBack,
                Some(1000),
                Op::Dd(4096),
                Some((256, 256 * MIB)),
            ),
            outcome(Kind::Mainline, Some(0), Op::Dd(1 << 20), Some((0, 0))),
        ];
        let text = table(&rows).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("configuration"), "{text}");
        assert_eq!(
            lines[2],
            "raw back end               -  cp         256  1.000    2.000  134.2       -               -"
        );
        assert_eq!(
            lines[3],
            "fuse-wb write-back   1000 us  dd bs=4K   256  1.000    2.000  134.2     256          1024.0"
        );
        assert!(lines[4].ends_with("    0               -"), "{text}");
        // Every line has the same column positions.
        let w = lines[0].find("MB/s").unwrap() + 4;
        assert!(lines
            .iter()
            .skip(2)
            .all(|l| l[..w].ends_with(|c: char| c.is_ascii_digit())));
    }

    #[test]
    fn histogram_lines() {
        let rows = [
            outcome(Kind::Raw, None, Op::Cp, None),
            outcome(Kind::WbThrough, Some(0), Op::Cp, Some((3, 12288))),
        ];
        assert_eq!(
            histograms(&rows),
            "  fuse-wb write-through, +0 us, cp: <=4K:3\n"
        );
    }
}
