//! Jobs: named groups of tasks on one pool, with an optional max wall time.

use hearth_core::pool_state::PoolState;
use hearth_core::timespan::parse_timespan;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::{body_id, json_of, required_name};
use crate::entities::{job, task};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::filter::Filterable;
use crate::wire::job::JobBody;
use crate::wire::tags_from;

pub const ACTIVE: &str = "Active";
pub const TERMINATING: &str = "Terminating";
pub const COMPLETED: &str = "Completed";

pub use super::lookup::job as load;

pub async fn create(state: &AppState, tenant_id: Uuid, body: JobBody) -> ApiResult<job::Model> {
    let name = required_name(&body.name, "name")?;
    let pool_id = match body.pool_uuid.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => {
            let pool = super::lookup::pool(&state.db, tenant_id, body_id(raw, "poolUuid")?).await?;
            let pool_state: PoolState = super::lookup::pool_state(&pool);
            if !pool_state.accepts_tasks() {
                return Err(ApiError::Conflict(format!(
                    "pool is {}: it takes no new job",
                    pool_state.as_str()
                )));
            }
            Some(pool.id)
        }
        None => None,
    };
    let max_wall = match body.max_wall_time.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => {
            let d = parse_timespan(text).map_err(|e| ApiError::field("maxWallTime", e))?;
            if d <= chrono::Duration::zero() {
                return Err(ApiError::field("maxWallTime", "must be positive"));
            }
            Some(d.num_seconds())
        }
        None => None,
    };
    let now = state.clock.now();
    let spec = json!({
        "autoDeleteOnCompletion": body.auto_delete_on_completion.unwrap_or(false),
        "completionTimeToLive": body.completion_time_to_live.as_deref().unwrap_or("00:00:00"),
    });
    Ok(job::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        pool_id: Set(pool_id),
        name: Set(name),
        shortname: Set(body.shortname.clone().filter(|s| !s.is_empty())),
        state: Set(ACTIVE.to_owned()),
        previous_state: Set(None),
        state_transition_time: Set(now),
        previous_state_transition_time: Set(None),
        use_dependencies: Set(body.use_dependencies.unwrap_or(false)),
        max_wall_time_seconds: Set(max_wall),
        tags: Set(json_of(&tags_from(body.tags.clone()))),
        spec: Set(spec),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

pub async fn tasks_of(db: &impl ConnectionTrait, job_id: Uuid) -> ApiResult<Vec<task::Model>> {
    Ok(task::Entity::find()
        .filter(task::Column::JobId.eq(job_id))
        .filter(task::Column::State.ne("PendingDelete"))
        .order_by_asc(task::Column::Seq)
        .all(db)
        .await?)
}

fn set_state(
    active: &mut job::ActiveModel,
    current: &job::Model,
    next: &str,
    now: chrono::DateTime<chrono::Utc>,
) {
    if current.state != next {
        active.previous_state = Set(Some(current.state.clone()));
        active.previous_state_transition_time = Set(Some(current.state_transition_time));
        active.state = Set(next.to_owned());
        active.state_transition_time = Set(now);
    }
}

/// Cancels the job's unfinished tasks; the job completes once none runs.
pub async fn terminate(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<job::Model> {
    let now = state.clock.now();
    crate::db::in_write(&state.writer, |txn| {
        Box::pin(async move {
            let current = load(txn, tenant_id, id).await?;
            if current.state != ACTIVE {
                return Err(ApiError::Conflict(format!(
                    "job is {}: it cannot be terminated",
                    current.state
                )));
            }
            let mut unfinished = 0;
            for t in tasks_of(txn, id).await? {
                let t = super::tasks::abort_in(txn, &t, now).await?;
                if !super::tasks::state_of(&t).is_finished() {
                    unfinished += 1;
                }
            }
            let mut active = current.clone().into_active_model();
            set_state(
                &mut active,
                &current,
                if unfinished == 0 {
                    COMPLETED
                } else {
                    TERMINATING
                },
                now,
            );
            active.updated_at = Set(now);
            Ok(active.update(txn).await?)
        })
    })
    .await
}

/// Deletes a job and its tasks; answers the job's pool, whose nodes may have work to stop.
pub async fn delete(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    force: bool,
) -> ApiResult<Option<Uuid>> {
    let now = state.clock.now();
    crate::db::in_write(&state.writer, |txn| {
            Box::pin(async move {
                let job = load(txn, tenant_id, id).await?;
                let tasks = tasks_of(txn, id).await?;
                let unfinished = tasks
                    .iter()
                    .filter(|t| !super::tasks::state_of(t).is_finished())
                    .count();
                if unfinished > 0 && !force {
                    return Err(ApiError::Conflict(format!(
                        "job has {unfinished} unfinished task(s): terminate it first or delete with force=True"
                    )));
                }
                for t in &tasks {
                    super::tasks::delete_in(txn, t, now).await?;
                }
                job::Entity::delete_by_id(id).exec(txn).await?;
                Ok(job.pool_id)
            })
        })
        .await
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<Vec<job::Model>> {
    Ok(job::Entity::find()
        .filter(job::Column::TenantId.eq(tenant_id))
        .order_by_asc(job::Column::CreatedAt)
        .order_by_asc(job::Column::Id)
        .all(db)
        .await?)
}

/// A page of the tenant's jobs in creation order (see `keyset::page`).
pub async fn keyset_page(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    filter: Option<&crate::wire::filter::Filter>,
    after: Option<super::keyset::Cursor>,
    size: usize,
) -> ApiResult<(Vec<job::Model>, Option<super::keyset::Cursor>)> {
    let columns = super::keyset::Listed {
        created_at: job::Column::CreatedAt,
        id: job::Column::Id,
        tags: job::Column::Tags,
        name: job::Column::Name,
        state: job::Column::State,
    };
    let base = job::Entity::find().filter(job::Column::TenantId.eq(tenant_id));
    super::keyset::creation_page(db, base, columns, filter, after, size).await
}

impl super::keyset::Keyed for job::Model {
    type Key = super::keyset::Cursor;

    fn key(&self) -> super::keyset::Cursor {
        super::keyset::Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

impl Filterable for job::Model {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "tags" => serde_json::from_value(self.tags.clone()).unwrap_or_default(),
            "name" => vec![self.name.clone()],
            "state" => vec![self.state.clone()],
            "uuid" => vec![self.id.to_string()],
            "pooluuid" => vec![self.pool_id.map(|p| p.to_string()).unwrap_or_default()],
            _ => return None,
        })
    }
}
