//! Instance ranges as Qarnot's `advancedRanges` writes them: `"0-9,20"`.
//!
//! The same compressed form reports which instances succeeded, failed or ran
//! (`succeededRange`, `failedRange`, `executedRange`), so parsing and formatting live
//! together.

use std::fmt;

/// The most instances one task may have: a typo like `0-99999999` should be a 400,
/// not millions of rows.
pub const MAX_INSTANCES: u64 = 100_000;

/// Why a range text was refused. The message is written for the API user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("instance ranges are empty")]
    Empty,
    #[error("'{0}' is an empty range: remove the extra comma")]
    EmptyPart(String),
    #[error("'{0}' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)")]
    NotANumber(String),
    #[error("'{0}' is reversed: a range goes from the smaller id to the larger")]
    Reversed(String),
    #[error("'{later}' overlaps '{earlier}': each instance id may appear once")]
    Overlap { earlier: String, later: String },
    #[error("the ranges hold {count} instances, more than the maximum of {MAX_INSTANCES}")]
    TooMany { count: u64 },
    #[error("a task needs at least one instance")]
    NoInstances,
}

/// A validated, non-empty set of instance ids, kept as sorted disjoint ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRanges {
    /// Inclusive `(first, last)` pairs, sorted, never overlapping.
    ranges: Vec<(u32, u32)>,
}

impl InstanceRanges {
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        if text.trim().is_empty() {
            return Err(RangeError::Empty);
        }
        let mut parts: Vec<(u32, u32, &str)> = Vec::new();
        for raw in text.split(',') {
            let part = raw.trim();
            if part.is_empty() {
                return Err(RangeError::EmptyPart(text.trim().to_owned()));
            }
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (parse_id(a, part)?, parse_id(b, part)?),
                None => {
                    let id = parse_id(part, part)?;
                    (id, id)
                }
            };
            if first > last {
                return Err(RangeError::Reversed(part.to_owned()));
            }
            parts.push((first, last, part));
        }
        parts.sort_by_key(|&(first, last, _)| (first, last));
        for pair in parts.windows(2) {
            let (earlier, later) = (pair[0], pair[1]);
            if later.0 <= earlier.1 {
                return Err(RangeError::Overlap {
                    earlier: earlier.2.to_owned(),
                    later: later.2.to_owned(),
                });
            }
        }
        let count: u64 = parts
            .iter()
            .map(|&(first, last, _)| u64::from(last - first) + 1)
            .sum();
        if count > MAX_INSTANCES {
            return Err(RangeError::TooMany { count });
        }
        // Adjacent ranges ("0-4,5") merge, so equal sets compare equal.
        let mut ranges: Vec<(u32, u32)> = Vec::with_capacity(parts.len());
        for (first, last, _) in parts {
            match ranges.last_mut() {
                Some(prev) if u64::from(prev.1) + 1 == u64::from(first) => prev.1 = last,
                _ => ranges.push((first, last)),
            }
        }
        Ok(Self { ranges })
    }

    /// Instances `0..count`, what a plain `instanceCount` means.
    pub fn from_count(count: u32) -> Result<Self, RangeError> {
        if count == 0 {
            return Err(RangeError::NoInstances);
        }
        if u64::from(count) > MAX_INSTANCES {
            return Err(RangeError::TooMany {
                count: count.into(),
            });
        }
        Ok(Self {
            ranges: vec![(0, count - 1)],
        })
    }

    /// Every instance id, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.ranges.iter().flat_map(|&(first, last)| first..=last)
    }

    pub fn len(&self) -> u32 {
        // Bounded by MAX_INSTANCES at construction.
        self.ranges.iter().map(|&(f, l)| l - f + 1).sum()
    }

    /// Always false: an `InstanceRanges` holds at least one id.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.ranges.iter().any(|&(f, l)| f <= id && id <= l)
    }
}

impl fmt::Display for InstanceRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_ids(&self.ids().collect::<Vec<_>>()))
    }
}

impl std::str::FromStr for InstanceRanges {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn parse_id(text: &str, part: &str) -> Result<u32, RangeError> {
    let text = text.trim();
    // `u32::from_str` accepts a leading '+'; ids are plain digits only.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::NotANumber(part.to_owned()));
    }
    text.parse()
        .map_err(|_| RangeError::NotANumber(part.to_owned()))
}

/// Compresses ids into the `"0-3,5"` form; order and duplicates in the input do not
/// matter, and no ids give `""` (what Qarnot sends for an empty `failedRange`).
pub fn format_ids(ids: &[u32]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let first = sorted[i];
        let mut last = first;
        while i + 1 < sorted.len() && sorted[i + 1] == last + 1 {
            i += 1;
            last = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if first == last {
            out.push_str(&first.to_string());
        } else {
            out.push_str(&format!("{first}-{last}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_ranges() {
        let table: &[(&str, &[u32])] = &[
            ("0", &[0]),
            ("0-3", &[0, 1, 2, 3]),
            ("0-2,5", &[0, 1, 2, 5]),
            (" 0 - 2 , 5 ", &[0, 1, 2, 5]),
            ("20,0-1", &[0, 1, 20]),
            ("7-7", &[7]),
            ("3,4", &[3, 4]),
        ];
        for (text, ids) in table {
            let r = InstanceRanges::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.ids().collect::<Vec<_>>(), *ids, "{text}");
            assert_eq!(r.len() as usize, ids.len(), "{text}");
            assert!(!r.is_empty());
        }
    }

    #[test]
    fn refuses_bad_ranges_with_a_message() {
        let table = [
            ("", "instance ranges are empty"),
            ("   ", "instance ranges are empty"),
            ("0-3,", "'0-3,' is an empty range: remove the extra comma"),
            (
                "5-2",
                "'5-2' is reversed: a range goes from the smaller id to the larger",
            ),
            (
                "-3",
                "'-3' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)",
            ),
            (
                "0--3",
                "'0--3' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)",
            ),
            (
                "+3",
                "'+3' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)",
            ),
            (
                "a-b",
                "'a-b' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)",
            ),
            (
                "1-2-3",
                "'1-2-3' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)",
            ),
            (
                "99999999999",
                "'99999999999' is not an instance id or a range like 0-9 (ids are whole numbers >= 0)",
            ),
            ("3,3", "'3' overlaps '3': each instance id may appear once"),
            (
                "0-5,4-8",
                "'4-8' overlaps '0-5': each instance id may appear once",
            ),
            (
                "10-20,0-10",
                "'10-20' overlaps '0-10': each instance id may appear once",
            ),
            (
                "0-100000",
                "the ranges hold 100001 instances, more than the maximum of 100000",
            ),
            (
                "0-4294967295",
                "the ranges hold 4294967296 instances, more than the maximum of 100000",
            ),
        ];
        for (text, message) in table {
            let err = InstanceRanges::parse(text).expect_err(text);
            assert_eq!(err.to_string(), message, "{text}");
        }
        assert_eq!(InstanceRanges::parse("0-99999").unwrap().len(), 100_000);
    }

    #[test]
    fn from_count() {
        assert_eq!(
            InstanceRanges::from_count(3)
                .unwrap()
                .ids()
                .collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(InstanceRanges::from_count(0), Err(RangeError::NoInstances));
        assert_eq!(
            InstanceRanges::from_count(100_001),
            Err(RangeError::TooMany { count: 100_001 })
        );
    }

    #[test]
    fn formats_ids_compressed() {
        let table: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[0, 1, 2, 3, 5], "0-3,5"),
            (&[5, 3, 1, 2, 0], "0-3,5"),
            (&[1, 1, 2], "1-2"),
            (&[0, 2, 4], "0,2,4"),
            (&[9, 10, 11, 20, 21], "9-11,20-21"),
            (&[u32::MAX - 1, u32::MAX], "4294967294-4294967295"),
        ];
        for (ids, text) in table {
            assert_eq!(format_ids(ids), *text, "{ids:?}");
        }
    }

    #[test]
    fn display_is_the_normal_form() {
        let r: InstanceRanges = "20, 0-4,5".parse().unwrap();
        assert_eq!(r.to_string(), "0-5,20");
        assert!(r.contains(5) && r.contains(20) && !r.contains(6));
        assert_eq!(r, InstanceRanges::parse("0-5,20").unwrap());
    }
}
