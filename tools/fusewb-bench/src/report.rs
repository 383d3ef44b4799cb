//! Aligned text tables, number formatting and the per-run TSV files.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A text table: a header line, a rule, then one line per row; columns
/// are padded to their widest cell and separated by two spaces.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text, every line ending in a newline, no trailing blanks.
    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| width(&r[c]))
                    .chain(std::iter::once(width(&self.headers[c])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let mut out = String::new();
            for (c, cell) in cells.iter().enumerate() {
                if c > 0 {
                    out.push_str("  ");
                }
                let pad = " ".repeat(widths[c] - width(cell));
                match self.aligns[c] {
                    Align::Left => {
                        out.push_str(cell);
                        out.push_str(&pad);
                    }
                    Align::Right => {
                        out.push_str(&pad);
                        out.push_str(cell);
                    }
                }
            }
            let mut out = out.trim_end().to_string();
            out.push('\n');
            out
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// Seconds with three decimals.
pub fn secs(s: f64) -> String {
    format!("{s:.3}")
}

/// Throughput in MB/s (10^6 bytes per second), one decimal; "-" for a
/// zero or negative time.
pub fn mb_per_s(bytes: u64, secs: f64) -> String {
    if secs > 0.0 {
        format!("{:.1}", bytes as f64 / 1e6 / secs)
    } else {
        "-".to_string()
    }
}

/// A byte count in KiB with one decimal.
pub fn kib(bytes: f64) -> String {
    format!("{:.1}", bytes / 1024.0)
}

/// A byte count in MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 20) as f64)
}

/// A power-of-two size as 512, 4K, 128K, 1M, 2G (exact units only,
/// otherwise the plain number).
pub fn size_label(n: u64) -> String {
    for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// A WRITE-size histogram as `<=4K:65536 <=128K:2`.
pub fn histogram(h: &[(u64, u64)]) -> String {
    let parts: Vec<String> = h
        .iter()
        .map(|(n, c)| format!("<={}:{c}", size_label(*n)))
        .collect();
    parts.join(" ")
}

/// A list as `a, b, c`.
pub fn joined<T: ToString>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The TSV file next to the report `out`: `bench-seed.txt` ->
/// `bench-seed.tsv` (`x.tsv` -> `x.tsv.runs.tsv`, never the report itself).
pub fn tsv_path(out: &Path) -> PathBuf {
    let p = out.with_extension("tsv");
    if p == out {
        let mut name = out.as_os_str().to_owned();
        name.push(".runs.tsv");
        PathBuf::from(name)
    } else {
        p
    }
}

/// A TSV file of runs, written one line at a time so that an interrupted
/// benchmark leaves the runs done.
pub struct TsvFile {
    path: PathBuf,
    file: File,
}

impl TsvFile {
    /// Creates `path` with the `header` line (ending in a newline).
    pub fn create(path: &Path, header: &str) -> Result<TsvFile, String> {
        let file =
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut t = TsvFile {
            path: path.to_path_buf(),
            file,
        };
        t.append(header)?;
        Ok(t)
    }

    /// Appends `text` (whole lines).
    pub fn append(&mut self, text: &str) -> Result<(), String> {
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_table() {
        let mut t = Table::new(&[
            ("name", Align::Left),
            ("MB/s", Align::Right),
            ("note", Align::Left),
        ]);
        t.push(vec!["raw".into(), "1234.5".into(), "".into()]);
        t.push(vec!["fuse-wb write-back".into(), "7.0".into(), "x".into()]);
        t.push(vec!["short".into()]);
        assert_eq!(
            t.render(),
            "name                  MB/s  note\n\
             ------------------  ------  ----\n\
             raw                 1234.5\n\
             fuse-wb write-back     7.0  x\n\
             short\n"
        );
    }

    #[test]
    fn wide_header_and_unicode() {
        let mut t = Table::new(&[("a long header", Align::Right), ("µs", Align::Left)]);
        t.push(vec!["1".into(), "µµµ".into(), "dropped".into()]);
        assert_eq!(
            t.render(),
            "a long header  µs\n-------------  ---\n            1  µµµ\n"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(secs(1.0005), "1.000");
        assert_eq!(secs(12.3456), "12.346");
        assert_eq!(mb_per_s(1 << 30, 10.0), "107.4");
        assert_eq!(mb_per_s(5, 0.0), "-");
        assert_eq!(kib(131072.0), "128.0");
        assert_eq!(kib(4096.0 * 1.5), "6.0");
        assert_eq!(mib(3 << 19), "1.5");
        assert_eq!(size_label(512), "512");
        assert_eq!(size_label(4096), "4K");
        assert_eq!(size_label(1 << 20), "1M");
        assert_eq!(size_label(3 << 30), "3G");
        assert_eq!(size_label(1536), "1536");
        assert_eq!(histogram(&[(4096, 3), (1 << 20, 1)]), "<=4K:3 <=1M:1");
        assert_eq!(histogram(&[]), "");
        assert_eq!(joined([0u64, 1000, 5000]), "0, 1000, 5000");
        assert_eq!(joined(Vec::<u32>::new()), "");
    }

    #[test]
    fn tsv_next_to_report() {
        assert_eq!(
            tsv_path(Path::new("/o/bench-seed.txt")),
            Path::new("/o/bench-seed.tsv")
        );
        assert_eq!(tsv_path(Path::new("/o/r")), Path::new("/o/r.tsv"));
        assert_eq!(
            tsv_path(Path::new("/o/r.tsv")),
            Path::new("/o/r.tsv.runs.tsv")
        );
    }
}
