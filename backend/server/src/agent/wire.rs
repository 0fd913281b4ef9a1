//! Bodies of `/agent/v1` as the agent sends and reads them (`docs/agent-protocol.md`).
//!
//! Replies are parsed leniently (`#[serde(default)]`): a server that adds a field, or leaves
//! an empty list out, must not make an agent stop working.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub pid: u32,
    pub hostname: String,
    pub agent_version: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub node_uuid: Uuid,
    pub pool_uuid: Uuid,
    pub slots: usize,
    pub heartbeat_interval_ms: u64,
    pub poll_wait_ms: u64,
    pub kill_grace_ms: u64,
}

/// Body of both `/heartbeat` and `/poll`.
#[derive(Debug, Serialize)]
pub struct RunningReport {
    pub running: Vec<Uuid>,
}

/// What the server wants from the node; `/heartbeat` answers carry no assignments.
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub instance_uuid: Uuid,
    /// Which attempt of the instance this is: a retried instance comes back with the same
    /// uuid and the next attempt, and must run again.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    #[serde(default)]
    pub task_uuid: Option<Uuid>,
    #[serde(default)]
    pub instance_id: Option<i64>,
    #[serde(default)]
    pub slot_index: Option<i64>,
    pub command: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub workdir: String,
}

fn first_attempt() -> u32 {
    1
}

/// `/started` body.
#[derive(Debug, Serialize)]
pub struct Started {
    pub attempt: u32,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finished {
    pub attempt: u32,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
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
            attempt: 1,
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
