//! Request statistics: per-opcode counts and bytes, and a histogram of WRITE
//! sizes in power-of-two buckets, written as `key value` lines in the format
//! `fusewb_proto::stats` defines (the module's own, `rust/proto/stats.rs`).

use fusewb_proto::stats::{bucket, write_hist, write_line, write_op, write_total, BUCKETS};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Counters kept by the server while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Opcode name (`WRITE`, `LOOKUP`, ...) to (requests, payload bytes).
    ops: BTreeMap<&'static str, (u64, u64)>,
    /// `write_hist[k]` counts WRITEs whose size has bucket `k` (see
    /// `fusewb_proto::stats::bucket`).
    write_hist: [u64; BUCKETS],
    /// WRITEs being served now (between `record_write` and `write_done`).
    writes_in_flight: u64,
    /// The most WRITEs served at once.
    writes_in_flight_max: u64,
}

/// The key of the most WRITEs the server had at once.
pub const WRITES_IN_FLIGHT_MAX: &str = "server_writes_inflight_max";

impl Default for Stats {
    fn default() -> Self {
        Self {
            ops: BTreeMap::new(),
            write_hist: [0; BUCKETS],
            writes_in_flight: 0,
            writes_in_flight_max: 0,
        }
    }
}

impl Stats {
    /// Records one request of `op` carrying `bytes` of payload (data written,
    /// data read, ...; 0 for requests without a data payload).
    pub fn record(&mut self, op: &'static str, bytes: u64) {
        let e = self.ops.entry(op).or_insert((0, 0));
        e.0 += 1;
        e.1 += bytes;
    }

    /// Records one WRITE of `size` bytes (its opcode entry and its bucket)
    /// that starts being served; `write_done` ends it.
    pub fn record_write(&mut self, size: u64) {
        self.record("WRITE", size);
        self.write_hist[bucket(size)] += 1;
        self.writes_in_flight += 1;
        self.writes_in_flight_max = self.writes_in_flight_max.max(self.writes_in_flight);
    }

    /// A WRITE recorded by `record_write` was answered.
    pub fn write_done(&mut self) {
        self.writes_in_flight = self.writes_in_flight.saturating_sub(1);
    }

    /// The statistics as text, one `key value` line each:
    ///
    /// ```text
    /// requests_total 12
    /// op.LOOKUP.count 3
    /// op.LOOKUP.bytes 0
    /// op.WRITE.count 2
    /// op.WRITE.bytes 135168
    /// write_size_le.4096 1
    /// write_size_le.131072 1
    /// ```
    ///
    /// `write_size_le.N` counts WRITEs of more than N/2 and at most N bytes
    /// (N = 1 for sizes 0 and 1); empty buckets are left out. After WRITEs,
    /// `server_writes_inflight_max N`: the most served at once.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let total: u64 = self.ops.values().map(|v| v.0).sum();
        // Writing to a String cannot fail.
        let _ = write_total(&mut out, total);
        for (op, (count, bytes)) in &self.ops {
            let _ = write_op(&mut out, op, *count, *bytes);
        }
        let _ = write_hist(&mut out, &self.write_hist);
        if self.writes_in_flight_max > 0 {
            let _ = write_line(
                &mut out,
                format_args!("{WRITES_IN_FLIGHT_MAX}"),
                self.writes_in_flight_max,
            );
        }
        out
    }
}

/// Writes `text` to `path` atomically (temporary file, rename), so that a
/// reader never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_upper_bounds() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2), 1);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(4), 2);
        assert_eq!(bucket(4095), 12);
        assert_eq!(bucket(4096), 12);
        assert_eq!(bucket(4097), 13);
        assert_eq!(bucket(1 << 20), 20);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn render_format() {
        let mut s = Stats::default();
        assert_eq!(s.render(), "requests_total 0\n");
        s.record("LOOKUP", 0);
        s.record("LOOKUP", 0);
        s.record_write(4096);
        s.record_write(131072);
        s.record_write(100_000);
        s.record("READ", 10);
        assert_eq!(
            s.render(),
            "requests_total 6\n\
             op.LOOKUP.count 2\n\
             op.LOOKUP.bytes 0\n\
             op.READ.count 1\n\
             op.READ.bytes 10\n\
             op.WRITE.count 3\n\
             op.WRITE.bytes 235168\n\
             write_size_le.4096 1\n\
             write_size_le.131072 2\n\
             server_writes_inflight_max 3\n"
        );
        s.write_done();
        s.write_done();
        s.record_write(1);
        assert!(s.render().ends_with("server_writes_inflight_max 3\n"));
    }

    #[test]
    fn write_to_file() {
        let dir = std::env::temp_dir().join(format!("refserver-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stats");
        let mut s = Stats::default();
        s.record_write(1);
        write_atomically(&path, &s.render()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("write_size_le.1 1\n"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
