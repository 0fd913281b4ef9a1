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
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::instances::ON_SLOT;
use crate::entities::{instance, node, pool};
use crate::error::ApiResult;
use crate::services::{pools, tasks};
use crate::state::AppState;

/// Places what can be placed in one pool now; wakes the nodes that got work.
pub async fn dispatch_pool(state: &AppState, pool_id: Uuid) -> ApiResult<usize> {
    Ok(dispatch_pool_except(state, pool_id, None).await?.placed)
}

/// What one dispatch placed.
#[derive(Debug, Default)]
pub struct Dispatched {
    pub placed: usize,
    /// Nodes that got work.
    pub nodes: Vec<Uuid>,
}

/// `dispatch_pool`, without waking `quiet`: the node whose report asked for the refill
/// learns its new work in the report's answer.
pub async fn dispatch_pool_except(
    state: &AppState,
    pool_id: Uuid,
    quiet: Option<Uuid>,
) -> ApiResult<Dispatched> {
    let lock = state.dispatch_lock(pool_id);
    let _guard = lock.lock().await;
    let db = &state.db;
    let Some(p) = pool::Entity::find_by_id(pool_id).one(db).await? else {
        return Ok(Dispatched::default());
    };
    if !pools::state_of(&p).accepts_tasks() {
        return Ok(Dispatched::default());
    }
    super::progress::settle_dependencies(state, pool_id).await?;
    let now = state.clock.now();
    let txn = crate::db::write(db).await?;
    // Read inside the transaction, nodes share-locked (PostgreSQL): a node being failed
    // right now is either seen Failed here or fails after this commits, and then takes
    // back what this placed. Instances are never left assigned to a dead node.
    type NodeRow = (Uuid, i32, Option<chrono::DateTime<chrono::Utc>>);
    let nodes: Vec<NodeRow> = node::Entity::find()
        .select_only()
        .columns([
            node::Column::Id,
            node::Column::Slots,
            node::Column::IdleSince,
        ])
        .filter(node::Column::PoolId.eq(pool_id))
        .filter(node::Column::State.eq(NodeState::Ready.as_str()))
        .order_by_asc(node::Column::CreatedAt)
        .lock_shared()
        .into_tuple()
        .all(&txn)
        .await?;
    if nodes.is_empty() {
        return Ok(Dispatched::default());
    }
    let busy: Vec<(Option<Uuid>, Option<i32>)> = instance::Entity::find()
        .select_only()
        .columns([instance::Column::NodeId, instance::Column::SlotIndex])
        .filter(instance::Column::NodeId.is_in(nodes.iter().map(|(id, _, _)| *id)))
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
        .map(|(id, capacity, _)| NodeSlots {
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
        return Ok(Dispatched::default());
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
        return Ok(Dispatched::default());
    }
    let placement = place(&slots, candidates.len() as u32);
    // Slots chosen per node, then one conditional claim per node: an instance changed
    // meanwhile (an abort on PostgreSQL) is not claimed, and RETURNING says which were.
    let mut per_node: Vec<(Uuid, Vec<(Uuid, i32)>)> = Vec::new();
    let task_of: HashMap<Uuid, Uuid> = candidates.iter().copied().collect();
    for ((id, _), node_id) in candidates.iter().zip(placement) {
        let taken = used.entry(node_id).or_default();
        let slot = (0..).find(|i| !taken.contains(i)).unwrap_or(0);
        taken.insert(slot);
        match per_node.iter_mut().find(|(n, _)| *n == node_id) {
            Some((_, list)) => list.push((*id, slot)),
            None => per_node.push((node_id, vec![(*id, slot)])),
        }
    }
    let mut placed = 0;
    let mut per_task: Vec<(Uuid, u64)> = Vec::new();
    let mut touched_nodes: Vec<Uuid> = Vec::new();
    for (node_id, list) in &per_node {
        let claimed = claim(&txn, *node_id, list).await?;
        if claimed.is_empty() {
            continue;
        }
        touched_nodes.push(*node_id);
        for id in claimed {
            placed += 1;
            let task_id = task_of[&id];
            match per_task.iter_mut().find(|(t, _)| *t == task_id) {
                Some((_, n)) => *n += 1,
                None => per_task.push((task_id, 1)),
            }
        }
    }
    // Lock order everywhere: instances, then nodes, then tasks.
    // On SQLite this transaction is the only writer, so the idle marks read above are
    // current and only nodes that were idle need clearing. On PostgreSQL a concurrent
    // `mark_idle_if_free` may commit after that read: every touched node is cleared.
    let serialized = txn.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let were_idle: Vec<Uuid> = nodes
        .iter()
        .filter(|(id, _, idle)| (idle.is_some() || !serialized) && touched_nodes.contains(id))
        .map(|(id, _, _)| *id)
        .collect();
    if !were_idle.is_empty() {
        node::Entity::update_many()
            .col_expr(
                node::Column::IdleSince,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(node::Column::Id.is_in(were_idle))
            .exec(&txn)
            .await?;
    }
    let mut progress = Vec::with_capacity(per_task.len());
    for (task_id, n) in &per_task {
        let shifted = tasks::shift(
            &txn,
            *task_id,
            InstanceState::Queued,
            InstanceState::Assigned,
            *n,
        )
        .await?;
        if let Some(row) = super::progress::settle_moved(&txn, *task_id, shifted, now).await? {
            progress.push(row);
        }
    }
    txn.commit().await?;
    for t in &progress {
        state.announce_progress(t);
    }
    for n in touched_nodes.iter().filter(|n| Some(**n) != quiet) {
        state.wake_node(*n);
    }
    if placed > 0 {
        tracing::debug!(pool = %pool_id, placed, "dispatched");
        state.metrics.instances_dispatched.inc_by(placed as u64);
    }
    Ok(Dispatched {
        placed,
        nodes: touched_nodes,
    })
}

/// Claims queued instances for slots of one node in one statement; answers those claimed.
async fn claim(
    txn: &sea_orm::DatabaseTransaction,
    node_id: Uuid,
    list: &[(Uuid, i32)],
) -> ApiResult<Vec<Uuid>> {
    use sea_orm::Iden;
    use sea_orm::sea_query::{CaseStatement, ExprTrait, Query};
    let mut slot = CaseStatement::new();
    for (id, index) in list {
        slot = slot.case(Expr::col(instance::Column::Id).eq(*id), Expr::val(*index));
    }
    let mut update = Query::update();
    update
        .table(instance::Entity)
        .value(
            instance::Column::State,
            Expr::val(InstanceState::Assigned.as_str()),
        )
        .value(instance::Column::NodeId, Expr::val(node_id))
        .value(instance::Column::SlotIndex, slot.finally(Expr::val(0)))
        .and_where(instance::Column::Id.is_in(list.iter().map(|(id, _)| *id)))
        .and_where(instance::Column::State.eq(InstanceState::Queued.as_str()))
        .returning_col(instance::Column::Id);
    let rows = txn.query_all(&update).await?;
    let column = instance::Column::Id.to_string();
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        claimed.push(row.try_get::<Uuid>("", &column)?);
    }
    Ok(claimed)
}
