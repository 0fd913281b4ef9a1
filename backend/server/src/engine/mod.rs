//! The execution engine: nodes' lifecycle, the dispatcher, instances' lifecycle, task
//! progress, the resize loop and the watcher.
//! Loops are named tasks with a shutdown path; everything else runs on the request that
//! caused it (a submit dispatches at once, a finished instance frees its slot at once).

pub mod assign;
pub mod batch;
pub mod budgets;
pub mod census;
pub mod dispatch;
pub mod instances;
pub mod nodes;
pub mod progress;
pub mod resize;
pub mod retention;
pub mod submit;
pub mod watch;

use std::time::Instant;

use actix_web::web;
use hearth_core::model::NodeState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::entities::{instance, node};
use crate::state::AppState;

pub fn touch_liveness(state: &AppState, node: Uuid) {
    state
        .liveness
        .lock()
        .expect("liveness map")
        .insert(node, Instant::now());
}

/// A node just launched (or adopted) gets a full window before it is judged silent.
pub fn liveness_grace(state: &AppState, node: Uuid) {
    touch_liveness(state, node);
}

pub fn forget_liveness(state: &AppState, node: Uuid) {
    state.liveness.lock().expect("liveness map").remove(&node);
}

/// Wakes every live node of a pool: something changed for their instances (abort, close).
pub async fn wake_pool_nodes(state: &AppState, pool_id: Uuid) {
    if let Ok(nodes) = crate::services::pools::live_nodes(&state.db, pool_id).await {
        for n in nodes {
            state.wake_node(n.id);
        }
    }
}

/// Closes a pool for the API and the dashboard alike: its queued work is cancelled, its
/// nodes are told to stop, and the pool as it is then is answered.
pub async fn close_pool(
    state: &AppState,
    tenant: Uuid,
    id: Uuid,
) -> crate::error::ApiResult<crate::entities::pool::Model> {
    let pool = crate::services::pools::close(state, tenant, id).await?;
    resize::wind_down(state, &pool).await?;
    wake_pool_nodes(state, pool.id).await;
    crate::services::pools::load(&state.db, tenant, pool.id).await
}

/// Aborts a task for the API and the dashboard alike: its queued instances are cancelled,
/// the nodes running the others are told to stop them, and the freed slots get other work.
pub async fn abort_task(
    state: &web::Data<AppState>,
    tenant: Uuid,
    id: Uuid,
) -> crate::error::ApiResult<crate::entities::task::Model> {
    let t = crate::services::tasks::abort(state, tenant, id).await?;
    wake_pool_nodes(state, t.pool_id).await;
    spawn_dispatch(state.clone(), t.pool_id);
    Ok(t)
}

/// Dispatch in the background: the request that made work available answers at once.
/// Coalesced per pool: while one is waiting to start, more requests join it, so a burst of
/// submits queues at most one dispatch per pool, not one per task.
pub fn spawn_dispatch(state: web::Data<AppState>, pool_id: Uuid) {
    if !state.ask_dispatch(pool_id) {
        return;
    }
    tokio::spawn(async move {
        state.dispatch_starts(pool_id);
        dispatch_logged(&state, pool_id).await
    });
}

/// Dispatches a pool where nobody waits for the answer: a failure is logged.
async fn dispatch_logged(state: &AppState, pool_id: Uuid) {
    if let Err(e) = dispatch::dispatch_pool(state, pool_id).await {
        tracing::error!(pool = %pool_id, error = %e, "dispatch failed");
    }
}

/// New work for a pool: dispatched in the background, and what finds no free slot asks
/// the pool to grow now (see `resize::grow_on_demand`).
pub fn work_arrived(state: web::Data<AppState>, pool_id: Uuid) {
    if !state.ask_dispatch(pool_id) {
        return;
    }
    tokio::spawn(async move {
        state.dispatch_starts(pool_id);
        dispatch_logged(&state, pool_id).await;
        if let Err(e) = resize::grow_on_demand(&state, pool_id).await {
            tracing::error!(pool = %pool_id, error = %e, "growth on demand failed");
        }
    });
}

/// Follows the change feed into `hearth_changes_total{kind}`.
async fn count_changes(state: web::Data<AppState>, mut stop: signal::Receiver<bool>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut changes = state.feed.subscribe();
    loop {
        tokio::select! {
            received = changes.recv() => match received {
                Ok(event) => state
                    .metrics
                    .changes
                    .with_label_values(&[event.change.kind()])
                    .inc(),
                Err(RecvError::Lagged(lost)) => state.metrics.changes_lost.inc_by(lost),
                Err(RecvError::Closed) => break,
            },
            _ = stop.changed() => break,
        }
    }
}

pub struct EngineTasks {
    stop: signal::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

/// Adopts the nodes a previous run left, then starts the loops.
pub async fn start(state: web::Data<AppState>) -> anyhow::Result<EngineTasks> {
    adopt_nodes(&state).await?;
    let (stop, rx) = signal::channel(false);
    let handles = vec![
        tokio::spawn(resize::run(state.clone(), rx.clone())),
        tokio::spawn(count_changes(state.clone(), rx.clone())),
        tokio::spawn(budgets::run(state.clone(), rx.clone())),
        tokio::spawn(retention::run(state.clone(), rx.clone())),
        tokio::spawn(watch::run(state.clone(), rx)),
    ];
    Ok(EngineTasks { stop, handles })
}

impl EngineTasks {
    /// Stops the loops, then terminates every live node: nothing is left running after a
    /// clean stop. Instances that were running go back to the queue without using a retry.
    /// Ends the loops and leaves the nodes as they are (their agents run on, their usage
    /// stays open): what a killed server leaves behind, for the next start to adopt.
    pub async fn stop_loops(&self) {
        let _ = self.stop.send(true);
        for h in &self.handles {
            while !h.is_finished() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }

    pub async fn shutdown(self, state: &AppState) {
        self.stop_loops().await;
        let live = node::Entity::find()
            .filter(
                node::Column::State
                    .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
            )
            .all(&state.db)
            .await
            .unwrap_or_default();
        for n in &live {
            if let Err(e) = nodes::end_node(state, n.id, nodes::NodeEnd::Terminated, false).await {
                tracing::error!(node = %n.id, error = %e, "terminating node on shutdown");
            }
        }
        // The agents stop their instances and exit on their own; whatever is left when the
        // grace is over is killed, so a clean stop leaves no process behind.
        let deadline = Instant::now() + state.settings.kill_grace * 2;
        while Instant::now() < deadline
            && live
                .iter()
                .any(|n| state.launcher.is_alive(&nodes::handle(n)))
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for n in &live {
            state.launcher.kill_now(&nodes::handle(n));
        }
    }
}

/// Instances left on a slot of a node that has ended (a crash between two writes): given
/// back like those of a lost node, so no task waits for them forever. Run at start only:
/// while running, dispatch and node ends exclude each other, and this scan of every
/// instance on a slot is not worth a periodic cost.
async fn repair_stranded(state: &AppState) -> crate::error::ApiResult<usize> {
    let ended = sea_orm::sea_query::Query::select()
        .column(node::Column::Id)
        .from(node::Entity)
        .and_where(
            node::Column::State.is_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
        )
        .to_owned();
    let stranded = instance::Entity::find()
        .filter(instance::Column::State.is_in(instances::ON_SLOT))
        .filter(
            sea_orm::Condition::any()
                .add(instance::Column::NodeId.is_null())
                .add(instance::Column::NodeId.in_subquery(ended)),
        )
        .limit(1000)
        .all(&state.db)
        .await?;
    let now = state.clock.now();
    let mut repaired = 0;
    let mut pools: Vec<Uuid> = Vec::new();
    for inst in stranded {
        let txn = state.write().await?;
        let left = instances::lose_instance(&txn, &inst, now, false).await?;
        if left.is_some() {
            progress::refresh_task_state(&txn, inst.task_id, now).await?;
            repaired += 1;
        }
        txn.commit().await?;
        if let Some(left) = left {
            state.metrics.instance_ended(left);
        }
        if !pools.contains(&inst.pool_id) {
            pools.push(inst.pool_id);
        }
    }
    // Once per pool, after all are back in the queue.
    for pool_id in pools {
        dispatch_logged(state, pool_id).await;
    }
    if repaired > 0 {
        tracing::warn!(repaired, "instances stranded on ended nodes given back");
    }
    Ok(repaired)
}

/// Nodes of a previous run: still-running agents are adopted (they call in again), dead
/// ones are Failed with their metering closed at their last heartbeat.
async fn adopt_nodes(state: &AppState) -> anyhow::Result<()> {
    let live = node::Entity::find()
        .filter(
            node::Column::State
                .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
        )
        .all(&state.db)
        .await?;
    for n in live {
        if state.launcher.is_alive(&nodes::handle(&n)) {
            tracing::info!(node = %n.id, pid = ?n.pid, "adopting running node");
            liveness_grace(state, n.id);
        } else {
            tracing::info!(node = %n.id, "node of a previous run is gone: failed");
            nodes::end_node(state, n.id, nodes::NodeEnd::Failed, true)
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
    }
    repair_stranded(state)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    Ok(())
}
