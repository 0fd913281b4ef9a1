//! HTTP handlers, thin: parse → call a service → map the result. Each is annotated so the
//! OpenAPI document at `/openapi.json` is generated from these very routes.

pub mod account;
pub mod agent;
pub mod billing;
pub mod budgets;
pub mod events;
pub mod jobs;
pub mod output;
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
    output::configure(cfg);
    jobs::configure(cfg);
    events::configure(cfg);
    billing::configure(cfg);
    budgets::configure(cfg);
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

/// A `text/event-stream` answer that proxies neither cache nor buffer: `next` turns the
/// stream's state into its next chunk (frames of text) and the state after, or `None` at
/// the end.
pub fn event_stream<S, F, Fut>(state: S, mut next: F) -> HttpResponse
where
    S: 'static,
    F: FnMut(S) -> Fut + 'static,
    Fut: std::future::Future<Output = Option<(String, S)>> + 'static,
{
    use futures_util::FutureExt;
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(state, move |s| {
            next(s).map(|step| {
                step.map(|(chunk, s)| {
                    (
                        Ok::<_, crate::error::ApiError>(actix_web::web::Bytes::from(chunk)),
                        s,
                    )
                })
            })
        }))
}

/// The Qarnot listing answer.
pub fn page_json<T>(
    data: Vec<T>,
    token: Option<String>,
    next: Option<String>,
) -> hearth_api::qarnot::QarnotPage<T> {
    hearth_api::qarnot::QarnotPage {
        data,
        token,
        is_truncated: next.is_some(),
        next_token: next,
    }
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

/// Answers a JSON array streamed as it is read: `fetch(at)` answers the next chunk of items
/// and where the one after starts (`None`: it was the last). Memory holds one chunk at a
/// time, whatever the number of items. A failure after the first bytes cuts the answer
/// short, which no client takes for a complete array.
/// Objects per chunk of a streamed list (`streamed_array`).
pub const STREAM_CHUNK: usize = 500;

pub fn streamed_array<T, C, F, Fut>(start: C, fetch: F) -> actix_web::HttpResponse
where
    T: serde::Serialize,
    C: 'static,
    F: Fn(C) -> Fut + 'static,
    Fut: std::future::Future<Output = crate::error::ApiResult<(Vec<T>, Option<C>)>> + 'static,
{
    let fetch = std::rc::Rc::new(fetch);
    let chunks = futures_util::stream::unfold(Some((start, true)), move |at| {
        let fetch = fetch.clone();
        async move {
            let (at, first) = at?;
            match fetch(at).await {
                Ok((items, next)) => {
                    let mut text = String::new();
                    if first {
                        text.push('[');
                    }
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 || !first {
                            text.push(',');
                        }
                        match serde_json::to_string(item) {
                            Ok(json) => text.push_str(&json),
                            Err(e) => return Some((Err(crate::error::ApiError::from(e)), None)),
                        }
                    }
                    let rest = match next {
                        Some(next) => Some((next, false)),
                        None => {
                            text.push(']');
                            None
                        }
                    };
                    Some((Ok(actix_web::web::Bytes::from(text)), rest))
                }
                Err(e) => {
                    tracing::error!(error = %e, "listing failed mid-answer");
                    Some((Err(e), None))
                }
            }
        }
    });
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .streaming(chunks)
}
