//! Command-line parsing (no dependencies, so it is unit-testable).

use std::path::PathBuf;
use std::time::Duration;

/// Usage text printed by `--help` and on errors.
pub const USAGE: &str = "\
usage: fusewb-refserver [OPTIONS] --source DIR /dev/fd/N

Serves the FUSE connection already mounted on file descriptor N (as passed by
`fusewb-mount MOUNTPOINT -- fusewb-refserver --source DIR %m`) as a
passthrough of DIR.

options:
  --source DIR            backing directory (required)
  --writeback             request FUSE_WRITEBACK_CACHE at INIT if the kernel offers it
  --max-write BYTES       max_write at INIT (default 1048576; suffixes K, M: KiB, MiB)
  --write-latency-us N    sleep N microseconds in every WRITE before replying
  --stats FILE            write request statistics to FILE on exit and on SIGUSR1
  -h, --help              this text
";

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Backing directory.
    pub source: PathBuf,
    /// The connection's file descriptor, from `/dev/fd/N`.
    pub fd: i32,
    /// Request `FUSE_WRITEBACK_CACHE`.
    pub writeback: bool,
    /// `max_write` to ask for at INIT.
    pub max_write: u32,
    /// Delay before replying to each WRITE.
    pub write_latency: Duration,
    /// Where to write statistics.
    pub stats: Option<PathBuf>,
}

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
    let mut fd = None;
    let mut writeback = false;
    let mut max_write = DEFAULT_MAX_WRITE;
    let mut write_latency = Duration::ZERO;
    let mut stats = None;

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
            "--writeback" if inline.is_none() => writeback = true,
            "--max-write" => max_write = parse_size(&value("--max-write")?)?,
            "--write-latency-us" => {
                let v = value("--write-latency-us")?;
                let us: u64 = v
                    .parse()
                    .map_err(|_| format!("invalid --write-latency-us {v:?}"))?;
                write_latency = Duration::from_micros(us);
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
    Ok(Command::Run(Options {
        source: source.ok_or("--source DIR is required")?,
        fd: fd.ok_or("the connection /dev/fd/N is required")?,
        writeback,
        max_write,
        write_latency,
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
                source: "/srv".into(),
                fd: 3,
                writeback: false,
                max_write: DEFAULT_MAX_WRITE,
                write_latency: Duration::ZERO,
                stats: None,
            }
        );
    }

    #[test]
    fn all_options() {
        let o = run(&[
            "--writeback",
            "--max-write=128K",
            "--write-latency-us",
            "250",
            "--stats",
            "/tmp/s",
            "/dev/fd/17",
            "--source=/b",
        ])
        .unwrap();
        assert!(o.writeback);
        assert_eq!(o.max_write, 128 * 1024);
        assert_eq!(o.write_latency, Duration::from_micros(250));
        assert_eq!(o.stats.as_deref(), Some(std::path::Path::new("/tmp/s")));
        assert_eq!(o.fd, 17);
        assert_eq!(o.source, PathBuf::from("/b"));
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
        assert!(run(&["/dev/fd/3"]).unwrap_err().contains("--source"));
        assert!(run(&["--source", "/s"]).unwrap_err().contains("/dev/fd/N"));
        assert!(run(&["--source", "/s", "/mnt"]).is_err());
        assert!(run(&["--source", "/s", "/dev/fd/-1"]).is_err());
        assert!(run(&["--source", "/s", "/dev/fd/3", "/dev/fd/4"]).is_err());
        assert!(run(&["--bogus", "--source", "/s", "/dev/fd/3"]).is_err());
        assert!(run(&["--source"]).is_err());
        assert!(run(&["--writeback=1", "--source", "/s", "/dev/fd/3"]).is_err());
        assert_eq!(parse(["-h"]), Ok(Command::Help));
    }
}
