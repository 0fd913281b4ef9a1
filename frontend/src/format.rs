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

/// Busy slots as a share of all of them, in whole percent (0 when there are none).
pub fn busy_percent(busy: u32, total: u32) -> u32 {
    if total == 0 {
        0
    } else {
        ((u64::from(busy.min(total)) * 100 + u64::from(total) / 2) / u64::from(total)) as u32
    }
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
    }

    #[test]
    fn percent_rounds_and_bounds() {
        assert_eq!(busy_percent(0, 0), 0);
        assert_eq!(busy_percent(1, 3), 33);
        assert_eq!(busy_percent(2, 3), 67);
        assert_eq!(busy_percent(5, 4), 100);
    }
}
