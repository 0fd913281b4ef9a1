//! HTTP calls to `/agent/v1`, the give-up clock and the retry backoff.
//!
//! Every call is a single attempt; callers decide what to retry (a heartbeat simply waits for
//! the next tick, `/finished` retries until delivered). Two outcomes are handled here for
//! everyone: `401`/`410` stops the agent, and any answer below `500` restarts the give-up
//! clock, since it proves the server is there.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::exit::{Exit, ExitSignal};
use super::wire::{Directives, Finished, Output, RegisterBody, Registration, Running, Started};
use hearth_api::agent::Report;

/// Bound on any call but the long poll: a hung server must not stall a retry loop for long.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How much longer than `pollWaitMs` a long poll may take before it counts as lost.
const POLL_MARGIN: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum CallError {
    /// No answer, a timeout or a `5xx`: worth trying again later.
    Unreachable(String),
    /// A `4xx` other than 401/410, e.g. `409` on `/started`: the server does not want it.
    Refused(StatusCode),
    /// `401`/`410`: the node is finished and the agent is already stopping.
    NodeGone,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(why) => write!(f, "server unreachable: {why}"),
            CallError::Refused(status) => write!(f, "server refused: {status}"),
            CallError::NodeGone => f.write_str("node is gone"),
        }
    }
}

/// One instance report waiting for the next batch, with where its answer goes.
struct Pending {
    body: serde_json::Value,
    answer: tokio::sync::oneshot::Sender<Result<(), CallError>>,
}

/// A `/finished` report as an item of a batch.
fn finished_report(uuid: Uuid, finished: &Finished) -> Result<serde_json::Value, CallError> {
    report_body(&Report::Finished {
        instance_uuid: uuid,
        report: finished.clone(),
    })
}

/// A report as an item of a batch.
fn report_body(report: &Report) -> Result<serde_json::Value, CallError> {
    serde_json::to_value(report)
        .map_err(|e| CallError::Unreachable(format!("encoding a report: {e}")))
}

/// Work to do once a report is queued, before its answer comes (see `Client::finished`).
pub type Then<'a> = Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>>;

/// Runs `then` if it has not run yet.
pub async fn run_then(then: &mut Then<'_>) {
    if let Some(work) = then.take() {
        work.await;
    }
}

/// How long a report waits for others to join its batch while the node has work queued
/// behind its slots (see `Client::set_linger`).
const LINGER: Duration = Duration::from_millis(2);

/// Reports of one batch, at most (the server's limit).
const MAX_BATCH: usize = 1000;

pub struct Client {
    /// `/started` and `/finished` reports waiting to be sent together (`/report`).
    pending: Mutex<Vec<Pending>>,
    /// The node has work waiting behind its busy slots: no slot waits for a report's answer,
    /// so a report lingers (`LINGER`) for others to join its batch.
    linger: AtomicBool,
    /// Held by whoever is sending a batch; the others wait for it, then find their answer
    /// or send what has gathered meanwhile (group commit).
    sending: tokio::sync::Mutex<()>,
    /// The server has no `/report` (an older one): one call per report.
    unbatched: AtomicBool,
    http: reqwest::Client,
    base: String,
    /// Never logged: `Client` has no `Debug` and the header is marked sensitive.
    token: String,
    give_up_after: Duration,
    last_answer: Mutex<Instant>,
    reachable: AtomicBool,
    exit: ExitSignal,
    /// Assignments the server put in a `/report` answer (the slots those reports freed,
    /// refilled in the same round trip), for the node to apply. One message per answer, each
    /// at most the node's slots, applied as it arrives.
    refills: tokio::sync::mpsc::UnboundedSender<Directives>,
}

impl Client {
    pub fn new(
        server: &str,
        token: String,
        give_up_after: Duration,
        exit: ExitSignal,
        refills: tokio::sync::mpsc::UnboundedSender<Directives>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // A burst of reports must not leave thousands of idle connections open on the
            // server (it ran out of file descriptors).
            .pool_max_idle_per_host(8)
            .build()?;
        Ok(Self {
            pending: Mutex::new(Vec::new()),
            linger: AtomicBool::new(false),
            sending: tokio::sync::Mutex::new(()),
            unbatched: AtomicBool::new(false),
            http,
            base: format!("{}/agent/v1", server.trim_end_matches('/')),
            token,
            give_up_after,
            last_answer: Mutex::new(Instant::now()),
            reachable: AtomicBool::new(true),
            exit,
            refills,
        })
    }

    /// Whether reports may linger: true while work waits behind the node's busy slots, so
    /// that no slot waits for the answer of the batch being gathered.
    pub fn set_linger(&self, linger: bool) {
        self.linger.store(linger, Ordering::Relaxed);
    }

    /// True once the server has been silent for longer than `--give-up-after-seconds`.
    pub fn should_give_up(&self) -> bool {
        self.last_answer.lock().expect("not poisoned").elapsed() > self.give_up_after
    }

    pub async fn register(&self) -> Result<Registration, CallError> {
        let body = RegisterBody {
            pid: Some(std::process::id()),
            hostname: Some(hostname()),
            agent_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        };
        self.post_json("/register", &body, CALL_TIMEOUT).await
    }

    pub async fn heartbeat(&self, running: Vec<Uuid>) -> Result<Directives, CallError> {
        self.post_json("/heartbeat", &Running { running }, CALL_TIMEOUT)
            .await
    }

    pub async fn poll(&self, running: Vec<Uuid>, wait: Duration) -> Result<Directives, CallError> {
        self.post_json("/poll", &Running { running }, wait + POLL_MARGIN)
            .await
    }

    pub async fn started(&self, uuid: Uuid, attempt: u32) -> Result<(), CallError> {
        if !self.unbatched.load(Ordering::Relaxed) {
            let body = report_body(&Report::Started {
                instance_uuid: uuid,
                attempt: Some(attempt),
            })?;
            if let Some(answer) = self.batched(body).await {
                return answer;
            }
        }
        let path = format!("/instances/{uuid}/started");
        self.post(
            &path,
            &Started {
                attempt: Some(attempt),
            },
            CALL_TIMEOUT,
        )
        .await
        .map(drop)
    }

    pub async fn output(&self, uuid: Uuid, output: &Output) -> Result<(), CallError> {
        let path = format!("/instances/{uuid}/output");
        self.post(&path, output, CALL_TIMEOUT).await.map(drop)
    }

    /// `/finished`; `then` runs once the report is queued for its batch (or before it is
    /// sent on its own), before its answer is awaited.
    pub async fn finished(
        &self,
        uuid: Uuid,
        finished: &Finished,
        then: &mut Then<'_>,
    ) -> Result<(), CallError> {
        if !self.unbatched.load(Ordering::Relaxed) {
            let body = finished_report(uuid, finished)?;
            if let Some(answer) = self.batched_all(vec![body], then).await {
                return answer.into_iter().next().unwrap_or_else(|| {
                    Err(CallError::Unreachable("/report: no answer for it".into()))
                });
            }
        }
        run_then(then).await;
        let path = format!("/instances/{uuid}/finished");
        self.post(&path, finished, CALL_TIMEOUT).await.map(drop)
    }

    /// The start and the end of an instance in one batch, in that order: the answers to
    /// each. `None` when the server takes no batches (the caller sends them one by one).
    /// `then` runs once both are queued, as for `finished`.
    pub async fn started_and_finished(
        &self,
        uuid: Uuid,
        attempt: u32,
        finished: &Finished,
        then: &mut Then<'_>,
    ) -> Option<(Result<(), CallError>, Result<(), CallError>)> {
        if self.unbatched.load(Ordering::Relaxed) {
            return None;
        }
        let started = match report_body(&Report::Started {
            instance_uuid: uuid,
            attempt: Some(attempt),
        }) {
            Ok(body) => body,
            Err(e) => return Some((Err(e.clone()), Err(e))),
        };
        let ended = match finished_report(uuid, finished) {
            Ok(body) => body,
            Err(e) => return Some((Err(e.clone()), Err(e))),
        };
        let mut answers = self
            .batched_all(vec![started, ended], then)
            .await?
            .into_iter();
        let started = answers.next()?;
        Some((started, answers.next()?))
    }

    /// Sends a report with whatever others are pending, in one `/report` call: while one
    /// batch is in flight the next gathers, so a busy node sends a few calls for many
    /// instances and the server commits each batch at once. `None` when the server has no
    /// `/report` (the caller uses the single route).
    async fn batched(&self, body: serde_json::Value) -> Option<Result<(), CallError>> {
        self.batched_all(vec![body], &mut None).await?.pop()
    }

    /// `batched` for several reports queued together, in order: they travel in one batch
    /// (or, past its limit, in batches sent one after the other).
    async fn batched_all(
        &self,
        bodies: Vec<serde_json::Value>,
        then: &mut Then<'_>,
    ) -> Option<Vec<Result<(), CallError>>> {
        use tokio::sync::oneshot::error::TryRecvError;
        let mut answers = Vec::with_capacity(bodies.len());
        {
            let mut pending = self.pending.lock().expect("not poisoned");
            for body in bodies {
                let (answer, mine) = tokio::sync::oneshot::channel();
                pending.push(Pending { body, answer });
                answers.push(mine);
            }
        }
        run_then(then).await;
        if self.linger.load(Ordering::Relaxed) {
            tokio::time::sleep(LINGER).await;
        }
        let mut last = answers.pop()?;
        loop {
            let _sending = self.sending.lock().await;
            match last.try_recv() {
                Ok(answer) => {
                    // The earlier reports were in the same batch or an earlier one.
                    let mut all: Vec<Result<(), CallError>> = answers
                        .into_iter()
                        .map(|mut a| {
                            a.try_recv().unwrap_or_else(|_| {
                                Err(CallError::Unreachable("/report: no answer for it".into()))
                            })
                        })
                        .collect();
                    all.push(answer);
                    return Some(all);
                }
                // The batch that carried it was answered "no such route".
                Err(TryRecvError::Closed) => return None,
                Err(TryRecvError::Empty) => {}
            }
            let batch: Vec<Pending> = {
                let mut pending = self.pending.lock().expect("not poisoned");
                let n = pending.len().min(MAX_BATCH);
                pending.drain(..n).collect()
            };
            self.send_batch(batch).await;
        }
    }

    async fn send_batch(&self, batch: Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        let reports: Vec<&serde_json::Value> = batch.iter().map(|p| &p.body).collect();
        let sent = self
            .post(
                "/report",
                &serde_json::json!({ "reports": reports, "assignmentsInAnswer": true }),
                CALL_TIMEOUT,
            )
            .await;
        let answer = match sent {
            Ok(response) => response
                .json::<serde_json::Value>()
                .await
                .map_err(|e| CallError::Unreachable(format!("/report: unreadable answer: {e}"))),
            Err(e) => Err(e),
        };
        match answer {
            Ok(mut answer) => {
                if let Some(assignments) =
                    answer.get_mut("assignments").map(serde_json::Value::take)
                {
                    let refill = serde_json::json!({ "assignments": assignments });
                    match serde_json::from_value::<Directives>(refill) {
                        Ok(d) if !d.assignments.is_empty() => {
                            let _ = self.refills.send(d);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "unreadable assignments in /report"),
                    }
                }
                let results = answer["results"].as_array().cloned().unwrap_or_default();
                for (i, p) in batch.into_iter().enumerate() {
                    let status = results
                        .get(i)
                        .and_then(|r| r["status"].as_u64())
                        .and_then(|s| StatusCode::from_u16(s as u16).ok());
                    let _ = p.answer.send(match status {
                        Some(s) if s.is_success() => Ok(()),
                        Some(s) => Err(CallError::Refused(s)),
                        None => Err(CallError::Unreachable("/report: no answer for it".into())),
                    });
                }
            }
            Err(CallError::Refused(StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED)) => {
                tracing::info!("the server has no /report: sending reports one by one");
                self.unbatched.store(true, Ordering::Relaxed);
                // Dropping the senders tells each caller to use the single route.
                drop(batch);
            }
            Err(e) => {
                // A refusal of the whole batch says nothing of each report (and must not read
                // as a refused start, which kills the instance): they are tried again.
                let why = e.to_string();
                for p in batch {
                    let _ = p.answer.send(Err(match &e {
                        CallError::NodeGone => CallError::NodeGone,
                        _ => CallError::Unreachable(why.clone()),
                    }));
                }
            }
        }
    }

    async fn post_json<B, R>(&self, path: &str, body: &B, timeout: Duration) -> Result<R, CallError>
    where
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let response = self.post(path, body, timeout).await?;
        // A body cut by a dropped connection looks like this too: retrying is right for both.
        response
            .json()
            .await
            .map_err(|e| CallError::Unreachable(format!("{path}: unreadable answer: {e}")))
    }

    async fn post<B>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<reqwest::Response, CallError>
    where
        B: Serialize + ?Sized,
    {
        let sent = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(timeout)
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Err(self.unreachable(format!("{path}: {}", error_chain(&e)))),
        };
        let status = response.status();
        if status.is_server_error() {
            return Err(self.unreachable(format!("{path}: {status}")));
        }
        self.answered();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::GONE {
            self.exit.trigger(Exit::NodeGone(status.as_u16()));
            return Err(CallError::NodeGone);
        }
        if !status.is_success() {
            tracing::debug!(path, %status, "refused");
            return Err(CallError::Refused(status));
        }
        Ok(response)
    }

    fn answered(&self) {
        *self.last_answer.lock().expect("not poisoned") = Instant::now();
        if !self.reachable.swap(true, Ordering::Relaxed) {
            tracing::info!("server answers again");
        }
    }

    fn unreachable(&self, why: String) -> CallError {
        // One warning per outage, not one per retry.
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::warn!(%why, "server unreachable, retrying");
        } else {
            tracing::debug!(%why, "server still unreachable");
        }
        CallError::Unreachable(why)
    }
}

/// Delay between retries of a call that failed for want of a server: short at first (a blip),
/// then slower so that a restarting server is not hammered.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// reqwest's own message ("error sending request") hides the cause ("connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// This machine's name (`unknown` when it cannot be read).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<_> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    #[test]
    fn hostname_is_not_empty() {
        assert!(!hostname().is_empty());
    }
}
