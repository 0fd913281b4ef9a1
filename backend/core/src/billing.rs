//! Billing arithmetic: slot-time in whole milliseconds and money in exact integers, so that
//! a report's lines add up to its total to the last digit.
//!
//! A price per slot-hour is carried as an integer of [`PRICE_SCALE`] decimal places
//! ("0.05" is 50,000,000). The exact cost of `ms` slot-milliseconds at price `p` is
//! `ms × p / COST_DENOMINATOR` micro-units of money (10^-6): an integer numerator over a
//! fixed denominator, so sums of exact costs stay exact. Report lines are shown in
//! micro-units, each rounded down or up so that together they make the exact total rounded
//! once, half to even ([`apportion`], the largest-remainder method): the lines' sum is
//! the total, and the total is what one computes from the nodes alone.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Decimal places of a price per slot-hour.
pub const PRICE_SCALE: u32 = 9;
/// Decimal places of money on report lines.
pub const MONEY_DECIMALS: u32 = 6;
/// `ms × price units / COST_DENOMINATOR` = micro-units of money:
/// 3,600,000 ms per hour × 10^9 price units per unit ÷ 10^6 micro-units per unit.
pub const COST_DENOMINATOR: i128 = 3_600_000_000;

/// The exact cost numerator of `ms` slot-milliseconds at `price_units` per slot-hour.
pub fn cost_numerator(ms: i64, price_units: i128) -> i128 {
    i128::from(ms) * price_units
}

/// `[start, end)` cut at each UTC midnight: `(day, piece start, piece end)` in order.
pub fn split_by_day(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> impl Iterator<Item = (NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
    let mut at = start;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let day = at.date_naive();
        let next_midnight = (day + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        let piece_end = next_midnight.min(end);
        let piece = (day, at, piece_end);
        at = piece_end;
        Some(piece)
    })
}

/// `n / d` rounded half to even (`d` > 0, `n` ≥ 0).
pub fn round_half_even(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// Shows exact costs (numerators over `denominator`, each ≥ 0) as whole units that add up
/// to their exact sum rounded half to even: each is its exact value rounded down, and the
/// units left over go, one each, to the largest remainders (the earlier on ties). Answers
/// the shown values, in order, and their total.
pub fn apportion(numerators: &[i128], denominator: i128) -> (Vec<i128>, i128) {
    let total = round_half_even(numerators.iter().sum(), denominator);
    let mut shown: Vec<i128> = numerators
        .iter()
        .map(|n| n.div_euclid(denominator))
        .collect();
    let floors: i128 = shown.iter().sum();
    let mut left = total - floors;
    if left > 0 {
        let mut by_remainder: Vec<usize> = (0..numerators.len()).collect();
        // Largest remainder first; the sort is stable, so ties keep their order.
        by_remainder.sort_by_key(|&i| std::cmp::Reverse(numerators[i].rem_euclid(denominator)));
        for i in by_remainder {
            if left == 0 {
                break;
            }
            shown[i] += 1;
            left -= 1;
        }
    }
    (shown, total)
}

/// `units` with `decimals` places as text: `1234567, 6` → `"1.234567"`.
pub fn decimal_text(units: i128, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let scale = scale as u128;
    if decimals == 0 {
        return format!("{sign}{abs}");
    }
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn an_hour_of_one_slot_costs_the_price() {
        // 0.05 per slot-hour, one slot-hour: 0.050000.
        let n = cost_numerator(3_600_000, 50_000_000);
        assert_eq!(n % COST_DENOMINATOR, 0);
        assert_eq!(
            decimal_text(n / COST_DENOMINATOR, MONEY_DECIMALS),
            "0.050000"
        );
    }

    #[test]
    fn days_are_cut_at_utc_midnight() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 3, 3, 1, 0, 0).unwrap();
        let pieces: Vec<_> = split_by_day(start, end).collect();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].0.to_string(), "2026-03-01");
        assert_eq!((pieces[0].2 - pieces[0].1).num_hours(), 2);
        assert_eq!((pieces[1].2 - pieces[1].1).num_hours(), 24);
        assert_eq!(pieces[2].0.to_string(), "2026-03-03");
        assert_eq!((pieces[2].2 - pieces[2].1).num_hours(), 1);
        assert_eq!(split_by_day(end, end).count(), 0);
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(round_half_even(5, 10), 0);
        assert_eq!(round_half_even(15, 10), 2);
        assert_eq!(round_half_even(25, 10), 2);
        assert_eq!(round_half_even(26, 10), 3);
        assert_eq!(round_half_even(24, 10), 2);
    }

    #[test]
    fn thirds_are_shown_so_that_they_add_up() {
        // Three lines of a third each, the total one: one line takes the left-over unit.
        let (shown, total) = apportion(&[1, 1, 1], 3);
        assert_eq!(total, 1);
        assert_eq!(shown, [1, 0, 0]);
        let (shown, total) = apportion(&[2, 2, 2], 3);
        assert_eq!(total, 2);
        assert_eq!(shown, [1, 1, 0]);
    }

    #[test]
    fn decimals_are_written_in_full() {
        assert_eq!(decimal_text(1_234_567, 6), "1.234567");
        assert_eq!(decimal_text(7, 3), "0.007");
        assert_eq!(decimal_text(-7, 3), "-0.007");
        assert_eq!(decimal_text(42, 0), "42");
    }

    proptest! {
        #[test]
        fn shown_lines_add_up_to_the_exact_total_rounded_once(
            nums in proptest::collection::vec(0i128..10_000_000_000_000, 0..40),
        ) {
            let (shown, total) = apportion(&nums, COST_DENOMINATOR);
            prop_assert_eq!(shown.iter().sum::<i128>(), total);
            prop_assert_eq!(total, round_half_even(nums.iter().sum(), COST_DENOMINATOR));
            for (s, n) in shown.iter().zip(&nums) {
                let floor = n.div_euclid(COST_DENOMINATOR);
                prop_assert!(*s == floor || *s == floor + 1, "{} from {}", s, n);
            }
        }

        #[test]
        fn day_pieces_cover_the_span_exactly(start in 0i64..10_000_000, len in 0i64..500_000_000) {
            let start = Utc.timestamp_millis_opt(1_700_000_000_000 + start * 1000).unwrap();
            let end = start + Duration::milliseconds(len);
            let total: i64 = split_by_day(start, end).map(|(_, s, e)| (e - s).num_milliseconds()).sum();
            prop_assert_eq!(total, len);
        }
    }
}
