//! The pseudo-random numbers and the data pattern: no dependencies, and the
//! same seed gives the same numbers on every machine.

/// The splitmix64 finalizer of `z` plus the golden-ratio increment: a good
/// 64-bit mix, used to derive independent seeds.
pub fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xorshift64*: small, fast, good enough to choose operations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose state is derived from `seed` (never zero).
    pub fn new(seed: u64) -> Self {
        let s = mix(seed);
        Self(if s == 0 { 0x2545_f491_4f6c_dd1d } else { s })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// Fills `buf` with the data of operation `op` of a run with seed `seed`.
/// No byte is zero, so data that went missing and reads back as a hole or
/// a zeroed page is always noticed, even for a one-byte write.
pub fn fill_pattern(seed: u64, op: u64, buf: &mut [u8]) {
    let mut r = Rng::new(seed ^ mix(op ^ 0x5eed_0f0b_da7a_0000));
    for chunk in buf.chunks_mut(8) {
        let v = (r.next_u64() | 0x0101_0101_0101_0101).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        let mut r = Rng::new(0);
        for _ in 0..1000 {
            assert!(r.below(10) < 10);
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn pattern() {
        let (mut x, mut y, mut z) = (vec![0u8; 1001], vec![0u8; 1001], vec![0u8; 1001]);
        fill_pattern(1, 2, &mut x);
        fill_pattern(1, 2, &mut y);
        fill_pattern(1, 3, &mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert!(x.iter().all(|b| *b != 0));
        // A shorter buffer is a prefix of the longer one.
        let mut p = vec![0u8; 13];
        fill_pattern(1, 2, &mut p);
        assert_eq!(p[..], x[..13]);
    }
}
