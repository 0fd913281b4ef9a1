//! The geometry of the dashboard's SVG charts and of the week grid: pure functions, tested
//! here, so that the components only draw what these compute.

/// A value axis from 0 to `top` with a gridline every `step`: `top` is the smallest
/// "round" ceiling (1, 2 or 5 times a power of ten, times the number of steps) at or above
/// the largest value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub top: f64,
    pub step: f64,
}

impl Scale {
    /// About `steps` gridlines for values up to `max` (a scale of 0..1 when all are 0).
    pub fn nice(max: f64, steps: u32) -> Scale {
        let steps = steps.max(1);
        if !(max.is_finite() && max > 0.0) {
            return Scale {
                top: 1.0,
                step: 1.0 / f64::from(steps),
            };
        }
        let raw = max / f64::from(steps);
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw * (1.0 - 1e-9))
            .unwrap_or(10.0 * magnitude);
        let top = (max / step - 1e-9).ceil().max(1.0) * step;
        Scale { top, step }
    }

    /// The gridlines' values, 0 first, `top` last.
    pub fn ticks(&self) -> Vec<f64> {
        let n = (self.top / self.step).round() as u32;
        (0..=n).map(|i| f64::from(i) * self.step).collect()
    }

    /// Where `value` sits on an axis `height` tall drawn downward (0 at the bottom).
    pub fn y(&self, value: f64, height: f64) -> f64 {
        height - (value.clamp(0.0, self.top) / self.top) * height
    }
}

/// One day's stacked bar: busy at the bottom, idle on top.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub width: f64,
    pub busy_y: f64,
    pub busy_height: f64,
    pub idle_y: f64,
    pub idle_height: f64,
}

/// Bars for `(busy, idle)` values, side by side over `width`, on `scale`, `height` tall;
/// each takes 80% of its share of the width.
pub fn stacked_bars(values: &[(f64, f64)], scale: Scale, width: f64, height: f64) -> Vec<Bar> {
    if values.is_empty() {
        return Vec::new();
    }
    let share = width / values.len() as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, &(busy, idle))| {
            let busy_top = scale.y(busy, height);
            let idle_top = scale.y(busy + idle, height);
            Bar {
                x: i as f64 * share + share * 0.1,
                width: share * 0.8,
                busy_y: busy_top,
                busy_height: height - busy_top,
                idle_y: idle_top,
                idle_height: busy_top - idle_top,
            }
        })
        .collect()
}

/// An SVG path of a step line: `points` are `(seconds before now, value)`, oldest first,
/// each value holding until the next point and the last until now. The chart spans
/// `span` seconds ending now over `width`; values on `scale` over `height`.
pub fn step_path(
    points: &[(u32, u32)],
    span: u32,
    scale: Scale,
    width: f64,
    height: f64,
) -> String {
    let span = f64::from(span.max(1));
    let x = |ago: u32| ((span - f64::from(ago).min(span)) / span * width * 10.0).round() / 10.0;
    let y = |v: u32| (scale.y(f64::from(v), height) * 10.0).round() / 10.0;
    let mut d = String::new();
    for (i, &(ago, value)) in points.iter().enumerate() {
        let (px, py) = (x(ago), y(value));
        if i == 0 {
            d.push_str(&format!("M{px} {py}"));
        } else {
            d.push_str(&format!(" H{px} V{py}"));
        }
    }
    if !points.is_empty() {
        d.push_str(&format!(" H{}", x(0)));
    }
    d
}

/// The week grid's days, Monday first (the cells' order).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A week grid cell in words, for its accessible name: `Tuesday 09:00–10:00: enabled`.
pub fn cell_label(day: usize, hour: usize, cover: crate::model::Cover) -> String {
    let state = match cover {
        crate::model::Cover::Full => "enabled",
        crate::model::Cover::Part => "partly enabled",
        crate::model::Cover::None => "off",
    };
    format!(
        "{} {hour:02}:00–{:02}:00: {state}",
        WEEKDAYS.get(day).copied().unwrap_or("?"),
        (hour + 1) % 24
    )
}

/// What clicking a cell (or a day's header: all its hours) does: switch the hours on
/// unless all of them are fully on already.
pub fn toggle_turns_on(cells: &[crate::model::Cover]) -> bool {
    !cells.iter().all(|c| *c == crate::model::Cover::Full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cover;

    #[test]
    fn scales_round_up_to_one_two_or_five() {
        assert_eq!(
            Scale::nice(7.3, 4),
            Scale {
                top: 8.0,
                step: 2.0
            }
        );
        let small = Scale::nice(0.0123, 4);
        assert!((small.top - 0.015).abs() < 1e-12 && (small.step - 0.005).abs() < 1e-12);
        assert_eq!(
            Scale::nice(100.0, 4),
            Scale {
                top: 100.0,
                step: 50.0
            }
        );
        assert_eq!(
            Scale::nice(1.0, 5),
            Scale {
                top: 1.0,
                step: 0.2
            }
        );
        let empty = Scale::nice(0.0, 4);
        assert_eq!(empty.top, 1.0);
        assert_eq!(Scale::nice(f64::NAN, 4).top, 1.0);
        let s = Scale::nice(7.3, 4);
        assert_eq!(s.ticks(), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(s.y(0.0, 100.0), 100.0);
        assert_eq!(s.y(8.0, 100.0), 0.0);
        assert_eq!(s.y(99.0, 100.0), 0.0, "clamped to the top");
    }

    #[test]
    fn bars_stack_idle_on_busy() {
        let scale = Scale {
            top: 10.0,
            step: 5.0,
        };
        let bars = stacked_bars(&[(2.0, 3.0), (0.0, 0.0)], scale, 200.0, 100.0);
        assert_eq!(bars.len(), 2);
        let b = bars[0];
        assert_eq!((b.x, b.width), (10.0, 80.0));
        assert_eq!((b.busy_y, b.busy_height), (80.0, 20.0));
        assert_eq!((b.idle_y, b.idle_height), (50.0, 30.0));
        assert_eq!(bars[1].x, 110.0);
        assert_eq!(bars[1].busy_height + bars[1].idle_height, 0.0);
        assert!(stacked_bars(&[], scale, 200.0, 100.0).is_empty());
    }

    #[test]
    fn step_lines_hold_each_value_until_the_next() {
        let scale = Scale {
            top: 8.0,
            step: 2.0,
        };
        // 4 slots from an hour ago, 8 from 30 min ago, until now.
        let d = step_path(&[(3600, 4), (1800, 8)], 3600, scale, 360.0, 80.0);
        assert_eq!(d, "M0 40 H180 V0 H360");
        // A point older than the span starts at the left edge.
        assert_eq!(
            step_path(&[(7200, 2)], 3600, scale, 360.0, 80.0),
            "M0 60 H360"
        );
        assert_eq!(step_path(&[], 3600, scale, 360.0, 80.0), "");
    }

    #[test]
    fn cells_say_their_hour_and_state() {
        assert_eq!(
            cell_label(1, 9, Cover::Full),
            "Tuesday 09:00–10:00: enabled"
        );
        assert_eq!(cell_label(6, 23, Cover::None), "Sunday 23:00–00:00: off");
        assert_eq!(
            cell_label(0, 0, Cover::Part),
            "Monday 00:00–01:00: partly enabled"
        );
        assert!(toggle_turns_on(&[Cover::Full, Cover::Part]));
        assert!(toggle_turns_on(&[Cover::None]));
        assert!(!toggle_turns_on(&[Cover::Full, Cover::Full]));
    }
}
