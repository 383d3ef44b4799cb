//! Pure logic of `fusewb-mount`: command-line parsing, `-o` option
//! splitting, mount(2) argument building and `%m` substitution.
//!
//! Nothing in this module performs a system call, so all of it is unit
//! tested on the host.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Device opened for the native module.
pub const DEVICE_WB: &str = "/dev/fuse-wb";
/// Device opened with `--mainline`.
pub const DEVICE_MAINLINE: &str = "/dev/fuse";
/// Filesystem type registered by the native module.
pub const FSTYPE_WB: &str = "fuse-wb";
/// Filesystem type of mainline FUSE.
pub const FSTYPE_MAINLINE: &str = "fuse";
/// Option that only fuse-wb knows; dropped with `--mainline`.
pub const WB_ONLY_OPTION: &str = "allow_wbcache";
/// The kernel copies at most one page of mount data.
pub const MAX_DATA_LEN: usize = 4095;

/// Help text printed by `--help`.
pub const USAGE: &str = "\
Usage: fusewb-mount [--mainline] [--dry-run] [-o OPTIONS]... MOUNTPOINT -- SERVER [ARGS...]

Open /dev/fuse-wb (or /dev/fuse with --mainline), mount a FUSE filesystem on
MOUNTPOINT with mount(2), then run SERVER with the connection as /dev/fd/N and
wait for it. When SERVER exits, MOUNTPOINT is unmounted and fusewb-mount exits
with SERVER's exit status (128+SIGNAL if it was killed by a signal; 1 if the
server succeeded but the unmount failed).

Every argument of SERVER that is exactly '%m' is replaced by /dev/fd/N; if no
argument is '%m', /dev/fd/N is appended as the last argument. libfuse >= 3.3
accepts /dev/fd/N as mountpoint and serves the already-mounted connection.

IMPORTANT: SERVER must stay in the foreground (libfuse servers need -f),
because fusewb-mount unmounts as soon as the process it started exits.

Options:
  -o OPTIONS   comma-separated mount options (may be repeated, -oOPTIONS too).
               Consumed by fusewb-mount:
                 fsname=NAME     mount source (default: SERVER's basename)
                 subtype=TYPE    filesystem type fuse-wb.TYPE (fuse.TYPE)
                 ro, rw          MS_RDONLY on/off
                 nosuid, suid, nodev, dev, noexec, exec, noatime,
                 nodiratime, relatime, strictatime, sync, async, dirsync
                                 generic mount flags (MS_NOSUID|MS_NODEV
                                 are set by default)
                 rootmode=, user_id=, group_id=
                                 override the defaults (40000, uid, gid)
               Everything else is passed to the kernel unchanged after
               fd=N,rootmode=40000,user_id=UID,group_id=GID, e.g.
               allow_other,default_permissions,max_read=N,blksize=N,
               allow_wbcache. fd= cannot be given.
  --mainline   use /dev/fuse and filesystem type 'fuse' (mainline FUSE);
               drops allow_wbcache (with a note on stderr)
  --dry-run    print the device, the mount(2) arguments and SERVER's argv,
               and do nothing (the fd number is predicted)
  -h, --help   print this help
  -V, --version
               print the version

SIGINT and SIGTERM received by fusewb-mount are forwarded to SERVER.

Example:
  fusewb-mount -o allow_other,max_read=131072 /mnt/x -- ./hello -f %m

Linked as mount.fuse-wb it is the mount(8) helper (mount -t fuse-wb.SERVER,
fstab): see mount.fuse-wb --help.
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Run(Config),
}

/// A fully parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    pub mainline: bool,
    pub dry_run: bool,
    /// Every `-o` argument split at commas, empty items dropped, in order.
    pub options: Vec<String>,
    pub mountpoint: OsString,
    /// SERVER followed by its ARGS (never empty).
    pub server: Vec<OsString>,
}

/// Parses the arguments (without the program name).
pub fn parse_args(args: &[OsString]) -> Result<Command, String> {
    let mut mainline = false;
    let mut dry_run = false;
    let mut options = Vec::new();
    let mut mountpoint: Option<OsString> = None;
    let mut server: Option<Vec<OsString>> = None;

    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bytes = arg.as_bytes();
        match bytes {
            b"--" => {
                server = Some(args[i + 1..].to_vec());
                break;
            }
            b"-h" | b"--help" => return Ok(Command::Help),
            b"-V" | b"--version" => return Ok(Command::Version),
            b"--mainline" => mainline = true,
            b"--dry-run" => dry_run = true,
            b"-o" => {
                i += 1;
                let value = args
                    .get(i)
                    .ok_or_else(|| "option -o needs an argument".to_string())?;
                push_options(&mut options, value)?;
            }
            _ if bytes.starts_with(b"-o") => {
                push_options(&mut options, OsStr::from_bytes(&bytes[2..]))?;
            }
            _ if bytes.starts_with(b"-") && bytes.len() > 1 => {
                return Err(format!("unknown option '{}'", arg.to_string_lossy()));
            }
            _ => {
                if let Some(first) = &mountpoint {
                    return Err(format!(
                        "unexpected argument '{}' after MOUNTPOINT '{}' \
                         (the server command goes after '--')",
                        arg.to_string_lossy(),
                        first.to_string_lossy()
                    ));
                }
                mountpoint = Some(arg.clone());
            }
        }
        i += 1;
    }

    let mountpoint = mountpoint.ok_or_else(|| "missing MOUNTPOINT".to_string())?;
    let server = match server {
        None => return Err("missing '-- SERVER [ARGS...]'".to_string()),
        Some(s) if s.is_empty() => return Err("missing SERVER after '--'".to_string()),
        Some(s) => s,
    };
    if server[0].is_empty() {
        return Err("SERVER must not be empty".to_string());
    }
    Ok(Command::Run(Config {
        mainline,
        dry_run,
        options,
        mountpoint,
        server,
    }))
}

/// Splits one `-o` value at commas and appends the non-empty items.
fn push_options(options: &mut Vec<String>, value: &OsStr) -> Result<(), String> {
    let value = value
        .to_str()
        .ok_or_else(|| format!("mount options are not UTF-8: {}", value.to_string_lossy()))?;
    options.extend(split_options(value));
    Ok(())
}

/// Splits a comma-separated option string, dropping empty items.
pub fn split_options(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Mount flags (values from <linux/mount.h>; the same as libc's MS_*).
pub mod flags {
    pub const MS_RDONLY: u64 = 1;
    pub const MS_NOSUID: u64 = 2;
    pub const MS_NODEV: u64 = 4;
    pub const MS_NOEXEC: u64 = 8;
    pub const MS_SYNCHRONOUS: u64 = 16;
    pub const MS_DIRSYNC: u64 = 128;
    pub const MS_NOATIME: u64 = 1024;
    pub const MS_NODIRATIME: u64 = 2048;
    pub const MS_RELATIME: u64 = 1 << 21;
    pub const MS_STRICTATIME: u64 = 1 << 24;

    /// Names in the order they are printed.
    pub const NAMES: &[(u64, &str)] = &[
        (MS_RDONLY, "MS_RDONLY"),
        (MS_NOSUID, "MS_NOSUID"),
        (MS_NODEV, "MS_NODEV"),
        (MS_NOEXEC, "MS_NOEXEC"),
        (MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
        (MS_DIRSYNC, "MS_DIRSYNC"),
        (MS_NOATIME, "MS_NOATIME"),
        (MS_NODIRATIME, "MS_NODIRATIME"),
        (MS_RELATIME, "MS_RELATIME"),
        (MS_STRICTATIME, "MS_STRICTATIME"),
    ];
}

/// Generic flag options: (name, flags to set, flags to clear).
const FLAG_OPTIONS: &[(&str, u64, u64)] = {
    use flags::*;
    &[
        ("ro", MS_RDONLY, 0),
        ("rw", 0, MS_RDONLY),
        ("nosuid", MS_NOSUID, 0),
        ("suid", 0, MS_NOSUID),
        ("nodev", MS_NODEV, 0),
        ("dev", 0, MS_NODEV),
        ("noexec", MS_NOEXEC, 0),
        ("exec", 0, MS_NOEXEC),
        ("sync", MS_SYNCHRONOUS, 0),
        ("async", 0, MS_SYNCHRONOUS),
        ("dirsync", MS_DIRSYNC, 0),
        ("noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME),
        ("nodiratime", MS_NODIRATIME, 0),
        ("relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME),
        ("strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME),
    ]
};

/// Renders mount flags as `MS_A|MS_B` (or `0`).
pub fn flags_to_string(value: u64) -> String {
    let mut parts: Vec<String> = flags::NAMES
        .iter()
        .filter(|(bit, _)| value & bit != 0)
        .map(|(_, name)| name.to_string())
        .collect();
    let known: u64 = flags::NAMES.iter().map(|(bit, _)| bit).sum();
    if value & !known != 0 {
        parts.push(format!("{:#x}", value & !known));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

/// The arguments of the mount(2) call and of the device open.
#[derive(Debug, PartialEq, Eq)]
pub struct MountPlan {
    pub device: &'static str,
    pub source: OsString,
    pub fstype: String,
    pub flags: u64,
    pub data: String,
    /// Notes for stderr (e.g. options dropped for mainline).
    pub notes: Vec<String>,
}

/// Builds the mount(2) arguments for connection fd `fd`.
pub fn plan_mount(cfg: &Config, fd: i32, uid: u32, gid: u32) -> Result<MountPlan, String> {
    let mut fsname: Option<String> = None;
    let mut subtype: Option<String> = None;
    let mut mflags = flags::MS_NOSUID | flags::MS_NODEV;
    let mut rootmode = "40000".to_string();
    let mut user_id = uid.to_string();
    let mut group_id = gid.to_string();
    let mut passed: Vec<&str> = Vec::new();
    let mut notes = Vec::new();

    for opt in &cfg.options {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        if let Some(&(_, set, clear)) = FLAG_OPTIONS.iter().find(|(n, _, _)| *n == opt) {
            mflags = (mflags & !clear) | set;
            continue;
        }
        match (key, value) {
            ("fsname", Some(v)) => {
                if v.is_empty() {
                    return Err("fsname= needs a value".to_string());
                }
                fsname = Some(v.to_string());
            }
            ("subtype", Some(v)) => {
                if v.is_empty() {
                    return Err("subtype= needs a value".to_string());
                }
                subtype = Some(v.to_string());
            }
            ("fd", _) => {
                return Err("option fd= is set by fusewb-mount and cannot be given".to_string());
            }
            ("rootmode", Some(v)) => rootmode = nonempty(key, v)?,
            ("user_id", Some(v)) => user_id = nonempty(key, v)?,
            ("group_id", Some(v)) => group_id = nonempty(key, v)?,
            _ if cfg.mainline && opt == WB_ONLY_OPTION => notes.push(format!(
                "note: dropping option '{WB_ONLY_OPTION}' (mainline FUSE does not know it)"
            )),
            _ => passed.push(opt),
        }
    }

    let base = if cfg.mainline {
        FSTYPE_MAINLINE
    } else {
        FSTYPE_WB
    };
    let fstype = match subtype {
        Some(s) => format!("{base}.{s}"),
        None => base.to_string(),
    };
    let source = match fsname {
        Some(name) => OsString::from(name),
        None => server_basename(&cfg.server[0]),
    };
    let mut data = format!("fd={fd},rootmode={rootmode},user_id={user_id},group_id={group_id}");
    for opt in passed {
        data.push(',');
        data.push_str(opt);
    }
    if data.len() > MAX_DATA_LEN {
        return Err(format!(
            "mount options too long ({} bytes, the kernel takes at most {MAX_DATA_LEN})",
            data.len()
        ));
    }
    Ok(MountPlan {
        device: if cfg.mainline {
            DEVICE_MAINLINE
        } else {
            DEVICE_WB
        },
        source,
        fstype,
        flags: mflags,
        data,
        notes,
    })
}

fn nonempty(key: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{key}= needs a value"))
    } else {
        Ok(value.to_string())
    }
}

/// The basename of the server program (the whole string if it has none).
pub fn server_basename(program: &OsStr) -> OsString {
    Path::new(program)
        .file_name()
        .map(OsStr::to_os_string)
        .unwrap_or_else(|| program.to_os_string())
}

/// The path under which the server reaches the connection.
pub fn fd_path(fd: i32) -> String {
    format!("/dev/fd/{fd}")
}

/// SERVER's argv: every ARG equal to `%m` becomes `/dev/fd/N`; if there
/// is none, `/dev/fd/N` is appended. The program itself is never replaced.
pub fn server_argv(server: &[OsString], fd: i32) -> Vec<OsString> {
    let path = OsString::from(fd_path(fd));
    let mut argv = Vec::with_capacity(server.len() + 1);
    let mut substituted = false;
    for (i, arg) in server.iter().enumerate() {
        if i > 0 && arg == "%m" {
            argv.push(path.clone());
            substituted = true;
        } else {
            argv.push(arg.clone());
        }
    }
    if !substituted {
        argv.push(path);
    }
    argv
}

/// Quotes an argument for display (dry-run output).
pub fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=,:%@".contains(&b));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn run(v: &[&str]) -> Config {
        match parse_args(&os(v)).expect("parse") {
            Command::Run(c) => c,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parses_basic_command_line() {
        let c = run(&["/mnt", "--", "srv", "-f"]);
        assert!(!c.mainline && !c.dry_run);
        assert_eq!(c.mountpoint, "/mnt");
        assert_eq!(c.server, os(&["srv", "-f"]));
        assert!(c.options.is_empty());
    }

    #[test]
    fn parses_options_anywhere_before_double_dash() {
        let c = run(&[
            "--mainline",
            "-o",
            "ro,,allow_other",
            "/mnt",
            "-oblksize=4096",
            "--dry-run",
            "--",
            "srv",
            "-o",
            "x",
            "--",
        ]);
        assert!(c.mainline && c.dry_run);
        assert_eq!(c.options, vec!["ro", "allow_other", "blksize=4096"]);
        assert_eq!(c.server, os(&["srv", "-o", "x", "--"]));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse_args(&os(&["--help"])), Ok(Command::Help));
        assert_eq!(parse_args(&os(&["/m", "-h"])), Ok(Command::Help));
        assert_eq!(parse_args(&os(&["-V"])), Ok(Command::Version));
    }

    #[test]
    fn rejects_bad_command_lines() {
        assert!(parse_args(&os(&[])).is_err());
        assert!(parse_args(&os(&["/mnt"])).unwrap_err().contains("--"));
        assert!(parse_args(&os(&["/mnt", "--"])).is_err());
        assert!(parse_args(&os(&["/mnt", "srv"])).is_err());
        assert!(parse_args(&os(&["-o"])).is_err());
        assert!(parse_args(&os(&["-x", "/mnt", "--", "s"])).is_err());
        assert!(parse_args(&os(&["--", "srv"]))
            .unwrap_err()
            .contains("MOUNTPOINT"));
        assert!(parse_args(&os(&["/mnt", "--", ""])).is_err());
    }

    #[test]
    fn split_drops_empty_items() {
        assert_eq!(split_options(",a,,b=1,"), vec!["a", "b=1"]);
        assert!(split_options("").is_empty());
    }

    fn cfg(mainline: bool, opts: &[&str], server: &[&str]) -> Config {
        Config {
            mainline,
            dry_run: false,
            options: opts.iter().map(|s| s.to_string()).collect(),
            mountpoint: "/mnt".into(),
            server: os(server),
        }
    }

    #[test]
    fn default_plan() {
        let p = plan_mount(&cfg(false, &[], &["/usr/bin/hello", "-f"]), 3, 1000, 100).unwrap();
        assert_eq!(p.device, "/dev/fuse-wb");
        assert_eq!(p.fstype, "fuse-wb");
        assert_eq!(p.source, "hello");
        assert_eq!(p.flags, flags::MS_NOSUID | flags::MS_NODEV);
        assert_eq!(p.data, "fd=3,rootmode=40000,user_id=1000,group_id=100");
        assert!(p.notes.is_empty());
    }

    #[test]
    fn options_consumed_and_passed() {
        let opts = [
            "fsname=myfs",
            "subtype=hello",
            "allow_other",
            "ro",
            "default_permissions",
            "max_read=131072",
            "blksize=4096",
            "allow_wbcache",
        ];
        let p = plan_mount(&cfg(false, &opts, &["srv"]), 7, 0, 0).unwrap();
        assert_eq!(p.fstype, "fuse-wb.hello");
        assert_eq!(p.source, "myfs");
        assert_eq!(
            p.flags,
            flags::MS_NOSUID | flags::MS_NODEV | flags::MS_RDONLY
        );
        assert_eq!(
            p.data,
            "fd=7,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,\
             max_read=131072,blksize=4096,allow_wbcache"
        );
    }

    #[test]
    fn mainline_drops_wbcache_with_note() {
        let p = plan_mount(
            &cfg(true, &["allow_wbcache", "subtype=x", "allow_other"], &["s"]),
            4,
            0,
            0,
        )
        .unwrap();
        assert_eq!(p.device, "/dev/fuse");
        assert_eq!(p.fstype, "fuse.x");
        assert_eq!(
            p.data,
            "fd=4,rootmode=40000,user_id=0,group_id=0,allow_other"
        );
        assert_eq!(p.notes.len(), 1);
        assert!(p.notes[0].contains("allow_wbcache"));
    }

    #[test]
    fn ro_rw_last_wins_and_generic_flags() {
        let p = plan_mount(&cfg(false, &["ro", "rw"], &["s"]), 3, 0, 0).unwrap();
        assert_eq!(p.flags & flags::MS_RDONLY, 0);
        let p = plan_mount(
            &cfg(false, &["rw", "ro", "suid", "noexec", "noatime"], &["s"]),
            3,
            0,
            0,
        )
        .unwrap();
        assert_eq!(
            p.flags,
            flags::MS_RDONLY | flags::MS_NODEV | flags::MS_NOEXEC | flags::MS_NOATIME
        );
        assert_eq!(p.data, "fd=3,rootmode=40000,user_id=0,group_id=0");
        assert_eq!(
            flags_to_string(p.flags),
            "MS_RDONLY|MS_NODEV|MS_NOEXEC|MS_NOATIME"
        );
        assert_eq!(flags_to_string(0), "0");
        assert_eq!(flags_to_string(1 << 40), "0x10000000000");
    }

    #[test]
    fn overrides_and_forbidden_options() {
        let p = plan_mount(
            &cfg(
                false,
                &["user_id=5", "rootmode=40755", "group_id=6"],
                &["s"],
            ),
            3,
            0,
            0,
        )
        .unwrap();
        assert_eq!(p.data, "fd=3,rootmode=40755,user_id=5,group_id=6");
        assert!(plan_mount(&cfg(false, &["fd=4"], &["s"]), 3, 0, 0).is_err());
        assert!(plan_mount(&cfg(false, &["fsname="], &["s"]), 3, 0, 0).is_err());
        assert!(plan_mount(&cfg(false, &["subtype="], &["s"]), 3, 0, 0).is_err());
        // A bare "fsname" without '=' is not ours: passed through.
        let p = plan_mount(&cfg(false, &["fsname"], &["s"]), 3, 0, 0).unwrap();
        assert!(p.data.ends_with(",fsname"));
    }

    #[test]
    fn data_length_is_limited() {
        let long = format!("x={}", "a".repeat(5000));
        assert!(plan_mount(&cfg(false, &[&long], &["s"]), 3, 0, 0)
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn source_defaults_to_basename() {
        assert_eq!(server_basename(OsStr::new("./bin/srv")), "srv");
        assert_eq!(server_basename(OsStr::new("srv")), "srv");
        assert_eq!(server_basename(OsStr::new("/")), "/");
    }

    #[test]
    fn percent_m_substitution() {
        assert_eq!(
            server_argv(&os(&["srv", "-f", "%m", "-o", "%m"]), 5),
            os(&["srv", "-f", "/dev/fd/5", "-o", "/dev/fd/5"])
        );
        assert_eq!(
            server_argv(&os(&["srv", "-f"]), 5),
            os(&["srv", "-f", "/dev/fd/5"])
        );
        assert_eq!(server_argv(&os(&["srv"]), 9), os(&["srv", "/dev/fd/9"]));
        // Only exact "%m" is replaced, and never the program itself.
        assert_eq!(
            server_argv(&os(&["%m", "x%m", "%m%m"]), 3),
            os(&["%m", "x%m", "%m%m", "/dev/fd/3"])
        );
    }

    #[test]
    fn quoting_for_display() {
        assert_eq!(quote(OsStr::new("/dev/fd/3")), "/dev/fd/3");
        assert_eq!(quote(OsStr::new("a b")), "'a b'");
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(quote(OsStr::new("")), "''");
    }
}
