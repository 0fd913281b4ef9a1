//! Scaling policies and the periods they apply in, as `hearth-api`'s
//! [`ScalingPolicy`] and [`ScalingPeriod`] (the wire types), made short to write.
//!
//! A pool's policies are an ordered list: at each evaluation the first whose periods
//! contain now applies (a policy without periods always applies); with none, the pool
//! drains to zero.
//!
//! ```
//! use hearth_client::scaling::{self, PolicyExt};
//!
//! let policies = vec![
//!     scaling::fixed(4)
//!         .named("office-hours")
//!         .during(scaling::weekly(&["monday", "tuesday", "wednesday", "thursday", "friday"],
//!                                 "08:00:00", "18:30:00")),
//!     scaling::managed_tasks_queue(0, 8)
//!         .named("rest")
//!         .min_idle_slots(1)
//!         .min_idle_time_seconds(300),
//! ];
//! assert_eq!(policies[0].slots_count, Some(4));
//! assert_eq!(policies[1].kind.as_deref(), Some("ManagedTasksQueue"));
//! ```

use chrono::{DateTime, Utc};
pub use hearth_api::qarnot::pool::{ScalingPeriod, ScalingPolicy};

/// A `Fixed` policy: the pool holds `slots` slots.
///
/// ```
/// let p = hearth_client::scaling::fixed(2);
/// assert_eq!(p.kind.as_deref(), Some("Fixed"));
/// ```
pub fn fixed(slots: u32) -> ScalingPolicy {
    ScalingPolicy {
        kind: Some("Fixed".into()),
        slots_count: Some(i64::from(slots)),
        ..ScalingPolicy::default()
    }
}

/// A `ManagedTasksQueue` policy: the pool follows its queue between `min_total_slots` and
/// `max_total_slots` (`busy + queued + minIdleSlots`, clamped).
///
/// ```
/// let p = hearth_client::scaling::managed_tasks_queue(0, 16);
/// assert_eq!(p.max_total_slots, Some(16));
/// ```
pub fn managed_tasks_queue(min_total_slots: u32, max_total_slots: u32) -> ScalingPolicy {
    ScalingPolicy {
        kind: Some("ManagedTasksQueue".into()),
        min_total_slots: Some(i64::from(min_total_slots)),
        max_total_slots: Some(i64::from(max_total_slots)),
        ..ScalingPolicy::default()
    }
}

/// A period that always contains now.
///
/// ```
/// let p = hearth_client::scaling::always();
/// assert_eq!(p.kind.as_deref(), Some("Always"));
/// ```
pub fn always() -> ScalingPeriod {
    ScalingPeriod {
        kind: Some("Always".into()),
        ..ScalingPeriod::default()
    }
}

/// A weekly window: on `days` (`monday` … `sunday`) from `start` to `end` (`HH:MM:SS`,
/// UTC; start included, end excluded; an end before the start runs across midnight).
///
/// ```
/// let p = hearth_client::scaling::weekly(&["saturday", "sunday"], "00:00:00", "23:59:59");
/// assert_eq!(p.days.as_ref().map(Vec::len), Some(2));
/// ```
pub fn weekly(days: &[&str], start: &str, end: &str) -> ScalingPeriod {
    ScalingPeriod {
        kind: Some("Weekly".into()),
        days: Some(days.iter().map(|d| d.to_string()).collect()),
        start_time_utc: Some(start.to_owned()),
        end_time_utc: Some(end.to_owned()),
        ..ScalingPeriod::default()
    }
}

/// A one-off window `[from, to)` (hearth's extension).
///
/// ```
/// use chrono::{TimeZone, Utc};
///
/// let p = hearth_client::scaling::date_range(
///     Utc.with_ymd_and_hms(2026, 12, 24, 0, 0, 0).unwrap(),
///     Utc.with_ymd_and_hms(2026, 12, 27, 0, 0, 0).unwrap(),
/// );
/// assert_eq!(p.kind.as_deref(), Some("DateRange"));
/// ```
pub fn date_range(from: DateTime<Utc>, to: DateTime<Utc>) -> ScalingPeriod {
    ScalingPeriod {
        kind: Some("DateRange".into()),
        from: Some(from),
        to: Some(to),
        ..ScalingPeriod::default()
    }
}

/// Settings of a [`ScalingPolicy`] written in a chain.
///
/// ```
/// use hearth_client::scaling::{self, PolicyExt};
///
/// let p = scaling::managed_tasks_queue(1, 10).named("burst").scaling_factor(0.5);
/// assert_eq!(p.name.as_deref(), Some("burst"));
/// ```
pub trait PolicyExt: Sized {
    /// Its name (shown as the pool's `activePolicyName`).
    ///
    /// ```
    /// use hearth_client::scaling::{self, PolicyExt};
    /// assert_eq!(scaling::fixed(1).named("n").name.as_deref(), Some("n"));
    /// ```
    fn named(self, name: impl Into<String>) -> Self;

    /// Adds a period it applies in (without any, it always applies).
    ///
    /// ```
    /// use hearth_client::scaling::{self, PolicyExt};
    /// let p = scaling::fixed(1).during(scaling::always());
    /// assert_eq!(p.enabled_periods.len(), 1);
    /// ```
    fn during(self, period: ScalingPeriod) -> Self;

    /// `ManagedTasksQueue`: idle slots to keep ready beyond the queue.
    ///
    /// ```
    /// use hearth_client::scaling::{self, PolicyExt};
    /// assert_eq!(scaling::managed_tasks_queue(0, 4).min_idle_slots(1).min_idle_slots, Some(1));
    /// ```
    fn min_idle_slots(self, slots: u32) -> Self;

    /// `ManagedTasksQueue`: how long a node's slots must all be idle before it is removed.
    ///
    /// ```
    /// use hearth_client::scaling::{self, PolicyExt};
    /// let p = scaling::managed_tasks_queue(0, 4).min_idle_time_seconds(60);
    /// assert_eq!(p.min_idle_time_seconds, Some(60));
    /// ```
    fn min_idle_time_seconds(self, seconds: u32) -> Self;

    /// `ManagedTasksQueue`: the share of the missing slots added per period (0 to 1].
    ///
    /// ```
    /// use hearth_client::scaling::{self, PolicyExt};
    /// let p = scaling::managed_tasks_queue(0, 4).scaling_factor(0.25);
    /// assert_eq!(p.scaling_factor, Some(0.25));
    /// ```
    fn scaling_factor(self, factor: f64) -> Self;
}

impl PolicyExt for ScalingPolicy {
    fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn during(mut self, period: ScalingPeriod) -> Self {
        self.enabled_periods.push(period);
        self
    }

    fn min_idle_slots(mut self, slots: u32) -> Self {
        self.min_idle_slots = Some(i64::from(slots));
        self
    }

    fn min_idle_time_seconds(mut self, seconds: u32) -> Self {
        self.min_idle_time_seconds = Some(i64::from(seconds));
        self
    }

    fn scaling_factor(mut self, factor: f64) -> Self {
        self.scaling_factor = Some(factor);
        self
    }
}
