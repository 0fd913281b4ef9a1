//! Task bodies and task JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::pool::RetrySettingsWire;
use super::{KeyValue, date, opt_date};

/// `POST /tasks` (one item of a bulk array too).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskBody {
    pub name: Option<String>,
    pub shortname: Option<String>,
    pub profile: Option<String>,
    pub pool_uuid: Option<String>,
    pub job_uuid: Option<String>,
    pub constants: Option<Vec<KeyValue>>,
    pub instance_count: Option<i64>,
    pub advanced_ranges: Option<String>,
    pub tags: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub dependencies: Option<DependenciesWire>,
    pub retry_settings: Option<RetrySettingsWire>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

/// `POST /tasks` reads one task, or an array of them (Qarnot's bulk submit, answered with
/// one result per item). For the document only: the route parses the items one by one.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum TaskSubmission {
    One(TaskBody),
    Many(Vec<TaskBody>),
}

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

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependenciesWire {
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    #[serde(default)]
    pub advanced_depends_on: Option<Vec<AdvancedDependency>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedDependency {
    pub task_uuid: String,
    #[serde(default)]
    pub task_final_state_condition: Option<Vec<String>>,
}

/// What a task's instances add up to, for its JSON.
#[derive(Debug, Clone, Default)]
pub struct TaskFigures {
    pub running_instances: u32,
    pub running_cores: u32,
    pub succeeded_range: String,
    pub failed_range: String,
    pub executed_range: String,
    pub completed: Vec<Value>,
    /// Succeeded + failed, from the counters (`completed` holds at most
    /// `MAX_COMPLETED_LISTED` of them).
    pub completed_count: u32,
    pub per_running_instance: Vec<Value>,
    pub execution_time_sec: f64,
}

pub fn task_json(task: &crate::entities::task::Model, figures: &TaskFigures) -> Value {
    let spec = task.spec.as_object().cloned().unwrap_or_default();
    let mut status = super::empty_status(task.instance_count.max(0) as u32);
    if let Some(s) = status.as_object_mut() {
        s.insert("succeededRange".into(), json!(figures.succeeded_range));
        s.insert("failedRange".into(), json!(figures.failed_range));
        s.insert("executedRange".into(), json!(figures.executed_range));
        s.insert("executionTimeSec".into(), json!(figures.execution_time_sec));
        let done = f64::from(figures.completed_count);
        let progress = if task.instance_count > 0 {
            100.0 * done / f64::from(task.instance_count)
        } else {
            0.0
        };
        s.insert("executionProgress".into(), json!(progress));
        s.insert(
            "runningInstancesInfo".into(),
            json!({
                "perRunningInstanceInfo": figures.per_running_instance,
                "snapshotResults": [],
                "runningCoreCountByCpuModel": [],
            }),
        );
    }
    let mut out = json!({
        "uuid": task.id,
        "name": task.name,
        "shortname": task.shortname.clone().unwrap_or_else(|| task.id.to_string()),
        "profile": Value::Null,
        "poolUuid": task.pool_id,
        "jobUuid": task.job_id,
        "instanceCount": task.instance_count,
        "advancedRanges": task.advanced_ranges,
        "state": task.state,
        "previousState": task.previous_state,
        "stateTransitionTime": date(task.state_transition_time),
        "previousStateTransitionTime": opt_date(task.previous_state_transition_time),
        "creationDate": date(task.created_at),
        "lastModified": date(task.updated_at),
        "endDate": opt_date(task.end_date),
        "constants": task.constants,
        "tags": task.tags,
        "labels": task.labels,
        "errors": task.errors,
        "dependencies": task.dependencies,
        "retrySettings": {
            "maxPerInstanceRetries": task.max_per_instance_retries,
            "maxTotalRetries": task.max_total_retries,
        },
        "resultsCount": 0,
        "completedInstances": figures.completed,
        "completedInstancesTruncated": (figures.completed.len() as u32) < figures.completed_count,
        "runningInstanceCount": figures.running_instances,
        "runningCoreCount": figures.running_cores,
        "hardwareConstraints": [],
        "forcedNetworkRules": [],
        "privileges": {"exportApiAndStorageCredentialsInEnvironment": false},
        "secretsAccessRights": {"bySecret": [], "byPrefix": []},
        "resourceBuckets": [],
        "advancedResourceBuckets": [],
        "status": status,
    });
    super::merge_echoed(&mut out, &spec);
    out
}
