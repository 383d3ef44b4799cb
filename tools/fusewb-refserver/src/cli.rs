//! Command-line parsing (no dependencies, so it is unit-testable).

use std::path::PathBuf;
use std::time::Duration;

/// Usage text printed by `--help` and on errors.
pub const USAGE: &str = "\
usage: fusewb-refserver [OPTIONS] --source DIR /dev/fd/N
       fusewb-refserver [OPTIONS] --sink-pattern SEED /dev/fd/N

Serves the FUSE connection already mounted on file descriptor N (as passed by
`fusewb-mount MOUNTPOINT -- fusewb-refserver --source DIR %m`) as a
passthrough of DIR, or, with --sink-pattern, as an in-memory tree whose files
keep no data: every WRITE is compared with fusewb-pattern's stream of SEED at
its offset and only counted, READ returns that stream where the file was
written and zeros elsewhere.

options (one of --source and --sink-pattern is required):
  --source DIR            backing directory
  --sink-pattern SEED     serve the data sink checking WRITEs against the pattern
                          of SEED (decimal or 0x hex); with --stats, the file gets
                          sink.* lines (bytes written, bytes matching, mismatching
                          WRITEs, size and written bytes of every file)
  --writeback             request FUSE_WRITEBACK_CACHE at INIT if the kernel offers it
  --locks                 keep POSIX and flock locks in the server (FUSE_POSIX_LOCKS,
                          FUSE_FLOCK_LOCKS: GETLK, SETLK, SETLKW as OFD locks on the
                          backing files; --source only); without it the kernel keeps them
  --cache-symlinks        request FUSE_CACHE_SYMLINKS: the kernel keeps symlink
                          targets once read
  --max-write BYTES       max_write at INIT (default 1048576; suffixes K, M: KiB, MiB)
  --write-latency-us N    sleep N microseconds in every WRITE before replying
  --random-delay-us MAX   sleep a random 0..=MAX microseconds at the start of every
                          request (pseudo-random, seeded from the process id), to
                          shuffle the timing of replies; adds to --write-latency-us
  --threads N             serve with N threads reading the connection (default 1):
                          requests, and their --write-latency-us, overlap as with a
                          network back end
  --stats FILE            write request statistics to FILE on exit and on SIGUSR1
  -h, --help              this text
";

/// What the server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `--source DIR`: a passthrough of this directory.
    Source(PathBuf),
    /// `--sink-pattern SEED`: the in-memory data sink, checking WRITEs
    /// against the pattern of this seed.
    Sink(u64),
}

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Backing directory or data sink.
    pub backend: Backend,
    /// The connection's file descriptor, from `/dev/fd/N`.
    pub fd: i32,
    /// Request `FUSE_WRITEBACK_CACHE`.
    pub writeback: bool,
    /// Serve locks (`FUSE_POSIX_LOCKS`, `FUSE_FLOCK_LOCKS`).
    pub locks: bool,
    /// Request `FUSE_CACHE_SYMLINKS`.
    pub cache_symlinks: bool,
    /// `max_write` to ask for at INIT.
    pub max_write: u32,
    /// Delay before replying to each WRITE.
    pub write_latency: Duration,
    /// Upper bound of the random delay at the start of every request
    /// (`--random-delay-us`; zero: none).
    pub random_delay: Duration,
    /// Threads reading the connection (`--threads`, at least 1).
    pub threads: usize,
    /// Where to write statistics.
    pub stats: Option<PathBuf>,
}

/// Most `--threads`.
pub const MAX_THREADS: usize = 256;

/// Default `--max-write`: 1 MiB.
pub const DEFAULT_MAX_WRITE: u32 = 1 << 20;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve with these options.
    Run(Options),
    /// Print [`USAGE`] and exit successfully.
    Help,
}

/// Parses a byte count: a decimal number, optionally followed by `K` or `M`
/// (binary multiples; `KiB`/`MiB` accepted too).
pub fn parse_size(s: &str) -> Result<u32, String> {
    let (num, mult) = if let Some(n) = s.strip_suffix("KiB").or_else(|| s.strip_suffix(['K', 'k']))
    {
        (n, 1024u64)
    } else if let Some(n) = s.strip_suffix("MiB").or_else(|| s.strip_suffix(['M', 'm'])) {
        (n, 1024 * 1024)
    } else {
        (s, 1)
    };
    let v: u64 = num
        .parse()
        .map_err(|_| format!("invalid byte count {s:?}"))?;
    v.checked_mul(mult)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("byte count {s:?} out of range"))
}

/// Parses a pattern seed: a decimal number or `0x` followed by hex digits.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
    .ok_or_else(|| format!("invalid --sink-pattern seed {s:?} (a number, decimal or 0x hex)"))
}

/// Parses `/dev/fd/N` into N.
pub fn parse_dev_fd(s: &str) -> Result<i32, String> {
    s.strip_prefix("/dev/fd/")
        .and_then(|n| n.parse::<i32>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("expected /dev/fd/N, got {s:?}"))
}

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut source = None;
    let mut sink = None;
    let mut fd = None;
    let mut writeback = false;
    let mut locks = false;
    let mut cache_symlinks = false;
    let mut max_write = DEFAULT_MAX_WRITE;
    let mut write_latency = Duration::ZERO;
    let mut random_delay = Duration::ZERO;
    let mut stats = None;
    let mut threads = 1;

    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        // Accept both `--opt value` and `--opt=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => args.next().ok_or_else(|| format!("{what} needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--source" => source = Some(PathBuf::from(value("--source")?)),
            "--sink-pattern" => sink = Some(parse_seed(&value("--sink-pattern")?)?),
            "--writeback" if inline.is_none() => writeback = true,
            "--locks" if inline.is_none() => locks = true,
            "--cache-symlinks" if inline.is_none() => cache_symlinks = true,
            "--max-write" => max_write = parse_size(&value("--max-write")?)?,
            "--write-latency-us" => {
                let v = value("--write-latency-us")?;
                let us: u64 = v
                    .parse()
                    .map_err(|_| format!("invalid --write-latency-us {v:?}"))?;
                write_latency = Duration::from_micros(us);
            }
            "--random-delay-us" => {
                let v = value("--random-delay-us")?;
                let us: u64 = v
                    .parse()
                    .map_err(|_| format!("invalid --random-delay-us {v:?}"))?;
                random_delay = Duration::from_micros(us);
            }
            "--threads" => {
                let v = value("--threads")?;
                threads = match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_THREADS).contains(&n) => n,
                    _ => return Err(format!("--threads wants 1 to {MAX_THREADS}, got {v:?}")),
                };
            }
            "--stats" => stats = Some(PathBuf::from(value("--stats")?)),
            s if s.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ => {
                if fd.is_some() {
                    return Err(format!("unexpected argument {arg:?}"));
                }
                fd = Some(parse_dev_fd(&arg)?);
            }
        }
    }
    let backend = match (source, sink) {
        (Some(dir), None) => Backend::Source(dir),
        (None, Some(seed)) => Backend::Sink(seed),
        (Some(_), Some(_)) => {
            return Err("--source and --sink-pattern are mutually exclusive".into())
        }
        (None, None) => return Err("--source DIR or --sink-pattern SEED is required".into()),
    };
    Ok(Command::Run(Options {
        backend,
        fd: fd.ok_or("the connection /dev/fd/N is required")?,
        writeback,
        locks,
        cache_symlinks,
        max_write,
        write_latency,
        random_delay,
        threads,
        stats,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().copied())? {
            Command::Run(o) => Ok(o),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn minimal() {
        let o = run(&["--source", "/srv", "/dev/fd/3"]).unwrap();
        assert_eq!(
            o,
            Options {
                backend: Backend::Source("/srv".into()),
                fd: 3,
                writeback: false,
                locks: false,
                cache_symlinks: false,
                max_write: DEFAULT_MAX_WRITE,
                write_latency: Duration::ZERO,
                random_delay: Duration::ZERO,
                threads: 1,
                stats: None,
            }
        );
    }

    #[test]
    fn all_options() {
        let o = run(&[
            "--writeback",
            "--locks",
            "--cache-symlinks",
            "--max-write=128K",
            "--write-latency-us",
            "250",
            "--random-delay-us=40",
            "--stats",
            "/tmp/s",
            "/dev/fd/17",
            "--source=/b",
        ])
        .unwrap();
        assert!(o.writeback);
        assert!(o.locks && o.cache_symlinks);
        assert_eq!(o.max_write, 128 * 1024);
        assert_eq!(o.write_latency, Duration::from_micros(250));
        assert_eq!(o.random_delay, Duration::from_micros(40));
        assert_eq!(o.stats.as_deref(), Some(std::path::Path::new("/tmp/s")));
        assert_eq!(o.fd, 17);
        assert_eq!(o.backend, Backend::Source(PathBuf::from("/b")));
    }

    #[test]
    fn sink_pattern() {
        let o = run(&["--sink-pattern", "0xd1a70002", "--writeback", "/dev/fd/5"]).unwrap();
        assert_eq!(o.backend, Backend::Sink(0xd1a7_0002));
        assert!(o.writeback);
        assert_eq!(o.fd, 5);
        let o = run(&["--sink-pattern=42", "--stats", "/s", "/dev/fd/3"]).unwrap();
        assert_eq!(o.backend, Backend::Sink(42));
        assert_eq!(parse_seed("0XfF"), Ok(255));
        assert_eq!(parse_seed("18446744073709551615"), Ok(u64::MAX));
        for bad in ["", "0x", "-1", "1e3", "0x1g", "18446744073709551616"] {
            assert!(parse_seed(bad).is_err(), "{bad:?}");
        }
        assert!(run(&["--sink-pattern", "x", "/dev/fd/3"])
            .unwrap_err()
            .contains("seed"));
        assert!(run(&["--sink-pattern"]).is_err());
        assert!(run(&["--source", "/s", "--sink-pattern", "1", "/dev/fd/3"])
            .unwrap_err()
            .contains("mutually exclusive"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("5000M").is_err());
    }

    #[test]
    fn errors() {
        let e = run(&["/dev/fd/3"]).unwrap_err();
        assert!(
            e.contains("--source") && e.contains("--sink-pattern"),
            "{e}"
        );
        assert!(run(&["--source", "/s"]).unwrap_err().contains("/dev/fd/N"));
        assert!(run(&["--source", "/s", "/mnt"]).is_err());
        assert!(run(&["--source", "/s", "/dev/fd/-1"]).is_err());
        assert!(run(&["--source", "/s", "/dev/fd/3", "/dev/fd/4"]).is_err());
        assert!(run(&["--bogus", "--source", "/s", "/dev/fd/3"]).is_err());
        assert!(run(&["--source"]).is_err());
        assert!(run(&["--random-delay-us", "-1", "--source", "/s", "/dev/fd/3"]).is_err());
        assert!(run(&["--source", "/s", "/dev/fd/3", "--random-delay-us"]).is_err());
        assert!(run(&["--writeback=1", "--source", "/s", "/dev/fd/3"]).is_err());
        assert_eq!(parse(["-h"]), Ok(Command::Help));
    }
}
