//! `Idempotency-Key` on the creating POSTs (`/pools`, `/tasks`, `/jobs`): the first
//! successful answer to a key is kept for [`KEEP_HOURS`] hours, and a request with the same
//! key and the same body gets it again (with `Idempotent-Replayed: true`) instead of
//! creating anything; the same key with another body is a 422. Keys are per tenant and per
//! route. While the first request is still being answered, another with its key is a 409
//! `in_flight` (with `Retry-After: 1`).
//! A failed first request leaves nothing behind: its retry runs as new.
//!
//! Bounded: a key row lives 24 hours (expired rows are deleted as new keys are claimed).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, SqlErr};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entities::idempotency_key;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const HEADER: &str = "Idempotency-Key";
pub const KEEP_HOURS: i64 = 24;
pub const MAX_KEY_LEN: usize = 255;

/// The request's key, checked: 1 to 255 visible ASCII characters.
/// The body as the request means it: JSON written again with its object keys in order and
/// no spacing, so that a retry that spells the same body differently (a client that
/// re-encodes it) is the same request. A body that is not JSON is compared as sent.
fn canonical(body: &[u8]) -> Vec<u8> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok())
        .unwrap_or_else(|| body.to_vec())
}

pub fn key_of(req: &HttpRequest) -> ApiResult<Option<String>> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    let ok =
        !text.is_empty() && text.len() <= MAX_KEY_LEN && text.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ApiError::field(
            HEADER,
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Runs `create` once per key: answers the kept answer of an earlier request with the same
/// key and body, or runs it and keeps its answer when it succeeds. Without a key, just runs.
pub async fn once<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    tenant: Uuid,
    route: &str,
    body: &[u8],
    create: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<(StatusCode, Value)>>,
{
    let Some(key) = key_of(req)? else {
        let (status, json) = create().await?;
        return Ok(HttpResponse::build(status).json(json));
    };
    let hash = format!("{:x}", Sha256::digest(canonical(body)));
    let now = state.clock.now();
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(now - Duration::hours(KEEP_HOURS)))
        .exec(&state.writer)
        .await?;
    let id = Uuid::now_v7();
    let claimed = idempotency_key::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant),
        route: Set(route.to_owned()),
        key: Set(key.clone()),
        body_hash: Set(hash.clone()),
        status: Set(None),
        response: Set(None),
        created_at: Set(now),
    }
    .insert(&state.writer)
    .await;
    match claimed {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            let earlier = idempotency_key::Entity::find()
                .filter(idempotency_key::Column::TenantId.eq(tenant))
                .filter(idempotency_key::Column::Route.eq(route))
                .filter(idempotency_key::Column::Key.eq(key.as_str()))
                .one(&state.db)
                .await?
                .ok_or_else(|| {
                    ApiError::InFlight(format!(
                        "{HEADER}: a request with this key just ended; retry"
                    ))
                })?;
            if earlier.body_hash != hash {
                return Err(ApiError::Unprocessable(format!(
                    "{HEADER}: this key was used with another body in the last \
                     {KEEP_HOURS} hours; use a new key for a new request"
                )));
            }
            let (Some(status), Some(response)) = (earlier.status, earlier.response) else {
                return Err(ApiError::InFlight(format!(
                    "{HEADER}: a request with this key is still being answered; retry"
                )));
            };
            let status = u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            return Ok(HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(response));
        }
        Err(e) => return Err(e.into()),
    }
    match create().await {
        Ok((status, json)) => {
            let text = json.to_string();
            idempotency_key::Entity::update_many()
                .col_expr(
                    idempotency_key::Column::Status,
                    Expr::value(i32::from(status.as_u16())),
                )
                .col_expr(idempotency_key::Column::Response, Expr::value(text.clone()))
                .filter(idempotency_key::Column::Id.eq(id))
                .exec(&state.writer)
                .await?;
            Ok(HttpResponse::build(status)
                .content_type("application/json")
                .body(text))
        }
        Err(e) => {
            // Nothing was created: the key is free for the retry.
            idempotency_key::Entity::delete_by_id(id)
                .exec(&state.writer)
                .await?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn the_same_json_spelt_differently_is_the_same_body() {
        let a = canonical(br#"{"name": "t", "instanceCount": 2, "tags": ["a", "b"]}"#);
        let b = canonical(br#"{"tags":["a","b"],"instanceCount":2,"name":"t"}"#);
        assert_eq!(a, b);
        assert_ne!(
            a,
            canonical(br#"{"tags":["b","a"],"instanceCount":2,"name":"t"}"#)
        );
        assert_ne!(
            a,
            canonical(br#"{"name": "t", "instanceCount": 3, "tags": ["a", "b"]}"#)
        );
    }
}
