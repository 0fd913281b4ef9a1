//! Finding a tenant's pool or job by id: what tasks need of pools and jobs, kept apart so
//! that tasks do not import the pool and job services (which cancel tasks) and the
//! dependencies between the three point one way: pools and jobs → tasks → lookup.

use hearth_core::pool_state::PoolState;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::{job, pool};
use crate::error::{ApiError, ApiResult};

/// A live pool of the tenant (a deleted one is not found).
pub async fn pool(db: &impl ConnectionTrait, tenant: Uuid, id: Uuid) -> ApiResult<pool::Model> {
    pool::Entity::find_by_id(id)
        .filter(pool::Column::TenantId.eq(tenant))
        .filter(pool::Column::State.ne(PoolState::PendingDelete.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("pool"))
}

pub fn pool_state(pool: &pool::Model) -> PoolState {
    pool.state.parse().unwrap_or(PoolState::Failure)
}

/// A job of the tenant.
pub async fn job(db: &impl ConnectionTrait, tenant: Uuid, id: Uuid) -> ApiResult<job::Model> {
    job::Entity::find_by_id(id)
        .filter(job::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))
}
