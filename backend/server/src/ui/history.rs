//! The pool page's size chart: the target the scaling decisions aimed at and the slots the
//! pool's nodes held, over the last hour, as step lines.

use chrono::{DateTime, Duration, Utc};
use hearth_ui::model::{PoolPage, SizeHistory};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entities::{node, scaling_decision};
use crate::error::ApiResult;

/// Decisions read at most (newest first); they are coalesced, so an hour holds few.
const DECISIONS: u64 = 500;
/// Nodes read at most: those alive at some point of the hour.
const NODES: u64 = 5_000;

pub async fn size_history(
    db: &sea_orm::DatabaseConnection,
    pool_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<SizeHistory> {
    let span = PoolPage::HISTORY_SECONDS;
    let start = now - Duration::seconds(i64::from(span));
    let decisions = scaling_decision::Entity::find()
        .filter(scaling_decision::Column::PoolId.eq(pool_id))
        .order_by_desc(scaling_decision::Column::Seq)
        .limit(DECISIONS)
        .all(db)
        .await?;
    let nodes = node::Entity::find()
        .filter(node::Column::PoolId.eq(pool_id))
        .filter(
            Condition::any()
                .add(node::Column::EndedAt.is_null())
                .add(node::Column::EndedAt.gte(start)),
        )
        .limit(NODES)
        .all(db)
        .await?;
    let target = target_steps(
        decisions
            .iter()
            .map(|d| (d.created_at, d.target_slots.max(0) as u32)),
        start,
        now,
    );
    let actual = actual_steps(
        nodes
            .iter()
            .map(|n| (n.created_at, n.ended_at, n.slots.max(0) as u32)),
        start,
        now,
    );
    Ok(SizeHistory {
        span_seconds: span,
        target,
        actual,
    })
}

fn ago(at: DateTime<Utc>, start: DateTime<Utc>, now: DateTime<Utc>) -> u32 {
    (now - at.max(start)).num_seconds().clamp(0, i64::MAX) as u32
}

/// `(made at, target)` newest first → steps oldest first: the last decision before the
/// window opens it, the later ones follow.
fn target_steps(
    newest_first: impl Iterator<Item = (DateTime<Utc>, u32)>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(u32, u32)> {
    let mut steps = Vec::new();
    for (at, target) in newest_first {
        steps.push((ago(at, start, now), target));
        if at <= start {
            break;
        }
    }
    steps.reverse();
    steps.dedup_by(|later, earlier| later.1 == earlier.1);
    steps
}

/// `(created, ended, slots)` of nodes → the slots alive over the window, oldest first.
fn actual_steps(
    nodes: impl Iterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>, u32)>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(u32, u32)> {
    let mut changes: Vec<(u32, i64)> = Vec::new();
    for (created, ended, slots) in nodes {
        if created > now || ended.is_some_and(|e| e < start) {
            continue;
        }
        changes.push((ago(created, start, now), i64::from(slots)));
        if let Some(e) = ended.filter(|e| *e <= now) {
            changes.push((ago(e, start, now), -i64::from(slots)));
        }
    }
    // Oldest first: the most seconds ago first.
    changes.sort_by_key(|c| std::cmp::Reverse(c.0));
    let span = ago(start, start, now);
    let mut steps = vec![(span, 0u32)];
    let mut value = 0i64;
    for (at, delta) in changes {
        value += delta;
        let v = value.max(0) as u32;
        match steps.last_mut() {
            Some(last) if last.0 == at => last.1 = v,
            _ => steps.push((at, v)),
        }
    }
    steps.dedup_by(|later, earlier| later.1 == earlier.1);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn targets_start_from_the_decision_before_the_window() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let start = now - Duration::hours(1);
        let at = |min_ago: i64| now - Duration::minutes(min_ago);
        // Newest first: 8 (10 min ago), 8 (20), 4 (90: before the window), 2 (120).
        let steps = target_steps(
            [(at(10), 8), (at(20), 8), (at(90), 4), (at(120), 2)].into_iter(),
            start,
            now,
        );
        assert_eq!(steps, vec![(3600, 4), (1200, 8)]);
        assert!(target_steps(std::iter::empty(), start, now).is_empty());
    }

    #[test]
    fn actual_slots_follow_the_nodes_lives() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let start = now - Duration::hours(1);
        let at = |min_ago: i64| now - Duration::minutes(min_ago);
        let nodes = [
            (at(120), None, 4),          // alive all hour
            (at(30), Some(at(10)), 4),   // 30 → 10 min ago
            (at(200), Some(at(100)), 4), // gone before the window
        ];
        let steps = actual_steps(nodes.into_iter(), start, now);
        assert_eq!(steps, vec![(3600, 4), (1800, 8), (600, 4)]);
    }
}
