//! The one place where failures become HTTP answers: `{"message", "code"}` with the status
//! DESIGN.md §7 gives. Internal errors are logged with their cause and answered without it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The message names the field, e.g. "elasticProperty.maxTotalSlots must be >= minTotalSlots".
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    /// A budget of the tenant is spent: new work is refused (the Qarnot SDK raises
    /// `NotEnoughCreditsException`).
    #[error("{0}")]
    PaymentRequired(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A state conflict; the message names the state.
    #[error("{0}")]
    Conflict(String),
    /// The first request with this `Idempotency-Key` is still being answered: the same
    /// request sent again shortly gets its answer (409 `in_flight`, `Retry-After: 1`).
    #[error("{0}")]
    InFlight(String),
    /// A known path asked with a method it does not have; `allow` lists those it has.
    #[error("method {method} is not allowed here (allowed: {allow})")]
    MethodNotAllowed { method: String, allow: String },
    /// The object is finished for good (a terminated node calling in).
    #[error("{0}")]
    Gone(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unprocessable(String),
    /// A bounded resource is full for now; retry later.
    #[error("{0}")]
    TooManyRequests(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, reason: impl std::fmt::Display) -> Self {
        ApiError::Validation(format!("{field} {reason}"))
    }

    pub fn not_found(kind: &str) -> Self {
        ApiError::NotFound(format!("{kind} not found"))
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::PaymentRequired(_) => "payment_required",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::InFlight(_) => "in_flight",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Gone(_) => "gone",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::TooManyRequests(_) => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// An answer that would not serialize: a bug of ours, answered 500 and logged.
impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(e: sea_orm::TransactionError<ApiError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::InFlight(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut answer = HttpResponse::build(self.status_code());
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            answer.insert_header(("Allow", allow.as_str()));
        }
        // Every 429 of hearth is a cap on what is held at once (followed streams), freed
        // as others end: a client may try again shortly.
        // The same for a request whose twin (same Idempotency-Key) is still running.
        if let ApiError::TooManyRequests(_) | ApiError::InFlight(_) = self {
            answer.insert_header(("Retry-After", "1"));
        }
        answer.json(hearth_api::ErrorBody {
            message: self.to_string(),
            code: self.code().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_says_when_to_try_again() {
        let answer = ApiError::TooManyRequests("too many followed".into()).error_response();
        assert_eq!(answer.status(), 429);
        assert_eq!(answer.headers().get("Retry-After").unwrap(), "1");
        let other = ApiError::Conflict("no".into()).error_response();
        assert!(other.headers().get("Retry-After").is_none());
        let twin = ApiError::InFlight("wait".into()).error_response();
        assert_eq!(twin.status(), StatusCode::CONFLICT);
        assert_eq!(twin.headers().get("Retry-After").unwrap(), "1");
    }
}
