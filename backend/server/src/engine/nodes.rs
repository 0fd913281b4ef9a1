//! Node lifecycle: requested → booting → ready → draining → terminated, or failed. Metering
//! follows it in the same transaction: a usage interval opens when a node becomes Ready and
//! closes when it is Terminated (now) or Failed (at its last heartbeat).

use chrono::{DateTime, Utc};
use hearth_core::model::NodeState;
use hearth_core::pool_state::{NodeCounts, PoolEvent, PoolState, pool_transition};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::auth::node_token;
use crate::entities::{instance, node, pool, usage_interval};
use crate::error::ApiResult;
use crate::launcher::{NodeHandle, NodeLaunch};
use crate::services::{pools, profiles};
use crate::state::AppState;

/// Announces a node's new state, written by a statement rather than read back.
fn announce_node(state: &AppState, tenant: Uuid, pool: Uuid, node: Uuid, now: NodeState) {
    state.announce(
        tenant,
        crate::feed::Change::Node {
            pool,
            node,
            state: now.as_str().to_owned(),
        },
    );
}

pub fn node_state(n: &node::Model) -> NodeState {
    n.state.parse().unwrap_or(NodeState::Failed)
}

pub fn handle(n: &node::Model) -> NodeHandle {
    NodeHandle {
        node_id: n.id,
        pid: n.pid,
    }
}

/// Requests `count` new nodes for a pool and starts them through the launcher.
pub async fn request_nodes(state: &AppState, pool: &pool::Model, count: u32) -> ApiResult<()> {
    let profile = profiles::find(&state.db, &pool.profile_name).await?;
    for _ in 0..count {
        // The hard stop of the launcher's capacity (evaluations already plan within it;
        // this catches two pools growing at the same instant).
        let live = crate::services::quotas::live_nodes(&state.db).await?;
        if live >= u64::from(state.settings.max_live_nodes) {
            tracing::warn!(pool = %pool.id, live, max = state.settings.max_live_nodes,
                "launcher at capacity: node not started");
            break;
        }
        let now = state.clock.now();
        let node_id = Uuid::new_v4();
        let token_id = Uuid::new_v4();
        node::ActiveModel {
            id: Set(node_id),
            tenant_id: Set(pool.tenant_id),
            pool_id: Set(pool.id),
            state: Set(NodeState::Requested.as_str().to_owned()),
            slots: Set(pool.slots_per_node.max(1)),
            token_id: Set(Some(token_id)),
            pid: Set(None),
            dir: Set(None),
            created_at: Set(now),
            ready_at: Set(None),
            last_heartbeat: Set(None),
            idle_since: Set(None),
            ended_at: Set(None),
        }
        .insert(&state.db)
        .await?;
        let token = node_token(&state.keys, node_id, pool.tenant_id, token_id, now)?;
        let launch = NodeLaunch {
            node_id,
            pool_id: pool.id,
            token,
            server_url: state.server_url.clone(),
            boot_delay: std::time::Duration::from_millis(profile.boot_delay_ms.max(0) as u64),
            give_up: state.settings.agent_give_up,
        };
        // The agent may register before these writes land: its Ready must not be undone,
        // so the state moves only from Requested.
        let from_requested = |next: NodeState| {
            node::Entity::update_many()
                .col_expr(node::Column::State, Expr::value(next.as_str()))
                .filter(node::Column::Id.eq(node_id))
                .filter(node::Column::State.eq(NodeState::Requested.as_str()))
        };
        match state.launcher.launch(&launch) {
            Ok(launched) => {
                node::Entity::update_many()
                    .col_expr(node::Column::Pid, Expr::value(launched.pid))
                    .col_expr(
                        node::Column::Dir,
                        Expr::value(launched.dir.map(|d| d.display().to_string())),
                    )
                    .filter(node::Column::Id.eq(node_id))
                    .exec(&state.db)
                    .await?;
                let booting = from_requested(NodeState::Booting).exec(&state.db).await?;
                if booting.rows_affected == 1 {
                    announce_node(state, pool.tenant_id, pool.id, node_id, NodeState::Booting);
                }
                tracing::info!(pool = %pool.id, node = %node_id, pid = ?launched.pid, "node launched");
            }
            Err(e) => {
                tracing::warn!(pool = %pool.id, node = %node_id, error = %e, "node launch failed");
                from_requested(NodeState::Failed)
                    .col_expr(node::Column::EndedAt, Expr::value(now))
                    .exec(&state.db)
                    .await?;
                announce_node(state, pool.tenant_id, pool.id, node_id, NodeState::Failed);
            }
        }
        super::liveness_grace(state, node_id);
    }
    Ok(())
}

/// The agent registered: the node is Ready and billed from now on.
pub async fn mark_ready(state: &AppState, node_id: Uuid) -> ApiResult<node::Model> {
    let now = state.clock.now();
    let txn = state.write().await?;
    let n = node::Entity::find_by_id(node_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("node"))?;
    let current = node_state(&n);
    let updated = if current.is_starting() {
        let pool = pool::Entity::find_by_id(n.pool_id)
            .one(&txn)
            .await?
            .ok_or_else(|| crate::error::ApiError::not_found("pool"))?;
        let price = profiles::find_for_share(&txn, &pool.profile_name)
            .await
            .map(|p| p.price_per_slot_hour)
            .unwrap_or_else(|_| "0".into());
        new_interval(
            (n.tenant_id, n.pool_id, n.id),
            &pool.profile_name,
            n.slots,
            &price,
            now,
        )
        .insert(&txn)
        .await?;
        let mut active = n.clone().into_active_model();
        active.state = Set(NodeState::Ready.as_str().to_owned());
        active.ready_at = Set(Some(now));
        active.last_heartbeat = Set(Some(now));
        active.idle_since = Set(Some(now));
        active.update(&txn).await?
    } else {
        let mut active = n.clone().into_active_model();
        active.last_heartbeat = Set(Some(now));
        active.update(&txn).await?
    };
    txn.commit().await?;
    if current.is_starting() {
        state.announce(updated.tenant_id, crate::feed::node_change(&updated));
        tracing::info!(node = %node_id, pool = %updated.pool_id, "node ready");
        refresh_pool_state(state, updated.pool_id).await?;
    }
    Ok(updated)
}

/// How a node ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeEnd {
    /// Released on purpose (scale-down, close, shutdown): billed until now.
    Terminated,
    /// Lost (no heartbeat, process gone): billed until its last heartbeat.
    Failed,
}

/// Ends a node in one transaction: its state, its usage interval, and its instances, which
/// are requeued (or failed when their retries are spent). `consume_retry` is false when the
/// loss is ours (a clean server stop), so users don't pay retries for it.
pub async fn end_node(
    state: &AppState,
    node_id: Uuid,
    how: NodeEnd,
    consume_retry: bool,
) -> ApiResult<Option<node::Model>> {
    let now = state.clock.now();
    let txn = state.write().await?;
    let Some(n) = node::Entity::find_by_id(node_id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    if node_state(&n).is_terminal() {
        return Ok(None);
    }
    let ended_at = match how {
        NodeEnd::Terminated => now,
        NodeEnd::Failed => n.last_heartbeat.unwrap_or(now).min(now),
    };
    let mut active = n.clone().into_active_model();
    active.state = Set(match how {
        NodeEnd::Terminated => NodeState::Terminated,
        NodeEnd::Failed => NodeState::Failed,
    }
    .as_str()
    .to_owned());
    active.ended_at = Set(Some(ended_at));
    active.idle_since = Set(None);
    let ended = active.update(&txn).await?;
    close_usage(&txn, node_id, ended_at).await?;
    if how == NodeEnd::Failed {
        // Before anything it ran is given back: a lost node must not keep running an
        // instance that another node is about to start (nothing runs twice at once).
        state.launcher.kill_now(&handle(&n));
    }
    let lost = instance::Entity::find()
        .filter(instance::Column::NodeId.eq(node_id))
        .filter(instance::Column::State.is_in(super::instances::ON_SLOT))
        .all(&txn)
        .await?;
    let mut tasks = Vec::new();
    let mut progress = Vec::new();
    let mut ends = Vec::new();
    for inst in lost {
        let Some(left) =
            super::instances::lose_instance(&txn, &inst, ended_at, consume_retry).await?
        else {
            continue;
        };
        ends.push(left);
        if !tasks.contains(&inst.task_id) {
            tasks.push(inst.task_id);
        }
    }
    for task_id in &tasks {
        if let Some(row) = super::progress::refresh_task_state(&txn, *task_id, now).await? {
            progress.push(row);
        }
    }
    txn.commit().await?;
    for left in ends {
        state.metrics.instance_ended(left);
    }
    if let Some(ready_at) = n.ready_at {
        // Billed from Ready to its end (DESIGN §6), at every price its intervals had.
        let seconds = hearth_core::clock::seconds_between(ready_at, ended_at);
        state
            .metrics
            .billed_slot_seconds
            .inc_by(seconds * f64::from(n.slots.max(0)));
    }
    state.announce(ended.tenant_id, crate::feed::node_change(&ended));
    for t in &progress {
        state.announce_progress(t);
    }
    tracing::info!(node = %node_id, pool = %n.pool_id, end = ?how, requeued_tasks = tasks.len(), "node ended");
    state
        .launcher
        .terminate(&handle(&n), state.settings.kill_grace);
    // Wake a held poll (it answers `shutdown`), then drop the signal: later calls of this
    // node's token are refused before they could need it.
    state.wake_node(node_id);
    state.forget_node(node_id);
    super::forget_liveness(state, node_id);
    Ok(Some(ended))
}

/// Closes a node's open usage interval at `end` (never before it started).
async fn close_usage(
    db: &impl ConnectionTrait,
    node_id: Uuid,
    end: DateTime<Utc>,
) -> ApiResult<()> {
    let open = usage_interval::Entity::find()
        .filter(usage_interval::Column::NodeId.eq(node_id))
        .filter(usage_interval::Column::EndedAt.is_null())
        .all(db)
        .await?;
    let mut closed = Vec::with_capacity(open.len());
    for interval in open {
        let end = end.max(interval.started_at);
        if end_interval(db, interval.id, end).await? {
            closed.push(interval.id);
        }
    }
    roll_up(db, &closed).await
}

/// Ends an open interval at `end`; false when another transaction ended it first (then its
/// rollup is that transaction's).
async fn end_interval(
    db: &impl ConnectionTrait,
    interval: Uuid,
    end: DateTime<Utc>,
) -> ApiResult<bool> {
    let done = usage_interval::Entity::update_many()
        .col_expr(usage_interval::Column::EndedAt, Expr::value(end))
        .filter(usage_interval::Column::Id.eq(interval))
        .filter(usage_interval::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Adds intervals this transaction closed to the day rollups, in the same transaction, so
/// a report never sees an interval both closed and not rolled up (DESIGN §6).
async fn roll_up(db: &impl ConnectionTrait, closed: &[Uuid]) -> ApiResult<()> {
    hearth_migrations::rollups::roll_up(db, hearth_migrations::rollups::Closed::Ids(closed))
        .await?;
    Ok(())
}

/// A node's new open usage interval from `at`, billed at `price` per slot-hour.
fn new_interval(
    (tenant, pool, node): (Uuid, Uuid, Uuid),
    profile: &str,
    slots: i32,
    price: &str,
    at: DateTime<Utc>,
) -> usage_interval::ActiveModel {
    usage_interval::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        pool_id: Set(pool),
        node_id: Set(node),
        profile_name: Set(profile.to_owned()),
        slots: Set(slots),
        price_per_slot_hour: Set(price.to_owned()),
        started_at: Set(at),
        ended_at: Set(None),
    }
}

/// Closes every open usage interval of `profile`'s nodes at `at` and opens its successor
/// at the same instant with `price`: no gap, no overlap, each second at one price.
pub async fn split_open_intervals(
    db: &impl ConnectionTrait,
    profile: &str,
    price: &str,
    at: DateTime<Utc>,
) -> ApiResult<u64> {
    let open = usage_interval::Entity::find()
        .filter(usage_interval::Column::ProfileName.eq(profile))
        .filter(usage_interval::Column::EndedAt.is_null())
        .all(db)
        .await?;
    let mut split = 0;
    let mut closed = Vec::new();
    for interval in open {
        if interval.started_at >= at {
            // Opened at this very instant (or later by the clock): reprice it whole.
            usage_interval::Entity::update_many()
                .col_expr(usage_interval::Column::PricePerSlotHour, Expr::value(price))
                .filter(usage_interval::Column::Id.eq(interval.id))
                .exec(db)
                .await?;
            continue;
        }
        if interval.price_per_slot_hour == price {
            continue;
        }
        if !end_interval(db, interval.id, at).await? {
            continue;
        }
        closed.push(interval.id);
        new_interval(
            (interval.tenant_id, interval.pool_id, interval.node_id),
            &interval.profile_name,
            interval.slots,
            price,
            at,
        )
        .insert(db)
        .await?;
        split += 1;
    }
    roll_up(db, &closed).await?;
    Ok(split)
}

/// Releases a node chosen by scale-down or close: one still starting or idle ends now; a
/// busy one drains (no new work) and ends when its last instance does.
pub async fn release(state: &AppState, node_id: Uuid) -> ApiResult<()> {
    let Some(n) = node::Entity::find_by_id(node_id).one(&state.db).await? else {
        return Ok(());
    };
    let current = node_state(&n);
    if current.is_terminal() {
        return Ok(());
    }
    if current.is_starting() || super::instances::busy_slots(&state.db, node_id).await? == 0 {
        end_node(state, node_id, NodeEnd::Terminated, true).await?;
    } else if current == NodeState::Ready {
        let draining = node::Entity::update_many()
            .col_expr(
                node::Column::State,
                Expr::value(NodeState::Draining.as_str()),
            )
            .filter(node::Column::Id.eq(node_id))
            .filter(node::Column::State.eq(NodeState::Ready.as_str()))
            .exec(&state.db)
            .await?;
        if draining.rows_affected == 1 {
            announce_node(state, n.tenant_id, n.pool_id, node_id, NodeState::Draining);
        }
        tracing::info!(node = %node_id, "node draining");
    }
    Ok(())
}

/// Re-derives a pool's state from its nodes and target (DESIGN §2), in one write
/// transaction holding the pool row: two nodes becoming Ready at once must not leave the
/// state of whichever read first.
pub async fn refresh_pool_state(state: &AppState, pool_id: Uuid) -> ApiResult<()> {
    let now = state.clock.now();
    let txn = state.write().await?;
    let Some(p) = pool::Entity::find_by_id(pool_id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    let current = pools::state_of(&p);
    let live = pools::live_nodes(&txn, pool_id).await?;
    let next = match current {
        PoolState::Closing if live.is_empty() => {
            pool_transition(current, &PoolEvent::AllNodesTerminated)?
        }
        s if s.follows_nodes() => {
            let spn = p.slots_per_node.max(1) as u32;
            let target_nodes = (p.target_slots.max(0) as u32).div_ceil(spn);
            let counts = NodeCounts::from_states(target_nodes, live.iter().map(node_state));
            pool_transition(current, &PoolEvent::Scaled(counts))?
        }
        s => s,
    };
    if next == current {
        return Ok(());
    }
    let mut active = p.clone().into_active_model();
    pools::set_state(&mut active, &p, next, now);
    if next == PoolState::Closed {
        active.end_date = Set(Some(now));
    }
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    txn.commit().await?;
    state.announce(updated.tenant_id, crate::feed::pool_change(&updated));
    tracing::info!(pool = %pool_id, from = current.as_str(), to = next.as_str(), "pool state");
    Ok(())
}
