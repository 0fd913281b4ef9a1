//! `/agent/v1`: the bodies node agents send and the answers they read
//! (`docs/agent-protocol.md`). The server and the agent use these very types.
//!
//! Fields an older agent or server may leave out read as their default, so that one side
//! adding a field never stops the other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /agent/v1/register`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    pub pid: Option<u32>,
    pub hostname: Option<String>,
    pub agent_version: Option<String>,
}

/// What a registered node is and how it should talk to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub node_uuid: Uuid,
    pub pool_uuid: Uuid,
    pub slots: usize,
    pub heartbeat_interval_ms: u64,
    /// How long a poll is held when there is nothing to do.
    pub poll_wait_ms: u64,
    /// Between the polite stop (SIGTERM) and the kill of a cancelled instance.
    pub kill_grace_ms: u64,
}

/// Body of `/heartbeat` and `/poll`: the instances the node runs now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Running {
    #[serde(default)]
    pub running: Vec<Uuid>,
}

/// One instance for a slot of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// Run by `sh -c`.
    pub command: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Relative to the node's work directory.
    pub workdir: String,
}

fn first_attempt() -> u32 {
    1
}

/// What the server wants from a node now (the answer of `/poll`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Directives {
    pub assignments: Vec<Assignment>,
    /// Instances to stop.
    pub cancel: Vec<Uuid>,
    /// The node has nothing left and should exit.
    pub shutdown: bool,
}

/// The answer of `/heartbeat`: no assignments, which only polls carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HeartbeatAnswer {
    pub cancel: Vec<Uuid>,
    pub shutdown: bool,
}

/// `/instances/{uuid}/started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Started {
    #[serde(default)]
    pub attempt: Option<u32>,
}

/// `/instances/{uuid}/output`: what the instance wrote since the previous report.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Output {
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty()
    }
}

/// `/instances/{uuid}/finished`: how the process ended and its last output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Finished {
    #[serde(default)]
    pub attempt: Option<u32>,
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
}

/// One report of a `/report` batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Report {
    #[serde(rename_all = "camelCase")]
    Started {
        instance_uuid: Uuid,
        #[serde(default)]
        attempt: Option<u32>,
    },
    #[serde(rename_all = "camelCase")]
    Finished {
        instance_uuid: Uuid,
        #[serde(flatten)]
        report: Finished,
    },
}

/// `POST /agent/v1/report`: instance reports in order, at most 1,000.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportBatch {
    pub reports: Vec<Report>,
    /// The node takes its new assignments from this answer (its held poll is not woken).
    #[serde(default)]
    pub assignments_in_answer: bool,
}

/// What one report of a batch got: 200, or the status its own route would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportResult {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer of `/report`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportAnswer {
    pub results: Vec<ReportResult>,
    /// New work for the node's freed slots, when it asked for it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<Vec<Assignment>>,
}

/// An empty answer: the report was recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recorded {}
