//! The dispatcher: queued instances go to free slots of Ready nodes the moment both exist.
//! FIFO by task submission within a pool, pack placement (busiest node with a free slot
//! first, from the core). One write transaction reads the pool's Ready nodes and their busy
//! slots, takes the oldest dispatchable instances in one index range scan
//! (`instances_dispatch`: pool, state, held, task order, instance id) limited to the free
//! slots, and claims each with a conditional update so it is placed once. Its cost grows
//! with the slots it fills, never with the size of the queue.

use std::collections::{BTreeSet, HashMap};

use hearth_core::model::{InstanceState, NodeState};
use hearth_core::placement::{NodeSlots, place};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::instances::ON_SLOT;
use crate::entities::{instance, node, pool};
use crate::error::ApiResult;
use crate::services::{pools, tasks};
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
    super::progress::settle_dependencies(state, pool_id).await?;
    let now = state.clock.now();
    let txn = crate::db::write(db).await?;
    // Read inside the transaction, nodes share-locked (PostgreSQL): a node being failed
    // right now is either seen Failed here or fails after this commits, and then takes
    // back what this placed. Instances are never left assigned to a dead node.
    let nodes: Vec<(Uuid, i32)> = node::Entity::find()
        .select_only()
        .columns([node::Column::Id, node::Column::Slots])
        .filter(node::Column::PoolId.eq(pool_id))
        .filter(node::Column::State.eq(NodeState::Ready.as_str()))
        .order_by_asc(node::Column::CreatedAt)
        .lock_shared()
        .into_tuple()
        .all(&txn)
        .await?;
    if nodes.is_empty() {
        return Ok(0);
    }
    let busy: Vec<(Option<Uuid>, Option<i32>)> = instance::Entity::find()
        .select_only()
        .columns([instance::Column::NodeId, instance::Column::SlotIndex])
        .filter(instance::Column::NodeId.is_in(nodes.iter().map(|(id, _)| *id)))
        .filter(instance::Column::State.is_in(ON_SLOT))
        .into_tuple()
        .all(&txn)
        .await?;
    let mut used: HashMap<Uuid, BTreeSet<i32>> = HashMap::new();
    for (n, slot) in busy {
        if let Some(n) = n {
            used.entry(n).or_default().insert(slot.unwrap_or(-1));
        }
    }
    let slots: Vec<NodeSlots> = nodes
        .iter()
        .map(|(id, capacity)| NodeSlots {
            node_id: *id,
            capacity: (*capacity).max(0) as u32,
            busy: used.get(id).map_or(0, |s| s.len() as u32),
        })
        .collect();
    let free: u32 = slots
        .iter()
        .map(|s| s.capacity.saturating_sub(s.busy))
        .sum();
    if free == 0 {
        return Ok(0);
    }
    let candidates: Vec<(Uuid, Uuid)> = instance::Entity::find()
        .select_only()
        .columns([instance::Column::Id, instance::Column::TaskId])
        .filter(instance::Column::PoolId.eq(pool_id))
        .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
        .filter(instance::Column::Held.eq(false))
        .order_by_asc(instance::Column::TaskSeq)
        .order_by_asc(instance::Column::InstanceId)
        .limit(u64::from(free))
        .into_tuple()
        .all(&txn)
        .await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let placement = place(&slots, candidates.len() as u32);
    let mut placed = 0;
    let mut per_task: Vec<(Uuid, u64)> = Vec::new();
    let mut touched_nodes: Vec<Uuid> = Vec::new();
    for ((id, task_id), node_id) in candidates.iter().zip(placement) {
        let taken = used.entry(node_id).or_default();
        let slot = (0..).find(|i| !taken.contains(i)).unwrap_or(0);
        let claimed = instance::Entity::update_many()
            .col_expr(
                instance::Column::State,
                Expr::value(InstanceState::Assigned.as_str()),
            )
            .col_expr(instance::Column::NodeId, Expr::value(node_id))
            .col_expr(instance::Column::SlotIndex, Expr::value(slot))
            .filter(instance::Column::Id.eq(*id))
            .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 1 {
            taken.insert(slot);
            placed += 1;
            match per_task.iter_mut().find(|(t, _)| t == task_id) {
                Some((_, n)) => *n += 1,
                None => per_task.push((*task_id, 1)),
            }
            if !touched_nodes.contains(&node_id) {
                touched_nodes.push(node_id);
            }
        }
    }
    // Lock order everywhere: instances, then nodes, then tasks.
    node::Entity::update_many()
        .col_expr(
            node::Column::IdleSince,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(node::Column::Id.is_in(touched_nodes.iter().copied()))
        .exec(&txn)
        .await?;
    for (task_id, n) in &per_task {
        tasks::shift(
            &txn,
            *task_id,
            InstanceState::Queued,
            InstanceState::Assigned,
            *n,
        )
        .await?;
        super::progress::refresh_task_state(&txn, *task_id, now).await?;
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
