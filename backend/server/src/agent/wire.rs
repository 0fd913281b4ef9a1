//! Bodies of `/agent/v1` (`docs/agent-protocol.md`): the types of `hearth_api::agent`,
//! which the server answers with, and the agent's own lenient reading of a poll's answer.
//!
//! Replies are parsed leniently (`#[serde(default)]`): a server that adds a field, or leaves
//! an empty list out, must not make an agent stop working.

use serde::Deserialize;
use uuid::Uuid;

pub use hearth_api::agent::{
    Assignment, Finished, Output, RegisterBody, Registration, Running, Started,
};

/// `hearth_api::agent::Directives` as the agent reads it: one unreadable assignment is
/// skipped, not the whole answer; `/heartbeat` answers carry no assignments.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Directives {
    #[serde(deserialize_with = "each_readable")]
    pub assignments: Vec<Assignment>,
    pub cancel: Vec<Uuid>,
    pub shutdown: bool,
}

/// Assignments read one by one: one the agent cannot read is skipped (and logged) instead of
/// making the whole answer unreadable, which would stall the node while the server answers.
fn each_readable<'de, D>(deserializer: D) -> Result<Vec<Assignment>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: Vec<serde_json::Value> = Deserialize::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .filter_map(|value| match serde_json::from_value(value) {
            Ok(assignment) => Some(assignment),
            Err(e) => {
                tracing::error!(error = %e, "unreadable assignment skipped");
                None
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_answer_parses_with_missing_lists() {
        let d: Directives = serde_json::from_str(r#"{"shutdown": true}"#).unwrap();
        assert!(d.shutdown && d.assignments.is_empty() && d.cancel.is_empty());
    }

    #[test]
    fn an_unreadable_assignment_does_not_hide_the_others() {
        let json = r#"{"assignments": [{"command": "no uuid"},
            {"instanceUuid": "8f8c9a4e-35a4-4ae1-9d4e-5b8f0c1d2e3f", "command": "true",
             "workdir": "job/t"}], "cancel": [], "shutdown": false}"#;
        let d: Directives = serde_json::from_str(json).unwrap();
        assert_eq!(d.assignments.len(), 1);
        assert_eq!(d.assignments[0].command, "true");
    }

    #[test]
    fn assignment_parses_the_documented_shape() {
        let json = r#"{"instanceUuid": "8f8c9a4e-35a4-4ae1-9d4e-5b8f0c1d2e3f",
            "taskUuid": "0b8c9a4e-35a4-4ae1-9d4e-5b8f0c1d2e3f", "instanceId": 3, "slotIndex": 1,
            "command": "echo Hello from $INSTANCE_ID", "env": {"INSTANCE_ID": "3"},
            "workdir": "job/0b8c9a4e-35a4-4ae1-9d4e-5b8f0c1d2e3f"}"#;
        let a: Assignment = serde_json::from_str(json).unwrap();
        assert_eq!(a.instance_id, Some(3));
        assert_eq!(a.env["INSTANCE_ID"], "3");
    }

    #[test]
    fn finished_serialises_a_null_signal() {
        let f = Finished {
            attempt: Some(1),
            exit_code: Some(0),
            signal: None,
            stdout: "a".into(),
            stderr: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"attempt":1,"exitCode":0,"signal":null,"stdout":"a","stderr":""}"#
        );
    }
}
