//! The dashboard's sign-in: passwords (argon2id) and browser sessions.
//!
//! A session is a random 256-bit secret in an HttpOnly, SameSite=Strict cookie; its row is
//! named by the secret's SHA-256, so the table holds nothing a reader could present. It
//! ends at sign-out, after [`IDLE`] without a request, or [`MAX_AGE`] after sign-in. A
//! session opened with an API token stands for that token: revoking it ends the session.
//! Refused sign-ins are slowed down per email and per client address (`crate::throttle::Throttle`).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use hearth_core::model::Role;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::OnConflict,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::{self, Caller};
use crate::entities::{ui_session, user, user_password};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A session ends after this long without a request.
pub const IDLE: chrono::Duration = chrono::Duration::hours(12);
/// A session ends this long after sign-in, however busy.
pub const MAX_AGE: chrono::Duration = chrono::Duration::days(7);
/// `last_seen_at` is written at most this often (a page view is not a write).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);
pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 256;
/// Users sharing one email (in different tenants) tried per password sign-in, at most.
const CANDIDATES: u64 = 8;

/// What a sign-in form presents.
pub enum Credentials<'a> {
    Password { email: &'a str, password: &'a str },
    Token(&'a str),
}

/// A sign-in that did not open a session. `Refused` is all the caller learns.
#[derive(Debug)]
pub enum SignInError {
    Refused,
    Failed(ApiError),
}

impl From<ApiError> for SignInError {
    fn from(e: ApiError) -> Self {
        SignInError::Failed(e)
    }
}

impl From<sea_orm::DbErr> for SignInError {
    fn from(e: sea_orm::DbErr) -> Self {
        SignInError::Failed(e.into())
    }
}

/// A new session: `secret` goes in the cookie and nowhere else.
pub struct Opened {
    pub secret: String,
    pub max_age: chrono::Duration,
}

/// Checks the credentials (after the throttle's delay) and opens a session.
pub async fn sign_in(
    state: &AppState,
    credentials: Credentials<'_>,
    client: &str,
) -> Result<Opened, SignInError> {
    let email = match &credentials {
        Credentials::Password { email, .. } => *email,
        Credentials::Token(_) => "",
    };
    let (user_id, tenant_id, token_id) = throttled(state, email, client, async {
        Ok(match credentials {
            Credentials::Token(raw) => auth::authenticate(state, raw.trim())
                .await
                .map(|c| (c.user_id, c.tenant_id, Some(c.token_id)))
                .ok(),
            Credentials::Password { email, password } => password_user(state, email, password)
                .await?
                .map(|u| (u.id, u.tenant_id, None)),
        })
    })
    .await?;
    let secret = new_secret();
    let now = state.clock.now();
    // Sessions nobody signed out of end here: each sign-in sweeps the ended ones, so the
    // table holds live sessions plus those ended since the last sign-in.
    ui_session::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(ui_session::Column::ExpiresAt.lte(now))
                .add(ui_session::Column::LastSeenAt.lte(now - IDLE)),
        )
        .exec(&state.db)
        .await?;
    ui_session::ActiveModel {
        id: Set(digest(&secret)),
        user_id: Set(user_id),
        tenant_id: Set(tenant_id),
        token_id: Set(token_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + MAX_AGE),
    }
    .insert(&state.db)
    .await?;
    Ok(Opened {
        secret,
        max_age: MAX_AGE,
    })
}

/// The user an email and password name, after the throttle's delay; a refusal counts
/// against the email and the client address (as the dashboard's sign-in form does).
pub async fn checked_user(
    state: &AppState,
    email: &str,
    password: &str,
    client: &str,
) -> Result<user::Model, SignInError> {
    throttled(state, email, client, password_user(state, email, password)).await
}

/// Runs one sign-in `attempt` after the delay earlier refusals of `email` or `client`
/// earned; a refusal (`None`) is counted against both, a success forgets the email's.
async fn throttled<T>(
    state: &AppState,
    email: &str,
    client: &str,
    attempt: impl std::future::Future<Output = Result<Option<T>, SignInError>>,
) -> Result<T, SignInError> {
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let client_key = format!("client:{client}");
    let delay = state
        .sign_ins
        .delay(&email_key)
        .max(state.sign_ins.delay(&client_key));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(found) = attempt.await? else {
        state.sign_ins.failed(&email_key);
        state.sign_ins.failed(&client_key);
        return Err(SignInError::Refused);
    };
    state.sign_ins.succeeded(&email_key);
    Ok(found)
}

/// The user an email and password name, if the password matches one of the users with
/// that email. Always runs one hash verification, so a missing user answers as slowly as
/// a wrong password.
async fn password_user(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<user::Model>, SignInError> {
    let users = user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .order_by_asc(user::Column::CreatedAt)
        .limit(CANDIDATES)
        .all(&state.db)
        .await?;
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let hashes = user_password::Entity::find()
        .filter(user_password::Column::UserId.is_in(ids))
        .all(&state.db)
        .await?;
    let mut candidates: Vec<(user::Model, String)> = users
        .into_iter()
        .filter_map(|u| {
            let hash = hashes.iter().find(|h| h.user_id == u.id)?.hash.clone();
            Some((u, hash))
        })
        .collect();
    if candidates.is_empty() {
        // Same cost as a real check, against a hash that matches nothing.
        let _ = verify(password.to_owned(), dummy_hash().to_owned()).await;
        return Ok(None);
    }
    for (u, hash) in candidates.drain(..) {
        if verify(password.to_owned(), hash).await? {
            return Ok(Some(u));
        }
    }
    Ok(None)
}

/// The caller a session cookie stands for; a session past its time is deleted.
pub async fn caller(state: &AppState, secret: &str) -> ApiResult<Caller> {
    let ended = || ApiError::Unauthorized("no session, or it ended: sign in again".into());
    if secret.is_empty() || secret.len() > 128 {
        return Err(ended());
    }
    let id = digest(secret);
    let row = ui_session::Entity::find_by_id(id.clone())
        .one(&state.db)
        .await?
        .ok_or_else(ended)?;
    let now = state.clock.now();
    if !alive(&row, now) {
        ui_session::Entity::delete_by_id(id).exec(&state.db).await?;
        return Err(ended());
    }
    let caller = match row.token_id {
        Some(token) => auth::token_caller(state, token, row.user_id, row.tenant_id)
            .await
            .map_err(|_| ended())?,
        None => {
            let u = user::Entity::find_by_id(row.user_id)
                .one(&state.db)
                .await?
                .ok_or_else(ended)?;
            if u.tenant_id != row.tenant_id {
                return Err(ended());
            }
            Caller {
                user_id: u.id,
                tenant_id: u.tenant_id,
                role: u.role.parse::<Role>().map_err(|_| ended())?,
                // No API token behind a password session (it cannot obtain tickets).
                token_id: Uuid::nil(),
            }
        }
    };
    if now - row.last_seen_at >= TOUCH_EVERY {
        let mut active: ui_session::ActiveModel = row.into();
        active.last_seen_at = Set(now);
        active.update(&state.db).await?;
    }
    Ok(caller)
}

/// Whether a session may still be used at `now`.
pub fn alive(row: &ui_session::Model, now: DateTime<Utc>) -> bool {
    now < row.expires_at && now < row.last_seen_at + IDLE
}

/// Ends the session the cookie names (nothing happens for an unknown one).
pub async fn sign_out(state: &AppState, secret: &str) -> ApiResult<()> {
    ui_session::Entity::delete_by_id(digest(secret))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Sets a user's password (owner of the user's tenant) and ends that user's password
/// sessions, so a reset locks out whoever knew the old one.
pub async fn set_password(
    state: &AppState,
    tenant_id: Uuid,
    user_id: Uuid,
    password: Option<&str>,
) -> ApiResult<()> {
    let password = password.ok_or_else(|| ApiError::field("password", "is required"))?;
    let length = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&length) {
        return Err(ApiError::field(
            "password",
            format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, got {length}"),
        ));
    }
    let target = user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
        .filter(|u| u.tenant_id == Some(tenant_id))
        .ok_or_else(|| ApiError::not_found("user"))?;
    let hash = hash(password.to_owned()).await?;
    let now = state.clock.now();
    user_password::Entity::insert(user_password::ActiveModel {
        user_id: Set(target.id),
        hash: Set(hash),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(user_password::Column::UserId)
            .update_columns([
                user_password::Column::Hash,
                user_password::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&state.db)
    .await?;
    ui_session::Entity::delete_many()
        .filter(ui_session::Column::UserId.eq(target.id))
        .filter(ui_session::Column::TokenId.is_null())
        .exec(&state.db)
        .await?;
    Ok(())
}

fn new_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        use rand::Rng;
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(ApiError::Internal)
}

async fn verify(password: String, hash: String) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))
}

/// A valid argon2id hash of a random password nobody knows, computed once.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        use rand::Rng;
        let salt_bytes: [u8; 16] = rand::rng().random();
        let secret: [u8; 16] = rand::rng().random();
        SaltString::encode_b64(&salt_bytes)
            .ok()
            .and_then(|salt| {
                argon2::Argon2::default()
                    .hash_password(&secret, &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_old() {
        let t0 = Utc::now();
        let row = ui_session::Model {
            id: String::new(),
            user_id: Uuid::nil(),
            tenant_id: None,
            token_id: None,
            created_at: t0,
            last_seen_at: t0,
            expires_at: t0 + MAX_AGE,
        };
        assert!(alive(&row, t0 + chrono::Duration::hours(11)));
        assert!(!alive(&row, t0 + IDLE));
        let busy = ui_session::Model {
            last_seen_at: t0 + MAX_AGE - chrono::Duration::minutes(1),
            ..row.clone()
        };
        assert!(!alive(&busy, t0 + MAX_AGE));
    }

    #[test]
    fn hashes_verify_their_password_only() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = hash("correct horse battery".into()).await.unwrap();
            assert!(h.starts_with("$argon2id$"));
            assert!(
                verify("correct horse battery".into(), h.clone())
                    .await
                    .unwrap()
            );
            assert!(!verify("wrong horse battery".into(), h).await.unwrap());
            assert!(!verify("x".into(), dummy_hash().to_owned()).await.unwrap());
        });
    }
}
