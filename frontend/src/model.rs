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

/// Everything the pool page shows, read at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolPage {
    pub id: String,
    pub name: String,
    pub profile: String,
    pub state: String,
    pub slots_per_node: u32,
    /// Slots of the nodes that count toward capacity (booting, ready).
    pub slots_total: u32,
    /// What the latest scaling decision aims at (`None` before the first).
    pub target_slots: Option<u32>,
    pub queued_instances: u32,
    /// The policy enabled now, by name (`None`: unnamed, or none enabled).
    pub active_policy: Option<String>,
    /// The session may change this pool (the server checks again on every write).
    pub can_write: bool,
    /// The pool can still be closed (not closing, closed or failed).
    pub closable: bool,
    pub nodes: Vec<NodeTile>,
    /// Newest first, at most [`PoolPage::DECISIONS`].
    pub decisions: Vec<DecisionLine>,
}

impl PoolPage {
    /// Decisions the page lists (the API pages through all that are kept).
    pub const DECISIONS: usize = 50;
}

/// One node of the slot map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTile {
    pub id: String,
    pub state: String,
    pub slots: Vec<SlotTile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTile {
    /// 0-based, as the agent numbers its slots.
    pub index: u32,
    /// What runs on it, if anything.
    pub work: Option<SlotWork>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotWork {
    pub task_id: String,
    pub task_name: String,
    pub instance_id: i32,
    /// Since the instance started, when the page was read (`None`: assigned, not started).
    pub running_seconds: Option<u64>,
}

/// One line of the scaling decisions timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLine {
    pub id: String,
    /// When it was first reached, as `YYYY-MM-DD HH:MM:SS` UTC.
    pub at: String,
    /// `hold`, `grow N` (nodes), `shrink N`.
    pub action: String,
    /// The pool's slots when it was taken.
    pub from_slots: u32,
    pub target_slots: u32,
    pub reason: String,
    pub policy: Option<String>,
    /// How many evaluations reached it in a row.
    pub evaluations: i32,
}

impl DecisionLine {
    /// Whether it changed the pool's size (the "changes only" filter keeps these).
    pub fn is_change(&self) -> bool {
        !self.action.starts_with("hold")
    }
}
