//! The watcher: nodes that went silent (no call for 3 heartbeat intervals), nodes whose
//! process is gone, nodes that never finished booting, and jobs past their max wall time.

use actix_web::web;
use hearth_core::model::NodeState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::watch;

use super::nodes::{NodeEnd, end_node, handle, node_state};
use crate::entities::{job, node, pool};
use crate::error::ApiResult;
use crate::services::{jobs, profiles};
use crate::state::AppState;

pub async fn run(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(state.settings.heartbeat_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("node watcher started");
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => break,
        }
        if let Err(e) = check_nodes(&state).await {
            tracing::error!(error = %e, "node check failed");
        }
        if let Err(e) = check_jobs(&state).await {
            tracing::error!(error = %e, "job check failed");
        }
    }
    tracing::info!("node watcher stopped");
}

async fn check_nodes(state: &AppState) -> ApiResult<()> {
    let live = node::Entity::find()
        .filter(
            node::Column::State
                .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
        )
        .all(&state.db)
        .await?;
    let silent_after = state.settings.heartbeat_interval * 3;
    for n in live {
        let s = node_state(&n);
        let last_seen = state
            .liveness
            .lock()
            .expect("liveness map")
            .get(&n.id)
            .copied();
        let process_gone = n.pid.is_some() && !state.launcher.is_alive(&handle(&n));
        let silent = match s {
            NodeState::Ready | NodeState::Draining => {
                last_seen.is_none_or(|t| t.elapsed() > silent_after)
            }
            _ => false,
        };
        let boot_overdue = if s.is_starting() {
            let delay = boot_delay(state, n.pool_id).await;
            last_seen.is_some_and(|t| t.elapsed() > state.settings.boot_timeout + delay)
        } else {
            false
        };
        if process_gone || silent || boot_overdue {
            tracing::warn!(node = %n.id, process_gone, silent, boot_overdue, "node lost");
            if let Some(ended) = end_node(state, n.id, NodeEnd::Failed, true).await? {
                super::nodes::refresh_pool_state(state, ended.pool_id).await?;
                super::dispatch::dispatch_pool(state, ended.pool_id).await?;
                // Replace the lost capacity now rather than at the end of the period.
                super::resize::evaluate_soon(state, ended.pool_id).await?;
            }
        }
    }
    Ok(())
}

async fn boot_delay(state: &AppState, pool_id: uuid::Uuid) -> std::time::Duration {
    let Ok(Some(p)) = pool::Entity::find_by_id(pool_id).one(&state.db).await else {
        return std::time::Duration::ZERO;
    };
    profiles::find(&state.db, &p.profile_name)
        .await
        .map(|pr| std::time::Duration::from_millis(pr.boot_delay_ms.max(0) as u64))
        .unwrap_or_default()
}

/// Jobs past their max wall time: their tasks are cancelled.
async fn check_jobs(state: &AppState) -> ApiResult<()> {
    let now = state.clock.now();
    let active = job::Entity::find()
        .filter(job::Column::State.eq(jobs::ACTIVE))
        .filter(job::Column::MaxWallTimeSeconds.is_not_null())
        .all(&state.db)
        .await?;
    for j in active {
        let limit = chrono::Duration::seconds(j.max_wall_time_seconds.unwrap_or(i64::MAX / 2));
        if j.created_at + limit <= now {
            tracing::info!(job = %j.id, "job reached its max wall time: terminating");
            jobs::terminate(state, j.tenant_id, j.id).await?;
            if let Some(pool_id) = j.pool_id {
                super::wake_pool_nodes(state, pool_id).await;
            }
        }
    }
    Ok(())
}
