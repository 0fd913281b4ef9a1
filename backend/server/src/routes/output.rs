//! `GET /tasks/{uuid}/instances/{instanceId}/output`: one instance's stdout and stderr as
//! Server-Sent Events, from a byte offset on, following what it writes until it ends
//! (`tail -f` for the dashboard, the SDKs and `hearth tasks logs -f`).

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use hearth_api::events::{OutputChunk, OutputEnd, OutputStream};
use hearth_core::model::InstanceState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::events::caller_or_ticket;
use crate::bells::Listener;
use crate::entities::instance;
use crate::error::{ApiError, ApiResult};
use crate::services::{path_id, tasks};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(follow_output);
}

/// How long a client waits before reconnecting after the stream ends (the SSE `retry`).
const RETRY_MS: u64 = 1_000;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct FollowQuery {
    /// Start after this many bytes of stdout (counted over all it ever wrote; default 0:
    /// all that is kept). `Last-Event-ID` wins over both offsets.
    stdout_from: Option<i64>,
    /// Start after this many bytes of stderr.
    stderr_from: Option<i64>,
    /// A ticket from `POST /events/tickets`, for clients that cannot send headers.
    ticket: Option<String>,
}

/// An instance's output as `text/event-stream`: `output` events (`OutputChunk`: stream,
/// offset, text) as the instance writes, each with the id `{stdout bytes}.{stderr bytes}`
/// to resume from; a `: heartbeat` comment when quiet; one `end` event (`OutputEnd`) once
/// the instance is finished and all it wrote was sent, and the stream closes.
#[utoipa::path(
    tag = "tasks",
    params(FollowQuery),
    responses(
        (status = 200, description = "`output` events (`OutputChunk`), then one `end` (`OutputEnd`)", body = OutputChunk, content_type = "text/event-stream"),
        (status = 400, description = "bad offset or Last-Event-ID"),
        (status = 401, description = "no valid token, ticket or session"),
        (status = 404, description = "no such task or instance"),
        (status = 429, description = "too many instances followed on this server now")
    )
)]
#[get("/tasks/{uuid}/instances/{instance_id}/output")]
async fn follow_output(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<FollowQuery>,
) -> ApiResult<HttpResponse> {
    let caller = caller_or_ticket(&state, &req, query.ticket.as_deref()).await?;
    let tenant = caller.tenant()?;
    let task = tasks::load(&state.db, tenant, path_id(&path.0, "task")?).await?;
    let number: i32 = path
        .1
        .parse()
        .map_err(|_| ApiError::not_found("task instance"))?;
    let resume = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").trim().to_owned())
        .filter(|v| !v.is_empty());
    let (stdout_from, stderr_from) = match resume {
        Some(text) => parse_resume(&text)?,
        None => (
            offset("stdoutFrom", query.stdout_from)?,
            offset("stderrFrom", query.stderr_from)?,
        ),
    };
    // Listening before the first read: a write committed in between is not missed.
    let listener = state.bells.listen((task.id, number)).ok_or_else(|| {
        ApiError::TooManyRequests(format!(
            "{} instances are followed on this server already; retry later",
            crate::bells::MAX_FOLLOWED
        ))
    })?;
    let row_id: Uuid = instance::Entity::find()
        .select_only()
        .column(instance::Column::Id)
        .filter(instance::Column::TaskId.eq(task.id))
        .filter(instance::Column::InstanceId.eq(number))
        .into_tuple()
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("task instance"))?;
    let follow = Follow {
        state: state.clone(),
        row_id,
        listener,
        sent: [stdout_from, stderr_from],
        pending: Some(format!("retry: {RETRY_MS}\n\n")),
        heartbeat: state.settings.event_heartbeat,
        stopping: state.stopping.subscribe(),
        ended: false,
    };
    Ok(super::event_stream(follow, |mut f| async move {
        match f.next_chunk().await {
            Ok(Some(chunk)) => Some((chunk, f)),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "following an instance's output failed");
                None
            }
        }
    }))
}

fn offset(field: &str, value: Option<i64>) -> ApiResult<i64> {
    match value {
        Some(n) if n < 0 => Err(ApiError::field(field, format!("must be >= 0, got {n}"))),
        Some(n) => Ok(n),
        None => Ok(0),
    }
}

/// `Last-Event-ID` as this stream writes it: `{stdout bytes}.{stderr bytes}`.
fn parse_resume(text: &str) -> ApiResult<(i64, i64)> {
    let bad = || {
        ApiError::field(
            "Last-Event-ID",
            format!("must be '{{stdout bytes}}.{{stderr bytes}}', got '{text}'"),
        )
    };
    let (out, err) = text.split_once('.').ok_or_else(bad)?;
    let out: i64 = out.parse().map_err(|_| bad())?;
    let err: i64 = err.parse().map_err(|_| bad())?;
    if out < 0 || err < 0 {
        return Err(bad());
    }
    Ok((out, err))
}

/// One open follow.
struct Follow {
    state: web::Data<AppState>,
    row_id: Uuid,
    listener: Listener,
    /// Bytes of stdout and stderr sent (or skipped) so far, over all ever written.
    sent: [i64; 2],
    pending: Option<String>,
    heartbeat: Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
    ended: bool,
}

type OutputRow = (String, String, i64, i64, String, Option<i32>);

impl Follow {
    /// The next piece of the answer; `None` ends it (after `end`, when the server stops,
    /// or when the instance is gone with its task).
    async fn next_chunk(&mut self) -> ApiResult<Option<String>> {
        if self.ended {
            return Ok(None);
        }
        let mut text = self.pending.take().unwrap_or_default();
        loop {
            // Marked seen before the read: a ring during it wakes the next wait.
            self.listener.rung.borrow_and_update();
            let row: Option<OutputRow> = instance::Entity::find_by_id(self.row_id)
                .select_only()
                .columns([
                    instance::Column::Stdout,
                    instance::Column::Stderr,
                    instance::Column::StdoutDropped,
                    instance::Column::StderrDropped,
                    instance::Column::State,
                    instance::Column::ExitCode,
                ])
                .into_tuple()
                .one(&self.state.db)
                .await?;
            let Some((stdout, stderr, out_dropped, err_dropped, state, exit_code)) = row else {
                self.ended = true;
                return Ok((!text.is_empty()).then_some(text));
            };
            for (i, (stream, kept, dropped)) in [
                (OutputStream::Stdout, &stdout, out_dropped),
                (OutputStream::Stderr, &stderr, err_dropped),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(chunk) = unsent(stream, kept, dropped, &mut self.sent[i]) {
                    text.push_str(&format!(
                        "id: {}.{}\nevent: output\ndata: {}\n\n",
                        self.sent[0],
                        self.sent[1],
                        serde_json::to_string(&chunk)?
                    ));
                }
            }
            let finished = state
                .parse::<InstanceState>()
                .is_ok_and(|s| s.is_finished());
            if finished {
                let end = OutputEnd { state, exit_code };
                text.push_str(&format!(
                    "event: end\ndata: {}\n\n",
                    serde_json::to_string(&end)?
                ));
                self.ended = true;
                return Ok(Some(text));
            }
            if !text.is_empty() {
                return Ok(Some(text));
            }
            if *self.stopping.borrow() {
                return Ok(None);
            }
            tokio::select! {
                rung = self.listener.rung.changed() => {
                    if rung.is_err() {
                        return Ok(None);
                    }
                }
                _ = tokio::time::sleep(self.heartbeat) => {
                    // Quiet: say so, and read again next time (an end nobody rang for,
                    // such as a queued instance cancelled with its task, is seen then).
                    return Ok(Some(": heartbeat\n\n".to_owned()));
                }
                _ = self.stopping.changed() => return Ok(None),
            }
        }
    }
}

/// What of one stream was not sent yet: `kept` holds the newest bytes of all it wrote,
/// `dropped` were cut from their front. Moves `sent` to the end of what it answers.
fn unsent(stream: OutputStream, kept: &str, dropped: i64, sent: &mut i64) -> Option<OutputChunk> {
    let written = dropped + kept.len() as i64;
    if *sent >= written {
        return None;
    }
    let mut from = (*sent - dropped).max(0) as usize;
    while from < kept.len() && !kept.is_char_boundary(from) {
        from += 1;
    }
    *sent = written;
    (from < kept.len()).then(|| OutputChunk {
        stream,
        offset: dropped + from as i64,
        text: kept[from..].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_only_what_was_not_sent() {
        let mut sent = 0;
        let chunk = unsent(OutputStream::Stdout, "hello\n", 0, &mut sent).unwrap();
        assert_eq!((chunk.offset, chunk.text.as_str(), sent), (0, "hello\n", 6));
        assert!(unsent(OutputStream::Stdout, "hello\n", 0, &mut sent).is_none());
        let chunk = unsent(OutputStream::Stdout, "hello\nworld", 0, &mut sent).unwrap();
        assert_eq!((chunk.offset, chunk.text.as_str(), sent), (6, "world", 11));
    }

    #[test]
    fn a_gap_says_where_the_text_starts() {
        // 100 bytes were cut; the reader had 40: it gets all that is kept, from 100.
        let mut sent = 40;
        let chunk = unsent(OutputStream::Stderr, "tail", 100, &mut sent).unwrap();
        assert_eq!(
            (chunk.offset, chunk.text.as_str(), sent),
            (100, "tail", 104)
        );
    }

    #[test]
    fn never_splits_a_character() {
        // "€" is 3 bytes: a reader that had 1 of them resumes at the next whole one.
        let mut sent = 1;
        let chunk = unsent(OutputStream::Stdout, "€x", 0, &mut sent).unwrap();
        assert_eq!((chunk.offset, chunk.text.as_str()), (3, "x"));
        let mut sent = 1;
        assert!(unsent(OutputStream::Stdout, "€", 0, &mut sent).is_none());
        assert_eq!(sent, 3);
    }

    #[test]
    fn resume_ids_parse_or_name_the_header() {
        assert_eq!(parse_resume("12.0").unwrap(), (12, 0));
        for bad in ["12", "a.b", "-1.0", "1.-2"] {
            let e = parse_resume(bad).unwrap_err().to_string();
            assert!(e.starts_with("Last-Event-ID"), "{e}");
        }
    }
}
