//! The seed benchmark's results: one record per timed run, its line in
//! the TSV file of all runs, the per-case medians, the table, the WRITE-size
//! histograms and the goal lines of issue 12.

use std::collections::BTreeMap;

use crate::config::{Kind, ServerSetting, Settings};
use crate::matrix::{Case, Op};
use crate::report::{self, Align, Table};
use crate::stats::WriteStats;

const MIB: u64 = 1 << 20;

/// One timed run.
#[derive(Debug, Clone)]
pub struct Run {
    pub case: Case,
    /// 1-based repetition.
    pub rep: u32,
    pub bytes: u64,
    /// Command alone.
    pub cmd_s: f64,
    /// Command and fsync.
    pub total_s: f64,
    /// The guest's system CPU seconds (system, irq, softirq) over the
    /// timed part; None if /proc/stat could not be read.
    pub sys_cpu_s: Option<f64>,
    /// From the server's statistics (None for the raw back end).
    pub writes: Option<WriteStats>,
    /// The server's `server_writes_inflight_max` (None: no server, or no
    /// such line).
    pub inflight_max: Option<u64>,
    /// WRITE-size histogram from the server's statistics.
    pub hist: Vec<(u64, u64)>,
}

/// Header of the TSV file: one line per run follows.
pub const TSV_HEADER: &str = "config\tlatency_us\tthreads\tmax_write\top\trep\tbytes\ttotal_s\t\
    cmd_s\twrites\tmean_write_bytes\tinflight_max\tsys_cpu_s\n";

/// A value or "-".
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// A run as a line of the TSV file (unknown values "-").
pub fn tsv_line(r: &Run) -> String {
    let c = &r.case;
    let fields = [
        c.kind.name().to_string(),
        opt(c.latency_us),
        opt(c.server.map(|s| s.threads)),
        opt(c.server.map(|s| s.max_write)),
        c.op.key(),
        r.rep.to_string(),
        r.bytes.to_string(),
        format!("{:.6}", r.total_s),
        format!("{:.6}", r.cmd_s),
        opt(r.writes.map(|w| w.count)),
        opt(r.writes.and_then(|w| w.mean()).map(|m| format!("{m:.0}"))),
        opt(r.inflight_max),
        opt(r.sys_cpu_s.map(|s| format!("{s:.2}"))),
    ];
    let mut line = fields.join("\t");
    line.push('\n');
    line
}

/// The progress line of a run: `[12/180] wb +1000us t8 mw8M cp rep 2: 12.3 s, 170.0 MB/s`.
pub fn progress_line(i: usize, n: usize, r: &Run) -> String {
    format!(
        "[{i}/{n}] {} rep {}: {:.1} s, {} MB/s",
        r.case.short(),
        r.rep,
        r.total_s,
        report::mb_per_s(r.bytes, r.total_s)
    )
}

/// The median (mean of the middle two for an even count); None if empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The runs of one case, summarized.
#[derive(Debug, Clone)]
pub struct Summary {
    pub case: Case,
    pub bytes: u64,
    /// Total time: median, min, max.
    pub total_med: f64,
    pub total_min: f64,
    pub total_max: f64,
    /// Median WRITE count.
    pub writes_med: Option<f64>,
    /// Median of the runs' mean WRITE sizes, bytes.
    pub mean_write_med: Option<f64>,
    /// Most WRITEs in flight over all runs.
    pub inflight_max: Option<u64>,
    /// Median system CPU seconds.
    pub sys_cpu_med: Option<f64>,
    /// WRITE-size histogram summed over the runs.
    pub hist: Vec<(u64, u64)>,
}

/// Summarizes the runs of one case (`runs` not empty).
fn summarize_case(case: Case, runs: &[&Run]) -> Summary {
    let totals: Vec<f64> = runs.iter().map(|r| r.total_s).collect();
    let writes: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.writes)
        // CAST: WRITE counts stay far below 2^53.
        .map(|w| w.count as f64)
        .collect();
    let means: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.writes.and_then(|w| w.mean()))
        .collect();
    let sys: Vec<f64> = runs.iter().filter_map(|r| r.sys_cpu_s).collect();
    let mut hist: BTreeMap<u64, u64> = BTreeMap::new();
    for (n, c) in runs.iter().flat_map(|r| r.hist.iter()) {
        *hist.entry(*n).or_default() += c;
    }
    Summary {
        case,
        bytes: runs.first().map(|r| r.bytes).unwrap_or(0),
        total_med: median(&totals).unwrap_or(0.0),
        total_min: totals.iter().copied().fold(f64::INFINITY, f64::min),
        total_max: totals.iter().copied().fold(0.0, f64::max),
        writes_med: median(&writes),
        mean_write_med: median(&means),
        inflight_max: runs.iter().filter_map(|r| r.inflight_max).max(),
        sys_cpu_med: median(&sys),
        hist: hist.into_iter().collect(),
    }
}

/// One summary per case, in the order the cases first appear in `runs`.
pub fn summarize(runs: &[Run]) -> Vec<Summary> {
    let mut cases: Vec<Case> = Vec::new();
    for r in runs {
        if !cases.contains(&r.case) {
            cases.push(r.case);
        }
    }
    cases
        .into_iter()
        .map(|c| {
            let of: Vec<&Run> = runs.iter().filter(|r| r.case == c).collect();
            summarize_case(c, &of)
        })
        .collect()
}

/// The table's columns.
const COLUMNS: [(&str, Align); 13] = [
    ("configuration", Align::Left),
    ("+latency", Align::Right),
    ("threads", Align::Right),
    ("max_write", Align::Right),
    ("operation", Align::Left),
    ("MiB", Align::Right),
    ("total s", Align::Right),
    ("[min-max]", Align::Left),
    ("MB/s", Align::Right),
    ("WRITEs", Align::Right),
    ("mean WRITE KiB", Align::Right),
    ("max in flight", Align::Right),
    ("sys CPU s", Align::Right),
];

/// A table row.
fn row(x: &Summary) -> Vec<String> {
    let c = &x.case;
    vec![
        c.kind.label().to_string(),
        opt(c.latency_us.map(|us| format!("{us} us"))),
        opt(c.server.map(|s| s.threads)),
        opt(c.server.map(|s| report::size_label(s.max_write))),
        c.op.label(),
        (x.bytes / MIB).to_string(),
        report::secs(x.total_med),
        format!(
            "[{}-{}]",
            report::secs(x.total_min),
            report::secs(x.total_max)
        ),
        report::mb_per_s(x.bytes, x.total_med),
        opt(x.writes_med.map(|w| format!("{w:.0}"))),
        opt(x.mean_write_med.map(report::kib)),
        opt(x.inflight_max),
        opt(x.sys_cpu_med.map(|s| format!("{s:.2}"))),
    ]
}

/// The results table: one row per case, medians of its runs.
pub fn table(sums: &[Summary]) -> Table {
    let mut t = Table::new(&COLUMNS);
    for x in sums {
        t.push(row(x));
    }
    t
}

/// The WRITE-size histograms, one line per FUSE case, summed over its runs.
pub fn histograms(sums: &[Summary]) -> String {
    let mut out = String::new();
    for x in sums.iter().filter(|x| x.case.kind.is_fuse()) {
        out.push_str(&format!(
            "  {}: {}\n",
            x.case.short(),
            report::histogram(&x.hist)
        ));
    }
    out
}

/// The summary of a case, if it ran.
fn find(
    sums: &[Summary],
    kind: Kind,
    latency_us: Option<u64>,
    server: Option<ServerSetting>,
) -> Option<&Summary> {
    sums.iter().find(|x| {
        x.case.kind == kind
            && x.case.latency_us == latency_us
            && x.case.server == server
            && x.case.op == Op::Cp
    })
}

/// A goal line: `goal: WHAT, cp +LAT us SETTING: VALUE (met)`.
fn goal_line(what: &str, lat: u64, srv: ServerSetting, value: Option<(String, bool)>) -> String {
    let result = match value {
        Some((v, true)) => format!("{v} (met)"),
        Some((v, false)) => format!("{v} (not met)"),
        None => "not measured".to_string(),
    };
    format!("goal: {what}, cp +{lat} us {}: {result}", srv.label())
}

/// Seed case, no added latency: wb's median time within 1.2x of raw's.
fn goal_raw(sums: &[Summary], s: &Settings) -> Vec<String> {
    let what = "wb within 1.2x of raw's time";
    if !s.latencies.contains(&0) {
        return vec![format!(
            "goal: {what}, cp +0 us: not measured (BENCH_LATENCIES has no 0)"
        )];
    }
    let raw = find(sums, Kind::Raw, None, None);
    s.server_settings()
        .into_iter()
        .map(|srv| {
            let v = find(sums, Kind::WbBack, Some(0), Some(srv))
                .zip(raw)
                .filter(|(_, r)| r.total_med > 0.0)
                .map(|(wb, r)| {
                    let x = wb.total_med / r.total_med;
                    (format!("{x:.2}x"), x <= 1.2)
                });
            goal_line(what, 0, srv, v)
        })
        .collect()
}

/// Threads the goals are stated for.
const GOAL_THREADS: u32 = 8;

/// With added latency and 8 server threads: wb at least 2x faster than ml-wb.
fn goal_mainline(sums: &[Summary], s: &Settings) -> Vec<String> {
    let what = format!("wb at least 2x faster than ml-wb with {GOAL_THREADS} server threads");
    let mut out = Vec::new();
    for &lat in s.latencies.iter().filter(|&&l| l > 0) {
        for srv in s
            .server_settings()
            .into_iter()
            .filter(|x| x.threads == GOAL_THREADS)
        {
            let v = find(sums, Kind::WbBack, Some(lat), Some(srv))
                .zip(find(sums, Kind::MainlineBack, Some(lat), Some(srv)))
                .filter(|(wb, _)| wb.total_med > 0.0)
                .map(|(wb, ml)| {
                    let x = ml.total_med / wb.total_med;
                    (format!("{x:.2}x"), x >= 2.0)
                });
            out.push(goal_line(&what, lat, srv, v));
        }
    }
    if out.is_empty() {
        out.push(format!(
            "goal: {what}: not measured (needs a latency above 0 in BENCH_LATENCIES and \
             {GOAL_THREADS} in BENCH_THREADS)"
        ));
    }
    out
}

/// max_write of the large-WRITE goal, and the mean WRITE it asks for.
const GOAL_MAX_WRITE: u64 = 8 << 20;
const GOAL_MEAN_WRITE: f64 = (4 << 20) as f64;

/// With an 8 MiB server: wb's mean WRITE at least 4 MiB.
fn goal_write_size(sums: &[Summary], s: &Settings) -> Vec<String> {
    let what = "wb mean WRITE at least 4 MiB with max_write 8M";
    let mut out = Vec::new();
    for &lat in &s.latencies {
        for srv in s
            .server_settings()
            .into_iter()
            .filter(|x| x.max_write == GOAL_MAX_WRITE)
        {
            let v = find(sums, Kind::WbBack, Some(lat), Some(srv))
                .and_then(|wb| wb.mean_write_med)
                // CAST: MIB is exact in f64.
                .map(|m| (format!("{:.2} MiB", m / MIB as f64), m >= GOAL_MEAN_WRITE));
            out.push(goal_line(what, lat, srv, v));
        }
    }
    if out.is_empty() {
        out.push(format!(
            "goal: {what}: not measured (BENCH_MAX_WRITES has no 8M)"
        ));
    }
    out
}

/// The goal lines of issue 12, from the medians of the cp cases; they
/// report, they never fail the benchmark.
pub fn goals(sums: &[Summary], s: &Settings) -> String {
    let mut out = String::from(
        "goals of the seed case (issue 12), from the medians; reported, never failing \
         (wb: fuse-wb write-back, ml-wb: mainline write-back, raw: the raw back end; \
         \"not measured\": a case needed did not run):\n",
    );
    for l in goal_raw(sums, s)
        .into_iter()
        .chain(goal_mainline(sums, s))
        .chain(goal_write_size(sums, s))
    {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: ServerSetting = ServerSetting {
        threads: 1,
        max_write: 1 << 20,
    };
    const T8: ServerSetting = ServerSetting {
        threads: 8,
        max_write: 8 << 20,
    };

    fn case(kind: Kind, lat: Option<u64>, server: Option<ServerSetting>, op: Op) -> Case {
        Case {
            kind,
            latency_us: lat,
            server,
            op,
        }
    }

    fn run(c: Case, rep: u32, total_s: f64, w: Option<(u64, u64)>) -> Run {
        Run {
            case: c,
            rep,
            bytes: 256 * MIB,
            cmd_s: total_s / 2.0,
            total_s,
            sys_cpu_s: Some(total_s / 4.0),
            writes: w.map(|(count, bytes)| WriteStats { count, bytes }),
            inflight_max: w.map(|_| u64::from(rep)),
            hist: w.map(|(c, _)| vec![(1 << 20, c)]).unwrap_or_default(),
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn tsv() {
        let c = case(Kind::WbBack, Some(1000), Some(T8), Op::Cp);
        assert_eq!(
            tsv_line(&run(c, 2, 2.0, Some((3, 3 << 20)))),
            "wb\t1000\t8\t8388608\tcp\t2\t268435456\t2.000000\t1.000000\t3\t1048576\t2\t0.50\n"
        );
        let raw = Run {
            sys_cpu_s: None,
            ..run(case(Kind::Raw, None, None, Op::Dd(4096)), 1, 1.5, None)
        };
        assert_eq!(
            tsv_line(&raw),
            "raw\t-\t-\t-\tdd-4K\t1\t268435456\t1.500000\t0.750000\t-\t-\t-\t-\n"
        );
        let cols = TSV_HEADER.trim_end().split('\t').count();
        assert_eq!(cols, 13);
        assert_eq!(tsv_line(&raw).trim_end().split('\t').count(), cols);
        assert!(TSV_HEADER.starts_with("config\tlatency_us\tthreads\tmax_write\top\trep\t"));
        assert!(TSV_HEADER.ends_with("\tinflight_max\tsys_cpu_s\n"));
    }

    #[test]
    fn progress() {
        let c = case(Kind::WbBack, Some(1000), Some(T8), Op::Cp);
        let r = Run {
            bytes: 2048 * MIB,
            ..run(c, 2, 12.3, Some((1, 1)))
        };
        assert_eq!(
            progress_line(12, 180, &r),
            "[12/180] wb +1000us t8 mw8M cp rep 2: 12.3 s, 174.6 MB/s"
        );
    }

    #[test]
    fn summaries_and_table() {
        let wb = case(Kind::WbBack, Some(1000), Some(T1), Op::Dd(4096));
        let raw = case(Kind::Raw, None, None, Op::Cp);
        let runs = [
            run(raw, 1, 2.0, None),
            run(raw, 2, 1.0, None),
            run(raw, 3, 3.0, None),
            run(wb, 1, 4.0, Some((256, 256 * MIB))),
            run(wb, 2, 2.0, Some((128, 256 * MIB))),
        ];
        let sums = summarize(&runs);
        assert_eq!(sums.len(), 2);
        let r = &sums[0];
        assert_eq!((r.total_med, r.total_min, r.total_max), (2.0, 1.0, 3.0));
        assert_eq!((r.writes_med, r.inflight_max), (None, None));
        assert_eq!(r.sys_cpu_med, Some(0.5));
        let w = &sums[1];
        assert_eq!(w.total_med, 3.0);
        assert_eq!(w.writes_med, Some(192.0));
        assert_eq!(w.mean_write_med, Some(1.5 * MIB as f64));
        assert_eq!(w.inflight_max, Some(2));
        assert_eq!(w.hist, vec![(1 << 20, 384)]);
        let text = table(&sums).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[0],
            "configuration       +latency  threads  max_write  operation  MiB  total s  \
             [min-max]       MB/s  WRITEs  mean WRITE KiB  max in flight  sys CPU s"
        );
        assert_eq!(
            lines[2],
            "raw back end               -        -          -  cp         256    2.000  \
             [1.000-3.000]  134.2       -               -              -       0.50"
        );
        assert_eq!(
            lines[3],
            "fuse-wb write-back   1000 us        1         1M  dd bs=4K   256    3.000  \
             [2.000-4.000]   89.5     192          1536.0              2       0.75"
        );
        assert_eq!(
            histograms(&sums),
            "  wb +1000us t1 mw1M dd bs=4K: <=1M:384\n"
        );
    }

    #[test]
    fn goal_lines() {
        let s = settings(&[("BENCH_THREADS", "1 8"), ("BENCH_MAX_WRITES", "1M 8M")]);
        let t1_8m = ServerSetting {
            threads: 1,
            max_write: 8 << 20,
        };
        let mut runs = vec![run(case(Kind::Raw, None, None, Op::Cp), 1, 10.0, None)];
        let cp = |k, lat, srv| case(k, Some(lat), Some(srv), Op::Cp);
        runs.push(run(
            cp(Kind::WbBack, 0, T1),
            1,
            11.0,
            Some((256, 256 * MIB)),
        ));
        runs.push(run(cp(Kind::WbBack, 0, T8), 1, 13.0, Some((32, 256 * MIB))));
        runs.push(run(
            cp(Kind::WbBack, 1000, T8),
            1,
            5.0,
            Some((64, 256 * MIB)),
        ));
        runs.push(run(cp(Kind::MainlineBack, 1000, T8), 1, 12.0, Some((1, 1))));
        runs.push(run(cp(Kind::WbBack, 5000, T8), 1, 5.0, Some((1, 1))));
        runs.push(run(cp(Kind::MainlineBack, 5000, T8), 1, 9.0, Some((1, 1))));
        runs.push(run(cp(Kind::WbBack, 0, t1_8m), 1, 10.0, None));
        let text = goals(&summarize(&runs), &s);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "goal: wb within 1.2x of raw's time, cp +0 us t1 mw1M: 1.10x (met)",
                "goal: wb within 1.2x of raw's time, cp +0 us t1 mw8M: 1.00x (met)",
                "goal: wb within 1.2x of raw's time, cp +0 us t8 mw1M: not measured",
                "goal: wb within 1.2x of raw's time, cp +0 us t8 mw8M: 1.30x (not met)",
                "goal: wb at least 2x faster than ml-wb with 8 server threads, cp +1000 us t8 mw1M: not measured",
                "goal: wb at least 2x faster than ml-wb with 8 server threads, cp +1000 us t8 mw8M: 2.40x (met)",
                "goal: wb at least 2x faster than ml-wb with 8 server threads, cp +5000 us t8 mw1M: not measured",
                "goal: wb at least 2x faster than ml-wb with 8 server threads, cp +5000 us t8 mw8M: 1.80x (not met)",
                "goal: wb mean WRITE at least 4 MiB with max_write 8M, cp +0 us t1 mw8M: not measured",
                "goal: wb mean WRITE at least 4 MiB with max_write 8M, cp +0 us t8 mw8M: 8.00 MiB (met)",
                "goal: wb mean WRITE at least 4 MiB with max_write 8M, cp +1000 us t1 mw8M: not measured",
                "goal: wb mean WRITE at least 4 MiB with max_write 8M, cp +1000 us t8 mw8M: 4.00 MiB (met)",
                "goal: wb mean WRITE at least 4 MiB with max_write 8M, cp +5000 us t1 mw8M: not measured",
                "goal: wb mean WRITE at least 4 MiB with max_write 8M, cp +5000 us t8 mw8M: 0.00 MiB (not met)",
            ]
        );
        let s = settings(&[
            ("BENCH_LATENCIES", "1000"),
            ("BENCH_THREADS", "2"),
            ("BENCH_MAX_WRITES", "1M"),
        ]);
        let text = goals(&[], &s);
        assert!(
            text.contains("cp +0 us: not measured (BENCH_LATENCIES has no 0)"),
            "{text}"
        );
        assert!(
            text.contains("not measured (needs a latency above 0"),
            "{text}"
        );
        assert!(
            text.contains("not measured (BENCH_MAX_WRITES has no 8M)"),
            "{text}"
        );
    }
}
