//! The event stream's ticket (the events themselves are described in `docs/api.md`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Opens `GET /events?ticket=` without an `Authorization` header.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Pass as `GET /events?ticket=`.
    pub ticket: String,
    /// Until when it opens a stream (a stream opened with it stays open).
    pub expires_at: DateTime<Utc>,
}
