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
