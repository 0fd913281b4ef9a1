//! The client: where the server is, the token, and how requests are sent and retried.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How failed requests are tried again: up to `max_retries` more times, waiting
/// `initial_backoff × 2ⁿ` (at most `max_backoff`, halved at random so that clients do
/// not retry in step, and never less than a `Retry-After` the server gave).
///
/// What is retried: a connection that could not be made (nothing was sent), `429`, and
/// `503`, for every request; other 5xx answers and connections cut after the request
/// was sent, only for requests that are safe to send twice: reads, `PUT`, `DELETE`, and
/// the creating `POST`s, which carry an `Idempotency-Key` (the same key on every try of
/// one call, so the server creates once and answers the retry with the first answer).
/// A `DELETE` whose retry finds the object gone (404) after an attempt that may have
/// reached the server counts as done. A keyed `POST` answered `409 in_flight` (a try with
/// the same key is still being answered) is sent again after its `Retry-After`; other
/// 409s are never retried.
///
/// ```
/// use std::time::Duration;
/// use hearth_client::RetryPolicy;
///
/// let patient = RetryPolicy {
///     max_retries: 8,
///     initial_backoff: Duration::from_millis(500),
///     max_backoff: Duration::from_secs(30),
/// };
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// # let _ = patient;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries after the first one (0: never retry).
    pub max_retries: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two tries.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries, from 200 ms up to 10 s apart.
    ///
    /// ```
    /// let p = hearth_client::RetryPolicy::default();
    /// assert_eq!(p.max_retries, 5);
    /// ```
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Never retry: every failure goes back to the caller at once.
    ///
    /// ```
    /// let client = hearth_client::Client::builder("http://127.0.0.1:8080", "TOKEN")
    ///     .retry(hearth_client::RetryPolicy::none())
    ///     .build()
    ///     .unwrap();
    /// # let _ = client;
    /// ```
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `attempt` (0 for the first retry): exponential,
    /// capped, with its upper half drawn at random.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let full = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.min(30)))
            .min(self.max_backoff);
        let half = full / 2;
        let wait = half + half.mul_f64(random_fraction());
        match retry_after {
            Some(asked) => wait.max(asked.min(self.max_backoff.max(Duration::from_secs(60)))),
            None => wait,
        }
    }
}

/// A number in [0, 1) that differs from call to call (std's hasher keys are random).
pub(crate) fn random_fraction() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Builds a [`Client`] with settings other than the defaults.
///
/// ```
/// use std::time::Duration;
///
/// let client = hearth_client::Client::builder("http://127.0.0.1:8080", "TOKEN")
///     .timeout(Duration::from_secs(20))
///     .user_agent("my-tool/1.0")
///     .build()
///     .unwrap();
/// assert_eq!(client.url(), "http://127.0.0.1:8080");
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    token: String,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    /// Sends no `Authorization` (the sign-in route); crate-private.
    anonymous: bool,
}

impl ClientBuilder {
    /// How failed requests are retried (default: [`RetryPolicy::default`]).
    ///
    /// ```
    /// let b = hearth_client::Client::builder("http://h:8080", "T")
    ///     .retry(hearth_client::RetryPolicy::none());
    /// # let _ = b;
    /// ```
    pub fn retry(mut self, retry: RetryPolicy) -> ClientBuilder {
        self.retry = retry;
        self
    }

    /// The longest one try of a request may take (default 60 s). Long polls
    /// ([`crate::TaskHandle::wait_until_done`]) add their own wait to it; the event stream
    /// has no overall limit (see [`crate::events::EventsRequest::idle_timeout`]).
    ///
    /// ```
    /// let b = hearth_client::Client::builder("http://h:8080", "T")
    ///     .timeout(std::time::Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// The longest a connection may take to open (default 10 s).
    ///
    /// ```
    /// let b = hearth_client::Client::builder("http://h:8080", "T")
    ///     .connect_timeout(std::time::Duration::from_secs(2));
    /// # let _ = b;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` sent (default `hearth-client-rust/<version>`).
    ///
    /// ```
    /// let b = hearth_client::Client::builder("http://h:8080", "T").user_agent("ci-bot/2");
    /// # let _ = b;
    /// ```
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> ClientBuilder {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends through this reqwest client (its proxy, TLS and pool settings) instead of
    /// one of the crate's own; the timeouts and user agent of this builder then apply per
    /// request, the connect timeout is the given client's.
    ///
    /// ```
    /// let http = reqwest::Client::builder().build().unwrap();
    /// let client = hearth_client::Client::builder("http://h:8080", "T")
    ///     .http_client(http)
    ///     .build()
    ///     .unwrap();
    /// # let _ = client;
    /// ```
    pub fn http_client(mut self, http: reqwest::Client) -> ClientBuilder {
        self.http = Some(http);
        self
    }

    /// The client; fails on a URL that is not `http://` or `https://` or a token that
    /// cannot be a header.
    ///
    /// ```
    /// assert!(hearth_client::Client::builder("ftp://h", "T").build().is_err());
    /// ```
    pub fn build(self) -> Result<Client> {
        let trimmed = self.url.trim().trim_end_matches('/').to_owned();
        let base = Url::parse(&trimmed).map_err(|e| {
            Error::InvalidArgument(format!("the server URL '{}' does not parse: {e}", self.url))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::InvalidArgument(format!(
                "the server URL '{}' must be http://HOST[:PORT] or https://HOST[:PORT]",
                self.url
            )));
        }
        let auth = if self.anonymous {
            None
        } else {
            let token = self.token.trim().to_owned();
            if token.is_empty() {
                return Err(Error::InvalidArgument("the token is empty".into()));
            }
            let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Error::InvalidArgument("the token is not valid header text".into()))?;
            auth.set_sensitive(true);
            Some(auth)
        };
        let user_agent = HeaderValue::from_str(&self.user_agent).map_err(|_| {
            Error::InvalidArgument("the user agent is not valid header text".into())
        })?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| {
                    Error::InvalidArgument(format!("cannot build the HTTP client: {e}"))
                })?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                base: trimmed,
                http,
                auth,
                user_agent,
                retry: self.retry,
                timeout: self.timeout,
            }),
        })
    }
}

/// A connection to one hearth server with one token. Cheap to clone (clones share their
/// connection pool); every resource is reached from it.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use hearth_client::Client;
///
/// let client = Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// for name in client.profiles().await? {
///     println!("{name}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.base)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    base: String,
    http: reqwest::Client,
    auth: Option<HeaderValue>,
    user_agent: HeaderValue,
    pub(crate) retry: RetryPolicy,
    timeout: Duration,
}

/// One logical call: what to send, and whether sending it twice is harmless.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// JSON, serialized once: every try sends the same bytes.
    pub body: Option<Vec<u8>>,
    pub idempotency_key: Option<String>,
    /// Safe to send again after an attempt that may have reached the server.
    pub repeatable: bool,
    /// Added to the client's timeout (long polls).
    pub extra_timeout: Duration,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>) -> Call {
        let repeatable = method != Method::POST;
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            repeatable,
            extra_timeout: Duration::ZERO,
        }
    }

    pub fn get(path: impl Into<String>) -> Call {
        Call::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Call {
        Call::new(Method::POST, path)
    }

    pub fn put(path: impl Into<String>) -> Call {
        Call::new(Method::PUT, path)
    }

    pub fn delete(path: impl Into<String>) -> Call {
        Call::new(Method::DELETE, path)
    }

    pub fn json(mut self, body: &impl Serialize) -> Result<Call> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::InvalidArgument(format!(
                "{} {}: the request body does not encode: {e}",
                self.method, self.path
            ))
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub fn query(mut self, name: &str, value: impl ToString) -> Call {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn query_opt(self, name: &str, value: Option<impl ToString>) -> Call {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    /// A creating POST: one key for the call (the caller's, or a new one), so that its
    /// retries are safe.
    pub fn idempotent(mut self, key: Option<String>) -> Call {
        self.idempotency_key = Some(key.unwrap_or_else(new_idempotency_key));
        self.repeatable = true;
        self
    }

    /// A POST the server treats as idempotent (reads, aborts, evaluations).
    pub fn repeatable(mut self) -> Call {
        self.repeatable = true;
        self
    }

    pub fn extra_timeout(mut self, extra: Duration) -> Call {
        self.extra_timeout = extra;
        self
    }

    pub fn what(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A fresh `Idempotency-Key`: `hearth-rs-` and a random uuid.
pub(crate) fn new_idempotency_key() -> String {
    format!("hearth-rs-{}", uuid::Uuid::new_v4().simple())
}

/// A successful answer's body, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub body: Vec<u8>,
}

/// Why one try failed, and whether it may have reached the server.
enum Failure {
    Answered {
        status: StatusCode,
        retry_after: Option<Duration>,
        error: Error,
    },
    NotConnected(reqwest::Error),
    Cut(reqwest::Error),
}

impl Client {
    /// A client of the server at `url` (e.g. `http://127.0.0.1:8080`, a trailing `/` is
    /// dropped) with `token`, sent as `Authorization: Bearer <token>`, and the defaults:
    /// 60 s per request, [`RetryPolicy::default`].
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080/", "TOKEN").unwrap();
    /// assert_eq!(client.url(), "http://127.0.0.1:8080");
    /// ```
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Result<Client> {
        Client::builder(url, token).build()
    }

    /// A [`ClientBuilder`] for other settings.
    ///
    /// ```
    /// let client = hearth_client::Client::builder("http://127.0.0.1:8080", "TOKEN")
    ///     .retry(hearth_client::RetryPolicy::none())
    ///     .build()
    ///     .unwrap();
    /// # let _ = client;
    /// ```
    pub fn builder(url: impl Into<String>, token: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            token: token.into(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("hearth-client-rust/{}", env!("CARGO_PKG_VERSION")),
            http: None,
            anonymous: false,
        }
    }

    /// A client that sends no token, for the routes that take none (signing in).
    pub(crate) fn anonymous(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            anonymous: true,
            ..Client::builder(url, "")
        }
    }

    /// A client from the environment: `HEARTH_URL` and `HEARTH_TOKEN` (or Qarnot's
    /// `QARNOT_CLUSTER_URL` and `QARNOT_CLIENT_TOKEN`), else the CLI's profile file (see
    /// [`crate::config`] for the order and the rules).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::from_env()?;
    /// println!("talking to {}", client.url());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Result<Client> {
        let found = crate::config::Credentials::from_env()?;
        Client::new(found.url, found.token)
    }

    /// The server's URL, without a trailing `/`.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// assert_eq!(client.url(), "http://h:8080");
    /// ```
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    pub(crate) fn url_of(&self, path: &str, query: &[(String, String)]) -> Result<Url> {
        let mut url = Url::parse(&format!("{}{path}", self.inner.base))
            .map_err(|e| Error::InvalidArgument(format!("bad request path {path}: {e}")))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// A request with the token and user agent, not sent yet.
    pub(crate) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let request = self
            .inner
            .http
            .request(method, url)
            .header(reqwest::header::USER_AGENT, self.inner.user_agent.clone());
        match &self.inner.auth {
            Some(auth) => request.header(reqwest::header::AUTHORIZATION, auth.clone()),
            None => request,
        }
    }

    async fn try_once(&self, call: &Call, url: &Url) -> std::result::Result<Answer, Failure> {
        let mut request = self
            .request(call.method.clone(), url.clone())
            .timeout(self.inner.timeout + call.extra_timeout);
        if let Some(key) = &call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Failure::NotConnected(e)
            } else {
                Failure::Cut(e)
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Failure::Cut)?.to_vec();
        if status.is_success() {
            return Ok(Answer { body });
        }
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(Failure::Answered {
            status,
            retry_after,
            error: Error::from_answer(status, &body),
        })
    }

    /// Sends `call`, trying again as [`RetryPolicy`] says; the successful answer, read whole.
    pub(crate) async fn execute(&self, call: &Call) -> Result<Answer> {
        let url = self.url_of(&call.path, &call.query)?;
        let policy = self.inner.retry;
        let mut attempt = 0u32;
        let mut maybe_applied = false;
        loop {
            let failure = match self.try_once(call, &url).await {
                Ok(answer) => return Ok(answer),
                Err(f) => f,
            };
            let (retry, retry_after, reached) = match &failure {
                Failure::NotConnected(_) => (true, None, false),
                Failure::Cut(_) => (call.repeatable, None, true),
                Failure::Answered {
                    status,
                    retry_after,
                    error,
                } => {
                    let s = status.as_u16();
                    let retry = match s {
                        429 | 503 => true,
                        500..=599 => call.repeatable,
                        // The first try with this key is still being answered.
                        409 => {
                            call.idempotency_key.is_some()
                                && matches!(error, Error::Api { code, .. } if code == "in_flight")
                        }
                        _ => false,
                    };
                    (retry, *retry_after, s >= 500)
                }
            };
            if let Failure::Answered { status, .. } = &failure
                && *status == StatusCode::NOT_FOUND
                && call.method == Method::DELETE
                && maybe_applied
            {
                // An earlier try deleted it; its answer was lost.
                return Ok(Answer { body: Vec::new() });
            }
            maybe_applied |= reached;
            if !retry || attempt >= policy.max_retries {
                return Err(match failure {
                    Failure::Answered { error, .. } => error,
                    Failure::NotConnected(source) | Failure::Cut(source) => Error::Transport {
                        method: call.method.to_string(),
                        path: call.path.clone(),
                        source,
                    },
                });
            }
            tokio::time::sleep(policy.backoff(attempt, retry_after)).await;
            attempt += 1;
        }
    }

    /// Sends `call` and reads its answer as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let answer = self.execute(&call).await?;
        decode(&call.what(), &answer.body)
    }

    /// Sends `call` and reads its answer as text.
    pub(crate) async fn text(&self, call: Call) -> Result<String> {
        let answer = self.execute(&call).await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }

    /// Sends `call`, whose answer has nothing to read (204).
    pub(crate) async fn empty(&self, call: Call) -> Result<()> {
        self.execute(&call).await.map(|_| ())
    }
}

/// `body` as `T`, or a [`Error::Decode`] naming `what`.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: what.to_owned(),
        body: String::from_utf8_lossy(body).into_owned(),
        source,
    })
}

/// A path segment with everything but unreserved characters percent-encoded.
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_retry_after() {
        let p = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            let full = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(1));
            let wait = p.backoff(attempt, None);
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
        assert!(p.backoff(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }

    #[test]
    fn urls_drop_a_trailing_slash_and_refuse_other_schemes() {
        let c = Client::new("http://127.0.0.1:9/", "t").unwrap();
        assert_eq!(c.url(), "http://127.0.0.1:9");
        let url = c
            .url_of("/tasks/x/wait", &[("timeout".into(), "1.5".into())])
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/tasks/x/wait?timeout=1.5");
        assert!(Client::new("127.0.0.1:9", "t").is_err());
        assert!(Client::new("http://h", " ").is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("docker-batch"), "docker-batch");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn keys_are_fresh_and_valid_header_text() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_ne!(a, b);
        assert!(a.len() <= 255 && a.bytes().all(|c| c.is_ascii_graphic()));
    }
}
