//! Command-line parsing (no dependencies, unit-testable).

use std::path::PathBuf;

/// Usage text printed by `--help` and on errors.
pub const USAGE: &str = "\
usage: fusewb-stress DIR [OPTIONS]

Concurrency stress test and model checker: worker threads append, pwrite,
ftruncate, mmap-write, fstat, pread (buffered and O_DIRECT), fsync and reopen
the shared files DIR/stress-0..F-1 at random, checking every read and size
against an in-memory model, while racer threads fstat and pread them without
any lock; at the end the files are fsynced and compared with the model.

options:
  --seconds N         run for N seconds (default 20; 0: no limit, needs --ops)
  --ops N             stop after N operations in total (default 0: no limit);
                      whichever of --seconds and --ops comes first ends the run
  --seed S            seed of all choices and data (decimal or 0x hex; default
                      time-based; always printed, for a replay)
  --threads T         worker threads (default 4)
  --racers R          unlocked fstat/pread racer threads (default 2)
  --files F           shared files (default 3)
  --max-size BYTES    largest file size (default 4M; suffixes K, M, G)
  --no-direct         no O_DIRECT reads
  --no-mmap           no writes through shared mappings
  --drop-caches       write 3 to /proc/sys/vm/drop_caches (root) after the final
                      fsync, so that the final check reads from the server
  --tolerate-errors   for fault injection: count and print failing system calls
                      instead of failing, stop checking the model after the
                      first one, exit 0 when the run ends by itself
  --durable BACKING   BACKING is the server's directory holding the files:
                      fsync runs under the model's lock, and at the end every
                      byte that a successful fsync covered and no later
                      operation changed must be in BACKING/stress-N (the
                      check that survives faults: an abort or a dead server
                      may lose what was never fsynced, never what was)
  -h, --help          this text

Exit status: 0 when all files match the model (or, with --tolerate-errors,
after errors), 1 on a mismatch or a failed system call, 2 on a usage error.
";

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub dir: PathBuf,
    pub seconds: u64,
    pub ops: u64,
    pub seed: u64,
    pub threads: usize,
    pub racers: usize,
    pub files: usize,
    pub max_size: u64,
    pub direct: bool,
    pub mmap: bool,
    pub drop_caches: bool,
    pub tolerate_errors: bool,
    pub durable: Option<PathBuf>,
}

impl Config {
    /// The defaults, for `dir`, with `seed`.
    pub fn new(dir: PathBuf, seed: u64) -> Self {
        Self {
            dir,
            seconds: 20,
            ops: 0,
            seed,
            threads: 4,
            racers: 2,
            files: 3,
            max_size: 4 << 20,
            direct: true,
            mmap: true,
            drop_caches: false,
            tolerate_errors: false,
            durable: None,
        }
    }

    /// The options that reproduce this run's choices.
    pub fn replay_args(&self) -> String {
        let mut s = format!(
            "{} --seed {} --threads {} --racers {} --files {} --max-size {}",
            self.dir.display(),
            self.seed,
            self.threads,
            self.racers,
            self.files,
            self.max_size
        );
        for (on, flag) in [
            (!self.direct, " --no-direct"),
            (!self.mmap, " --no-mmap"),
            (self.drop_caches, " --drop-caches"),
            (self.tolerate_errors, " --tolerate-errors"),
        ] {
            if on {
                s.push_str(flag);
            }
        }
        if let Some(d) = &self.durable {
            s.push_str(&format!(" --durable {}", d.display()));
        }
        s
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Config),
    Help,
}

/// A decimal or `0x` hex number.
pub fn parse_u64(what: &str, s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
    .ok_or_else(|| format!("invalid {what} {s:?}"))
}

/// A byte count with an optional `K`, `M` or `G` suffix (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim_end_matches("iB").trim_end_matches('B');
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let v: u64 = num
        .parse()
        .map_err(|_| format!("invalid byte count {s:?}"))?;
    v.checked_mul(1 << shift)
        .ok_or_else(|| format!("byte count {s:?} out of range"))
}

/// A seed for a run without `--seed`: from the clock and the process id.
pub fn time_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Short enough to type.
    crate::rng::mix(t ^ (u64::from(std::process::id()) << 40)) & 0xffff_ffff
}

/// Parses the arguments after the program name; `default_seed` is used
/// unless `--seed` is given.
pub fn parse<I, S>(args: I, default_seed: u64) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut dir = None;
    let mut c = Config::new(PathBuf::new(), default_seed);
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let flag = inline.is_none();
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => args.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" if flag => return Ok(Command::Help),
            "--seconds" => c.seconds = parse_u64("--seconds", &value()?)?,
            "--ops" => c.ops = parse_u64("--ops", &value()?)?,
            "--seed" => c.seed = parse_u64("--seed", &value()?)?,
            "--threads" => c.threads = parse_u64("--threads", &value()?)? as usize,
            "--racers" => c.racers = parse_u64("--racers", &value()?)? as usize,
            "--files" => c.files = parse_u64("--files", &value()?)? as usize,
            "--max-size" => c.max_size = parse_size(&value()?)?,
            "--no-direct" if flag => c.direct = false,
            "--no-mmap" if flag => c.mmap = false,
            "--drop-caches" if flag => c.drop_caches = true,
            "--tolerate-errors" if flag => c.tolerate_errors = true,
            "--durable" => c.durable = Some(PathBuf::from(value()?)),
            s if s.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ => {
                if dir.is_some() {
                    return Err(format!("unexpected argument {arg:?}"));
                }
                dir = Some(PathBuf::from(arg));
            }
        }
    }
    c.dir = dir.ok_or("the directory DIR is required")?;
    if c.threads == 0 || c.threads > 256 {
        return Err("--threads must be 1..=256".into());
    }
    if c.racers > 64 {
        return Err("--racers must be 0..=64".into());
    }
    if c.files == 0 || c.files > 1000 {
        return Err("--files must be 1..=1000".into());
    }
    if c.max_size < 64 * 1024 || c.max_size > 1 << 40 {
        return Err("--max-size must be between 64K and 1T".into());
    }
    if c.seconds == 0 && c.ops == 0 {
        return Err("--seconds 0 needs --ops N".into());
    }
    Ok(Command::Run(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse(args.iter().copied(), 99)? {
            Command::Run(c) => Ok(c),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&["/mnt/x"]).unwrap();
        assert_eq!(c, Config::new("/mnt/x".into(), 99));
        assert_eq!(
            (c.seconds, c.ops, c.threads, c.racers, c.files),
            (20, 0, 4, 2, 3)
        );
        assert_eq!(c.max_size, 4 << 20);
        assert!(c.direct && c.mmap && !c.drop_caches && !c.tolerate_errors);
    }

    #[test]
    fn all_options() {
        let c = run(&[
            "--seconds=5",
            "--ops",
            "1000",
            "--seed",
            "0x10",
            "d",
            "--threads",
            "8",
            "--racers=0",
            "--files",
            "2",
            "--max-size",
            "1M",
            "--no-direct",
            "--no-mmap",
            "--drop-caches",
            "--tolerate-errors",
        ])
        .unwrap();
        assert_eq!(c.dir, PathBuf::from("d"));
        assert_eq!((c.seconds, c.ops, c.seed), (5, 1000, 16));
        assert_eq!(
            (c.threads, c.racers, c.files, c.max_size),
            (8, 0, 2, 1 << 20)
        );
        assert!(!c.direct && !c.mmap && c.drop_caches && c.tolerate_errors);
        let again = run(&c.replay_args().split(' ').collect::<Vec<_>>()).unwrap();
        assert_eq!((again.seed, again.threads, again.direct), (16, 8, false));
        assert_eq!(parse(["-h"], 0), Ok(Command::Help));
    }

    #[test]
    fn sizes_and_errors() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("x").is_err());
        for bad in [
            &[][..],
            &["d", "e"],
            &["--threads", "0", "d"],
            &["--files", "0", "d"],
            &["--max-size", "1K", "d"],
            &["--seconds", "0", "d"],
            &["--bogus", "d"],
            &["--no-mmap=1", "d"],
            &["d", "--seed"],
            &["--seed", "z", "d"],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
        assert!(run(&["--seconds", "0", "--ops", "5", "d"]).is_ok());
    }
}
