//! Health, metrics, settings, info and the profile catalogue.

use actix_web::{HttpResponse, get, post, put, web};

use hearth_api::ErrorBody;
use hearth_api::platform::{Health, Settings};
use hearth_api::profiles::Profile;
use hearth_api::qarnot::account::{AccountQuotas, ComputingQuotas, Launcher, UserInfo};

use super::{created, ok};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::services::profiles::{self, ProfileBody, profile_view};
use crate::services::quotas;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health)
        .service(metrics)
        .service(settings)
        .service(info)
        .service(user_quotas)
        .service(organization_quotas)
        .service(list_profiles)
        .service(get_profile)
        .service(create_profile)
        .service(update_profile);
}

/// Liveness and database reachability.
#[utoipa::path(tag = "platform", security(()), responses((status = 200, description = "serving", body = Health), (status = 503, description = "database unreachable", body = Health)))]
#[get("/health")]
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (mut answer, status) = match state.db.ping().await {
        Ok(()) => (HttpResponse::Ok(), "ok"),
        Err(_) => (HttpResponse::ServiceUnavailable(), "database unreachable"),
    };
    answer.json(Health {
        status: status.into(),
    })
}

/// Prometheus metrics.
#[utoipa::path(tag = "platform", security(()), responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // A census that cannot be read leaves its gauges as the last one set; the counters
    // are still worth scraping.
    match crate::engine::census::read(&state.db).await {
        Ok(census) => state.metrics.show(&census),
        Err(e) => tracing::warn!(error = %e, "metrics: census not read"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Qarnot's settings: hearth has no object storage, so the SDK runs without buckets.
#[utoipa::path(tag = "platform", responses((status = 200, body = Settings)))]
#[get("/settings")]
async fn settings(_caller: Caller) -> HttpResponse {
    ok(Settings { storage: None })
}

/// The caller's account summary (Qarnot's `/info`).
#[utoipa::path(tag = "platform", responses((status = 200, description = "account summary", body = UserInfo)))]
#[get("/info")]
async fn info(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let db = &state.db;
    // Aggregates only: the cost of /info does not grow with the tenant's pools and tasks.
    let t = <crate::entities::tenant::Entity as sea_orm::EntityTrait>::find_by_id(tenant)
        .one(db)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("tenant"))?;
    let usage = quotas::usage(db, tenant).await?;
    let task_count = count_tasks(db, tenant, false).await?;
    let running_tasks = count_tasks(db, tenant, true).await?;
    let email = <crate::entities::user::Entity as sea_orm::EntityTrait>::find_by_id(caller.user_id)
        .one(db)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    let limit = |v: Option<i32>| v.map_or(-1, i64::from);
    Ok(ok(UserInfo {
        email,
        pool_count: usage.pools,
        running_pool_count: usage.pools,
        task_count,
        running_task_count: running_tasks,
        running_instance_count: usage.running_instances,
        running_core_count: usage.running_slots,
        max_pool: limit(t.max_pools),
        max_task: -1,
        max_running_task: -1,
        max_running_pool: limit(t.max_pools),
        max_instances: limit(t.max_running_slots),
        max_queued_instances: limit(t.max_queued_instances),
        queued_instance_count: usage.queued_instances,
        computing_quotas: AccountQuotas {
            user: quotas::computing_quotas(db, tenant, false).await?,
            organization: quotas::computing_quotas(db, tenant, true).await?,
        },
        launcher: Launcher {
            max_live_nodes: state.settings.max_live_nodes as u64,
            live_nodes: quotas::live_nodes(db).await?,
        },
        projects: vec![],
    }))
}

async fn count_tasks(
    db: &sea_orm::DatabaseConnection,
    tenant: uuid::Uuid,
    running_only: bool,
) -> ApiResult<u64> {
    use crate::entities::task;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut q = task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant))
        .filter(task::Column::State.ne("PendingDelete"));
    if running_only {
        q = q.filter(task::Column::State.is_not_in(["Success", "Failure", "Cancelled"]));
    }
    Ok(q.count(db).await?)
}

/// The caller's computing quotas (Qarnot's shape: flex, onDemand, reserved).
#[utoipa::path(tag = "platform", responses((status = 200, description = "computing quotas", body = ComputingQuotas)))]
#[get("/quotas/computing-quotas/user")]
async fn user_quotas(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    Ok(ok(quotas::computing_quotas(&state.db, tenant, false).await?))
}

/// The caller's organization (tenant) computing quotas.
#[utoipa::path(tag = "platform", responses((status = 200, description = "computing quotas", body = ComputingQuotas)))]
#[get("/quotas/computing-quotas/organization")]
async fn organization_quotas(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    Ok(ok(quotas::computing_quotas(&state.db, tenant, true).await?))
}

/// Profile names (Qarnot: an array of strings).
#[utoipa::path(tag = "profiles", responses((status = 200, description = "profile names", body = Vec<String>)))]
#[get("/profiles")]
async fn list_profiles(state: web::Data<AppState>, _caller: Caller) -> ApiResult<HttpResponse> {
    Ok(ok(profiles::names(&state.db).await?))
}

/// One profile with its constants (`name`/`value`).
#[utoipa::path(tag = "profiles", responses((status = 200, body = Profile), (status = 404, description = "unknown profile", body = ErrorBody)))]
#[get("/profiles/{name}")]
async fn get_profile(
    state: web::Data<AppState>,
    _caller: Caller,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(ok(profile_view(&profiles::find(&state.db, &name).await?)))
}

/// Adds a profile to the catalogue (operator).
#[utoipa::path(tag = "profiles", request_body = ProfileBody, responses((status = 201, body = Profile), (status = 409, description = "exists", body = ErrorBody)))]
#[post("/profiles")]
async fn create_profile(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<ProfileBody>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let spec = profiles::check(&body.0, None)?;
    Ok(created(profile_view(
        &profiles::create(&state.db, spec, state.clock.now()).await?,
    )))
}

/// Changes a profile (operator). Usage keeps the price it was recorded with: a new price
/// splits the open intervals of the profile's nodes at this instant.
#[utoipa::path(tag = "profiles", request_body = ProfileBody, responses((status = 200, body = Profile), (status = 404, description = "unknown profile", body = ErrorBody)))]
#[put("/profiles/{name}")]
async fn update_profile(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    body: JsonBody<ProfileBody>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let current = profiles::find(&state.db, &name).await?;
    let spec = profiles::check(&body.0, Some(&current))?;
    let now = state.clock.now();
    let price_changes = spec.price.to_string() != current.price_per_slot_hour;
    let txn = state.write().await?;
    let updated = profiles::update(&txn, current, spec, now).await?;
    if price_changes {
        // Open usage is billed at the old price up to now, at the new one from now.
        crate::engine::nodes::split_open_intervals(
            &txn,
            &updated.name,
            &updated.price_per_slot_hour,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    // Its constants reach the next instances of every pool made from it.
    state.forget_inherited(None);
    Ok(ok(profile_view(&updated)))
}
