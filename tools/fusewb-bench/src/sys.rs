//! System side: mounting a server with fusewb-mount, unmounting, sync and
//! dropping caches, fsync, the fuse-wb connection's stats file.

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fusewb_pattern::Pattern;

use crate::config::Kind;
use crate::stats;

/// Where the benchmark finds its helpers and writes its files.
#[derive(Debug, Clone)]
pub struct Env {
    /// Directory of `fusewb-mount` and `fusewb-refserver`.
    pub bin: PathBuf,
    /// Scratch directory (the VM's tmpfs).
    pub scratch: PathBuf,
    /// The repository (`$FUSEWB_ROOT`): results go to `tests/out` in it.
    pub root: PathBuf,
}

impl Env {
    /// From `$FUSEWB_ROOT`, `$FUSEWB_SCRATCH` and the location of this program.
    pub fn detect() -> Result<Self, String> {
        let root = match std::env::var_os("FUSEWB_ROOT") {
            Some(r) => PathBuf::from(r),
            None => std::env::current_dir().map_err(|e| {
                format!("FUSEWB_ROOT is not set and the current directory is unknown: {e}")
            })?,
        };
        let scratch = std::env::var_os("FUSEWB_SCRATCH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let bin = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|d| d.join("fusewb-mount").exists())
            .unwrap_or_else(|| root.join("target/release"));
        for tool in ["fusewb-mount", "fusewb-refserver"] {
            if !bin.join(tool).exists() {
                return Err(format!(
                    "{} not found: build the tools first (cargo build --release)",
                    bin.join(tool).display()
                ));
            }
        }
        Ok(Self { bin, scratch, root })
    }

    /// `$FUSEWB_ROOT/tests/out`.
    pub fn out_dir(&self) -> PathBuf {
        self.root.join("tests/out")
    }
}

/// Text of an I/O error without std's " (os error N)" suffix.
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Whether `dir` is a mount point in `/proc/mounts`.
pub fn is_mounted(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/mounts") else {
        return false;
    };
    // /proc/mounts escapes blanks as \040; our paths have none.
    let want = dir.to_string_lossy();
    text.lines()
        .any(|l| l.split_whitespace().nth(1) == Some(want.as_ref()))
}

fn cpath(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{}: NUL in path", p.display()))
}

/// `sync(2)`, then drops the page cache, dentries and inodes, so that every
/// run starts alike. Failing to drop caches is only a warning.
pub fn sync_and_drop_caches() {
    // SAFETY: sync(2) has no arguments and cannot fail.
    unsafe { libc::sync() };
    if let Err(e) = std::fs::write("/proc/sys/vm/drop_caches", "3") {
        eprintln!(
            "fusewb-bench: warning: cannot drop caches: {}",
            describe(&e)
        );
    }
}

/// Opens `path` and `fsync(2)`s it.
pub fn fsync_path(path: &Path) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {} for fsync: {}", path.display(), describe(&e)))?;
    f.sync_all()
        .map_err(|e| format!("fsync {}: {}", path.display(), describe(&e)))
}

/// `syncfs(2)` of the filesystem holding `path`.
pub fn syncfs_path(path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| {
        format!(
            "cannot open {} for syncfs: {}",
            path.display(),
            describe(&e)
        )
    })?;
    // SAFETY: a valid open descriptor for the call.
    if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "syncfs {}: {}",
            path.display(),
            describe(&io::Error::last_os_error())
        ))
    }
}

/// `statfs(2)` on `dir`: on a fresh FUSE mount it waits for INIT.
fn statfs(dir: &Path) -> Result<(), String> {
    let c = cpath(dir)?;
    // SAFETY: zeroed statfs is a valid out buffer; c is a valid C string.
    let rc = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "statfs {}: {}",
            dir.display(),
            describe(&io::Error::last_os_error())
        ))
    }
}

/// The fuse-wb connection's `stats` file of the mount at `mnt`:
/// `/sys/fs/fuse-wb/connections/<dev>/stats`, `<dev>` the kernel's device
/// number of the superblock (`MKDEV(major, minor)`; for the small minors of
/// anonymous devices the same as `stat -c %d`).
pub fn conn_stats_path(mnt: &Path) -> Result<PathBuf, String> {
    let dev = std::fs::metadata(mnt)
        .map_err(|e| format!("stat {}: {}", mnt.display(), describe(&e)))?
        .dev();
    let kdev = (u64::from(libc::major(dev)) << 20) | u64::from(libc::minor(dev));
    let base = Path::new("/sys/fs/fuse-wb/connections");
    for d in [kdev, dev] {
        let p = base.join(d.to_string()).join("stats");
        if p.exists() {
            return Ok(p);
        }
    }
    Err(format!(
        "no {}/{kdev}/stats for the fuse-wb mount {}",
        base.display(),
        mnt.display()
    ))
}

/// Reads and parses a `key value` statistics file.
pub fn read_kv(path: &Path) -> Result<BTreeMap<String, u64>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), describe(&e)))?;
    stats::parse_kv(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads `/proc/meminfo` (bytes).
pub fn meminfo() -> Result<BTreeMap<String, u64>, String> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| format!("cannot read /proc/meminfo: {}", describe(&e)))?;
    Ok(stats::parse_meminfo(&text))
}

/// The guest's system CPU time so far, seconds: `/proc/stat`'s `cpu `
/// line, system + irq + softirq, divided by USER_HZ.
pub fn sys_cpu_secs() -> Result<f64, String> {
    let text = std::fs::read_to_string("/proc/stat")
        .map_err(|e| format!("cannot read /proc/stat: {}", describe(&e)))?;
    let ticks = stats::proc_stat_sys_ticks(&text)
        .ok_or("/proc/stat has no complete 'cpu ' line (system, irq, softirq)")?;
    // CAST: tick counts stay far below 2^53.
    Ok(ticks as f64 / user_hz())
}

/// The guest's system CPU seconds so far; a warning and None if
/// /proc/stat cannot be read.
pub fn sys_cpu_now() -> Option<f64> {
    sys_cpu_secs()
        .map_err(|e| eprintln!("fusewb-bench: warning: {e}; sys CPU s is left out"))
        .ok()
}

/// The machine, for a report's header: `kernel R, N CPUs, MemTotal M MiB`.
pub fn machine() -> String {
    let mem = meminfo()
        .ok()
        .and_then(|m| m.get("MemTotal").copied())
        .map(|b| format!("{} MiB", b >> 20))
        .unwrap_or_else(|| "?".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "kernel {}, {cpus} CPUs, MemTotal {mem}",
        read_small("/proc/sys/kernel/osrelease")
    )
}

/// A VM size that leaves `need_mib` available: the need plus 1 GiB for
/// the kernel and the programs, rounded up to whole GiB.
pub fn suggested_vm_gib(need_mib: u64) -> u64 {
    (need_mib + 1024).div_ceil(1024)
}

/// The error when `need_mib` MiB of tmpfs data (`what`) do not fit in
/// `avail_mib` MiB available: names the VM memory to use and the settings
/// (`lower`) that shrink the data.
pub fn memory_error(what: &str, need_mib: u64, avail_mib: u64, lower: &str) -> String {
    let gib = suggested_vm_gib(need_mib);
    format!(
        "{what} live in tmpfs (RAM): about {need_mib} MiB are needed, MemAvailable is \
         {avail_mib} MiB; give the VM more memory (make bench BENCH_MEM={gib}G, or \
         scripts/vm-run --mem {gib}G) or set {lower} lower"
    )
}

/// Checks that MemAvailable leaves room for `need_mib` MiB of tmpfs data
/// (see [`memory_error`]).
pub fn check_memory(what: &str, need_mib: u64, lower: &str) -> Result<(), String> {
    let avail = meminfo()?.get("MemAvailable").copied().unwrap_or(0);
    if avail < need_mib << 20 {
        return Err(memory_error(what, need_mib, avail >> 20, lower));
    }
    Ok(())
}

/// USER_HZ, the unit of `/proc/stat`: `sysconf(_SC_CLK_TCK)`, or 100 (its
/// value on every Linux architecture) if that fails.
pub fn user_hz() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        // CAST: a small positive number.
        hz as f64
    } else {
        100.0
    }
}

/// A small text file's content, trimmed ("?" if it cannot be read).
pub fn read_small(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

/// fuse_wb.ko's parameters, as `name value, ...` ("not loaded" if absent).
pub fn module_params() -> String {
    let dir = Path::new("/sys/module/fuse_wb/parameters");
    if !dir.exists() {
        return "fuse_wb.ko not loaded".to_string();
    }
    let list: Vec<String> = ["max_pages_limit", "max_inflight_mb", "max_dirty_ratio"]
        .iter()
        .map(|p| format!("{p} {}", read_small(&dir.join(p).to_string_lossy())))
        .collect();
    format!("fuse_wb {}", list.join(", "))
}

/// What the reference server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing<'a> {
    /// A passthrough of this directory (`--source DIR`).
    Dir(&'a Path),
    /// The data sink checking WRITEs against the pattern of this seed
    /// (`--sink-pattern SEED`): stores no data.
    Sink(u64),
}

impl Backing<'_> {
    /// The server's arguments for it.
    pub fn server_args(&self) -> Vec<OsString> {
        match self {
            Backing::Dir(dir) => vec!["--source".into(), dir.as_os_str().to_owned()],
            Backing::Sink(seed) => vec!["--sink-pattern".into(), format!("{seed:#x}").into()],
        }
    }
}

/// How to start the reference server.
#[derive(Debug, Clone)]
pub struct ServerSpec<'a> {
    pub kind: Kind,
    pub mnt: &'a Path,
    pub backing: Backing<'a>,
    pub latency_us: u64,
    /// `--threads` (1: the option is left out, the server's default).
    pub threads: u32,
    /// `--max-write` in bytes (None: left out, the server's 1 MiB).
    pub max_write: Option<u64>,
    pub stats: &'a Path,
}

impl ServerSpec<'_> {
    /// The arguments of `fusewb-mount` after the mount point `mnt`
    /// (canonical): `-- SERVER ARGS... %m`, preceded by the mount options.
    pub fn mount_args(&self, env: &Env, mnt: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        if self.kind.is_mainline() {
            a.push("--mainline".into());
        } else if self.kind.server_writeback() {
            a.extend(["-o".into(), "allow_wbcache".into()]);
        }
        a.extend([
            mnt.as_os_str().to_owned(),
            "--".into(),
            env.bin.join("fusewb-refserver").into_os_string(),
        ]);
        a.extend(self.backing.server_args());
        if self.kind.server_writeback() {
            a.push("--writeback".into());
        }
        if self.latency_us > 0 {
            a.extend([
                "--write-latency-us".into(),
                self.latency_us.to_string().into(),
            ]);
        }
        if self.threads > 1 {
            a.extend(["--threads".into(), self.threads.to_string().into()]);
        }
        if let Some(mw) = self.max_write {
            a.extend(["--max-write".into(), mw.to_string().into()]);
        }
        a.extend([
            "--stats".into(),
            self.stats.as_os_str().to_owned(),
            "%m".into(),
        ]);
        a
    }
}

/// A mounted reference server (fusewb-mount running in the background).
pub struct Mount {
    mnt: PathBuf,
    child: Option<Child>,
}

impl Mount {
    /// Mounts `spec` with fusewb-mount and waits until the mount is
    /// there and INIT is done.
    pub fn start(env: &Env, spec: &ServerSpec<'_>) -> Result<Mount, String> {
        std::fs::create_dir_all(spec.mnt)
            .map_err(|e| format!("mkdir {}: {}", spec.mnt.display(), describe(&e)))?;
        // /proc/mounts shows the resolved path.
        let mnt = std::fs::canonicalize(spec.mnt)
            .map_err(|e| format!("{}: {}", spec.mnt.display(), describe(&e)))?;
        if is_mounted(&mnt) {
            return Err(format!("{} is already a mount point", mnt.display()));
        }
        let mut cmd = Command::new(env.bin.join("fusewb-mount"));
        cmd.args(spec.mount_args(env, &mnt));
        cmd.stdin(Stdio::null());
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot run {}: {}",
                env.bin.join("fusewb-mount").display(),
                describe(&e)
            )
        })?;
        let mut m = Mount {
            mnt: mnt.clone(),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !is_mounted(&mnt) {
            if let Some(c) = m.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    m.child = None;
                    return Err(format!(
                        "fusewb-mount for {} exited ({st}) before the mount appeared",
                        spec.kind
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("{} was not mounted within 120 s", mnt.display()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        statfs(&mnt)?;
        Ok(m)
    }

    /// Unmounts and waits for the server and fusewb-mount to exit (the
    /// server writes its statistics file on the way out). A non-zero exit
    /// status is reported as a warning: the operations already succeeded.
    pub fn finish(mut self) -> Result<(), String> {
        let c = cpath(&self.mnt)?;
        let mut tries = 0;
        loop {
            // SAFETY: valid C string.
            if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // Not mounted (any more): the server is gone already.
                Some(libc::EINVAL) | Some(libc::ENOENT) => break,
                Some(libc::EINTR) => {}
                Some(libc::EBUSY) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => return Err(format!("umount {}: {}", self.mnt.display(), describe(&e))),
            }
        }
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    if !st.success() {
                        eprintln!(
                            "fusewb-bench: warning: fusewb-mount for {} exited with {st} after the unmount",
                            self.mnt.display()
                        );
                    }
                    return Ok(());
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "the server of {} did not exit within 120 s of the unmount",
                        self.mnt.display()
                    ));
                }
                Err(e) => return Err(format!("waiting for fusewb-mount: {}", describe(&e))),
            }
        }
    }
}

impl Drop for Mount {
    /// On an error path: detach the mount and stop the server.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(c) = cpath(&self.mnt) {
                // SAFETY: valid C string.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A tmpfs of its own (the VM's scratch tmpfs is limited to half of RAM),
/// unmounted when dropped.
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_mib` MiB on `dir` (created if needed).
    pub fn mount(dir: &Path, size_mib: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("mkdir {}: {}", dir.display(), describe(&e)))?;
        let target = cpath(dir)?;
        let data = CString::new(format!("size={size_mib}m,mode=0755"))
            .map_err(|_| "NUL in tmpfs options".to_string())?;
        // SAFETY: valid C strings for the call.
        let rc = unsafe {
            libc::mount(
                c"fusewb-bench".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(format!(
                "mount -t tmpfs -o size={size_mib}m {}: {}",
                dir.display(),
                describe(&io::Error::last_os_error())
            ));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Ok(c) = cpath(&self.dir) {
            // SAFETY: valid C string.
            if unsafe { libc::umount2(c.as_ptr(), 0) } != 0 {
                // SAFETY: valid C string.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
}

/// Waits up to 10 s for the server's statistics file, then parses it.
pub fn server_stats(path: &Path) -> Result<BTreeMap<String, u64>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    read_kv(path)
}

/// Checks that `path` holds the first `len` bytes of `pattern`: all of
/// the data with `verify`, else only its size.
pub fn check_pattern_file(
    pattern: &Pattern,
    path: &Path,
    len: u64,
    verify: bool,
) -> Result<(), String> {
    if verify {
        return pattern
            .verify_file(path, len, |_| {})
            .map_err(|e| format!("wrong data: {e}"));
    }
    let got = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if got != len {
        return Err(format!(
            "{} has {got} bytes, expected {len}",
            path.display()
        ));
    }
    Ok(())
}

/// Removes `path` if it exists.
pub fn remove_file(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("rm {}: {}", path.display(), describe(&e))),
    }
}

/// Empties (or creates) directory `dir`.
pub fn fresh_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("rm -r {}: {}", dir.display(), describe(&e))),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {}", dir.display(), describe(&e)))
}

/// Runs `cmd` (stdout discarded, stderr captured); an error unless it
/// exits 0.
pub fn run_checked(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {what}: {}", describe(&e)))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Prints a line every `every` until dropped: "still running" notes for
/// long operations under TCG. `status` supplies the detail.
pub struct Ticker {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    pub fn start(
        label: String,
        every: Duration,
        status: impl Fn() -> String + Send + 'static,
    ) -> Ticker {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t0 = Instant::now();
        let thread = std::thread::Builder::new()
            .name("ticker".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    println!(
                        "      ... {label}: {:.0} s, {}",
                        t0.elapsed().as_secs_f64(),
                        status()
                    );
                }
            })
            .ok();
        Ticker {
            stop: Some(tx),
            thread,
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The size of `path`, as "N MiB" (or "?").
pub fn size_mib(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => format!("{} MiB", m.len() >> 20),
        Err(_) => "no file yet".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_advice() {
        assert_eq!(suggested_vm_gib(4352), 6);
        assert_eq!(suggested_vm_gib(2304), 4);
        assert_eq!(suggested_vm_gib(1024), 2);
        assert_eq!(
            memory_error("the data", 2304, 1000, "BENCH_X"),
            "the data live in tmpfs (RAM): about 2304 MiB are needed, MemAvailable is 1000 \
             MiB; give the VM more memory (make bench BENCH_MEM=4G, or scripts/vm-run --mem \
             4G) or set BENCH_X lower"
        );
    }

    #[test]
    fn server_args_of_backings() {
        let dir = Path::new("/srv/b");
        assert_eq!(
            Backing::Dir(dir).server_args(),
            vec![OsString::from("--source"), OsString::from("/srv/b")]
        );
        assert_eq!(
            Backing::Sink(0xd1a7_0002).server_args(),
            vec![
                OsString::from("--sink-pattern"),
                OsString::from("0xd1a70002")
            ]
        );
    }

    fn words(a: &[OsString]) -> String {
        let v: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        v.join(" ")
    }

    #[test]
    fn mount_args_of_specs() {
        let env = Env {
            bin: "/b".into(),
            scratch: "/s".into(),
            root: "/r".into(),
        };
        let mut spec = ServerSpec {
            kind: Kind::WbBack,
            mnt: Path::new("/m"),
            backing: Backing::Sink(1),
            latency_us: 0,
            threads: 1,
            max_write: None,
            stats: Path::new("/st"),
        };
        assert_eq!(
            words(&spec.mount_args(&env, Path::new("/m"))),
            "-o allow_wbcache /m -- /b/fusewb-refserver --sink-pattern 0x1 --writeback \
             --stats /st %m"
        );
        spec.kind = Kind::Mainline;
        spec.backing = Backing::Dir(Path::new("/d"));
        spec.latency_us = 5000;
        spec.threads = 8;
        spec.max_write = Some(8 << 20);
        assert_eq!(
            words(&spec.mount_args(&env, Path::new("/m"))),
            "--mainline /m -- /b/fusewb-refserver --source /d --write-latency-us 5000 \
             --threads 8 --max-write 8388608 --stats /st %m"
        );
        spec.kind = Kind::WbThrough;
        assert!(words(&spec.mount_args(&env, Path::new("/m"))).starts_with("/m -- "));
    }
}
