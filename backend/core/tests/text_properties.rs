//! Round trips of the text forms: instance ranges and time spans.

use chrono::Duration;
use hearth_core::ranges::{InstanceRanges, format_ids};
use hearth_core::timespan::{format_timespan, parse_timespan};
use proptest::prelude::*;

proptest! {
    #[test]
    fn formatted_ids_parse_back_to_the_same_set(ids in proptest::collection::btree_set(0u32..500, 1..100)) {
        let ids: Vec<u32> = ids.into_iter().collect();
        let text = format_ids(&ids);
        let parsed = InstanceRanges::parse(&text).unwrap();
        prop_assert_eq!(parsed.ids().collect::<Vec<_>>(), ids.clone());
        prop_assert_eq!(parsed.len() as usize, ids.len());
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn time_spans_round_trip_at_tick_precision(ticks in 0i64..(1_000i64 * 86_400 * 10_000_000)) {
        let d = Duration::nanoseconds(ticks * 100);
        prop_assert_eq!(parse_timespan(&format_timespan(d)), Ok(d));
    }
}
