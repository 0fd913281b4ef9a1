//! The one error type of the crate.

use std::time::Duration;

use hearth_api::qarnot::task::Task;
use uuid::Uuid;

/// What a call of this crate answers: `Ok(T)` or an [`Error`].
///
/// ```
/// fn first_word(text: &str) -> hearth_client::Result<&str> {
///     text.split_whitespace()
///         .next()
///         .ok_or_else(|| hearth_client::Error::InvalidArgument("empty".into()))
/// }
/// assert_eq!(first_word("hello world").unwrap(), "hello");
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to hearth.
///
/// The server's refusals are [`Error::Api`], which keeps the HTTP status, the body's `code`
/// and `message` (`{"code","message"}`, see the API's conventions) and the raw body as it
/// came. A request that got no answer is [`Error::Transport`]; an answer this crate could
/// not read is [`Error::Decode`]. Retries (see [`crate::RetryPolicy`]) happen before any of
/// these reach the caller.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use hearth_client::{Client, Error};
///
/// let client = Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// match client.pools().get(uuid::Uuid::nil()).await {
///     Err(Error::Api { status: 404, message, .. }) => println!("no such pool: {message}"),
///     Err(e) if e.code() == Some("forbidden") => println!("not allowed: {e}"),
///     Err(e) => return Err(e),
///     Ok(pool) => println!("{}", pool.state),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error("HTTP {status} ({code}): {message}")]
    Api {
        /// The HTTP status (400, 401, 402, 403, 404, 409, 422, 429, 5xx …).
        status: u16,
        /// The body's `code` (`validation`, `unauthorized`, `forbidden`, `not_found`,
        /// `conflict`, `unprocessable`, `payment_required`, …); when the body was not
        /// hearth's error JSON (a proxy's page), the status's reason in lower case.
        code: String,
        /// The body's `message` (for bad input it starts with the field's name); when the
        /// body was not hearth's error JSON, the body itself.
        message: String,
        /// The body exactly as it came.
        body: String,
    },
    /// No answer: the connection failed, was cut, or timed out.
    #[error("{method} {path}: no answer: {source}")]
    Transport {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// What reqwest saw.
        #[source]
        source: reqwest::Error,
    },
    /// A successful answer that is not what this crate expects.
    #[error(
        "{what}: the answer does not read ({source}); it was: {}",
        shorten(body)
    )]
    Decode {
        /// The request (`GET /pools/…`) or the stream whose answer failed to read.
        what: String,
        /// The answer's text as it came.
        body: String,
        /// Why it did not read.
        #[source]
        source: serde_json::Error,
    },
    /// `find_by_name` found nothing of that name.
    #[error("no {kind} is named '{name}'")]
    NameNotFound {
        /// `pool`, `task` or `job`.
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// `find_by_name` found several objects of that name; use one of their uuids.
    #[error("{} {kind}s are named '{name}': {}", matches.len(), list(matches))]
    AmbiguousName {
        /// `pool`, `task` or `job`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The uuids of those bearing it, in creation order.
        matches: Vec<Uuid>,
    },
    /// No answer came in time where reqwest's own timeouts do not apply (the head of the
    /// event stream's answer).
    #[error("{what}: no answer within {after:?}")]
    Timeout {
        /// The request.
        what: String,
        /// How long it waited.
        after: Duration,
    },
    /// [`crate::TaskHandle::wait_until_done`] ran out of time; the task as last read.
    #[error("task {} is still {} after {timeout:?}", task.uuid, task.state)]
    WaitTimeout {
        /// The task as the last long poll answered it.
        task: Box<Task>,
        /// How long the wait was allowed.
        timeout: Duration,
    },
    /// No URL or token could be found ([`crate::Client::from_env`]), or the profile file
    /// could not be read or written.
    #[error("{0}")]
    Config(String),
    /// An argument this crate refuses before sending anything (a URL that does not parse).
    #[error("{0}")]
    InvalidArgument(String),
}

fn shorten(body: &str) -> String {
    const MAX: usize = 300;
    if body.len() <= MAX {
        return body.to_owned();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

fn list(uuids: &[Uuid]) -> String {
    uuids
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// The HTTP status of an [`Error::Api`], else `None`.
    ///
    /// ```
    /// let e = hearth_client::Error::Api {
    ///     status: 409,
    ///     code: "conflict".into(),
    ///     message: "pool is Closed".into(),
    ///     body: String::new(),
    /// };
    /// assert_eq!(e.status(), Some(409));
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `code` of an [`Error::Api`] (`not_found`, `conflict`, …), else `None`.
    ///
    /// ```
    /// let e = hearth_client::Error::Api {
    ///     status: 404,
    ///     code: "not_found".into(),
    ///     message: "pool not found".into(),
    ///     body: String::new(),
    /// };
    /// assert_eq!(e.code(), Some("not_found"));
    /// ```
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the server said 404 (the object does not exist, or is another tenant's).
    ///
    /// ```
    /// let e = hearth_client::Error::Config("no token".into());
    /// assert!(!e.is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The error of a non-2xx answer: hearth's `{"code","message"}` when the body is that,
    /// else the status's reason and the body as they are.
    pub(crate) fn from_answer(status: reqwest::StatusCode, body: &[u8]) -> Error {
        let text = String::from_utf8_lossy(body).into_owned();
        let parsed = serde_json::from_slice::<hearth_api::ErrorBody>(body).ok();
        let (code, message) = match parsed {
            Some(e) => (e.code, e.message),
            None => (
                status
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_ascii_lowercase()
                    .replace(' ', "_"),
                if text.trim().is_empty() {
                    status.canonical_reason().unwrap_or("error").to_owned()
                } else {
                    text.clone()
                },
            ),
        };
        Error::Api {
            status: status.as_u16(),
            code,
            message,
            body: text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hearth_error_bodies_and_foreign_ones() {
        let e = Error::from_answer(
            reqwest::StatusCode::CONFLICT,
            br#"{"message":"pool is Closed","code":"conflict"}"#,
        );
        assert_eq!(e.status(), Some(409));
        assert_eq!(e.code(), Some("conflict"));
        assert_eq!(e.to_string(), "HTTP 409 (conflict): pool is Closed");
        let e = Error::from_answer(reqwest::StatusCode::BAD_GATEWAY, b"<html>down</html>");
        assert_eq!(e.code(), Some("bad_gateway"));
        match e {
            Error::Api { message, body, .. } => {
                assert_eq!(message, "<html>down</html>");
                assert_eq!(body, "<html>down</html>");
            }
            other => panic!("{other:?}"),
        }
        let e = Error::from_answer(reqwest::StatusCode::SERVICE_UNAVAILABLE, b"");
        assert_eq!(
            e.to_string(),
            "HTTP 503 (service_unavailable): Service Unavailable"
        );
    }

    #[test]
    fn long_bodies_are_shortened_in_messages() {
        let body = "é".repeat(400);
        let short = shorten(&body);
        assert!(short.len() <= 304 && short.ends_with('…'));
    }
}
