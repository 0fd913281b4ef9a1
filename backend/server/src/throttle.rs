//! Refused attempts counted per key (an email, a client address), in memory: the dashboard's
//! sign-in waits longer after each failure beyond a few, so guessing is slow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refused sign-ins per key (an email, a client address), kept in memory: after
/// [`FREE_FAILURES`] the next attempt waits, doubling per failure up to [`MAX_DELAY`].
/// Bounded to [`MAX_KEYS`] keys; a key is forgotten [`FORGET_AFTER`] after its last failure.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

pub const FREE_FAILURES: u32 = 3;
pub const MAX_DELAY: Duration = Duration::from_secs(8);
const FIRST_DELAY: Duration = Duration::from_millis(250);
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 10_000;

impl Throttle {
    /// How long an attempt under `key` waits now.
    pub fn delay(&self, key: &str) -> Duration {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(key) {
            Some((n, at)) if at.elapsed() < FORGET_AFTER => delay_after(*n),
            _ => Duration::ZERO,
        }
    }

    pub fn failed(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
            failures.retain(|_, (_, at)| at.elapsed() < FORGET_AFTER);
            if failures.len() >= MAX_KEYS {
                // Still full of fresh keys: forget the oldest rather than grow.
                if let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures
            .entry(key.to_owned())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = Instant::now();
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// The wait after `failures` refused attempts.
pub fn delay_after(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_are_free_then_the_wait_doubles_up_to_a_bound() {
        assert_eq!(delay_after(0), Duration::ZERO);
        assert_eq!(delay_after(2), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::from_millis(250));
        assert_eq!(delay_after(4), Duration::from_millis(500));
        assert_eq!(delay_after(50), MAX_DELAY);
    }

    #[test]
    fn the_throttle_counts_per_key_and_forgets_on_success() {
        let t = Throttle::default();
        for _ in 0..4 {
            t.failed("email:a@x");
        }
        assert_eq!(t.delay("email:a@x"), Duration::from_millis(500));
        assert_eq!(t.delay("email:b@x"), Duration::ZERO);
        t.succeeded("email:a@x");
        assert_eq!(t.delay("email:a@x"), Duration::ZERO);
    }

    #[test]
    fn the_throttle_stays_bounded() {
        let t = Throttle::default();
        for i in 0..(MAX_KEYS + 50) {
            t.failed(&format!("client:{i}"));
        }
        assert!(t.failures.lock().unwrap().len() <= MAX_KEYS);
    }
}
