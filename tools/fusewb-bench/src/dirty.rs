//! Part 2: dirty memory during a large copy into a fuse-wb write-back
//! mount, in a small VM. The data (a deterministic pattern, generated on
//! the fly) is written by this program with 128 KiB write(2) calls, as
//! `cp` does, then fsync'ed; a sampler reads `/proc/meminfo` (Dirty,
//! Writeback) and the connection's `stats` (writeback_inflight_bytes,
//! dirty_pages) every 0.5 s.
//!
//! The server's back end (`BENCH_DIRTY_BACKEND`) must not keep the data in
//! guest RAM. `sink` (the default): `fusewb-refserver --sink-pattern SEED`
//! stores no data; it compares every WRITE with the pattern at its offset
//! and records which bytes of each file were written; after the unmount
//! its statistics must show every byte matching and the file's size and
//! written bytes equal to the length. `dir`: a passthrough of a directory
//! outside guest RAM (the host-shared tests/out, slow: 9p), whose file is
//! compared with the pattern after the unmount.
//!
//! Meanwhile a latency probe writes 4 KiB to a file on a tmpfs of its own
//! (not FUSE) and fsyncs it every 100 ms: does the copy stall the other
//! writers of the machine? Its worst time and the probes over 1 s are
//! reported (never failing: a benchmark does not fail on speed).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fusewb_pattern::Pattern;

use crate::config::{DirtyBackend, Kind, Settings};
use crate::report::{self, Align, Table};
use crate::stats::{self, WriteStats};
use crate::summary::median;
use crate::sys::{self, Backing, Env, Mount, ServerSpec};

const SEED: u64 = 0xd1a7_0002;
const MIB: u64 = 1 << 20;
const CHUNK: usize = 128 << 10;
const PAGE: u64 = 4096;
/// The file written in the mount.
const FILE: &str = "big";
/// The latency probe: every PROBE_EVERY, a PROBE_BYTES write(2) at one of
/// PROBE_SLOTS offsets and an fsync(2).
const PROBE_EVERY: Duration = Duration::from_millis(100);
const PROBE_BYTES: usize = 4096;
const PROBE_SLOTS: u64 = 256;
/// A probe this slow (µs) is printed at once and counted.
const PROBE_SLOW_US: u64 = 1_000_000;

/// One sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Seconds since the copy started, in ms.
    pub t_ms: u64,
    /// Bytes the writer had written.
    pub written: u64,
    /// /proc/meminfo Dirty, bytes.
    pub dirty: u64,
    /// /proc/meminfo Writeback, bytes.
    pub writeback: u64,
    /// The connection's writeback_inflight_bytes (None if unreadable).
    pub inflight: Option<u64>,
    /// The connection's dirty_pages (None if unreadable).
    pub dirty_pages: Option<u64>,
}

/// Maxima over the samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maxima {
    pub n: u64,
    pub dirty: u64,
    pub writeback: u64,
    pub dirty_plus_writeback: u64,
    /// None if no sample could read the connection's stats.
    pub inflight: Option<u64>,
    pub dirty_pages: Option<u64>,
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Maxima {
    pub fn add(&mut self, s: &Sample) {
        self.n += 1;
        self.dirty = self.dirty.max(s.dirty);
        self.writeback = self.writeback.max(s.writeback);
        self.dirty_plus_writeback = self.dirty_plus_writeback.max(s.dirty + s.writeback);
        self.inflight = max_opt(self.inflight, s.inflight);
        self.dirty_pages = max_opt(self.dirty_pages, s.dirty_pages);
    }
}

/// The latency probe's results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    /// Every probe's write + fsync time, µs, in order.
    pub took_us: Vec<u64>,
    /// The slowest, µs, and when it started (ms since the copy started).
    pub worst_us: u64,
    pub worst_at_ms: u64,
}

impl Probes {
    /// Records a probe started at `at_ms` that took `took_us`.
    pub fn add(&mut self, at_ms: u64, took_us: u64) {
        if self.took_us.is_empty() || took_us > self.worst_us {
            self.worst_us = took_us;
            self.worst_at_ms = at_ms;
        }
        self.took_us.push(took_us);
    }

    /// Probes that took 1 s or more.
    pub fn slow(&self) -> usize {
        self.took_us.iter().filter(|&&t| t >= PROBE_SLOW_US).count()
    }

    /// The report's line.
    pub fn line(&self) -> String {
        let what = format!(
            "{} KiB write(2) + fsync(2) to a file on a tmpfs every {} ms",
            PROBE_BYTES >> 10,
            PROBE_EVERY.as_millis()
        );
        // CAST: microseconds far below 2^53.
        let v: Vec<f64> = self.took_us.iter().map(|&t| t as f64).collect();
        let Some(med) = median(&v) else {
            return format!("latency probe ({what}): no probe ran");
        };
        format!(
            "latency probe ({what}): {} probes, worst {:.1} ms at {:.1} s, median {:.2} ms, \
             {} took 1 s or more",
            self.took_us.len(),
            self.worst_us as f64 / 1e3,
            self.worst_at_ms as f64 / 1e3,
            med / 1e3,
            self.slow()
        )
    }
}

/// The probe's loop: until `stop`, every [`PROBE_EVERY`] a 4 KiB write
/// to `path` and an fsync, timed; prints a probe of 1 s or more at once.
fn probe_loop(path: &Path, t0: Instant, stop: &AtomicBool) -> Result<Probes, String> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("latency probe: cannot create {}: {e}", path.display()))?;
    let buf = [0x5au8; PROBE_BYTES];
    let mut probes = Probes::default();
    let mut next = Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        // CAST: a run lasts far less than 2^64 ms or µs.
        let at_ms = t0.elapsed().as_millis() as u64;
        let start = Instant::now();
        f.write_all_at(&buf, (i % PROBE_SLOTS) * PROBE_BYTES as u64)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("latency probe: write + fsync {}: {e}", path.display()))?;
        let took_us = start.elapsed().as_micros() as u64;
        probes.add(at_ms, took_us);
        if took_us >= PROBE_SLOW_US {
            println!(
                "  latency probe at {:.1} s: write + fsync on tmpfs took {:.2} s",
                at_ms as f64 / 1e3,
                took_us as f64 / 1e6
            );
        }
        i += 1;
        next += PROBE_EVERY;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    Ok(probes)
}

/// A sample as a line of the samples file.
pub fn sample_line(s: &Sample) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    format!(
        "{:.1} {} {} {} {} {}",
        s.t_ms as f64 / 1000.0,
        s.written >> 20,
        s.dirty >> 10,
        s.writeback >> 10,
        opt(s.inflight),
        opt(s.dirty_pages)
    )
}

/// A progress line for a sample.
pub fn progress_line(s: &Sample) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
    let t = s.t_ms as f64 / 1000.0;
    format!(
        "{t:.0} s: {} MiB written ({} MB/s); Dirty {} MiB, Writeback {} MiB, \
         connection dirty_pages {}, writeback_inflight_bytes {}",
        s.written >> 20,
        report::mb_per_s(s.written, t),
        s.dirty >> 20,
        s.writeback >> 20,
        opt(s.dirty_pages),
        opt(s.inflight)
    )
}

/// Header of the samples file.
pub const SAMPLES_HEADER: &str =
    "# t_s written_MiB Dirty_kB Writeback_kB writeback_inflight_bytes dirty_pages\n";

/// The summary table of the maxima.
pub fn maxima_table(m: &Maxima) -> Table {
    let mut t = Table::new(&[
        ("maximum over the copy", Align::Left),
        ("MiB", Align::Right),
        ("raw", Align::Right),
    ]);
    let kb = |b: u64| format!("{} kB", b >> 10);
    t.push(vec![
        "/proc/meminfo Dirty".into(),
        report::mib(m.dirty),
        kb(m.dirty),
    ]);
    t.push(vec![
        "/proc/meminfo Writeback".into(),
        report::mib(m.writeback),
        kb(m.writeback),
    ]);
    t.push(vec![
        "Dirty + Writeback (same sample)".into(),
        report::mib(m.dirty_plus_writeback),
        kb(m.dirty_plus_writeback),
    ]);
    let na = || vec!["-".to_string(), "unreadable".to_string()];
    let mut row = vec!["connection writeback_inflight_bytes".to_string()];
    row.extend(match m.inflight {
        Some(b) => vec![report::mib(b), format!("{b} bytes")],
        None => na(),
    });
    t.push(row);
    let mut row = vec!["connection dirty_pages".to_string()];
    row.extend(match m.dirty_pages {
        Some(p) => vec![report::mib(p.saturating_mul(PAGE)), format!("{p} pages")],
        None => na(),
    });
    t.push(row);
    t
}

fn take_sample(t0: Instant, written: u64, conn_stats: &Path) -> Sample {
    let mi = sys::meminfo().unwrap_or_default();
    let conn = sys::read_kv(conn_stats).ok();
    Sample {
        // CAST: a run lasts far less than 2^64 ms.
        t_ms: t0.elapsed().as_millis() as u64,
        written,
        dirty: mi.get("Dirty").copied().unwrap_or(0),
        writeback: mi.get("Writeback").copied().unwrap_or(0),
        inflight: conn
            .as_ref()
            .and_then(|c| c.get(stats::WRITEBACK_INFLIGHT_BYTES).copied()),
        dirty_pages: conn
            .as_ref()
            .and_then(|c| c.get(stats::DIRTY_PAGES).copied()),
    }
}

/// The header's line about the server and its back end.
pub fn server_line(backing: Backing<'_>, latency_us: u64) -> String {
    let lat = if latency_us > 0 {
        format!(" --write-latency-us {latency_us}")
    } else {
        String::new()
    };
    match backing {
        Backing::Sink(seed) => format!(
            "server: fusewb-refserver --writeback{lat} --sink-pattern {seed:#x}; backend sink: \
             stores no data, compares every WRITE with the pattern written and records the \
             bytes written"
        ),
        Backing::Dir(dir) => format!(
            "server: fusewb-refserver --writeback{lat} --source {}; backend dir: a passthrough \
             of that directory, compared with the pattern after the unmount",
            dir.display()
        ),
    }
}

/// What the sink server's statistics say about the file written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkCheck {
    /// Data bytes of all WRITEs the server received.
    pub bytes_written: u64,
    /// WRITEs whose data differed from the pattern (0 when the check passes).
    pub mismatched_writes: u64,
}

/// Checks the sink server's statistics `st` after `len` bytes of the
/// pattern of `seed` were written to `name`: every byte received equals
/// the pattern at its offset, and the file has size `len` with all `len`
/// bytes written.
pub fn check_sink(
    st: &BTreeMap<String, u64>,
    name: &str,
    len: u64,
    seed: u64,
) -> Result<SinkCheck, String> {
    let get = |k: &str| {
        st.get(k).copied().ok_or_else(|| {
            format!(
                "the server's statistics have no {k} line (a fusewb-refserver without \
                 --sink-pattern, or no file {name} in the sink)"
            )
        })
    };
    let server_seed = get("sink.seed")?;
    if server_seed != seed {
        return Err(format!(
            "the sink server checked against the pattern of seed {server_seed:#x}, \
             the writer wrote seed {seed:#x}"
        ));
    }
    let written = get("sink.bytes_written")?;
    let matched = get("sink.bytes_matched")?;
    let mismatched = get("sink.mismatched_writes")?;
    let size = get(&format!("sink.file.{name}.size"))?;
    let covered = get(&format!("sink.file.{name}.covered"))?;
    let mut wrong = Vec::new();
    if mismatched != 0 || matched != written {
        wrong.push(format!(
            "{mismatched} WRITEs carried data different from what was written at their \
             offsets ({matched} of {written} bytes equal; the server's stderr names the first)"
        ));
    }
    if size != len {
        wrong.push(format!("{name} has size {size}, expected {len}"));
    }
    if covered != len {
        wrong.push(format!(
            "{covered} bytes of {name} were written, expected {len} ({} never arrived)",
            len.saturating_sub(covered)
        ));
    }
    if !wrong.is_empty() {
        return Err(format!(
            "wrong data: the sink server reports: {}",
            wrong.join("; ")
        ));
    }
    Ok(SinkCheck {
        bytes_written: written,
        mismatched_writes: mismatched,
    })
}

/// The report's `data:` line after a successful sink check.
pub fn sink_data_line(c: &SinkCheck, len: u64) -> String {
    format!(
        "data: the sink server received the data written: {} bytes in WRITEs, every one \
         equal to the pattern at its offset ({} mismatching WRITEs); {FILE} has size {len} \
         and all {len} bytes written",
        c.bytes_written, c.mismatched_writes
    )
}

fn header(s: &Settings, backing: Backing<'_>) -> String {
    let mem = sys::meminfo().unwrap_or_default();
    let mib = |k: &str| {
        mem.get(k)
            .map(|b| format!("{} MiB", b >> 20))
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "fuse-wb benchmark, part 2: dirty memory while copying {} MiB into a fuse-wb write-back mount \
         (BENCH_DIRTY_BACKEND={})\n\
         kernel {}, MemTotal {}, MemAvailable {}\n\
         vm.dirty_ratio {}, vm.dirty_background_ratio {}, vm.dirty_bytes {}, vm.dirty_background_bytes {}\n\
         {}\n\
         {}\n\
         writer: this program, {} KiB write(2) calls of a generated pattern, then fsync(2)\n\
         sampling every 0.5 s: /proc/meminfo Dirty and Writeback, the connection's \
         writeback_inflight_bytes and dirty_pages\n\
         latency probe: every {} ms a {} KiB write(2) and fsync(2) to a file on a tmpfs of its \
         own (not FUSE), timed: its worst time and the probes of 1 s or more are reported\n",
        s.big_mb,
        s.dirty_backend.name(),
        sys::read_small("/proc/sys/kernel/osrelease"),
        mib("MemTotal"),
        mib("MemAvailable"),
        sys::read_small("/proc/sys/vm/dirty_ratio"),
        sys::read_small("/proc/sys/vm/dirty_background_ratio"),
        sys::read_small("/proc/sys/vm/dirty_bytes"),
        sys::read_small("/proc/sys/vm/dirty_background_bytes"),
        sys::module_params(),
        server_line(backing, s.dirty_latency_us),
        CHUNK >> 10,
        PROBE_EVERY.as_millis(),
        PROBE_BYTES >> 10
    )
}

/// The per-bdi limits of fuse-wb mounts (`/sys/class/bdi/fuse-wb-*`).
fn bdi_limits() -> String {
    let Ok(rd) = std::fs::read_dir("/sys/class/bdi") else {
        return String::new();
    };
    let mut out = String::new();
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("fuse-wb"))
        .collect();
    names.sort();
    for n in names {
        out.push_str(&format!(
            "bdi {n}: max_ratio {}, min_ratio {}\n",
            sys::read_small(&format!("/sys/class/bdi/{n}/max_ratio")),
            sys::read_small(&format!("/sys/class/bdi/{n}/min_ratio"))
        ));
    }
    out
}

/// Compares the backing file `path` with the first `len` bytes of the
/// pattern; returns the report's `data:` line. On a mismatch the file is
/// kept for inspection.
fn verify_backing_file(pattern: &Pattern, path: &Path, len: u64) -> Result<String, String> {
    println!("comparing {} with the data written", path.display());
    let vt = Instant::now();
    let mut last = Instant::now();
    pattern
        .verify_file(path, len, |done| {
            if last.elapsed() >= Duration::from_secs(15) {
                last = Instant::now();
                println!("  {} MiB checked", done >> 20);
            }
        })
        .map_err(|e| format!("wrong data: {e} (the backing file is kept for inspection)"))?;
    Ok(format!(
        "data: the backing file equals the data written ({} MiB compared in {:.1} s)",
        len >> 20,
        vt.elapsed().as_secs_f64()
    ))
}

/// Runs part 2 and writes the report to `out` and the samples next to it.
pub fn run(env: &Env, s: &Settings, out: &Path) -> Result<(), String> {
    let backing_dir: PathBuf = match &s.dirty_dir {
        Some(d) => PathBuf::from(d),
        None => env.out_dir().join("bench-dirty-backing"),
    };
    let backing = match s.dirty_backend {
        DirtyBackend::Sink => Backing::Sink(SEED),
        DirtyBackend::Dir => Backing::Dir(&backing_dir),
    };
    let mnt = env.scratch.join("bench-dirty-mnt");
    let stats_file = env.scratch.join("bench-dirty-server.stats");
    let samples_path = out.with_extension("samples.txt");
    let len = s.big_mb * MIB;
    let pattern = Pattern::new(SEED);

    let head = header(s, backing);
    print!("{head}");
    if let Backing::Dir(dir) = backing {
        sys::fresh_dir(dir)?;
    }
    sys::remove_file(&stats_file)?;
    let mount = Mount::start(
        env,
        &ServerSpec {
            kind: Kind::WbBack,
            mnt: &mnt,
            backing,
            latency_us: s.dirty_latency_us,
            // The server's defaults: one thread, max_write 1 MiB.
            threads: 1,
            max_write: None,
            stats: &stats_file,
        },
    )?;
    let conn_stats = sys::conn_stats_path(&mnt)?;
    let wbc = sys::read_kv(&conn_stats)?
        .get(stats::WRITEBACK_CACHE)
        .copied();
    if wbc != Some(1) {
        return Err(format!(
            "the mount is not in write-back mode (writeback_cache {wbc:?})"
        ));
    }
    let bdi = bdi_limits();
    print!("{bdi}");
    if s.drop_caches {
        sys::sync_and_drop_caches();
    }

    // The latency probe's file, on a tmpfs of its own.
    let probe_dir = env.scratch.join("bench-dirty-probe");
    let probe_fs = sys::Tmpfs::mount(&probe_dir, 4)?;

    // Sampler.
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let sampler = {
        let (written, stop, conn_stats) = (written.clone(), stop.clone(), conn_stats.clone());
        let mut file = File::create(&samples_path)
            .map_err(|e| format!("cannot create {}: {e}", samples_path.display()))?;
        std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let mut max = Maxima::default();
                let _ = file.write_all(SAMPLES_HEADER.as_bytes());
                loop {
                    let done = stop.load(Ordering::SeqCst);
                    let smp = take_sample(t0, written.load(Ordering::Relaxed), &conn_stats);
                    max.add(&smp);
                    let _ = writeln!(file, "{}", sample_line(&smp));
                    // A progress line every 10 s, even while the writer is
                    // blocked (throttled, or in fsync).
                    if max.n % 20 == 1 && max.n > 1 {
                        println!("  {}", progress_line(&smp));
                    }
                    if done {
                        return max;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
            .map_err(|e| format!("cannot start the sampler: {e}"))?
    };
    // Latency probe.
    let probe = {
        let (stop, path) = (stop.clone(), probe_dir.join("probe"));
        std::thread::Builder::new()
            .name("probe".into())
            .spawn(move || probe_loop(&path, t0, &stop))
    };
    let probe = match probe {
        Ok(h) => h,
        Err(e) => {
            stop.store(true, Ordering::SeqCst);
            return Err(format!("cannot start the latency probe: {e}"));
        }
    };

    // Writer.
    let dst = mnt.join(FILE);
    let res = (|| -> Result<(f64, f64), String> {
        let mut f =
            File::create(&dst).map_err(|e| format!("cannot create {}: {e}", dst.display()))?;
        let mut buf = vec![0u8; CHUNK];
        let mut off = 0u64;
        while off < len {
            // CAST: bounded by CHUNK.
            let n = (len - off).min(CHUNK as u64) as usize;
            pattern.fill(off, &mut buf[..n]);
            f.write_all(&buf[..n])
                .map_err(|e| format!("writing {} at offset {off}: {e}", dst.display()))?;
            off += n as u64;
            written.store(off, Ordering::Relaxed);
        }
        let write_s = t0.elapsed().as_secs_f64();
        println!("  all {} MiB written in {:.1} s; fsync", len >> 20, write_s);
        f.sync_all()
            .map_err(|e| format!("fsync {}: {e}", dst.display()))?;
        drop(f);
        Ok((write_s, t0.elapsed().as_secs_f64()))
    })();
    stop.store(true, Ordering::SeqCst);
    let max = sampler
        .join()
        .map_err(|_| "the sampler thread panicked".to_string())?;
    let probes = probe
        .join()
        .map_err(|_| "the latency probe thread panicked".to_string())?;
    drop(probe_fs);
    let (write_s, total_s) = res?;
    let probes = probes?;

    let kernel = sys::read_kv(&conn_stats)
        .ok()
        .map(|m| WriteStats::from_kernel(&m));
    mount.finish()?;
    let st = sys::server_stats(&stats_file)?;
    let w = WriteStats::from_server(&st);
    if let Some(k) = kernel {
        if k.count != w.count {
            eprintln!(
                "fusewb-bench: note: the kernel counted {} WRITEs, the server {}",
                k.count, w.count
            );
        }
    }

    let data_line = match backing {
        Backing::Sink(seed) => {
            let c = check_sink(&st, FILE, len, seed)
                .map_err(|e| format!("{e} (server statistics: {})", stats_file.display()))?;
            sink_data_line(&c, len)
        }
        Backing::Dir(dir) => {
            let line = verify_backing_file(&pattern, &dir.join(FILE), len)?;
            sys::remove_file(&dir.join(FILE))?;
            let _ = std::fs::remove_dir(dir);
            line
        }
    };

    let text = format!(
        "{head}{bdi}\n\
         copy: {} MiB written in {:.1} s, fsync done at {:.1} s ({} MB/s including fsync)\n\
         server: {} WRITEs, mean {} KiB; sizes {}\n\
         {data_line}\n\
         {}\n\
         {} samples ({})\n\n{}",
        len >> 20,
        write_s,
        total_s,
        report::mb_per_s(len, total_s),
        w.count,
        w.mean().map(report::kib).unwrap_or_else(|| "-".into()),
        report::histogram(&stats::histogram(&st)),
        probes.line(),
        max.n,
        samples_path.display(),
        maxima_table(&max).render()
    );
    println!();
    print!("{text}");
    std::fs::write(out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("saved as {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxima_of_samples() {
        let mut m = Maxima::default();
        m.add(&Sample {
            dirty: 10 << 20,
            writeback: 1 << 20,
            inflight: Some(5),
            dirty_pages: None,
            ..Sample::default()
        });
        m.add(&Sample {
            dirty: 2 << 20,
            writeback: 4 << 20,
            inflight: None,
            dirty_pages: Some(7),
            ..Sample::default()
        });
        assert_eq!(
            m,
            Maxima {
                n: 2,
                dirty: 10 << 20,
                writeback: 4 << 20,
                dirty_plus_writeback: 11 << 20,
                inflight: Some(5),
                dirty_pages: Some(7),
            }
        );
    }

    #[test]
    fn probe_results() {
        let mut p = Probes::default();
        assert_eq!(
            p.line(),
            "latency probe (4 KiB write(2) + fsync(2) to a file on a tmpfs every 100 ms): \
             no probe ran"
        );
        p.add(0, 80);
        p.add(100, 1_500_000);
        p.add(200, 120);
        p.add(300, 1_000_000);
        p.add(400, 1_500_000);
        assert_eq!((p.worst_us, p.worst_at_ms), (1_500_000, 100));
        assert_eq!(p.slow(), 3);
        assert_eq!(
            p.line(),
            "latency probe (4 KiB write(2) + fsync(2) to a file on a tmpfs every 100 ms): \
             5 probes, worst 1500.0 ms at 0.1 s, median 1000.00 ms, 3 took 1 s or more"
        );
        let mut q = Probes::default();
        q.add(5000, 0);
        assert_eq!((q.worst_us, q.worst_at_ms, q.slow()), (0, 5000, 0));
    }

    #[test]
    fn probe_runs_until_stopped() {
        let dir = std::env::temp_dir().join(format!("fusewb-bench-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("probe");
        let stop = AtomicBool::new(false);
        let p = std::thread::scope(|sc| {
            let h = sc.spawn(|| probe_loop(&path, Instant::now(), &stop));
            std::thread::sleep(Duration::from_millis(250));
            stop.store(true, Ordering::SeqCst);
            h.join().unwrap()
        })
        .unwrap();
        let n = p.took_us.len() as u64;
        assert!(n >= 1);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            n.min(PROBE_SLOTS) * PROBE_BYTES as u64
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sample_format() {
        let s = Sample {
            t_ms: 1500,
            written: 3 << 20,
            dirty: 2048,
            writeback: 0,
            inflight: Some(131072),
            dirty_pages: None,
        };
        assert_eq!(sample_line(&s), "1.5 3 2 0 131072 -");
        assert_eq!(
            progress_line(&s),
            "2 s: 3 MiB written (2.1 MB/s); Dirty 0 MiB, Writeback 0 MiB, \
             connection dirty_pages ?, writeback_inflight_bytes 131072"
        );
        assert_eq!(SAMPLES_HEADER.split_whitespace().count(), 7);
    }

    #[test]
    fn maxima_render() {
        let m = Maxima {
            n: 3,
            dirty: 3 << 20,
            writeback: 1 << 19,
            dirty_plus_writeback: 3 << 20,
            inflight: Some(1 << 20),
            dirty_pages: Some(256),
        };
        let text = maxima_table(&m).render();
        assert!(
            text.contains("/proc/meminfo Dirty                  3.0        3072 kB\n"),
            "{text}"
        );
        assert!(
            text.contains("connection dirty_pages               1.0      256 pages\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 7);
        let text = maxima_table(&Maxima::default()).render();
        assert!(
            text.contains("connection dirty_pages                 -  unreadable\n"),
            "{text}"
        );
    }

    fn sink_stats(lines: &str) -> BTreeMap<String, u64> {
        stats::parse_kv(lines).unwrap()
    }

    const GOOD: &str = "requests_total 9\n\
        op.WRITE.count 8\n\
        op.WRITE.bytes 1048576\n\
        sink.seed 3517382658\n\
        sink.bytes_written 1048576\n\
        sink.bytes_matched 1048576\n\
        sink.mismatched_writes 0\n\
        sink.files 1\n\
        sink.file.big.size 1048576\n\
        sink.file.big.covered 1048576\n";

    #[test]
    fn sink_check_passes() {
        let c = check_sink(&sink_stats(GOOD), "big", MIB, SEED).unwrap();
        assert_eq!(
            c,
            SinkCheck {
                bytes_written: MIB,
                mismatched_writes: 0
            }
        );
        // Rewritten pages count twice in bytes_written, not in covered.
        let more = GOOD
            .replace("sink.bytes_written 1048576", "sink.bytes_written 1052672")
            .replace("sink.bytes_matched 1048576", "sink.bytes_matched 1052672");
        assert!(check_sink(&sink_stats(&more), "big", MIB, SEED).is_ok());
        assert_eq!(
            sink_data_line(&c, MIB),
            "data: the sink server received the data written: 1048576 bytes in WRITEs, every \
             one equal to the pattern at its offset (0 mismatching WRITEs); big has size \
             1048576 and all 1048576 bytes written"
        );
    }

    #[test]
    fn sink_check_failures() {
        let check = |text: &str| check_sink(&sink_stats(text), "big", MIB, SEED).unwrap_err();
        let e = check(
            &GOOD
                .replace("sink.bytes_matched 1048576", "sink.bytes_matched 1044480")
                .replace("sink.mismatched_writes 0", "sink.mismatched_writes 1"),
        );
        assert!(
            e.starts_with("wrong data: the sink server reports: 1 WRITEs")
                && e.contains("1044480 of 1048576 bytes equal"),
            "{e}"
        );
        let e = check(&GOOD.replace(
            "sink.file.big.covered 1048576",
            "sink.file.big.covered 1044480",
        ));
        assert!(
            e.contains("1044480 bytes of big were written, expected 1048576 (4096 never arrived)"),
            "{e}"
        );
        let e = check(&GOOD.replace("sink.file.big.size 1048576", "sink.file.big.size 0"));
        assert!(e.contains("big has size 0, expected 1048576"), "{e}");
        let e = check(&GOOD.replace("sink.seed 3517382658", "sink.seed 1"));
        assert!(e.contains("seed 0x1") && e.contains("0xd1a70002"), "{e}");
        let e = check(&GOOD.replace("sink.file.big.", "sink.file.other."));
        assert!(e.contains("no sink.file.big.size line"), "{e}");
        let e = check("op.WRITE.count 1\n");
        assert!(e.contains("no sink.seed line"), "{e}");
    }

    #[test]
    fn server_lines() {
        assert_eq!(
            server_line(Backing::Sink(SEED), 0),
            "server: fusewb-refserver --writeback --sink-pattern 0xd1a70002; backend sink: \
             stores no data, compares every WRITE with the pattern written and records the \
             bytes written"
        );
        let l = server_line(Backing::Dir(Path::new("/out/b")), 250);
        assert!(
            l.starts_with("server: fusewb-refserver --writeback --write-latency-us 250 --source /out/b; backend dir"),
            "{l}"
        );
    }
}
