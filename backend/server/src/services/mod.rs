//! Services: plain async functions over the database that the HTTP handlers call. Every
//! query on tenant-owned rows filters on the caller's tenant, so another tenant's objects
//! are simply not found.

pub mod accounts;
pub mod billing;
pub mod budgets;
pub mod idempotency;
pub mod jobs;
pub mod keyset;
pub mod lookup;
pub mod paging;
pub mod pools;
pub mod profiles;
pub mod quotas;
pub mod sessions;
pub mod tasks;
pub mod verdicts;

use hearth_core::transition::TransitionError;
use hearth_core::validation::FieldError;
use uuid::Uuid;

use crate::error::ApiError;

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Validation(format!("{}: {}", e.field, e.message))
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        ApiError::Conflict(e.message)
    }
}

/// Path ids: anything that is not a UUID names no object.
pub fn path_id(raw: &str, kind: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(kind))
}

/// Body ids: a malformed one is the caller's mistake, named by its field.
pub fn body_id(raw: &str, field: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::field(field, format!("must be a UUID, got '{raw}'")))
}

pub fn json_of<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

pub fn required_name(name: &Option<String>, field: &str) -> Result<String, ApiError> {
    match name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => {
            if n.chars().count() > 256 {
                Err(ApiError::field(field, "must be at most 256 characters"))
            } else {
                Ok(n.to_owned())
            }
        }
        _ => Err(ApiError::field(field, "is required and must not be empty")),
    }
}
