//! The body of every error answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What went wrong: `message` in words (naming the field and the reason for bad input) and
/// a stable `code` to branch on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// For people: e.g. "elasticProperty.maxTotalSlots must be >= minTotalSlots".
    pub message: String,
    /// For programs: `validation`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `gone`, `payload_too_large`, `unprocessable`,
    /// `payment_required`, `unavailable` or `internal`.
    pub code: String,
}
