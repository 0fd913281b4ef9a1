//! When a scaling policy is enabled. All times are UTC.

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Period {
    Always {
        name: Option<String>,
    },
    /// Every listed day from `start` (inclusive) to `end` (exclusive).
    ///
    /// When `end` is before `start` the window runs across midnight: it opens on a
    /// listed day and closes on the next day. When `end` equals `start` the window
    /// lasts a whole 24 hours from `start` (so `00:00–00:00` means "all day"), since
    /// an empty window that can never be enabled is no use to anyone.
    Weekly {
        name: Option<String>,
        days: Vec<Weekday>,
        start: NaiveTime,
        end: NaiveTime,
    },
    /// One-off window, `from` inclusive, `to` exclusive.
    DateRange {
        name: Option<String>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

impl Period {
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        match self {
            Period::Always { .. } => true,
            Period::DateRange { from, to, .. } => *from <= now && now < *to,
            Period::Weekly {
                days, start, end, ..
            } => {
                let today = now.weekday();
                let time = now.time();
                let opened_today = days.contains(&today);
                let opened_yesterday = days.contains(&today.pred());
                if start < end {
                    opened_today && *start <= time && time < *end
                } else {
                    // The window spills into the next day, until `end` (or, when
                    // start == end, until the same time of day).
                    (opened_today && time >= *start) || (opened_yesterday && time < *end)
                }
            }
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Period::Always { name }
            | Period::Weekly { name, .. }
            | Period::DateRange { name, .. } => name.as_deref(),
        }
    }

    /// The name if it has one, else what it is, for scaling decisions' reasons.
    pub fn label(&self) -> String {
        if let Some(name) = self.name() {
            return format!("'{name}'");
        }
        match self {
            Period::Always { .. } => "always".to_owned(),
            Period::Weekly {
                days, start, end, ..
            } => {
                let days: Vec<&str> = days.iter().map(|d| weekday_name(*d)).collect();
                format!(
                    "weekly {} {}-{} UTC",
                    days.join(","),
                    short_time(*start),
                    short_time(*end)
                )
            }
            Period::DateRange { from, to, .. } => {
                format!("from {} to {}", from.to_rfc3339(), to.to_rfc3339())
            }
        }
    }
}

fn short_time(t: NaiveTime) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// The lowercase English name Qarnot's `days` uses.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// Parses an English day name, any case ("Monday", "monday"). Abbreviations are
/// refused: the SDK always sends full names, and "t" or "s" would be ambiguous.
pub fn parse_weekday(text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|d| weekday_name(*d) == lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
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

    // 2024-01-01 is a Monday.
    const MON: u32 = 1;
    const TUE: u32 = 2;
    const SAT: u32 = 6;
    const SUN: u32 = 7;

    #[test]
    fn weekly_window_within_a_day() {
        let office = weekly(&[Weekday::Mon, Weekday::Fri], hm(8, 0), hm(18, 30));
        let nano = chrono::Duration::nanoseconds(1);
        let table = [
            (at(2024, 1, MON, 7, 59, 59), false),
            (at(2024, 1, MON, 8, 0, 0), true),
            (at(2024, 1, MON, 12, 0, 0), true),
            (at(2024, 1, MON, 18, 30, 0) - nano, true),
            (at(2024, 1, MON, 18, 30, 0), false),
            (at(2024, 1, TUE, 12, 0, 0), false),
            (at(2024, 1, 5, 8, 0, 0), true),
        ];
        for (now, expected) in table {
            assert_eq!(office.contains(now), expected, "{now}");
        }
    }

    #[test]
    fn weekly_window_across_midnight_belongs_to_the_day_it_opens() {
        // Saturday 22:00 to Sunday 06:00 only; Sunday night is not listed.
        let night = weekly(&[Weekday::Sat], hm(22, 0), hm(6, 0));
        let table = [
            (at(2024, 1, SAT, 21, 59, 59), false),
            (at(2024, 1, SAT, 22, 0, 0), true),
            (at(2024, 1, SAT, 23, 59, 59), true),
            (at(2024, 1, SUN, 0, 0, 0), true),
            (at(2024, 1, SUN, 5, 59, 59), true),
            (at(2024, 1, SUN, 6, 0, 0), false),
            (at(2024, 1, SUN, 22, 0, 0), false),
            // Saturday early morning belongs to a Friday window, not listed.
            (at(2024, 1, SAT, 1, 0, 0), false),
        ];
        for (now, expected) in table {
            assert_eq!(night.contains(now), expected, "{now}");
        }
    }

    #[test]
    fn window_across_the_end_of_the_week() {
        let night = weekly(&[Weekday::Sun], hm(20, 0), hm(4, 0));
        assert!(night.contains(at(2024, 1, SUN, 20, 0, 0)));
        assert!(night.contains(at(2024, 1, 8, 3, 0, 0))); // the next Monday
        assert!(!night.contains(at(2024, 1, 8, 4, 0, 0)));
        assert!(night.contains(at(2024, 1, MON, 3, 0, 0))); // 2023-12-31 was a Sunday
        assert!(!night.contains(at(2024, 1, TUE, 3, 0, 0)));
    }

    #[test]
    fn equal_start_and_end_is_a_whole_day_from_start() {
        let all_monday = weekly(&[Weekday::Mon], hm(0, 0), hm(0, 0));
        assert!(all_monday.contains(at(2024, 1, MON, 0, 0, 0)));
        assert!(all_monday.contains(at(2024, 1, MON, 23, 59, 59)));
        assert!(!all_monday.contains(at(2024, 1, TUE, 0, 0, 0)));
        assert!(!all_monday.contains(at(2023, 12, 31, 23, 59, 59)));

        let from_noon = weekly(&[Weekday::Mon], hm(12, 0), hm(12, 0));
        assert!(!from_noon.contains(at(2024, 1, MON, 11, 59, 59)));
        assert!(from_noon.contains(at(2024, 1, MON, 12, 0, 0)));
        assert!(from_noon.contains(at(2024, 1, TUE, 11, 59, 59)));
        assert!(!from_noon.contains(at(2024, 1, TUE, 12, 0, 0)));
    }

    #[test]
    fn date_range_is_half_open() {
        let p = Period::DateRange {
            name: Some("launch".into()),
            from: at(2024, 3, 1, 0, 0, 0),
            to: at(2024, 3, 2, 0, 0, 0),
        };
        assert!(!p.contains(at(2024, 2, 29, 23, 59, 59)));
        assert!(p.contains(at(2024, 3, 1, 0, 0, 0)));
        assert!(p.contains(at(2024, 3, 1, 23, 59, 59)));
        assert!(!p.contains(at(2024, 3, 2, 0, 0, 0)));
        assert_eq!(p.label(), "'launch'");
    }

    #[test]
    fn always_contains_everything() {
        let p = Period::Always { name: None };
        assert!(p.contains(at(1970, 1, 1, 0, 0, 0)));
        assert!(p.contains(at(2100, 12, 31, 23, 59, 59)));
        assert_eq!(p.label(), "always");
    }

    #[test]
    fn labels_describe_unnamed_periods() {
        let p = weekly(&[Weekday::Mon, Weekday::Tue], hm(8, 0), hm(18, 30));
        assert_eq!(p.label(), "weekly monday,tuesday 08:00-18:30 UTC");
    }

    #[test]
    fn weekday_names() {
        let table = [
            ("monday", Some(Weekday::Mon)),
            ("Tuesday", Some(Weekday::Tue)),
            ("WEDNESDAY", Some(Weekday::Wed)),
            ("thursday", Some(Weekday::Thu)),
            (" friday ", Some(Weekday::Fri)),
            ("saturday", Some(Weekday::Sat)),
            ("sunday", Some(Weekday::Sun)),
            ("mon", None),
            ("", None),
            ("funday", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_weekday(text), expected, "{text}");
        }
        for d in [Weekday::Mon, Weekday::Sun] {
            assert_eq!(parse_weekday(weekday_name(d)), Some(d));
        }
    }
}
