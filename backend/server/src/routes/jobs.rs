//! Qarnot's job routes.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;

use super::{no_content, ok, page_json};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::services::{idempotency, jobs, path_id, tasks};
use crate::state::AppState;
use crate::wire::filter::{PaginateBody, filter_of, select};
use crate::wire::job::{JobBody, job_answer};
use hearth_api::qarnot::QarnotPage;
use hearth_api::qarnot::job::Job;
use hearth_api::qarnot::task::Task;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_job)
        .service(paginate_jobs)
        .service(get_job)
        .service(job_tasks)
        .service(terminate_job)
        .service(delete_job);
}

/// Creates a job, optionally bound to a pool (`POST /jobs/` as the SDK sends it).
#[utoipa::path(tag = "jobs", request_body = JobBody, responses((status = 201, body = hearth_api::platform::Created)))]
#[post("/jobs")]
async fn create_job(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
    body: JsonBody<JobBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let JsonBody(job_body, bytes) = body;
    idempotency::once(&state, &req, tenant, "POST /jobs", &bytes, || async {
        let job = jobs::create(&state, tenant, job_body).await?;
        Ok((
            actix_web::http::StatusCode::CREATED,
            serde_json::to_value(hearth_api::platform::Created { uuid: job.id })?,
        ))
    })
    .await
}

/// Pages of jobs, with Qarnot filters.
#[utoipa::path(tag = "jobs", request_body = PaginateBody, responses((status = 200, description = "a page", body = QarnotPage<Job>)))]
#[post("/jobs/paginate")]
async fn paginate_jobs(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<PaginateBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let body = body.0;
    let (rows, next) = match super::keyset_start(&body)? {
        Some(after) => {
            let filter = filter_of(&body)?;
            let size = super::page_size(&body)?;
            let (rows, next) =
                jobs::keyset_page(&state.db, tenant, filter.as_ref(), after, size).await?;
            (rows, next.map(|c| c.token()))
        }
        // An offset token (given by an earlier version of this server).
        None => select(jobs::list(&state.db, tenant).await?, &body)?,
    };
    Ok(ok(page_json(
        rows.iter().map(job_answer).collect(),
        body.token.clone(),
        next,
    )))
}

/// One job.
#[utoipa::path(tag = "jobs", responses((status = 200, description = "job", body = Job)))]
#[get("/jobs/{uuid}")]
async fn get_job(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    Ok(ok(job_answer(
        &jobs::load(&state.db, tenant, path_id(&uuid, "job")?).await?,
    )))
}

/// The job's tasks (a plain array).
#[utoipa::path(tag = "jobs", responses((status = 200, description = "tasks", body = Vec<Task>)))]
#[get("/jobs/{uuid}/tasks")]
async fn job_tasks(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.tenant()?;
    let job = jobs::load(&state.db, tenant, path_id(&uuid, "job")?).await?;
    // Streamed in chunks, as `GET /tasks`: memory stays bounded whatever the job's size.
    Ok(super::streamed_array(i64::MIN, move |after| {
        let state = state.clone();
        async move {
            let (rows, next) =
                tasks::job_keyset_page(&state.db, tenant, job.id, after, super::STREAM_CHUNK)
                    .await?;
            let mut items = Vec::with_capacity(rows.len());
            for t in &rows {
                items.push(tasks::view(&state.db, t).await?);
            }
            Ok((items, next))
        }
    }))
}

/// Terminates a job: its unfinished tasks are cancelled.
#[utoipa::path(tag = "jobs", responses((status = 200, description = "job", body = Job)))]
#[post("/jobs/{uuid}/terminate")]
async fn terminate_job(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    Ok(ok(job_answer(
        &jobs::terminate(&state, tenant, path_id(&uuid, "job")?).await?,
    )))
}

#[derive(Deserialize)]
struct DeleteQuery {
    force: Option<String>,
}

/// Deletes a job and its tasks; unfinished tasks need `force=True`.
#[utoipa::path(tag = "jobs", responses((status = 204, description = "deleted"), (status = 409, description = "unfinished tasks")))]
#[delete("/jobs/{uuid}")]
async fn delete_job(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.writer()?;
    let force = match query
        .force
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::field(
                "force",
                format!("must be True or False, got '{other}'"),
            ));
        }
    };
    if let Some(pool_id) = jobs::delete(&state, tenant, path_id(&uuid, "job")?, force).await? {
        crate::engine::wake_pool_nodes(&state, pool_id).await;
    }
    Ok(no_content())
}
