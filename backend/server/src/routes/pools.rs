//! Qarnot's pool routes and hearth's additions (nodes, scaling decisions, resize now).

use actix_web::{HttpResponse, delete, get, post, put, web};

use hearth_api::platform::Created;
use hearth_api::pools::{Node, ScalingDecision};
use hearth_api::{ErrorBody, Page, PageQuery};

use super::{no_content, ok, page_json};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::engine;
use crate::error::ApiResult;
use crate::query::Query;
use crate::services::paging::{Paging, page_of};
use crate::services::{idempotency, path_id, pools};
use crate::state::AppState;
use crate::wire::filter::{PaginateBody, filter_of, select};
use crate::wire::pool::PoolBody;
use hearth_api::qarnot::QarnotPage;
use hearth_api::qarnot::pool::Pool;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_pool)
        .service(list_pools)
        .service(paginate_pools)
        .service(paginate_pool_summaries)
        .service(get_pool)
        .service(update_pool)
        .service(close_pool)
        .service(delete_pool)
        .service(resize_pool)
        .service(pool_nodes)
        .service(pool_decisions);
}

/// Creates a pool from a profile (Qarnot body). `instanceCount` counts slots.
#[utoipa::path(tag = "pools", request_body = PoolBody, responses((status = 201, body = Created), (status = 400, description = "invalid field"), (status = 403, description = "multi-slot not entitled")))]
#[post("/pools")]
async fn create_pool(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
    body: JsonBody<PoolBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let JsonBody(pool_body, bytes) = body;
    idempotency::once(&state, &req, tenant, "POST /pools", &bytes, || async {
        let pool = pools::create(&state, tenant, pool_body).await?;
        Ok((
            actix_web::http::StatusCode::CREATED,
            serde_json::to_value(hearth_api::platform::Created { uuid: pool.id })?,
        ))
    })
    .await
}

/// Every pool of the tenant, in creation order, streamed as read (`STREAM_CHUNK` at a time).
#[utoipa::path(tag = "pools", responses((status = 200, description = "pools", body = Vec<Pool>)))]
#[get("/pools")]
async fn list_pools(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    Ok(super::streamed_array(None, move |after| {
        let state = state.clone();
        async move {
            let (rows, next) =
                pools::keyset_page(&state.db, tenant, None, after, super::STREAM_CHUNK).await?;
            let mut items = Vec::with_capacity(rows.len());
            for p in &rows {
                items.push(pools::view(&state, p).await?);
            }
            Ok((items, next.map(Some)))
        }
    }))
}

async fn paginate(
    state: &AppState,
    caller: &Caller,
    body: PaginateBody,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let (rows, next) = match super::keyset_start(&body)? {
        Some(after) => {
            let filter = filter_of(&body)?;
            let size = super::page_size(&body)?;
            let (rows, next) =
                pools::keyset_page(&state.db, tenant, filter.as_ref(), after, size).await?;
            (rows, next.map(|c| c.token()))
        }
        // An offset token (given by an earlier version of this server).
        None => select(pools::list(&state.db, tenant).await?, &body)?,
    };
    let mut data = Vec::with_capacity(rows.len());
    for p in &rows {
        data.push(pools::view(state, p).await?);
    }
    Ok(ok(page_json(data, body.token.clone(), next)))
}

/// Pages of pools, with Qarnot filters.
#[utoipa::path(tag = "pools", request_body = PaginateBody, responses((status = 200, description = "a page", body = QarnotPage<Pool>)))]
#[post("/pools/paginate")]
async fn paginate_pools(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<PaginateBody>,
) -> ApiResult<HttpResponse> {
    paginate(&state, &caller, body.0).await
}

/// Pages of pool summaries (the same objects).
#[utoipa::path(tag = "pools", request_body = PaginateBody, responses((status = 200, description = "a page", body = QarnotPage<Pool>)))]
#[post("/pools/summaries/paginate")]
async fn paginate_pool_summaries(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<PaginateBody>,
) -> ApiResult<HttpResponse> {
    paginate(&state, &caller, body.0).await
}

/// One pool.
#[utoipa::path(tag = "pools", responses((status = 200, description = "pool", body = Pool), (status = 404, description = "not found")))]
#[get("/pools/{uuid}")]
async fn get_pool(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let pool = pools::load(&state.db, tenant, path_id(&uuid, "pool")?).await?;
    Ok(ok(pools::view(&state, &pool).await?))
}

/// Changes scaling, elastic settings, constants and tags of a live pool.
#[utoipa::path(tag = "pools", request_body = PoolBody, responses((status = 200, description = "pool", body = Pool), (status = 409, description = "pool closing or closed", body = ErrorBody)))]
#[put("/pools/{uuid}")]
async fn update_pool(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    body: JsonBody<PoolBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let pool = pools::update(&state, tenant, path_id(&uuid, "pool")?, body.0).await?;
    Ok(ok(pools::view(&state, &pool).await?))
}

/// Closes a pool: no new tasks, queued work cancelled, nodes terminated.
#[utoipa::path(tag = "pools", responses((status = 200, description = "pool", body = Pool), (status = 409, description = "already closing or closed")))]
#[post("/pools/{uuid}/close")]
async fn close_pool(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let pool = engine::close_pool(&state, tenant, path_id(&uuid, "pool")?).await?;
    Ok(ok(pools::view(&state, &pool).await?))
}

/// Deletes a pool (its tasks are cancelled).
#[utoipa::path(tag = "pools", responses((status = 204, description = "deleted")))]
#[delete("/pools/{uuid}")]
async fn delete_pool(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let id = path_id(&uuid, "pool")?;
    pools::delete(&state, tenant, id).await?;
    engine::wake_pool_nodes(&state, id).await;
    state.resize_wake.notify_one();
    Ok(no_content())
}

/// Evaluates the pool's scaling now and answers the decision.
#[utoipa::path(tag = "pools", responses((status = 200, body = ScalingDecision), (status = 404, description = "no such pool", body = ErrorBody)))]
#[post("/pools/{uuid}/resize")]
async fn resize_pool(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let pool = pools::load(&state.db, tenant, path_id(&uuid, "pool")?).await?;
    let row = engine::resize::evaluate_pool(&state, pool.id).await?;
    Ok(ok(pools::decision_view(&row)))
}

/// The pool's nodes (workers) in creation order, with their busy slots, a page at a time.
#[utoipa::path(tag = "pools", params(PageQuery), responses((status = 200, body = Page<Node>), (status = 404, description = "no such pool", body = ErrorBody)))]
#[get("/pools/{uuid}/nodes")]
async fn pool_nodes(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    page: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let paging = Paging::of(&page)?;
    let pool = pools::load(&state.db, tenant, path_id(&uuid, "pool")?).await?;
    Ok(ok(pools::nodes(&state.db, pool.id, &paging).await?))
}

/// The pool's scaling decisions, newest first, a page at a time (a run of identical
/// evaluations is one decision with its count).
#[utoipa::path(tag = "pools", params(PageQuery), responses((status = 200, body = Page<ScalingDecision>), (status = 404, description = "no such pool", body = ErrorBody)))]
#[get("/pools/{uuid}/scaling-decisions")]
async fn pool_decisions(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    page: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let paging = Paging::of(&page)?;
    let pool = pools::load(&state.db, tenant, path_id(&uuid, "pool")?).await?;
    let (mut rows, next) = pools::decisions(&state.db, pool.id, &paging).await?;
    // Unchanged evaluations the resize loop has not written yet count too.
    if let Some(u) = state.schedule.unwritten_of(pool.id)
        && let Some(row) = rows.iter_mut().find(|r| r.id == u.decision)
    {
        row.evaluations += u.evaluations as i32;
        row.last_evaluated_at = Some(u.last_evaluated_at);
    }
    Ok(ok(page_of(&rows, next, pools::decision_view)))
}
