//! The reference server of one timed run (parts 1 and 3): mounting it and
//! checking that a fuse-wb mount is in the mode it is labelled with, and,
//! after the unmount, what the server's statistics say.

use std::path::Path;

use crate::config::Kind;
use crate::stats::{self, WriteStats};
use crate::sys::{self, Env, Mount, ServerSpec};

/// Mounts `spec` and checks that a fuse-wb mount's connection has the
/// write-back cache on exactly when `spec.kind` says so.
pub fn mount(env: &Env, spec: &ServerSpec<'_>) -> Result<Mount, String> {
    let kind = spec.kind;
    let m = Mount::start(env, spec)?;
    if !kind.is_mainline() {
        let st = sys::read_kv(&sys::conn_stats_path(spec.mnt)?)?;
        let want = u64::from(kind.server_writeback());
        let got = st.get(stats::WRITEBACK_CACHE).copied();
        if got != Some(want) {
            return Err(format!(
                "{kind}: the connection's writeback_cache is {got:?}, expected {want}: \
                 the mount is not in the mode it is labelled with"
            ));
        }
    }
    Ok(m)
}

/// What the server's statistics say about a run.
#[derive(Debug, Clone, Default)]
pub struct ServerSide {
    pub writes: WriteStats,
    /// `server_writes_inflight_max` (None: no such line).
    pub inflight_max: Option<u64>,
    /// The WRITE-size histogram.
    pub hist: Vec<(u64, u64)>,
}

/// Unmounts `m` (a `kind` mount on `mnt`), then reads the server's
/// statistics file `stats_file`; notes on stderr when the fuse-wb kernel
/// counted a different number of WRITEs (`label` names the run).
pub fn finish(
    m: Mount,
    kind: Kind,
    mnt: &Path,
    stats_file: &Path,
    label: &str,
) -> Result<ServerSide, String> {
    let kernel = if kind.is_mainline() {
        None
    } else {
        sys::conn_stats_path(mnt)
            .and_then(|p| sys::read_kv(&p))
            .ok()
            .map(|m| WriteStats::from_kernel(&m))
    };
    m.finish()?;
    let st = sys::server_stats(stats_file)?;
    let w = WriteStats::from_server(&st);
    if let Some(k) = kernel {
        if k.count != w.count {
            eprintln!(
                "fusewb-bench: note: {label}: the kernel counted {} WRITEs, the server {}",
                k.count, w.count
            );
        }
    }
    Ok(ServerSide {
        writes: w,
        inflight_max: st.get(stats::SERVER_WRITES_INFLIGHT_MAX).copied(),
        hist: stats::histogram(&st),
    })
}
