//! One task per instance: spawn it, stream its output, wait for its end, report it.
//!
//! Reports keep the protocol's order (`/started`, then `/output`s, then `/finished`) and
//! survive an unreachable server: output stays buffered (capped) and `/finished` is retried
//! until delivered, while the process itself never waits for the server.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;
use uuid::Uuid;

use super::client::{Backoff, CallError, Then, run_then};
use super::node::Node;
use super::output::{Stream, Utf8Stream};
use super::runner::{self, Spawned, exit_report, signal_group};
use super::wire::{Assignment, Finished};

/// How often output is sent while an instance runs (unless 64 KiB pile up before). Output
/// written after a quiet period at least this long goes at once (a follower sees a sparse
/// line within milliseconds), so reports stay at most one per period either way.
const OUTPUT_PERIOD: Duration = Duration::from_millis(250);
/// How long after its spawn an instance reports its start, unless it printed or ended
/// first: a short instance's start and end then travel in one report batch, which halves
/// the reports of a stream of short instances.
const START_GRACE: Duration = Duration::from_millis(5);
/// After the shell exits, how long its output may take to drain from processes that escaped
/// the group (`setsid`) and still hold the pipes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 16 * 1024;
/// The first reads of a pipe, before `READ_CHUNK`-sized ones.
const SMALL_READ: usize = 512;

type ExitReport = (Option<i32>, Option<i32>);

/// Spawns an admitted instance's process on this thread and supervises it in a task.
pub fn start(node: &Arc<Node>, assignment: Assignment) {
    // A debug span: at the default level it costs nothing per instance, so the lines that
    // are logged name their instance themselves.
    let span =
        tracing::debug_span!(parent: &node.span, "instance", uuid = %assignment.instance_uuid);
    let spawned = runner::spawn(&assignment, &node.node_dir);
    tokio::spawn(run(node.clone(), assignment, spawned).instrument(span));
}

/// After a process exited: starts what waited for its slot, at once (no round trip), and
/// reports as cancelled, without a process, what was cancelled while it waited.
pub async fn start_waiting(node: &Arc<Node>) {
    let next = {
        let mut instances = node.instances.lock().await;
        let next = instances.next_to_start(node.registration.slots);
        node.client.set_linger(instances.has_waiting());
        next
    };
    for (assignment, cancelled) in next {
        if cancelled {
            let span = tracing::debug_span!(
                parent: &node.span, "instance", uuid = %assignment.instance_uuid
            );
            tokio::spawn(never_started(node.clone(), assignment).instrument(span));
        } else if !node.exit.is_set() {
            start(node, assignment);
        }
    }
}

/// Supervises an instance `runner::spawn` started (or failed to start) and reports it.
pub async fn run(node: Arc<Node>, assignment: Assignment, spawned: anyhow::Result<Spawned>) {
    let uuid = assignment.instance_uuid;
    let mut reports = Reports::new(node.clone(), uuid, assignment.attempt);
    let exit = match spawned {
        Ok(spawned) => supervise(&node, uuid, spawned, &mut reports).await,
        Err(e) => {
            tracing::warn!(instance = %uuid, error = %e, "cannot start the instance");
            // Reported like a shell that cannot run its command, with the reason as stderr.
            let mut instances = node.instances.lock().await;
            if let Some(instance) = instances.get_mut(&uuid) {
                instance.exited = true;
                instance
                    .output
                    .push(Stream::Stderr, &format!("hearth agent: {e:#}\n"));
            }
            drop(instances);
            node.slot_freed.notify_one();
            (Some(127), None)
        }
    };
    // What waited for this slot starts once this end is queued for the server: its start
    // then reaches the server with this end or after it, so two executions of one slot
    // never overlap in the server's records.
    let waiting: Then<'_> = Some(Box::pin(start_waiting(&node)));
    reports.finish(exit, waiting).await;
}

/// An instance cancelled while it waited for its slot: reported killed, never spawned.
pub async fn never_started(node: Arc<Node>, assignment: Assignment) {
    tracing::debug!("cancelled before it started");
    let mut reports = Reports::new(node, assignment.instance_uuid, assignment.attempt);
    // Only its end: it never started, so it has no execution to record.
    reports.started_done = true;
    reports.finish((None, Some(libc::SIGKILL)), None).await;
}

async fn supervise(
    node: &Arc<Node>,
    uuid: Uuid,
    spawned: Spawned,
    reports: &mut Reports,
) -> ExitReport {
    let Spawned {
        mut child,
        pgid,
        stdout,
        stderr,
    } = spawned;
    let cancelled_meanwhile = {
        let mut instances = node.instances.lock().await;
        let instance = instances.get_mut(&uuid).expect("admitted before spawn");
        instance.pgid = Some(pgid);
        instance.killing
    };
    if cancelled_meanwhile {
        node.kill_group(uuid, pgid);
    }
    tracing::debug!(pgid, "instance started");

    let pipes = Arc::new(PipeSignals::default());
    let mut pumps = JoinSet::new();
    pumps.spawn(pump(
        node.clone(),
        uuid,
        Stream::Stdout,
        stdout,
        pipes.clone(),
    ));
    pumps.spawn(pump(
        node.clone(),
        uuid,
        Stream::Stderr,
        stderr,
        pipes.clone(),
    ));

    // The first tick sends `/started` shortly after the spawn: an instance that ends
    // before it reports its start and its end in one batch (see `Reports::finish`).
    let started = Instant::now();
    let mut tick = tokio::time::interval_at(started + START_GRACE, OUTPUT_PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // When output last went (the spawn counts: a short instance's first lines wait for
    // the grace tick, batched with its start).
    let mut last_sent = started;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = tick.tick() => {
                if reports.flush().await {
                    last_sent = Instant::now();
                }
            }
            _ = pipes.full.notified() => {
                if reports.flush().await {
                    last_sent = Instant::now();
                }
            }
            _ = pipes.wrote.notified() => {
                // After a quiet period: at once, and the next tick a period from now.
                if last_sent.elapsed() >= OUTPUT_PERIOD && reports.flush().await {
                    last_sent = Instant::now();
                    tick.reset();
                }
            }
        }
    };
    let exit = match status {
        Ok(status) => exit_report(status),
        Err(e) => {
            tracing::error!(instance = %uuid, error = %e, "cannot wait for the instance");
            (None, None)
        }
    };
    if let Some(instance) = node.instances.lock().await.get_mut(&uuid) {
        instance.exited = true;
    }
    node.slot_freed.notify_one();
    tracing::debug!(exit_code = ?exit.0, signal = ?exit.1, "instance exited");

    // The instance is over when its shell is: background processes it left would hold the
    // pipes open and the slot busy.
    signal_group(pgid, libc::SIGKILL);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while pumps.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            instance = %uuid,
            "output pipes still open after the instance exited, closing them"
        );
        pumps.abort_all();
    }
    exit
}

/// What the pipes tell the instance's supervisor.
#[derive(Default)]
struct PipeSignals {
    /// Pending output reached the size that is sent at once.
    full: Notify,
    /// Some output was kept (sent at once when the last report is a period old).
    wrote: Notify,
}

/// Copies one pipe into the instance's pending output.
async fn pump(
    node: Arc<Node>,
    uuid: Uuid,
    stream: Stream,
    mut pipe: impl AsyncRead + Unpin,
    signals: Arc<PipeSignals>,
) {
    // Most instances print little or nothing: a small buffer in the task first, the large
    // one only once a read fills it (a 16 KiB allocation per pipe per instance showed in
    // the agent's profile).
    let mut small = [0u8; SMALL_READ];
    let mut large: Vec<u8> = Vec::new();
    let mut utf8 = Utf8Stream::default();
    loop {
        let read = if large.is_empty() {
            pipe.read(&mut small).await
        } else {
            pipe.read(&mut large).await
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(instance = %uuid, ?stream, error = %e, "cannot read instance output");
                break;
            }
        };
        let text = if large.is_empty() {
            utf8.decode(&small[..n])
        } else {
            utf8.decode(&large[..n])
        };
        if !text.is_empty() {
            if append(&node, uuid, stream, &text).await {
                signals.full.notify_one();
            } else {
                signals.wrote.notify_one();
            }
        }
        if large.is_empty() && n == SMALL_READ {
            large = vec![0u8; READ_CHUNK];
        }
    }
    let rest = utf8.finish();
    if !rest.is_empty() {
        append(&node, uuid, stream, &rest).await;
    }
}

async fn append(node: &Node, uuid: Uuid, stream: Stream, text: &str) -> bool {
    let mut instances = node.instances.lock().await;
    instances
        .get_mut(&uuid)
        .is_some_and(|i| i.output.push(stream, text))
}

/// The reports of one instance, in protocol order.
struct Reports {
    node: Arc<Node>,
    uuid: Uuid,
    attempt: u32,
    /// `/started` was delivered, or refused (the instance is no longer ours).
    started_done: bool,
    /// The server refused a report: it no longer wants this instance's output.
    disowned: bool,
    backoff: Backoff,
    /// While the server is unreachable, output waits for this instead of every tick.
    retry_at: Option<Instant>,
}

impl Reports {
    fn new(node: Arc<Node>, uuid: Uuid, attempt: u32) -> Self {
        Self {
            node,
            uuid,
            attempt,
            started_done: false,
            disowned: false,
            backoff: Backoff::new(),
            retry_at: None,
        }
    }

    /// One attempt at `/started` (until delivered) and at sending the pending output.
    /// Sends the pending output; whether a report went out.
    async fn flush(&mut self) -> bool {
        if self.retry_at.is_some_and(|at| Instant::now() < at) || self.node.exit.is_set() {
            return false;
        }
        if !self.started_done && !self.try_started().await {
            return false;
        }
        if self.disowned {
            return false;
        }
        let batch = match self.node.instances.lock().await.get_mut(&self.uuid) {
            Some(instance) => instance.output.take(),
            None => return false,
        };
        if batch.is_empty() {
            return false;
        }
        match self.node.client.output(self.uuid, &batch).await {
            Ok(()) => {
                self.reachable();
                return true;
            }
            Err(CallError::Unreachable(_)) => {
                if let Some(instance) = self.node.instances.lock().await.get_mut(&self.uuid) {
                    instance.output.restore(batch);
                    let dropped = instance.output.dropped();
                    if dropped > 0 {
                        tracing::debug!(dropped, "output cut while the server is away");
                    }
                }
                self.unreachable();
            }
            Err(CallError::Refused(status)) => {
                tracing::warn!(instance = %self.uuid, %status, "server refused output, no longer sending it");
                self.disowned = true;
            }
            Err(CallError::NodeGone) => {}
        }
        false
    }

    /// True when `/started` is settled and output may follow.
    async fn try_started(&mut self) -> bool {
        let answer = self.node.client.started(self.uuid, self.attempt).await;
        self.settle_started(answer).await
    }

    /// What the answer to `/started` means for the instance; true when it is settled.
    async fn settle_started(&mut self, answer: Result<(), CallError>) -> bool {
        match answer {
            Ok(()) => {
                self.started_done = true;
                self.reachable();
                true
            }
            Err(CallError::Refused(status)) => {
                // 409: cancelled meanwhile. Kill it; it is still reported finished.
                tracing::info!(instance = %self.uuid, %status, "instance no longer this node's, killing it");
                self.started_done = true;
                self.disowned = true;
                self.node.kill(self.uuid).await;
                true
            }
            Err(CallError::Unreachable(_)) => {
                self.unreachable();
                false
            }
            Err(CallError::NodeGone) => false,
        }
    }

    /// Delivers `/started` if still owed, then `/finished` with the rest of the output;
    /// retried until the server takes it or the agent stops.
    /// An instance that ended before its start was reported sends both in one batch, in
    /// that order.
    /// `then` runs once the end is queued for the server (and in any case before this
    /// returns).
    async fn finish(self, exit: ExitReport, mut then: Then<'_>) {
        self.finish_with(exit, &mut then).await;
        run_then(&mut then).await;
    }

    async fn finish_with(mut self, (exit_code, signal): ExitReport, then: &mut Then<'_>) {
        self.retry_at = None;
        let rest = match self.node.instances.lock().await.get_mut(&self.uuid) {
            Some(instance) => instance.output.take(),
            None => return,
        };
        let body = Finished {
            attempt: Some(self.attempt),
            exit_code,
            signal,
            stdout: rest.stdout,
            stderr: rest.stderr,
        };
        while !self.started_done {
            if self.node.exit.is_set() {
                return;
            }
            let Some((started, ended)) = self
                .node
                .client
                .started_and_finished(self.uuid, self.attempt, &body, then)
                .await
            else {
                // No batches: one report after the other.
                if !self.try_started().await && !self.pause().await {
                    return;
                }
                continue;
            };
            if !self.settle_started(started).await {
                if !self.pause().await {
                    return;
                }
                continue;
            }
            match ended {
                Ok(()) => return self.completed().await,
                Err(CallError::Refused(status)) if finished_is_settled(status) => {
                    tracing::debug!(%status, "server no longer wants this instance");
                    return self.completed().await;
                }
                Err(CallError::NodeGone) => return,
                // Started, not yet finished: the end is sent again below.
                Err(_) => {}
            }
        }
        loop {
            if self.node.exit.is_set() {
                return;
            }
            match self.node.client.finished(self.uuid, &body, then).await {
                Ok(()) => break,
                Err(CallError::Refused(status)) if finished_is_settled(status) => {
                    tracing::debug!(%status, "server no longer wants this instance");
                    break;
                }
                Err(CallError::NodeGone) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "finished not delivered yet");
                    if !self.pause().await {
                        return;
                    }
                }
            }
        }
        self.completed().await;
    }

    async fn completed(self) {
        self.node.instances.lock().await.complete(self.uuid);
        tracing::debug!("reported finished");
    }

    /// Waits before the next retry; false if the agent is stopping instead.
    async fn pause(&mut self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(self.backoff.next_delay()) => true,
            _ = self.node.exit.wait() => false,
        }
    }

    fn reachable(&mut self) {
        self.backoff.reset();
        self.retry_at = None;
    }

    fn unreachable(&mut self) {
        self.retry_at = Some(Instant::now() + self.backoff.next_delay());
    }
}

/// Answers to `/finished` that end its retries besides 2xx: the server knows the instance
/// is over (409), or no longer knows it at all (404, 410).
fn finished_is_settled(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 404 | 409 | 410)
}
