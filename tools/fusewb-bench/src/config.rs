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

/// Everything that can be set from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `BENCH_CP_MB`: size of the file copied with `cp`, MiB (1024).
    pub cp_mb: u64,
    /// `BENCH_DD_MB`: bytes written by each `dd`, MiB (256).
    pub dd_mb: u64,
    /// `BENCH_BIG_MB`: size copied in the dirty-memory run, MiB (2048).
    pub big_mb: u64,
    /// `BENCH_LATENCIES`: the server's added WRITE latencies, µs ("0 1000").
    pub latencies: Vec<u64>,
    /// `BENCH_CONFIGS`: configurations run ("raw wt wb ml ml-wb").
    pub kinds: Vec<Kind>,
    /// `BENCH_VERIFY`: compare every written file with the source (1).
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
}

/// The environment variables read, for the help text.
pub const ENV_HELP: &str = "\
environment (defaults in parentheses):
  BENCH_CP_MB             size of the file copied with cp, MiB (1024)
  BENCH_DD_MB             bytes written by each dd, MiB (256; at most BENCH_CP_MB)
  BENCH_BIG_MB            size written in the dirty-memory run, MiB (2048)
  BENCH_LATENCIES         server WRITE latencies to run, microseconds (\"0 1000\")
  BENCH_CONFIGS           configurations to run (\"raw wt wb ml ml-wb\")
  BENCH_VERIFY            1: compare every written file with its source (1)
  BENCH_DROP_CACHES       1: sync and drop caches before each operation (1)
  BENCH_DIRTY_BACKEND     the server of the dirty-memory run: sink (fusewb-refserver
                          --sink-pattern: keeps no data, checks every WRITE against the
                          data written) or dir (a passthrough of BENCH_DIRTY_DIR, compared
                          after the unmount) (sink)
  BENCH_DIRTY_DIR         backing directory of the dirty-memory run with the dir backend
                          ($FUSEWB_ROOT/tests/out/bench-dirty-backing)
  BENCH_DIRTY_LATENCY_US  server WRITE latency in the dirty-memory run (0)
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

impl Settings {
    /// Reads the settings through `get` (the environment, or a test map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let cp_mb = number("BENCH_CP_MB", get("BENCH_CP_MB"), 1024, 1)?;
        let dd_mb = number("BENCH_DD_MB", get("BENCH_DD_MB"), 256, 1)?;
        if dd_mb > cp_mb {
            return Err(format!(
                "BENCH_DD_MB={dd_mb} is larger than BENCH_CP_MB={cp_mb}: dd reads its data from the cp source file"
            ));
        }
        let big_mb = number("BENCH_BIG_MB", get("BENCH_BIG_MB"), 2048, 1)?;
        let latencies = match get("BENCH_LATENCIES").filter(|v| !v.trim().is_empty()) {
            None => vec![0, 1000],
            Some(v) => {
                let mut l = Vec::new();
                for w in v.split([' ', ',']).filter(|w| !w.is_empty()) {
                    let n: u64 = w
                        .parse()
                        .map_err(|_| format!("BENCH_LATENCIES: {w:?} is not a whole number"))?;
                    if !l.contains(&n) {
                        l.push(n);
                    }
                }
                l
            }
        };
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
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
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
                cp_mb: 1024,
                dd_mb: 256,
                big_mb: 2048,
                latencies: vec![0, 1000],
                kinds: Kind::ALL.to_vec(),
                verify: true,
                drop_caches: true,
                dirty_backend: DirtyBackend::Sink,
                dirty_dir: None,
                dirty_latency_us: 0,
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
        ])
        .unwrap();
        assert_eq!((s.cp_mb, s.dd_mb, s.big_mb), (16, 8, 64));
        assert_eq!(s.latencies, vec![1000, 0]);
        assert_eq!(s.kinds, vec![Kind::Raw, Kind::WbBack]);
        assert!(!s.verify && !s.drop_caches);
        assert_eq!(s.dirty_backend, DirtyBackend::Dir);
        assert_eq!(s.dirty_dir.as_deref(), Some("/x"));
        assert_eq!(s.dirty_latency_us, 250);
        // Empty values mean the default.
        assert_eq!(with(&[("BENCH_CP_MB", "")]).unwrap().cp_mb, 1024);
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
