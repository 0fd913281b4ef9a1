//! Tenants (operator), users and API tokens (tenant owner).

use chrono::{DateTime, Duration, Utc};
use hearth_core::model::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{body_id, required_name};
use crate::auth::{IssuedToken, TokenGrant, issue_token};
use crate::entities::{api_token, tenant, user};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::{date, opt_date};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantBody {
    pub name: Option<String>,
    pub multi_slot_enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    pub name: Option<String>,
    pub role: Option<String>,
    pub expires_in_seconds: Option<i64>,
    pub user_uuid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    pub email: Option<String>,
    pub role: Option<String>,
}

/// Roles a tenant user or token may hold (the operator is platform-level).
fn tenant_role(raw: &Option<String>, field: &str) -> ApiResult<Role> {
    let raw = raw
        .as_deref()
        .ok_or_else(|| ApiError::field(field, "is required"))?;
    match raw.parse::<Role>() {
        Ok(Role::Operator) | Err(_) => Err(ApiError::field(
            field,
            format!("must be owner, member, viewer or billing, got '{raw}'"),
        )),
        Ok(role) => Ok(role),
    }
}

pub fn tenant_json(t: &tenant::Model) -> Value {
    json!({
        "uuid": t.id,
        "name": t.name,
        "multiSlotEnabled": t.multi_slot_enabled,
        "creationDate": date(t.created_at),
    })
}

pub fn user_json(u: &user::Model) -> Value {
    json!({"uuid": u.id, "email": u.email, "role": u.role, "creationDate": date(u.created_at)})
}

pub fn token_json(t: &api_token::Model) -> Value {
    json!({
        "uuid": t.id,
        "name": t.name,
        "role": t.role,
        "userUuid": t.user_id,
        "creationDate": date(t.created_at),
        "expiresAt": opt_date(t.expires_at),
        "revoked": t.revoked_at.is_some(),
    })
}

/// A tenant with its owner user and a first owner token, in one transaction.
pub async fn create_tenant_in(
    db: &impl ConnectionTrait,
    state_keys: &crate::keys::JwtKeys,
    name: &str,
    multi_slot: bool,
    now: DateTime<Utc>,
) -> ApiResult<(tenant::Model, IssuedToken)> {
    let exists = tenant::Entity::find()
        .filter(tenant::Column::Name.eq(name))
        .one(db)
        .await?;
    if exists.is_some() {
        return Err(ApiError::Conflict(format!(
            "tenant '{name}' already exists"
        )));
    }
    let t = tenant::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.to_owned()),
        multi_slot_enabled: Set(multi_slot),
        created_at: Set(now),
        max_pools: Set(None),
        max_running_slots: Set(None),
        max_queued_instances: Set(None),
    }
    .insert(db)
    .await?;
    let owner = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(Some(t.id)),
        email: Set(format!("owner@{name}")),
        role: Set(Role::Owner.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let token = issue_token(
        db,
        state_keys,
        now,
        TokenGrant {
            tenant_id: Some(t.id),
            user_id: owner.id,
            name: "owner",
            role: Role::Owner,
            expires_at: None,
        },
    )
    .await?;
    Ok((t, token))
}

pub async fn create_tenant(state: &AppState, body: TenantBody) -> ApiResult<Value> {
    let name = required_name(&body.name, "name")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(ApiError::field(
            "name",
            "may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    let now = state.clock.now();
    let txn = state.write().await?;
    let (t, token) = create_tenant_in(
        &txn,
        &state.keys,
        &name,
        body.multi_slot_enabled.unwrap_or(false),
        now,
    )
    .await?;
    txn.commit().await?;
    let mut out = tenant_json(&t);
    out["ownerToken"] = json!(token.token);
    Ok(out)
}

pub async fn list_tenants(state: &AppState) -> ApiResult<Vec<Value>> {
    Ok(tenant::Entity::find()
        .order_by_asc(tenant::Column::CreatedAt)
        .all(&state.db)
        .await?
        .iter()
        .map(tenant_json)
        .collect())
}

pub async fn create_token(
    state: &AppState,
    tenant_id: Uuid,
    caller_user: Uuid,
    body: TokenBody,
) -> ApiResult<Value> {
    let name = required_name(&body.name, "name")?;
    let role = tenant_role(&body.role, "role")?;
    let now = state.clock.now();
    let expires_at = match body.expires_in_seconds {
        None => None,
        Some(s) if (1..=10 * 365 * 24 * 3600).contains(&s) => Some(now + Duration::seconds(s)),
        Some(_) => {
            return Err(ApiError::field(
                "expiresInSeconds",
                "must be between 1 and 315360000",
            ));
        }
    };
    let user_id = match body.user_uuid.as_deref() {
        None => caller_user,
        Some(raw) => {
            let id = body_id(raw, "userUuid")?;
            user::Entity::find_by_id(id)
                .filter(user::Column::TenantId.eq(tenant_id))
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("userUuid: user {id} not found")))?
                .id
        }
    };
    let issued = issue_token(
        &state.db,
        &state.keys,
        now,
        TokenGrant {
            tenant_id: Some(tenant_id),
            user_id,
            name: &name,
            role,
            expires_at,
        },
    )
    .await?;
    let mut out = token_json(&issued.row);
    out["token"] = json!(issued.token);
    Ok(out)
}

pub async fn list_tokens(state: &AppState, tenant_id: Uuid) -> ApiResult<Vec<Value>> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::TenantId.eq(tenant_id))
        .order_by_asc(api_token::Column::CreatedAt)
        .all(&state.db)
        .await?
        .iter()
        .map(token_json)
        .collect())
}

pub async fn revoke_token(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<()> {
    let found = api_token::Entity::find_by_id(id)
        .filter(api_token::Column::TenantId.eq(tenant_id))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("token"))?;
    if found.revoked_at.is_none() {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(state.clock.now()))
            .filter(api_token::Column::Id.eq(id))
            .exec(&state.db)
            .await?;
    }
    state.forget_token(id);
    Ok(())
}

pub async fn create_user(state: &AppState, tenant_id: Uuid, body: UserBody) -> ApiResult<Value> {
    let email = required_name(&body.email, "email")?.to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace)
    });
    if !valid {
        return Err(ApiError::field(
            "email",
            format!("must be an email address, got '{email}'"),
        ));
    }
    let role = tenant_role(&body.role, "role")?;
    let taken = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    if taken.is_some() {
        return Err(ApiError::Conflict(format!("user '{email}' already exists")));
    }
    let u = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(Some(tenant_id)),
        email: Set(email),
        role: Set(role.as_str().to_owned()),
        created_at: Set(state.clock.now()),
    }
    .insert(&state.db)
    .await?;
    Ok(user_json(&u))
}

pub async fn list_users(state: &AppState, tenant_id: Uuid) -> ApiResult<Vec<Value>> {
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .order_by_asc(user::Column::CreatedAt)
        .all(&state.db)
        .await?
        .iter()
        .map(user_json)
        .collect())
}
