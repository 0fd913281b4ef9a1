//! A task's submit: checked, inserted, and its first instances placed on the pool's free
//! slots in the same transaction, so the nodes have them the moment it commits.
//!
//! The pool's dispatch lock is taken before the transaction begins (the order every
//! dispatch keeps). The pool's queue is placed first, by the same placement as any dispatch;
//! the slots left go to the new task's first instances, which are inserted on them. A task
//! named through its job only learns its pool inside the transaction, too late for the
//! lock: it is placed by the background dispatch its route asks for.

use uuid::Uuid;

use super::assign::Placed;
use super::dispatch;
use crate::entities::task;
use crate::error::ApiResult;
use crate::services::tasks;
use crate::state::AppState;
use crate::wire::task::TaskBody;

pub async fn submit(state: &AppState, tenant_id: Uuid, body: TaskBody) -> ApiResult<task::Model> {
    let new = tasks::new_task(state, body)?;
    state.budgets.check_new_work(tenant_id)?;
    let named_pool = new.named_pool();
    let lock = named_pool.map(|p| state.dispatch_lock(p));
    let _guard = match &lock {
        Some(lock) => Some(lock.lock().await),
        None => None,
    };
    let txn = state.write().await?;
    let target = tasks::target_in(&txn, tenant_id, &new).await?;
    let placing = !target.waiting && named_pool == Some(target.pool.id);
    let (mut placement, slots) = if placing {
        let (placement, slots) = dispatch::place_with(
            &txn,
            target.pool.id,
            new.now,
            new.instance_count(),
            state.queue_depth(target.pool.id),
        )
        .await?;
        (Some(placement), slots)
    } else {
        (None, Vec::new())
    };
    let (created, on_slots) = tasks::insert_in(&txn, tenant_id, &new, &target, &slots).await?;
    if let Some(placement) = &mut placement {
        let placed = on_slots
            .into_iter()
            .map(|(node_id, slot_index, id, instance_id)| {
                let placed = Placed {
                    id,
                    task_id: created.id,
                    instance_id,
                    slot_index,
                    attempts: 0,
                };
                (node_id, placed)
            })
            .collect();
        placement.add_fresh(created.clone(), placed);
    }
    txn.commit().await?;
    if created.waiting {
        state.task_waits();
    }
    state.announce_progress(&created);
    if let Some(placement) = placement {
        dispatch::deliver(state, created.pool_id, placement, None).await;
    }
    Ok(created)
}
