//! Health, metrics, settings, info and the profile catalogue.

use actix_web::{HttpResponse, get, post, put, web};
use serde_json::json;

use super::{created, ok};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::services::profiles::{self, ProfileBody, profile_json};
use crate::services::{pools, tasks};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health)
        .service(metrics)
        .service(settings)
        .service(info)
        .service(list_profiles)
        .service(get_profile)
        .service(create_profile)
        .service(update_profile);
}

/// Liveness and database reachability.
#[utoipa::path(tag = "platform", responses((status = 200, description = "serving")))]
#[get("/health")]
async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ok"})),
        Err(_) => {
            HttpResponse::ServiceUnavailable().json(json!({"status": "database unreachable"}))
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(tag = "platform", responses((status = 200, description = "Prometheus text format")))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Qarnot's settings: hearth has no object storage, so the SDK runs without buckets.
#[utoipa::path(tag = "platform", responses((status = 200, description = "{\"storage\": null}")))]
#[get("/settings")]
async fn settings(_caller: Caller) -> HttpResponse {
    ok(json!({"storage": null}))
}

/// The caller's account summary (Qarnot's `/info`).
#[utoipa::path(tag = "platform", responses((status = 200, description = "account summary")))]
#[get("/info")]
async fn info(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let all_pools = pools::list(&state.db, tenant).await?;
    let all_tasks = tasks::list(&state.db, tenant).await?;
    let running_pools = all_pools
        .iter()
        .filter(|p| pools::state_of(p).accepts_tasks())
        .count();
    let running_tasks = all_tasks
        .iter()
        .filter(|t| !tasks::state_of(t).is_finished())
        .count();
    let mut running_instances = 0;
    let mut running_cores = 0;
    for p in &all_pools {
        let f = pools::figures(&state.db, p).await?;
        running_instances += f.running_instances;
        running_cores += f.running_cores;
    }
    let email = <crate::entities::user::Entity as sea_orm::EntityTrait>::find_by_id(caller.user_id)
        .one(&state.db)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    Ok(ok(json!({
        "email": email,
        "poolCount": all_pools.len(),
        "runningPoolCount": running_pools,
        "taskCount": all_tasks.len(),
        "runningTaskCount": running_tasks,
        "runningInstanceCount": running_instances,
        "runningCoreCount": running_cores,
        "maxPool": -1,
        "maxTask": -1,
        "maxRunningTask": -1,
        "maxRunningPool": -1,
        "maxInstances": -1,
        "projects": [],
    })))
}

/// Profile names (Qarnot: an array of strings).
#[utoipa::path(tag = "profiles", responses((status = 200, description = "profile names")))]
#[get("/profiles")]
async fn list_profiles(state: web::Data<AppState>, _caller: Caller) -> ApiResult<HttpResponse> {
    Ok(ok(profiles::names(&state.db).await?))
}

/// One profile with its constants (`name`/`value`).
#[utoipa::path(tag = "profiles", responses((status = 200, description = "profile"), (status = 404, description = "unknown profile")))]
#[get("/profiles/{name}")]
async fn get_profile(
    state: web::Data<AppState>,
    _caller: Caller,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(ok(profile_json(&profiles::find(&state.db, &name).await?)))
}

/// Adds a profile to the catalogue (operator).
#[utoipa::path(tag = "profiles", responses((status = 201, description = "created"), (status = 409, description = "exists")))]
#[post("/profiles")]
async fn create_profile(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<ProfileBody>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let spec = body.0.check(None)?;
    Ok(created(profile_json(
        &profiles::create(&state.db, spec, state.clock.now()).await?,
    )))
}

/// Changes a profile (operator). Existing usage keeps the price it was recorded with.
#[utoipa::path(tag = "profiles", responses((status = 200, description = "updated")))]
#[put("/profiles/{name}")]
async fn update_profile(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    body: JsonBody<ProfileBody>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let current = profiles::find(&state.db, &name).await?;
    let spec = body.0.check(Some(&current))?;
    Ok(ok(profile_json(
        &profiles::update(&state.db, current, spec, state.clock.now()).await?,
    )))
}
