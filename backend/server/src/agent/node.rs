//! The registered node: what every task of the agent shares (its registration, its
//! instances, its exit signal), and stopping its process groups. The server's directives
//! are applied to it by `directives`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tracing::Instrument;
use uuid::Uuid;

use super::client::Client;
use super::exit::ExitSignal;
use super::runner::signal_group;
use super::state::{CancelAction, Instances};
use super::wire::Registration;

pub struct Node {
    pub client: Arc<Client>,
    pub registration: Registration,
    pub node_dir: PathBuf,
    pub instances: Mutex<Instances>,
    /// Woken when a process exits, for a poll loop that had to leave assignments waiting.
    pub slot_freed: Notify,
    pub exit: ExitSignal,
    /// Parent of the instance spans, whichever loop (poll or heartbeat) started them.
    pub span: tracing::Span,
}

impl Node {
    pub fn kill_grace(&self) -> Duration {
        Duration::from_millis(self.registration.kill_grace_ms)
    }

    /// Stops one instance: SIGTERM to its group, SIGKILL after the grace if still alive.
    pub async fn kill(self: &Arc<Self>, uuid: Uuid) {
        let action = self.instances.lock().await.cancel(uuid);
        if let CancelAction::Kill(pgid) = action {
            self.kill_group(uuid, pgid);
        }
    }

    /// Stops several instances: all are marked before any is signalled, so that one of them
    /// exiting cannot hand its slot to another of them waiting behind it.
    pub async fn kill_all_of(self: &Arc<Self>, uuids: &[Uuid]) {
        if uuids.is_empty() {
            return;
        }
        let actions: Vec<(Uuid, CancelAction)> = {
            let mut instances = self.instances.lock().await;
            uuids.iter().map(|u| (*u, instances.cancel(*u))).collect()
        };
        for (uuid, action) in actions {
            if let CancelAction::Kill(pgid) = action {
                self.kill_group(uuid, pgid);
            }
        }
    }

    /// The TERM-then-KILL sequence for a group, in its own task so that no caller waits.
    pub fn kill_group(self: &Arc<Self>, uuid: Uuid, pgid: i32) {
        signal_group(pgid, libc::SIGTERM);
        let node = self.clone();
        let span = tracing::info_span!("kill", instance = %uuid, pgid);
        tokio::spawn(
            async move {
                tokio::time::sleep(node.kill_grace()).await;
                let alive = node
                    .instances
                    .lock()
                    .await
                    .get_mut(&uuid)
                    .is_some_and(|i| !i.exited);
                if alive {
                    tracing::info!("still alive after the grace, SIGKILL");
                    signal_group(pgid, libc::SIGKILL);
                }
            }
            .instrument(span),
        );
    }

    /// On the agent's way out: every group gets SIGTERM, then SIGKILL once the grace is over.
    /// `at_once` (the node was declared gone, or the server lost): SIGKILL straight away, for
    /// the server has given these instances to other nodes and they must not run twice.
    pub async fn terminate_all(&self, at_once: bool) {
        let groups = self.instances.lock().await.kill_all();
        if groups.is_empty() {
            return;
        }
        tracing::info!(count = groups.len(), at_once, "stopping running instances");
        for &pgid in &groups {
            signal_group(
                pgid,
                if at_once {
                    libc::SIGKILL
                } else {
                    libc::SIGTERM
                },
            );
        }
        let deadline = tokio::time::Instant::now() + self.kill_grace();
        while tokio::time::Instant::now() < deadline {
            if self.instances.lock().await.live_groups().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stubborn = self.instances.lock().await.live_groups();
        for &pgid in &stubborn {
            signal_group(pgid, libc::SIGKILL);
        }
        // Let the instance tasks reap them, briefly: the processes are dead either way.
        for _ in 0..50 {
            if self.instances.lock().await.live_groups().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
