//! Why the agent stops, shared by every task: the first reason wins, every loop watches it.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A poll or heartbeat answered `shutdown: true`: the node is being terminated.
    ShutdownRequested,
    /// `401` or `410` on some call: the node is revoked, terminated or failed.
    NodeGone(u16),
    /// SIGTERM or SIGINT to the agent itself.
    Signal(&'static str),
    /// No answer from the server for `--give-up-after-seconds`.
    GaveUp,
}

impl Exit {
    /// Only losing the server is a failure of the agent; everything else is the node's end.
    pub fn is_failure(self) -> bool {
        matches!(self, Exit::GaveUp)
    }
}

#[derive(Debug, Clone)]
pub struct ExitSignal(Arc<watch::Sender<Option<Exit>>>);

impl Default for ExitSignal {
    fn default() -> Self {
        Self(Arc::new(watch::channel(None).0))
    }
}

impl ExitSignal {
    /// Asks every task to stop; a later reason does not replace the first.
    pub fn trigger(&self, reason: Exit) {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            // Logged before any task wakes up to act on it.
            tracing::info!(?reason, "agent stopping");
            *current = Some(reason);
            true
        });
    }

    pub fn reason(&self) -> Option<Exit> {
        *self.0.borrow()
    }

    pub fn is_set(&self) -> bool {
        self.reason().is_some()
    }

    /// Resolves once a reason is set (at once if it already is).
    pub async fn wait(&self) -> Exit {
        let mut rx = self.0.subscribe();
        let reason = rx
            .wait_for(Option::is_some)
            .await
            .map(|r| *r)
            .expect("the sender lives as long as self");
        reason.expect("waited for Some")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins() {
        let exit = ExitSignal::default();
        assert!(!exit.is_set());
        exit.trigger(Exit::NodeGone(410));
        exit.trigger(Exit::GaveUp);
        assert_eq!(exit.wait().await, Exit::NodeGone(410));
        assert!(!exit.reason().unwrap().is_failure());
    }
}
