//! An instance's lifecycle after dispatch: the agent starts it, streams its output, reports
//! its end; a lost node gives it back. Each change updates the instance row, its execution
//! interval and its task's counters in one transaction, then the task's state follows from
//! the counters: the cost of one report never depends on the size of the task.

use chrono::{DateTime, Utc};
use hearth_core::model::InstanceState;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::progress::settle_moved;
use crate::entities::{instance, instance_execution, node, pool, task};
use crate::error::{ApiError, ApiResult};
use crate::feed::Change;
use crate::services::tasks;
use crate::state::AppState;

/// Kept output per instance and stream; older bytes are cut first.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// States in which an instance holds a slot of its node.
pub const ON_SLOT: [&str; 2] = ["Assigned", "Executing"];

fn inst_state(i: &instance::Model) -> InstanceState {
    i.state.parse().unwrap_or(InstanceState::Failed)
}

/// Appends to a bounded buffer; returns the new text and how many bytes were cut.
pub fn append_bounded(current: &str, chunk: &str, cap: usize) -> (String, usize) {
    let mut text = String::with_capacity(current.len() + chunk.len());
    text.push_str(current);
    text.push_str(chunk);
    if text.len() <= cap {
        return (text, 0);
    }
    let mut cut = text.len() - cap;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    (text[cut..].to_owned(), cut)
}

fn with_output(
    active: &mut instance::ActiveModel,
    current: &instance::Model,
    stdout: &str,
    stderr: &str,
) {
    if !stdout.is_empty() {
        let (text, cut) = append_bounded(&current.stdout, stdout, MAX_OUTPUT_BYTES);
        active.stdout = Set(text);
        active.stdout_dropped = Set(current.stdout_dropped + cut as i64);
    }
    if !stderr.is_empty() {
        let (text, cut) = append_bounded(&current.stderr, stderr, MAX_OUTPUT_BYTES);
        active.stderr = Set(text);
        active.stderr_dropped = Set(current.stderr_dropped + cut as i64);
    }
}

async fn load_for_node(
    db: &impl ConnectionTrait,
    node_id: Uuid,
    id: Uuid,
) -> ApiResult<instance::Model> {
    instance::Entity::find_by_id(id)
        .filter(instance::Column::NodeId.eq(node_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("instance"))
}

/// Instances on a node's slots right now.
pub async fn busy_slots(db: &impl ConnectionTrait, node_id: Uuid) -> ApiResult<u64> {
    Ok(instance::Entity::find()
        .filter(instance::Column::NodeId.eq(node_id))
        .filter(instance::Column::State.is_in(ON_SLOT))
        .count(db)
        .await?)
}

/// The agent started an instance's process.
pub async fn started(
    state: &AppState,
    node_id: Uuid,
    id: Uuid,
    attempt: Option<i32>,
) -> ApiResult<()> {
    let txn = state.write().await?;
    let (progress, wait) = started_in(&txn, state.clock.now(), node_id, id, attempt).await?;
    txn.commit().await?;
    if let Some(wait) = wait {
        state.metrics.submit_to_start.observe(wait);
    }
    if let Some(t) = progress {
        state.announce_progress(&t);
    }
    Ok(())
}

/// `started` inside the caller's transaction. A refusal (409) is decided before anything is
/// written. Answers the task's row after the change, to announce once committed, and the
/// seconds the instance waited since its task's submission when this is its first start.
pub async fn started_in(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    node_id: Uuid,
    id: Uuid,
    attempt: Option<i32>,
) -> ApiResult<(Option<task::Model>, Option<f64>)> {
    let inst = load_for_node(txn, node_id, id)
        .await
        .map_err(|_| ApiError::Conflict("instance is no longer assigned to this node".into()))?;
    match inst_state(&inst) {
        // A repeated report of the attempt already running.
        InstanceState::Executing if attempt.is_none_or(|a| a == inst.attempts) => {
            return Ok((None, None));
        }
        InstanceState::Assigned if attempt.is_none_or(|a| a == inst.attempts + 1) => {}
        other => {
            return Err(ApiError::Conflict(format!(
                "instance is {}: it must not run",
                other.as_str()
            )));
        }
    }
    let attempt = inst.attempts + 1;
    let mut active = inst.clone().into_active_model();
    active.state = Set(InstanceState::Executing.as_str().to_owned());
    active.started_at = Set(Some(now));
    active.ended_at = Set(None);
    active.attempts = Set(attempt);
    active.update(txn).await?;
    instance_execution::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(inst.tenant_id),
        pool_id: Set(inst.pool_id),
        node_id: Set(node_id),
        task_id: Set(inst.task_id),
        instance_row_id: Set(inst.id),
        instance_id: Set(inst.instance_id),
        attempt: Set(attempt),
        slot_index: Set(inst.slot_index.unwrap_or(0)),
        started_at: Set(now),
        ended_at: Set(None),
        exit_code: Set(None),
        outcome: Set(None),
    }
    .insert(txn)
    .await?;
    // A later attempt takes one of the task's retries.
    let moved = tasks::shift_many(
        txn,
        inst.task_id,
        &[(InstanceState::Assigned, -1), (InstanceState::Executing, 1)],
        i32::from(attempt > 1),
    )
    .await?;
    let wait = moved
        .as_ref()
        .filter(|_| attempt == 1)
        .map(|t| hearth_core::clock::seconds_between(t.created_at, now));
    Ok((settle_moved(txn, inst.task_id, moved, now).await?, wait))
}

/// Output written since the agent's previous report.
pub async fn output(
    state: &AppState,
    node_id: Uuid,
    id: Uuid,
    stdout: &str,
    stderr: &str,
) -> ApiResult<()> {
    if stdout.is_empty() && stderr.is_empty() {
        return Ok(());
    }
    let txn = state.write().await?;
    let inst = load_for_node(&txn, node_id, id).await?;
    let mut active = inst.clone().into_active_model();
    with_output(&mut active, &inst, stdout, stderr);
    active.update(&txn).await?;
    txn.commit().await?;
    state.bells.ring((inst.task_id, inst.instance_id));
    Ok(())
}

pub struct Finish<'a> {
    /// The attempt that ended; a late report of an earlier attempt changes nothing.
    pub attempt: Option<i32>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: &'a str,
    pub stderr: &'a str,
}

/// The instance's process ended. Reported twice (agent retry) is a no-op.
pub async fn finished(
    state: &AppState,
    node_id: Uuid,
    id: Uuid,
    report: Finish<'_>,
) -> ApiResult<()> {
    let now = state.clock.now();
    let txn = state.write().await?;
    let changes = finished_in(&txn, now, node_id, id, report).await?;
    txn.commit().await?;
    count_ends(state, &changes);
    for (tenant, change) in changes {
        state.announce(tenant, change);
    }
    mark_idle_if_free(&state.db, node_id, now).await?;
    Ok(())
}

/// `finished` inside the caller's transaction; the caller marks the node idle after
/// committing (`mark_idle_if_free`) and announces the changes answered (tenant, change).
pub async fn finished_in(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    node_id: Uuid,
    id: Uuid,
    report: Finish<'_>,
) -> ApiResult<Vec<(Uuid, Change)>> {
    let Ok(inst) = load_for_node(txn, node_id, id).await else {
        return Ok(vec![]);
    };
    let current = inst_state(&inst);
    let this_attempt = match current {
        InstanceState::Executing => report.attempt.is_none_or(|a| a == inst.attempts),
        // Ended before `/started` got through (spawn failure): the attempt it was given.
        InstanceState::Assigned => report.attempt.is_none_or(|a| a == inst.attempts + 1),
        _ => false,
    };
    if !this_attempt {
        return Ok(vec![]);
    }
    // Locked before deciding: two siblings failing at once must not both take the last
    // retry of the task.
    let t = tasks::lock(txn, inst.task_id)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    let succeeded = report.exit_code == Some(0) && report.signal.is_none();
    let outcome = if tasks::is_stopping(&t) {
        InstanceState::Cancelled
    } else if succeeded {
        InstanceState::Succeeded
    } else if retry_allowed(txn, &t, &inst).await? {
        InstanceState::Queued
    } else {
        InstanceState::Failed
    };
    let mut active = inst.clone().into_active_model();
    with_output(&mut active, &inst, report.stdout, report.stderr);
    active.exit_code = Set(report.exit_code.or(report.signal.map(|s| 128 + s)));
    active.state = Set(outcome.as_str().to_owned());
    if outcome == InstanceState::Queued {
        active.node_id = Set(None);
        active.slot_index = Set(None);
    } else {
        active.ended_at = Set(Some(now));
    }
    active.update(txn).await?;
    close_executions(
        txn,
        inst.id,
        now,
        report.exit_code,
        execution_label(outcome),
    )
    .await?;
    let shifted = tasks::shift(txn, t.id, current, outcome, 1).await?;
    let mut changes = vec![(
        inst.tenant_id,
        crate::feed::instance_ended(
            inst.pool_id,
            inst.task_id,
            inst.instance_id,
            outcome.as_str(),
            report.exit_code,
            report.signal,
        ),
    )];
    if let Some(row) = settle_moved(txn, t.id, shifted, now).await? {
        changes.push((row.tenant_id, crate::feed::progress_of(&row)));
    }
    Ok(changes)
}

/// Counts the instance ends among committed changes (`hearth_instances_finished_total`).
pub fn count_ends(state: &AppState, changes: &[(Uuid, Change)]) {
    for (_, change) in changes {
        if let Change::InstanceEnded { outcome, .. } = change
            && let Ok(outcome) = outcome.parse()
        {
            state.metrics.instance_ended(outcome);
        }
    }
}

/// What an execution records of its outcome: a requeue is a retry.
pub(super) fn execution_label(outcome: InstanceState) -> &'static str {
    if outcome == InstanceState::Queued {
        "retried"
    } else {
        outcome.as_str()
    }
}

/// Ends the open execution interval of an instance, never before it started.
async fn close_executions(
    db: &impl ConnectionTrait,
    instance_row: Uuid,
    at: DateTime<Utc>,
    exit_code: Option<i32>,
    outcome: &str,
) -> ApiResult<()> {
    let open = instance_execution::Entity::find()
        .filter(instance_execution::Column::InstanceRowId.eq(instance_row))
        .filter(instance_execution::Column::EndedAt.is_null())
        .all(db)
        .await?;
    for e in open {
        instance_execution::Entity::update_many()
            .col_expr(
                instance_execution::Column::EndedAt,
                Expr::value(at.max(e.started_at)),
            )
            .col_expr(instance_execution::Column::ExitCode, Expr::value(exit_code))
            .col_expr(instance_execution::Column::Outcome, Expr::value(outcome))
            .filter(instance_execution::Column::Id.eq(e.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A node with no instance left is idle from now (for the idle-time rule of scale-down).
/// One statement, outside the report's transaction: a dispatch committing at the same time
/// either sees it and clears it, or makes the node busy before it runs.
pub async fn mark_idle_if_free(
    db: &impl ConnectionTrait,
    node_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    use sea_orm::sea_query::ExprTrait;
    let busy = Query::select()
        .expr(Expr::val(1))
        .from(instance::Entity)
        .and_where(instance::Column::NodeId.eq(node_id))
        .and_where(instance::Column::State.is_in(ON_SLOT))
        .to_owned();
    node::Entity::update_many()
        .col_expr(node::Column::IdleSince, Expr::value(now))
        .filter(node::Column::Id.eq(node_id))
        .filter(node::Column::IdleSince.is_null())
        .filter(Expr::exists(busy).not())
        .exec(db)
        .await?;
    Ok(())
}

/// The retry limits of a task: its own `retrySettings`, else its pool's defaults.
pub(super) async fn retry_limits(
    db: &impl ConnectionTrait,
    t: &task::Model,
) -> ApiResult<(i32, Option<i32>)> {
    if let (Some(per_instance), Some(total)) = (t.max_per_instance_retries, t.max_total_retries) {
        return Ok((per_instance, Some(total)));
    }
    let pool_defaults = pool::Entity::find_by_id(t.pool_id)
        .one(db)
        .await?
        .and_then(|p| p.spec.get("defaultRetrySettings").cloned())
        .unwrap_or(Value::Null);
    let pool_value = |key: &str| {
        pool_defaults
            .get(key)
            .and_then(Value::as_i64)
            .map(|v| v as i32)
    };
    let per_instance = t
        .max_per_instance_retries
        .or_else(|| pool_value("maxPerInstanceRetries"))
        .unwrap_or(0);
    let total = t
        .max_total_retries
        .or_else(|| pool_value("maxTotalRetries"));
    Ok((per_instance, total))
}

/// Whether a failed attempt of `inst` may run again: under its per-instance limit and under
/// the task's total (the retries its instances have taken, from the task's counter, and
/// those granted and not started yet).
async fn retry_allowed(
    db: &impl ConnectionTrait,
    t: &task::Model,
    inst: &instance::Model,
) -> ApiResult<bool> {
    let limits = retry_limits(db, t).await?;
    let pending = match limits.1 {
        Some(_) => granted_retries(db, t.id, &[inst.id]).await?,
        None => 0,
    };
    Ok(retry_allowed_by(
        limits,
        inst.attempts,
        t.retries_used + pending,
    ))
}

/// Retries of a task granted and not started yet: its instances back in the queue, or
/// placed, after an attempt (a retry counts in `retries_used` when it starts). Without
/// them two instances failing before either retry starts would both take the last retry
/// of the task. `except`: instances the caller decides about itself.
pub(super) async fn granted_retries(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    except: &[Uuid],
) -> ApiResult<i32> {
    let mut query = instance::Entity::find()
        .filter(instance::Column::TaskId.eq(task_id))
        .filter(instance::Column::State.is_in([
            InstanceState::Queued.as_str(),
            InstanceState::Assigned.as_str(),
        ]))
        .filter(instance::Column::Attempts.gte(1));
    if !except.is_empty() {
        query = query.filter(instance::Column::Id.is_not_in(except.iter().copied()));
    }
    Ok(query.count(db).await? as i32)
}

/// The retry rule itself: an instance at attempt `attempts` may run again while it is under
/// its per-instance limit and its task (`retries_used` so far) under the total.
pub(super) fn retry_allowed_by(
    (per_instance, total): (i32, Option<i32>),
    attempts: i32,
    retries_used: i32,
) -> bool {
    let used_by_instance = (attempts - 1).max(0);
    used_by_instance < per_instance && total.is_none_or(|total| retries_used < total)
}

/// An instance whose node was lost: back to the queue if retries remain, else Failed.
/// An instance that never started costs no retry. Answers the state it was left in; changes
/// nothing (and answers `None`) when the instance has left that node meanwhile (a report
/// committed first).
pub async fn lose_instance(
    db: &impl ConnectionTrait,
    inst: &instance::Model,
    at: DateTime<Utc>,
    consume_retry: bool,
) -> ApiResult<Option<InstanceState>> {
    let Some(t) = tasks::lock(db, inst.task_id).await? else {
        return Ok(None);
    };
    let Some(inst) = instance::Entity::find_by_id(inst.id)
        .filter(instance::Column::NodeId.eq(inst.node_id))
        .filter(instance::Column::State.is_in(ON_SLOT))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let current = inst_state(&inst);
    let started = current == InstanceState::Executing;
    let cancelled = tasks::is_stopping(&t);
    let requeue = if cancelled {
        false
    } else if !started || !consume_retry {
        true
    } else {
        retry_allowed(db, &t, &inst).await?
    };
    let mut active = inst.clone().into_active_model();
    let mut retries = 0;
    let next = if cancelled {
        active.ended_at = Set(Some(at));
        InstanceState::Cancelled
    } else if requeue {
        active.node_id = Set(None);
        active.slot_index = Set(None);
        if started && !consume_retry {
            // Our loss, not the user's: the attempt is given back.
            active.attempts = Set((inst.attempts - 1).max(0));
            if inst.attempts > 1 {
                retries = -1;
            }
        }
        InstanceState::Queued
    } else {
        active.ended_at = Set(Some(at));
        InstanceState::Failed
    };
    active.state = Set(next.as_str().to_owned());
    active.update(db).await?;
    close_executions(db, inst.id, at, None, "lost").await?;
    tasks::shift_many(db, t.id, &[(current, -1), (next, 1)], retries).await?;
    Ok(Some(next))
}

#[cfg(test)]
mod tests {
    use super::append_bounded;

    #[test]
    fn output_keeps_the_newest_bytes_within_the_cap() {
        assert_eq!(append_bounded("abc", "def", 10), ("abcdef".to_owned(), 0));
        assert_eq!(append_bounded("abc", "defgh", 4), ("efgh".to_owned(), 4));
    }

    #[test]
    fn output_is_cut_on_a_character_boundary() {
        // "é" is two bytes: cutting 1 byte would split it, so 2 are cut.
        let (text, cut) = append_bounded("é", "ab", 3);
        assert_eq!((text.as_str(), cut), ("ab", 2));
    }
}
