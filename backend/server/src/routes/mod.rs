//! HTTP handlers, thin: parse → call a service → map the result. Each is annotated so the
//! OpenAPI document at `/openapi.json` is generated from these very routes.

pub mod account;
pub mod agent;
pub mod jobs;
pub mod platform;
pub mod pools;
pub mod tasks;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    platform::configure(cfg);
    account::configure(cfg);
    agent::configure(cfg);
    pools::configure(cfg);
    tasks::configure(cfg);
    jobs::configure(cfg);
}

pub fn ok<T: Serialize>(body: T) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

pub fn created<T: Serialize>(body: T) -> HttpResponse {
    HttpResponse::Created().json(body)
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// The Qarnot listing answer.
pub fn page_json(
    data: Vec<serde_json::Value>,
    token: Option<String>,
    next: Option<String>,
) -> serde_json::Value {
    serde_json::json!({
        "data": data,
        "token": token,
        "nextToken": next,
        "isTruncated": next.is_some(),
    })
}

/// Where a pool or job page starts: `Some(None)` for the first page, `Some(cursor)` after a
/// token of ours, `None` for an offset token (of an earlier version, read the old way).
pub fn keyset_start(
    body: &crate::wire::filter::PaginateBody,
) -> crate::error::ApiResult<Option<Option<crate::services::keyset::Cursor>>> {
    match body.token.as_deref().filter(|t| !t.is_empty()) {
        None => Ok(Some(None)),
        Some(t) => Ok(crate::services::keyset::Cursor::parse(t)?.map(Some)),
    }
}

/// The page size a body asks for (`maximumResults`, checked).
pub fn page_size(body: &crate::wire::filter::PaginateBody) -> crate::error::ApiResult<usize> {
    let bounds = crate::wire::filter::page_bounds(&crate::wire::filter::PaginateBody {
        filter: None,
        token: None,
        maximum_results: body.maximum_results,
    })?;
    Ok(bounds.1)
}
