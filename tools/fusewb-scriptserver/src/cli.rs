//! Command-line parsing (pure, unit tested).

use crate::proto::raw::parse_fd;
use crate::server::{Options, MAX_MAX_WRITE};

/// Largest `--file` size (the content is held in memory).
pub const MAX_PRECREATE_SIZE: u64 = 1 << 30;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Cli {
    Help,
    Serve(Config),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    pub fd: i32,
    pub log: Option<String>,
    pub opts: Options,
    /// `--file NAME=SIZE`, in order.
    pub files: Vec<(String, u64)>,
    /// `--splice`: read requests with splice(2) through a pipe (libfuse's
    /// way) instead of read(2).
    pub splice: bool,
    /// `--read-size BYTES`: the read(2) buffer (default `READ_SIZE`).
    pub read_size: usize,
}

/// The read(2) buffer by default: the largest WRITE (`--max-write` up to
/// 16 MiB) plus headers.
pub const READ_SIZE: usize = MAX_MAX_WRITE as usize + 4096;

/// The smallest read(2) buffer the kernels accept.
pub const MIN_READ_SIZE: usize = 8192;

/// A number with an optional binary suffix: `K`, `M`, `G` (or `k`, `m`,
/// `g`, with an optional `iB`/`B`).
pub fn parse_size(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let t = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, mult) = match t.as_bytes().last()? {
        b'k' => (&t[..t.len() - 1], 1u64 << 10),
        b'm' => (&t[..t.len() - 1], 1 << 20),
        b'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

fn num<T: TryFrom<u64>>(opt: &str, v: &str, min: u64, max: u64) -> Result<T, String> {
    let n = parse_size(v).ok_or_else(|| format!("{opt}: '{v}' is not a number"))?;
    if n < min || n > max {
        return Err(format!("{opt}: {n} is out of range {min}..={max}"));
    }
    T::try_from(n).map_err(|_| format!("{opt}: {n} is out of range"))
}

fn parse_file(v: &str) -> Result<(String, u64), String> {
    let (name, size) = v
        .rsplit_once('=')
        .ok_or_else(|| format!("--file: '{v}' is not NAME=SIZE"))?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.len() > 255 {
        return Err(format!("--file: bad file name '{name}'"));
    }
    let size: u64 = num("--file", size, 0, MAX_PRECREATE_SIZE)?;
    Ok((name.to_string(), size))
}

/// Parses the arguments (without the program name).
pub fn parse_args(args: &[String]) -> Result<Cli, String> {
    let mut opts = Options::default();
    let mut log = None;
    let mut fd = None;
    let mut files = Vec::new();
    let mut splice = false;
    let mut read_size = READ_SIZE;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        // `--opt=value` or `--opt value`.
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a, None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let flag = |v: &Option<String>| -> Result<(), String> {
            match v {
                Some(_) => Err(format!("{name} takes no value")),
                None => Ok(()),
            }
        };
        match name {
            "-h" | "--help" => return Ok(Cli::Help),
            "-f" => {}
            "--log" => log = Some(value(&mut i)?),
            "--attr-timeout" => {
                opts.attr_timeout = num(name, &value(&mut i)?, 0, 1_000_000)?;
            }
            "--max-write" => {
                opts.max_write = num(name, &value(&mut i)?, 4096, u64::from(MAX_MAX_WRITE))?;
            }
            "--max-pages" => opts.max_pages = num(name, &value(&mut i)?, 1, 65535)?,
            "--time-gran" => opts.time_gran = num(name, &value(&mut i)?, 1, 1_000_000_000)?,
            "--slow-ms" => opts.slow_ms = num(name, &value(&mut i)?, 0, 600_000)?,
            "--file" => files.push(parse_file(&value(&mut i)?)?),
            "--writeback" => {
                flag(&inline)?;
                opts.writeback = true;
            }
            "--atomic-o-trunc" => {
                flag(&inline)?;
                opts.atomic_o_trunc = true;
            }
            "--parallel-dirops" => {
                flag(&inline)?;
                opts.parallel_dirops = true;
            }
            "--killpriv-v2" => {
                flag(&inline)?;
                opts.killpriv_v2 = true;
            }
            "--xattr" => {
                flag(&inline)?;
                opts.xattr = true;
            }
            "--posix-acl" => {
                flag(&inline)?;
                opts.posix_acl = true;
            }
            "--dont-mask" => {
                flag(&inline)?;
                opts.dont_mask = true;
            }
            "--keep-cache" => {
                flag(&inline)?;
                opts.keep_cache = true;
            }
            "--no-create" => {
                flag(&inline)?;
                opts.no_create = true;
            }
            "--no-flush" => {
                flag(&inline)?;
                opts.no_flush = true;
            }
            "--no-fsync" => {
                flag(&inline)?;
                opts.no_fsync = true;
            }
            "--no-fallocate" => {
                flag(&inline)?;
                opts.no_fallocate = true;
            }
            "--no-lseek" => {
                flag(&inline)?;
                opts.no_lseek = true;
            }
            "--no-copy-file-range" => {
                flag(&inline)?;
                opts.no_copy_file_range = true;
            }
            "--no-tmpfile" => {
                flag(&inline)?;
                opts.no_tmpfile = true;
            }
            "--same-fh" => {
                flag(&inline)?;
                opts.same_fh = true;
            }
            "--splice" => {
                flag(&inline)?;
                splice = true;
            }
            "--read-size" => {
                read_size = num(
                    name,
                    &value(&mut i)?,
                    MIN_READ_SIZE as u64,
                    READ_SIZE as u64,
                )?;
            }
            _ if a.starts_with('-') => return Err(format!("unknown option '{a}'")),
            _ => {
                if fd.is_some() {
                    return Err(format!("unexpected argument '{a}'"));
                }
                fd = Some(parse_fd(a).ok_or_else(|| {
                    format!("'{a}' is not of the form /dev/fd/N (start me with fusewb-mount)")
                })?);
            }
        }
        i += 1;
    }
    let fd = fd.ok_or_else(|| "missing /dev/fd/N (start me with fusewb-mount)".to_string())?;
    let mut seen = std::collections::HashSet::new();
    for (name, _) in &files {
        if !seen.insert(name.as_str()) {
            return Err(format!("--file: '{name}' given twice"));
        }
    }
    Ok(Cli::Serve(Config {
        fd,
        log,
        opts,
        files,
        splice,
        read_size,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn serve(v: &[&str]) -> Config {
        match parse_args(&s(v)) {
            Ok(Cli::Serve(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("8k"), Some(8192));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size("99999999999999999999k"), None);
    }

    #[test]
    fn defaults() {
        let c = serve(&["/dev/fd/4"]);
        assert_eq!(c.fd, 4);
        assert_eq!(c.log, None);
        assert_eq!(c.opts, Options::default());
        assert_eq!(c.opts.max_write, 1 << 20);
        assert_eq!(c.opts.max_pages, 256);
        assert_eq!(c.opts.attr_timeout, 0);
        assert_eq!(c.opts.slow_ms, 200);
        assert!(c.files.is_empty());
    }

    #[test]
    fn every_option() {
        let c = serve(&[
            "-f",
            "--log",
            "/tmp/l",
            "--attr-timeout=5",
            "--max-write",
            "16M",
            "--max-pages=32",
            "--time-gran",
            "1000",
            "--writeback",
            "--atomic-o-trunc",
            "--xattr",
            "--posix-acl",
            "--dont-mask",
            "--keep-cache",
            "--slow-ms",
            "10",
            "--file",
            "a=8k",
            "--file=b=0",
            "--no-create",
            "--no-flush",
            "--no-fsync",
            "--no-fallocate",
            "--no-lseek",
            "--no-copy-file-range",
            "--no-tmpfile",
            "--same-fh",
            "--splice",
            "--read-size",
            "8k",
            "/dev/fd/5",
        ]);
        assert_eq!(c.fd, 5);
        assert_eq!(c.log.as_deref(), Some("/tmp/l"));
        let o = &c.opts;
        assert_eq!(
            (
                o.attr_timeout,
                o.max_write,
                o.max_pages,
                o.time_gran,
                o.slow_ms
            ),
            (5, 16 << 20, 32, 1000, 10)
        );
        assert!(o.writeback && o.atomic_o_trunc && o.keep_cache);
        assert!(o.xattr && o.posix_acl && o.dont_mask);
        assert!(o.no_create && o.no_flush && o.no_fsync);
        assert!(o.no_fallocate && o.no_lseek && o.no_copy_file_range && o.no_tmpfile);
        assert!(o.same_fh);
        assert_eq!(c.files, vec![("a".into(), 8192), ("b".into(), 0)]);
        assert!(c.splice);
        assert_eq!(c.read_size, 8192);
    }

    #[test]
    fn errors() {
        for bad in [
            &[][..],
            &["--log"],
            &["/mnt"],
            &["/dev/fd/3", "/dev/fd/4"],
            &["-x", "/dev/fd/3"],
            &["--max-write", "1000", "/dev/fd/3"],
            &["--max-write", "17M", "/dev/fd/3"],
            &["--max-pages", "0", "/dev/fd/3"],
            &["--time-gran", "0", "/dev/fd/3"],
            &["--file", "noequals", "/dev/fd/3"],
            &["--file", "a/b=1", "/dev/fd/3"],
            &["--file", "=1", "/dev/fd/3"],
            &["--file", "a=2G", "/dev/fd/3"],
            &["--file", "a=1", "--file", "a=2", "/dev/fd/3"],
            &["--writeback=1", "/dev/fd/3"],
        ] {
            assert!(parse_args(&s(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(parse_args(&s(&["--help"])), Ok(Cli::Help));
        // A name may contain '=': the size is after the last one.
        assert_eq!(
            serve(&["--file", "a=b=3", "3"]).files,
            vec![("a=b".into(), 3)]
        );
    }
}
