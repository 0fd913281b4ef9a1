//! Qarnot's account answers: `GET /info` and the computing quotas.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `GET /info`: the caller's account; -1 is no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub email: String,
    pub pool_count: u64,
    pub running_pool_count: u64,
    pub task_count: u64,
    pub running_task_count: u64,
    pub running_instance_count: u64,
    pub running_core_count: u64,
    pub max_pool: i64,
    pub max_task: i64,
    pub max_running_task: i64,
    pub max_running_pool: i64,
    pub max_instances: i64,
    pub max_queued_instances: i64,
    pub queued_instance_count: u64,
    pub computing_quotas: AccountQuotas,
    /// hearth's extension: the machine's node launcher.
    pub launcher: Launcher,
    #[schema(value_type = Vec<Object>)]
    pub projects: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccountQuotas {
    pub user: ComputingQuotas,
    pub organization: ComputingQuotas,
}

/// How many nodes the server's launcher runs, of how many it may.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Launcher {
    pub max_live_nodes: u64,
    pub live_nodes: u64,
}

/// `GET /quotas/computing-quotas/{user,organization}`: hearth schedules everything as
/// `flex`; a slot counts as a core and an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputingQuotas {
    pub flex: QuotaFigures,
    pub on_demand: QuotaFigures,
    #[schema(value_type = Vec<Object>)]
    pub reserved: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaFigures {
    pub max_cores: i64,
    pub running_cores_count: u64,
    pub max_instances: i64,
    pub running_instances_count: u64,
    /// Only in the organization's quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub running_counts_per_user: Option<Vec<Value>>,
}
