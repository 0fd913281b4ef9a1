//! The event stream (`GET /events`): each Server-Sent Event's `data` is an [`Event`], and
//! the ticket that opens a stream without a header.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Opens `GET /events?ticket=` without an `Authorization` header.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Pass as `GET /events?ticket=`.
    pub ticket: String,
    /// Until when it opens a stream (a stream opened with it stays open).
    pub expires_at: DateTime<Utc>,
}

/// One event of `GET /events`: `{"id","at","type",…the change's fields}`. The SSE `id:`
/// line carries the same `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Increasing within the tenant's stream, also across server restarts.
    pub id: u64,
    /// When it happened (the wire's instants: UTC, six fractional digits).
    #[serde(with = "crate::time")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub change: Change,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Change {
    /// A pool's state or size changed (created, resized, closing, closed, deleted).
    #[serde(rename_all = "camelCase")]
    Pool {
        pool: Uuid,
        state: String,
        target_slots: i32,
    },
    /// A node was launched, became ready, started draining, or ended.
    #[serde(rename_all = "camelCase")]
    Node {
        pool: Uuid,
        node: Uuid,
        state: String,
    },
    /// A task's state or its counts of instances by state changed.
    #[serde(rename_all = "camelCase")]
    TaskProgress {
        pool: Uuid,
        task: Uuid,
        state: String,
        queued: i32,
        assigned: i32,
        executing: i32,
        succeeded: i32,
        failed: i32,
        cancelled: i32,
    },
    /// An instance's attempt ended (`outcome`: Succeeded, Failed, Cancelled, or Queued for
    /// a retry).
    #[serde(rename_all = "camelCase")]
    InstanceEnded {
        pool: Uuid,
        task: Uuid,
        instance_id: i32,
        outcome: String,
        exit_code: Option<i32>,
    },
    /// A new scaling decision was recorded (an unchanged evaluation is not announced).
    #[serde(rename_all = "camelCase")]
    Decision {
        pool: Uuid,
        decision: Uuid,
        action: String,
        target_slots: i32,
        reason: String,
    },
    /// A budget's consumption crossed one of its alert thresholds (once per threshold and
    /// period).
    #[serde(rename_all = "camelCase")]
    BudgetAlert {
        budget: Uuid,
        name: String,
        /// The fraction of the amount crossed.
        threshold: f64,
        /// Exact decimal texts, in `currency`.
        amount: String,
        consumed: String,
        currency: String,
        overrun_policy: String,
        period_from: String,
        period_to: String,
    },
}

impl Change {
    /// A short name of the kind, for metrics and filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Pool { .. } => "pool",
            Change::Node { .. } => "node",
            Change::TaskProgress { .. } => "taskProgress",
            Change::InstanceEnded { .. } => "instanceEnded",
            Change::Decision { .. } => "decision",
            Change::BudgetAlert { .. } => "budgetAlert",
        }
    }

    /// The pool the change is about (a budget alert is about the tenant, no pool).
    pub fn pool_id(&self) -> Option<Uuid> {
        match self {
            Change::Pool { pool, .. }
            | Change::Node { pool, .. }
            | Change::TaskProgress { pool, .. }
            | Change::InstanceEnded { pool, .. }
            | Change::Decision { pool, .. } => Some(*pool),
            Change::BudgetAlert { .. } => None,
        }
    }

    /// The task the change is about, if any.
    pub fn task_id(&self) -> Option<Uuid> {
        match self {
            Change::TaskProgress { task, .. } | Change::InstanceEnded { task, .. } => Some(*task),
            _ => None,
        }
    }
}

/// The `reset` event of `GET /events`: the events after the id the client resumed from are
/// no longer kept, so it must read the current state again. Its SSE `id:` is where the
/// stream goes on from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename = "reset")]
pub struct StreamReset {
    pub reason: String,
}

/// Which pipe of an instance's process a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// One `output` event of `GET /tasks/{uuid}/instances/{instanceId}/output`: text the
/// instance wrote. The SSE `id:` is `{stdout bytes}.{stderr bytes}` read so far, which a
/// reconnect sends back as `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputChunk {
    pub stream: OutputStream,
    /// Where `text` starts among all the bytes this stream ever wrote. Beyond what was
    /// asked for when the oldest output was no longer kept (a gap).
    pub offset: i64,
    pub text: String,
}

/// The `end` event: the instance is finished and everything it wrote was sent; the stream
/// closes after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputEnd {
    /// `Succeeded`, `Failed` or `Cancelled`.
    pub state: String,
    pub exit_code: Option<i32>,
}
