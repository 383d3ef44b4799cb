// SPDX-License-Identifier: GPL-2.0

//! Entry and attribute timeouts.

/// Converts a server timeout (`sec`, `nsec`) into a jiffies delta at `hz`.
///
/// Returns `None` for a zero timeout (the value is never cached). Large
/// timeouts saturate instead of overflowing; `nsec` is clamped below one
/// second, as mainline does.
pub(crate) fn timeout_jiffies(sec: u64, nsec: u32, hz: u64) -> Option<u64> {
    if sec == 0 && nsec == 0 {
        return None;
    }
    let nsec = u64::from(nsec.min(999_999_999));
    let from_sec = sec.saturating_mul(hz);
    // Round up so a non-zero timeout is at least one tick.
    let from_nsec = (nsec.saturating_mul(hz)).div_ceil(1_000_000_000);
    Some(from_sec.saturating_add(from_nsec).max(1))
}

/// The absolute expiry time (in jiffies) of a timeout starting at `now`;
/// `0` means "already expired".
pub(crate) fn expiry(now: u64, sec: u64, nsec: u32, hz: u64) -> u64 {
    match timeout_jiffies(sec, nsec, hz) {
        None => 0,
        // Stay below u64::MAX / 2 so jiffies comparisons stay meaningful.
        Some(d) => now.saturating_add(d.min(u64::MAX / 4)),
    }
}

/// Whether an expiry time is still in the future at `now`.
pub(crate) fn is_valid(expiry: u64, now: u64) -> bool {
    expiry != 0 && now < expiry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion() {
        assert_eq!(timeout_jiffies(0, 0, 250), None);
        assert_eq!(timeout_jiffies(1, 0, 250), Some(250));
        assert_eq!(timeout_jiffies(0, 1, 250), Some(1));
        assert_eq!(timeout_jiffies(0, 500_000_000, 1000), Some(500));
        assert_eq!(timeout_jiffies(u64::MAX, u32::MAX, 1000), Some(u64::MAX));
        assert_eq!(expiry(100, 0, 0, 250), 0);
        assert_eq!(expiry(100, 1, 0, 250), 350);
        assert!(expiry(u64::MAX - 5, u64::MAX, 0, 250) >= u64::MAX - 5);
        assert!(is_valid(350, 349));
        assert!(!is_valid(350, 350));
        assert!(!is_valid(0, 0));
    }
}
