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
