//! What agents report about instances, and what follows: execution intervals, output kept
//! (bounded, oldest cut), retries, task states, dependencies, job completion.

use chrono::{DateTime, Utc};
use hearth_core::model::InstanceState;
use hearth_core::task_state::{TaskEvent, TaskState, task_transition};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::{instance, instance_execution, job, node, pool, task};
use crate::error::{ApiError, ApiResult};
use crate::services::tasks;
use crate::state::AppState;

/// Kept output per instance and stream; older bytes are cut first.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

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

/// The agent started an instance's process.
pub async fn started(
    state: &AppState,
    node_id: Uuid,
    id: Uuid,
    attempt: Option<i32>,
) -> ApiResult<()> {
    let now = state.clock.now();
    let txn = crate::db::write(&state.db).await?;
    let inst = load_for_node(&txn, node_id, id)
        .await
        .map_err(|_| ApiError::Conflict("instance is no longer assigned to this node".into()))?;
    match inst_state(&inst) {
        // A repeated report of the attempt already running.
        InstanceState::Executing if attempt.is_none_or(|a| a == inst.attempts) => return Ok(()),
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
    active.update(&txn).await?;
    instance_execution::ActiveModel {
        id: Set(Uuid::new_v4()),
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
    .insert(&txn)
    .await?;
    refresh_task_state(&txn, inst.task_id, now).await?;
    txn.commit().await?;
    Ok(())
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
    let txn = crate::db::write(&state.db).await?;
    let inst = load_for_node(&txn, node_id, id).await?;
    let mut active = inst.clone().into_active_model();
    with_output(&mut active, &inst, stdout, stderr);
    active.update(&txn).await?;
    txn.commit().await?;
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
    let txn = crate::db::write(&state.db).await?;
    let Ok(inst) = load_for_node(&txn, node_id, id).await else {
        return Ok(());
    };
    let current = inst_state(&inst);
    let this_attempt = match current {
        InstanceState::Executing => report.attempt.is_none_or(|a| a == inst.attempts),
        // Ended before `/started` got through (spawn failure): the attempt it was given.
        InstanceState::Assigned => report.attempt.is_none_or(|a| a == inst.attempts + 1),
        _ => false,
    };
    if !this_attempt {
        return Ok(());
    }
    let t = task::Entity::find_by_id(inst.task_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    let task_state = tasks::state_of(&t);
    let cancelled = matches!(
        task_state,
        TaskState::PendingCancel | TaskState::Cancelled | TaskState::PendingDelete
    );
    let succeeded = report.exit_code == Some(0) && report.signal.is_none();
    let outcome = if cancelled {
        InstanceState::Cancelled
    } else if succeeded {
        InstanceState::Succeeded
    } else if retry_allowed(&txn, &t, &inst).await? {
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
    active.update(&txn).await?;
    instance_execution::Entity::update_many()
        .col_expr(instance_execution::Column::EndedAt, Expr::value(now))
        .col_expr(
            instance_execution::Column::ExitCode,
            Expr::value(report.exit_code),
        )
        .col_expr(
            instance_execution::Column::Outcome,
            Expr::value(if outcome == InstanceState::Queued {
                "retried"
            } else {
                outcome.as_str()
            }),
        )
        .filter(instance_execution::Column::InstanceRowId.eq(inst.id))
        .filter(instance_execution::Column::EndedAt.is_null())
        .exec(&txn)
        .await?;
    mark_idle_if_free(&txn, node_id, now).await?;
    refresh_task_state(&txn, t.id, now).await?;
    txn.commit().await?;
    Ok(())
}

/// A node with no instance left is idle from now (for the idle-time rule of scale-down).
async fn mark_idle_if_free(
    db: &impl ConnectionTrait,
    node_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if super::nodes::busy_slots(db, node_id).await? == 0 {
        node::Entity::update_many()
            .col_expr(node::Column::IdleSince, Expr::value(now))
            .filter(node::Column::Id.eq(node_id))
            .filter(node::Column::IdleSince.is_null())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The retry limits of a task: its own `retrySettings`, else its pool's defaults.
async fn retry_limits(db: &impl ConnectionTrait, t: &task::Model) -> ApiResult<(i32, Option<i32>)> {
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
/// the task's total (retries already used by all its instances).
async fn retry_allowed(
    db: &impl ConnectionTrait,
    t: &task::Model,
    inst: &instance::Model,
) -> ApiResult<bool> {
    let (per_instance, total) = retry_limits(db, t).await?;
    let used_by_instance = (inst.attempts - 1).max(0);
    if used_by_instance >= per_instance {
        return Ok(false);
    }
    if let Some(total) = total {
        let used: i32 = tasks::instances(db, t.id)
            .await?
            .iter()
            .map(|i| (i.attempts - 1).max(0))
            .sum();
        if used >= total {
            return Ok(false);
        }
    }
    Ok(true)
}

/// An instance whose node was lost: back to the queue if retries remain, else Failed.
/// An instance that never started costs no retry.
pub async fn lose_instance(
    db: &impl ConnectionTrait,
    inst: &instance::Model,
    at: DateTime<Utc>,
    consume_retry: bool,
) -> ApiResult<()> {
    let t = task::Entity::find_by_id(inst.task_id).one(db).await?;
    let started = inst_state(inst) == InstanceState::Executing;
    let cancelled = t.as_ref().is_some_and(|t| {
        matches!(
            tasks::state_of(t),
            TaskState::PendingCancel | TaskState::Cancelled | TaskState::PendingDelete
        )
    });
    let requeue = match &t {
        _ if cancelled => false,
        _ if !started || !consume_retry => true,
        Some(t) => retry_allowed(db, t, inst).await?,
        None => false,
    };
    let mut active = inst.clone().into_active_model();
    if cancelled {
        active.state = Set(InstanceState::Cancelled.as_str().to_owned());
        active.ended_at = Set(Some(at));
    } else if requeue {
        active.state = Set(InstanceState::Queued.as_str().to_owned());
        active.node_id = Set(None);
        active.slot_index = Set(None);
        if started && !consume_retry {
            active.attempts = Set((inst.attempts - 1).max(0));
        }
    } else {
        active.state = Set(InstanceState::Failed.as_str().to_owned());
        active.ended_at = Set(Some(at));
    }
    active.update(db).await?;
    instance_execution::Entity::update_many()
        .col_expr(instance_execution::Column::EndedAt, Expr::value(at))
        .col_expr(instance_execution::Column::Outcome, Expr::value("lost"))
        .filter(instance_execution::Column::InstanceRowId.eq(inst.id))
        .filter(instance_execution::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Re-derives a task's state from its instances, and completes its job when it was the
/// last one running.
pub async fn refresh_task_state(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    // Row lock: sibling instances reporting at once re-derive one after the other, each
    // seeing the other's change (PostgreSQL; SQLite's IMMEDIATE transactions already queue).
    let Some(t) = task::Entity::find_by_id(task_id)
        .lock_exclusive()
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let current = tasks::state_of(&t);
    let all = tasks::instances(db, task_id).await?;
    let tally = tasks::tally(&all);
    let next = match current {
        TaskState::PendingCancel | TaskState::PendingDelete if tally.unfinished() == 0 => {
            task_transition(TaskState::PendingCancel, &TaskEvent::AllInstancesStopped)
                .unwrap_or(TaskState::Cancelled)
        }
        s if s.is_finished() => s,
        s => task_transition(s, &TaskEvent::Progress(tally)).unwrap_or(s),
    };
    if next == current {
        return Ok(());
    }
    if current == TaskState::PendingDelete {
        // Its deletion was waiting for the processes to stop.
        task::Entity::delete_by_id(task_id).exec(db).await?;
    } else {
        let mut active = t.clone().into_active_model();
        tasks::set_state(&mut active, &t, next, now);
        active.updated_at = Set(now);
        active.update(db).await?;
    }
    if let (true, Some(job_id)) = (next.is_finished(), t.job_id) {
        complete_job_if_done(db, job_id, now).await?;
    }
    Ok(())
}

async fn complete_job_if_done(
    db: &impl ConnectionTrait,
    job_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let Some(j) = job::Entity::find_by_id(job_id).one(db).await? else {
        return Ok(());
    };
    if j.state != crate::services::jobs::TERMINATING {
        return Ok(());
    }
    let open = crate::services::jobs::tasks_of(db, job_id)
        .await?
        .iter()
        .any(|t| !tasks::state_of(t).is_finished());
    if !open {
        let mut active = j.clone().into_active_model();
        active.previous_state = Set(Some(j.state.clone()));
        active.previous_state_transition_time = Set(Some(j.state_transition_time));
        active.state = Set(crate::services::jobs::COMPLETED.to_owned());
        active.state_transition_time = Set(now);
        active.updated_at = Set(now);
        active.update(db).await?;
    }
    Ok(())
}

/// Settles the dependencies of a pool's waiting tasks: fulfilled ones become dispatchable,
/// ones that can no longer be fulfilled are cancelled with an error saying why.
pub async fn settle_dependencies(state: &AppState, pool_id: Uuid) -> ApiResult<()> {
    let waiting: Vec<task::Model> = task::Entity::find()
        .filter(task::Column::PoolId.eq(pool_id))
        .filter(task::Column::State.eq(TaskState::Submitted.as_str()))
        .all(&state.db)
        .await?
        .into_iter()
        .filter(|t| t.dependencies.get("state").and_then(Value::as_str) == Some("waiting"))
        .collect();
    for t in waiting {
        let mut fulfilled = true;
        let mut broken: Option<String> = None;
        for (dep, wanted) in dependency_list(&t.dependencies) {
            let dep_task = task::Entity::find_by_id(dep)
                .filter(task::Column::TenantId.eq(t.tenant_id))
                .one(&state.db)
                .await?;
            let Some(dep_task) = dep_task else {
                broken = Some(format!("dependency {dep} was deleted"));
                break;
            };
            let dep_state = tasks::state_of(&dep_task);
            if !dep_state.is_finished() {
                fulfilled = false;
                continue;
            }
            let word = match dep_state {
                TaskState::Success => "success",
                TaskState::Failure => "failure",
                _ => "cancelled",
            };
            if !wanted.iter().any(|w| w.eq_ignore_ascii_case(word)) {
                broken = Some(format!(
                    "dependency {dep} ended {} but {} was required",
                    dep_state.as_str(),
                    wanted.join(" or ")
                ));
                break;
            }
        }
        let now = state.clock.now();
        if let Some(why) = broken {
            let txn = crate::db::write(&state.db).await?;
            let mut deps = t.dependencies.clone();
            deps["state"] = json!("dependencyConditionsNotFulfilled");
            let mut active = t.clone().into_active_model();
            active.dependencies = Set(deps);
            active.errors = Set(json!([{"code": "dependency", "message": why, "debug": null}]));
            let updated = active.update(&txn).await?;
            tasks::abort_in(&txn, &updated, now).await?;
            txn.commit().await?;
        } else if fulfilled {
            let mut deps = t.dependencies.clone();
            deps["state"] = json!("dependencyConditionsFulfilled");
            let mut active = t.into_active_model();
            active.dependencies = Set(deps);
            active.update(&state.db).await?;
        }
    }
    Ok(())
}

/// (task, accepted final states) pairs of a stored dependency object.
fn dependency_list(deps: &Value) -> Vec<(Uuid, Vec<String>)> {
    let mut out = Vec::new();
    for d in deps
        .get("dependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = d.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            out.push((id, vec!["success".to_owned()]));
        }
    }
    for d in deps
        .get("advancedDependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = d
            .get("taskUuid")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        let wanted: Vec<String> = d
            .get("taskFinalStateCondition")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .filter(|v: &Vec<String>| !v.is_empty())
            .unwrap_or_else(|| vec!["success".to_owned()]);
        out.push((id, wanted));
    }
    out
}

/// Tasks that wait for their dependencies: their queued instances are not demand yet.
pub fn is_waiting(t: &task::Model) -> bool {
    t.dependencies.get("state").and_then(Value::as_str) == Some("waiting")
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
