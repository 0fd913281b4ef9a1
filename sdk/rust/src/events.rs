//! The tenant's event stream (`GET /events`, Server-Sent Events) as a [`Stream`] of typed
//! events that survives dropped connections.
//!
//! The stream remembers the id of the last event it read; when the connection drops (or
//! stays silent past the idle timeout: the server sends a heartbeat every 15 s), it
//! reconnects with backoff and sends that id as `Last-Event-ID`, and the server replays
//! what was missed: no event is lost or handed out twice (ids only increase; one at or
//! below the last one handed out is skipped). When the server no longer holds some of the
//! missed events (too old, or from before a restart) the stream hands out an
//! [`EventItem::Reset`] first: read the state again, then go on.
//!
//! Buffering is bounded: the connection is read only as the stream is polled (at most one
//! network chunk and one event of at most 1 MiB are held), so a slow consumer slows the
//! connection down instead of filling memory; a consumer more than 1,024 events behind is
//! cut off by the server, and the stream then reconnects and catches up from the server's
//! backlog.
//!
//! ```no_run
//! # async fn run() -> hearth_client::Result<()> {
//! use futures_util::TryStreamExt;
//! use hearth_client::events::{Change, EventItem};
//!
//! let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
//! let mut events = client.events().types(["taskProgress", "pool"]).subscribe().await?;
//! while let Some(item) = events.try_next().await? {
//!     match item {
//!         EventItem::Event(e) => match e.change {
//!             Change::TaskProgress { task, state, .. } => println!("{task}: {state}"),
//!             other => println!("{}: {other:?}", other.kind()),
//!         },
//!         EventItem::Reset { .. } => println!("missed events: re-read what you show"),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use futures_util::stream::{self, BoxStream, StreamExt};
pub use hearth_api::events::{Change, Event};
use reqwest::Method;
use uuid::Uuid;

use crate::HasUuid;
use crate::client::{Client, RetryPolicy};
use crate::error::{Error, Result};

/// The event kinds of hearth's stream (the `types` filter takes these names).
///
/// ```
/// assert!(hearth_client::events::KINDS.contains(&"taskProgress"));
/// ```
pub const KINDS: &[&str] = &[
    "pool",
    "node",
    "taskProgress",
    "instanceEnded",
    "decision",
    "budgetAlert",
];

/// The most one event (or one line) may hold before the stream refuses it.
pub(crate) const MAX_EVENT_BYTES: usize = 1 << 20;

/// One item of an [`EventStream`].
///
/// ```
/// use hearth_client::events::EventItem;
///
/// fn describe(item: &EventItem) -> String {
///     match item {
///         EventItem::Event(e) => format!("{} #{}", e.change.kind(), e.id),
///         EventItem::Reset { .. } => "reset".into(),
///         EventItem::Other { kind, .. } => format!("unknown {kind}"),
///         _ => "?".into(),
///     }
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventItem {
    /// A change of the tenant's pools, nodes, tasks, decisions or budgets.
    Event(Event),
    /// Some events after the id asked for are no longer kept by the server: what was
    /// built from the stream so far may be stale, read the state again.
    Reset {
        /// The id the stream goes on after.
        id: Option<u64>,
        /// The server's words.
        reason: String,
    },
    /// An event of a kind this version of the crate does not know, as it came.
    Other {
        /// Its id.
        id: Option<u64>,
        /// Its `event:` name.
        kind: String,
        /// Its `data:` text.
        data: String,
    },
}

impl EventItem {
    /// The item's event id, when it has one.
    ///
    /// ```
    /// let item = hearth_client::events::EventItem::Reset { id: Some(7), reason: String::new() };
    /// assert_eq!(item.id(), Some(7));
    /// ```
    pub fn id(&self) -> Option<u64> {
        match self {
            EventItem::Event(e) => Some(e.id),
            EventItem::Reset { id, .. } | EventItem::Other { id, .. } => *id,
        }
    }
}

impl Client {
    /// The tenant's event stream, to be filtered and tuned, then opened with
    /// [`EventsRequest::subscribe`].
    ///
    /// ```no_run
    /// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
    /// use futures_util::StreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let mut events = client.events().pool(pool).subscribe().await?;
    /// if let Some(first) = events.next().await {
    ///     println!("{:?}", first?);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&self) -> EventsRequest {
        EventsRequest {
            client: self.clone(),
            pool: None,
            task: None,
            types: Vec::new(),
            after: None,
            idle_timeout: Duration::from_secs(45),
            initial_backoff: None,
            max_backoff: Duration::from_secs(30),
            max_reconnects: None,
        }
    }
}

/// What to stream and how to keep the stream up; [`EventsRequest::subscribe`] opens it.
///
/// ```no_run
/// # async fn run(task: uuid::Uuid, saved_id: u64) -> hearth_client::Result<()> {
/// use std::time::Duration;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let events = client
///     .events()
///     .task(task)
///     .after(saved_id)
///     .reconnect_backoff(Duration::from_millis(500), Duration::from_secs(10))
///     .max_reconnects(20)
///     .subscribe()
///     .await?;
/// # let _ = events;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is streamed before subscribe()"]
pub struct EventsRequest {
    client: Client,
    pool: Option<Uuid>,
    task: Option<Uuid>,
    types: Vec<String>,
    after: Option<u64>,
    idle_timeout: Duration,
    initial_backoff: Option<Duration>,
    max_backoff: Duration,
    max_reconnects: Option<u32>,
}

impl EventsRequest {
    /// Only the events of this pool (budget alerts, about no pool, are left out).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.events().pool(uuid::Uuid::nil());
    /// # let _ = r;
    /// ```
    pub fn pool(mut self, pool: impl HasUuid) -> EventsRequest {
        self.pool = Some(pool.uuid());
        self
    }

    /// Only the events of this task (its progress and its instances' ends).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.events().task(uuid::Uuid::nil());
    /// # let _ = r;
    /// ```
    pub fn task(mut self, task: impl HasUuid) -> EventsRequest {
        self.task = Some(task.uuid());
        self
    }

    /// Only events of these kinds (see [`KINDS`]).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.events().types(["node", "decision"]);
    /// # let _ = r;
    /// ```
    pub fn types<I, S>(mut self, kinds: I) -> EventsRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types.extend(kinds.into_iter().map(Into::into));
        self
    }

    /// Starts after the event `id` (one handed out earlier, e.g. saved from
    /// [`EventStream::last_event_id`]): the server replays what followed it. Without it the
    /// stream starts with what happens from now on.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.events().after(1796119860123456);
    /// # let _ = r;
    /// ```
    pub fn after(mut self, id: u64) -> EventsRequest {
        self.after = Some(id);
        self
    }

    /// How long the connection may stay silent before it is taken for dead and reopened
    /// (default 45 s; the server sends a heartbeat every 15 s).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.events().idle_timeout(std::time::Duration::from_secs(20));
    /// # let _ = r;
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> EventsRequest {
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
    ///     .events()
    ///     .reconnect_backoff(Duration::from_millis(100), Duration::from_secs(5));
    /// # let _ = r;
    /// ```
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> EventsRequest {
        self.initial_backoff = Some(initial);
        self.max_backoff = max;
        self
    }

    /// Gives up after this many failed reconnects in a row (default: never), handing out
    /// the last error and ending.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.events().max_reconnects(10);
    /// # let _ = r;
    /// ```
    pub fn max_reconnects(mut self, tries: u32) -> EventsRequest {
        self.max_reconnects = Some(tries);
        self
    }

    /// Opens the stream: answers once the server accepted it (so what happens from then
    /// on is in it), or the error that refused it (a bad filter 400, an unknown pool 404,
    /// 401, 403). Opening is retried as the client's [`RetryPolicy`] says.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let events = client.events().subscribe().await?;
    /// # let _ = events;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe(self) -> Result<EventStream> {
        let policy = self.client.inner.retry;
        let mut attempt = 0;
        let response = loop {
            match self.open(self.after).await {
                Ok(r) => break r,
                Err(e) if !is_fatal(&e) && attempt < policy.max_retries => {
                    tokio::time::sleep(policy.backoff(attempt, None)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let shared = Arc::new(Shared {
            last_id: AtomicU64::new(self.after.unwrap_or(0)),
            reconnects: AtomicU32::new(0),
        });
        let mut parser = Parser::new(MAX_EVENT_BYTES);
        parser.last_id = self.after.map(|a| a.to_string());
        let state = State {
            request: self,
            conn: Some(response),
            parser,
            shared: shared.clone(),
            failures: 0,
            last_error: None,
            ended: false,
        };
        Ok(EventStream {
            inner: stream::unfold(state, step).boxed(),
            shared,
        })
    }

    /// One connection: the response once the server said 200.
    async fn open(&self, after: Option<u64>) -> Result<reqwest::Response> {
        let mut query = Vec::new();
        if let Some(p) = self.pool {
            query.push(("pool".to_owned(), p.to_string()));
        }
        if let Some(t) = self.task {
            query.push(("task".to_owned(), t.to_string()));
        }
        if !self.types.is_empty() {
            query.push(("types".to_owned(), self.types.join(",")));
        }
        open_stream(
            &self.client,
            "/events",
            &query,
            after.map(|id| id.to_string()),
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

/// Opens a `text/event-stream` at `route` (with `Last-Event-ID` when resuming): the
/// response once the server said 200, or its refusal. No overall timeout on the request
/// (the stream stays open); the answer's head must come within `idle_timeout`. Shared by
/// the event stream and an instance's output stream.
pub(crate) async fn open_stream(
    client: &Client,
    route: &str,
    query: &[(String, String)],
    last_event_id: Option<String>,
    idle_timeout: Duration,
) -> Result<reqwest::Response> {
    let url = client.url_of(route, query)?;
    let mut request = client
        .request(Method::GET, url)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .header(reqwest::header::CACHE_CONTROL, "no-cache");
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let transport = |source| Error::Transport {
        method: "GET".into(),
        path: route.to_owned(),
        source,
    };
    let response = match tokio::time::timeout(idle_timeout, request.send()).await {
        Ok(sent) => sent.map_err(transport)?,
        Err(_) => {
            return Err(Error::Timeout {
                what: format!("GET {route}"),
                after: idle_timeout,
            });
        }
    };
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.map_err(transport)?;
        return Err(Error::from_answer(status, &body));
    }
    Ok(response)
}

/// The wait before reconnect number `failures + 1` of a stream: from `initial` (else the
/// server's `retry:`, else 1 s), doubling up to `max`, halved at random.
pub(crate) fn reconnect_wait(
    initial: Option<Duration>,
    max: Duration,
    failures: u32,
    server_retry: Option<Duration>,
) -> Duration {
    let initial = initial.or(server_retry).unwrap_or(Duration::from_secs(1));
    RetryPolicy {
        max_retries: 0,
        initial_backoff: initial,
        max_backoff: max.max(initial),
    }
    .backoff(failures, None)
}

/// Refusals that another try would get again.
pub(crate) fn is_fatal(e: &Error) -> bool {
    match e {
        Error::Api { status, .. } => !matches!(status, 429 | 500..=599),
        Error::Transport { .. } | Error::Timeout { .. } => false,
        _ => true,
    }
}

struct Shared {
    /// The id of the last item handed out (0: none yet).
    last_id: AtomicU64,
    reconnects: AtomicU32,
}

/// The tenant's events: a [`Stream`] of [`EventItem`]s that reconnects by itself (see the
/// [module](self)). It ends only on an error another try would get again (the token
/// revoked, the filtered pool deleted), or after [`EventsRequest::max_reconnects`].
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use futures_util::StreamExt;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let mut events = client.events().subscribe().await?;
/// while let Some(item) = events.next().await {
///     println!("{:?}", item?);
/// }
/// println!("resume later after {:?}", events.last_event_id());
/// # Ok(())
/// # }
/// ```
pub struct EventStream {
    inner: BoxStream<'static, Result<EventItem>>,
    shared: Arc<Shared>,
}

impl EventStream {
    /// The id of the last item handed out (or the one the stream was opened
    /// [`after`](EventsRequest::after)): pass it to `after` to go on from there later.
    ///
    /// ```no_run
    /// # async fn run(events: hearth_client::events::EventStream) {
    /// if let Some(id) = events.last_event_id() {
    ///     std::fs::write("events.last", id.to_string()).unwrap();
    /// }
    /// # }
    /// ```
    pub fn last_event_id(&self) -> Option<u64> {
        Some(self.shared.last_id.load(Ordering::Relaxed)).filter(|id| *id > 0)
    }

    /// How many times the stream has reconnected.
    ///
    /// ```no_run
    /// # fn run(events: hearth_client::events::EventStream) {
    /// println!("{} reconnects", events.reconnects());
    /// # }
    /// ```
    pub fn reconnects(&self) -> u32 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }
}

impl Stream for EventStream {
    type Item = Result<EventItem>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("last_event_id", &self.last_event_id())
            .field("reconnects", &self.reconnects())
            .finish_non_exhaustive()
    }
}

struct State {
    request: EventsRequest,
    conn: Option<reqwest::Response>,
    parser: Parser,
    shared: Arc<Shared>,
    /// Failed (re)connects since the last event.
    failures: u32,
    last_error: Option<Error>,
    /// Nothing more comes once the frames parsed are handed out.
    ended: bool,
}

/// The stream's next item: a parsed frame, else more bytes, else a new connection.
async fn step(mut st: State) -> Option<(Result<EventItem>, State)> {
    loop {
        if let Some(frame) = st.parser.frames.pop_front() {
            st.failures = 0;
            match item_of(frame) {
                Ok(item) => {
                    if let Some(id) = item.id() {
                        let last = st.shared.last_id.load(Ordering::Relaxed);
                        // Ids only increase: an event not above the last handed out is a
                        // repeat (a reset is always handed out).
                        if id <= last && !matches!(item, EventItem::Reset { .. }) {
                            continue;
                        }
                        st.shared.last_id.store(id.max(last), Ordering::Relaxed);
                    }
                    return Some((Ok(item), st));
                }
                Err(e) => return Some((Err(e), st)),
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
            let after = st.parser.last_id.as_deref().and_then(|t| t.parse().ok());
            match st.request.open(after).await {
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
                    // An event too big to hold: not something a reconnect cures.
                    st.conn = None;
                    st.ended = true;
                    return Some((Err(e), st));
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                st.conn = None;
                st.parser.drop_partial();
            }
        }
    }
}

/// A frame as the item it stands for.
fn item_of(frame: Frame) -> Result<EventItem> {
    let id = frame.id.as_deref().and_then(|t| t.parse::<u64>().ok());
    match frame.event.as_str() {
        "reset" => {
            let reason = serde_json::from_str::<hearth_api::events::StreamReset>(&frame.data)
                .map(|r| r.reason)
                .unwrap_or_default();
            Ok(EventItem::Reset { id, reason })
        }
        kind if KINDS.contains(&kind) => serde_json::from_str::<Event>(&frame.data)
            .map(EventItem::Event)
            .map_err(|source| Error::Decode {
                what: format!(
                    "GET /events: the {kind} event {}",
                    frame.id.unwrap_or_default()
                ),
                body: frame.data,
                source,
            }),
        kind => Ok(EventItem::Other {
            id,
            kind: kind.to_owned(),
            data: frame.data,
        }),
    }
}

/// One dispatched Server-Sent Event (shared with [`crate::output`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    /// The stream's last event id when it was dispatched.
    pub(crate) id: Option<String>,
    pub(crate) event: String,
    pub(crate) data: String,
}

/// A Server-Sent Events parser (the WHATWG rules: `field: value` lines, a blank line
/// dispatches, `:` comments, `id` without NUL, `retry` in ms, CRLF or LF). Shared with
/// [`crate::output`].
#[derive(Debug)]
pub(crate) struct Parser {
    max: usize,
    /// The stream named in errors (`GET /events`).
    what: String,
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: String,
    id_buffer: Option<String>,
    /// The last event id, as of the last dispatch: what a reconnect sends.
    pub(crate) last_id: Option<String>,
    /// The server's `retry:`, if it sent one.
    pub(crate) retry: Option<Duration>,
    /// Dispatched events not taken yet.
    pub(crate) frames: VecDeque<Frame>,
}

impl Parser {
    pub(crate) fn new(max: usize) -> Parser {
        Parser {
            max,
            what: "GET /events".into(),
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: String::new(),
            id_buffer: None,
            last_id: None,
            retry: None,
            frames: VecDeque::new(),
        }
    }

    /// The stream named in its errors (default `GET /events`).
    pub(crate) fn named(mut self, what: impl Into<String>) -> Parser {
        self.what = what.into();
        self
    }

    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<()> {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&bytes[..end]);
            bytes = &bytes[end + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line_done(&String::from_utf8_lossy(&line));
            self.check()?;
        }
        self.line.extend_from_slice(bytes);
        self.check()
    }

    fn check(&self) -> Result<()> {
        if self.line.len() + self.data.len() > self.max {
            return Err(Error::Decode {
                what: self.what.clone(),
                body: String::new(),
                source: serde::de::Error::custom(format!(
                    "an event is longer than {} bytes",
                    self.max
                )),
            });
        }
        Ok(())
    }

    fn line_done(&mut self, line: &str) {
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id_buffer = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        if self.id_buffer.is_some() {
            self.last_id = self.id_buffer.clone();
        }
        let event = std::mem::take(&mut self.event);
        let mut data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        if data.ends_with('\n') {
            data.pop();
        }
        self.frames.push_back(Frame {
            id: self.last_id.clone(),
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
        });
    }

    /// The connection ended: an event it had not finished is not one.
    pub(crate) fn drop_partial(&mut self) {
        self.line.clear();
        self.data.clear();
        self.has_data = false;
        self.event.clear();
        self.id_buffer = self.last_id.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&str]) -> (Parser, Vec<Frame>) {
        let mut p = Parser::new(1024);
        for c in chunks {
            p.feed(c.as_bytes()).unwrap();
        }
        let out = p.frames.drain(..).collect();
        (p, out)
    }

    #[test]
    fn events_split_anywhere_are_put_together() {
        let text = "retry: 1000\n\nid: 5\nevent: pool\ndata: {\"a\":1}\n\n: heartbeat\n\nid: 6\r\nevent: node\r\ndata: x\r\ndata: y\r\n\r\n";
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            let (p, got) = frames(&[a, b]);
            assert_eq!(
                got,
                vec![
                    Frame {
                        id: Some("5".into()),
                        event: "pool".into(),
                        data: "{\"a\":1}".into()
                    },
                    Frame {
                        id: Some("6".into()),
                        event: "node".into(),
                        data: "x\ny".into()
                    },
                ],
                "cut at {cut}"
            );
            assert_eq!(p.retry, Some(Duration::from_secs(1)));
            assert_eq!(p.last_id.as_deref(), Some("6"));
        }
    }

    #[test]
    fn an_unfinished_event_is_dropped_with_its_connection() {
        let (mut p, got) = frames(&["id: 1\nevent: pool\ndata: {}\n\nid: 2\nevent: pool\ndata: {"]);
        assert_eq!(got.len(), 1);
        p.drop_partial();
        assert_eq!(p.last_id.as_deref(), Some("1"));
        p.feed(b"id: 3\nevent: node\ndata: z\n\n").unwrap();
        let f = p.frames.pop_front().unwrap();
        assert_eq!((f.id.as_deref(), f.data.as_str()), (Some("3"), "z"));
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut p = Parser::new(16);
        assert!(p.feed(b"data: 0123456789abcdefgh").is_err());
        let mut p = Parser::new(16);
        assert!(p.feed(b"data: 01234567\ndata: 89abcdefgh\n").is_err());
    }

    #[test]
    fn frames_become_items() {
        let f = |event: &str, data: &str| Frame {
            id: Some("9".into()),
            event: event.into(),
            data: data.into(),
        };
        let item = item_of(f(
            "pool",
            r#"{"id":9,"at":"2026-12-01T20:11:00.123Z","type":"pool","pool":"00000000-0000-0000-0000-000000000001","state":"Closed","targetSlots":0}"#,
        ))
        .unwrap();
        assert!(matches!(
            item,
            EventItem::Event(Event {
                id: 9,
                change: Change::Pool { .. },
                ..
            })
        ));
        let reset = item_of(f("reset", r#"{"type":"reset","reason":"gone"}"#)).unwrap();
        assert_eq!(
            reset,
            EventItem::Reset {
                id: Some(9),
                reason: "gone".into()
            }
        );
        assert!(matches!(
            item_of(f("future", "{}")).unwrap(),
            EventItem::Other { .. }
        ));
        assert!(item_of(f("node", "{not json")).is_err());
    }
}
