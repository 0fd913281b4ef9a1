//! Time as a dependency: the domain never reads the system clock itself, so scaling
//! and state-machine tests can stand at any instant (midnight, a window's last second).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// Seconds from `from` to `to`, never negative (an injected clock may stand behind).
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).to_std().map_or(0.0, |d| d.as_secs_f64())
}

/// The real wall clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Clones share the same instant, so a test
/// can hold one clone and hand another to the code under test.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(t: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(t)),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.lock() = t;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.lock();
        *now += by;
    }

    // A panic while holding the lock cannot leave a half-written DateTime behind,
    // so a poisoned lock is still safe to use.
    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_clones_share_one_instant() {
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::new(t0);
        let seen_by_code: Arc<dyn Clock> = Arc::new(clock.clone());
        clock.advance(chrono::Duration::seconds(90));
        assert_eq!(seen_by_code.now(), t0 + chrono::Duration::seconds(90));
        let t1 = Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0).unwrap();
        clock.set(t1);
        assert_eq!(seen_by_code.now(), t1);
    }

    #[test]
    fn system_clock_moves_forward() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(b >= a);
    }
}
