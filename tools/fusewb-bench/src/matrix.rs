//! The seed benchmark's matrix: the cases run (a configuration, a WRITE
//! latency, a server setting and an operation each), in which order, and
//! how many timed runs they make.
//!
//! `cp` runs for every latency x server setting (threads x max_write) x
//! FUSE configuration; `dd` at its three block sizes only with the first
//! server setting, for every latency; the raw back end has no server and
//! runs every operation once per repetition set. Every case is timed
//! `BENCH_REPS` times.

use crate::config::{Kind, ServerSetting, Settings};
use crate::report;

const MIB: u64 = 1 << 20;

/// What `cp` is assumed to pass to each write(2), for the time estimate
/// only (coreutils' buffer for files with small `st_blksize`).
const CP_BLOCK: u64 = 128 << 10;

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

    /// Name in the TSV file (no blanks): `cp`, `dd-4K`.
    pub fn key(self) -> String {
        match self {
            Op::Cp => "cp".to_string(),
            Op::Dd(bs) => format!("dd-{}", report::size_label(bs)),
        }
    }
}

/// The operations, in order: `cp`, then `dd` at 4 KiB, 128 KiB, 1 MiB.
pub const OPS: [Op; 4] = [Op::Cp, Op::Dd(4 << 10), Op::Dd(128 << 10), Op::Dd(1 << 20)];

/// One case: a row of the table, timed `BENCH_REPS` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub kind: Kind,
    /// Added WRITE latency (None for the raw back end).
    pub latency_us: Option<u64>,
    /// The server's threads and max_write (None for the raw back end).
    pub server: Option<ServerSetting>,
    pub op: Op,
}

impl Case {
    /// Short name for progress lines: `wb +1000us t8 mw8M cp`, `raw dd bs=4K`.
    pub fn short(&self) -> String {
        let mut s = self.kind.name().to_string();
        if let Some(us) = self.latency_us {
            s.push_str(&format!(" +{us}us"));
        }
        if let Some(srv) = self.server {
            s.push(' ');
            s.push_str(&srv.label());
        }
        s.push(' ');
        s.push_str(&self.op.label());
        s
    }

    /// Bytes the operation writes.
    pub fn bytes(&self, s: &Settings) -> u64 {
        match self.op {
            Op::Cp => s.cp_mb * MIB,
            Op::Dd(_) => s.dd_mb * MIB,
        }
    }
}

/// The cases of `s`, in the order they run (and are printed): the raw
/// back end, then per latency, per server setting, per FUSE configuration,
/// its operations.
pub fn plan(s: &Settings) -> Vec<Case> {
    let mut cases = Vec::new();
    if s.kinds.contains(&Kind::Raw) {
        cases.extend(OPS.into_iter().map(|op| Case {
            kind: Kind::Raw,
            latency_us: None,
            server: None,
            op,
        }));
    }
    for &lat in &s.latencies {
        for (i, srv) in s.server_settings().into_iter().enumerate() {
            let ops: &[Op] = if i == 0 { &OPS } else { &OPS[..1] };
            for &kind in s.kinds.iter().filter(|k| k.is_fuse()) {
                cases.extend(ops.iter().map(|&op| Case {
                    kind,
                    latency_us: Some(lat),
                    server: Some(srv),
                    op,
                }));
            }
        }
    }
    cases
}

/// Timed runs of `cases`: every case `BENCH_REPS` times.
pub fn run_count(s: &Settings, cases: &[Case]) -> usize {
    // CAST: reps is a small count.
    cases.len() * s.reps as usize
}

/// Seconds the synchronous runs (write-through and mainline without
/// write-back: the writer waits for every WRITE in turn) spend in the
/// server's added latency alone, over all repetitions; an estimate, as
/// `cp`'s write size is assumed ([`CP_BLOCK`]).
pub fn latency_estimate_s(s: &Settings, cases: &[Case]) -> f64 {
    let one = |c: &Case| -> u64 {
        let (Some(lat), Some(srv)) = (c.latency_us, c.server) else {
            return 0;
        };
        if c.kind.server_writeback() {
            return 0;
        }
        let block = match c.op {
            Op::Cp => CP_BLOCK,
            Op::Dd(bs) => bs,
        };
        let per_call = block.div_ceil(srv.max_write);
        c.bytes(s).div_ceil(block) * per_call * lat
    };
    let us: u64 = cases.iter().map(one).sum::<u64>() * u64::from(s.reps);
    // CAST: microseconds to seconds, for printing.
    us as f64 / 1e6
}

/// The lines printed before the runs start: how many timed runs, of what,
/// and the estimate of [`latency_estimate_s`].
pub fn plan_summary(s: &Settings, cases: &[Case]) -> String {
    let count = |f: &dyn Fn(&Case) -> bool| cases.iter().filter(|c| f(c)).count();
    let raw = count(&|c| !c.kind.is_fuse());
    let cp = count(&|c| c.kind.is_fuse() && c.op == Op::Cp);
    let dd = count(&|c| c.kind.is_fuse() && c.op != Op::Cp);
    let first = s.first_server_label();
    format!(
        "plan: {} timed runs = {} cases x {} repetitions (raw back end: {raw} cases; \
         cp: {cp} cases over {} latencies x {} server settings; dd: {dd} cases, with the \
         first server setting {first} only)\n\
         plan: the write-through and mainline runs wait for every WRITE's added latency in \
         turn: about {:.0} min of waiting in all (assuming cp writes {} KiB at a time), plus \
         the copies, checks and mounts\n",
        run_count(s, cases),
        cases.len(),
        s.reps,
        s.latencies.len(),
        s.server_settings().len(),
        latency_estimate_s(s, cases) / 60.0,
        CP_BLOCK >> 10
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn labels() {
        let l: Vec<String> = OPS.iter().map(|o| o.label()).collect();
        assert_eq!(l, ["cp", "dd bs=4K", "dd bs=128K", "dd bs=1M"]);
        let k: Vec<String> = OPS.iter().map(|o| o.key()).collect();
        assert_eq!(k, ["cp", "dd-4K", "dd-128K", "dd-1M"]);
        let c = Case {
            kind: Kind::WbBack,
            latency_us: Some(1000),
            server: Some(ServerSetting {
                threads: 8,
                max_write: 8 << 20,
            }),
            op: Op::Cp,
        };
        assert_eq!(c.short(), "wb +1000us t8 mw8M cp");
        let raw = Case {
            kind: Kind::Raw,
            latency_us: None,
            server: None,
            op: Op::Dd(4096),
        };
        assert_eq!(raw.short(), "raw dd bs=4K");
    }

    #[test]
    fn default_plan() {
        let s = settings(&[]);
        let cases = plan(&s);
        // raw: 4 operations; per latency: 4 configurations x (4 operations
        // with the first server setting + cp with the 3 others).
        assert_eq!(cases.len(), 4 + 3 * (4 * 4 + 3 * 4));
        assert_eq!(run_count(&s, &cases), 264);
        assert!(cases[..4].iter().all(|c| c.kind == Kind::Raw));
        let first = s.server_settings()[0];
        assert!(cases
            .iter()
            .filter(|c| matches!(c.op, Op::Dd(_)) && c.kind.is_fuse())
            .all(|c| c.server == Some(first)));
        assert_eq!(
            cases.iter().filter(|c| matches!(c.op, Op::Dd(_))).count(),
            3 + 36
        );
        // The order: latency, server setting, configuration, operation.
        assert_eq!(cases[4].short(), "wt +0us t1 mw1M cp");
        assert_eq!(cases[5].short(), "wt +0us t1 mw1M dd bs=4K");
        assert_eq!(cases[8].short(), "wb +0us t1 mw1M cp");
        assert_eq!(cases[20].short(), "wt +0us t1 mw8M cp");
        assert_eq!(cases[21].short(), "wb +0us t1 mw8M cp");
        assert_eq!(
            cases.last().map(|c| c.short()).as_deref(),
            Some("ml-wb +5000us t8 mw8M cp")
        );
        let text = plan_summary(&s, &cases);
        assert!(
            text.starts_with("plan: 264 timed runs = 88 cases x 3 repetitions"),
            "{text}"
        );
    }

    #[test]
    fn subsets() {
        let s = settings(&[
            ("BENCH_CONFIGS", "wb"),
            ("BENCH_LATENCIES", "0"),
            ("BENCH_THREADS", "4"),
            ("BENCH_MAX_WRITES", "1M"),
            ("BENCH_REPS", "1"),
        ]);
        let cases = plan(&s);
        assert_eq!(cases.len(), 4);
        assert_eq!(run_count(&s, &cases), 4);
        let s = settings(&[("BENCH_CONFIGS", "raw"), ("BENCH_REPS", "5")]);
        assert_eq!(run_count(&s, &plan(&s)), 20);
    }

    #[test]
    fn estimate() {
        let s = settings(&[
            ("BENCH_CP_MB", "4"),
            ("BENCH_DD_MB", "1"),
            ("BENCH_CONFIGS", "wt wb"),
            ("BENCH_LATENCIES", "1000"),
            ("BENCH_THREADS", "1"),
            ("BENCH_MAX_WRITES", "64K"),
            ("BENCH_REPS", "2"),
        ]);
        let cases = plan(&s);
        // wt only: cp 32 calls x 2 WRITEs; dd 256 + 8 x 2 + 1 x 16 WRITEs;
        // 1 ms each, twice.
        let writes = 32 * 2 + 256 + 16 + 16;
        assert!((latency_estimate_s(&s, &cases) - f64::from(writes) * 2e-3).abs() < 1e-9);
    }
}
