//! Qarnot tasks: `POST /tasks` bodies and the task answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Echoed, KeyValue, RetrySettings, Status};

/// `POST /tasks` (one item of a bulk array too).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskBody {
    pub name: Option<String>,
    pub shortname: Option<String>,
    /// Pool-less tasks are not run by hearth: give `poolUuid` (or a `jobUuid` with a pool).
    pub profile: Option<String>,
    pub pool_uuid: Option<String>,
    pub job_uuid: Option<String>,
    /// Each instance sees them as environment variables (`DOCKER_CMD` is its command).
    pub constants: Option<Vec<KeyValue>>,
    /// Instances 0..n-1 (at most 100,000); or give `advancedRanges`.
    #[schema(minimum = 1, maximum = 100000)]
    pub instance_count: Option<i64>,
    /// Instance ids as ranges, e.g. `0-9,20`.
    pub advanced_ranges: Option<String>,
    pub tags: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub dependencies: Option<Dependencies>,
    pub retry_settings: Option<RetrySettings>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

/// `POST /tasks` reads one task, or an array of them (Qarnot's bulk submit, answered with
/// one result per item).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum TaskSubmission {
    One(TaskBody),
    Many(Vec<TaskBody>),
}

/// The keys of a task body stored as sent and returned as they came.
pub const ECHOED_KEYS: &[&str] = &[
    "hardwareConstraints",
    "forcedNetworkRules",
    "privileges",
    "secretsAccessRights",
    "schedulingType",
    "autoDeleteOnCompletion",
    "completionTimeToLive",
    "waitForPoolResourcesSynchronization",
    "uploadResultsOnCancellation",
    "maxTimeQueueSeconds",
    "defaultResourcesCacheTTLSec",
    "projectUuid",
    "snapshotWhitelist",
    "snapshotBlacklist",
    "resultsWhitelist",
    "resultsBlacklist",
];

/// What a task waits for: other tasks of the tenant, ended (`dependsOn`) or ended in given
/// states (`advancedDependsOn`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dependencies {
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    #[serde(default)]
    pub advanced_depends_on: Option<Vec<AdvancedDependency>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedDependency {
    pub task_uuid: String,
    /// Any of `success`, `failure`, `cancelled` (none: any end).
    #[serde(default)]
    pub task_final_state_condition: Option<Vec<String>>,
}

/// A task's dependencies read back, with whether they are met (`state`: `waiting` or
/// `dependencyConditionsFulfilled`); also their stored form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDependencies {
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_depends_on: Option<Vec<AdvancedDependency>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// An ended instance of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompletedInstance {
    pub instance_id: i32,
    /// `Success` or `Failure`.
    pub state: String,
    pub wall_time_sec: f64,
    pub exec_time_sec: f64,
    #[serde(rename = "execTimeSecGHz")]
    pub exec_time_sec_ghz: f64,
    #[serde(rename = "peakMemoryMB")]
    pub peak_memory_mb: i64,
    #[serde(rename = "averageGHz")]
    pub average_ghz: f64,
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    pub execution_attempt_count: i32,
    pub exit_code: Option<i32>,
}

/// A running (or assigned) instance of a task, and where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunningInstance {
    pub instance_id: i32,
    /// `execution`, or `environment` while its node starts it.
    pub phase: String,
    pub progress: f64,
    pub execution_time_sec: f64,
    pub execution_attempt_count: i32,
    #[schema(value_type = Vec<Object>)]
    pub active_forwards: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub vpn_connections: Vec<Value>,
    /// hearth's extension: the node and slot it runs on.
    pub node_uuid: Option<Uuid>,
    pub slot_index: Option<i32>,
}

/// A task, as `GET /tasks/{uuid}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub uuid: Uuid,
    pub name: String,
    /// The uuid when none was given.
    pub shortname: String,
    /// Always null: hearth's tasks run in a pool.
    pub profile: Option<String>,
    pub pool_uuid: Uuid,
    pub job_uuid: Option<Uuid>,
    pub instance_count: i32,
    pub advanced_ranges: Option<String>,
    /// `Submitted`, `PartiallyDispatched`, `FullyDispatched`, `PartiallyExecuting`,
    /// `FullyExecuting`, `Success`, `Failure` or `Cancelled`.
    pub state: String,
    pub previous_state: Option<String>,
    #[serde(with = "crate::time")]
    pub state_transition_time: DateTime<Utc>,
    #[serde(with = "crate::time::option")]
    pub previous_state_transition_time: Option<DateTime<Utc>>,
    #[serde(with = "crate::time")]
    pub creation_date: DateTime<Utc>,
    #[serde(with = "crate::time")]
    pub last_modified: DateTime<Utc>,
    #[serde(with = "crate::time::option")]
    pub end_date: Option<DateTime<Utc>>,
    pub constants: Vec<KeyValue>,
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
    pub dependencies: TaskDependencies,
    pub retry_settings: RetrySettings,
    pub results_count: u32,
    /// At most 1,000 (see `completedInstancesTruncated`).
    pub completed_instances: Vec<CompletedInstance>,
    pub completed_instances_truncated: bool,
    pub running_instance_count: u32,
    pub running_core_count: u32,
    #[serde(flatten)]
    pub echoed: Echoed,
    pub status: Status,
}
