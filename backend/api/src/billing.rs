//! `GET /billing/usage`: what a tenant's nodes cost over a period. Slot-seconds are exact
//! to the millisecond and money is exact decimal text: the lines add up to the totals.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The `taskName` of a pool's line for the slot-seconds no task used (`groupBy=task`).
pub const IDLE_LINE: &str = "__idle__";

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Start of the period (RFC 3339, or YYYY-MM-DD for its UTC midnight); default (absent
    /// or empty): the first of the current month.
    #[param(pattern = "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub from: Option<String>,
    /// End of the period, excluded; default (absent or empty): now. At most 366 days
    /// after `from`.
    #[param(pattern = "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub to: Option<String>,
    /// pool (default), profile, day, task or node.
    #[param(pattern = "^(pool|profile|day|task|node)?$")]
    pub group_by: Option<String>,
    /// json (default) or csv (every line, no paging).
    #[param(pattern = "^(json|csv)?$")]
    pub format: Option<String>,
    /// Operator only: `all`, or one tenant's uuid.
    #[param(
        pattern = "^(|all|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$"
    )]
    pub tenant: Option<String>,
    /// Lines per page, 1 to 500 (default: 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `nextPageToken` of the previous page: the offset of its first line and the
    /// instant the report was first read at (ms since 1970; a later one reads as now).
    #[param(pattern = "^([0-9]{1,9}-[0-9]{1,14})?$")]
    pub page_token: Option<String>,
}

/// One group's usage. Every key field is present; those `groupBy` does not use are null
/// (`tenantUuid`/`tenantName` are set with `tenant=all` only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageLine {
    #[serde(default)]
    pub tenant_uuid: Option<Uuid>,
    #[serde(default)]
    pub tenant_name: Option<String>,
    /// groupBy=pool, node or task.
    #[serde(default)]
    pub pool_uuid: Option<Uuid>,
    #[serde(default)]
    pub pool_name: Option<String>,
    /// groupBy=profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// groupBy=day: YYYY-MM-DD (UTC).
    #[serde(default)]
    pub day: Option<String>,
    /// groupBy=node.
    #[serde(default)]
    pub node_uuid: Option<Uuid>,
    /// groupBy=task: null on a pool's `__idle__` line.
    #[serde(default)]
    pub task_uuid: Option<Uuid>,
    /// groupBy=task: the task's name, or `__idle__`.
    #[serde(default)]
    pub task_name: Option<String>,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// Slot-seconds (decimal text, 3 decimals) and money (decimal text, 6 decimals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageFigures {
    pub slot_seconds: String,
    pub busy_slot_seconds: String,
    pub idle_slot_seconds: String,
    pub cost: String,
    pub busy_cost: String,
    pub idle_cost: String,
    pub currency: String,
}

/// A page of a report's lines, with the whole report's totals on every page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// The tenant's uuid, or `all`.
    pub tenant: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: String,
    pub currency: String,
    pub items: Vec<UsageLine>,
    pub next_page_token: Option<String>,
    pub totals: UsageFigures,
}
