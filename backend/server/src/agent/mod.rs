//! `hearth agent`: the program every node runs (see `docs/agent-protocol.md`).

use std::path::PathBuf;
use std::time::Duration;

/// How the agent was started.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub server: String,
    pub node_token: String,
    pub node_dir: PathBuf,
    pub give_up_after: Duration,
    pub boot_delay: Duration,
}

/// Runs the agent until the node is shut down (Ok) or the server is lost for too long (Err).
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let _ = config;
    anyhow::bail!("the agent is not built yet")
}
