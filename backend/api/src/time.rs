//! Instants on the wire: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC, six fractional digits (the
//! form the public qarnot SDK parses; it refuses seven digits and `+00:00`). Read back from
//! any RFC 3339 text.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The wire text of an instant.
pub fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse<'de, D: Deserializer<'de>>(raw: &str) -> Result<DateTime<Utc>, D::Error> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(serde::de::Error::custom)
}

/// `#[serde(with = "hearth_api::time")]` on a `DateTime<Utc>` field.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&text(*t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    parse::<D>(&raw)
}

/// `#[serde(with = "hearth_api::time::option")]` on an `Option<DateTime<Utc>>` field:
/// `null` when absent.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&text(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(raw) => parse::<D>(&raw).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn six_fractional_digits_and_z() {
        let t = chrono::Utc.timestamp_nanos(1_796_166_419_123_456_789);
        assert_eq!(super::text(t), "2026-12-01T23:06:59.123456Z");
    }
}
