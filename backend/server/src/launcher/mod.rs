//! Launchers turn scaling decisions into nodes. The embedded default starts each node as a
//! local `hearth agent` child process; other launchers (Kubernetes, Docker, bring-your-own)
//! implement the same trait.

pub mod process;

use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

/// What a launcher needs to start one node.
#[derive(Clone)]
pub struct NodeLaunch {
    pub node_id: Uuid,
    pub pool_id: Uuid,
    /// The node's secret; handed to the agent through its environment, never logged.
    pub token: String,
    pub server_url: String,
    pub boot_delay: Duration,
    pub give_up: Duration,
}

/// Where a node was started.
#[derive(Debug, Clone)]
pub struct Launched {
    pub pid: Option<i32>,
    pub dir: Option<PathBuf>,
}

/// A node as the launcher knows it (from its stored row).
#[derive(Debug, Clone)]
pub struct NodeHandle {
    pub node_id: Uuid,
    pub pid: Option<i32>,
}

pub trait Launcher: Send + Sync + 'static {
    /// Requests a node; it registers with the server once booted.
    fn launch(&self, request: &NodeLaunch) -> anyhow::Result<Launched>;
    /// Stops a node: asks politely now, forcefully after `grace`.
    fn terminate(&self, node: &NodeHandle, grace: Duration);
    /// Whether the node's machine/process still exists.
    fn is_alive(&self, node: &NodeHandle) -> bool;
    /// Kills the node and everything it runs at once, before returning (a node declared
    /// lost must not go on running instances that are given to other nodes).
    fn kill_now(&self, node: &NodeHandle);
}
