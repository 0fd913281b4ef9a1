//! Tenants (operator), their users and API tokens (owner).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /tenants`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBody {
    /// Unique: letters, digits, '-', '_' and '.', at most 256.
    #[schema(required = true, nullable = false, pattern = "^[A-Za-z0-9._-]{1,256}$")]
    pub name: Option<String>,
    /// Whether the tenant's pools may put more than one slot on a node (default true).
    pub multi_slot_enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub uuid: Uuid,
    pub name: String,
    pub multi_slot_enabled: bool,
    #[serde(with = "crate::time")]
    pub creation_date: DateTime<Utc>,
}

/// A new tenant and its owner's first token: the secret is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantCreated {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub owner_token: String,
}

/// `PUT /tenants/{uuid}/quotas`: each limit a count, or null for none. Unknown fields are
/// refused (a misspelt limit would otherwise be lifted silently).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotasBody {
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub max_pools: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub max_running_slots: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub max_queued_instances: Option<i64>,
}

/// A tenant's limits (null: none) and what it uses of them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    pub tenant_uuid: Uuid,
    pub max_pools: Option<i32>,
    pub max_running_slots: Option<i32>,
    pub max_queued_instances: Option<i32>,
    pub usage: QuotaUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    pub pools: u64,
    pub running_slots: u64,
    pub queued_instances: u64,
    pub running_instances: u64,
}

/// `POST /tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    /// Not blank, at most 256 characters.
    #[schema(required = true, nullable = false, pattern = "\\S", max_length = 256)]
    pub name: Option<String>,
    /// owner, member, viewer or billing.
    #[schema(
        required = true,
        nullable = false,
        pattern = "^(owner|member|viewer|billing)$"
    )]
    pub role: Option<String>,
    /// 1 s to 10 years; absent: the token does not expire.
    #[schema(minimum = 1, maximum = 315360000)]
    pub expires_in_seconds: Option<i64>,
    /// The user of the tenant the token acts for (default: the caller).
    #[schema(format = Uuid)]
    pub user_uuid: Option<String>,
}

/// `POST /auth/token`: trades a user's email and dashboard password for an API token of
/// the user's role (no Bearer token needed). Refusals are slowed down per email and per
/// client address, as the dashboard's sign-in form is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginBody {
    /// The user's email (case does not matter).
    #[schema(required = true, nullable = false, min_length = 1, max_length = 256)]
    pub email: Option<String>,
    /// The user's dashboard password (set with `PUT /users/{uuid}/password`).
    #[schema(required = true, nullable = false, min_length = 1, max_length = 256)]
    pub password: Option<String>,
    /// Names the token (stored as `login: NAME`; default `login: hearth`). A login under
    /// a name the user already has a login token of replaces that token.
    #[schema(nullable = false, pattern = "\\S", max_length = 200)]
    pub name: Option<String>,
    /// 1 s to 1 year; absent: 30 days.
    #[schema(minimum = 1, maximum = 31536000)]
    pub expires_in_seconds: Option<i64>,
}

/// An API token; its secret is never listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub uuid: Uuid,
    pub name: String,
    pub role: String,
    pub user_uuid: Uuid,
    #[serde(with = "crate::time")]
    pub creation_date: DateTime<Utc>,
    #[serde(with = "crate::time::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// A new token with its secret, shown only in this answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreated {
    #[serde(flatten)]
    pub token_info: Token,
    /// The bearer secret.
    pub token: String,
}

/// `POST /users`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    /// An address: letters, digits and `._%+-` before the `@`; letters, digits, `.` and
    /// `-` after it; at most 256 characters. Stored in lower case.
    #[schema(
        required = true,
        nullable = false,
        pattern = "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$",
        max_length = 256
    )]
    pub email: Option<String>,
    /// owner, member, viewer or billing.
    #[schema(
        required = true,
        nullable = false,
        pattern = "^(owner|member|viewer|billing)$"
    )]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub uuid: Uuid,
    pub email: String,
    pub role: String,
    #[serde(with = "crate::time")]
    pub creation_date: DateTime<Utc>,
}

/// `PUT /users/{uuid}/password`: sets or resets a user's dashboard password (owner).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordBody {
    /// 12 to 256 characters. Stored only as an argon2id hash; setting it ends the user's
    /// password sessions.
    #[schema(required = true, nullable = false, min_length = 12, max_length = 256)]
    pub password: Option<String>,
}
