//! Parsing of the `key value` statistics (the reference server's `--stats`
//! file, a fuse-wb connection's `stats` file) and of `/proc/meminfo`.

use fusewb_proto::stats::{
    parse_line, write_size_bound, LineError, BYTES_SUFFIX, COUNT_SUFFIX, OP_PREFIX, WRITE_HEADER,
};
use std::collections::BTreeMap;

/// Keys of a connection's `stats` that the bench reads.
pub use fusewb_proto::stats::{DIRTY_PAGES, WRITEBACK_CACHE, WRITEBACK_INFLIGHT_BYTES};

/// Key of the reference server's statistics: the most WRITEs it served at
/// once (written only after at least one WRITE). The same string as
/// `fusewb-refserver`'s `stats::WRITES_IN_FLIGHT_MAX`.
pub const SERVER_WRITES_INFLIGHT_MAX: &str = "server_writes_inflight_max";

/// Bytes of a WRITE request that are not data, in the kernel's
/// `op.WRITE.bytes` (`fuse_in_header` + `fuse_write_in`).
// CAST: 80.
pub const KERNEL_WRITE_HEADER: u64 = WRITE_HEADER as u64;

/// `key value` lines to a map. Blank lines are skipped; a line that is
/// not `KEY NUMBER` is an error naming it.
pub fn parse_kv(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        match parse_line(line) {
            Ok(None) => {}
            Ok(Some((k, v))) => {
                map.insert(k.to_string(), v);
            }
            Err(LineError::Fields) => {
                return Err(format!(
                    "line {}: expected 'KEY VALUE', got {line:?}",
                    i + 1
                ))
            }
            Err(LineError::Value(k, v)) => {
                return Err(format!("line {}: {k}: not a number: {v:?}", i + 1))
            }
        }
    }
    Ok(map)
}

/// The `op.WRITE.count` and `op.WRITE.bytes` of `map` (0 if absent).
fn write_counters(map: &BTreeMap<String, u64>) -> (u64, u64) {
    let get = |suffix: &str| {
        map.get(&format!("{OP_PREFIX}WRITE{suffix}"))
            .copied()
            .unwrap_or(0)
    };
    (get(COUNT_SUFFIX), get(BYTES_SUFFIX))
}

/// WRITE requests seen by a server or sent by a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Number of WRITE requests.
    pub count: u64,
    /// Data bytes they carried.
    pub bytes: u64,
}

impl WriteStats {
    /// From the reference server's statistics, whose `op.WRITE.bytes` is
    /// data only. No WRITE line means no WRITE.
    pub fn from_server(map: &BTreeMap<String, u64>) -> Self {
        let (count, bytes) = write_counters(map);
        Self { count, bytes }
    }

    /// From a fuse-wb connection's `stats`, whose `op.WRITE.bytes`
    /// includes an 80-byte header per request.
    pub fn from_kernel(map: &BTreeMap<String, u64>) -> Self {
        let (count, bytes) = write_counters(map);
        Self {
            count,
            bytes: bytes.saturating_sub(count.saturating_mul(KERNEL_WRITE_HEADER)),
        }
    }

    /// Mean data bytes per WRITE, if there was any.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.bytes as f64 / self.count as f64)
    }
}

/// The `write_size_le.N` histogram: (N, count), N ascending, empty
/// buckets left out.
pub fn histogram(map: &BTreeMap<String, u64>) -> Vec<(u64, u64)> {
    let mut h: Vec<(u64, u64)> = map
        .iter()
        .filter_map(|(k, v)| {
            let n = write_size_bound(k)?;
            (*v > 0).then_some((n, *v))
        })
        .collect();
    h.sort_unstable();
    h
}

/// The system CPU time of all CPUs in `/proc/stat`, in clock ticks
/// (USER_HZ): the sum of the `cpu ` line's system, irq and softirq fields
/// (its 3rd, 6th and 7th numbers). None if there is no such line.
pub fn proc_stat_sys_ticks(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let nums: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let field = |i: usize| nums.get(i).copied();
    Some(field(2)? + field(5)? + field(6)?)
}

/// `/proc/meminfo` to a map of bytes (`Dirty:  123 kB` -> `Dirty` =
/// 125952). Lines without a `kB` unit (HugePages_Total: 0) are counts and
/// kept as they are; lines that do not parse are skipped.
pub fn parse_meminfo(text: &str) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let Some((k, rest)) = line.split_once(':') else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let Some(Ok(v)) = it.next().map(str::parse::<u64>) else {
            continue;
        };
        let v = match it.next() {
            Some("kB") => v.saturating_mul(1024),
            _ => v,
        };
        map.insert(k.trim().to_string(), v);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "requests_total 6\nop.LOOKUP.count 2\nop.LOOKUP.bytes 0\n\
        op.WRITE.count 3\nop.WRITE.bytes 235168\nwrite_size_le.4096 1\nwrite_size_le.131072 2\n";

    #[test]
    fn server_stats() {
        let m = parse_kv(SERVER).unwrap();
        assert_eq!(m["requests_total"], 6);
        let w = WriteStats::from_server(&m);
        assert_eq!(
            w,
            WriteStats {
                count: 3,
                bytes: 235168
            }
        );
        assert!((w.mean().unwrap() - 235168.0 / 3.0).abs() < 1e-9);
        assert_eq!(histogram(&m), vec![(4096, 1), (131072, 2)]);
    }

    #[test]
    fn kernel_stats_subtract_headers() {
        let text = "op.INIT.count 1\nop.INIT.bytes 104\nop.WRITE.count 2\n\
            op.WRITE.bytes 262304\nrequests_total 3\nwrite_size_le.131072 2\n\
            writeback_inflight_bytes 0\ndirty_pages 12\nwriteback_cache 1\n";
        let m = parse_kv(text).unwrap();
        let w = WriteStats::from_kernel(&m);
        assert_eq!(w.count, 2);
        assert_eq!(w.bytes, 262144);
        assert_eq!(m["dirty_pages"], 12);
        assert_eq!(m["writeback_cache"], 1);
    }

    #[test]
    fn no_writes() {
        let m = parse_kv("requests_total 0\n\n").unwrap();
        let w = WriteStats::from_server(&m);
        assert_eq!(w, WriteStats::default());
        assert_eq!(w.mean(), None);
        assert!(histogram(&m).is_empty());
        // A kernel counter smaller than the headers cannot underflow.
        let m = parse_kv("op.WRITE.count 2\nop.WRITE.bytes 10\n").unwrap();
        assert_eq!(WriteStats::from_kernel(&m).bytes, 0);
    }

    #[test]
    fn malformed_lines() {
        assert!(parse_kv("op.WRITE.count\n").unwrap_err().contains("line 1"));
        assert!(parse_kv("a 1\nb x\n").unwrap_err().contains("line 2"));
        assert!(parse_kv("a 1 2\n").is_err());
        assert!(parse_kv("a -1\n").is_err());
    }

    #[test]
    fn proc_stat() {
        let text = "cpu  100 5 30 9000 12 4 6 0 0 0\ncpu0 50 2 15 4500 6 2 3 0 0 0\n\
            intr 1 2 3\nctxt 99\n";
        assert_eq!(proc_stat_sys_ticks(text), Some(30 + 4 + 6));
        // The cpu0 line alone is not the total.
        assert_eq!(proc_stat_sys_ticks("cpu0 1 2 3 4 5 6 7\n"), None);
        assert_eq!(proc_stat_sys_ticks("cpu  1 2 3 4 5\n"), None);
        assert_eq!(proc_stat_sys_ticks("cpu  1 2 x 4 5 6 7\n"), None);
        assert_eq!(proc_stat_sys_ticks(""), None);
    }

    #[test]
    fn inflight_key() {
        let m = parse_kv("op.WRITE.count 4\nserver_writes_inflight_max 3\n").unwrap();
        assert_eq!(m.get(SERVER_WRITES_INFLIGHT_MAX), Some(&3));
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:         499996 kB\nDirty:              1024 kB\n\
            Writeback:             0 kB\nHugePages_Total:       0\nbogus line\n";
        let m = parse_meminfo(text);
        assert_eq!(m["MemTotal"], 499996 * 1024);
        assert_eq!(m["Dirty"], 1 << 20);
        assert_eq!(m["Writeback"], 0);
        assert_eq!(m["HugePages_Total"], 0);
        assert_eq!(m.len(), 4);
    }
}
