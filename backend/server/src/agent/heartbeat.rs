//! The heartbeat (the server's proof that the node lives, and a second channel for cancels
//! and shutdown) and the give-up watch (the agent's own end when the server is lost).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::client::{CallError, Client};
use super::exit::{Exit, ExitSignal};
use super::node::Node;

/// Shortest heartbeat period accepted from the server: a zero would spin.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const GIVE_UP_CHECK: Duration = Duration::from_millis(250);

pub async fn heartbeat_loop(node: Arc<Node>) {
    let period = Duration::from_millis(node.registration.heartbeat_interval_ms).max(MIN_INTERVAL);
    let mut tick = tokio::time::interval(period);
    // A late beat (slow server) is not followed by a burst to catch up.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = node.exit.wait() => return,
            _ = tick.tick() => {}
        }
        let running = node.instances.lock().await.running_uuids();
        let answer = tokio::select! {
            _ = node.exit.wait() => return,
            answer = node.client.heartbeat(running) => answer,
        };
        match answer {
            Ok(directives) => {
                super::directives::apply(&node, directives).await;
            }
            Err(CallError::NodeGone) => return,
            // The next beat is the retry; the give-up watch decides when it is hopeless.
            Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
        }
    }
}

/// Stops the agent once the server has been silent for `--give-up-after-seconds`, whatever
/// each loop is doing (a retry, a long poll, a boot).
pub async fn give_up_watch(client: Arc<Client>, exit: ExitSignal) {
    loop {
        tokio::select! {
            _ = exit.wait() => return,
            _ = tokio::time::sleep(GIVE_UP_CHECK) => {}
        }
        if client.should_give_up() {
            tracing::error!("no answer from the server for too long, giving up");
            exit.trigger(Exit::GaveUp);
            return;
        }
    }
}
