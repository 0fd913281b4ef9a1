//! Jobs on Qarnot's wire: a job row into the job answer.

use hearth_api::qarnot::job::Job;
pub use hearth_api::qarnot::job::JobBody;

use super::pool::column;

pub fn job_answer(job: &crate::entities::job::Model) -> Job {
    let spec = job.spec.as_object();
    let stored = |key: &str| spec.and_then(|s| s.get(key));
    Job {
        uuid: job.id,
        name: job.name.clone(),
        shortname: job.shortname.clone().unwrap_or_else(|| job.id.to_string()),
        pool_uuid: job.pool_id,
        use_dependencies: job.use_dependencies,
        state: job.state.clone(),
        previous_state: job.previous_state.clone(),
        state_transition_time: job.state_transition_time,
        previous_state_transition_time: job.previous_state_transition_time,
        creation_date: job.created_at,
        last_modified: job.updated_at,
        max_wall_time: job
            .max_wall_time_seconds
            .map(|s| hearth_core::timespan::format_timespan(chrono::Duration::seconds(s))),
        tags: column(&job.tags),
        auto_delete_on_completion: stored("autoDeleteOnCompletion")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        completion_time_to_live: stored("completionTimeToLive")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("00:00:00")
            .to_owned(),
    }
}
