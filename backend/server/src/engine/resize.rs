//! The resize loop: one task for all pools, woken at the earliest due time of its in-memory
//! schedule (or early, when a pool asks). The due pools are evaluated with the core's pure
//! function, each from what its last evaluation read unless the feed announced a change of
//! it since; an evaluation that repeats the pool's latest decision and holds is only
//! counted (see `schedule`), any other is recorded and carried out through the launcher,
//! pool by pool.

use std::collections::{HashMap, HashSet};

use actix_web::web;
use chrono::Utc;
use hearth_core::model::NodeState;
use hearth_core::pool_state::PoolState;
use hearth_core::scaling::ScalingAction;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::watch;

use crate::entities::{node, pool, scaling_decision, task};
use crate::error::ApiResult;
use crate::services::pools;
use crate::state::AppState;

const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(1);
/// Ticks are at least this far apart (unless woken): pools due within it are evaluated in
/// one tick, at most this late, so thousands of pools with scattered due times cost a few
/// ticks a second rather than hundreds.
const MIN_SLEEP: std::time::Duration = std::time::Duration::from_millis(100);

pub async fn run(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    tracing::info!("resize loop started");
    // Subscribed before the schedule is loaded: no change is missed in between.
    let mut changes = state.feed.subscribe();
    let mut loaded_at: Option<std::time::Instant> = None;
    let mut written_at = std::time::Instant::now();
    loop {
        if loaded_at.is_none_or(|at| at.elapsed() >= RELOAD_EVERY) {
            match load_schedule(&state).await {
                Ok(()) => loaded_at = Some(std::time::Instant::now()),
                Err(e) => tracing::error!(error = %e, "resize schedule not loaded"),
            }
        }
        follow_changes(&state, &mut changes);
        if let Err(e) = tick(&state).await {
            tracing::error!(error = %e, "resize loop tick failed");
        }
        if written_at.elapsed() >= WRITE_EVERY {
            write_unwritten(&state, state.schedule.take_unwritten()).await;
            written_at = std::time::Instant::now();
        }
        let wait = next_wait(&state);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.resize_wake.notified() => {}
            _ = stop.changed() => break,
        }
    }
    write_unwritten(&state, state.schedule.take_unwritten()).await;
    tracing::info!("resize loop stopped");
}

/// Unchanged evaluations are written to their decisions at most this often (see
/// `schedule`).
const WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// The stored due times are read again this often, for pools the schedule was not told of.
const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Due times as stored, for the pools the schedule does not know yet.
async fn load_schedule(state: &AppState) -> ApiResult<()> {
    let rows: Vec<(uuid::Uuid, Option<chrono::DateTime<Utc>>)> = pool::Entity::find()
        .select_only()
        .column(pool::Column::Id)
        .column(pool::Column::NextEvaluationAt)
        .filter(pool::Column::NextEvaluationAt.is_not_null())
        .into_tuple()
        .all(&state.db)
        .await?;
    state
        .schedule
        .load(rows.into_iter().filter_map(|(id, at)| Some((id, at?))));
    Ok(())
}

/// Every change announced since the last tick: the pools it touched are read again at
/// their next evaluation. Changes lost (the feed was behind) make every pool read again.
fn follow_changes(
    state: &AppState,
    changes: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<crate::feed::Event>>,
) {
    use tokio::sync::broadcast::error::TryRecvError;
    loop {
        match changes.try_recv() {
            Ok(event) => {
                if let Some(pool) = event.change.pool_id() {
                    state.schedule.changed(pool);
                }
            }
            Err(TryRecvError::Lagged(_)) => state.schedule.changed_all(),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
}

/// Writes unchanged evaluations to their decisions, one statement per chunk of decisions
/// with the same count and time (pools evaluated in the same ticks share them). What fails
/// to be written is only counting: it is logged, not retried.
async fn write_unwritten(state: &AppState, counts: Vec<crate::schedule::Unwritten>) {
    if counts.is_empty() {
        return;
    }
    let mut groups: HashMap<(i64, chrono::DateTime<Utc>), Vec<uuid::Uuid>> = HashMap::new();
    for u in counts {
        groups
            .entry((u.evaluations, u.last_evaluated_at))
            .or_default()
            .push(u.decision);
    }
    let written = async {
        let txn = state.write().await?;
        for ((evaluations, at), ids) in groups {
            for chunk in ids.chunks(500) {
                scaling_decision::Entity::update_many()
                    .col_expr(
                        scaling_decision::Column::Evaluations,
                        Expr::col(scaling_decision::Column::Evaluations).add(evaluations),
                    )
                    .col_expr(scaling_decision::Column::LastEvaluatedAt, Expr::value(at))
                    .filter(scaling_decision::Column::Id.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        ApiResult::Ok(())
    };
    if let Err(e) = written.await {
        tracing::error!(error = %e, "unchanged evaluations not written");
    }
}

/// Real time until the earliest evaluation, at most a second (so a moved injected clock is
/// noticed soon).
fn next_wait(state: &AppState) -> std::time::Duration {
    match state.schedule.next_due() {
        Some(at) => (at - state.clock.now())
            .to_std()
            .unwrap_or_default()
            .clamp(MIN_SLEEP, MAX_SLEEP),
        None => MAX_SLEEP,
    }
}

async fn tick(state: &AppState) -> ApiResult<()> {
    let started = std::time::Instant::now();
    let now = state.clock.now();
    let due = state.schedule.due(now);
    let evaluated = due.len();
    let changed = evaluate_unchanged_in_bulk(state, &due, now).await?;
    for id in changed {
        match evaluate_if_due(state, id, now).await {
            Ok(_) => {}
            // A pool that closed since it was scheduled: taken off the schedule, not a fault.
            Err(crate::error::ApiError::Conflict(why)) => {
                tracing::debug!(pool = %id, reason = %why, "pool no longer evaluated");
            }
            Err(e) => tracing::error!(pool = %id, error = %e, "pool evaluation failed"),
        }
    }
    // Pools winding down: release their nodes as they empty. A deleted pool whose nodes
    // are all gone is left alone (its row stays for its tasks and billing).
    let live_nodes = Query::select()
        .column(node::Column::PoolId)
        .from(node::Entity)
        .and_where(
            node::Column::State
                .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
        )
        .to_owned();
    let closing = pool::Entity::find()
        .filter(
            Condition::any()
                .add(pool::Column::State.eq(PoolState::Closing.as_str()))
                .add(
                    Condition::all()
                        .add(pool::Column::State.eq(PoolState::PendingDelete.as_str()))
                        .add(pool::Column::Id.in_subquery(live_nodes)),
                ),
        )
        .all(&state.db)
        .await?;
    for p in closing {
        wind_down(state, &p).await?;
    }
    let spent = started.elapsed().as_secs_f64();
    state.metrics.resize_last_tick_seconds.set(spent);
    state.metrics.resize_tick_seconds.inc_by(spent);
    state.metrics.resize_tick_duration.observe(spent);
    state.metrics.resize_last_tick_pools.set(evaluated as i64);
    Ok(())
}

/// Evaluates the due pools, each from what its last evaluation read unless a change of it
/// was announced since (those are read again, all in one snapshot). An evaluation that
/// repeats the pool's latest decision and holds is only counted (in memory, written every
/// few seconds) and moves the pool's due time a period on; the others are answered, for
/// `evaluate_pool` to record and carry out one by one.
async fn evaluate_unchanged_in_bulk(
    state: &AppState,
    due: &[crate::schedule::Due],
    now: chrono::DateTime<Utc>,
) -> ApiResult<Vec<uuid::Uuid>> {
    use crate::schedule::Inputs;
    use std::sync::Arc;
    let mut changed: Vec<uuid::Uuid> = Vec::new();
    if due.is_empty() {
        return Ok(changed);
    }
    let stale: Vec<uuid::Uuid> = due
        .iter()
        .filter(|d| d.inputs.is_none())
        .map(|d| d.pool)
        .collect();
    let mut read: HashMap<uuid::Uuid, Arc<Inputs>> = HashMap::new();
    if !stale.is_empty() {
        let mut rows: Vec<pool::Model> = Vec::with_capacity(stale.len());
        for chunk in stale.chunks(500) {
            rows.extend(
                pool::Entity::find()
                    .filter(pool::Column::Id.is_in(chunk.iter().copied()))
                    .all(&state.db)
                    .await?,
            );
        }
        let found: HashSet<uuid::Uuid> = rows.iter().map(|p| p.id).collect();
        for id in stale.iter().filter(|id| !found.contains(id)) {
            state.schedule.forget(*id);
        }
        let (scaled, winding): (Vec<&pool::Model>, Vec<&pool::Model>) = rows
            .iter()
            .partition(|p| pools::state_of(p).follows_nodes());
        // A pool no longer scaled takes the full path, which takes it off the schedule.
        changed.extend(winding.iter().map(|p| p.id));
        let mut snapshots = pools::snapshots(&state.db, &scaled).await?;
        for p in scaled {
            let Some(snapshot) = snapshots.remove(&p.id) else {
                changed.push(p.id);
                continue;
            };
            let inputs = Arc::new(Inputs {
                tenant: p.tenant_id,
                policies: pools::policies_of(p),
                period_seconds: p.resize_period_seconds,
                target_slots: p.target_slots,
                snapshot,
            });
            state.schedule.remember_inputs(p.id, inputs.clone());
            read.insert(p.id, inputs);
        }
    }
    // Pools with tasks waiting on dependencies take the full path (it settles them).
    let waiting: HashSet<uuid::Uuid> = task::Entity::find()
        .select_only()
        .column(task::Column::PoolId)
        .filter(task::Column::Waiting.eq(true))
        .distinct()
        .into_tuple()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    let mut unchanged: u64 = 0;
    for d in due {
        let Some(inputs) = d.inputs.as_ref().or_else(|| read.get(&d.pool)) else {
            continue; // not scaled, or gone: dealt with above
        };
        let decision = state
            .budgets
            .decide(inputs.tenant, &inputs.policies, now, &inputs.snapshot);
        let holds = matches!(decision.action, ScalingAction::Hold)
            && decision.target_slots as i32 == inputs.target_slots;
        if !holds || waiting.contains(&d.pool) {
            changed.push(d.pool);
            continue;
        }
        let latest = match &d.latest {
            Some(latest) => Some(latest.clone()),
            None => {
                let read = pools::latest_decision(&state.db, d.pool)
                    .await?
                    .map(|row| pools::recorded(&row));
                if let Some(read) = &read {
                    state.schedule.remember_latest(d.pool, read.clone());
                }
                read.map(Arc::new)
            }
        };
        let next = now + pools::resize_period(inputs.period_seconds);
        match latest {
            Some(latest)
                if latest.same_as(&decision)
                    && state.schedule.held(d.pool, latest.id, d.at, next, now) =>
            {
                unchanged += 1;
            }
            _ => changed.push(d.pool),
        }
    }
    state.metrics.scaling_decisions.inc_by(unchanged);
    Ok(changed)
}

/// Evaluates a pool now, records the decision, carries it out. Also `POST /pools/{uuid}/resize`.
pub async fn evaluate_pool(
    state: &AppState,
    pool_id: uuid::Uuid,
) -> ApiResult<scaling_decision::Model> {
    evaluate_locked(state, pool_id, None, None)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("pool"))
}

/// The resize loop's evaluation: skipped when another one (a request's) ran since the
/// tick read the pool as due.
async fn evaluate_if_due(
    state: &AppState,
    pool_id: uuid::Uuid,
    due_at: chrono::DateTime<Utc>,
) -> ApiResult<Option<scaling_decision::Model>> {
    evaluate_locked(state, pool_id, Some(due_at), None).await
}

/// Said in the decision of an evaluation that work with no free slot asked for.
pub const ON_DEMAND: &str = "on demand (work arrived with no free slot)";

/// Work arrived at a pool (and was dispatched as far as it could be): if some is left
/// waiting and the pool follows its queue, the pool is evaluated now rather than at the
/// end of its period, so an empty elastic pool starts a node at once. One growth step per
/// resize period: within the period of the last step, the next evaluation is brought
/// forward to the end of that period instead.
pub async fn grow_on_demand(state: &AppState, pool_id: uuid::Uuid) -> ApiResult<()> {
    let Some(p) = pool::Entity::find_by_id(pool_id).one(&state.db).await? else {
        return Ok(());
    };
    let now = state.clock.now();
    let managed = hearth_core::scaling::active_policy(&pools::policies_of(&p), now).is_some_and(
        |(_, policy, _)| {
            matches!(
                policy.rule,
                hearth_core::scaling::PolicyRule::ManagedTasksQueue(_)
            )
        },
    );
    if !pools::state_of(&p).follows_nodes() || !managed {
        return Ok(());
    }
    let waiting = pools::snapshot(&state.db, &p).await?.queued_instances;
    if waiting == 0 {
        return Ok(());
    }
    let period = pools::resize_period(p.resize_period_seconds);
    if let Some(grown) = p.grown_at
        && now < grown + period
    {
        let step_at = grown + period;
        pool::Entity::update_many()
            .col_expr(pool::Column::NextEvaluationAt, Expr::value(step_at))
            .filter(pool::Column::Id.eq(pool_id))
            .filter(pool::Column::NextEvaluationAt.gt(step_at))
            .exec(&state.db)
            .await?;
        state.evaluate_by(pool_id, step_at);
        return Ok(());
    }
    evaluate_locked(state, pool_id, None, Some(ON_DEMAND)).await?;
    Ok(())
}

async fn evaluate_locked(
    state: &AppState,
    pool_id: uuid::Uuid,
    only_if_due_at: Option<chrono::DateTime<Utc>>,
    why_now: Option<&str>,
) -> ApiResult<Option<scaling_decision::Model>> {
    let lock = state.evaluation_lock(pool_id);
    let _guard = lock.lock().await;
    // Read under the lock: the previous evaluation's nodes are in this snapshot.
    let Some(p) = &pool::Entity::find_by_id(pool_id).one(&state.db).await? else {
        state.schedule.forget(pool_id);
        return Ok(None);
    };
    if let Some(at) = only_if_due_at
        && state.schedule.due_at(pool_id).is_none_or(|next| next > at)
        && pools::state_of(p).follows_nodes()
    {
        return Ok(None);
    }
    if !pools::state_of(p).follows_nodes() {
        state.schedule.forget(p.id);
        pool::Entity::update_many()
            .col_expr(
                pool::Column::NextEvaluationAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(pool::Column::Id.eq(p.id))
            .exec(&state.db)
            .await?;
        return Err(crate::error::ApiError::Conflict(format!(
            "pool is {}: it is no longer scaled",
            p.state
        )));
    }
    super::progress::settle_dependencies(state, p.id).await?;
    // The latest decision's count is complete before it is compared with this evaluation.
    if let Some(unwritten) = state.schedule.take_unwritten_of(p.id) {
        write_unwritten(state, vec![unwritten]).await;
    }
    let now = state.clock.now();
    let (decision, row) = pools::evaluate_and_record(
        &state.db,
        p,
        now,
        &pools::Recording {
            kept: state.settings.decisions_kept_per_pool,
            why_now,
            max_live_nodes: state.settings.max_live_nodes,
            stopped_by: state.budgets.stop_reason(p.tenant_id),
        },
    )
    .await?;
    let next = now + pools::resize_period(p.resize_period_seconds);
    state
        .schedule
        .evaluated(p.id, Some(next), pools::recorded(&row));
    if row.evaluations == 1 {
        state.announce(
            p.tenant_id,
            crate::feed::Change::Decision {
                pool: p.id,
                decision: row.id,
                action: row.action.clone(),
                target_slots: row.target_slots,
                reason: row.reason.clone(),
            },
        );
    }
    state.metrics.scaling_decisions.inc();
    pool::Entity::update_many()
        .col_expr(
            pool::Column::TargetSlots,
            Expr::value(decision.target_slots as i32),
        )
        .filter(pool::Column::Id.eq(p.id))
        .exec(&state.db)
        .await?;
    match &decision.action {
        ScalingAction::Hold => {}
        ScalingAction::Grow { nodes } => {
            state.metrics.nodes_launched.inc_by(u64::from(*nodes));
            super::nodes::request_nodes(state, p, *nodes).await?;
        }
        ScalingAction::Shrink { nodes } => {
            for id in nodes {
                super::nodes::release(state, *id).await?;
            }
        }
    }
    tracing::debug!(pool = %p.id, action = %row.action, reason = %row.reason, "pool evaluated");
    super::nodes::refresh_pool_state(state, p.id).await?;
    super::dispatch::dispatch_pool(state, p.id).await?;
    Ok(Some(row))
}

/// A closing or deleted pool: its idle nodes end now, busy ones drain; once none is left a
/// closing pool is Closed.
pub async fn wind_down(state: &AppState, p: &pool::Model) -> ApiResult<()> {
    let live = pools::live_nodes(&state.db, p.id).await?;
    // A deleted pool keeps its row for good: once its nodes are gone nothing is left to do,
    // and the loop must not take a write transaction for it every tick.
    if live.is_empty() && pools::state_of(p) == PoolState::PendingDelete {
        return Ok(());
    }
    for n in live {
        super::nodes::release(state, n.id).await?;
    }
    super::nodes::refresh_pool_state(state, p.id).await
}

/// Asks for an evaluation of a pool at once (capacity was lost, settings changed).
pub async fn evaluate_soon(state: &AppState, pool_id: uuid::Uuid) -> ApiResult<()> {
    pool::Entity::update_many()
        .col_expr(
            pool::Column::NextEvaluationAt,
            Expr::value(state.clock.now()),
        )
        .filter(pool::Column::Id.eq(pool_id))
        .filter(pool::Column::NextEvaluationAt.is_not_null())
        .exec(&state.db)
        .await?;
    if state.schedule.due_at(pool_id).is_some() {
        state.evaluate_by(pool_id, state.clock.now());
    }
    Ok(())
}
