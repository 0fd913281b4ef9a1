//! Qarnot pools: `POST /pools` and `PUT /pools/{uuid}` bodies, and the pool answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Echoed, KeyValue, RetrySettings, Status};

/// `POST /pools` and `PUT /pools/{uuid}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolBody {
    pub name: Option<String>,
    pub shortname: Option<String>,
    /// A profile of `GET /profiles`.
    pub profile: Option<String>,
    pub constants: Option<Vec<KeyValue>>,
    /// Slots of a Fixed pool (when neither `scaling` nor an elastic `elasticProperty` is
    /// given).
    pub instance_count: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub elastic_property: Option<Elastic>,
    pub scaling: Option<Scaling>,
    pub multi_slots_settings: Option<MultiSlots>,
    pub default_retry_settings: Option<RetrySettings>,
    /// Everything else the SDK sends, kept to read back where Qarnot does.
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

/// The keys of a pool body stored as sent and returned as they came, when they hold a value
/// of the right kind.
pub const ECHOED_KEYS: &[&str] = &[
    "preparationTask",
    "hardwareConstraints",
    "forcedNetworkRules",
    "privileges",
    "secretsAccessRights",
    "schedulingType",
    "autoDeleteOnCompletion",
    "completionTimeToLive",
    "taskDefaultWaitForPoolResourcesSynchronization",
    "maxTimeQueueSeconds",
    "defaultResourcesCacheTTLSec",
    "projectUuid",
    "targetedReservationName",
    "constraints",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiSlots {
    pub slots_per_node: Option<i64>,
}

/// Qarnot's elastic settings: one ManagedTasksQueue policy, always enabled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Elastic {
    pub is_elastic: Option<bool>,
    pub min_total_slots: Option<i64>,
    pub max_total_slots: Option<i64>,
    pub min_idle_slots: Option<i64>,
    /// Seconds between two resize evaluations.
    pub resize_period: Option<i64>,
    pub ramp_resize_factor: Option<f64>,
    pub min_idle_time_seconds: Option<i64>,
}

/// `scaling`: the ordered policies; the first enabled now applies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Scaling {
    pub policies: Option<Vec<ScalingPolicy>>,
}

/// One policy as Qarnot spells it (`Fixed` or `ManagedTasksQueue`); also the stored form of
/// a pool's policies, normalized.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_total_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_idle_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_idle_time_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_factor: Option<f64>,
    /// When the policy applies (none: always).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled_periods: Vec<ScalingPeriod>,
}

/// When a policy is enabled: `Always`, `Weekly` (days and a UTC time window) or, hearth's
/// extension, `DateRange` (`from`, `to`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPeriod {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

/// A pool's `scaling` read back: its policies and which one applies now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolScaling {
    pub policies: Vec<ScalingPolicy>,
    pub active_policy_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlotsPerNode {
    pub slots_per_node: i32,
}

/// A pool, as `GET /pools/{uuid}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    pub uuid: Uuid,
    pub name: String,
    /// The uuid when none was given.
    pub shortname: String,
    pub profile: String,
    pub instance_count: i32,
    /// `Submitted`, `PartiallyDispatched`, `FullyDispatched`, `PartiallyExecuting`,
    /// `FullyExecuting`, `Closing`, `Closed` or `Failure`.
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
    pub elastic_property: Elastic,
    /// Null unless the pool was given `scaling.policies`.
    pub scaling: Option<PoolScaling>,
    /// Seconds between two resize evaluations.
    pub resize_period: i32,
    pub multi_slots_settings: SlotsPerNode,
    pub default_retry_settings: RetrySettings,
    #[serde(flatten)]
    pub echoed: Echoed,
    pub status: Status,
    pub running_core_count: u32,
    pub running_instance_count: u32,
    pub total_slot_capacity: u32,
    pub queued_or_running_task_instances_count: u32,
    /// Busy slots / total slots (0 when it has none).
    pub pool_usage: f64,
}
