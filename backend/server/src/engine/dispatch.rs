//! Dispatch: queued instances go to free slots of Ready nodes the moment both exist. FIFO by
//! task submission within a pool, pack placement (busiest node with a free slot first, from
//! the core), and each instance claimed with a conditional update so it is placed once.

use std::collections::{BTreeSet, HashMap};

use hearth_core::model::{InstanceState, NodeState};
use hearth_core::placement::{NodeSlots, place};
use hearth_core::task_state::TaskState;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entities::{instance, node, pool, task};
use crate::error::ApiResult;
use crate::services::pools;
use crate::state::AppState;

/// Places what can be placed in one pool now; wakes the nodes that got work.
pub async fn dispatch_pool(state: &AppState, pool_id: Uuid) -> ApiResult<usize> {
    let lock = state.dispatch_lock(pool_id);
    let _guard = lock.lock().await;
    let db = &state.db;
    let Some(p) = pool::Entity::find_by_id(pool_id).one(db).await? else {
        return Ok(0);
    };
    if !pools::state_of(&p).accepts_tasks() {
        return Ok(0);
    }
    super::reports::settle_dependencies(state, pool_id).await?;
    let nodes = node::Entity::find()
        .filter(node::Column::PoolId.eq(pool_id))
        .filter(node::Column::State.eq(NodeState::Ready.as_str()))
        .order_by_asc(node::Column::CreatedAt)
        .all(db)
        .await?;
    if nodes.is_empty() {
        return Ok(0);
    }
    let busy = instance::Entity::find()
        .filter(instance::Column::PoolId.eq(pool_id))
        .filter(instance::Column::State.is_in([
            InstanceState::Assigned.as_str(),
            InstanceState::Executing.as_str(),
        ]))
        .all(db)
        .await?;
    let mut used: HashMap<Uuid, BTreeSet<i32>> = HashMap::new();
    for b in &busy {
        if let Some(n) = b.node_id {
            used.entry(n)
                .or_default()
                .insert(b.slot_index.unwrap_or(-1));
        }
    }
    let mut slots: Vec<NodeSlots> = nodes
        .iter()
        .map(|n| NodeSlots {
            node_id: n.id,
            capacity: n.slots.max(0) as u32,
            busy: used.get(&n.id).map_or(0, |s| s.len() as u32),
        })
        .collect();
    let free: u32 = slots
        .iter()
        .map(|s| s.capacity.saturating_sub(s.busy))
        .sum();
    if free == 0 {
        return Ok(0);
    }
    let candidates = queued_in_order(state, pool_id, free as u64).await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let placement = place(&slots, candidates.len() as u32);
    let now = state.clock.now();
    let txn = crate::db::write(db).await?;
    let mut placed = 0;
    let mut touched_tasks = Vec::new();
    let mut touched_nodes = Vec::new();
    for (inst, node_id) in candidates.iter().zip(placement) {
        let taken = used.entry(node_id).or_default();
        let slot = (0..).find(|i| !taken.contains(i)).unwrap_or(0);
        let claimed = instance::Entity::update_many()
            .col_expr(
                instance::Column::State,
                Expr::value(InstanceState::Assigned.as_str()),
            )
            .col_expr(instance::Column::NodeId, Expr::value(node_id))
            .col_expr(instance::Column::SlotIndex, Expr::value(slot))
            .filter(instance::Column::Id.eq(inst.id))
            .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 1 {
            taken.insert(slot);
            placed += 1;
            if let Some(s) = slots.iter_mut().find(|s| s.node_id == node_id) {
                s.busy += 1;
            }
            if !touched_tasks.contains(&inst.task_id) {
                touched_tasks.push(inst.task_id);
            }
            if !touched_nodes.contains(&node_id) {
                touched_nodes.push(node_id);
            }
        }
    }
    for n in &touched_nodes {
        node::Entity::update_many()
            .col_expr(
                node::Column::IdleSince,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(node::Column::Id.eq(*n))
            .exec(&txn)
            .await?;
    }
    for t in &touched_tasks {
        super::reports::refresh_task_state(&txn, *t, now).await?;
    }
    txn.commit().await?;
    for n in touched_nodes {
        state.wake_node(n);
    }
    if placed > 0 {
        tracing::debug!(pool = %pool_id, placed, "dispatched");
        state.metrics.instances_dispatched.inc_by(placed as u64);
    }
    Ok(placed)
}

/// Up to `limit` queued instances whose dependencies are met, oldest task first.
async fn queued_in_order(
    state: &AppState,
    pool_id: Uuid,
    limit: u64,
) -> ApiResult<Vec<instance::Model>> {
    let open_tasks = task::Entity::find()
        .filter(task::Column::PoolId.eq(pool_id))
        .filter(task::Column::State.is_in([
            TaskState::Submitted.as_str(),
            TaskState::PartiallyDispatched.as_str(),
            TaskState::FullyDispatched.as_str(),
            TaskState::PartiallyExecuting.as_str(),
            TaskState::FullyExecuting.as_str(),
        ]))
        .order_by_asc(task::Column::Seq)
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for t in open_tasks.iter().filter(|t| !super::reports::is_waiting(t)) {
        let remaining = limit - out.len() as u64;
        if remaining == 0 {
            break;
        }
        let batch = instance::Entity::find()
            .filter(instance::Column::TaskId.eq(t.id))
            .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
            .order_by_asc(instance::Column::InstanceId)
            .limit(remaining)
            .all(&state.db)
            .await?;
        out.extend(batch);
    }
    Ok(out)
}
