//! `GET /events`: the caller's tenant as Server-Sent Events, and the tickets that open it
//! without a header (see `events` for ids, backlog and bounds).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use hearth_api::ErrorBody;
use hearth_api::events::Ticket;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use uuid::Uuid;

use super::ok;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::feed::Event;
use crate::services::{body_id, pools, tasks};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(event_stream).service(event_ticket);
}

/// Frames written in one chunk of the answer at most (replays and bursts are batched).
const FRAMES_PER_CHUNK: usize = 256;
/// How long a client waits before reconnecting after the stream ends (the SSE `retry`).
const RETRY_MS: u64 = 1_000;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Only the events of this pool.
    pool: Option<String>,
    /// Only the events of this task (its progress and its instances' ends).
    task: Option<String>,
    /// Comma-separated kinds: pool, node, taskProgress, instanceEnded, decision,
    /// budgetAlert.
    types: Option<String>,
    /// A ticket from `POST /events/tickets`, for clients that cannot send headers.
    ticket: Option<String>,
    /// Resume after this event id (as the `Last-Event-ID` header does; the header wins).
    last_event_id: Option<String>,
}

/// The tenant's events as `text/event-stream`: `id`, `event` (the kind) and `data` (JSON
/// with `id`, `at`, `type` and the change's fields) per event; a `: heartbeat` comment when
/// idle; with `Last-Event-ID`, the kept events after it first (a `reset` event before them
/// when some were no longer kept).
#[utoipa::path(
    tag = "events",
    params(EventsQuery),
    responses(
        (status = 200, description = "the event stream: each event's `data` is one `Event`; a `reset` (`StreamReset`) first when resuming from an id no longer kept", body = hearth_api::events::Event, content_type = "text/event-stream"),
        (status = 400, description = "bad filter or Last-Event-ID"),
        (status = 401, description = "no valid token or ticket"),
        (status = 404, description = "no such pool or task")
    )
)]
#[get("/events")]
async fn event_stream(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<EventsQuery>,
) -> ApiResult<HttpResponse> {
    let caller = caller_or_ticket(&state, &req, query.ticket.as_deref()).await?;
    let tenant = caller.tenant()?;
    let filter = filter_of(&state, tenant, &query).await?;
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let after = match header.or_else(|| query.last_event_id.clone()) {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            ApiError::field(
                "Last-Event-ID",
                format!("must be an event id, got '{text}'"),
            )
        })?),
    };
    let sub = state.feed.logs.subscribe(tenant, after);
    let mut first = format!("retry: {RETRY_MS}\n\n");
    if sub.reset {
        let reset = hearth_api::events::StreamReset {
            reason: "events after the given id are no longer kept: read the current state again"
                .into(),
        };
        first.push_str(&format!(
            "id: {}\nevent: reset\ndata: {}\n\n",
            sub.replay.first().map_or(sub.through, |e| e.id - 1),
            serde_json::to_string(&reset).map_err(|e| ApiError::Internal(e.into()))?
        ));
    }
    let conn = Conn {
        pending: Some(first),
        replay: sub.replay.into_iter(),
        live: sub.live,
        filter,
        heartbeat: state.settings.event_heartbeat,
        stopping: state.stopping.subscribe(),
        ended: false,
    };
    Ok(super::event_stream(conn, |mut c| async move {
        let chunk = c.next_chunk().await?;
        Some((chunk, c))
    }))
}

/// A ticket that opens `GET /events` for 60 s without an `Authorization` header (a
/// browser's `EventSource` cannot send one). It carries the caller's token: revoking the
/// token voids it.
#[utoipa::path(
    tag = "events",
    responses((status = 200, body = Ticket), (status = 401, description = "no valid token", body = ErrorBody))
)]
#[post("/events/tickets")]
async fn event_ticket(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.tenant()?;
    let (ticket, expires_at) = auth::issue_ticket(&state, &caller)?;
    Ok(ok(Ticket { ticket, expires_at }))
}

/// The kinds a `types` filter may name.
const KINDS: &[&str] = &[
    "pool",
    "node",
    "taskProgress",
    "instanceEnded",
    "decision",
    "budgetAlert",
];

async fn filter_of(state: &AppState, tenant: Uuid, q: &EventsQuery) -> ApiResult<Filter> {
    let mut filter = Filter::default();
    if let Some(pool) = q.pool.as_deref().filter(|p| !p.is_empty()) {
        let id = body_id(pool, "pool")?;
        pools::load(&state.db, tenant, id).await?;
        filter.pool = Some(id);
    }
    if let Some(task) = q.task.as_deref().filter(|t| !t.is_empty()) {
        let id = body_id(task, "task")?;
        tasks::load(&state.db, tenant, id).await?;
        filter.task = Some(id);
    }
    for kind in q.types.iter().flat_map(|t| t.split(',')).map(str::trim) {
        if kind.is_empty() {
            continue;
        }
        let known = KINDS.iter().find(|k| **k == kind).ok_or_else(|| {
            ApiError::field(
                "types",
                format!("unknown event type '{kind}' (known: {})", KINDS.join(", ")),
            )
        })?;
        filter.types.push(known);
    }
    Ok(filter)
}

/// One open stream.
struct Conn {
    /// Text to send before anything else.
    pending: Option<String>,
    replay: std::vec::IntoIter<Arc<Event>>,
    live: tokio::sync::broadcast::Receiver<Arc<Event>>,
    filter: Filter,
    heartbeat: Duration,
    stopping: watch::Receiver<bool>,
    ended: bool,
}

impl Conn {
    /// The next piece of the answer; `None` ends it (server stopping, or this client fell
    /// too far behind: it reconnects with its last id and is replayed from the backlog).
    async fn next_chunk(&mut self) -> Option<String> {
        if self.ended {
            return None;
        }
        let mut text = self.pending.take().unwrap_or_default();
        // The replay, a chunk at a time.
        let mut frames = 0;
        for event in self.replay.by_ref() {
            if self.filter.admits(&event) {
                text.push_str(&sse_frame(&event));
                frames += 1;
                if frames == FRAMES_PER_CHUNK {
                    return Some(text);
                }
            }
        }
        if !text.is_empty() {
            return Some(text);
        }
        loop {
            if *self.stopping.borrow() {
                return None;
            }
            let event = tokio::select! {
                r = self.live.recv() => r,
                _ = tokio::time::sleep(self.heartbeat) => return Some(": heartbeat\n\n".into()),
                _ = self.stopping.changed() => return None,
            };
            match event {
                Ok(event) => {
                    if self.filter.admits(&event) {
                        text.push_str(&sse_frame(&event));
                    }
                    // What else is already there, in the same chunk.
                    for _ in 1..FRAMES_PER_CHUNK {
                        match self.live.try_recv() {
                            Ok(event) if self.filter.admits(&event) => {
                                text.push_str(&sse_frame(&event))
                            }
                            Ok(_) => {}
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                                self.ended = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if !text.is_empty() {
                        return Some(text);
                    }
                    if self.ended {
                        return None;
                    }
                }
                Err(RecvError::Lagged(lost)) => {
                    tracing::debug!(lost, "event stream too slow: disconnected");
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Which events a subscriber wants (`GET /events?pool=&task=&types=`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub pool: Option<Uuid>,
    pub task: Option<Uuid>,
    /// Kinds (`Change::kind`); empty: every kind.
    pub types: Vec<&'static str>,
}

impl Filter {
    pub fn admits(&self, event: &Event) -> bool {
        (self.types.is_empty() || self.types.contains(&event.change.kind()))
            && self.pool.is_none_or(|p| event.change.pool_id() == Some(p))
            && self.task.is_none_or(|t| event.change.task_id() == Some(t))
    }
}

/// One event as Server-Sent Events text: `id`, `event` (its kind) and `data` (its JSON).
pub fn sse_frame(event: &Event) -> String {
    format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.id,
        event.change.kind(),
        event.json()
    )
}

/// The caller of a request that may also come with a ticket instead of a header.
pub async fn caller_or_ticket(
    state: &AppState,
    req: &HttpRequest,
    ticket: Option<&str>,
) -> ApiResult<auth::Caller> {
    match (auth::presented_token(req), ticket.filter(|t| !t.is_empty())) {
        (Some(token), _) => auth::authenticate(state, &token).await,
        (None, Some(ticket)) => auth::ticket_caller(state, ticket).await,
        (None, None) => match crate::ui::session_of(req) {
            // A dashboard page following the stream: its session cookie.
            Some(session) => crate::services::sessions::caller(state, &session).await,
            None => Err(crate::error::ApiError::Unauthorized(
                "missing Authorization header (or ?ticket= from POST /events/tickets, or a dashboard session)".into(),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Change;
    use chrono::Utc;

    #[test]
    fn filters_select_by_pool_task_and_kind() {
        let (pool, task) = (Uuid::new_v4(), Uuid::new_v4());
        let ended = Event::new(
            1,
            1,
            Uuid::nil(),
            Utc::now(),
            Change::InstanceEnded {
                pool,
                task,
                instance_id: 0,
                outcome: "Succeeded".into(),
                exit_code: Some(0),
            },
        );
        assert!(Filter::default().admits(&ended));
        let by_task = Filter {
            task: Some(task),
            ..Filter::default()
        };
        assert!(by_task.admits(&ended));
        let other_task = Filter {
            task: Some(Uuid::new_v4()),
            ..Filter::default()
        };
        assert!(!other_task.admits(&ended));
        let by_pool_and_kind = Filter {
            pool: Some(pool),
            types: vec!["node", "instanceEnded"],
            ..Filter::default()
        };
        assert!(by_pool_and_kind.admits(&ended));
        let nodes_only = Filter {
            types: vec!["node"],
            ..Filter::default()
        };
        assert!(!nodes_only.admits(&ended));
        let frame = sse_frame(&ended);
        assert!(
            frame.starts_with("id: 1\nevent: instanceEnded\ndata: {"),
            "{frame}"
        );
        assert!(frame.ends_with("}\n\n"));
        let data: serde_json::Value = serde_json::from_str(
            frame
                .lines()
                .nth(2)
                .unwrap()
                .strip_prefix("data: ")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data["id"], 1);
        assert_eq!(data["type"], "instanceEnded");
        assert_eq!(data["task"], task.to_string());
    }
}
