//! Tasks on Qarnot's wire: a task row and its instances' figures into the task answer.

pub use hearth_api::qarnot::task::{
    AdvancedDependency, Dependencies, ECHOED_KEYS, TaskBody, TaskDependencies, TaskSubmission,
};
use hearth_api::qarnot::task::{CompletedInstance, RunningInstance, Task};
use hearth_api::qarnot::{Echoed, RetrySettings, Status};
use serde_json::Value;

use super::pool::column;

/// What a task's instances add up to, for its answer.
#[derive(Debug, Clone, Default)]
pub struct TaskFigures {
    pub running_instances: u32,
    pub running_cores: u32,
    pub succeeded_range: String,
    pub failed_range: String,
    pub executed_range: String,
    pub completed: Vec<CompletedInstance>,
    /// Succeeded + failed, from the counters (`completed` holds at most
    /// `MAX_COMPLETED_LISTED` of them).
    pub completed_count: u32,
    pub per_running_instance: Vec<RunningInstance>,
    pub execution_time_sec: f64,
}

pub fn task_answer(task: &crate::entities::task::Model, figures: TaskFigures) -> Task {
    let spec = task.spec.as_object();
    let mut status = Status::empty(task.instance_count.max(0) as u32);
    status.succeeded_range = figures.succeeded_range;
    status.failed_range = figures.failed_range;
    status.executed_range = figures.executed_range;
    status.execution_time_sec = figures.execution_time_sec;
    status.execution_progress = if task.instance_count > 0 {
        100.0 * f64::from(figures.completed_count) / f64::from(task.instance_count)
    } else {
        0.0
    };
    status.running_instances_info.per_running_instance_info = figures.per_running_instance;
    Task {
        uuid: task.id,
        name: task.name.clone(),
        shortname: task
            .shortname
            .clone()
            .unwrap_or_else(|| task.id.to_string()),
        profile: None,
        pool_uuid: task.pool_id,
        job_uuid: task.job_id,
        instance_count: task.instance_count,
        advanced_ranges: task.advanced_ranges.clone(),
        state: task.state.clone(),
        previous_state: task.previous_state.clone(),
        state_transition_time: task.state_transition_time,
        previous_state_transition_time: task.previous_state_transition_time,
        creation_date: task.created_at,
        last_modified: task.updated_at,
        end_date: task.end_date,
        constants: column(&task.constants),
        tags: column(&task.tags),
        labels: column(&task.labels),
        errors: column(&task.errors),
        dependencies: column(&task.dependencies),
        retry_settings: RetrySettings {
            max_per_instance_retries: task.max_per_instance_retries.map(i64::from),
            max_total_retries: task.max_total_retries.map(i64::from),
        },
        results_count: 0,
        completed_instances_truncated: (figures.completed.len() as u32) < figures.completed_count,
        completed_instances: figures.completed,
        running_instance_count: figures.running_instances,
        running_core_count: figures.running_cores,
        echoed: Echoed::over_defaults(spec.and_then(|s| s.get("echo")).and_then(Value::as_object)),
        status,
    }
}
