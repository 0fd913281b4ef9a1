//! Live pages: a counter that goes up when the tenant's event stream (`GET /events`, opened
//! with the session cookie) says something changed. Pages key their reads on it, so they
//! refetch after a change instead of polling. The browser's `EventSource` reconnects by
//! itself and sends `Last-Event-ID`; a `reset` (events lost while away) or a reconnection
//! counts as a change too, so a page never stays behind.
//!
//! Changes are coalesced: at most one bump per [`COALESCE`], so a burst of 100 changes a
//! second costs a page a few reads a second, and each change shows within a second.

use std::time::Duration;

use leptos::prelude::*;

/// The longest a change waits before the page reads again.
pub const COALESCE: Duration = Duration::from_millis(250);

/// The event kinds of `GET /events` (each arrives as a named SSE event), and `open`.
pub const KINDS: [&str; 8] = [
    "open",
    "reset",
    "pool",
    "node",
    "taskProgress",
    "instanceEnded",
    "decision",
    "budgetAlert",
];

/// Goes up after each change the stream reports. `query` is the stream's filter
/// (`pool=…`, or empty for all of the tenant's events). On the server, and in a browser
/// without JavaScript, it never moves: the page is rendered once.
pub fn use_changes(query: impl Fn() -> String + Send + Sync + 'static) -> ReadSignal<u64> {
    let (changes, bump) = signal(0u64);
    #[cfg(feature = "hydrate")]
    client::follow(query, bump);
    #[cfg(not(feature = "hydrate"))]
    let _ = (query, bump);
    changes
}

/// A piece of an instance's output (`output` events of
/// `GET /tasks/{uuid}/instances/{n}/output`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Piece {
    /// `stdout` or `stderr`.
    pub stream: String,
    /// Where `text` starts among all the bytes the stream ever wrote.
    pub offset: i64,
    pub text: String,
}

/// The `end` event: the instance is finished and all its output was sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ended {
    pub state: String,
    pub exit_code: Option<i32>,
}

/// Follows an instance's output stream at `url` while the calling component lives:
/// `on_piece` for each piece, `on_end` once (then the stream is closed, not reopened). The
/// browser reconnects by itself after a drop and resumes with `Last-Event-ID`. On the server
/// and without JavaScript, nothing happens: the page shows the output as it was read.
pub fn follow_output(
    url: String,
    on_piece: impl Fn(Piece) + 'static,
    on_end: impl Fn(Ended) + 'static,
) {
    #[cfg(feature = "hydrate")]
    client::follow_output(&url, on_piece, on_end);
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, on_piece, on_end);
}

/// The stream's address for a filter.
pub fn events_url(query: &str) -> String {
    if query.is_empty() {
        "/events".to_owned()
    } else {
        format!("/events?{query}")
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use std::cell::Cell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::EventSource;

    use super::{COALESCE, KINDS, events_url};

    /// An open stream; dropping it closes it.
    struct Stream {
        source: EventSource,
        _listener: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    pub fn follow(query: impl Fn() -> String + Send + Sync + 'static, bump: WriteSignal<u64>) {
        let current = StoredValue::new_local(None::<Stream>);
        // Reopened when the filter changes (another pool's page).
        Effect::new(move |_| {
            let url = events_url(&query());
            current.set_value(open(&url, bump));
        });
        on_cleanup(move || {
            current.try_set_value(None);
        });
    }

    /// An instance's output stream; dropping it closes it.
    struct Output {
        source: EventSource,
        _piece: Closure<dyn FnMut(web_sys::MessageEvent)>,
        _end: Closure<dyn FnMut(web_sys::MessageEvent)>,
    }

    impl Drop for Output {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    pub fn follow_output(
        url: &str,
        on_piece: impl Fn(super::Piece) + 'static,
        on_end: impl Fn(super::Ended) + 'static,
    ) {
        let Ok(source) = EventSource::new(url) else {
            return;
        };
        let piece =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                if let Some(p) = e
                    .data()
                    .as_string()
                    .and_then(|d| serde_json::from_str(&d).ok())
                {
                    on_piece(p);
                }
            });
        let closing = source.clone();
        let end =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                // Closed before anything else: the browser would otherwise reconnect.
                closing.close();
                if let Some(ended) = e
                    .data()
                    .as_string()
                    .and_then(|d| serde_json::from_str(&d).ok())
                {
                    on_end(ended);
                }
            });
        let _ = source.add_event_listener_with_callback("output", piece.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("end", end.as_ref().unchecked_ref());
        let held = StoredValue::new_local(Some(Output {
            source,
            _piece: piece,
            _end: end,
        }));
        on_cleanup(move || {
            held.try_set_value(None);
        });
    }

    fn open(url: &str, bump: WriteSignal<u64>) -> Option<Stream> {
        let source = EventSource::new(url).ok()?;
        let waiting = Rc::new(Cell::new(false));
        let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if waiting.replace(true) {
                return;
            }
            let waiting = waiting.clone();
            set_timeout(
                move || {
                    waiting.set(false);
                    bump.try_update(|n| *n += 1);
                },
                COALESCE,
            );
        });
        for kind in KINDS {
            let _ =
                source.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
        Some(Stream {
            source,
            _listener: listener,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_filtered_by_its_query() {
        assert_eq!(events_url(""), "/events");
        assert_eq!(events_url("pool=abc"), "/events?pool=abc");
    }
}
