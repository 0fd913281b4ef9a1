//! Qarnot's task routes.

use actix_web::{HttpResponse, delete, get, post, web};
use serde_json::Value;
use uuid::Uuid;

use super::{no_content, ok, page_json};
use crate::auth::Caller;
use crate::body::{JsonBody, parse_json};
use crate::engine;
use crate::error::{ApiError, ApiResult};
use crate::services::tasks::{self, Stream};
use crate::services::{idempotency, path_id};
use crate::state::AppState;
use crate::wire::filter::{MAX_PAGE, PaginateBody, filter_of, has_filter, page_bounds, select};
use crate::wire::task::TaskBody;
use crate::wire::task::TaskSubmission;
use actix_web::http::StatusCode;
use hearth_api::qarnot::task::Task;
use hearth_api::qarnot::{BulkResult, QarnotPage};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(submit_tasks)
        .service(list_tasks)
        .service(paginate_tasks)
        .service(paginate_task_summaries)
        .service(get_task)
        .service(wait_task)
        .service(abort_task)
        .service(delete_task)
        .service(stdout_all)
        .service(stdout_fresh)
        .service(stdout_instance)
        .service(stdout_instance_fresh)
        .service(stderr_all)
        .service(stderr_fresh)
        .service(stderr_instance)
        .service(stderr_instance_fresh);
}

/// Submits one task (201 `{"uuid"}`) or, given an array, a bulk (200, one result per item, in order).
#[utoipa::path(tag = "tasks", request_body = TaskSubmission, responses((status = 201, body = hearth_api::platform::Created), (status = 200, description = "bulk: one result per item, in order", body = Vec<BulkResult>)))]
#[post("/tasks")]
async fn submit_tasks(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
    body: JsonBody<Value>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let JsonBody(value, bytes) = body;
    idempotency::once(&state, &req, tenant, "POST /tasks", &bytes, || {
        submit_body(&state, tenant, value, &bytes)
    })
    .await
}

/// `POST /tasks` once its key (if any) is claimed.
async fn submit_body(
    state: &web::Data<AppState>,
    tenant: Uuid,
    value: Value,
    bytes: &[u8],
) -> ApiResult<(StatusCode, Value)> {
    match value {
        Value::Array(items) => {
            let mut results = Vec::with_capacity(items.len());
            let mut pools: Vec<Uuid> = Vec::new();
            for item in items {
                let outcome =
                    match serde_json::to_vec(&item).map_err(|e| ApiError::Internal(e.into())) {
                        Ok(bytes) => match parse_json::<TaskBody>(&bytes) {
                            Ok(t) => engine::submit::submit(state, tenant, t).await,
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    };
                results.push(match outcome {
                    Ok(t) => {
                        if waits_for_slots(&t) && !pools.contains(&t.pool_id) {
                            pools.push(t.pool_id);
                        }
                        BulkResult {
                            status_code: 201,
                            uuid: Some(t.id),
                            message: None,
                        }
                    }
                    Err(e) => {
                        let status = actix_web::ResponseError::status_code(&e).as_u16();
                        if status >= 500 {
                            // What was submitted before it still gets dispatched.
                            for pool in pools {
                                engine::work_arrived(state.clone(), pool);
                            }
                            return Err(e);
                        }
                        BulkResult {
                            status_code: status,
                            uuid: None,
                            message: Some(e.to_string()),
                        }
                    }
                });
            }
            // Once per pool, after all are in: one dispatch places the whole batch.
            for pool in pools {
                engine::work_arrived(state.clone(), pool);
            }
            Ok((StatusCode::OK, serde_json::to_value(results)?))
        }
        _ => {
            let t = engine::submit::submit(state, tenant, parse_json::<TaskBody>(bytes)?).await?;
            if waits_for_slots(&t) {
                engine::work_arrived(state.clone(), t.pool_id);
            }
            Ok((
                StatusCode::CREATED,
                serde_json::to_value(hearth_api::platform::Created { uuid: t.id })?,
            ))
        }
    }
}

/// A submitted task with instances its submit could not place: they wait for a dispatch
/// (or for the pool to grow).
fn waits_for_slots(t: &crate::entities::task::Model) -> bool {
    t.waiting || t.queued_count > 0
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    /// Text, so that a bad value is refused naming the parameter.
    limit: Option<String>,
    page_token: Option<String>,
}

/// The tenant's tasks in submission order, an array. Without `limit`, every task, streamed
/// as read in chunks of `STREAM_CHUNK` (memory stays bounded whatever their number); with
/// `?limit=N` (1–1000, and `pageToken`), one page, and `X-Next-Page-Token` when more follow.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "tasks", body = Vec<Task>), (status = 400, description = "bad limit or page token")))]
#[get("/tasks")]
async fn list_tasks(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let after = match query.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => i64::MIN,
        Some(t) => t
            .strip_prefix(KEYSET_PREFIX)
            .and_then(|seq| seq.parse::<i64>().ok())
            .ok_or_else(|| ApiError::field("pageToken", "is not a token this server gave"))?,
    };
    if let Some(limit) = query.limit.as_deref() {
        let limit = limit
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE as i64).contains(n))
            .ok_or_else(|| {
                ApiError::field("limit", format!("must be a number from 1 to {MAX_PAGE}"))
            })?;
        let (rows, next) =
            tasks::keyset_page(&state.db, tenant, None, after, limit as usize).await?;
        let mut data = Vec::with_capacity(rows.len());
        for t in &rows {
            data.push(tasks::view(&state.db, t).await?);
        }
        let mut answer = HttpResponse::Ok();
        if let Some(seq) = next {
            answer.insert_header(("X-Next-Page-Token", format!("{KEYSET_PREFIX}{seq}")));
        }
        return Ok(answer.json(data));
    }
    Ok(super::streamed_array(after, move |after| {
        let state = state.clone();
        async move {
            let (rows, next) =
                tasks::keyset_page(&state.db, tenant, None, after, super::STREAM_CHUNK).await?;
            let mut items = Vec::with_capacity(rows.len());
            for t in &rows {
                items.push(tasks::view(&state.db, t).await?);
            }
            Ok((items, next))
        }
    }))
}

/// Page tokens this server gives: the `seq` of the last task of the previous page.
const KEYSET_PREFIX: &str = "after:";

/// Where a page starts: `Some(seq)` for no token or one of ours; `None` for a plain offset
/// (the tokens of earlier versions), read the old way.
fn keyset_token(body: &PaginateBody) -> ApiResult<Option<i64>> {
    match body.token.as_deref().filter(|t| !t.is_empty()) {
        None => Ok(Some(i64::MIN)),
        Some(t) => match t.strip_prefix(KEYSET_PREFIX) {
            Some(seq) => seq
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::field("token", "is not a token this server gave")),
            None if t.parse::<usize>().is_ok() => Ok(None),
            None => Err(ApiError::field("token", "is not a token this server gave")),
        },
    }
}

async fn paginate(
    state: &AppState,
    caller: &Caller,
    body: PaginateBody,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let (rows, next) = match keyset_token(&body)? {
        // Pages of this server: after the last task of the previous page, filtered while
        // read, so a page costs its own rows (and the rows its filter skips), never the
        // tenant's whole list.
        Some(after) => {
            let size = super::page_size(&body)?;
            let filter = filter_of(&body)?;
            let (rows, next) =
                tasks::keyset_page(&state.db, tenant, filter.as_ref(), after, size).await?;
            (rows, next.map(|seq| format!("{KEYSET_PREFIX}{seq}")))
        }
        // An offset token (given by an earlier version of this server).
        None if has_filter(&body) => select(tasks::list(&state.db, tenant).await?, &body)?,
        None => {
            let (start, size) = page_bounds(&body)?;
            let mut rows =
                tasks::list_page(&state.db, tenant, start as u64, size as u64 + 1).await?;
            let next = (rows.len() > size).then(|| (start + size).to_string());
            rows.truncate(size);
            (rows, next)
        }
    };
    let mut data = Vec::with_capacity(rows.len());
    for t in &rows {
        data.push(tasks::view(&state.db, t).await?);
    }
    Ok(ok(page_json(data, body.token.clone(), next)))
}

/// Pages of tasks, with Qarnot filters.
#[utoipa::path(tag = "tasks", request_body = PaginateBody, responses((status = 200, description = "a page", body = QarnotPage<Task>)))]
#[post("/tasks/paginate")]
async fn paginate_tasks(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<PaginateBody>,
) -> ApiResult<HttpResponse> {
    paginate(&state, &caller, body.0).await
}

/// Pages of task summaries (the same objects).
#[utoipa::path(tag = "tasks", request_body = PaginateBody, responses((status = 200, description = "a page", body = QarnotPage<Task>)))]
#[post("/tasks/summaries/paginate")]
async fn paginate_task_summaries(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<PaginateBody>,
) -> ApiResult<HttpResponse> {
    paginate(&state, &caller, body.0).await
}

/// One task, with its status and completed instances.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "task", body = Task), (status = 404, description = "not found")))]
#[get("/tasks/{uuid}")]
async fn get_task(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let t = tasks::load(&state.db, tenant, path_id(&uuid, "task")?).await?;
    Ok(ok(tasks::view(&state.db, &t).await?))
}

/// Longest `GET /tasks/{uuid}/wait` may hold an answer, and its default.
pub const MAX_WAIT_SECONDS: f64 = 60.0;
const DEFAULT_WAIT_SECONDS: f64 = 30.0;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct WaitQuery {
    /// Seconds to wait for the task to end, 0 to 60 (default 30).
    timeout: Option<String>,
}

/// The task (as `GET /tasks/{uuid}`) as soon as it is finished (Success, Failure or
/// Cancelled), or as it is when `timeout` seconds have passed: a long poll for clients
/// without the event stream.
#[utoipa::path(tag = "tasks", params(WaitQuery), responses((status = 200, description = "task", body = Task), (status = 400, description = "bad timeout"), (status = 404, description = "not found")))]
#[get("/tasks/{uuid}/wait")]
async fn wait_task(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    query: web::Query<WaitQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let id = path_id(&uuid, "task")?;
    let seconds = match query.timeout.as_deref() {
        None | Some("") => DEFAULT_WAIT_SECONDS,
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| (0.0..=MAX_WAIT_SECONDS).contains(s))
            .ok_or_else(|| {
                ApiError::field(
                    "timeout",
                    format!("must be a number of seconds from 0 to {MAX_WAIT_SECONDS}"),
                )
            })?,
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    // Subscribed before the read: an end committed in between is not missed.
    let mut changes = state.feed.subscribe();
    let mut stopping = state.stopping.subscribe();
    loop {
        let t = tasks::load(&state.db, tenant, id).await?;
        if tasks::state_of(&t).is_finished() {
            return Ok(ok(tasks::view(&state.db, &t).await?));
        }
        let read_again = loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(event) => {
                        if let crate::feed::Change::TaskProgress { task, state: s, .. } = &event.change
                            && *task == id
                            && s.parse::<hearth_core::task_state::TaskState>()
                                .is_ok_and(|s| s.is_finished())
                        {
                            break true;
                        }
                    }
                    // Behind: what it missed may hold the end.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break false,
                },
                _ = tokio::time::sleep_until(deadline) => break false,
                _ = stopping.changed() => break false,
            }
        };
        if !read_again {
            let t = tasks::load(&state.db, tenant, id).await?;
            return Ok(ok(tasks::view(&state.db, &t).await?));
        }
    }
}

/// Aborts a task; a finished task is left as it is (2xx).
#[utoipa::path(tag = "tasks", responses((status = 200, description = "task", body = Task)))]
#[post("/tasks/{uuid}/abort")]
async fn abort_task(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let t = engine::abort_task(&state, tenant, path_id(&uuid, "task")?).await?;
    Ok(ok(tasks::view(&state.db, &t).await?))
}

/// Deletes a task (aborting it first).
#[utoipa::path(tag = "tasks", responses((status = 204, description = "deleted")))]
#[delete("/tasks/{uuid}")]
async fn delete_task(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let pool_id = tasks::delete(&state, tenant, path_id(&uuid, "task")?).await?;
    engine::wake_pool_nodes(&state, pool_id).await;
    engine::spawn_dispatch(state.clone(), pool_id);
    Ok(no_content())
}

async fn output(
    state: &AppState,
    caller: &Caller,
    uuid: &str,
    instance: Option<&str>,
    stream: Stream,
    fresh: bool,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let text = tasks::output(
        state,
        tenant,
        path_id(uuid, "task")?,
        instance,
        stream,
        fresh,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// All instances' standard output.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[get("/tasks/{uuid}/stdout")]
async fn stdout_all(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    output(&state, &caller, &uuid, None, Stream::Stdout, false).await
}

/// Standard output written since the previous fresh read.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[post("/tasks/{uuid}/stdout")]
async fn stdout_fresh(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    output(&state, &caller, &uuid, None, Stream::Stdout, true).await
}

/// One instance's standard output.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[get("/tasks/{uuid}/stdout/{instance_id}")]
async fn stdout_instance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    output(
        &state,
        &caller,
        &path.0,
        Some(&path.1),
        Stream::Stdout,
        false,
    )
    .await
}

/// One instance's fresh standard output.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[post("/tasks/{uuid}/stdout/{instance_id}")]
async fn stdout_instance_fresh(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    output(
        &state,
        &caller,
        &path.0,
        Some(&path.1),
        Stream::Stdout,
        true,
    )
    .await
}

/// All instances' standard error.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[get("/tasks/{uuid}/stderr")]
async fn stderr_all(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    output(&state, &caller, &uuid, None, Stream::Stderr, false).await
}

/// Standard error written since the previous fresh read.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[post("/tasks/{uuid}/stderr")]
async fn stderr_fresh(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    output(&state, &caller, &uuid, None, Stream::Stderr, true).await
}

/// One instance's standard error.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[get("/tasks/{uuid}/stderr/{instance_id}")]
async fn stderr_instance(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    output(
        &state,
        &caller,
        &path.0,
        Some(&path.1),
        Stream::Stderr,
        false,
    )
    .await
}

/// One instance's fresh standard error.
#[utoipa::path(tag = "tasks", responses((status = 200, description = "text", body = String, content_type = "text/plain")))]
#[post("/tasks/{uuid}/stderr/{instance_id}")]
async fn stderr_instance_fresh(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    output(
        &state,
        &caller,
        &path.0,
        Some(&path.1),
        Stream::Stderr,
        true,
    )
    .await
}
