//! Job bodies and job JSON.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{date, opt_date};

/// `POST /jobs/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobBody {
    pub name: Option<String>,
    pub shortname: Option<String>,
    pub pool_uuid: Option<String>,
    pub use_dependencies: Option<bool>,
    pub max_wall_time: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

pub fn job_json(job: &crate::entities::job::Model) -> Value {
    let spec = job.spec.as_object().cloned().unwrap_or_default();
    json!({
        "uuid": job.id,
        "name": job.name,
        "shortname": job.shortname.clone().unwrap_or_else(|| job.id.to_string()),
        "poolUuid": job.pool_id,
        "useDependencies": job.use_dependencies,
        "state": job.state,
        "previousState": job.previous_state,
        "stateTransitionTime": date(job.state_transition_time),
        "previousStateTransitionTime": opt_date(job.previous_state_transition_time),
        "creationDate": date(job.created_at),
        "lastModified": date(job.updated_at),
        "maxWallTime": job
            .max_wall_time_seconds
            .map(|s| hearth_core::timespan::format_timespan(chrono::Duration::seconds(s))),
        "tags": job.tags,
        "autoDeleteOnCompletion": spec.get("autoDeleteOnCompletion").cloned().unwrap_or(json!(false)),
        "completionTimeToLive": spec.get("completionTimeToLive").cloned().unwrap_or(json!("00:00:00")),
    })
}
