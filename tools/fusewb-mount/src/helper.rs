//! Pure logic of the mount(8) helper `mount.fuse-wb`: its command line,
//! the server it names, and which options go to the kernel and which to
//! the server.
//!
//! ```text
//! mount.fuse-wb SOURCE MOUNTPOINT [-o OPTIONS] [-t fuse-wb.SERVER] [-n] [-s] [-f] [-v]
//! ```
//!
//! mount(8) runs it for `mount -t fuse-wb.SERVER SOURCE MOUNTPOINT` (and for
//! the same line in fstab): it looks for `/sbin/mount.fuse-wb.SERVER` first,
//! then `/sbin/mount.fuse-wb` with `-t fuse-wb.SERVER`. The server is the
//! subtype of `-t`, the suffix of the program's own name
//! (`mount.fuse-wb.SERVER`), or, as mount.fuse3 accepts, the `SERVER#` prefix
//! of SOURCE. It is started as
//!
//! ```text
//! SERVER [SOURCE] /dev/fd/N -f [-o SERVER_OPTIONS]
//! ```
//!
//! (SOURCE is left out when it is `none`), detached from the caller. The
//! options the kernel or mount(2) knows stay on the mount; the ones of
//! mount(8) and fstab that mean nothing to either (`defaults`, `noauto`,
//! `nofail`, `_netdev`, `x-*`, ...) are dropped; everything else is the
//! server's.
//!
//! Nothing here performs a system call, so all of it is unit tested on
//! the host.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cli::{self, Config};

/// The filesystem type the helper mounts.
const TYPE: &str = "fuse-wb";

/// Help text of `mount.fuse-wb --help`.
pub const USAGE: &str = "\
Usage: mount.fuse-wb SOURCE MOUNTPOINT [-o OPTIONS] [-t fuse-wb.SERVER] [-n] [-s] [-f] [-v]

The mount(8) helper of fuse-wb: `mount -t fuse-wb.SERVER SOURCE MOUNTPOINT -o OPTIONS`
(or that line in /etc/fstab) opens /dev/fuse-wb, mounts it on MOUNTPOINT and
starts SERVER in the background on the mounted connection:

    SERVER [SOURCE] /dev/fd/N -f [-o SERVER_OPTIONS]

SOURCE is left out when it is 'none'. The server is the subtype of -t, the
suffix of this program's name (mount.fuse-wb.SERVER), or the SERVER# prefix of
SOURCE (SERVER#SOURCE). SERVER is looked up in PATH unless it has a '/'.
The helper returns once the server answers on the mount (a stat of
MOUNTPOINT), and fails (unmounting again) if the server exits before that.
`umount MOUNTPOINT` ends the server.

Options:
  mount and kernel options (kept on the mount): allow_wbcache, allow_other,
    default_permissions, max_read=N, blksize=N, rootmode=, user_id=, group_id=,
    fsname= (default SOURCE), subtype= (default SERVER's name), ro, rw, nosuid,
    suid, nodev, dev, noexec, exec, sync, async, dirsync, noatime, nodiratime,
    relatime, strictatime
  fstab-only options (dropped): defaults, auto, noauto, user, nouser, users,
    owner, group, nofail, _netdev, comment=, x-*
  log=FILE   the server's stdout and stderr are appended to FILE (default
             /dev/null)
  anything else is passed to the server as -o
  -n, -s     accepted and ignored (mount(8) passes them)
  -f         fake: print what would be done, do nothing
  -v         print the mount and the server's command line
";

/// A parsed helper call.
#[derive(Debug, PartialEq, Eq)]
pub struct HelperCall {
    /// What to mount and run: the server's argv contains `%m`.
    pub cfg: Config,
    /// Where the server's output goes (None: /dev/null).
    pub log: Option<OsString>,
    /// `-v`
    pub verbose: bool,
}

/// What the helper's command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum HelperCommand {
    Help,
    Run(HelperCall),
}

/// Options kept on the mount (fusewb-mount or the kernel knows them), by key.
const MOUNT_KEYS: &[&str] = &[
    "allow_wbcache",
    "allow_other",
    "default_permissions",
    "max_read",
    "blksize",
    "rootmode",
    "user_id",
    "group_id",
    "fsname",
    "subtype",
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "noatime",
    "nodiratime",
    "relatime",
    "strictatime",
];

/// fstab and mount(8) options that mean nothing to the kernel or server.
const DROPPED_KEYS: &[&str] = &[
    "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "nofail", "_netdev",
    "comment",
];

/// Where an option goes.
#[derive(Debug, PartialEq, Eq)]
enum Dest {
    Mount,
    Server,
    Dropped,
}

fn destination(opt: &str) -> Dest {
    let key = opt.split_once('=').map_or(opt, |(k, _)| k);
    if MOUNT_KEYS.contains(&key) {
        Dest::Mount
    } else if DROPPED_KEYS.contains(&key) || key.starts_with("x-") {
        Dest::Dropped
    } else {
        Dest::Server
    }
}

/// The server named by `-t TYPE` (`fuse-wb.SERVER`), if any.
fn server_of_type(fstype: &str) -> Result<Option<&str>, String> {
    if fstype == TYPE {
        return Ok(None);
    }
    match fstype.strip_prefix(TYPE).and_then(|s| s.strip_prefix('.')) {
        Some(s) if !s.is_empty() => Ok(Some(s)),
        _ => Err(format!(
            "type '{fstype}' is not fuse-wb.SERVER (mount.fuse-wb mounts fuse-wb only)"
        )),
    }
}

/// The server named by the program's own name (`mount.fuse-wb.SERVER`).
fn server_of_name(argv0: &OsStr) -> Option<String> {
    let base = Path::new(argv0).file_name()?.to_str()?;
    let rest = base.strip_prefix("mount.")?.strip_prefix(TYPE)?;
    let server = rest.strip_prefix('.')?;
    (!server.is_empty()).then(|| server.to_string())
}

/// Parses the helper's arguments (without the program name, `argv0`).
pub fn parse_helper(argv0: &OsStr, args: &[OsString]) -> Result<HelperCommand, String> {
    let mut positional: Vec<&OsString> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut fstype: Option<String> = None;
    let mut verbose = false;
    let mut fake = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bytes = arg.as_bytes();
        match bytes {
            b"-h" | b"--help" => return Ok(HelperCommand::Help),
            b"-o" | b"-t" => {
                i += 1;
                let value = args
                    .get(i)
                    .ok_or_else(|| format!("option {} needs an argument", arg.to_string_lossy()))?;
                let value = value
                    .to_str()
                    .ok_or_else(|| format!("{} is not UTF-8", value.to_string_lossy()))?;
                if bytes == b"-o" {
                    options.extend(cli::split_options(value));
                } else {
                    fstype = Some(value.to_string());
                }
            }
            _ if bytes.starts_with(b"-o") && bytes.len() > 2 => {
                let value = std::str::from_utf8(&bytes[2..])
                    .map_err(|_| "mount options are not UTF-8".to_string())?;
                options.extend(cli::split_options(value));
            }
            _ if bytes.starts_with(b"-") && bytes.len() > 1 => {
                for &flag in &bytes[1..] {
                    match flag {
                        b'n' | b's' => {}
                        b'v' => verbose = true,
                        b'f' => fake = true,
                        _ => return Err(format!("unknown option '{}'", arg.to_string_lossy())),
                    }
                }
            }
            _ => positional.push(arg),
        }
        i += 1;
    }
    let (source, mountpoint) = match positional.as_slice() {
        [s, m] => (*s, *m),
        [] | [_] => return Err("missing SOURCE and MOUNTPOINT".to_string()),
        _ => return Err("more than two arguments (SOURCE MOUNTPOINT)".to_string()),
    };

    // Which server, and what SOURCE means to it.
    let mut source = source.clone();
    let mut server = match &fstype {
        Some(t) => server_of_type(t)?.map(str::to_string),
        None => None,
    }
    .or_else(|| server_of_name(argv0));
    if server.is_none() {
        if let Some(pos) = source.as_bytes().iter().position(|&b| b == b'#') {
            let bytes = source.as_bytes();
            let name = std::str::from_utf8(&bytes[..pos])
                .map_err(|_| "SERVER# is not UTF-8".to_string())?
                .to_string();
            let rest = OsStr::from_bytes(&bytes[pos + 1..]).to_os_string();
            server = Some(name);
            source = rest;
        }
    }
    let server = match server {
        Some(s) if !s.is_empty() => s,
        _ => {
            return Err(
                "no server named: use -t fuse-wb.SERVER, mount.fuse-wb.SERVER \
                 or SOURCE as SERVER#SOURCE"
                    .to_string(),
            )
        }
    };

    let mut kept = Vec::new();
    let mut for_server = Vec::new();
    let mut log = None;
    for opt in options {
        if let Some(path) = opt.strip_prefix("log=") {
            if path.is_empty() {
                return Err("log= needs a file".to_string());
            }
            log = Some(OsString::from(path));
            continue;
        }
        match destination(&opt) {
            Dest::Mount => kept.push(opt),
            Dest::Server => for_server.push(opt),
            Dest::Dropped => {}
        }
    }
    let has = |kept: &[String], key: &str| {
        kept.iter()
            .any(|o| o.split_once('=').map(|(k, _)| k) == Some(key))
    };
    let source_str = source.to_string_lossy().into_owned();
    if !has(&kept, "fsname") && !source_str.is_empty() {
        kept.insert(0, format!("fsname={source_str}"));
    }
    let program = OsString::from(&server);
    if !has(&kept, "subtype") {
        let base = cli::server_basename(&program);
        kept.insert(0, format!("subtype={}", base.to_string_lossy()));
    }

    let mut argv = vec![program];
    if !source.is_empty() && source != "none" {
        argv.push(source);
    }
    argv.push(OsString::from("%m"));
    argv.push(OsString::from("-f"));
    if !for_server.is_empty() {
        argv.push(OsString::from("-o"));
        argv.push(OsString::from(for_server.join(",")));
    }
    Ok(HelperCommand::Run(HelperCall {
        cfg: Config {
            mainline: false,
            dry_run: fake,
            options: kept,
            mountpoint: mountpoint.clone(),
            server: argv,
        },
        log,
        verbose,
    }))
}

/// Where the server is looked up when mount(8) left no PATH (it runs
/// helpers with a minimal environment).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The directories to search for a server without '/' in its name.
pub fn search_path(path_var: Option<&OsStr>) -> Vec<OsString> {
    let value = match path_var {
        Some(p) if !p.is_empty() => p.as_bytes(),
        _ => DEFAULT_PATH.as_bytes(),
    };
    value
        .split(|&b| b == b':')
        .filter(|d| !d.is_empty())
        .map(|d| OsStr::from_bytes(d).to_os_string())
        .collect()
}

/// Whether `argv0` names the mount(8) helper (`mount.fuse-wb[.SERVER]`).
pub fn is_helper_name(argv0: &OsStr) -> bool {
    Path::new(argv0)
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|b| b == "mount.fuse-wb" || b.starts_with("mount.fuse-wb."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn call(argv0: &str, v: &[&str]) -> HelperCall {
        match parse_helper(OsStr::new(argv0), &os(v)).expect("parse") {
            HelperCommand::Run(c) => c,
            HelperCommand::Help => panic!("help"),
        }
    }

    #[test]
    fn type_names_the_server_and_options_are_split() {
        let c = call(
            "/sbin/mount.fuse-wb",
            &[
                "host:/export",
                "/mnt",
                "-t",
                "fuse-wb.sshfs",
                "-o",
                "rw,allow_wbcache,defaults,noauto,x-systemd.automount,reconnect,allow_other,nofail",
                "-n",
            ],
        );
        assert_eq!(c.cfg.mountpoint, "/mnt");
        assert_eq!(
            c.cfg.options,
            os(&[
                "subtype=sshfs",
                "fsname=host:/export",
                "rw",
                "allow_wbcache",
                "allow_other"
            ])
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect::<Vec<_>>()
        );
        assert_eq!(
            c.cfg.server,
            os(&["sshfs", "host:/export", "%m", "-f", "-o", "reconnect"])
        );
        assert!(!c.cfg.mainline && !c.cfg.dry_run && !c.verbose);
        assert_eq!(c.log, None);
    }

    #[test]
    fn source_none_is_not_passed_and_fsname_wins() {
        let c = call(
            "mount.fuse-wb",
            &[
                "none",
                "/mnt/test",
                "-t",
                "fuse-wb.passthrough_ll",
                "-ofsname=non1,source=/srv/t,writeback,log=/tmp/l",
                "-v",
            ],
        );
        assert_eq!(c.cfg.options, vec!["subtype=passthrough_ll", "fsname=non1"]);
        assert_eq!(
            c.cfg.server,
            os(&[
                "passthrough_ll",
                "%m",
                "-f",
                "-o",
                "source=/srv/t,writeback"
            ])
        );
        assert_eq!(c.log, Some(OsString::from("/tmp/l")));
        assert!(c.verbose);
    }

    #[test]
    fn server_from_program_name_or_source_prefix() {
        let c = call("/usr/sbin/mount.fuse-wb.hello_ll", &["none", "/m"]);
        assert_eq!(c.cfg.server, os(&["hello_ll", "%m", "-f"]));
        let c = call("mount.fuse-wb", &["/opt/srv#data", "/m", "-f"]);
        assert_eq!(c.cfg.server, os(&["/opt/srv", "data", "%m", "-f"]));
        assert_eq!(c.cfg.options, vec!["subtype=srv", "fsname=data"]);
        assert!(c.cfg.dry_run);
        // -t fuse-wb alone leaves the choice to the name or SOURCE.
        let c = call("mount.fuse-wb", &["srv#x", "/m", "-t", "fuse-wb"]);
        assert_eq!(c.cfg.server[0], "srv");
        // An explicit subtype= is kept as given.
        let c = call(
            "mount.fuse-wb",
            &["none", "/m", "-t", "fuse-wb.a", "-o", "subtype=b"],
        );
        assert_eq!(c.cfg.options, vec!["fsname=none", "subtype=b"]);
    }

    #[test]
    fn rejects_bad_calls() {
        let bad = |v: &[&str]| parse_helper(OsStr::new("mount.fuse-wb"), &os(v)).is_err();
        assert!(bad(&["/m"]));
        assert!(bad(&["a", "b", "c", "-t", "fuse-wb.x"]));
        assert!(bad(&["none", "/m"]), "no server");
        assert!(bad(&["none", "/m", "-t", "fuse.sshfs"]));
        assert!(bad(&["none", "/m", "-t", "fuse-wbx"]));
        assert!(bad(&["none", "/m", "-t", "fuse-wb."]));
        assert!(bad(&["none", "/m", "-t", "fuse-wb.x", "-o", "log="]));
        assert!(bad(&["none", "/m", "-t", "fuse-wb.x", "-q"]));
        assert!(bad(&["none", "/m", "-o"]));
        assert_eq!(
            parse_helper(OsStr::new("mount.fuse-wb"), &os(&["--help"])),
            Ok(HelperCommand::Help)
        );
    }

    #[test]
    fn search_path_defaults_when_unset_or_empty() {
        assert_eq!(search_path(Some(OsStr::new("/a::/b"))), os(&["/a", "/b"]));
        assert_eq!(search_path(None).len(), 6);
        assert_eq!(search_path(Some(OsStr::new(""))), search_path(None));
    }

    #[test]
    fn helper_names() {
        assert!(is_helper_name(OsStr::new("/sbin/mount.fuse-wb")));
        assert!(is_helper_name(OsStr::new("mount.fuse-wb.sshfs")));
        assert!(!is_helper_name(OsStr::new("fusewb-mount")));
        assert!(!is_helper_name(OsStr::new("mount.fuse-wbx")));
    }
}
