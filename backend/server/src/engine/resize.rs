//! The resize loop: one task for all pools, woken at the earliest `next_evaluation_at` (or
//! early, when a pool changes). Each due pool is evaluated with the core's pure function,
//! the decision stored, and carried out through the launcher.

use actix_web::web;
use chrono::Utc;
use hearth_core::pool_state::PoolState;
use hearth_core::scaling::ScalingAction;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::watch;

use crate::entities::{pool, scaling_decision};
use crate::error::ApiResult;
use crate::services::pools;
use crate::state::AppState;

const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(1);

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
            .clamp(std::time::Duration::from_millis(5), MAX_SLEEP),
        None => MAX_SLEEP,
    }
}

async fn tick(state: &AppState) -> ApiResult<()> {
    let now = state.clock.now();
    let due = pool::Entity::find()
        .filter(pool::Column::NextEvaluationAt.lte(now))
        .all(&state.db)
        .await?;
    for p in due {
        if let Err(e) = evaluate_pool(state, p.id).await {
            tracing::error!(pool = %p.id, error = %e, "pool evaluation failed");
        }
    }
    // Pools winding down: release their nodes as they empty.
    let closing = pool::Entity::find()
        .filter(pool::Column::State.is_in([
            PoolState::Closing.as_str(),
            PoolState::PendingDelete.as_str(),
        ]))
        .all(&state.db)
        .await?;
    for p in closing {
        wind_down(state, &p).await?;
    }
    Ok(())
}

/// Evaluates a pool now, records the decision, carries it out. Also `POST /pools/{uuid}/resize`.
pub async fn evaluate_pool(
    state: &AppState,
    pool_id: uuid::Uuid,
) -> ApiResult<scaling_decision::Model> {
    let lock = state.evaluation_lock(pool_id);
    let _guard = lock.lock().await;
    // Read under the lock: the previous evaluation's nodes are in this snapshot.
    let p = &pool::Entity::find_by_id(pool_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("pool"))?;
    if !pools::state_of(p).follows_nodes() {
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
    let (decision, row) =
        pools::evaluate_and_record(&state.db, p, now, state.settings.decisions_kept_per_pool)
            .await?;
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
    Ok(row)
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
