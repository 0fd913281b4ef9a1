//! Limits on what a tenant may hold, set by the operator (pools, running slots, queued
//! instances), and the launcher's capacity (live nodes of all tenants together). New pools
//! and tasks past a quota are refused with Qarnot's messages, so the public SDK raises
//! `MaxPoolException` / `MaxTaskException`; a pool whose growth would pass a quota or the
//! capacity holds at the limit and its scaling decision says which.

use hearth_api::accounts::{QuotaUsage, Quotas};
use hearth_api::qarnot::account::{ComputingQuotas, QuotaFigures};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::entities::{node, pool, task, tenant};
use crate::error::{ApiError, ApiResult};

/// What the public SDK matches (case-insensitively) to raise `MaxPoolException`.
pub const MAX_POOLS_MESSAGE: &str = "Maximum number of pools reached";
/// What the public SDK matches to raise `MaxTaskException`.
pub const MAX_TASKS_MESSAGE: &str = "Maximum number of tasks reached";

const ENDED_NODE_STATES: [&str; 2] = ["Terminated", "Failed"];
const ENDED_POOL_STATES: [&str; 2] = ["Closed", "PendingDelete"];
const ENDED_TASK_STATES: [&str; 4] = ["Success", "Failure", "Cancelled", "PendingDelete"];

/// A tenant's current use of what its quotas limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub pools: u64,
    pub running_slots: u64,
    pub queued_instances: u64,
    pub running_instances: u64,
}

pub async fn usage(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<Usage> {
    let pools = pool::Entity::find()
        .filter(pool::Column::TenantId.eq(tenant_id))
        .filter(pool::Column::State.is_not_in(ENDED_POOL_STATES))
        .count(db)
        .await?;
    let running_slots: Option<i64> = node::Entity::find()
        .select_only()
        .column_as(node::Column::Slots.sum(), "slots")
        .filter(node::Column::TenantId.eq(tenant_id))
        .filter(node::Column::State.is_not_in(ENDED_NODE_STATES))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let (queued, assigned, executing): (Option<i64>, Option<i64>, Option<i64>) =
        task::Entity::find()
            .select_only()
            .column_as(task::Column::QueuedCount.sum(), "queued")
            .column_as(task::Column::AssignedCount.sum(), "assigned")
            .column_as(task::Column::ExecutingCount.sum(), "executing")
            .filter(task::Column::TenantId.eq(tenant_id))
            .filter(task::Column::State.is_not_in(ENDED_TASK_STATES))
            .into_tuple()
            .one(db)
            .await?
            .unwrap_or_default();
    let n = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
    Ok(Usage {
        pools,
        running_slots: n(running_slots),
        queued_instances: n(queued),
        running_instances: n(assigned) + n(executing),
    })
}

async fn tenant_row(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<tenant::Model> {
    tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

/// Refuses a new pool past the tenant's `maxPools`.
pub async fn check_new_pool(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<()> {
    let t = tenant_row(db, tenant_id).await?;
    if let Some(max) = t.max_pools {
        let used = usage(db, tenant_id).await?.pools;
        if used >= max.max(0) as u64 {
            return Err(ApiError::Forbidden(format!(
                "{MAX_POOLS_MESSAGE}: the tenant's quota is {max} open pools"
            )));
        }
    }
    Ok(())
}

/// Refuses a new task whose instances would pass the tenant's `maxQueuedInstances`.
pub async fn check_new_task(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    instances: u64,
) -> ApiResult<()> {
    let t = tenant_row(db, tenant_id).await?;
    if let Some(max) = t.max_queued_instances {
        let queued = usage(db, tenant_id).await?.queued_instances;
        if queued + instances > max.max(0) as u64 {
            return Err(ApiError::Forbidden(format!(
                "{MAX_TASKS_MESSAGE}: {queued} instances are queued and the tenant's quota is \
                 {max} queued instances, so {instances} more do not fit"
            )));
        }
    }
    Ok(())
}

/// Live nodes of all tenants (what the launcher's capacity bounds).
pub async fn live_nodes(db: &impl ConnectionTrait) -> ApiResult<u64> {
    Ok(node::Entity::find()
        .filter(node::Column::State.is_not_in(ENDED_NODE_STATES))
        .count(db)
        .await?)
}

/// How many more nodes of `slots_per_node` a pool of this tenant may start now, and the
/// limit that binds, in words (`None`: the room is not limited below `wanted`).
pub async fn growth_room(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    slots_per_node: u32,
    wanted: u32,
    max_live_nodes: u32,
) -> ApiResult<(u32, Option<String>)> {
    let mut room = wanted;
    let mut limit = None;
    let live = live_nodes(db).await?;
    let launcher_room = u64::from(max_live_nodes).saturating_sub(live) as u32;
    if launcher_room < room {
        room = launcher_room;
        limit = Some(format!(
            "the launcher's capacity of {max_live_nodes} live nodes ({live} live)"
        ));
    }
    let t = tenant_row(db, tenant_id).await?;
    if let Some(max) = t.max_running_slots {
        let used = usage(db, tenant_id).await?.running_slots;
        let tenant_room =
            ((max.max(0) as u64).saturating_sub(used) / u64::from(slots_per_node.max(1))) as u32;
        if tenant_room < room {
            room = tenant_room;
            limit = Some(format!(
                "the tenant's quota of {max} running slots ({used} in use)"
            ));
        }
    }
    Ok((room, limit))
}

pub use hearth_api::accounts::QuotasBody;

fn limit(v: Option<i64>, field: &str) -> ApiResult<Option<i32>> {
    match v {
        None => Ok(None),
        Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as i32)),
        Some(_) => Err(ApiError::field(
            field,
            format!("must be between 0 and {} (or null for no limit)", i32::MAX),
        )),
    }
}

pub async fn set(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    body: QuotasBody,
) -> ApiResult<tenant::Model> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let max_pools = limit(body.max_pools, "maxPools")?;
    let max_running_slots = limit(body.max_running_slots, "maxRunningSlots")?;
    let max_queued_instances = limit(body.max_queued_instances, "maxQueuedInstances")?;
    let mut active = tenant_row(db, tenant_id).await?.into_active_model();
    active.max_pools = Set(max_pools);
    active.max_running_slots = Set(max_running_slots);
    active.max_queued_instances = Set(max_queued_instances);
    Ok(active.update(db).await?)
}

/// A tenant's quotas and use, as hearth shows them.
pub async fn view(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<Quotas> {
    let t = tenant_row(db, tenant_id).await?;
    let u = usage(db, tenant_id).await?;
    Ok(Quotas {
        tenant_uuid: t.id,
        max_pools: t.max_pools,
        max_running_slots: t.max_running_slots,
        max_queued_instances: t.max_queued_instances,
        usage: QuotaUsage {
            pools: u.pools,
            running_slots: u.running_slots,
            queued_instances: u.queued_instances,
            running_instances: u.running_instances,
        },
    })
}

/// Qarnot's computing quotas of a tenant (`/quotas/computing-quotas/{user,organization}`,
/// `/info`'s `computingQuotas`): hearth schedules everything "flex"; a slot is an
/// instance; -1 is no limit.
pub async fn computing_quotas(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    organization: bool,
) -> ApiResult<ComputingQuotas> {
    let t = tenant_row(db, tenant_id).await?;
    let u = usage(db, tenant_id).await?;
    let max = t.max_running_slots.map_or(-1, i64::from);
    let per_user = organization.then(Vec::new);
    Ok(ComputingQuotas {
        flex: QuotaFigures {
            max_cores: max,
            running_cores_count: u.running_slots,
            max_instances: max,
            running_instances_count: u.running_instances,
            running_counts_per_user: per_user.clone(),
        },
        on_demand: QuotaFigures {
            max_cores: 0,
            running_cores_count: 0,
            max_instances: 0,
            running_instances_count: 0,
            running_counts_per_user: per_user,
        },
        reserved: vec![],
    })
}
