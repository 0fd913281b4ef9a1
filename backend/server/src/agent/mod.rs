//! `hearth agent`: the program every node runs (see `docs/agent-protocol.md`).
//!
//! Tasks: `signals` and `give_up_watch` (from the start), then, once registered, `heartbeat`,
//! `poll` (the dispatch path) and one task per running instance. They share a [`node::Node`]
//! and stop on one [`exit::ExitSignal`]; `run` then kills what still runs and returns.

mod client;
mod command;
mod directives;
mod dispatch;
mod exit;
mod heartbeat;
mod instance;
mod node;
mod output;
mod runner;
mod state;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tracing::Instrument;

pub use client::hostname;
use client::{Backoff, CallError, Client};
use exit::{Exit, ExitSignal};
use node::Node;
use wire::Registration;

/// How the agent was started.
#[derive(Clone)]
pub struct AgentConfig {
    pub server: String,
    pub node_token: String,
    pub node_dir: PathBuf,
    pub give_up_after: Duration,
    pub boot_delay: Duration,
}

/// Written by hand so that the node token never reaches a log.
impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field("node_token", &"<redacted>")
            .field("node_dir", &self.node_dir)
            .field("give_up_after", &self.give_up_after)
            .field("boot_delay", &self.boot_delay)
            .finish()
    }
}

/// Runs the agent until the node is shut down (Ok) or the server is lost for too long (Err).
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let exit = ExitSignal::default();
    tokio::spawn(watch_signals(exit.clone()).instrument(tracing::info_span!("signals")));
    let node_dir = std::path::absolute(&config.node_dir)?;
    tracing::info!(server = %config.server, node_dir = %node_dir.display(), "agent starting");

    if !config.boot_delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(config.boot_delay) => {}
            reason = exit.wait() => return outcome(reason, &config),
        }
    }

    // Built after the boot delay: the give-up clock starts with the first attempt.
    let (refills, mut refilled) = tokio::sync::mpsc::unbounded_channel();
    let client = Arc::new(Client::new(
        &config.server,
        config.node_token.clone(),
        config.give_up_after,
        exit.clone(),
        refills,
    )?);
    tokio::spawn(
        heartbeat::give_up_watch(client.clone(), exit.clone())
            .instrument(tracing::info_span!("give_up_watch")),
    );

    let registration = tokio::select! {
        registration = register(&client) => registration,
        reason = exit.wait() => return outcome(reason, &config),
    };
    tracing::info!(
        node = %registration.node_uuid,
        pool = %registration.pool_uuid,
        slots = registration.slots,
        "registered, node ready"
    );
    let node_span = tracing::info_span!("node", uuid = %registration.node_uuid);
    let node = Arc::new(Node {
        client,
        registration,
        node_dir,
        instances: Mutex::new(Default::default()),
        slot_freed: Notify::new(),
        exit: exit.clone(),
        span: node_span.clone(),
    });
    let heartbeat = tokio::spawn(
        heartbeat::heartbeat_loop(node.clone())
            .instrument(tracing::info_span!(parent: &node_span, "heartbeat")),
    );
    let poll = tokio::spawn(
        dispatch::poll_loop(node.clone())
            .instrument(tracing::info_span!(parent: &node_span, "poll")),
    );
    // Slots refilled in the answers to reports: applied like a poll's assignments (what
    // finds no free slot comes back in a later answer, which names every assignment the
    // node has not started).
    let refill_node = node.clone();
    let refill = tokio::spawn(
        async move {
            loop {
                let directives = tokio::select! {
                    _ = refill_node.exit.wait() => return,
                    d = refilled.recv() => d,
                };
                match directives {
                    Some(d) => {
                        directives::apply(&refill_node, d).await;
                    }
                    None => return,
                }
            }
        }
        .instrument(tracing::info_span!(parent: &node_span, "refill")),
    );

    let reason = exit.wait().await;
    // A node the server declared gone has had its instances given to other nodes: they are
    // killed before anything else, not after a grace.
    let at_once = matches!(reason, Exit::NodeGone(_) | Exit::GaveUp);
    node.terminate_all(at_once).instrument(node_span).await;
    // Both loops return on the exit signal; this only skips waiting for a call in flight.
    heartbeat.abort();
    poll.abort();
    refill.abort();
    outcome(reason, &config)
}

/// Registers, retrying until it works; the give-up watch or a signal ends the retries.
async fn register(client: &Client) -> Registration {
    let mut backoff = Backoff::new();
    loop {
        match client.register().await {
            Ok(registration) => return registration,
            // The exit signal is set: the caller's select returns instead of this.
            Err(CallError::NodeGone) => std::future::pending::<()>().await,
            Err(CallError::Refused(status)) => {
                tracing::warn!(%status, "registration refused, retrying");
            }
            Err(e) => tracing::debug!(error = %e, "registration failed, retrying"),
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

fn outcome(reason: Exit, config: &AgentConfig) -> anyhow::Result<()> {
    if reason.is_failure() {
        anyhow::bail!(
            "no answer from {} for {} s: gave up",
            config.server,
            config.give_up_after.as_secs()
        );
    }
    tracing::info!(?reason, "agent stopped");
    Ok(())
}

/// SIGTERM (the launcher stopping the node) and SIGINT end the agent like a shutdown.
async fn watch_signals(exit: ExitSignal) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = exit.wait() => return,
    };
    exit.trigger(Exit::Signal(name));
}
