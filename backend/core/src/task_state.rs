//! The task state machine (DESIGN §4). A task's dispatch/execute state is derived from
//! its instances; [`task_transition`] adds the user's abort and delete on top.

use serde::{Deserialize, Serialize};

use crate::model::InstanceState;
use crate::transition::TransitionError;
use crate::wire::wire_enum;

wire_enum! {
    pub enum TaskState("task state") {
        /// Every instance waiting for a slot.
        Submitted => "Submitted",
        PartiallyDispatched => "PartiallyDispatched",
        FullyDispatched => "FullyDispatched",
        PartiallyExecuting => "PartiallyExecuting",
        FullyExecuting => "FullyExecuting",
        Success => "Success",
        Failure => "Failure",
        /// Abort requested; running instances are being stopped.
        PendingCancel => "PendingCancel",
        Cancelled => "Cancelled",
        PendingDelete => "PendingDelete",
    }
}

impl TaskState {
    /// Ended for good: Success, Failure or Cancelled.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failure | TaskState::Cancelled
        )
    }

    /// The states the Python SDK's `wait()` keeps polling on. Its list also holds
    /// `UploadingResults` and `DownloadingResults`, which hearth never reports; any
    /// other state, `PendingCancel` included, ends the wait.
    pub fn is_running_for_sdk(self) -> bool {
        matches!(
            self,
            TaskState::Submitted
                | TaskState::PartiallyDispatched
                | TaskState::FullyDispatched
                | TaskState::PartiallyExecuting
                | TaskState::FullyExecuting
        )
    }
}

/// How many of a task's instances are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceTally {
    pub total: u32,
    pub queued: u32,
    pub assigned: u32,
    pub executing: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub cancelled: u32,
}

impl InstanceTally {
    pub fn from_states(states: impl IntoIterator<Item = InstanceState>) -> Self {
        let mut t = InstanceTally::default();
        for state in states {
            t.total += 1;
            match state {
                InstanceState::Queued => t.queued += 1,
                InstanceState::Assigned => t.assigned += 1,
                InstanceState::Executing => t.executing += 1,
                InstanceState::Succeeded => t.succeeded += 1,
                InstanceState::Failed => t.failed += 1,
                InstanceState::Cancelled => t.cancelled += 1,
            }
        }
        t
    }

    pub fn finished(&self) -> u32 {
        self.succeeded + self.failed + self.cancelled
    }

    /// Instances still to run. Instances counted in `total` but in no state yet have
    /// not been created and so are waiting like queued ones.
    fn waiting(&self) -> u32 {
        let known = self.finished() + self.queued + self.assigned + self.executing;
        self.queued + self.total.saturating_sub(known)
    }

    pub fn unfinished(&self) -> u32 {
        self.waiting() + self.assigned + self.executing
    }
}

/// The task state its instances imply.
///
/// Only unfinished instances decide the running states, so a task whose remaining
/// instances all execute is `FullyExecuting` even if others already ended. Queued
/// instances after some have run make it `PartiallyDispatched` (it was dispatched,
/// only not all at once). Once every instance has ended, one failure makes the task
/// a `Failure`, else one cancellation makes it `Cancelled`, else `Success`; an empty
/// task is a `Success`.
pub fn derive_task_state(t: &InstanceTally) -> TaskState {
    let waiting = t.waiting();
    let unfinished = t.unfinished();
    if unfinished == 0 {
        return if t.failed > 0 {
            TaskState::Failure
        } else if t.cancelled > 0 {
            TaskState::Cancelled
        } else {
            TaskState::Success
        };
    }
    if t.executing > 0 {
        if t.executing == unfinished {
            TaskState::FullyExecuting
        } else {
            TaskState::PartiallyExecuting
        }
    } else if t.assigned > 0 {
        if waiting == 0 {
            TaskState::FullyDispatched
        } else {
            TaskState::PartiallyDispatched
        }
    } else if t.finished() > 0 {
        TaskState::PartiallyDispatched
    } else {
        TaskState::Submitted
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    /// Instances changed state.
    Progress(InstanceTally),
    /// The user asked to abort.
    Abort,
    /// Every instance of an aborted task has stopped.
    AllInstancesStopped,
    /// The user asked to delete the task.
    Delete,
}

impl TaskEvent {
    fn attempted(&self) -> &'static str {
        match self {
            TaskEvent::Progress(_) => "progress",
            TaskEvent::Abort => "abort",
            TaskEvent::AllInstancesStopped => "finish cancelling",
            TaskEvent::Delete => "delete",
        }
    }
}

/// The task's next state after `event`, or why the event is refused.
///
/// Aborting a finished (or already cancelling) task changes nothing and is not an
/// error: the SDK's `run(job_timeout=…)` always aborts and needs a 2xx. Late instance
/// reports after the task ended do not reopen it.
pub fn task_transition(state: TaskState, event: &TaskEvent) -> Result<TaskState, TransitionError> {
    use TaskState::*;
    let refuse = |why: &str| {
        Err(TransitionError::new(
            "task",
            state.as_str(),
            event.attempted(),
            why,
        ))
    };
    match (event, state) {
        (
            TaskEvent::Progress(tally),
            Submitted | PartiallyDispatched | FullyDispatched | PartiallyExecuting | FullyExecuting,
        ) => Ok(derive_task_state(tally)),
        (TaskEvent::Progress(tally), PendingCancel) => Ok(if tally.unfinished() == 0 {
            Cancelled
        } else {
            PendingCancel
        }),
        (TaskEvent::Progress(_), Success | Failure | Cancelled | PendingDelete) => Ok(state),

        (
            TaskEvent::Abort,
            Submitted | PartiallyDispatched | FullyDispatched | PartiallyExecuting | FullyExecuting,
        ) => Ok(PendingCancel),
        (TaskEvent::Abort, PendingCancel | Success | Failure | Cancelled) => Ok(state),
        (TaskEvent::Abort, PendingDelete) => refuse("it is being deleted"),

        (TaskEvent::AllInstancesStopped, PendingCancel) => Ok(Cancelled),
        (TaskEvent::AllInstancesStopped, _) => Ok(state),

        (TaskEvent::Delete, PendingDelete) => refuse("it is already being deleted"),
        (TaskEvent::Delete, _) => Ok(PendingDelete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    fn tally(q: u32, a: u32, e: u32, s: u32, f: u32, c: u32) -> InstanceTally {
        InstanceTally {
            total: q + a + e + s + f + c,
            queued: q,
            assigned: a,
            executing: e,
            succeeded: s,
            failed: f,
            cancelled: c,
        }
    }

    #[test]
    fn wire_names_and_predicates() {
        // (state, wire, finished, running for the SDK)
        let table = [
            (Submitted, "Submitted", false, true),
            (PartiallyDispatched, "PartiallyDispatched", false, true),
            (FullyDispatched, "FullyDispatched", false, true),
            (PartiallyExecuting, "PartiallyExecuting", false, true),
            (FullyExecuting, "FullyExecuting", false, true),
            (Success, "Success", true, false),
            (Failure, "Failure", true, false),
            (PendingCancel, "PendingCancel", false, false),
            (Cancelled, "Cancelled", true, false),
            (PendingDelete, "PendingDelete", false, false),
        ];
        assert_eq!(table.len(), TaskState::ALL.len());
        for (state, wire, finished, running) in table {
            assert_eq!(state.as_str(), wire);
            assert_eq!(wire.parse::<TaskState>().unwrap(), state);
            assert_eq!(
                serde_json::from_value::<TaskState>(serde_json::json!(wire)).unwrap(),
                state
            );
            assert_eq!(state.is_finished(), finished, "{state}");
            assert_eq!(state.is_running_for_sdk(), running, "{state}");
        }
        assert!("UploadingResults".parse::<TaskState>().is_err());
    }

    #[test]
    fn state_derived_from_instances() {
        // (queued, assigned, executing, succeeded, failed, cancelled) → state
        let table = [
            ((4, 0, 0, 0, 0, 0), Submitted),
            ((3, 1, 0, 0, 0, 0), PartiallyDispatched),
            ((0, 4, 0, 0, 0, 0), FullyDispatched),
            ((2, 1, 1, 0, 0, 0), PartiallyExecuting),
            ((0, 3, 1, 0, 0, 0), PartiallyExecuting),
            ((0, 0, 4, 0, 0, 0), FullyExecuting),
            ((0, 0, 2, 2, 0, 0), FullyExecuting),
            ((0, 1, 0, 3, 0, 0), FullyDispatched),
            ((2, 0, 0, 2, 0, 0), PartiallyDispatched),
            ((2, 0, 0, 0, 1, 0), PartiallyDispatched),
            ((0, 0, 0, 4, 0, 0), Success),
            ((0, 0, 0, 3, 1, 0), Failure),
            ((0, 0, 0, 2, 1, 1), Failure),
            ((0, 0, 0, 3, 0, 1), Cancelled),
            ((0, 0, 0, 0, 0, 4), Cancelled),
            ((0, 0, 0, 0, 0, 0), Success),
        ];
        for ((q, a, e, s, f, c), expected) in table {
            let t = tally(q, a, e, s, f, c);
            assert_eq!(derive_task_state(&t), expected, "{t:?}");
        }
    }

    #[test]
    fn instances_not_created_yet_count_as_waiting() {
        let mut t = tally(0, 2, 0, 0, 0, 0);
        t.total = 5;
        assert_eq!(derive_task_state(&t), PartiallyDispatched);
        assert_eq!(t.unfinished(), 5);
        t.executing = 2;
        t.assigned = 0;
        assert_eq!(derive_task_state(&t), PartiallyExecuting);
    }

    #[test]
    fn tally_from_states() {
        use InstanceState as I;
        let t = InstanceTally::from_states([
            I::Queued,
            I::Executing,
            I::Succeeded,
            I::Failed,
            I::Executing,
        ]);
        assert_eq!(t, tally(1, 0, 2, 1, 1, 0));
    }

    /// Every state × every event kind.
    #[test]
    fn transition_table_is_exhaustive() {
        let running = TaskEvent::Progress(tally(1, 0, 1, 0, 0, 0));
        let all_done = TaskEvent::Progress(tally(0, 0, 0, 2, 0, 0));
        type Row = (TaskState, TaskEvent, Result<TaskState, &'static str>);
        let mut table: Vec<Row> = Vec::new();
        for s in [
            Submitted,
            PartiallyDispatched,
            FullyDispatched,
            PartiallyExecuting,
            FullyExecuting,
        ] {
            table.push((s, running.clone(), Ok(PartiallyExecuting)));
            table.push((s, all_done.clone(), Ok(Success)));
            table.push((s, TaskEvent::Abort, Ok(PendingCancel)));
            table.push((s, TaskEvent::AllInstancesStopped, Ok(s)));
            table.push((s, TaskEvent::Delete, Ok(PendingDelete)));
        }
        for s in [Success, Failure, Cancelled] {
            table.push((s, running.clone(), Ok(s)));
            table.push((s, TaskEvent::Abort, Ok(s)));
            table.push((s, TaskEvent::AllInstancesStopped, Ok(s)));
            table.push((s, TaskEvent::Delete, Ok(PendingDelete)));
        }
        table.extend([
            (PendingCancel, running.clone(), Ok(PendingCancel)),
            (PendingCancel, all_done.clone(), Ok(Cancelled)),
            (PendingCancel, TaskEvent::Abort, Ok(PendingCancel)),
            (PendingCancel, TaskEvent::AllInstancesStopped, Ok(Cancelled)),
            (PendingCancel, TaskEvent::Delete, Ok(PendingDelete)),
            (PendingDelete, running.clone(), Ok(PendingDelete)),
            (
                PendingDelete,
                TaskEvent::Abort,
                Err("task is PendingDelete: it is being deleted"),
            ),
            (
                PendingDelete,
                TaskEvent::AllInstancesStopped,
                Ok(PendingDelete),
            ),
            (
                PendingDelete,
                TaskEvent::Delete,
                Err("task is PendingDelete: it is already being deleted"),
            ),
        ]);
        for s in TaskState::ALL {
            for kind in ["progress", "abort", "finish cancelling", "delete"] {
                assert!(
                    table
                        .iter()
                        .any(|(ts, e, _)| ts == s && e.attempted() == kind),
                    "no row for {s} × {kind}"
                );
            }
        }
        for (state, event, expected) in table {
            let got = task_transition(state, &event);
            match expected {
                Ok(next) => assert_eq!(got, Ok(next), "{state} × {event:?}"),
                Err(message) => {
                    let err = got.expect_err("expected a refusal");
                    assert_eq!(err.to_string(), message, "{state} × {event:?}");
                    assert_eq!(err.state, state.as_str());
                }
            }
        }
    }
}
