//! What the pages show, as the server functions answer it (shared by both builds).

use serde::{Deserialize, Serialize};

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub role: String,
    pub tenant: String,
}

impl Viewer {
    /// Whether the role may change things (the server checks again on every write).
    pub fn can_write(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "member")
    }
}

/// The tenant at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub slots_busy: u32,
    pub slots_idle: u32,
    pub slots_booting: u32,
    pub queued_instances: u32,
    pub running_tasks: u32,
    /// Pools per state, in the order of the pool state machine; states with none left out.
    pub pools_by_state: Vec<StateCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: String,
    pub count: u32,
}

/// One line of the pools table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRow {
    pub id: String,
    pub name: String,
    pub profile: String,
    pub state: String,
    pub slots_busy: u32,
    pub slots_total: u32,
}
