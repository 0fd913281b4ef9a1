//! The resize loop: one task for all pools, woken at the earliest `next_evaluation_at` (or
//! early, when a pool changes). The due pools are evaluated with the core's pure function
//! from one snapshot per tick; an evaluation that repeats the pool's latest decision and
//! holds only counts on that decision (in one transaction for all such pools), any other
//! is recorded and carried out through the launcher, pool by pool.

use std::collections::{HashMap, HashSet};

use actix_web::web;
use chrono::Utc;
use hearth_core::model::NodeState;
use hearth_core::pool_state::PoolState;
use hearth_core::scaling::{ScalingAction, evaluate};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
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
    loop {
        if let Err(e) = tick(&state).await {
            tracing::error!(error = %e, "resize loop tick failed");
        }
        let wait = next_wait(&state).await;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.resize_wake.notified() => {}
            _ = stop.changed() => break,
        }
    }
    tracing::info!("resize loop stopped");
}

/// Real time until the earliest evaluation, at most a second (so a moved injected clock is
/// noticed soon).
async fn next_wait(state: &AppState) -> std::time::Duration {
    let next = pool::Entity::find()
        .filter(pool::Column::NextEvaluationAt.is_not_null())
        .order_by_asc(pool::Column::NextEvaluationAt)
        .one(&state.db)
        .await
        .ok()
        .flatten()
        .and_then(|p| p.next_evaluation_at);
    match next {
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
    let due = pool::Entity::find()
        .filter(pool::Column::NextEvaluationAt.lte(now))
        .all(&state.db)
        .await?;
    let evaluated = due.len();
    let changed = evaluate_unchanged_in_bulk(state, &due, now).await?;
    for id in changed {
        if let Err(e) = evaluate_if_due(state, id, now).await {
            tracing::error!(pool = %id, error = %e, "pool evaluation failed");
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
    state
        .metrics
        .resize_last_tick_seconds
        .set(started.elapsed().as_secs_f64());
    state.metrics.resize_last_tick_pools.set(evaluated as i64);
    Ok(())
}

/// Evaluates the due pools from one snapshot: those whose evaluation repeats their latest
/// decision and holds are settled here in one transaction (the decision counts one more
/// evaluation, the pool's next evaluation moves a period on); the others are answered,
/// for `evaluate_pool` to record and carry out one by one.
async fn evaluate_unchanged_in_bulk(
    state: &AppState,
    due: &[pool::Model],
    now: chrono::DateTime<Utc>,
) -> ApiResult<Vec<uuid::Uuid>> {
    let scaled: Vec<&pool::Model> = due
        .iter()
        .filter(|p| pools::state_of(p).follows_nodes())
        .collect();
    let mut changed: Vec<uuid::Uuid> = due
        .iter()
        .filter(|p| !pools::state_of(p).follows_nodes())
        .map(|p| p.id)
        .collect();
    if scaled.is_empty() {
        return Ok(changed);
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
    let snapshots = pools::snapshots(&state.db, &scaled).await?;
    let mut unchanged: Vec<(&pool::Model, uuid::Uuid)> = Vec::new();
    for p in scaled {
        let Some(snapshot) = snapshots.get(&p.id) else {
            changed.push(p.id);
            continue;
        };
        let decision = evaluate(&pools::policies_of(p), now, snapshot);
        let holds = matches!(decision.action, ScalingAction::Hold)
            && decision.target_slots as i32 == p.target_slots;
        let known = state
            .latest_decisions
            .lock()
            .expect("latest decisions")
            .get(&p.id)
            .cloned();
        let latest = match known {
            Some(latest) => Some(latest),
            None => {
                let read = pools::latest_decision(&state.db, p.id)
                    .await?
                    .map(|row| pools::recorded(&row));
                if let Some(read) = &read {
                    remember_decision(state, p.id, read.clone());
                }
                read
            }
        };
        match latest {
            Some(latest) if holds && !waiting.contains(&p.id) && latest.same_as(&decision) => {
                unchanged.push((p, latest.id));
            }
            _ => changed.push(p.id),
        }
    }
    if unchanged.is_empty() {
        return Ok(changed);
    }
    let txn = crate::db::write(&state.db).await?;
    let ids: Vec<uuid::Uuid> = unchanged.iter().map(|(_, d)| *d).collect();
    for chunk in ids.chunks(500) {
        scaling_decision::Entity::update_many()
            .col_expr(
                scaling_decision::Column::Evaluations,
                Expr::col(scaling_decision::Column::Evaluations).add(1),
            )
            .col_expr(scaling_decision::Column::LastEvaluatedAt, Expr::value(now))
            .filter(scaling_decision::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    // Pools with the same period move on in one statement per chunk; one whose due time
    // changed meanwhile (a policy change asked for an evaluation now) keeps its new time:
    // each row is matched on its id and the due time this tick read.
    let mut groups: HashMap<i32, Vec<(uuid::Uuid, chrono::DateTime<Utc>)>> = HashMap::new();
    for (p, _) in &unchanged {
        if let Some(due_at) = p.next_evaluation_at {
            groups
                .entry(Ord::max(p.resize_period_seconds, 1))
                .or_default()
                .push((p.id, due_at));
        }
    }
    for (period, rows) in groups {
        for chunk in rows.chunks(250) {
            let matched = chunk.iter().map(|(id, due_at)| {
                sea_orm::sea_query::ValueTuple::Two((*id).into(), (*due_at).into())
            });
            pool::Entity::update_many()
                .col_expr(
                    pool::Column::NextEvaluationAt,
                    Expr::value(now + chrono::Duration::seconds(i64::from(period))),
                )
                .filter(
                    Expr::tuple([
                        Expr::col(pool::Column::Id),
                        Expr::col(pool::Column::NextEvaluationAt),
                    ])
                    .in_tuples(matched),
                )
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    state
        .metrics
        .scaling_decisions
        .inc_by(unchanged.len() as u64);
    Ok(changed)
}

/// The latest decision of a scaled pool, kept in memory so that the bulk path reads no
/// decision row (one entry per scaled pool; dropped when the pool stops being scaled).
/// Decisions are written only under the pool's evaluation lock, which keeps this current.
fn remember_decision(
    state: &AppState,
    pool_id: uuid::Uuid,
    decision: hearth_core::scaling::RecordedDecision,
) {
    state
        .latest_decisions
        .lock()
        .expect("latest decisions")
        .insert(pool_id, decision);
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
    let period = chrono::Duration::seconds(i64::from(Ord::max(p.resize_period_seconds, 1)));
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
        state.resize_wake.notify_one();
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
        return Ok(None);
    };
    if let Some(at) = only_if_due_at
        && p.next_evaluation_at.is_none_or(|next| next > at)
        && pools::state_of(p).follows_nodes()
    {
        return Ok(None);
    }
    if !pools::state_of(p).follows_nodes() {
        state
            .latest_decisions
            .lock()
            .expect("latest decisions")
            .remove(&p.id);
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
    let now = state.clock.now();
    let (decision, row) = pools::evaluate_and_record(
        &state.db,
        p,
        now,
        &pools::Recording {
            kept: state.settings.decisions_kept_per_pool,
            why_now,
            max_live_nodes: state.settings.max_live_nodes,
        },
    )
    .await?;
    remember_decision(state, p.id, pools::recorded(&row));
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
    state.resize_wake.notify_one();
    Ok(())
}
