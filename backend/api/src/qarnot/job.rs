//! Qarnot jobs: `POST /jobs` and the job answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /jobs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobBody {
    pub name: Option<String>,
    pub shortname: Option<String>,
    pub pool_uuid: Option<String>,
    /// Whether the job's tasks wait for their `dependencies`.
    pub use_dependencies: Option<bool>,
    /// `d.hh:mm:ss` or `hh:mm:ss`: the job is terminated after it.
    pub max_wall_time: Option<String>,
    pub tags: Option<Vec<String>>,
    pub auto_delete_on_completion: Option<bool>,
    pub completion_time_to_live: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

/// A job, as `GET /jobs/{uuid}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub uuid: Uuid,
    pub name: String,
    pub shortname: String,
    pub pool_uuid: Option<Uuid>,
    pub use_dependencies: bool,
    /// `Active`, `Terminating`, `Completed`, `Terminated`, `Failure` or `Deleted`.
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
    pub max_wall_time: Option<String>,
    pub tags: Vec<String>,
    pub auto_delete_on_completion: bool,
    pub completion_time_to_live: String,
}
