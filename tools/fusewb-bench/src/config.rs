//! Settings: sizes and subsets from environment variables, so that a quick
//! trial can use small sizes, and the configurations compared.

use std::fmt;

/// One filesystem configuration of the seed benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The operations directly on the backing directory.
    Raw,
    /// fuse-wb, write-through (no `allow_wbcache`, server without `--writeback`).
    WbThrough,
    /// fuse-wb, write-back (`-o allow_wbcache`, server `--writeback`).
    WbBack,
    /// Mainline FUSE (`/dev/fuse`), server without `--writeback`.
    Mainline,
    /// Mainline FUSE, server `--writeback`.
    MainlineBack,
}

impl Kind {
    /// Every configuration, in the order they are run and printed.
    pub const ALL: [Kind; 5] = [
        Kind::Raw,
        Kind::WbThrough,
        Kind::WbBack,
        Kind::Mainline,
        Kind::MainlineBack,
    ];

    /// Short name (`BENCH_CONFIGS`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::WbThrough => "wt",
            Kind::WbBack => "wb",
            Kind::Mainline => "ml",
            Kind::MainlineBack => "ml-wb",
        }
    }

    /// Label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Raw => "raw back end",
            Kind::WbThrough => "fuse-wb write-through",
            Kind::WbBack => "fuse-wb write-back",
            Kind::Mainline => "mainline",
            Kind::MainlineBack => "mainline write-back",
        }
    }

    /// Served over FUSE (mounted), as opposed to the raw back end.
    pub fn is_fuse(self) -> bool {
        self != Kind::Raw
    }

    /// Mounted with `--mainline` (`/dev/fuse`).
    pub fn is_mainline(self) -> bool {
        matches!(self, Kind::Mainline | Kind::MainlineBack)
    }

    /// The server is started with `--writeback`.
    pub fn server_writeback(self) -> bool {
        matches!(self, Kind::WbBack | Kind::MainlineBack)
    }

    /// Parses a short name.
    pub fn parse(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown configuration {s:?} (known: raw wt wb ml ml-wb)"))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The server's back end in the dirty-memory run (`BENCH_DIRTY_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirtyBackend {
    /// `fusewb-refserver --sink-pattern`: stores no data, checks every
    /// WRITE against the pattern written (fast, needs no room).
    Sink,
    /// `fusewb-refserver --source BENCH_DIRTY_DIR`: a passthrough of a
    /// directory, compared with the pattern after the unmount.
    Dir,
}

impl DirtyBackend {
    /// Short name (`BENCH_DIRTY_BACKEND`).
    pub fn name(self) -> &'static str {
        match self {
            DirtyBackend::Sink => "sink",
            DirtyBackend::Dir => "dir",
        }
    }

    /// Parses a short name.
    pub fn parse(s: &str) -> Result<DirtyBackend, String> {
        match s.trim() {
            "sink" => Ok(DirtyBackend::Sink),
            "dir" => Ok(DirtyBackend::Dir),
            other => Err(format!(
                "BENCH_DIRTY_BACKEND={other:?}: expected sink or dir"
            )),
        }
    }
}

/// Most server threads (`fusewb-refserver --threads` accepts 1 to 256).
pub const MAX_THREADS: u32 = 256;

/// How one reference server of the seed benchmark is started: its threads
/// (`--threads`) and its `--max-write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSetting {
    /// Threads reading the connection.
    pub threads: u32,
    /// `max_write` offered at INIT, bytes.
    pub max_write: u64,
}

impl ServerSetting {
    /// Short label, as `t8 mw1M`.
    pub fn label(self) -> String {
        format!(
            "t{} mw{}",
            self.threads,
            crate::report::size_label(self.max_write)
        )
    }
}

/// Parses a byte count: a whole number, optionally followed by `K` or `M`
/// (binary multiples; `k`, `m`, `KiB`, `MiB` too), at least 1 and at most
/// 4 GiB - 1 (the reference server's `--max-write` range).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("KiB").or_else(|| t.strip_suffix(['K', 'k']))
    {
        (n, 1u64 << 10)
    } else if let Some(n) = t.strip_suffix("MiB").or_else(|| t.strip_suffix(['M', 'm'])) {
        (n, 1u64 << 20)
    } else {
        (t, 1)
    };
    let v: u64 = num.parse().map_err(|_| {
        format!("{s:?} is not a byte count (a whole number, optionally with K or M)")
    })?;
    v.checked_mul(mult)
        .filter(|v| (1..=u64::from(u32::MAX)).contains(v))
        .ok_or_else(|| format!("{s:?} is out of range (1 byte to 4 GiB - 1)"))
}

/// Everything that can be set from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `BENCH_CP_MB`: size of the file copied with `cp`, MiB (2048).
    pub cp_mb: u64,
    /// `BENCH_DD_MB`: bytes written by each `dd`, MiB (512).
    pub dd_mb: u64,
    /// `BENCH_BIG_MB`: size copied in the dirty-memory run, MiB (4096).
    pub big_mb: u64,
    /// `BENCH_LATENCIES`: the server's added WRITE latencies, µs ("0 1000 5000").
    pub latencies: Vec<u64>,
    /// `BENCH_THREADS`: the server's thread counts ("1 8").
    pub threads: Vec<u32>,
    /// `BENCH_MAX_WRITES`: the server's `--max-write` values, bytes ("1M 8M").
    pub max_writes: Vec<u64>,
    /// `BENCH_REPS`: timed runs of every case (3).
    pub reps: u32,
    /// `BENCH_CONFIGS`: configurations run ("raw wt wb ml ml-wb").
    pub kinds: Vec<Kind>,
    /// `BENCH_VERIFY`: compare every written file with the source, and in
    /// part 3 the file read (1).
    pub verify: bool,
    /// `BENCH_DROP_CACHES`: sync and drop caches before each operation (1).
    pub drop_caches: bool,
    /// `BENCH_DIRTY_BACKEND`: the server's back end in the dirty-memory
    /// run (sink).
    pub dirty_backend: DirtyBackend,
    /// `BENCH_DIRTY_DIR`: backing directory of the dirty-memory run with
    /// the `dir` back end (default `$FUSEWB_ROOT/tests/out/bench-dirty-backing`).
    pub dirty_dir: Option<String>,
    /// `BENCH_DIRTY_LATENCY_US`: added WRITE latency in the dirty-memory run (0).
    pub dirty_latency_us: u64,
    /// `BENCH_WORK_LATENCIES`: the server's added WRITE latencies in the
    /// workloads of part 3, µs ("0 1000").
    pub work_latencies: Vec<u64>,
    /// `BENCH_WORK_MB`: size of each of the four writers' files, MiB (256).
    pub work_mb: u64,
    /// `BENCH_READ_MB`: size of the file read, MiB (1024).
    pub read_mb: u64,
    /// `BENCH_RANDOM_READS`: 4 KiB preads at random offsets (20000).
    pub random_reads: u64,
    /// `BENCH_SMALL_FILES`: files of 4 KiB created (10000).
    pub small_files: u64,
}

/// The environment variables read, for the help text.
pub const ENV_HELP: &str = "\
environment (defaults in parentheses):
  BENCH_CP_MB             size of the file copied with cp, MiB (2048)
  BENCH_DD_MB             bytes written by each dd, MiB (512; at most BENCH_CP_MB)
  BENCH_BIG_MB            size written in the dirty-memory run, MiB (4096)
  BENCH_LATENCIES         server WRITE latencies to run, microseconds (\"0 1000 5000\")
  BENCH_THREADS           server threads (fusewb-refserver --threads, 1 to 256) to run
                          cp with (\"1 8\")
  BENCH_MAX_WRITES        server max_write values (--max-write; suffixes K, M) to run cp
                          with (\"1M 8M\"); dd runs with the first thread count and the
                          first max_write only
  BENCH_REPS              timed runs of every case; the table shows the median and
                          min-max (3)
  BENCH_CONFIGS           configurations to run (\"raw wt wb ml ml-wb\")
  BENCH_VERIFY            1: compare every written file with its source, and in work
                          also the file read (1)
  BENCH_DROP_CACHES       1: sync and drop caches before each operation (1)
  BENCH_DIRTY_BACKEND     the server of the dirty-memory run: sink (fusewb-refserver
                          --sink-pattern: keeps no data, checks every WRITE against the
                          data written) or dir (a passthrough of BENCH_DIRTY_DIR, compared
                          after the unmount) (sink)
  BENCH_DIRTY_DIR         backing directory of the dirty-memory run with the dir backend
                          ($FUSEWB_ROOT/tests/out/bench-dirty-backing)
  BENCH_DIRTY_LATENCY_US  server WRITE latency in the dirty-memory run (0)
  BENCH_WORK_LATENCIES    server WRITE latencies of the workloads (work), microseconds
                          (\"0 1000\"; the reads do no WRITE and run with the first only)
  BENCH_WORK_MB           size of each of the four writers' files, MiB (256)
  BENCH_READ_MB           size of the file read cold, warm and at random, MiB (1024)
  BENCH_RANDOM_READS      random 4 KiB pread(2)s (20000)
  BENCH_SMALL_FILES       4 KiB files created in 100 directories, then removed (10000)
";

fn number(name: &str, v: Option<String>, default: u64, min: u64) -> Result<u64, String> {
    let Some(v) = v.filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{name}={v:?}: not a whole number"))?;
    if n < min {
        return Err(format!("{name}={n}: must be at least {min}"));
    }
    Ok(n)
}

/// A 0/1 switch, on by default.
fn flag(name: &str, v: Option<String>) -> Result<bool, String> {
    match v.as_deref().map(str::trim) {
        None | Some("") | Some("1") | Some("yes") => Ok(true),
        Some("0") | Some("no") => Ok(false),
        Some(v) => Err(format!("{name}={v:?}: expected 0 or 1")),
    }
}

/// A list of values separated by blanks or commas, duplicates dropped,
/// first occurrence first; `default` if unset or blank.
fn list<T: PartialEq + Clone>(
    name: &str,
    v: Option<String>,
    default: &[T],
    parse_one: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let Some(v) = v.filter(|v| !v.trim().is_empty()) else {
        return Ok(default.to_vec());
    };
    let mut out = Vec::new();
    for w in v.split([' ', ',', '\t']).filter(|w| !w.is_empty()) {
        let x = parse_one(w).map_err(|e| format!("{name}: {e}"))?;
        if !out.contains(&x) {
            out.push(x);
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{name}={v:?}: no values; leave it unset for the default"
        ));
    }
    Ok(out)
}

/// One latency in microseconds.
fn parse_latency(w: &str) -> Result<u64, String> {
    w.parse::<u64>()
        .map_err(|_| format!("{w:?} is not a whole number of microseconds"))
}

/// One server thread count (1 to [`MAX_THREADS`]).
fn parse_threads(w: &str) -> Result<u32, String> {
    match w.parse::<u32>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{w:?} is not a thread count from 1 to {MAX_THREADS}"
        )),
    }
}

impl Settings {
    /// Reads the settings through `get` (the environment, or a test map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let cp_mb = number("BENCH_CP_MB", get("BENCH_CP_MB"), 2048, 1)?;
        let dd_mb = number("BENCH_DD_MB", get("BENCH_DD_MB"), 512, 1)?;
        if dd_mb > cp_mb {
            return Err(format!(
                "BENCH_DD_MB={dd_mb} is larger than BENCH_CP_MB={cp_mb}: dd reads its data from the cp source file"
            ));
        }
        let big_mb = number("BENCH_BIG_MB", get("BENCH_BIG_MB"), 4096, 1)?;
        let latencies = list(
            "BENCH_LATENCIES",
            get("BENCH_LATENCIES"),
            &[0, 1000, 5000],
            parse_latency,
        )?;
        let threads = list(
            "BENCH_THREADS",
            get("BENCH_THREADS"),
            &[1, 8],
            parse_threads,
        )?;
        let max_writes = list(
            "BENCH_MAX_WRITES",
            get("BENCH_MAX_WRITES"),
            &[1 << 20, 8 << 20],
            parse_size,
        )?;
        let reps = number("BENCH_REPS", get("BENCH_REPS"), 3, 1)?;
        let reps = u32::try_from(reps).map_err(|_| format!("BENCH_REPS={reps}: too many"))?;
        let kinds = match get("BENCH_CONFIGS").filter(|v| !v.trim().is_empty()) {
            None => Kind::ALL.to_vec(),
            Some(v) => {
                let mut wanted = Vec::new();
                for w in v.split([' ', ',']).filter(|w| !w.is_empty()) {
                    wanted.push(Kind::parse(w)?);
                }
                // Keep the canonical order.
                Kind::ALL
                    .into_iter()
                    .filter(|k| wanted.contains(k))
                    .collect()
            }
        };
        let verify = flag("BENCH_VERIFY", get("BENCH_VERIFY"))?;
        let drop_caches = flag("BENCH_DROP_CACHES", get("BENCH_DROP_CACHES"))?;
        let dirty_backend = match get("BENCH_DIRTY_BACKEND").filter(|v| !v.trim().is_empty()) {
            None => DirtyBackend::Sink,
            Some(v) => DirtyBackend::parse(&v)?,
        };
        Ok(Self {
            cp_mb,
            dd_mb,
            big_mb,
            latencies,
            threads,
            max_writes,
            reps,
            kinds,
            verify,
            drop_caches,
            dirty_backend,
            dirty_dir: get("BENCH_DIRTY_DIR").filter(|v| !v.is_empty()),
            dirty_latency_us: number(
                "BENCH_DIRTY_LATENCY_US",
                get("BENCH_DIRTY_LATENCY_US"),
                0,
                0,
            )?,
            work_latencies: list(
                "BENCH_WORK_LATENCIES",
                get("BENCH_WORK_LATENCIES"),
                &[0, 1000],
                parse_latency,
            )?,
            work_mb: number("BENCH_WORK_MB", get("BENCH_WORK_MB"), 256, 1)?,
            read_mb: number("BENCH_READ_MB", get("BENCH_READ_MB"), 1024, 1)?,
            random_reads: number("BENCH_RANDOM_READS", get("BENCH_RANDOM_READS"), 20000, 1)?,
            small_files: number("BENCH_SMALL_FILES", get("BENCH_SMALL_FILES"), 10000, 1)?,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The server settings of the cp runs: every thread count with every
    /// max_write, thread counts outer. The first one is also dd's.
    pub fn server_settings(&self) -> Vec<ServerSetting> {
        self.threads
            .iter()
            .flat_map(|&threads| {
                self.max_writes
                    .iter()
                    .map(move |&max_write| ServerSetting { threads, max_write })
            })
            .collect()
    }

    /// The label of the first server setting (dd's), or "-" when none.
    pub fn first_server_label(&self) -> String {
        self.server_settings()
            .first()
            .map(|x| x.label())
            .unwrap_or_else(|| "-".into())
    }

    /// Settings from `pairs` (name, value), the rest at their defaults; for
    /// the unit tests of the modules that take settings.
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .expect("test settings parse")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = with(&[]).unwrap();
        assert_eq!(
            s,
            Settings {
                cp_mb: 2048,
                dd_mb: 512,
                big_mb: 4096,
                latencies: vec![0, 1000, 5000],
                threads: vec![1, 8],
                max_writes: vec![1 << 20, 8 << 20],
                reps: 3,
                kinds: Kind::ALL.to_vec(),
                verify: true,
                drop_caches: true,
                dirty_backend: DirtyBackend::Sink,
                dirty_dir: None,
                dirty_latency_us: 0,
                work_latencies: vec![0, 1000],
                work_mb: 256,
                read_mb: 1024,
                random_reads: 20000,
                small_files: 10000,
            }
        );
    }

    #[test]
    fn overrides() {
        let s = with(&[
            ("BENCH_CP_MB", "16"),
            ("BENCH_DD_MB", " 8 "),
            ("BENCH_BIG_MB", "64"),
            ("BENCH_LATENCIES", "1000,0 1000"),
            ("BENCH_CONFIGS", "wb raw"),
            ("BENCH_VERIFY", "0"),
            ("BENCH_DROP_CACHES", "no"),
            ("BENCH_DIRTY_BACKEND", " dir "),
            ("BENCH_DIRTY_DIR", "/x"),
            ("BENCH_DIRTY_LATENCY_US", "250"),
            ("BENCH_WORK_LATENCIES", "5000 0"),
            ("BENCH_WORK_MB", "4"),
            ("BENCH_READ_MB", "8"),
            ("BENCH_RANDOM_READS", "100"),
            ("BENCH_SMALL_FILES", "50"),
        ])
        .unwrap();
        assert_eq!((s.cp_mb, s.dd_mb, s.big_mb), (16, 8, 64));
        assert_eq!(s.latencies, vec![1000, 0]);
        assert_eq!(s.kinds, vec![Kind::Raw, Kind::WbBack]);
        assert!(!s.verify && !s.drop_caches);
        assert_eq!(s.dirty_backend, DirtyBackend::Dir);
        assert_eq!(s.dirty_dir.as_deref(), Some("/x"));
        assert_eq!(s.dirty_latency_us, 250);
        assert_eq!(s.work_latencies, vec![5000, 0]);
        assert_eq!(
            (s.work_mb, s.read_mb, s.random_reads, s.small_files),
            (4, 8, 100, 50)
        );
        // Empty values mean the default.
        assert_eq!(with(&[("BENCH_CP_MB", "")]).unwrap().cp_mb, 2048);
        assert_eq!(
            with(&[("BENCH_DIRTY_BACKEND", " ")]).unwrap().dirty_backend,
            DirtyBackend::Sink
        );
        assert_eq!(
            with(&[("BENCH_DIRTY_BACKEND", "sink")])
                .unwrap()
                .dirty_backend,
            DirtyBackend::Sink
        );
    }

    #[test]
    fn errors() {
        assert!(with(&[("BENCH_CP_MB", "x")])
            .unwrap_err()
            .contains("BENCH_CP_MB"));
        assert!(with(&[("BENCH_CP_MB", "0")]).is_err());
        assert!(with(&[("BENCH_CP_MB", "8"), ("BENCH_DD_MB", "16")])
            .unwrap_err()
            .contains("larger"));
        assert!(with(&[("BENCH_CONFIGS", "wb fast")])
            .unwrap_err()
            .contains("fast"));
        assert!(with(&[("BENCH_LATENCIES", "1ms")]).is_err());
        assert!(with(&[("BENCH_VERIFY", "maybe")]).is_err());
        let e = with(&[("BENCH_DIRTY_BACKEND", "tmpfs")]).unwrap_err();
        assert!(
            e.contains("BENCH_DIRTY_BACKEND") && e.contains("sink or dir"),
            "{e}"
        );
    }

    #[test]
    fn server_lists() {
        let s = with(&[
            ("BENCH_THREADS", "8,1 8\t256"),
            ("BENCH_MAX_WRITES", "8M 128K,1MiB 4096 64k 2m"),
            ("BENCH_REPS", " 5 "),
        ])
        .unwrap();
        assert_eq!(s.threads, vec![8, 1, 256]);
        assert_eq!(
            s.max_writes,
            vec![8 << 20, 128 << 10, 1 << 20, 4096, 64 << 10, 2 << 20]
        );
        assert_eq!(s.reps, 5);
        let s = with(&[("BENCH_THREADS", "1 8"), ("BENCH_MAX_WRITES", "1M 8M")]).unwrap();
        let labels: Vec<String> = s.server_settings().iter().map(|x| x.label()).collect();
        assert_eq!(labels, ["t1 mw1M", "t1 mw8M", "t8 mw1M", "t8 mw8M"]);
        assert_eq!(
            s.server_settings()[0],
            ServerSetting {
                threads: 1,
                max_write: 1 << 20
            }
        );
        // Blank means the default.
        assert_eq!(
            with(&[("BENCH_THREADS", "  ")]).unwrap().threads,
            vec![1, 8]
        );
    }

    #[test]
    fn server_list_errors() {
        for (k, v, want) in [
            ("BENCH_THREADS", "0", "1 to 256"),
            ("BENCH_THREADS", "257", "1 to 256"),
            ("BENCH_THREADS", "1 x", "\"x\""),
            ("BENCH_THREADS", ",", "no values"),
            ("BENCH_MAX_WRITES", "1G", "byte count"),
            ("BENCH_MAX_WRITES", "0", "out of range"),
            ("BENCH_MAX_WRITES", "4096M", "out of range"),
            ("BENCH_MAX_WRITES", "M", "byte count"),
            ("BENCH_MAX_WRITES", "-1K", "byte count"),
            ("BENCH_REPS", "0", "at least 1"),
            ("BENCH_REPS", "three", "whole number"),
            ("BENCH_WORK_LATENCIES", "1ms", "microseconds"),
            ("BENCH_WORK_MB", "0", "at least 1"),
            ("BENCH_READ_MB", "x", "whole number"),
            ("BENCH_RANDOM_READS", "0", "at least 1"),
            ("BENCH_SMALL_FILES", "-5", "whole number"),
        ] {
            let e = with(&[(k, v)]).unwrap_err();
            assert!(e.contains(k) && e.contains(want), "{k}={v}: {e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size(" 1M "), Ok(1 << 20));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("128K"), Ok(128 << 10));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("4095M"), Ok(4095 << 20));
        assert_eq!(parse_size("4294967295"), Ok(u64::from(u32::MAX)));
        assert!(parse_size("4294967296").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("1.5M").is_err());
    }

    #[test]
    fn kinds() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Ok(k));
        }
        assert!(!Kind::Raw.is_fuse());
        assert!(Kind::MainlineBack.is_mainline() && Kind::MainlineBack.server_writeback());
        assert!(!Kind::WbThrough.server_writeback() && !Kind::WbThrough.is_mainline());
        assert_eq!(Kind::WbBack.to_string(), "fuse-wb write-back");
        for b in [DirtyBackend::Sink, DirtyBackend::Dir] {
            assert_eq!(DirtyBackend::parse(b.name()), Ok(b));
        }
    }
}
