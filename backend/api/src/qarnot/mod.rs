//! Qarnot's wire format: the bodies the public `qarnot` Python SDK sends and the answers it
//! reads back, so that it runs against hearth unchanged (see `docs/api.md`).
//!
//! Request bodies are lenient, as the SDK is: most keys are optional, unknown keys are
//! kept (`rest`) and only the listed ones are echoed back. Answers never hold `null` where
//! the SDK expects a list or an object.

pub mod account;
pub mod job;
pub mod pool;
pub mod task;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A pool's or task's constant: `{"key","value"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// How often a failed instance runs again: per instance, and over the whole task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySettings {
    pub max_total_retries: Option<i64>,
    pub max_per_instance_retries: Option<i64>,
}

/// `POST /pools/paginate`, `/tasks/paginate`, `/jobs/paginate` (and their `summaries`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginateBody {
    /// A Qarnot filter: `{"field","operator","value"}` leaves under `{"operator":"And"|"Or",
    /// "filters":[…]}`.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// The `nextToken` of the page before.
    pub token: Option<String>,
    /// Page size (default 50, at most 1,000).
    #[schema(minimum = 1)]
    pub maximum_results: Option<i64>,
}

/// One page of a Qarnot listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QarnotPage<T> {
    pub data: Vec<T>,
    /// The token this page was asked with.
    pub token: Option<String>,
    /// Where the next page starts; null on the last one.
    pub next_token: Option<String>,
    pub is_truncated: bool,
}

/// One item's result of a bulk `POST /tasks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    /// 201 when created, else the status the item alone would have had.
    pub status_code: u16,
    pub uuid: Option<uuid::Uuid>,
    /// Why it was refused (null when created).
    pub message: Option<String>,
}

/// Qarnot's `privileges` (hearth exports no credentials into instances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Privileges {
    pub export_api_and_storage_credentials_in_environment: bool,
}

/// Qarnot's `secretsAccessRights` (hearth has no secrets store: empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsAccessRights {
    #[schema(value_type = Vec<Object>)]
    pub by_secret: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub by_prefix: Vec<Value>,
}

/// The parts of a pool or task answer Qarnot defines but hearth only stores and echoes
/// (constraints, network rules, buckets, privileges), plus the other echoed keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Echoed {
    #[schema(value_type = Vec<Object>)]
    pub hardware_constraints: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub forced_network_rules: Vec<Value>,
    #[schema(value_type = Object)]
    pub privileges: Map<String, Value>,
    #[schema(value_type = Object)]
    pub secrets_access_rights: Map<String, Value>,
    #[schema(value_type = Vec<Object>)]
    pub resource_buckets: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub advanced_resource_buckets: Vec<Value>,
    /// Any other key the body sent that Qarnot reads back (`schedulingType`, …), as sent.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

impl Default for Echoed {
    fn default() -> Echoed {
        let privileges = Privileges {
            export_api_and_storage_credentials_in_environment: false,
        };
        let object = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Echoed {
            hardware_constraints: vec![],
            forced_network_rules: vec![],
            privileges: object(serde_json::to_value(privileges).unwrap_or(Value::Null)),
            secrets_access_rights: object(
                serde_json::to_value(SecretsAccessRights::default()).unwrap_or(Value::Null),
            ),
            resource_buckets: vec![],
            advanced_resource_buckets: vec![],
            other: Map::new(),
        }
    }
}

impl Echoed {
    /// The defaults with what was stored laid over them: a stored value replaces a default
    /// only when it is of the same kind (the SDK crashes on a list where it wants an
    /// object), and other keys are kept as they came.
    pub fn over_defaults(stored: Option<&Map<String, Value>>) -> Echoed {
        let mut out = Echoed::default();
        for (k, v) in stored.into_iter().flatten() {
            match (k.as_str(), v) {
                ("hardwareConstraints", Value::Array(a)) => out.hardware_constraints = a.clone(),
                ("forcedNetworkRules", Value::Array(a)) => out.forced_network_rules = a.clone(),
                ("resourceBuckets", Value::Array(a)) => out.resource_buckets = a.clone(),
                ("advancedResourceBuckets", Value::Array(a)) => {
                    out.advanced_resource_buckets = a.clone()
                }
                ("privileges", Value::Object(m)) => out.privileges = m.clone(),
                ("secretsAccessRights", Value::Object(m)) => out.secrets_access_rights = m.clone(),
                (
                    "hardwareConstraints"
                    | "forcedNetworkRules"
                    | "resourceBuckets"
                    | "advancedResourceBuckets"
                    | "privileges"
                    | "secretsAccessRights",
                    _,
                ) => {}
                _ => {
                    out.other.insert(k.clone(), v.clone());
                }
            }
        }
        out
    }
}

/// A pool's or task's `status`. The SDK needs both `…ByCpuModel` lists whenever it is
/// present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub instance_count: u32,
    pub download_progress: f64,
    /// Percent of instances ended.
    pub execution_progress: f64,
    pub upload_progress: f64,
    /// Σ of the ended instances' run times.
    pub execution_time_sec: f64,
    pub wall_time_sec: f64,
    /// Instance ids as ranges (`0-3,7`).
    pub succeeded_range: String,
    pub executed_range: String,
    pub failed_range: String,
    #[schema(value_type = Vec<Object>)]
    pub execution_time_by_cpu_model: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub execution_time_ghz_by_cpu_model: Vec<Value>,
    pub running_instances_info: RunningInstancesInfo,
}

impl Status {
    /// The status of `instance_count` instances of which none has run.
    pub fn empty(instance_count: u32) -> Status {
        Status {
            instance_count,
            download_progress: 0.0,
            execution_progress: 0.0,
            upload_progress: 0.0,
            execution_time_sec: 0.0,
            wall_time_sec: 0.0,
            succeeded_range: String::new(),
            executed_range: String::new(),
            failed_range: String::new(),
            execution_time_by_cpu_model: vec![],
            execution_time_ghz_by_cpu_model: vec![],
            running_instances_info: RunningInstancesInfo::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunningInstancesInfo {
    pub per_running_instance_info: Vec<task::RunningInstance>,
    #[schema(value_type = Vec<Object>)]
    pub snapshot_results: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub running_core_count_by_cpu_model: Vec<Value>,
}
