//! What the fleet holds right now, read when `/metrics` is scraped: pools and nodes by
//! state, slots by use, the queue. A few aggregate reads per scrape, nothing on the
//! engine's paths; their answers have one row per state, whatever the number of pools,
//! nodes or tasks. Read from the database rather than kept in memory, so that every replica
//! answers for the whole fleet.

use hearth_core::model::{InstanceState, NodeState};
use hearth_core::pool_state::PoolState;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::instances::ON_SLOT;
use crate::entities::{instance, node, pool};
use crate::error::ApiResult;
pub use crate::metrics::{Census, SlotCounts};

/// Node ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

pub async fn read(db: &impl ConnectionTrait) -> ApiResult<Census> {
    let pools: Vec<(String, i64)> = pool::Entity::find()
        .select_only()
        .column(pool::Column::State)
        .column_as(Expr::col(pool::Column::Id).count(), "n")
        .group_by(pool::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let by_state: Vec<(String, i64, Option<i64>)> = node::Entity::find()
        .select_only()
        .column(node::Column::State)
        .column_as(Expr::col(node::Column::Id).count(), "n")
        .column_as(Expr::col(node::Column::Slots).sum(), "slots")
        .group_by(node::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let slots_in = |states: &[NodeState]| {
        by_state
            .iter()
            .filter(|(s, _, _)| states.iter().any(|w| w.as_str() == s))
            .map(|(_, _, slots)| slots.unwrap_or(0))
            .sum::<i64>()
    };
    let booting = slots_in(&[NodeState::Requested, NodeState::Booting]);
    let ready_slots = slots_in(&[NodeState::Ready]);
    let (busy_ready, busy_draining) = busy_slots(db).await?;
    let queued = queued(db).await?;
    Ok(Census {
        pools,
        nodes: by_state.into_iter().map(|(s, n, _)| (s, n)).collect(),
        slots: SlotCounts {
            busy: busy_ready + busy_draining,
            idle: Ord::max(ready_slots - busy_ready, 0),
            booting,
        },
        queued,
    })
}

/// Busy slots of Ready nodes and of Draining nodes: slots holding at least one instance
/// (an instance waiting behind the one running on its slot takes no other slot).
async fn busy_slots(db: &impl ConnectionTrait) -> ApiResult<(i64, i64)> {
    // Live nodes are few (the launcher's capacity bounds them).
    let working: Vec<(Uuid, String)> = node::Entity::find()
        .select_only()
        .columns([node::Column::Id, node::Column::State])
        .filter(
            node::Column::State.is_in([NodeState::Ready.as_str(), NodeState::Draining.as_str()]),
        )
        .into_tuple()
        .all(db)
        .await?;
    let draining: std::collections::HashSet<Uuid> = working
        .iter()
        .filter(|(_, s)| s == NodeState::Draining.as_str())
        .map(|(id, _)| *id)
        .collect();
    let ids: Vec<Uuid> = working.iter().map(|(id, _)| *id).collect();
    let (mut ready, mut draining_busy) = (0, 0);
    for chunk in ids.chunks(IN_CHUNK) {
        let held: Vec<(Option<Uuid>, Option<i32>)> = instance::Entity::find()
            .select_only()
            .columns([instance::Column::NodeId, instance::Column::SlotIndex])
            .distinct()
            .filter(instance::Column::NodeId.is_in(chunk.iter().copied()))
            .filter(instance::Column::State.is_in(ON_SLOT))
            .into_tuple()
            .all(db)
            .await?;
        for (n, _) in held {
            match n {
                Some(n) if draining.contains(&n) => draining_busy += 1,
                Some(_) => ready += 1,
                None => {}
            }
        }
    }
    Ok((ready, draining_busy))
}

/// One count over the dispatch index (pool, state, held), for the pools that may have a
/// queue: the many Closed pools of a long-lived server are not read.
async fn queued(db: &impl ConnectionTrait) -> ApiResult<i64> {
    let open = Query::select()
        .column(pool::Column::Id)
        .from(pool::Entity)
        .and_where(
            pool::Column::State.is_in(
                PoolState::ALL
                    .iter()
                    .filter(|s| **s != PoolState::Closed)
                    .map(|s| s.as_str()),
            ),
        )
        .to_owned();
    let n = instance::Entity::find()
        .filter(instance::Column::PoolId.in_subquery(open))
        .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
        .filter(instance::Column::Held.eq(false))
        .count(db)
        .await?;
    Ok(n as i64)
}
