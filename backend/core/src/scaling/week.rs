//! A policy's weekly periods as the minutes of one week they enable, and back: what the
//! dashboard's week grid draws and edits. Date ranges are not weekly and stay apart.

use chrono::{NaiveTime, Timelike, Weekday};

use super::period::Period;

const DAY: usize = 24 * 60;
const WEEK: usize = 7 * DAY;
const DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Which minutes of a week (Monday 00:00 UTC first) are enabled.
#[derive(Clone, PartialEq, Eq)]
pub struct WeekMinutes {
    on: Vec<bool>,
}

impl std::fmt::Debug for WeekMinutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WeekMinutes({} of {WEEK} on)", self.count())
    }
}

fn minute_of(t: NaiveTime) -> usize {
    (t.hour() * 60 + t.minute()) as usize
}

fn day_index(d: Weekday) -> usize {
    d.num_days_from_monday() as usize
}

impl WeekMinutes {
    pub fn empty() -> WeekMinutes {
        WeekMinutes {
            on: vec![false; WEEK],
        }
    }

    pub fn full() -> WeekMinutes {
        WeekMinutes {
            on: vec![true; WEEK],
        }
    }

    /// The minutes `periods` enable in every week: their weekly windows, or the whole week
    /// when one is `Always` or when there are none (a policy without periods is always
    /// enabled). Date ranges are left out. Seconds are dropped.
    pub fn of(periods: &[Period]) -> WeekMinutes {
        if periods.is_empty() {
            return WeekMinutes::full();
        }
        let mut week = WeekMinutes::empty();
        for period in periods {
            match period {
                Period::Always { .. } => return WeekMinutes::full(),
                Period::DateRange { .. } => {}
                Period::Weekly {
                    days, start, end, ..
                } => {
                    let (start, end) = (minute_of(*start), minute_of(*end));
                    // A window ending at or before its start runs into the next day.
                    let length = if start < end {
                        end - start
                    } else {
                        DAY - start + end
                    };
                    for day in days {
                        let from = day_index(*day) * DAY + start;
                        for m in from..from + length {
                            week.on[m % WEEK] = true;
                        }
                    }
                }
            }
        }
        week
    }

    pub fn count(&self) -> usize {
        self.on.iter().filter(|m| **m).count()
    }

    pub fn is_full(&self) -> bool {
        self.on.iter().all(|m| *m)
    }

    pub fn is_empty(&self) -> bool {
        !self.on.iter().any(|m| *m)
    }

    /// Enabled minutes of hour `hour` (0..24) of `day` (0: Monday).
    pub fn minutes_on(&self, day: usize, hour: usize) -> usize {
        let from = (day % 7) * DAY + (hour % 24) * 60;
        self.on[from..from + 60].iter().filter(|m| **m).count()
    }

    /// Switches hours `from_hour..to_hour` (at most 24) of `day` on or off.
    pub fn set_hours(&mut self, day: usize, from_hour: usize, to_hour: usize, on: bool) {
        let base = (day % 7) * DAY;
        for m in base + from_hour.min(24) * 60..base + to_hour.min(24) * 60 {
            self.on[m] = on;
        }
    }

    /// Weekly periods enabling exactly these minutes: each day's runs of enabled minutes,
    /// and the days sharing a run's start and end as one period, earliest start first.
    /// A run reaching midnight ends at 00:00 (a whole day is 00:00–00:00).
    pub fn to_periods(&self) -> Vec<Period> {
        let mut windows: Vec<((usize, usize), Vec<Weekday>)> = Vec::new();
        for (i, day) in DAYS.iter().enumerate() {
            let minutes = &self.on[i * DAY..(i + 1) * DAY];
            let mut m = 0;
            while m < DAY {
                if !minutes[m] {
                    m += 1;
                    continue;
                }
                let start = m;
                while m < DAY && minutes[m] {
                    m += 1;
                }
                let key = (start, m);
                match windows.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, days)) => days.push(*day),
                    None => windows.push((key, vec![*day])),
                }
            }
        }
        windows.sort_by_key(|((start, end), days)| (*start, *end, day_index(days[0])));
        let time = |m: usize| {
            NaiveTime::from_hms_opt((m / 60 % 24) as u32, (m % 60) as u32, 0).expect("a time")
        };
        windows
            .into_iter()
            .map(|((start, end), days)| Period::Weekly {
                name: None,
                days,
                start: time(start),
                end: time(end % DAY),
            })
            .collect()
    }
}

/// Why a policy's periods cannot be edited that way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeekEditRefusal {
    /// The policy would never be enabled.
    NeverEnabled,
}

impl std::fmt::Display for WeekEditRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeekEditRefusal::NeverEnabled => {
                f.write_str("would never be enabled: keep at least one hour, or remove the policy")
            }
        }
    }
}

/// `periods` with hours `from_hour..to_hour` of `day` switched on or off: the weekly ones
/// rewritten from their minutes, the date ranges kept as they are. A week that ends up
/// fully enabled needs no period at all.
pub fn edit_week(
    periods: &[Period],
    day: usize,
    from_hour: usize,
    to_hour: usize,
    on: bool,
) -> Result<Vec<Period>, WeekEditRefusal> {
    let mut week = WeekMinutes::of(periods);
    week.set_hours(day, from_hour, to_hour, on);
    let ranges: Vec<Period> = periods
        .iter()
        .filter(|p| matches!(p, Period::DateRange { .. }))
        .cloned()
        .collect();
    if week.is_full() {
        return Ok(Vec::new());
    }
    if week.is_empty() && ranges.is_empty() {
        return Err(WeekEditRefusal::NeverEnabled);
    }
    let mut out = week.to_periods();
    out.extend(ranges);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc};

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn weekly(days: &[Weekday], start: NaiveTime, end: NaiveTime) -> Period {
        Period::Weekly {
            name: None,
            days: days.to_vec(),
            start,
            end,
        }
    }

    /// Every minute of a reference week agrees with `Period::contains`.
    fn agrees(periods: &[Period], week: &WeekMinutes) {
        // 2024-01-01 is a Monday.
        let monday = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(monday.weekday(), Weekday::Mon);
        for m in 0..WEEK {
            let at = monday + chrono::Duration::minutes(m as i64);
            let enabled = periods.is_empty() || periods.iter().any(|p| p.contains(at));
            assert_eq!(week.on[m], enabled, "minute {m} ({at})");
        }
    }

    #[test]
    fn minutes_match_the_periods_own_rule() {
        let cases = vec![
            vec![],
            vec![weekly(&[Weekday::Mon, Weekday::Wed], t(9, 0), t(17, 30))],
            vec![weekly(&[Weekday::Sun], t(22, 0), t(6, 0))],
            vec![weekly(&[Weekday::Fri], t(8, 0), t(8, 0))],
            vec![
                weekly(&[Weekday::Tue], t(0, 0), t(1, 0)),
                weekly(&[Weekday::Tue], t(23, 0), t(0, 0)),
            ],
        ];
        for periods in cases {
            let week = WeekMinutes::of(&periods);
            agrees(&periods, &week);
            // And back: the rewritten periods enable the same minutes.
            let again = week.to_periods();
            if week.is_full() {
                continue;
            }
            agrees(&again, &WeekMinutes::of(&again));
            assert_eq!(WeekMinutes::of(&again), week);
        }
    }

    #[test]
    fn days_sharing_a_window_become_one_period() {
        let mut week = WeekMinutes::empty();
        for day in 0..5 {
            week.set_hours(day, 9, 17, true);
        }
        week.set_hours(5, 20, 24, true);
        let periods = week.to_periods();
        assert_eq!(
            periods,
            vec![
                weekly(
                    &[
                        Weekday::Mon,
                        Weekday::Tue,
                        Weekday::Wed,
                        Weekday::Thu,
                        Weekday::Fri
                    ],
                    t(9, 0),
                    t(17, 0)
                ),
                weekly(&[Weekday::Sat], t(20, 0), t(0, 0)),
            ]
        );
        assert_eq!(week.minutes_on(5, 23), 60);
        assert_eq!(
            week.minutes_on(6, 0),
            0,
            "Saturday's window ends at midnight"
        );
    }

    #[test]
    fn editing_switches_hours_and_keeps_date_ranges() {
        let office = vec![weekly(&[Weekday::Mon], t(9, 0), t(12, 0))];
        let wider = edit_week(&office, 0, 12, 14, true).unwrap();
        assert_eq!(wider, vec![weekly(&[Weekday::Mon], t(9, 0), t(14, 0))]);
        let split = edit_week(&wider, 0, 10, 11, false).unwrap();
        assert_eq!(
            split,
            vec![
                weekly(&[Weekday::Mon], t(9, 0), t(10, 0)),
                weekly(&[Weekday::Mon], t(11, 0), t(14, 0)),
            ]
        );
        // Switching off an always-enabled policy's hour leaves the rest of the week.
        let most = edit_week(&[], 2, 3, 4, false).unwrap();
        let week = WeekMinutes::of(&most);
        assert_eq!(week.count(), WEEK - 60);
        assert_eq!(week.minutes_on(2, 3), 0);
        // The whole week on again: no period needed.
        assert_eq!(edit_week(&most, 2, 3, 4, true).unwrap(), vec![]);
        // Never enabled is refused, unless a date range still enables it.
        assert_eq!(
            edit_week(&office, 0, 0, 24, false),
            Err(WeekEditRefusal::NeverEnabled)
        );
        let range = Period::DateRange {
            name: None,
            from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        };
        let only_range = edit_week(&[office[0].clone(), range.clone()], 0, 0, 24, false).unwrap();
        assert_eq!(only_range, vec![range]);
    }

    #[test]
    fn partial_hours_are_counted() {
        let week = WeekMinutes::of(&[weekly(&[Weekday::Thu], t(9, 30), t(10, 15))]);
        assert_eq!(week.minutes_on(3, 9), 30);
        assert_eq!(week.minutes_on(3, 10), 15);
        assert_eq!(week.minutes_on(3, 11), 0);
    }
}
