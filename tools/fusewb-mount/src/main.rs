//! `fusewb-mount`: mount a `fuse-wb` (or, with `--mainline`, a mainline
//! FUSE) filesystem and run its server in the foreground.
//!
//! ```text
//! fusewb-mount [--mainline] [--dry-run] [-o OPTIONS]... MOUNTPOINT -- SERVER [ARGS...]
//! ```
//!
//! Steps:
//! 1. open `/dev/fuse-wb` (`/dev/fuse`) read-write;
//! 2. `mount(2)` on MOUNTPOINT with type `fuse-wb[.SUBTYPE]`
//!    (`fuse[.SUBTYPE]`), source `fsname=` or SERVER's basename, flags
//!    `MS_NOSUID|MS_NODEV` (`|MS_RDONLY` with `ro`) and data
//!    `fd=N,rootmode=40000,user_id=UID,group_id=GID[,OPTIONS]`;
//! 3. clear `FD_CLOEXEC` on the device fd and spawn SERVER, with every
//!    argument `%m` replaced by `/dev/fd/N` (or `/dev/fd/N` appended);
//!    libfuse >= 3.3 serves an already-mounted connection given that way;
//! 4. close our own copy of the device fd, so that the connection is
//!    aborted as soon as the server dies;
//! 5. wait for the server (forwarding SIGINT/SIGTERM to it), unmount
//!    MOUNTPOINT (retrying on `EBUSY` for about 2 s, then `MNT_DETACH`),
//!    and exit with the server's status (128+signal if it was killed).
//!
//! The server must stay in the foreground (libfuse: `-f`), since the
//! filesystem is unmounted when the started process exits.
//!
//! Called as `mount.fuse-wb` (a link to this program), it is the mount(8)
//! helper instead: `mount -t fuse-wb.SERVER SOURCE MOUNTPOINT -o OPTIONS`
//! and fstab lines; it mounts, starts the server detached and returns once
//! the server answers (see [`helper`]).
//!
//! The pure parts (argument parsing, option handling, data string, `%m`
//! substitution, the helper's command line) live in [`cli`] and [`helper`]
//! and are unit tested.

mod cli;
mod helper;

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command as Process, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use cli::{Command, Config, MountPlan};

const PROG: &str = "fusewb-mount";

/// Pid of the running server (0 before it is started / after it is reaped).
static CHILD_PID: AtomicI32 = AtomicI32::new(0);
/// Signal received before the server was started (0 if none).
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = CHILD_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; pid is a positive process id.
        unsafe {
            libc::kill(pid, sig);
        }
    } else {
        PENDING_SIGNAL.store(sig, Ordering::SeqCst);
    }
}

fn install_signal_forwarding() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only touches atomics and calls kill(2).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

fn main() {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if helper::is_helper_name(&argv0) {
        std::process::exit(helper_main(&argv0, &args));
    }
    let code = match cli::parse_args(&args) {
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            0
        }
        Ok(Command::Version) => {
            println!("{PROG} {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Command::Run(cfg)) => match if cfg.dry_run {
            dry_run(&cfg, false)
        } else {
            run(&cfg)
        } {
            Ok(code) => code,
            Err(msg) => {
                eprintln!("{PROG}: {msg}");
                1
            }
        },
        Err(msg) => {
            eprintln!("{PROG}: {msg}\nTry '{PROG} --help'.");
            2
        }
    };
    std::process::exit(code);
}

fn ids() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

fn cstring(what: &str, s: &OsStr) -> Result<CString, String> {
    CString::new(s.as_bytes()).map_err(|_| format!("{what} contains a NUL byte"))
}

/// An OS error as text, without std's " (os error N)" suffix.
fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// `--dry-run`: print what would be done. The fd number is predicted by
/// opening /dev/null (the lowest free descriptor is what open(2) returns).
fn dry_run(cfg: &Config, detached: bool) -> Result<i32, String> {
    let fd = {
        let path = CString::new("/dev/null").expect("no NUL");
        // SAFETY: valid C string; the descriptor is closed right away.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: fd was just opened by us.
            unsafe { libc::close(fd) };
            fd
        } else {
            3
        }
    };
    let (uid, gid) = ids();
    let plan = cli::plan_mount(cfg, fd, uid, gid)?;
    for note in &plan.notes {
        eprintln!("{PROG}: {note}");
    }
    println!(
        "device: open(\"{}\", O_RDWR) -> fd {fd} (predicted)",
        plan.device
    );
    println!(
        "mount(source=\"{}\", target=\"{}\", fstype=\"{}\", flags={} ({:#x}), data=\"{}\")",
        plan.source.to_string_lossy(),
        cfg.mountpoint.to_string_lossy(),
        plan.fstype,
        cli::flags_to_string(plan.flags),
        plan.flags,
        plan.data
    );
    let argv = cli::server_argv(&cfg.server, fd);
    let shown: Vec<String> = argv.iter().map(|a| cli::quote(a)).collect();
    println!("server argv: {}", shown.join(" "));
    if detached {
        println!("server: detached (own session); umount ends it");
    } else {
        println!(
            "unmount: umount2(\"{}\", 0) after the server exits",
            cfg.mountpoint.to_string_lossy()
        );
    }
    Ok(0)
}

fn open_device(device: &str) -> Result<i32, String> {
    let path = CString::new(device).expect("no NUL");
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd >= 0 {
        return Ok(fd);
    }
    let e = io::Error::last_os_error();
    let hint = match errno_of(&e) {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => {
            if device == cli::DEVICE_WB {
                " (is fuse_wb.ko loaded? try: insmod fuse_wb.ko)"
            } else {
                " (is mainline FUSE available? try: modprobe fuse)"
            }
        }
        libc::EACCES | libc::EPERM => " (run as root)",
        _ => "",
    };
    Err(format!("cannot open {device}: {}{hint}", describe(&e)))
}

fn do_mount(cfg: &Config, plan: &MountPlan) -> Result<(), String> {
    let source = cstring("fsname", &plan.source)?;
    let target = cstring("MOUNTPOINT", &cfg.mountpoint)?;
    let fstype = cstring("subtype", OsStr::new(&plan.fstype))?;
    let data = cstring("mount options", OsStr::new(&plan.data))?;
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            plan.flags as libc::c_ulong,
            data.as_ptr().cast(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    let mp = cfg.mountpoint.to_string_lossy();
    let hint = match errno_of(&e) {
        libc::EPERM => "mounting needs CAP_SYS_ADMIN (run as root)".to_string(),
        libc::ENODEV => format!(
            "filesystem type '{}' is not registered ({})",
            plan.fstype,
            if cfg.mainline {
                "try: modprobe fuse"
            } else {
                "is fuse_wb.ko loaded?"
            }
        ),
        libc::EINVAL => "the kernel rejected the mount options: check -o, see dmesg".to_string(),
        libc::ENOENT => format!("mountpoint '{mp}' does not exist"),
        libc::ENOTDIR => format!("mountpoint '{mp}' is not a directory"),
        libc::EBUSY => format!("'{mp}' is busy"),
        _ => String::new(),
    };
    let mut msg = format!(
        "mount(\"{}\", \"{mp}\", \"{}\", {}, \"{}\") failed: {}",
        plan.source.to_string_lossy(),
        plan.fstype,
        cli::flags_to_string(plan.flags),
        plan.data,
        describe(&e)
    );
    if !hint.is_empty() {
        msg.push_str(&format!(" ({hint})"));
    }
    Err(msg)
}

fn close_fd(fd: i32) {
    // SAFETY: fd is a descriptor we opened and own.
    unsafe {
        libc::close(fd);
    }
}

/// Unmounts `mountpoint`. Returns false if it could not be unmounted.
fn unmount(mountpoint: &OsStr) -> bool {
    let Ok(target) = CString::new(mountpoint.as_bytes()) else {
        return false;
    };
    let mp = mountpoint.to_string_lossy();
    const TRIES: u32 = 10;
    for attempt in 0..=TRIES {
        // SAFETY: valid C string.
        if unsafe { libc::umount2(target.as_ptr(), 0) } == 0 {
            return true;
        }
        let e = io::Error::last_os_error();
        match errno_of(&e) {
            // Not (or no longer) a mount point: someone already unmounted it.
            libc::EINVAL | libc::ENOENT => return true,
            libc::EINTR => continue,
            libc::EBUSY if attempt < TRIES => std::thread::sleep(Duration::from_millis(200)),
            libc::EBUSY => break,
            _ => {
                eprintln!(
                    "{PROG}: cannot unmount {mp}: {} (try: umount -l {mp})",
                    describe(&e)
                );
                return false;
            }
        }
    }
    // SAFETY: valid C string.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } == 0 {
        eprintln!("{PROG}: {mp} still busy after 2 s; detached it lazily (MNT_DETACH)");
        true
    } else {
        let e = io::Error::last_os_error();
        eprintln!(
            "{PROG}: cannot unmount {mp}: {} (even with MNT_DETACH)",
            describe(&e)
        );
        false
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

/// Validates `cfg`, opens the device and mounts it on the mountpoint.
/// Returns the device fd (without `FD_CLOEXEC`, ready to be inherited by
/// the server); on failure nothing is left mounted.
fn mount_connection(cfg: &Config) -> Result<i32, String> {
    let mp = cfg.mountpoint.to_string_lossy().into_owned();
    // Validate the plan once before touching anything (the real one needs
    // the fd number).
    let (uid, gid) = ids();
    cli::plan_mount(cfg, 3, uid, gid)?;
    match std::fs::metadata(&cfg.mountpoint) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("mountpoint '{mp}' is not a directory")),
        Err(e) => return Err(format!("mountpoint '{mp}': {}", describe(&e))),
    }
    let device = if cfg.mainline {
        cli::DEVICE_MAINLINE
    } else {
        cli::DEVICE_WB
    };
    let fd = open_device(device)?;
    let plan = match cli::plan_mount(cfg, fd, uid, gid) {
        Ok(p) => p,
        Err(e) => {
            close_fd(fd);
            return Err(e);
        }
    };
    for note in &plan.notes {
        eprintln!("{PROG}: {note}");
    }
    if let Err(e) = do_mount(cfg, &plan) {
        close_fd(fd);
        return Err(e);
    }
    // SAFETY: fd is ours; F_SETFD with 0 clears FD_CLOEXEC.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
        let e = io::Error::last_os_error();
        close_fd(fd);
        unmount(&cfg.mountpoint);
        return Err(format!(
            "cannot clear FD_CLOEXEC on {device}: {}",
            describe(&e)
        ));
    }
    Ok(fd)
}

/// Exit status and message for a server that could not be started.
fn spawn_error(program: &OsStr, e: &io::Error) -> (String, i32) {
    let code = if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    let msg = format!(
        "cannot start server '{}': {} (check the path, PATH and permissions)",
        program.to_string_lossy(),
        describe(e)
    );
    (msg, code)
}

fn run(cfg: &Config) -> Result<i32, String> {
    install_signal_forwarding()
        .map_err(|e| format!("cannot install signal handlers: {}", describe(&e)))?;
    let fd = mount_connection(cfg)?;

    // From here on the mount exists: every exit path unmounts.
    let fail = |fd: i32, msg: String, code: i32| -> Result<i32, String> {
        close_fd(fd);
        unmount(&cfg.mountpoint);
        eprintln!("{PROG}: {msg}");
        Ok(code)
    };
    let sig = PENDING_SIGNAL.load(Ordering::SeqCst);
    if sig != 0 {
        return fail(
            fd,
            format!("got signal {sig} before starting the server"),
            128 + sig,
        );
    }

    let argv = cli::server_argv(&cfg.server, fd);
    let mut child = match Process::new(&argv[0]).args(&argv[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            let (msg, code) = spawn_error(&argv[0], &e);
            return fail(fd, msg, code);
        }
    };
    let pid = i32::try_from(child.id()).unwrap_or(0);
    CHILD_PID.store(pid, Ordering::SeqCst);
    let sig = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
    if sig != 0 && pid > 0 {
        // SAFETY: pid is our child's pid.
        unsafe {
            libc::kill(pid, sig);
        }
    }
    // Essential: the server must hold the only reference to the
    // connection, so that it is aborted when the server dies.
    close_fd(fd);

    let status = child.wait();
    CHILD_PID.store(0, Ordering::SeqCst);
    let unmounted = unmount(&cfg.mountpoint);
    let code = match status {
        Ok(st) => exit_code(st),
        Err(e) => {
            eprintln!("{PROG}: waiting for the server failed: {}", describe(&e));
            1
        }
    };
    Ok(if code == 0 && !unmounted { 1 } else { code })
}

/// `mount.fuse-wb`: the mount(8) helper (see [`helper`]).
fn helper_main(argv0: &OsStr, args: &[OsString]) -> i32 {
    const NAME: &str = "mount.fuse-wb";
    let call = match helper::parse_helper(argv0, args) {
        Ok(helper::HelperCommand::Help) => {
            print!("{}", helper::USAGE);
            return 0;
        }
        Ok(helper::HelperCommand::Run(call)) => call,
        Err(msg) => {
            eprintln!("{NAME}: {msg}\nTry '{NAME} --help'.");
            return 2;
        }
    };
    let result = if call.cfg.dry_run || call.verbose {
        dry_run(&call.cfg, true)
    } else {
        Ok(0)
    };
    let result = match result {
        Ok(_) if !call.cfg.dry_run => run_detached(&call),
        other => other,
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("{NAME}: {msg}");
            // mount(8)'s "mount failure".
            32
        }
    }
}

/// Mounts, starts the server detached (own session, output to the log or
/// /dev/null) and returns once the server answers on the mount.
fn run_detached(call: &helper::HelperCall) -> Result<i32, String> {
    let cfg = &call.cfg;
    // The server's stdout and stderr: one open of the log, shared.
    let (stdout, stderr) = match &call.log {
        None => (Stdio::null(), Stdio::null()),
        Some(path) => {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|f| Ok((f.try_clone()?, f)))
                .map_err(|e| format!("log {}: {}", path.to_string_lossy(), describe(&e)))?;
            (Stdio::from(log.0), Stdio::from(log.1))
        }
    };
    // mount(8) may run its helpers without PATH: look the server up here.
    let program = &cfg.server[0];
    let program = if program.as_bytes().contains(&b'/') {
        program.clone()
    } else {
        let path_var = std::env::var_os("PATH");
        let dirs = helper::search_path(path_var.as_deref());
        match dirs
            .iter()
            .map(|d| Path::new(d).join(program))
            .find(|p| p.is_file())
        {
            Some(p) => p.into_os_string(),
            None => {
                let shown: Vec<String> = dirs.iter().map(|d| d.to_string_lossy().into()).collect();
                return Err(format!(
                    "server '{}' not found in {}",
                    program.to_string_lossy(),
                    shown.join(":")
                ));
            }
        }
    };
    let fd = mount_connection(cfg)?;
    let argv = cli::server_argv(&cfg.server, fd);
    let mut process = Process::new(&program);
    process
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // SAFETY: setsid(2) is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        process.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = process.spawn();
    // The server holds the only reference to the connection from here on.
    close_fd(fd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            unmount(&cfg.mountpoint);
            let (msg, _) = spawn_error(&argv[0], &e);
            return Err(msg);
        }
    };
    // A stat of the root waits for INIT and a GETATTR: the server is
    // serving. If it dies first, the connection is aborted and the stat
    // fails (ENOTCONN).
    match std::fs::metadata(&cfg.mountpoint) {
        Ok(_) => Ok(0),
        Err(e) => {
            // Give a server that is dying a moment to be reaped.
            let mut status = None;
            for _ in 0..20 {
                if let Ok(Some(st)) = child.try_wait() {
                    status = Some(st);
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if status.is_none() {
                let _ = child.kill();
                status = child.wait().ok();
            }
            unmount(&cfg.mountpoint);
            let how = match status {
                Some(st) => format!("server exited with status {}", exit_code(st)),
                None => "server did not exit".to_string(),
            };
            Err(format!(
                "the mount does not answer: {} ({how}; see its log{})",
                describe(&e),
                if call.log.is_none() {
                    ": add -o log=FILE"
                } else {
                    ""
                }
            ))
        }
    }
}
