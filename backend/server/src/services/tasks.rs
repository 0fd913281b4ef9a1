//! Tasks: submit (one or a bulk), read, abort, delete, output, list.

use chrono::{DateTime, Utc};
use hearth_core::model::InstanceState;
use hearth_core::pool_state::PoolState;
use hearth_core::ranges::{InstanceRanges, MAX_INSTANCES, format_ids};
use hearth_core::task_state::{InstanceTally, TaskEvent, TaskState, task_transition};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{body_id, json_of, required_name};
use crate::entities::{instance, job, pool, task};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::filter::Filterable;
use crate::wire::task::{Dependencies, ECHOED_KEYS, TaskBody, TaskFigures, task_answer};
use crate::wire::{constants_from, echoed, tags_from};
use hearth_api::qarnot::task::{CompletedInstance, RunningInstance, Task};

/// Instances inserted per statement: keeps SQLite under its bound-parameter limit.
const INSERT_CHUNK: usize = 500;

pub async fn load(db: &impl ConnectionTrait, tenant: Uuid, id: Uuid) -> ApiResult<task::Model> {
    task::Entity::find_by_id(id)
        .filter(task::Column::TenantId.eq(tenant))
        .filter(task::Column::State.ne(TaskState::PendingDelete.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))
}

pub fn state_of(t: &task::Model) -> TaskState {
    t.state.parse().unwrap_or(TaskState::Failure)
}

/// The task is being stopped or deleted: its instances must not go on (nor start).
pub fn is_stopping(t: &task::Model) -> bool {
    matches!(
        state_of(t),
        TaskState::PendingCancel | TaskState::Cancelled | TaskState::PendingDelete
    )
}

pub fn set_state(
    active: &mut task::ActiveModel,
    current: &task::Model,
    next: TaskState,
    now: DateTime<Utc>,
) {
    if current.state != next.as_str() {
        active.previous_state = Set(Some(current.state.clone()));
        active.previous_state_transition_time = Set(Some(current.state_transition_time));
        active.state = Set(next.as_str().to_owned());
        active.state_transition_time = Set(now);
        if next.is_finished() {
            active.end_date = Set(Some(now));
        }
    }
}

fn retry(v: Option<i64>, field: &str) -> ApiResult<Option<i32>> {
    match v {
        None => Ok(None),
        Some(n) if (0..=1000).contains(&n) => Ok(Some(n as i32)),
        Some(_) => Err(ApiError::field(field, "must be between 0 and 1000")),
    }
}

/// Checks a dependency list: every named task exists in this tenant.
async fn check_dependencies(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    deps: &Option<Dependencies>,
) -> ApiResult<Value> {
    let Some(deps) = deps else {
        return Ok(json!({"dependsOn": []}));
    };
    let simple = deps.depends_on.clone().unwrap_or_default();
    let advanced = deps.advanced_depends_on.clone().unwrap_or_default();
    if !simple.is_empty() && !advanced.is_empty() {
        return Err(ApiError::field(
            "dependencies",
            "give either dependsOn or advancedDependsOn, not both",
        ));
    }
    let mut ids = Vec::new();
    for (i, d) in simple.iter().enumerate() {
        ids.push((
            body_id(d, &format!("dependencies.dependsOn[{i}]"))?,
            format!("dependencies.dependsOn[{i}]"),
        ));
    }
    for (i, d) in advanced.iter().enumerate() {
        let field = format!("dependencies.advancedDependsOn[{i}]");
        ids.push((
            body_id(&d.task_uuid, &format!("{field}.taskUuid"))?,
            field.clone(),
        ));
        for cond in d.task_final_state_condition.iter().flatten() {
            if !["success", "failure", "cancelled"].contains(&cond.to_ascii_lowercase().as_str()) {
                return Err(ApiError::field(
                    &format!("{field}.taskFinalStateCondition"),
                    format!("must hold success, failure or cancelled, got '{cond}'"),
                ));
            }
        }
    }
    for (id, field) in &ids {
        if load(db, tenant_id, *id).await.is_err() {
            return Err(ApiError::NotFound(format!("{field}: task {id} not found")));
        }
    }
    Ok(json!({
        "dependsOn": simple,
        "advancedDependsOn": advanced,
        "state": if ids.is_empty() { "dependencyConditionsFulfilled" } else { "waiting" },
    }))
}

/// Which pool (and job) a task body targets; the pool must take tasks.
async fn resolve_target(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    body: &TaskBody,
) -> ApiResult<(pool::Model, Option<job::Model>)> {
    let job = match body.job_uuid.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => {
            let id = body_id(raw, "jobUuid")?;
            Some(super::lookup::job(db, tenant_id, id).await?)
        }
        None => None,
    };
    let pool_id = match (body.pool_uuid.as_deref().filter(|s| !s.is_empty()), &job) {
        (Some(raw), _) => body_id(raw, "poolUuid")?,
        (None, Some(j)) => j.pool_id.ok_or_else(|| {
            ApiError::field(
                "jobUuid",
                "names a job without a pool; give the job a poolUuid or the task one",
            )
        })?,
        (None, None) => {
            return Err(ApiError::field(
                "poolUuid",
                "is required: hearth runs tasks on pools (give poolUuid, or jobUuid of a job bound to a pool)",
            ));
        }
    };
    if let Some(j) = &job {
        if j.pool_id.is_some_and(|p| p != pool_id) {
            return Err(ApiError::field(
                "poolUuid",
                "differs from the pool of the job named by jobUuid",
            ));
        }
        if j.state != "Active" {
            return Err(ApiError::Conflict(format!(
                "job is {}: it takes no new task",
                j.state
            )));
        }
    }
    let pool = super::lookup::pool(db, tenant_id, pool_id).await?;
    let pool_state: PoolState = super::lookup::pool_state(&pool);
    if !pool_state.accepts_tasks() {
        return Err(ApiError::Conflict(format!(
            "pool is {}: it takes no new task",
            pool_state.as_str()
        )));
    }
    Ok((pool, job))
}

/// A task body checked and numbered, ready to be inserted (see `engine::submit`).
pub struct NewTask {
    pub id: Uuid,
    pub seq: i64,
    pub now: DateTime<Utc>,
    name: String,
    ranges: InstanceRanges,
    constants: Vec<crate::wire::KeyValue>,
    max_per_instance: Option<i32>,
    max_total: Option<i32>,
    echo: Value,
    body: TaskBody,
}

impl NewTask {
    /// The pool the body names itself (not through its job), if it is a uuid.
    pub fn named_pool(&self) -> Option<Uuid> {
        self.body
            .pool_uuid
            .as_deref()
            .and_then(|raw| Uuid::parse_str(raw).ok())
    }

    pub fn instance_count(&self) -> u32 {
        self.ranges.len()
    }
}

/// Checks a task body (every field error named) and gives the task its uuid and its place
/// in submission order. Reads nothing.
pub fn new_task(state: &AppState, body: TaskBody) -> ApiResult<NewTask> {
    let name = required_name(&body.name, "name")?;
    let ranges = match (&body.advanced_ranges, body.instance_count) {
        (Some(r), _) if !r.trim().is_empty() => InstanceRanges::parse(r)
            .map_err(|e| ApiError::field("advancedRanges", format!("is not valid: {e}")))?,
        (_, Some(n)) if n < 1 => return Err(ApiError::field("instanceCount", "must be >= 1")),
        (_, Some(n)) if n as u64 > MAX_INSTANCES => {
            return Err(ApiError::field(
                "instanceCount",
                format!("must be at most {MAX_INSTANCES}, got {n}"),
            ));
        }
        (_, Some(n)) => InstanceRanges::from_count(n as u32)
            .map_err(|e| ApiError::field("instanceCount", format!("is not valid: {e}")))?,
        (_, None) => {
            return Err(ApiError::field(
                "instanceCount",
                "is required (or advancedRanges such as \"0-9,20\")",
            ));
        }
    };
    let constants = constants_from(body.constants.clone(), "constants")?;
    let retry_settings = body.retry_settings.clone().unwrap_or_default();
    let max_per_instance = retry(
        retry_settings.max_per_instance_retries,
        "retrySettings.maxPerInstanceRetries",
    )?;
    let max_total = retry(
        retry_settings.max_total_retries,
        "retrySettings.maxTotalRetries",
    )?;
    let echo = echoed(&body.rest, ECHOED_KEYS);
    Ok(NewTask {
        id: Uuid::now_v7(),
        seq: state.next_seq(),
        now: state.clock.now(),
        name,
        ranges,
        constants,
        max_per_instance,
        max_total,
        echo,
        body,
    })
}

/// Where a new task goes, as read in its transaction.
pub struct Target {
    pub pool: pool::Model,
    job: Option<job::Model>,
    dependencies: Value,
    /// It waits on dependencies: its instances are held.
    pub waiting: bool,
}

/// Resolves a new task's pool and job, checks the tenant's quota and the dependencies, in
/// the transaction that will insert it.
pub async fn target_in(
    txn: &impl ConnectionTrait,
    tenant_id: Uuid,
    new: &NewTask,
) -> ApiResult<Target> {
    let (pool, job) = resolve_target(txn, tenant_id, &new.body).await?;
    super::quotas::check_new_task(txn, tenant_id, u64::from(new.ranges.len())).await?;
    let dependencies = check_dependencies(txn, tenant_id, &new.body.dependencies).await?;
    let waiting = dependencies.get("state").and_then(Value::as_str) == Some("waiting");
    Ok(Target {
        pool,
        job,
        dependencies,
        waiting,
    })
}

/// An instance a new task's insert put on a slot: (node, slot, instance uuid, instance id).
pub type OnSlot = (Uuid, i32, Uuid, i32);

/// Inserts a new task and its instances: the first ones on `slots` (the node and slot each
/// was given, in instance order) as `Assigned`, the rest queued, the task's counters and
/// derived state written to match. Answers the row and the instances put on slots.
pub async fn insert_in(
    txn: &impl ConnectionTrait,
    tenant_id: Uuid,
    new: &NewTask,
    target: &Target,
    slots: &[(Uuid, i32)],
) -> ApiResult<(task::Model, Vec<OnSlot>)> {
    let body = &new.body;
    let (now, task_id, seq, waiting) = (new.now, new.id, new.seq, target.waiting);
    let pool = &target.pool;
    let count = new.ranges.len();
    let placed = slots.len() as u32;
    let tally = InstanceTally {
        total: count,
        queued: count - placed,
        assigned: placed,
        ..InstanceTally::default()
    };
    let first = TaskState::Submitted;
    let derived = task_transition(first, &TaskEvent::Progress(tally)).unwrap_or(first);
    let row = task::ActiveModel {
        id: Set(task_id),
        tenant_id: Set(tenant_id),
        pool_id: Set(pool.id),
        job_id: Set(target.job.as_ref().map(|j| j.id)),
        seq: Set(seq),
        name: Set(new.name.clone()),
        shortname: Set(body.shortname.clone().filter(|s| !s.is_empty())),
        instance_count: Set(count as i32),
        advanced_ranges: Set(body
            .advanced_ranges
            .clone()
            .filter(|r| !r.trim().is_empty())),
        state: Set(derived.as_str().to_owned()),
        previous_state: Set((derived != first).then(|| first.as_str().to_owned())),
        state_transition_time: Set(now),
        previous_state_transition_time: Set((derived != first).then_some(now)),
        constants: Set(json_of(&new.constants)),
        tags: Set(json_of(&tags_from(body.tags.clone()))),
        labels: Set(json_of(&body.labels.clone().unwrap_or_default())),
        dependencies: Set(target.dependencies.clone()),
        max_per_instance_retries: Set(new.max_per_instance),
        max_total_retries: Set(new.max_total),
        spec: Set(json!({ "echo": new.echo })),
        errors: Set(json!([])),
        created_at: Set(now),
        updated_at: Set(now),
        end_date: Set(None),
        queued_count: Set((count - placed) as i32),
        assigned_count: Set(placed as i32),
        executing_count: Set(0),
        succeeded_count: Set(0),
        failed_count: Set(0),
        cancelled_count: Set(0),
        retries_used: Set(0),
        waiting: Set(waiting),
    }
    .insert(txn)
    .await?;
    let ids: Vec<u32> = new.ranges.ids().collect();
    let mut on_slots: Vec<OnSlot> = Vec::with_capacity(slots.len());
    for (offset, chunk) in ids.chunks(INSERT_CHUNK).enumerate() {
        let mut rows = Vec::with_capacity(chunk.len());
        for (k, &i) in chunk.iter().enumerate() {
            // Time-ordered: a task's instances are appended to the primary key's index in
            // order instead of scattered over its pages.
            let id = Uuid::now_v7();
            let slot = slots.get(offset * INSERT_CHUNK + k).copied();
            if let Some((node_id, slot_index)) = slot {
                on_slots.push((node_id, slot_index, id, i as i32));
            }
            let state = match slot {
                Some(_) => InstanceState::Assigned,
                None => InstanceState::Queued,
            };
            rows.push(instance::ActiveModel {
                id: Set(id),
                tenant_id: Set(tenant_id),
                pool_id: Set(pool.id),
                task_id: Set(task_id),
                instance_id: Set(i as i32),
                state: Set(state.as_str().to_owned()),
                attempts: Set(0),
                node_id: Set(slot.map(|(node_id, _)| node_id)),
                slot_index: Set(slot.map(|(_, slot_index)| slot_index)),
                exit_code: Set(None),
                started_at: Set(None),
                ended_at: Set(None),
                stdout: Set(String::new()),
                stderr: Set(String::new()),
                stdout_read_offset: Set(0),
                stderr_read_offset: Set(0),
                stdout_dropped: Set(0),
                stderr_dropped: Set(0),
                held: Set(waiting),
                task_seq: Set(seq),
            });
        }
        instance::Entity::insert_many(rows).exec(txn).await?;
    }
    Ok((row, on_slots))
}

/// The column counting a task's instances in `state`.
fn counter(state: InstanceState) -> task::Column {
    match state {
        InstanceState::Queued => task::Column::QueuedCount,
        InstanceState::Assigned => task::Column::AssignedCount,
        InstanceState::Executing => task::Column::ExecutingCount,
        InstanceState::Succeeded => task::Column::SucceededCount,
        InstanceState::Failed => task::Column::FailedCount,
        InstanceState::Cancelled => task::Column::CancelledCount,
    }
}

/// Records that `n` instances of a task moved from `from` to `to`, in the transaction that
/// moved them. Every instance state change goes through here, so the counters always equal
/// a recount of the instances (the tests check it).
pub async fn shift(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    from: InstanceState,
    to: InstanceState,
    n: u64,
) -> ApiResult<Option<task::Model>> {
    let n = n as i32;
    shift_many(db, task_id, &[(from, -n), (to, n)], 0).await
}

/// Applies net counter changes of many instances of one task at once (a batch of reports):
/// `deltas` per instance state, plus the retries taken. One statement whatever the batch,
/// answering the task's row as it left it (`None`: nothing to change, or no such task), from
/// which its state is derived next without reading it again.
pub async fn shift_many(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    deltas: &[(InstanceState, i32)],
    retries: i32,
) -> ApiResult<Option<task::Model>> {
    use sea_orm::FromQueryResult;
    use sea_orm::sea_query::{ExprTrait, Query};
    let mut update = Query::update();
    update
        .table(task::Entity)
        .and_where(task::Column::Id.eq(task_id));
    // Net per state: a state named twice is one assignment.
    let mut net: Vec<(InstanceState, i32)> = Vec::with_capacity(deltas.len());
    for (state, delta) in deltas {
        match net.iter_mut().find(|(s, _)| s == state) {
            Some((_, d)) => *d += delta,
            None => net.push((*state, *delta)),
        }
    }
    let mut any = false;
    for (state, delta) in net.iter().filter(|(_, d)| *d != 0) {
        update.value(counter(*state), Expr::col(counter(*state)).add(*delta));
        any = true;
    }
    if retries != 0 {
        update.value(
            task::Column::RetriesUsed,
            Expr::col(task::Column::RetriesUsed).add(retries),
        );
        any = true;
    }
    if !any {
        return Ok(None);
    }
    update.returning_all();
    match db.query_one(&update).await? {
        Some(row) => Ok(Some(task::Model::from_query_result(&row, "")?)),
        None => Ok(None),
    }
}

/// A task's instances by state, from its counters (no instance is read).
pub fn tally_of(t: &task::Model) -> InstanceTally {
    let n = |v: i32| v.max(0) as u32;
    InstanceTally {
        total: n(t.instance_count),
        queued: n(t.queued_count),
        assigned: n(t.assigned_count),
        executing: n(t.executing_count),
        succeeded: n(t.succeeded_count),
        failed: n(t.failed_count),
        cancelled: n(t.cancelled_count),
    }
}

/// A task's row, locked for the rest of the transaction (PostgreSQL; SQLite's write
/// transactions are already one at a time).
pub async fn lock(db: &impl ConnectionTrait, task_id: Uuid) -> ApiResult<Option<task::Model>> {
    use sea_orm::QuerySelect;
    Ok(task::Entity::find_by_id(task_id)
        .lock_exclusive()
        .one(db)
        .await?)
}

/// What a task's view shows of one instance: no output, so reading a large task costs its
/// instance count in small rows, not in stored bytes.
pub struct InstanceFigures {
    pub instance_id: i32,
    pub state: InstanceState,
    pub attempts: i32,
    pub node_id: Option<Uuid>,
    pub slot_index: Option<i32>,
    pub exit_code: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

type FiguresRow = (
    i32,
    String,
    i32,
    Option<Uuid>,
    Option<i32>,
    Option<i32>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// A task's instances without their output, by instance id.
fn figures_query(task_id: Uuid) -> sea_orm::Select<instance::Entity> {
    use sea_orm::QuerySelect;
    instance::Entity::find()
        .select_only()
        .columns([
            instance::Column::InstanceId,
            instance::Column::State,
            instance::Column::Attempts,
            instance::Column::NodeId,
            instance::Column::SlotIndex,
            instance::Column::ExitCode,
            instance::Column::StartedAt,
            instance::Column::EndedAt,
        ])
        .filter(instance::Column::TaskId.eq(task_id))
        .order_by_asc(instance::Column::InstanceId)
}

async fn read_figures(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<instance::Entity>,
) -> ApiResult<Vec<InstanceFigures>> {
    let rows: Vec<FiguresRow> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                instance_id,
                state,
                attempts,
                node_id,
                slot_index,
                exit_code,
                started_at,
                ended_at,
            )| {
                InstanceFigures {
                    instance_id,
                    state: state.parse().unwrap_or(InstanceState::Failed),
                    attempts,
                    node_id,
                    slot_index,
                    exit_code,
                    started_at,
                    ended_at,
                }
            },
        )
        .collect())
}

/// The task's started instances (queued ones show in no list or range).
async fn instance_figures(
    db: &impl ConnectionTrait,
    task_id: Uuid,
) -> ApiResult<Vec<InstanceFigures>> {
    let started = figures_query(task_id).filter(instance::Column::State.is_in([
        InstanceState::Assigned.as_str(),
        InstanceState::Executing.as_str(),
        InstanceState::Succeeded.as_str(),
        InstanceState::Failed.as_str(),
        InstanceState::Cancelled.as_str(),
    ]));
    read_figures(db, started).await
}

/// `limit` of a task's instances (all states) from the `offset`-th by instance id.
pub async fn instance_page(
    db: &impl ConnectionTrait,
    task_id: Uuid,
    offset: u64,
    limit: u64,
) -> ApiResult<Vec<InstanceFigures>> {
    use sea_orm::QuerySelect;
    read_figures(db, figures_query(task_id).offset(offset).limit(limit)).await
}

/// Completed instances listed in a task's answer: the ranges (`succeededRange`, ...) and the
/// counts always cover all of them; the list holds the first ones by instance id, so that
/// the answer for a task of 100,000 instances stays small.
pub const MAX_COMPLETED_LISTED: usize = 1000;

pub async fn figures(db: &impl ConnectionTrait, t: &task::Model) -> ApiResult<TaskFigures> {
    // Queued instances show in no list or range: a task with nothing started yet (its
    // counters say so) reads no instance at all, and the others only their started ones.
    let started = t.assigned_count
        + t.executing_count
        + t.succeeded_count
        + t.failed_count
        + t.cancelled_count;
    let all = if started > 0 {
        instance_figures(db, t.id).await?
    } else {
        Vec::new()
    };
    let of = |s: InstanceState| -> Vec<u32> {
        all.iter()
            .filter(|i| i.state == s)
            .map(|i| i.instance_id as u32)
            .collect()
    };
    let succeeded = of(InstanceState::Succeeded);
    let failed = of(InstanceState::Failed);
    let mut executed: Vec<u32> = succeeded.iter().chain(failed.iter()).copied().collect();
    executed.sort_unstable();
    let seconds = |i: &InstanceFigures| match (i.started_at, i.ended_at) {
        (Some(s), Some(e)) => (e - s).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let completed = all
        .iter()
        .filter(|i| matches!(i.state, InstanceState::Succeeded | InstanceState::Failed))
        .take(MAX_COMPLETED_LISTED)
        .map(|i| CompletedInstance {
            instance_id: i.instance_id,
            state: if i.state == InstanceState::Succeeded {
                "Success"
            } else {
                "Failure"
            }
            .into(),
            wall_time_sec: seconds(i),
            exec_time_sec: seconds(i),
            exec_time_sec_ghz: 0.0,
            peak_memory_mb: 0,
            average_ghz: 0.0,
            results: vec![],
            execution_attempt_count: i.attempts,
            exit_code: i.exit_code,
        })
        .collect();
    let running: Vec<&InstanceFigures> = all
        .iter()
        .filter(|i| matches!(i.state, InstanceState::Executing | InstanceState::Assigned))
        .collect();
    Ok(TaskFigures {
        running_instances: running.len() as u32,
        running_cores: running.len() as u32,
        succeeded_range: format_ids(&succeeded),
        failed_range: format_ids(&failed),
        executed_range: format_ids(&executed),
        completed,
        completed_count: (t.succeeded_count + t.failed_count).max(0) as u32,
        per_running_instance: running
            .iter()
            .map(|i| RunningInstance {
                instance_id: i.instance_id,
                phase: if i.state == InstanceState::Executing {
                    "execution"
                } else {
                    "environment"
                }
                .into(),
                progress: 0.0,
                execution_time_sec: 0.0,
                execution_attempt_count: i.attempts,
                active_forwards: vec![],
                vpn_connections: vec![],
                node_uuid: i.node_id,
                slot_index: i.slot_index,
            })
            .collect(),
        execution_time_sec: all.iter().map(seconds).sum(),
    })
}

pub async fn view(db: &impl ConnectionTrait, t: &task::Model) -> ApiResult<Task> {
    Ok(task_answer(t, figures(db, t).await?))
}

/// Aborts inside a transaction: queued instances are cancelled at once; running ones are
/// left to the agent, which stops them and reports, and the task waits in PendingCancel.
pub async fn abort_in(
    db: &impl ConnectionTrait,
    t: &task::Model,
    now: DateTime<Utc>,
) -> ApiResult<task::Model> {
    let current = state_of(t);
    let next = task_transition(current, &TaskEvent::Abort)?;
    if current.is_finished() {
        return Ok(t.clone());
    }
    let cancelled = instance::Entity::update_many()
        .col_expr(
            instance::Column::State,
            Expr::value(InstanceState::Cancelled.as_str()),
        )
        .col_expr(instance::Column::EndedAt, Expr::value(now))
        .filter(instance::Column::TaskId.eq(t.id))
        .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
        .exec(db)
        .await?
        .rows_affected;
    shift(
        db,
        t.id,
        InstanceState::Queued,
        InstanceState::Cancelled,
        cancelled,
    )
    .await?;
    let t = &lock(db, t.id)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    let still_running = tally_of(t).unfinished() > 0;
    let next = if still_running {
        next
    } else {
        task_transition(next, &TaskEvent::AllInstancesStopped)?
    };
    let mut active = t.clone().into_active_model();
    set_state(&mut active, t, next, now);
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

pub async fn abort(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<task::Model> {
    let now = state.clock.now();
    let t = crate::db::in_write(&state.writer, |txn| {
        Box::pin(async move {
            let t = load(txn, tenant_id, id).await?;
            abort_in(txn, &t, now).await
        })
    })
    .await?;
    state.announce_progress(&t);
    Ok(t)
}

/// Deletes inside a transaction: a task with nothing running goes at once; one whose
/// instances are still being stopped is hidden (PendingDelete) and removed when they end.
pub async fn delete_in(
    db: &impl ConnectionTrait,
    t: &task::Model,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let t = abort_in(db, t, now).await?;
    if state_of(&t).is_finished() {
        task::Entity::delete_by_id(t.id).exec(db).await?;
    } else {
        let mut active = t.clone().into_active_model();
        set_state(&mut active, &t, TaskState::PendingDelete, now);
        active.update(db).await?;
    }
    Ok(())
}

/// Deletes a task; answers its pool, whose nodes may have instances to stop.
pub async fn delete(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<Uuid> {
    let now = state.clock.now();
    crate::db::in_write(&state.writer, |txn| {
        Box::pin(async move {
            let t = load(txn, tenant_id, id).await?;
            delete_in(txn, &t, now).await?;
            Ok(t.pool_id)
        })
    })
    .await
}

/// Which output stream.
#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Output of one instance or all (instances in order, each block as written). `fresh` returns
/// only what was not returned by a previous fresh read, and moves the read mark.
pub async fn output(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    instance_id: Option<&str>,
    stream: Stream,
    fresh: bool,
) -> ApiResult<String> {
    let t = load(&state.db, tenant_id, id).await?;
    let mut query = instance::Entity::find().filter(instance::Column::TaskId.eq(t.id));
    if let Some(raw) = instance_id {
        let wanted: i32 = raw
            .parse()
            .map_err(|_| ApiError::not_found("task instance"))?;
        query = query.filter(instance::Column::InstanceId.eq(wanted));
    }
    let rows = query
        .order_by_asc(instance::Column::InstanceId)
        .all(&state.db)
        .await?;
    if instance_id.is_some() && rows.is_empty() {
        return Err(ApiError::not_found("task instance"));
    }
    let mut out = String::new();
    for row in rows {
        let (text, dropped, offset) = match stream {
            Stream::Stdout => (&row.stdout, row.stdout_dropped, row.stdout_read_offset),
            Stream::Stderr => (&row.stderr, row.stderr_dropped, row.stderr_read_offset),
        };
        // Offsets count bytes ever written; `dropped` were cut from the front of the buffer.
        let written = dropped + text.len() as i64;
        let from = if fresh {
            (offset - dropped).max(0) as usize
        } else {
            0
        };
        let from = floor_char_boundary(text, from.min(text.len()));
        out.push_str(&text[from..]);
        if fresh && offset < written {
            let col = match stream {
                Stream::Stdout => instance::Column::StdoutReadOffset,
                Stream::Stderr => instance::Column::StderrReadOffset,
            };
            instance::Entity::update_many()
                .col_expr(col, Expr::value(written))
                .filter(instance::Column::Id.eq(row.id))
                .exec(&state.db)
                .await?;
        }
    }
    Ok(out)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<Vec<task::Model>> {
    Ok(task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant_id))
        .filter(task::Column::State.ne(TaskState::PendingDelete.as_str()))
        .order_by_asc(task::Column::Seq)
        .all(db)
        .await?)
}

/// A page of the tenant's tasks in submission order after `after` (a task's `seq`), of
/// those matching `filter`, from the `(tenant, seq)` index (see `keyset::page`). Answers
/// the page and, when more match, the `seq` to continue after.
pub async fn keyset_page(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    filter: Option<&crate::wire::filter::Filter>,
    after: i64,
    size: usize,
) -> ApiResult<(Vec<task::Model>, Option<i64>)> {
    keyset_page_in(db, tenant_id, None, filter, after, size).await
}

/// `keyset_page` within one job's tasks (index `tasks_job_seq`).
pub async fn job_keyset_page(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    job_id: Uuid,
    after: i64,
    size: usize,
) -> ApiResult<(Vec<task::Model>, Option<i64>)> {
    keyset_page_in(db, tenant_id, Some(job_id), None, after, size).await
}

async fn keyset_page_in(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    job_id: Option<Uuid>,
    filter: Option<&crate::wire::filter::Filter>,
    after: i64,
    size: usize,
) -> ApiResult<(Vec<task::Model>, Option<i64>)> {
    let mut base = task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant_id))
        .filter(task::Column::State.ne(TaskState::PendingDelete.as_str()));
    if let Some(job_id) = job_id {
        base = base.filter(task::Column::JobId.eq(job_id));
    }
    let column =
        super::keyset::narrowable(task::Column::Tags, task::Column::Name, task::Column::State);
    let narrowing = filter.and_then(|f| f.narrowing(&column));
    let after_key = |seq: i64| sea_orm::Condition::all().add(task::Column::Seq.gt(seq));
    let order = [task::Column::Seq];
    super::keyset::page(
        db,
        base,
        &order,
        after_key,
        filter,
        narrowing,
        Some(after),
        size,
    )
    .await
}

impl super::keyset::Keyed for task::Model {
    type Key = i64;

    fn key(&self) -> i64 {
        self.seq
    }
}

/// One page of the tenant's tasks in submission order, read as a page.
pub async fn list_page(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    offset: u64,
    limit: u64,
) -> ApiResult<Vec<task::Model>> {
    use sea_orm::QuerySelect;
    Ok(task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant_id))
        .filter(task::Column::State.ne(TaskState::PendingDelete.as_str()))
        .order_by_asc(task::Column::Seq)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?)
}

impl Filterable for task::Model {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "tags" => serde_json::from_value(self.tags.clone()).unwrap_or_default(),
            "name" => vec![self.name.clone()],
            "state" => vec![self.state.clone()],
            "uuid" => vec![self.id.to_string()],
            "pooluuid" => vec![self.pool_id.to_string()],
            "jobuuid" => vec![self.job_id.map(|j| j.to_string()).unwrap_or_default()],
            "shortname" => vec![self.shortname.clone().unwrap_or_default()],
            _ => return None,
        })
    }
}
