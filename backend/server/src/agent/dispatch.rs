//! The long poll: the dispatch path. An answer is applied at once (instances spawned in
//! their own tasks) and the next poll leaves right away, so work reaches a warm slot with
//! no added delay.

use std::sync::Arc;
use std::time::Duration;

use super::client::{Backoff, CallError};
use super::node::Node;

/// With assignments left waiting for a slot, the server would answer the next poll at once
/// with the same ones: wait for a slot to free up, or this long, before asking again.
const DEFERRED_RECHECK: Duration = Duration::from_secs(1);

pub async fn poll_loop(node: Arc<Node>) {
    let wait = Duration::from_millis(node.registration.poll_wait_ms);
    let mut backoff = Backoff::new();
    // Paces a server that keeps answering with assignments already run: never a busy loop.
    let mut repeats = Backoff::new();
    loop {
        let running = node.instances.lock().await.running_uuids();
        let answer = tokio::select! {
            _ = node.exit.wait() => return,
            answer = node.client.poll(running, wait) => answer,
        };
        match answer {
            Ok(directives) => {
                backoff.reset();
                let applied = super::directives::apply(&node, directives).await;
                if applied.deferred > 0 {
                    tokio::select! {
                        _ = node.exit.wait() => return,
                        _ = node.slot_freed.notified() => {}
                        _ = tokio::time::sleep(DEFERRED_RECHECK) => {}
                    }
                } else if applied.started == 0 && applied.duplicates > 0 {
                    tokio::select! {
                        _ = node.exit.wait() => return,
                        _ = tokio::time::sleep(repeats.next_delay()) => {}
                    }
                } else {
                    repeats.reset();
                }
            }
            Err(CallError::NodeGone) => return,
            Err(e) => {
                tracing::debug!(error = %e, "poll failed");
                tokio::select! {
                    _ = node.exit.wait() => return,
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}
