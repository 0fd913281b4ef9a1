//! hearth's additions to pools: their nodes and their scaling decisions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A worker node of a pool and how many of its slots run an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub uuid: Uuid,
    pub pool_uuid: Uuid,
    /// Booting, Ready, Draining, Lost or Terminated.
    pub state: String,
    pub slots: i32,
    pub busy_slots: u32,
    #[serde(with = "crate::time")]
    pub creation_date: DateTime<Utc>,
    #[serde(with = "crate::time::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ready_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_heartbeat: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<DateTime<Utc>>,
}

/// One evaluation of a pool's scaling (or a run of identical ones): what was wanted, what
/// the pool was set to, and why in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingDecision {
    pub uuid: Uuid,
    pub pool_uuid: Uuid,
    #[serde(with = "crate::time")]
    pub creation_date: DateTime<Utc>,
    /// Identical evaluations this decision stands for.
    pub evaluations: i32,
    #[serde(with = "crate::time")]
    pub last_evaluation_date: DateTime<Utc>,
    pub active_policy_name: Option<String>,
    pub active_period_name: Option<String>,
    pub wanted_slots: i32,
    pub target_slots: i32,
    /// grow, shrink, hold, ...
    pub action: String,
    pub reason: String,
    /// The figures the policy read (queued, idle, busy slots ...).
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    /// The limits that cut the wanted size, in the order applied.
    #[schema(value_type = Vec<Object>)]
    pub clamps: serde_json::Value,
    /// The whole evaluation as recorded.
    #[schema(value_type = Object)]
    pub decision: serde_json::Value,
}
