//! C#-style TimeSpan text, `[-][d.]hh:mm:ss[.fffffff]`, as Qarnot sends `maxWallTime`
//! and `completionTimeToLive`.

use chrono::Duration;

/// .NET's `TimeSpan.MaxValue` is about 10,675,199 days; refusing more keeps every
/// accepted text representable on both sides.
const MAX_DAYS: i64 = 10_675_199;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a time span like [d.]hh:mm:ss[.fffffff]: {reason}")]
pub struct TimeSpanError {
    pub input: String,
    pub reason: &'static str,
}

/// Parses `[-][d.]hh:mm:ss[.fffffff]`; hours 0–23, minutes and seconds 0–59, one or
/// two digits each, up to seven fraction digits (ticks of 100 ns).
pub fn parse_timespan(text: &str) -> Result<Duration, TimeSpanError> {
    let fail = |reason| TimeSpanError {
        input: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let fields: Vec<&str> = body.split(':').collect();
    let [day_hours, minutes, seconds] = fields[..] else {
        return Err(fail("expected hours, minutes and seconds separated by ':'"));
    };
    let (days, hours) = match day_hours.split_once('.') {
        Some((d, h)) => (number(d, 8).ok_or_else(|| fail("bad day count"))?, h),
        None => (0, day_hours),
    };
    if days > MAX_DAYS {
        return Err(fail("too many days"));
    }
    let hours = number(hours, 2)
        .filter(|h| *h < 24)
        .ok_or_else(|| fail("hours must be 0-23"))?;
    let minutes = number(minutes, 2)
        .filter(|m| *m < 60)
        .ok_or_else(|| fail("minutes must be 0-59"))?;
    let (seconds, fraction) = match seconds.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (seconds, None),
    };
    let seconds = number(seconds, 2)
        .filter(|s| *s < 60)
        .ok_or_else(|| fail("seconds must be 0-59"))?;
    let nanos = match fraction {
        None => 0,
        Some(f) => {
            let digits = number(f, 7).ok_or_else(|| fail("the fraction takes 1 to 7 digits"))?;
            // "5" is half a second: scale by the digits missing up to nanoseconds.
            digits * 10_i64.pow(9 - f.len() as u32)
        }
    };
    let total = Duration::days(days)
        + Duration::hours(hours)
        + Duration::minutes(minutes)
        + Duration::seconds(seconds)
        + Duration::nanoseconds(nanos);
    Ok(if negative { -total } else { total })
}

/// A run of 1..=max_len ASCII digits.
fn number(text: &str, max_len: usize) -> Option<i64> {
    if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Formats like .NET's constant ("c") format: days only when non-zero, the seven-digit
/// fraction only when there is one. Precision below 100 ns is dropped.
pub fn format_timespan(d: Duration) -> String {
    let negative = d < Duration::zero();
    let d = if negative { -d } else { d };
    let total_seconds = d.num_seconds();
    let sub_nanos = (d - Duration::seconds(total_seconds))
        .num_nanoseconds()
        .unwrap_or(0);
    let (days, rest) = (total_seconds / 86_400, total_seconds % 86_400);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ));
    let ticks = sub_nanos / 100;
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let table = [
            ("00:00:00", Duration::zero()),
            ("01:00:00", Duration::hours(1)),
            ("0:00:05", Duration::seconds(5)),
            ("1.00:00:00", Duration::days(1)),
            (
                "2.03:04:05",
                Duration::days(2) + Duration::seconds(3 * 3600 + 4 * 60 + 5),
            ),
            ("00:00:01.5", Duration::milliseconds(1500)),
            ("00:00:00.0000001", Duration::nanoseconds(100)),
            ("00:00:00.1234567", Duration::nanoseconds(123_456_700)),
            ("23:59:59", Duration::seconds(86_399)),
            (" 00:01:00 ", Duration::minutes(1)),
            ("-00:00:01", Duration::seconds(-1)),
        ];
        for (text, expected) in table {
            assert_eq!(parse_timespan(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        let table = [
            ("", "expected hours, minutes and seconds separated by ':'"),
            (
                "01:00",
                "expected hours, minutes and seconds separated by ':'",
            ),
            (
                "1:2:3:4",
                "expected hours, minutes and seconds separated by ':'",
            ),
            ("24:00:00", "hours must be 0-23"),
            ("00:60:00", "minutes must be 0-59"),
            ("00:00:60", "seconds must be 0-59"),
            ("00:00:00.12345678", "the fraction takes 1 to 7 digits"),
            ("00:00:00.", "the fraction takes 1 to 7 digits"),
            ("x.01:00:00", "bad day count"),
            ("99999999.00:00:00", "too many days"),
            ("+01:00:00", "hours must be 0-23"),
            ("1 day, 0:00:00", "hours must be 0-23"),
        ];
        for (text, reason) in table {
            let err = parse_timespan(text).expect_err(text);
            assert_eq!(err.reason, reason, "{text}");
        }
        assert_eq!(
            parse_timespan("24:00:00").unwrap_err().to_string(),
            "'24:00:00' is not a time span like [d.]hh:mm:ss[.fffffff]: hours must be 0-23"
        );
    }

    #[test]
    fn formats_like_dotnet() {
        let table = [
            (Duration::zero(), "00:00:00"),
            (Duration::hours(1), "01:00:00"),
            (Duration::days(1), "1.00:00:00"),
            (Duration::days(10) + Duration::seconds(61), "10.00:01:01"),
            (Duration::milliseconds(1500), "00:00:01.5000000"),
            (Duration::nanoseconds(150), "00:00:00.0000001"),
            (Duration::seconds(-90), "-00:01:30"),
        ];
        for (d, text) in table {
            assert_eq!(format_timespan(d), text, "{d:?}");
        }
    }

    #[test]
    fn round_trips_at_tick_precision() {
        for nanos in [
            0_i64,
            100,
            999_999_900,
            86_399_000_000_000,
            3 * 86_400_000_000_000 + 7_300,
        ] {
            let d = Duration::nanoseconds(nanos);
            assert_eq!(parse_timespan(&format_timespan(d)), Ok(d), "{nanos}");
        }
    }
}
