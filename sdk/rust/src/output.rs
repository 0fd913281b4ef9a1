//! One instance's output followed live (`GET /tasks/{uuid}/instances/{instanceId}/output`,
//! Server-Sent Events) as a [`Stream`] of [`OutputEvent`]s that survives dropped
//! connections.
//!
//! The stream hands out the instance's stdout and stderr text as it is written, each
//! piece with the byte offset where it starts in its pipe, then one [`OutputEvent::End`]
//! once the instance is finished and everything it wrote was handed out; then it ends.
//! Opened before the instance starts, it waits for it.
//!
//! It counts the bytes of each pipe it handed out. When the connection drops (or stays
//! silent past the idle timeout: the server sends a heartbeat every 15 s), it reconnects
//! with backoff and sends those counts as `Last-Event-ID`, and the server goes on from
//! there: no byte is lost or handed out twice (text at or below what was handed out is
//! skipped). When the server no longer keeps the oldest output asked for, a piece starts
//! beyond it: its [`offset`](OutputEvent::Chunk::offset) says where.
//!
//! It reuses the Server-Sent Events parser of [`crate::events`] and reads the connection
//! only as it is polled.
//!
//! ```no_run
//! # async fn run(task: uuid::Uuid) -> hearth_client::Result<()> {
//! use futures_util::TryStreamExt;
//! use hearth_client::output::{OutputEvent, OutputStream};
//!
//! let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
//! let mut output = client.tasks().instance_output(task, 0).follow().await?;
//! while let Some(event) = output.try_next().await? {
//!     match event {
//!         OutputEvent::Chunk { stream: OutputStream::Stdout, text, .. } => print!("{text}"),
//!         OutputEvent::Chunk { text, .. } => eprint!("{text}"),
//!         OutputEvent::End { state, exit_code } => println!("{state} ({exit_code:?})"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use futures_util::stream::{self, BoxStream, StreamExt};
/// Which pipe a piece of output came from: `Stdout` or `Stderr`.
///
/// ```
/// use hearth_client::output::OutputStream;
/// assert_ne!(OutputStream::Stdout, OutputStream::Stderr);
/// ```
pub use hearth_api::events::OutputStream;
use hearth_api::events::{OutputChunk, OutputEnd};
use uuid::Uuid;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::{Frame, MAX_EVENT_BYTES, Parser, is_fatal, open_stream, reconnect_wait};

/// One item of an [`OutputFollower`].
///
/// ```
/// use hearth_client::output::{OutputEvent, OutputStream};
///
/// fn show(event: &OutputEvent) -> String {
///     match event {
///         OutputEvent::Chunk { stream: OutputStream::Stdout, text, .. } => text.clone(),
///         OutputEvent::Chunk { text, .. } => format!("(stderr) {text}"),
///         OutputEvent::End { state, exit_code } => format!("{state} {exit_code:?}"),
///         _ => String::new(),
///     }
/// }
/// # let _ = show;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputEvent {
    /// Text the instance wrote on one pipe.
    Chunk {
        /// The pipe.
        stream: OutputStream,
        /// Where `text` starts among all the bytes this pipe ever wrote (beyond the end of
        /// the previous piece of the same pipe when older output was no longer kept).
        offset: u64,
        /// The text (whole characters).
        text: String,
    },
    /// The instance is finished and all it wrote was handed out; the stream ends after it.
    End {
        /// `Succeeded`, `Failed` or `Cancelled`.
        state: String,
        /// The process's exit code, when it ran.
        exit_code: Option<i32>,
    },
}

/// Which instance's output to follow, from where, and how to keep the stream up;
/// [`OutputFollowRequest::follow`] opens it.
///
/// ```no_run
/// # async fn run(task: uuid::Uuid) -> hearth_client::Result<()> {
/// use std::time::Duration;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let output = client
///     .tasks()
///     .instance_output(task, 0)
///     .from(1024, 0)
///     .reconnect_backoff(Duration::from_millis(200), Duration::from_secs(5))
///     .max_reconnects(10)
///     .follow()
///     .await?;
/// # let _ = output;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is streamed before follow()"]
pub struct OutputFollowRequest {
    client: Client,
    task: Uuid,
    instance: u32,
    /// Bytes of stdout and stderr to skip.
    from: [u64; 2],
    idle_timeout: Duration,
    initial_backoff: Option<Duration>,
    max_backoff: Duration,
    max_reconnects: Option<u32>,
}

impl OutputFollowRequest {
    /// The request `Tasks::instance_output` answers: from the start, the defaults.
    pub(crate) fn new(client: Client, task: Uuid, instance: u32) -> OutputFollowRequest {
        OutputFollowRequest {
            client,
            task,
            instance,
            from: [0, 0],
            idle_timeout: Duration::from_secs(45),
            initial_backoff: None,
            max_backoff: Duration::from_secs(30),
            max_reconnects: None,
        }
    }

    /// Starts after `stdout` bytes of standard output and `stderr` bytes of standard error
    /// (counted over all each pipe ever wrote, e.g. an [`OutputFollower::position`] saved
    /// earlier). Default: all that the server keeps.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.tasks().instance_output(uuid::Uuid::nil(), 0).from(120, 0);
    /// # let _ = r;
    /// ```
    pub fn from(mut self, stdout: u64, stderr: u64) -> OutputFollowRequest {
        self.from = [stdout, stderr];
        self
    }

    /// How long the connection may stay silent before it is taken for dead and reopened
    /// (default 45 s; the server sends a heartbeat every 15 s).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client
    ///     .tasks()
    ///     .instance_output(uuid::Uuid::nil(), 0)
    ///     .idle_timeout(std::time::Duration::from_secs(20));
    /// # let _ = r;
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> OutputFollowRequest {
        self.idle_timeout = timeout;
        self
    }

    /// The wait before reconnecting: `initial` after a drop, doubling with each failed
    /// try up to `max` (halved at random). Default: the server's `retry:` (1 s), up to
    /// 30 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client
    ///     .tasks()
    ///     .instance_output(uuid::Uuid::nil(), 0)
    ///     .reconnect_backoff(Duration::from_millis(100), Duration::from_secs(5));
    /// # let _ = r;
    /// ```
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> OutputFollowRequest {
        self.initial_backoff = Some(initial);
        self.max_backoff = max;
        self
    }

    /// Gives up after this many failed reconnects in a row (default: never), handing out
    /// the last error and ending.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.tasks().instance_output(uuid::Uuid::nil(), 0).max_reconnects(5);
    /// # let _ = r;
    /// ```
    pub fn max_reconnects(mut self, tries: u32) -> OutputFollowRequest {
        self.max_reconnects = Some(tries);
        self
    }

    /// Opens the stream: answers once the server accepted it, or the error that refused
    /// it (no such task or instance 404, a bad offset 400, 401, 403). Opening is retried
    /// as the client's [`RetryPolicy`](crate::RetryPolicy) says (also a 429: too many instances followed on
    /// the server).
    ///
    /// ```no_run
    /// # async fn run(task: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let output = client.tasks().instance_output(task, 0).follow().await?;
    /// # let _ = output;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn follow(self) -> Result<OutputFollower> {
        let policy = self.client.inner.retry;
        let mut attempt = 0;
        let response = loop {
            match self.open(self.from, false).await {
                Ok(r) => break r,
                Err(e) if !is_fatal(&e) && attempt < policy.max_retries => {
                    tokio::time::sleep(policy.backoff(attempt, None)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let shared = Arc::new(Shared {
            position: [AtomicU64::new(self.from[0]), AtomicU64::new(self.from[1])],
            reconnects: AtomicU32::new(0),
        });
        let what = format!("GET {}", self.route());
        let state = State {
            parser: Parser::new(MAX_EVENT_BYTES).named(what.clone()),
            what,
            sent: self.from,
            request: self,
            conn: Some(response),
            shared: shared.clone(),
            failures: 0,
            last_error: None,
            ended: false,
        };
        Ok(OutputFollower {
            inner: stream::unfold(state, step).boxed(),
            shared,
        })
    }

    fn route(&self) -> String {
        format!("/tasks/{}/instances/{}/output", self.task, self.instance)
    }

    /// One connection from `from` (as the query, or as `Last-Event-ID` when resuming):
    /// the response once the server said 200.
    async fn open(&self, from: [u64; 2], resume: bool) -> Result<reqwest::Response> {
        let mut query = Vec::new();
        if !resume && from != [0, 0] {
            query.push(("stdoutFrom".to_owned(), from[0].to_string()));
            query.push(("stderrFrom".to_owned(), from[1].to_string()));
        }
        let last_event_id = resume.then(|| format!("{}.{}", from[0], from[1]));
        open_stream(
            &self.client,
            &self.route(),
            &query,
            last_event_id,
            self.idle_timeout,
        )
        .await
    }

    fn reconnect_wait(&self, failures: u32, server_retry: Option<Duration>) -> Duration {
        reconnect_wait(
            self.initial_backoff,
            self.max_backoff,
            failures,
            server_retry,
        )
    }
}

struct Shared {
    /// Bytes of stdout and stderr handed out (or skipped) so far.
    position: [AtomicU64; 2],
    reconnects: AtomicU32,
}

/// One instance's output: a [`Stream`] of [`OutputEvent`]s that reconnects by itself
/// (see the [module](self)) and ends after [`OutputEvent::End`]. It also ends on an error
/// another try would get again (the task deleted: 404), or after
/// [`OutputFollowRequest::max_reconnects`].
///
/// ```no_run
/// # async fn run(task: uuid::Uuid) -> hearth_client::Result<()> {
/// use futures_util::StreamExt;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let mut output = client.tasks().instance_output(task, 0).follow().await?;
/// while let Some(event) = output.next().await {
///     println!("{:?}", event?);
/// }
/// println!("{} reconnects", output.reconnects());
/// # Ok(())
/// # }
/// ```
pub struct OutputFollower {
    inner: BoxStream<'static, Result<OutputEvent>>,
    shared: Arc<Shared>,
}

impl OutputFollower {
    /// The bytes of stdout and of stderr handed out so far (counted from the start of
    /// each pipe, what the stream started [`from`](OutputFollowRequest::from) included):
    /// pass them to `from` to go on from there later.
    ///
    /// ```no_run
    /// # fn run(output: hearth_client::output::OutputFollower) {
    /// let (stdout, stderr) = output.position();
    /// println!("{stdout} bytes of stdout, {stderr} of stderr so far");
    /// # }
    /// ```
    pub fn position(&self) -> (u64, u64) {
        (
            self.shared.position[0].load(Ordering::Relaxed),
            self.shared.position[1].load(Ordering::Relaxed),
        )
    }

    /// How many times the stream has reconnected.
    ///
    /// ```no_run
    /// # fn run(output: hearth_client::output::OutputFollower) {
    /// println!("{} reconnects", output.reconnects());
    /// # }
    /// ```
    pub fn reconnects(&self) -> u32 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }
}

impl Stream for OutputFollower {
    type Item = Result<OutputEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for OutputFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputFollower")
            .field("position", &self.position())
            .field("reconnects", &self.reconnects())
            .finish_non_exhaustive()
    }
}

struct State {
    request: OutputFollowRequest,
    conn: Option<reqwest::Response>,
    parser: Parser,
    /// `GET /tasks/…/output`, for errors.
    what: String,
    /// Bytes of stdout and stderr handed out (or skipped) so far: where a reconnect
    /// resumes.
    sent: [u64; 2],
    shared: Arc<Shared>,
    /// Failed (re)connects since the last event.
    failures: u32,
    last_error: Option<Error>,
    /// Nothing more comes once the frames parsed are handed out.
    ended: bool,
}

impl State {
    fn set_sent(&mut self, i: usize, to: u64) {
        self.sent[i] = to;
        self.shared.position[i].store(to, Ordering::Relaxed);
    }
}

/// What one frame means for the stream.
enum Step {
    Hand(OutputEvent),
    /// Nothing to hand out (a repeat, an unknown event).
    Skip,
}

/// The stream's next item: a parsed frame, else more bytes, else a new connection.
async fn step(mut st: State) -> Option<(Result<OutputEvent>, State)> {
    loop {
        if let Some(frame) = st.parser.frames.pop_front() {
            st.failures = 0;
            match take(&mut st, frame) {
                Ok(Step::Skip) => continue,
                Ok(Step::Hand(event)) => {
                    if matches!(event, OutputEvent::End { .. }) {
                        // The server closes after `end`: nothing after it is read.
                        st.ended = true;
                        st.conn = None;
                        st.parser.frames.clear();
                    }
                    return Some((Ok(event), st));
                }
                Err(e) => {
                    // An event this crate cannot read: not something a reconnect cures.
                    st.ended = true;
                    st.conn = None;
                    st.parser.frames.clear();
                    return Some((Err(e), st));
                }
            }
        }
        if st.ended {
            return None;
        }
        let Some(conn) = st.conn.as_mut() else {
            if let Some(max) = st.request.max_reconnects
                && st.failures > max
            {
                st.ended = true;
                let e = st.last_error.take()?;
                return Some((Err(e), st));
            }
            let wait = st.request.reconnect_wait(st.failures, st.parser.retry);
            tokio::time::sleep(wait).await;
            match st.request.open(st.sent, true).await {
                Ok(response) => {
                    st.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    st.conn = Some(response);
                }
                Err(e) if is_fatal(&e) => {
                    st.ended = true;
                    return Some((Err(e), st));
                }
                Err(e) => {
                    st.failures += 1;
                    st.last_error = Some(e);
                }
            }
            continue;
        };
        match tokio::time::timeout(st.request.idle_timeout, conn.chunk()).await {
            Ok(Ok(Some(bytes))) => {
                if let Err(e) = st.parser.feed(&bytes) {
                    st.conn = None;
                    st.ended = true;
                    st.parser.frames.clear();
                    return Some((Err(e), st));
                }
            }
            // Closed without `end` (the server stopping), cut, or silent: reconnect.
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                st.conn = None;
                st.parser.drop_partial();
            }
        }
    }
}

/// A frame as what it means, moving the stream's position past a chunk.
fn take(st: &mut State, frame: Frame) -> Result<Step> {
    let decode = |source| Error::Decode {
        what: format!("{}: the {} event", st.what, frame.event),
        body: frame.data.clone(),
        source,
    };
    match frame.event.as_str() {
        "output" => {
            let chunk: OutputChunk = serde_json::from_str(&frame.data).map_err(decode)?;
            let i = match chunk.stream {
                OutputStream::Stdout => 0,
                OutputStream::Stderr => 1,
            };
            let event = trim_seen(chunk, st.sent[i]);
            // The id says what was sent of both pipes; it never goes back.
            let by_id = frame.id.as_deref().and_then(parse_position);
            let mut to = match &event {
                Some(OutputEvent::Chunk { offset, text, .. }) => offset + text.len() as u64,
                _ => st.sent[i],
            };
            if let Some(ids) = by_id {
                to = to.max(ids[i]);
            }
            st.set_sent(i, to.max(st.sent[i]));
            Ok(event.map_or(Step::Skip, Step::Hand))
        }
        "end" => {
            let end: OutputEnd = serde_json::from_str(&frame.data).map_err(decode)?;
            Ok(Step::Hand(OutputEvent::End {
                state: end.state,
                exit_code: end.exit_code,
            }))
        }
        _ => Ok(Step::Skip),
    }
}

/// The part of `chunk` beyond the first `seen` bytes of its pipe (whole characters), if
/// any.
fn trim_seen(chunk: OutputChunk, seen: u64) -> Option<OutputEvent> {
    let offset = chunk.offset.max(0) as u64;
    let mut text = chunk.text;
    let end = offset + text.len() as u64;
    if end <= seen {
        return None;
    }
    let mut offset = offset;
    if offset < seen {
        let mut cut = (seen - offset) as usize;
        while cut < text.len() && !text.is_char_boundary(cut) {
            cut += 1;
        }
        text.drain(..cut);
        offset += cut as u64;
    }
    (!text.is_empty()).then_some(OutputEvent::Chunk {
        stream: chunk.stream,
        offset,
        text,
    })
}

/// `{stdout bytes}.{stderr bytes}`, the ids of the stream.
fn parse_position(id: &str) -> Option<[u64; 2]> {
    let (out, err) = id.split_once('.')?;
    Some([out.parse().ok()?, err.parse().ok()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(stream: OutputStream, offset: i64, text: &str) -> OutputChunk {
        OutputChunk {
            stream,
            offset,
            text: text.into(),
        }
    }

    #[test]
    fn text_already_handed_out_is_skipped() {
        let out = OutputStream::Stdout;
        assert_eq!(trim_seen(chunk(out, 0, "abc"), 3), None);
        assert_eq!(trim_seen(chunk(out, 0, "abc"), 5), None);
        assert_eq!(
            trim_seen(chunk(out, 0, "abcdef"), 4),
            Some(OutputEvent::Chunk {
                stream: out,
                offset: 4,
                text: "ef".into()
            })
        );
        // Never half a character.
        assert_eq!(
            trim_seen(chunk(out, 0, "aéb"), 2),
            Some(OutputEvent::Chunk {
                stream: out,
                offset: 3,
                text: "b".into()
            })
        );
        // A gap is handed out as it came.
        assert_eq!(
            trim_seen(chunk(out, 10, "x"), 4),
            Some(OutputEvent::Chunk {
                stream: out,
                offset: 10,
                text: "x".into()
            })
        );
    }

    #[test]
    fn positions_parse() {
        assert_eq!(parse_position("12.0"), Some([12, 0]));
        assert_eq!(parse_position("12"), None);
        assert_eq!(parse_position("a.1"), None);
    }
}
