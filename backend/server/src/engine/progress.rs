//! A task's progress: its state follows its instance counters, its job completes with its
//! last task, and tasks waiting on dependencies are released or cancelled when those end.

use chrono::{DateTime, Utc};
use hearth_core::task_state::{TaskEvent, TaskState, task_transition};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QuerySelect, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::{instance, job, task};
use crate::error::ApiResult;
use crate::services::tasks;
use crate::state::AppState;

/// Re-derives a task's state from its counters, and completes its job when it was the
/// last one running. Answers the task's row as it now is (`None` once deleted), for the
/// change to be announced after the commit.
pub async fn refresh_task_state(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<Option<task::Model>> {
    // Row lock: sibling instances reporting at once re-derive one after the other, each
    // seeing the other's change (PostgreSQL; SQLite's IMMEDIATE transactions already queue).
    let Some(t) = task::Entity::find_by_id(task_id)
        .lock_exclusive()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    settle_task_state(db, t, now).await
}

/// The task's state derived after its counters moved: from the row the move answered (the
/// row locked by that update), or read again when nothing moved.
pub async fn settle_moved(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    moved: Option<task::Model>,
    now: DateTime<Utc>,
) -> ApiResult<Option<task::Model>> {
    match moved {
        Some(t) => settle_task_state(db, t, now).await,
        None => refresh_task_state(db, task_id, now).await,
    }
}

/// `refresh_task_state` from a row already read and locked.
async fn settle_task_state(
    db: &impl ConnectionTrait,
    t: task::Model,
    now: DateTime<Utc>,
) -> ApiResult<Option<task::Model>> {
    let task_id = t.id;
    let current = tasks::state_of(&t);
    let tally = tasks::tally_of(&t);
    let next = match current {
        TaskState::PendingCancel | TaskState::PendingDelete if tally.unfinished() == 0 => {
            task_transition(TaskState::PendingCancel, &TaskEvent::AllInstancesStopped)
                .unwrap_or(TaskState::Cancelled)
        }
        s if s.is_finished() => s,
        s => task_transition(s, &TaskEvent::Progress(tally)).unwrap_or(s),
    };
    if next == current {
        return Ok(Some(t));
    }
    let after = if current == TaskState::PendingDelete {
        // Its deletion was waiting for the processes to stop.
        task::Entity::delete_by_id(task_id).exec(db).await?;
        None
    } else {
        let mut active = t.clone().into_active_model();
        tasks::set_state(&mut active, &t, next, now);
        active.updated_at = Set(now);
        Some(active.update(db).await?)
    };
    if let (true, Some(job_id)) = (next.is_finished(), t.job_id) {
        complete_job_if_done(db, job_id, now).await?;
    }
    Ok(after)
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
    let open = task::Entity::find()
        .filter(task::Column::JobId.eq(job_id))
        .filter(task::Column::State.is_not_in([
            TaskState::Success.as_str(),
            TaskState::Failure.as_str(),
            TaskState::Cancelled.as_str(),
            TaskState::PendingDelete.as_str(),
        ]))
        .count(db)
        .await?
        > 0;
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
    if state.known_without_waiting(pool_id) {
        return Ok(());
    }
    let generation = state.waiting_generation();
    let waiting: Vec<task::Model> = task::Entity::find()
        .filter(task::Column::PoolId.eq(pool_id))
        .filter(task::Column::Waiting.eq(true))
        .all(&state.db)
        .await?;
    if waiting.is_empty() {
        state.note_without_waiting(pool_id, generation);
    }
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
            let txn = state.write().await?;
            let mut deps = t.dependencies.clone();
            deps["state"] = json!("dependencyConditionsNotFulfilled");
            let mut active = t.clone().into_active_model();
            active.dependencies = Set(deps);
            active.waiting = Set(false);
            active.errors = Set(json!([{"code": "dependency", "message": why, "debug": null}]));
            let updated = active.update(&txn).await?;
            tasks::abort_in(&txn, &updated, now).await?;
            txn.commit().await?;
        } else if fulfilled {
            let mut deps = t.dependencies.clone();
            deps["state"] = json!("dependencyConditionsFulfilled");
            let txn = state.write().await?;
            let task_id = t.id;
            let mut active = t.into_active_model();
            active.dependencies = Set(deps);
            active.waiting = Set(false);
            active.update(&txn).await?;
            // Released to dispatch: once per task, not per instance event.
            instance::Entity::update_many()
                .col_expr(instance::Column::Held, Expr::value(false))
                .filter(instance::Column::TaskId.eq(task_id))
                .exec(&txn)
                .await?;
            txn.commit().await?;
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
