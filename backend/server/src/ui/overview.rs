//! The Overview's spend (today, this month, the first budget) and its feed of the tenant's
//! newest events in words, read from the event stream's own backlog.

use std::collections::HashMap;

use chrono::{Datelike, Duration};
use hearth_api::events::Change;
use hearth_ui::format::{short_id, state_words};
use hearth_ui::model::{FeedLine, Overview, Spend};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::task;
use crate::error::ApiResult;
use crate::services::billing::{self, GroupBy, Scope, UsageRequest};
use crate::state::AppState;

/// Events read from the backlog to find [`Overview::FEED`] lines (progress of one task is
/// shown once, its newest).
const SCANNED: usize = 200;

pub async fn spend(state: &AppState, tenant: Uuid) -> ApiResult<Spend> {
    let now = state.clock.now();
    let today = now.date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let from = month_start
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let next_month = if month_start.month() == 12 {
        month_start
            .with_year(month_start.year() + 1)
            .and_then(|d| d.with_month(1))
    } else {
        month_start.with_month(month_start.month() + 1)
    }
    .unwrap_or(month_start + Duration::days(31));
    let to = next_month.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let report = billing::usage(
        &state.db,
        &UsageRequest {
            scope: Scope::Tenant(tenant),
            from,
            to,
            group_by: GroupBy::Day,
            now,
            currency: state.settings.currency.clone(),
        },
    )
    .await?;
    let today_text = today.format("%Y-%m-%d").to_string();
    let today_cost = report
        .items
        .iter()
        .find(|l| l.day.as_deref() == Some(today_text.as_str()))
        .map_or_else(|| "0".to_owned(), |l| l.figures.cost.clone());
    let budget = super::billing::budget_lines(state, tenant, 1)
        .await?
        .into_iter()
        .next();
    Ok(Spend {
        today: today_cost,
        month: report.totals.cost,
        currency: report.currency,
        budget,
    })
}

/// The tenant's newest events in words, newest first. `pools`: the tenant's pool names.
pub async fn feed(
    state: &AppState,
    tenant: Uuid,
    pools: &HashMap<Uuid, String>,
) -> ApiResult<Vec<FeedLine>> {
    let events = state.feed.logs.newest(tenant, SCANNED);
    let mut seen_progress = std::collections::HashSet::new();
    let mut picked = Vec::new();
    for e in events {
        if let Change::TaskProgress { task, .. } = &e.change
            && !seen_progress.insert(*task)
        {
            continue;
        }
        picked.push(e);
        if picked.len() == Overview::FEED {
            break;
        }
    }
    let task_ids: Vec<Uuid> = picked
        .iter()
        .filter_map(|e| match &e.change {
            Change::TaskProgress { task, .. } | Change::InstanceEnded { task, .. } => Some(*task),
            _ => None,
        })
        .collect();
    let tasks: HashMap<Uuid, String> = if task_ids.is_empty() {
        HashMap::new()
    } else {
        task::Entity::find()
            .select_only()
            .column(task::Column::Id)
            .column(task::Column::Name)
            .filter(task::Column::TenantId.eq(tenant))
            .filter(task::Column::Id.is_in(task_ids))
            .into_tuple()
            .all(&state.db)
            .await?
            .into_iter()
            .collect()
    };
    let pool_name = |p: &Uuid| {
        pools
            .get(p)
            .cloned()
            .unwrap_or_else(|| short_id(&p.to_string()).to_owned())
    };
    let task_name = |t: &Uuid| {
        tasks
            .get(t)
            .cloned()
            .unwrap_or_else(|| short_id(&t.to_string()).to_owned())
    };
    Ok(picked
        .iter()
        .map(|e| {
            let (text, href) = match &e.change {
                Change::Pool {
                    pool,
                    state,
                    target_slots,
                } => (
                    format!(
                        "pool {}: {}, target {target_slots} slots",
                        pool_name(pool),
                        state_words(state)
                    ),
                    Some(format!("/ui/pools/{pool}")),
                ),
                Change::Node { pool, node, state } => (
                    format!(
                        "node {} of pool {}: {}",
                        short_id(&node.to_string()),
                        pool_name(pool),
                        state_words(state)
                    ),
                    Some(format!("/ui/pools/{pool}")),
                ),
                Change::TaskProgress {
                    task,
                    state,
                    queued,
                    assigned,
                    executing,
                    succeeded,
                    failed,
                    ..
                } => (
                    format!(
                        "task {}: {}: {succeeded} succeeded, {failed} failed, {} running, {queued} queued",
                        task_name(task),
                        state_words(state),
                        assigned + executing
                    ),
                    Some(format!("/ui/tasks/{task}")),
                ),
                Change::InstanceEnded {
                    task,
                    instance_id,
                    outcome,
                    exit_code,
                    ..
                } => (
                    format!(
                        "instance {instance_id} of task {}: {}{}",
                        task_name(task),
                        state_words(outcome),
                        exit_code.map(|c| format!(", exit code {c}")).unwrap_or_default()
                    ),
                    Some(format!("/ui/tasks/{task}?instance={instance_id}")),
                ),
                Change::Decision {
                    pool,
                    action,
                    target_slots,
                    reason,
                    ..
                } => (
                    format!(
                        "pool {}: {action}, target {target_slots} slots: {reason}",
                        pool_name(pool)
                    ),
                    Some(format!("/ui/pools/{pool}")),
                ),
                Change::BudgetAlert {
                    name,
                    threshold,
                    consumed,
                    amount,
                    currency,
                    ..
                } => (
                    format!(
                        "budget {name}: {:.0}% crossed ({consumed} of {amount} {currency})",
                        threshold * 100.0
                    ),
                    Some("/ui/billing".to_owned()),
                ),
            };
            FeedLine {
                at: e.at.format("%H:%M:%S").to_string(),
                kind: e.change.kind().to_owned(),
                text,
                href,
            }
        })
        .collect())
}
