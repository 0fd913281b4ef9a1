//! Health and Qarnot's small platform answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /health`: `ok`, or `database unreachable` (with status 503).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Qarnot's `GET /settings`: hearth has no object storage, so `storage` is null and the
/// SDK runs without buckets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    #[schema(value_type = Option<String>)]
    pub storage: Option<String>,
}

/// What `POST /pools`, `POST /jobs` and `POST /tasks` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub uuid: uuid::Uuid,
}
