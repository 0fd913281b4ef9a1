//! Pure presentation helpers, tested here.

/// `"PartiallyExecuting"` → `"partially executing"`: a state as words.
pub fn state_words(state: &str) -> String {
    let mut out = String::with_capacity(state.len() + 4);
    for (i, c) in state.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The CSS class of a pool state's badge: one colour per family of states.
pub fn state_tone(state: &str) -> &'static str {
    match state {
        "FullyExecuting" | "PartiallyExecuting" => "tone-ok",
        "Submitted" | "PartiallyDispatched" | "FullyDispatched" => "tone-busy",
        "Failure" => "tone-bad",
        _ => "tone-quiet",
    }
}

/// The CSS class of a task state's badge.
pub fn task_tone(state: &str) -> &'static str {
    match state {
        "Success" => "tone-ok",
        "Failure" => "tone-bad",
        "Cancelled" | "PendingCancel" | "PendingDelete" => "tone-quiet",
        _ => "tone-busy",
    }
}

/// Busy slots as a share of all of them, in whole percent (0 when there are none).
pub fn busy_percent(busy: u32, total: u32) -> u32 {
    if total == 0 {
        0
    } else {
        ((u64::from(busy.min(total)) * 100 + u64::from(total) / 2) / u64::from(total)) as u32
    }
}

/// The first four characters of an id: enough to tell a pool's nodes apart on screen.
pub fn short_id(id: &str) -> &str {
    id.get(..4).unwrap_or(id)
}

/// `12 s`, `3 min 4 s`, `2 h 5 min`: how long something has run, in words.
pub fn duration_words(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// What a slot is doing, as its tile shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    Busy,
    Idle,
    /// Its node is still being launched.
    Booting,
    /// Its node takes no new work and ends once its last instance does.
    Draining,
    Failed,
}

impl SlotKind {
    pub fn of(node_state: &str, busy: bool) -> SlotKind {
        match (node_state, busy) {
            (_, true) => SlotKind::Busy,
            ("Requested" | "Booting", _) => SlotKind::Booting,
            ("Draining", _) => SlotKind::Draining,
            ("Failed", _) => SlotKind::Failed,
            _ => SlotKind::Idle,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            SlotKind::Busy => "busy",
            SlotKind::Idle => "idle",
            SlotKind::Booting => "booting",
            SlotKind::Draining => "draining",
            SlotKind::Failed => "failed",
        }
    }
}

/// A slot in words, for its accessible name and its tooltip:
/// `slot 3 of node 5f2c: busy, task hello, instance 7, 12 s` or `slot 1 of node 5f2c: idle`.
/// Slots count from 1 on screen.
pub fn slot_label(
    index: u32,
    node_id: &str,
    node_state: &str,
    work: Option<&crate::model::SlotWork>,
) -> String {
    let kind = SlotKind::of(node_state, work.is_some());
    let head = format!(
        "slot {} of node {}: {}",
        index + 1,
        short_id(node_id),
        kind.word()
    );
    match work {
        None => head,
        Some(w) => {
            let ran = match w.running_seconds {
                Some(s) => duration_words(s),
                None => "starting".to_owned(),
            };
            format!(
                "{head}, task {}, instance {}, {ran}",
                w.task_name, w.instance_id
            )
        }
    }
}

/// A decision's headline: `grew 4 → 8`, `shrank 8 → 4`, `held at 4`.
pub fn decision_headline(action: &str, from: u32, to: u32) -> String {
    if action.starts_with("grow") {
        format!("grew {from} → {to}")
    } else if action.starts_with("shrink") {
        format!("shrank {from} → {to}")
    } else {
        format!("held at {to}")
    }
}

/// The parts of a task's progress bar, in the order drawn: (class, count, width in tenths
/// of a percent). Widths add up to exactly 1000 when there are instances (largest
/// remainders get the rounding), so the bar is always full; empty parts are left out.
pub fn progress_parts(t: &crate::model::Tally) -> Vec<(&'static str, u32, u32)> {
    let parts = [
        ("succeeded", t.succeeded),
        ("failed", t.failed),
        ("cancelled", t.cancelled),
        ("running", t.running),
        ("queued", t.queued),
    ];
    let total: u64 = parts.iter().map(|(_, n)| u64::from(*n)).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut widths: Vec<(usize, u64, u64)> = parts
        .iter()
        .enumerate()
        .map(|(i, (_, n))| {
            let exact = u64::from(*n) * 1000;
            (i, exact / total, exact % total)
        })
        .collect();
    let mut left = 1000 - widths.iter().map(|w| w.1).sum::<u64>();
    let mut by_remainder: Vec<usize> = (0..widths.len()).collect();
    by_remainder.sort_by(|a, b| widths[*b].2.cmp(&widths[*a].2).then(a.cmp(b)));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        if widths[i].2 > 0 {
            widths[i].1 += 1;
            left -= 1;
        }
    }
    widths
        .into_iter()
        .filter(|(i, _, _)| parts[*i].1 > 0)
        .map(|(i, w, _)| (parts[i].0, parts[i].1, w as u32))
        .collect()
}

/// A task's progress in words: `3 succeeded, 1 failed, 2 running, 4 queued of 10`.
pub fn progress_words(t: &crate::model::Tally) -> String {
    let parts: Vec<String> = progress_parts(t)
        .into_iter()
        .map(|(name, n, _)| format!("{n} {name}"))
        .collect();
    if parts.is_empty() {
        format!("no instances of {}", t.total)
    } else {
        format!("{} of {}", parts.join(", "), t.total)
    }
}

/// Keeps the newest `cap` bytes of `text` (cut at a character boundary); true when it cut.
pub fn keep_tail(text: &mut String, cap: usize) -> bool {
    if text.len() <= cap {
        return false;
    }
    let mut from = text.len() - cap;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    text.drain(..from);
    true
}

/// An exact money text (`"2.160000"`) as the page shows it: two decimals, or up to six
/// significant ones for amounts under a cent, so a small cost never reads as zero.
pub fn money(text: &str) -> String {
    let value: f64 = text.trim().parse().unwrap_or(0.0);
    if value == 0.0 {
        "0.00".to_owned()
    } else if value.abs() >= 0.01 {
        format!("{value:.2}")
    } else {
        let six = format!("{value:.6}");
        six.trim_end_matches('0').to_owned()
    }
}

/// Slot-seconds (an exact decimal text) as slot-hours with two decimals.
pub fn slot_hours(seconds: &str) -> String {
    let value: f64 = seconds.trim().parse().unwrap_or(0.0);
    format!("{:.2}", value / 3600.0)
}

/// A decimal text as a number for drawing (0 when it does not read).
pub fn amount(text: &str) -> f64 {
    text.trim().parse().unwrap_or(0.0)
}

/// How much of a budget is consumed, in whole percent (capped at 999).
pub fn consumed_percent(consumed: &str, amount_text: &str) -> u32 {
    let total = amount(amount_text);
    if total <= 0.0 {
        return 0;
    }
    (amount(consumed) / total * 100.0).round().clamp(0.0, 999.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_words() {
        assert_eq!(state_words("PartiallyExecuting"), "partially executing");
        assert_eq!(state_words("Closed"), "closed");
        assert_eq!(state_words(""), "");
    }

    #[test]
    fn tones_group_states() {
        assert_eq!(state_tone("FullyExecuting"), "tone-ok");
        assert_eq!(state_tone("Submitted"), "tone-busy");
        assert_eq!(state_tone("Failure"), "tone-bad");
        assert_eq!(state_tone("Closed"), "tone-quiet");
        assert_eq!(task_tone("Success"), "tone-ok");
        assert_eq!(task_tone("Failure"), "tone-bad");
        assert_eq!(task_tone("PendingCancel"), "tone-quiet");
        assert_eq!(task_tone("FullyExecuting"), "tone-busy");
    }

    #[test]
    fn percent_rounds_and_bounds() {
        assert_eq!(busy_percent(0, 0), 0);
        assert_eq!(busy_percent(1, 3), 33);
        assert_eq!(busy_percent(2, 3), 67);
        assert_eq!(busy_percent(5, 4), 100);
    }

    #[test]
    fn ids_shorten_to_four_characters() {
        assert_eq!(short_id("5f2c9a4e-35a4"), "5f2c");
        assert_eq!(short_id("ab"), "ab");
    }

    #[test]
    fn durations_read_in_words() {
        assert_eq!(duration_words(0), "0 s");
        assert_eq!(duration_words(59), "59 s");
        assert_eq!(duration_words(61), "1 min 1 s");
        assert_eq!(duration_words(3600 * 2 + 5 * 60 + 9), "2 h 5 min");
    }

    #[test]
    fn slots_say_their_state_in_words() {
        use crate::model::SlotWork;
        let work = SlotWork {
            task_id: "t".into(),
            task_name: "hello".into(),
            instance_id: 7,
            running_seconds: Some(12),
        };
        assert_eq!(
            slot_label(2, "5f2c9a4e", "Ready", Some(&work)),
            "slot 3 of node 5f2c: busy, task hello, instance 7, 12 s"
        );
        assert_eq!(
            slot_label(0, "5f2c9a4e", "Ready", None),
            "slot 1 of node 5f2c: idle"
        );
        assert_eq!(
            slot_label(0, "5f2c", "Booting", None),
            "slot 1 of node 5f2c: booting"
        );
        assert_eq!(
            slot_label(1, "5f2c", "Draining", None),
            "slot 2 of node 5f2c: draining"
        );
        let starting = SlotWork {
            running_seconds: None,
            ..work
        };
        assert!(slot_label(0, "5f2c", "Ready", Some(&starting)).ends_with("instance 7, starting"));
    }

    #[test]
    fn decisions_read_as_a_move() {
        assert_eq!(decision_headline("grow 2", 4, 8), "grew 4 → 8");
        assert_eq!(decision_headline("shrink 1", 8, 4), "shrank 8 → 4");
        assert_eq!(decision_headline("hold", 4, 4), "held at 4");
    }

    #[test]
    fn progress_fills_the_bar_exactly() {
        use crate::model::Tally;
        let t = Tally {
            total: 3,
            succeeded: 1,
            running: 1,
            queued: 1,
            ..Tally::default()
        };
        let parts = progress_parts(&t);
        assert_eq!(
            parts,
            vec![
                ("succeeded", 1, 334),
                ("running", 1, 333),
                ("queued", 1, 333)
            ]
        );
        let t = Tally {
            total: 7,
            succeeded: 2,
            failed: 1,
            cancelled: 1,
            running: 2,
            queued: 1,
        };
        assert_eq!(progress_parts(&t).iter().map(|p| p.2).sum::<u32>(), 1000);
        assert_eq!(
            progress_words(&t),
            "2 succeeded, 1 failed, 1 cancelled, 2 running, 1 queued of 7"
        );
        assert!(progress_parts(&Tally::default()).is_empty());
        assert_eq!(progress_words(&Tally::default()), "no instances of 0");
    }

    #[test]
    fn tails_keep_the_newest_whole_characters() {
        let mut s = "ab€cd".to_owned(); // € is 3 bytes: 7 in all
        assert!(!keep_tail(&mut s, 7));
        assert!(keep_tail(&mut s, 4));
        assert_eq!(s, "cd"); // a cut inside € moves past it
        let mut s = "hello".to_owned();
        assert!(keep_tail(&mut s, 3));
        assert_eq!(s, "llo");
    }

    #[test]
    fn money_and_hours_read_well() {
        assert_eq!(money("2.160000"), "2.16");
        assert_eq!(money("0.000000"), "0.00");
        assert_eq!(money("0.001230"), "0.00123");
        assert_eq!(money("1234.5"), "1234.50");
        assert_eq!(money("junk"), "0.00");
        assert_eq!(slot_hours("5400.000"), "1.50");
        assert_eq!(consumed_percent("2.5", "10"), 25);
        assert_eq!(consumed_percent("25", "10"), 250);
        assert_eq!(consumed_percent("1", "0"), 0);
    }
}
