//! Tenants (operator), users and API tokens (tenant owner).

use chrono::{DateTime, Duration, Utc};
use hearth_api::Page;
pub use hearth_api::accounts::{LoginBody, TenantBody, TokenBody, UserBody};
use hearth_api::accounts::{Tenant, TenantCreated, Token, TokenCreated, User};
use hearth_core::model::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::keyset::Cursor;
use super::paging::{Paging, creation_page, page_of};

use super::{body_id, required_name};
use crate::auth::{IssuedToken, TokenGrant, issue_token};
use crate::entities::{api_token, tenant, user};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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

pub fn tenant_view(t: &tenant::Model) -> Tenant {
    Tenant {
        uuid: t.id,
        name: t.name.clone(),
        multi_slot_enabled: t.multi_slot_enabled,
        creation_date: t.created_at,
    }
}

pub fn user_view(u: &user::Model) -> User {
    User {
        uuid: u.id,
        email: u.email.clone(),
        role: u.role.clone(),
        creation_date: u.created_at,
    }
}

pub fn token_view(t: &api_token::Model) -> Token {
    Token {
        uuid: t.id,
        name: t.name.clone(),
        role: t.role.clone(),
        user_uuid: t.user_id,
        creation_date: t.created_at,
        expires_at: t.expires_at,
        revoked: t.revoked_at.is_some(),
    }
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

pub async fn create_tenant(state: &AppState, body: TenantBody) -> ApiResult<TenantCreated> {
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
    Ok(TenantCreated {
        tenant: tenant_view(&t),
        owner_token: token.token,
    })
}

pub async fn list_tenants(state: &AppState, paging: &Paging) -> ApiResult<Page<Tenant>> {
    let (rows, next) = creation_page(
        &state.db,
        tenant::Entity::find(),
        tenant::Column::CreatedAt,
        tenant::Column::Id,
        |t| Cursor {
            created_at: t.created_at,
            id: t.id,
        },
        paging,
    )
    .await?;
    Ok(page_of(&rows, next, tenant_view))
}

pub async fn create_token(
    state: &AppState,
    tenant_id: Uuid,
    caller_user: Uuid,
    body: TokenBody,
) -> ApiResult<TokenCreated> {
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
    Ok(TokenCreated {
        token_info: token_view(&issued.row),
        token: issued.token,
    })
}

/// Login tokens a user keeps at most: a login beyond them deletes the oldest.
pub const LOGIN_TOKENS_PER_USER: usize = 10;
/// A login token's life when the login does not say.
pub const LOGIN_TOKEN_DAYS: i64 = 30;
const LOGIN_PREFIX: &str = "login: ";

/// `POST /auth/token`: checks an email and password (throttled as the dashboard's sign-in)
/// and issues a token of the user's role, named `login: NAME`. The user's login tokens are
/// bounded: one per name (a new login under a name replaces the old token), expired ones
/// are deleted, and at most [`LOGIN_TOKENS_PER_USER`] stay (the oldest go first).
pub async fn login(state: &AppState, body: LoginBody, client: &str) -> ApiResult<TokenCreated> {
    let email = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::field("email", "is required"))?;
    if email.chars().count() > 256 {
        return Err(ApiError::field("email", "must be at most 256 characters"));
    }
    let password = body
        .password
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::field("password", "is required"))?;
    if password.chars().count() > crate::services::sessions::PASSWORD_MAX {
        return Err(ApiError::field(
            "password",
            format!(
                "must be at most {} characters",
                crate::services::sessions::PASSWORD_MAX
            ),
        ));
    }
    let name = match body.name.as_deref().map(str::trim) {
        None => "hearth".to_owned(),
        Some("") => return Err(ApiError::field("name", "must not be empty")),
        Some(n) if n.chars().count() > 200 => {
            return Err(ApiError::field("name", "must be at most 200 characters"));
        }
        Some(n) => n.to_owned(),
    };
    let life = match body.expires_in_seconds {
        None => Duration::days(LOGIN_TOKEN_DAYS),
        Some(s) if (1..=365 * 24 * 3600).contains(&s) => Duration::seconds(s),
        Some(_) => {
            return Err(ApiError::field(
                "expiresInSeconds",
                "must be between 1 and 31536000 (one year)",
            ));
        }
    };
    let user = match crate::services::sessions::checked_user(state, email, password, client).await {
        Ok(user) => user,
        Err(crate::services::sessions::SignInError::Refused) => {
            return Err(ApiError::Unauthorized(
                "email or password not accepted".into(),
            ));
        }
        Err(crate::services::sessions::SignInError::Failed(e)) => return Err(e),
    };
    let role = user
        .role
        .parse::<Role>()
        .map_err(|_| ApiError::Unauthorized("email or password not accepted".into()))?;
    let now = state.clock.now();
    let full_name = format!("{LOGIN_PREFIX}{name}");
    let txn = state.db.begin().await?;
    let earlier = api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user.id))
        .filter(api_token::Column::Name.starts_with(LOGIN_PREFIX))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(&txn)
        .await?;
    let mut kept = 0usize;
    let mut gone = Vec::new();
    for t in &earlier {
        let ended = t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now);
        // The new token is one of the bounded number.
        if ended || t.name == full_name || kept + 1 >= LOGIN_TOKENS_PER_USER {
            gone.push(t.id);
        } else {
            kept += 1;
        }
    }
    if !gone.is_empty() {
        api_token::Entity::delete_many()
            .filter(api_token::Column::Id.is_in(gone.clone()))
            .exec(&txn)
            .await?;
    }
    let issued = issue_token(
        &txn,
        &state.keys,
        now,
        TokenGrant {
            tenant_id: user.tenant_id,
            user_id: user.id,
            name: &full_name,
            role,
            expires_at: Some(now + life),
        },
    )
    .await?;
    txn.commit().await?;
    for id in gone {
        state.forget_token(id);
    }
    Ok(TokenCreated {
        token_info: token_view(&issued.row),
        token: issued.token,
    })
}

pub async fn list_tokens(
    state: &AppState,
    tenant_id: Uuid,
    paging: &Paging,
) -> ApiResult<Page<Token>> {
    let (rows, next) = creation_page(
        &state.db,
        api_token::Entity::find().filter(api_token::Column::TenantId.eq(tenant_id)),
        api_token::Column::CreatedAt,
        api_token::Column::Id,
        |t| Cursor {
            created_at: t.created_at,
            id: t.id,
        },
        paging,
    )
    .await?;
    Ok(page_of(&rows, next, token_view))
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

pub async fn create_user(state: &AppState, tenant_id: Uuid, body: UserBody) -> ApiResult<User> {
    let email = body
        .email
        .as_deref()
        .ok_or_else(|| ApiError::field("email", "is required"))?;
    // The document's pattern for `email`: `^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$`.
    let made_of = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    let valid = email.len() <= 256
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| made_of(local, "._%+-") && made_of(domain, ".-"));
    if !valid {
        return Err(ApiError::field(
            "email",
            format!(
                "must be an email address (letters, digits and ._%+- before the @, letters, digits, . and - after it; at most 256), got '{}'",
                email.escape_debug()
            ),
        ));
    }
    let email = email.to_lowercase();
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
    Ok(user_view(&u))
}

pub async fn list_users(
    state: &AppState,
    tenant_id: Uuid,
    paging: &Paging,
) -> ApiResult<Page<User>> {
    let (rows, next) = creation_page(
        &state.db,
        user::Entity::find().filter(user::Column::TenantId.eq(tenant_id)),
        user::Column::CreatedAt,
        user::Column::Id,
        |u| Cursor {
            created_at: u.created_at,
            id: u.id,
        },
        paging,
    )
    .await?;
    Ok(page_of(&rows, next, user_view))
}
