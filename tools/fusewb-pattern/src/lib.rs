//! `fusewb-pattern`: a deterministic data pattern, cheap to generate (memcpy
//! speed, which matters under QEMU TCG), different in every 4 KiB page, so
//! that a lost, misplaced or zeroed page is caught when the written file is
//! compared with the pattern. `fusewb-bench` writes it; a file written with
//! it is checked either by [`Pattern::verify_file`] or, without storing the
//! data at all, by `fusewb-refserver --sink-pattern SEED`, which compares
//! every WRITE with [`Pattern::fill`] at the WRITE's offset.
//!
//! Page `p` of the stream is a copy of one of [`BASE_PAGES`] pseudo-random
//! pages (`p % BASE_PAGES`) whose first 16 bytes are replaced by
//! `(p ^ seed)` and `seed` (little endian).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

/// Page size of the pattern.
pub const PAGE: usize = 4096;
/// Number of distinct pseudo-random pages (prime: no alignment with powers of two).
pub const BASE_PAGES: usize = 251;

/// The pattern for one seed.
pub struct Pattern {
    seed: u64,
    base: Vec<u8>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Pattern {
    /// The pattern with this seed.
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut base = Vec::with_capacity(BASE_PAGES * PAGE);
        while base.len() < BASE_PAGES * PAGE {
            base.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Self { seed, base }
    }

    /// The full content of page `p`.
    fn page(&self, p: u64, out: &mut [u8; PAGE]) {
        // CAST: the remainder is below BASE_PAGES.
        let i = (p % BASE_PAGES as u64) as usize * PAGE;
        out.copy_from_slice(&self.base[i..i + PAGE]);
        out[..8].copy_from_slice(&(p ^ self.seed).to_le_bytes());
        out[8..16].copy_from_slice(&self.seed.to_le_bytes());
    }

    /// Fills `buf` with the stream's bytes at `offset..offset + buf.len()`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut tmp = [0u8; PAGE];
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let p = pos / PAGE as u64;
            // CAST: below PAGE.
            let in_page = (pos % PAGE as u64) as usize;
            let n = (PAGE - in_page).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            if n == PAGE {
                // A whole page: copy it straight from the base, then stamp it.
                // CAST: the remainder is below BASE_PAGES.
                let i = (p % BASE_PAGES as u64) as usize * PAGE;
                dst.copy_from_slice(&self.base[i..i + PAGE]);
                dst[..8].copy_from_slice(&(p ^ self.seed).to_le_bytes());
                dst[8..16].copy_from_slice(&self.seed.to_le_bytes());
            } else {
                self.page(p, &mut tmp);
                dst.copy_from_slice(&tmp[in_page..in_page + n]);
            }
            done += n;
        }
    }

    /// Writes the first `len` bytes of the stream to `path` (created or
    /// truncated), in chunks of `chunk` bytes; `progress` is called with
    /// the bytes written so far after every chunk.
    pub fn write_file(
        &self,
        path: &Path,
        len: u64,
        chunk: usize,
        mut progress: impl FnMut(u64),
    ) -> Result<(), String> {
        let mut f =
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut buf = vec![0u8; chunk.max(1)];
        let mut off = 0u64;
        while off < len {
            // CAST: bounded by the buffer length.
            let n = (len - off).min(buf.len() as u64) as usize;
            self.fill(off, &mut buf[..n]);
            f.write_all(&buf[..n])
                .map_err(|e| format!("writing {} at offset {off}: {e}", path.display()))?;
            off += n as u64;
            progress(off);
        }
        Ok(())
    }

    /// Checks that `path` holds exactly the first `len` bytes of the
    /// stream. `progress` is called with the bytes checked so far after
    /// every MiB. The error names the first differing offset.
    pub fn verify_file(
        &self,
        path: &Path,
        len: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(), String> {
        let mut f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let size = f
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        if size != len {
            return Err(format!(
                "{} has {size} bytes, expected {len}",
                path.display()
            ));
        }
        const CHUNK: usize = 1 << 20;
        let mut got = vec![0u8; CHUNK];
        let mut want = vec![0u8; CHUNK];
        let mut off = 0u64;
        while off < len {
            // CAST: bounded by CHUNK.
            let n = (len - off).min(CHUNK as u64) as usize;
            f.read_exact(&mut got[..n])
                .map_err(|e| format!("reading {} at offset {off}: {e}", path.display()))?;
            self.fill(off, &mut want[..n]);
            if got[..n] != want[..n] {
                let i = got[..n]
                    .iter()
                    .zip(&want[..n])
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                let bad = off + i as u64;
                let zero_page = {
                    let ps = i - i % PAGE;
                    let pe = (ps + PAGE).min(n);
                    got[ps..pe].iter().all(|b| *b == 0)
                };
                return Err(format!(
                    "{}: data differs from what was written at offset {bad} (page {}){}",
                    path.display(),
                    bad / PAGE as u64,
                    if zero_page {
                        "; that page reads as zeros"
                    } else {
                        ""
                    }
                ));
            }
            off += n as u64;
            progress(off);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(p: &Pattern, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        p.fill(0, &mut v);
        v
    }

    #[test]
    fn deterministic_and_seeded() {
        let a = Pattern::new(1);
        let b = Pattern::new(1);
        let c = Pattern::new(2);
        assert_eq!(stream(&a, 3 * PAGE), stream(&b, 3 * PAGE));
        assert_ne!(stream(&a, 3 * PAGE), stream(&c, 3 * PAGE));
    }

    #[test]
    fn unaligned_fill_matches_stream() {
        let p = Pattern::new(7);
        let all = stream(&p, (BASE_PAGES + 3) * PAGE);
        for (off, len) in [
            (0, 1),
            (1, 5000),
            (4095, 2),
            (PAGE * 250 + 17, 9000),
            (123, 0),
        ] {
            let mut part = vec![0u8; len];
            p.fill(off as u64, &mut part);
            assert_eq!(part, all[off..off + len], "offset {off} len {len}");
        }
    }

    #[test]
    fn every_page_differs() {
        let p = Pattern::new(3);
        let all = stream(&p, (BASE_PAGES + 1) * PAGE);
        let first = &all[..PAGE];
        let wrapped = &all[BASE_PAGES * PAGE..];
        // Same base page, different stamp.
        assert_ne!(first, wrapped);
        assert_eq!(first[16..], wrapped[16..]);
        assert!(all.chunks(PAGE).all(|pg| pg.iter().any(|b| *b != 0)));
    }

    #[test]
    fn write_then_verify() {
        let dir = std::env::temp_dir().join(format!("fusewb-pattern-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let p = Pattern::new(9);
        let len = 3 * (1 << 20) + 12345;
        let mut calls = 0;
        p.write_file(&path, len, 128 << 10, |_| calls += 1).unwrap();
        assert!(calls > 20);
        p.verify_file(&path, len, |_| {}).unwrap();
        // Wrong length.
        let e = p.verify_file(&path, len - 1, |_| {}).unwrap_err();
        assert!(e.contains("expected"), "{e}");
        // A zeroed page in the middle.
        {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&[0u8; PAGE], (1 << 20) + PAGE as u64)
                .unwrap();
        }
        let e = p.verify_file(&path, len, |_| {}).unwrap_err();
        assert!(e.contains("offset 1052672") && e.contains("zeros"), "{e}");
        // Another seed's data.
        let e = Pattern::new(10)
            .verify_file(&path, len, |_| {})
            .unwrap_err();
        assert!(e.contains("offset 0"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
