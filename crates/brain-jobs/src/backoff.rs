//! Retry delays: exponential, capped, with jitter so that jobs failing together (a remote that
//! went away) do not all come back at the same instant.

use std::time::{SystemTime, UNIX_EPOCH};

/// Delay before attempt `attempt + 1`, after `attempt` failures (1-based): `base * 2^(attempt-1)`
/// capped at `max`, then scaled by a random factor in [0.75, 1.25).
pub fn delay_ms(attempt: u32, base_ms: i64, max_ms: i64) -> i64 {
    let exp = attempt.saturating_sub(1).min(30);
    let raw = base_ms.saturating_mul(1i64 << exp).min(max_ms);
    let jitter = 0.75 + 0.5 * unit_random();
    (raw as f64 * jitter) as i64
}

/// A number in [0, 1) from the clock's nanoseconds and a counter, mixed (splitmix64): jitter
/// needs spread, not cryptographic quality, and this avoids a dependency.
fn unit_random() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_caps() {
        for attempt in 1..=6 {
            let raw = 1000i64 << (attempt - 1);
            for _ in 0..50 {
                let d = delay_ms(attempt, 1000, 3_600_000);
                assert!(
                    d >= raw * 3 / 4 && d < raw * 5 / 4,
                    "attempt {attempt}: {d}"
                );
            }
        }
        for _ in 0..50 {
            assert!(delay_ms(40, 1000, 60_000) < 75_000);
        }
        let spread: std::collections::HashSet<i64> =
            (0..50).map(|_| delay_ms(3, 1000, 60_000)).collect();
        assert!(spread.len() > 10, "jitter spreads retries");
    }
}
