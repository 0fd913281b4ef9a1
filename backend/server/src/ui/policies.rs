//! The pool page's policies: each policy's week grid read from its periods, and an edit of
//! the grid turned back into periods and saved through `pools::set_policies`.

use chrono::{DateTime, Utc};
use hearth_core::scaling::{
    ManagedQueue, Period, PolicyRule, WeekMinutes, active_policy, edit_week,
};
use hearth_ui::model::{Cover, HourRange, PolicyCard};
use uuid::Uuid;

use crate::entities::pool;
use crate::error::{ApiError, ApiResult};
use crate::services::pools;
use crate::state::AppState;

/// The pool's policies as the editor shows them.
pub fn cards(pool: &pool::Model, now: DateTime<Utc>) -> Vec<PolicyCard> {
    let policies = pools::policies_of(pool);
    let active = active_policy(&policies, now).map(|(i, ..)| i);
    policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let week = WeekMinutes::of(&p.enabled_periods);
            let cells = (0..7)
                .flat_map(|day| (0..24).map(move |hour| (day, hour)))
                .map(|(day, hour)| match week.minutes_on(day, hour) {
                    0 => Cover::None,
                    60 => Cover::Full,
                    _ => Cover::Part,
                })
                .collect();
            PolicyCard {
                index: i as u32,
                name: p.name.clone(),
                kind: p.rule.kind().to_owned(),
                summary: summary(&p.rule),
                active: active == Some(i),
                week: cells,
                one_off: p
                    .enabled_periods
                    .iter()
                    .filter(|p| matches!(p, Period::DateRange { .. }))
                    .map(Period::label)
                    .collect(),
            }
        })
        .collect()
}

/// A policy's figures in words.
fn summary(rule: &PolicyRule) -> String {
    match rule {
        PolicyRule::Fixed { slots_count } => format!("{slots_count} slots"),
        PolicyRule::ManagedTasksQueue(ManagedQueue {
            min_total_slots,
            max_total_slots,
            min_idle_slots,
            min_idle_time_seconds,
            scaling_factor,
        }) => format!(
            "{min_total_slots}–{max_total_slots} slots following the queue, {min_idle_slots} kept idle, \
             a node released after {min_idle_time_seconds} s idle, ramp {scaling_factor}"
        ),
    }
}

/// Hours of one policy's week switched on or off, and the pool's policies saved.
pub async fn set_hours(
    state: &AppState,
    tenant: Uuid,
    pool_id: Uuid,
    hours: &HourRange,
) -> ApiResult<()> {
    if hours.day > 6 {
        return Err(ApiError::field("day", "must be 0 (Monday) to 6 (Sunday)"));
    }
    if hours.from_hour >= hours.to_hour || hours.to_hour > 24 {
        return Err(ApiError::field(
            "toHour",
            "must be after fromHour, and at most 24",
        ));
    }
    let pool = pools::load(&state.db, tenant, pool_id).await?;
    let mut policies = pools::policies_of(&pool);
    let Some(policy) = policies.get_mut(hours.policy as usize) else {
        return Err(ApiError::NotFound(format!(
            "the pool has no policy {} (it has {})",
            hours.policy + 1,
            pools::policies_of(&pool).len()
        )));
    };
    policy.enabled_periods = edit_week(
        &policy.enabled_periods,
        hours.day as usize,
        hours.from_hour as usize,
        hours.to_hour as usize,
        hours.on,
    )
    .map_err(|why| {
        ApiError::field(
            &format!("scaling.policies[{}].enabledPeriods", hours.policy),
            why.to_string(),
        )
    })?;
    pools::set_policies(state, tenant, pool_id, policies).await?;
    Ok(())
}
