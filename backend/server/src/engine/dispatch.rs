//! The dispatcher: queued instances go to free slots of Ready nodes the moment both exist.
//! FIFO by task submission within a pool, pack placement (busiest node with a free slot
//! first, from the core). One write transaction reads the pool's Ready nodes and their busy
//! slots, takes the oldest dispatchable instances in one index range scan
//! (`instances_dispatch`: pool, state, held, task order, instance id) limited to the free
//! slots, and claims each with a conditional update so it is placed once. Its cost grows
//! with the slots it fills, never with the size of the queue.

use std::collections::{BTreeMap, HashMap};

use hearth_core::model::{InstanceState, NodeState};
use hearth_core::placement::{NodeSlots, place, queue_behind};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::assign::{self, Placed};
use super::instances::ON_SLOT;
use crate::entities::{instance, node, pool, task};
use crate::error::ApiResult;
use crate::services::{pools, tasks};
use crate::state::AppState;

/// What one dispatch placed.
#[derive(Debug, Default)]
pub struct Dispatched {
    pub placed: usize,
    /// Nodes that got work.
    pub nodes: Vec<Uuid>,
    /// The assignments placed on the quiet node (see `deliver`), for its caller to answer.
    pub assignments: Vec<hearth_api::agent::Assignment>,
}

/// Places what can be placed in one pool now, in a transaction of its own; wakes the nodes
/// that got work.
pub async fn dispatch_pool(state: &AppState, pool_id: Uuid) -> ApiResult<Dispatched> {
    let lock = state.dispatch_lock(pool_id);
    let _guard = lock.lock().await;
    if !ready_to_place(state, pool_id).await? {
        return Ok(Dispatched::default());
    }
    let now = state.clock.now();
    let txn = state.write().await?;
    let placement = place_in(&txn, pool_id, now, state.queue_depth(pool_id)).await?;
    txn.commit().await?;
    Ok(deliver(state, pool_id, placement, None).await)
}

/// Before a placement's transaction, under the pool's dispatch lock: whether the pool takes
/// work, with the dependencies of its waiting tasks settled (in transactions of their own,
/// so never inside the placement's).
pub async fn ready_to_place(state: &AppState, pool_id: Uuid) -> ApiResult<bool> {
    let Some(p) = pool::Entity::find_by_id(pool_id).one(&state.db).await? else {
        return Ok(false);
    };
    if !pools::state_of(&p).accepts_tasks() {
        return Ok(false);
    }
    super::progress::settle_dependencies(state, pool_id).await?;
    Ok(true)
}

/// What one placement wrote, to deliver once its transaction has committed.
#[derive(Debug, Default)]
pub struct Placement {
    placed: usize,
    /// Of those, how many wait behind the instance running on their slot.
    behind: usize,
    /// Instances placed, per node, in placement order.
    per_node: Vec<(Uuid, Vec<Placed>)>,
    /// The rows of the tasks whose instances were placed, as the placement left them.
    tasks: HashMap<Uuid, task::Model>,
    /// Tasks whose state changed, to announce.
    progress: Vec<task::Model>,
}

impl Placement {
    /// Whether this placement gave `node` work.
    pub fn reaches(&self, node: Uuid) -> bool {
        self.per_node.iter().any(|(n, _)| *n == node)
    }

    /// The instances of a task the caller inserted on the slots `place_with` gave it, and
    /// the task's row as inserted.
    pub fn add_fresh(&mut self, row: task::Model, placed: Vec<(Uuid, Placed)>) {
        for (node_id, p) in placed {
            self.placed += 1;
            match self.per_node.iter_mut().find(|(n, _)| *n == node_id) {
                Some((_, list)) => list.push(p),
                None => self.per_node.push((node_id, vec![p])),
            }
        }
        self.tasks.insert(row.id, row);
    }
}

/// Places the oldest dispatchable instances of a pool on its free slots, then up to
/// `depth` behind each busy slot (`AppState::queue_depth`), in the caller's write
/// transaction. The caller holds the pool's dispatch lock (`AppState::dispatch_lock`)
/// from before the transaction began until `deliver`.
pub async fn place_in(
    txn: &sea_orm::DatabaseTransaction,
    pool_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
    depth: u32,
) -> ApiResult<Placement> {
    Ok(place_with(txn, pool_id, now, 0, depth).await?.0)
}

/// `place_in`, with a task of `fresh` instances about to be inserted by the caller: it
/// comes after every queued instance (it is the newest), and the slots left over after the
/// queue go to its first instances, which the caller then inserts on them (see
/// `Placement::add_fresh`): no claim, counter or state update to write for them. Answers
/// the (node, slot) of each of its first instances placed, in instance order.
pub async fn place_with(
    txn: &sea_orm::DatabaseTransaction,
    pool_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
    fresh: u32,
    depth: u32,
) -> ApiResult<(Placement, Vec<(Uuid, i32)>)> {
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
        .all(txn)
        .await?;
    if nodes.is_empty() {
        return Ok((Placement::default(), Vec::new()));
    }
    let busy: Vec<(Option<Uuid>, Option<i32>)> = instance::Entity::find()
        .select_only()
        .columns([instance::Column::NodeId, instance::Column::SlotIndex])
        .filter(instance::Column::NodeId.is_in(nodes.iter().map(|(id, _, _)| *id)))
        .filter(instance::Column::State.is_in(ON_SLOT))
        .into_tuple()
        .all(txn)
        .await?;
    // How many instances each slot holds: the one running, and those waiting behind it.
    let mut held: HashMap<Uuid, BTreeMap<i32, u32>> = HashMap::new();
    for (n, slot) in busy {
        if let Some(n) = n {
            *held
                .entry(n)
                .or_default()
                .entry(slot.unwrap_or(-1))
                .or_default() += 1;
        }
    }
    let slots: Vec<NodeSlots> = nodes
        .iter()
        .map(|(id, capacity, _)| NodeSlots {
            node_id: *id,
            capacity: (*capacity).max(0) as u32,
            busy: held.get(id).map_or(0, |s| s.len() as u32),
        })
        .collect();
    let free: u32 = slots
        .iter()
        .map(|s| s.capacity.saturating_sub(s.busy))
        .sum();
    // Places behind busy slots: what each slot holds (or will, once a free one is filled)
    // leaves `depth` waiting at most; exact, so the queue read below takes no extra rows.
    let behind_room: u32 = if depth == 0 {
        0
    } else {
        slots
            .iter()
            .map(|s| {
                let on = held.get(&s.node_id);
                (0..s.capacity as i32)
                    .map(|slot| {
                        let n = on.and_then(|m| m.get(&slot)).copied().unwrap_or(0);
                        (depth + 1).saturating_sub(n.max(1))
                    })
                    .fold(0, u32::saturating_add)
            })
            .fold(0, u32::saturating_add)
    };
    if free == 0 && behind_room == 0 {
        return Ok((Placement::default(), Vec::new()));
    }
    let candidates: Vec<(Uuid, Uuid)> = instance::Entity::find()
        .select_only()
        .columns([instance::Column::Id, instance::Column::TaskId])
        .filter(instance::Column::PoolId.eq(pool_id))
        .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
        .filter(instance::Column::Held.eq(false))
        .order_by_asc(instance::Column::TaskSeq)
        .order_by_asc(instance::Column::InstanceId)
        .limit(u64::from(free.saturating_add(behind_room)))
        .into_tuple()
        .all(txn)
        .await?;
    let wanted = (candidates.len() as u32).saturating_add(fresh);
    if wanted == 0 {
        return Ok((Placement::default(), Vec::new()));
    }
    // Free slots first (pack placement, from the core), then places behind busy slots.
    let mut positions: Vec<(Uuid, i32)> = Vec::new();
    let mut behind_from = usize::MAX;
    for node_id in place(&slots, wanted) {
        let taken = held.entry(node_id).or_default();
        let slot = (0..).find(|i| !taken.contains_key(i)).unwrap_or(0);
        taken.insert(slot, 1);
        positions.push((node_id, slot));
    }
    if depth > 0 && (positions.len() as u32) < wanted {
        let occupied: Vec<(Uuid, Vec<u32>)> = slots
            .iter()
            .map(|s| {
                let on = held.get(&s.node_id);
                let counts = (0..s.capacity as i32)
                    .map(|slot| on.and_then(|m| m.get(&slot)).copied().unwrap_or(0))
                    .collect();
                (s.node_id, counts)
            })
            .collect();
        let behind = queue_behind(&occupied, depth, wanted - positions.len() as u32);
        behind_from = positions.len();
        positions.extend(behind.into_iter().map(|(n, slot)| (n, slot as i32)));
    }
    // Slots chosen per node, then one conditional claim per node: an instance changed
    // meanwhile (an abort on PostgreSQL) is not claimed, and RETURNING says which were.
    let mut per_node: Vec<(Uuid, Vec<(Uuid, i32)>)> = Vec::new();
    let mut fresh_slots: Vec<(Uuid, i32)> = Vec::new();
    let task_of: HashMap<Uuid, Uuid> = candidates.iter().copied().collect();
    let mut behind_ids: std::collections::HashSet<Uuid> = std::collections::HashSet::new();
    let mut fresh_behind = 0;
    for (k, (node_id, slot)) in positions.into_iter().enumerate() {
        let Some((id, _)) = candidates.get(k) else {
            if (fresh_slots.len() as u32) < fresh {
                fresh_slots.push((node_id, slot));
                fresh_behind += usize::from(k >= behind_from);
            }
            continue;
        };
        if k >= behind_from {
            behind_ids.insert(*id);
        }
        match per_node.iter_mut().find(|(n, _)| *n == node_id) {
            Some((_, list)) => list.push((*id, slot)),
            None => per_node.push((node_id, vec![(*id, slot)])),
        }
    }
    let mut out = Placement {
        behind: fresh_behind,
        ..Placement::default()
    };
    let mut per_task: Vec<(Uuid, u64)> = Vec::new();
    for (node_id, list) in &per_node {
        let claimed = claim(txn, *node_id, list).await?;
        if claimed.is_empty() {
            continue;
        }
        let mut on_node = Vec::with_capacity(claimed.len());
        for (id, instance_id, attempts) in claimed {
            out.placed += 1;
            out.behind += usize::from(behind_ids.contains(&id));
            let task_id = task_of[&id];
            match per_task.iter_mut().find(|(t, _)| *t == task_id) {
                Some((_, n)) => *n += 1,
                None => per_task.push((task_id, 1)),
            }
            let slot_index = list
                .iter()
                .find(|(i, _)| *i == id)
                .map_or(0, |(_, slot)| *slot);
            on_node.push(Placed {
                id,
                task_id,
                instance_id,
                slot_index,
                attempts,
            });
        }
        out.per_node.push((*node_id, on_node));
    }
    // Lock order everywhere: instances, then nodes, then tasks.
    // On SQLite this transaction is the only writer, so the idle marks read above are
    // current and only nodes that were idle need clearing. On PostgreSQL a concurrent
    // `mark_idle_if_free` may commit after that read: every touched node is cleared.
    let serialized = txn.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let were_idle: Vec<Uuid> = nodes
        .iter()
        .filter(|(id, _, idle)| {
            (idle.is_some() || !serialized)
                && (out.per_node.iter().any(|(n, _)| n == id)
                    || fresh_slots.iter().any(|(n, _)| n == id))
        })
        .map(|(id, _, _)| *id)
        .collect();
    if !were_idle.is_empty() {
        node::Entity::update_many()
            .col_expr(
                node::Column::IdleSince,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(node::Column::Id.is_in(were_idle))
            .exec(txn)
            .await?;
    }
    for (task_id, n) in &per_task {
        let shifted = tasks::shift(
            txn,
            *task_id,
            InstanceState::Queued,
            InstanceState::Assigned,
            *n,
        )
        .await?;
        if let Some(row) = &shifted {
            out.tasks.insert(*task_id, row.clone());
        }
        if let Some(row) = super::progress::settle_moved(txn, *task_id, shifted, now).await? {
            out.progress.push(row);
        }
    }
    Ok((out, fresh_slots))
}

/// After the placement's transaction committed: announces the tasks' progress and hands
/// each node its new assignments: the quiet node's come back in the answer, the others
/// are left for their waiting polls (see `AppState::hand_over`), which are woken.
pub async fn deliver(
    state: &AppState,
    pool_id: Uuid,
    placement: Placement,
    quiet: Option<Uuid>,
) -> Dispatched {
    for t in &placement.progress {
        state.announce_progress(t);
    }
    let mut dispatched = Dispatched {
        placed: placement.placed,
        ..Dispatched::default()
    };
    for (node_id, placed) in &placement.per_node {
        dispatched.nodes.push(*node_id);
        // A node whose assignments cannot be built here (the pool's constants unreadable)
        // reads them from the database on its next look instead.
        let built = assign::assignments(state, pool_id, *node_id, placed, &placement.tasks)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(node = %node_id, error = %e, "assignments left to the poll");
                Vec::new()
            });
        if Some(*node_id) == quiet && !built.is_empty() {
            dispatched.assignments = built;
        } else {
            state.hand_over(*node_id, built);
            state.wake_node(*node_id);
        }
    }
    if placement.placed > 0 {
        tracing::debug!(pool = %pool_id, placed = placement.placed, "dispatched");
        state
            .metrics
            .instances_dispatched
            .inc_by(placement.placed as u64);
        state
            .metrics
            .instances_queued_behind
            .inc_by(placement.behind as u64);
    }
    dispatched
}

/// Claims queued instances for slots of one node in one statement; answers those claimed:
/// (uuid, instance id, attempts).
async fn claim(
    txn: &sea_orm::DatabaseTransaction,
    node_id: Uuid,
    list: &[(Uuid, i32)],
) -> ApiResult<Vec<(Uuid, i32, i32)>> {
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
        .returning(Query::returning().columns([
            instance::Column::Id,
            instance::Column::InstanceId,
            instance::Column::Attempts,
        ]));
    let rows = txn.query_all(&update).await?;
    let [id, instance_id, attempts] = [
        instance::Column::Id,
        instance::Column::InstanceId,
        instance::Column::Attempts,
    ]
    .map(|c| c.to_string());
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        claimed.push((
            row.try_get::<Uuid>("", &id)?,
            row.try_get::<i32>("", &instance_id)?,
            row.try_get::<i32>("", &attempts)?,
        ));
    }
    Ok(claimed)
}
