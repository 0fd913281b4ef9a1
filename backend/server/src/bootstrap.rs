//! First start: the operator, the tenant `default` (multi-slot entitled) with its owner, and
//! the profile catalogue. Later starts reuse all of it; a token file that is missing or no
//! longer valid is replaced by a freshly issued token.

use std::path::Path;

use hearth_core::model::Role;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::auth::{TokenGrant, authenticate, issue_token};
use crate::entities::{tenant, user};
use crate::error::ApiError;
use crate::services::{accounts, profiles};
use crate::state::AppState;

pub const OWNER_TOKEN_FILE: &str = "owner.token";
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";
pub const DEFAULT_TENANT: &str = "default";

pub struct Bootstrapped {
    pub owner_token: String,
    pub operator_token: String,
}

pub async fn run(state: &AppState) -> anyhow::Result<Bootstrapped> {
    let now = state.clock.now();
    for spec in profiles::default_catalogue() {
        if profiles::find(&state.db, &spec.name).await.is_err() {
            profiles::create(&state.db, spec, now)
                .await
                .map_err(to_anyhow)?;
        }
    }

    let operator_token = match reuse(state, OPERATOR_TOKEN_FILE, Role::Operator).await {
        Some(t) => t,
        None => {
            let operator = match user::Entity::find()
                .filter(user::Column::Role.eq(Role::Operator.as_str()))
                .one(&state.db)
                .await?
            {
                Some(u) => u,
                None => {
                    user::ActiveModel {
                        id: Set(Uuid::new_v4()),
                        tenant_id: Set(None),
                        email: Set("operator@hearth".into()),
                        role: Set(Role::Operator.as_str().to_owned()),
                        created_at: Set(now),
                    }
                    .insert(&state.db)
                    .await?
                }
            };
            let issued = issue_token(
                &state.db,
                &state.keys,
                now,
                TokenGrant {
                    tenant_id: None,
                    user_id: operator.id,
                    name: "operator",
                    role: Role::Operator,
                    expires_at: None,
                },
            )
            .await
            .map_err(to_anyhow)?;
            write_secret(&state.data_dir().join(OPERATOR_TOKEN_FILE), &issued.token)?;
            issued.token
        }
    };

    let owner_token = match reuse(state, OWNER_TOKEN_FILE, Role::Owner).await {
        Some(t) => t,
        None => {
            let existing = tenant::Entity::find()
                .filter(tenant::Column::Name.eq(DEFAULT_TENANT))
                .one(&state.db)
                .await?;
            let token = match existing {
                None => {
                    let txn = state.write().await?;
                    let (_, issued) =
                        accounts::create_tenant_in(&txn, &state.keys, DEFAULT_TENANT, true, now)
                            .await
                            .map_err(to_anyhow)?;
                    txn.commit().await?;
                    issued.token
                }
                Some(t) => {
                    let owner = user::Entity::find()
                        .filter(user::Column::TenantId.eq(t.id))
                        .filter(user::Column::Role.eq(Role::Owner.as_str()))
                        .one(&state.db)
                        .await?
                        .ok_or_else(|| {
                            anyhow::anyhow!("tenant '{DEFAULT_TENANT}' has no owner user")
                        })?;
                    issue_token(
                        &state.db,
                        &state.keys,
                        now,
                        TokenGrant {
                            tenant_id: Some(t.id),
                            user_id: owner.id,
                            name: "owner",
                            role: Role::Owner,
                            expires_at: None,
                        },
                    )
                    .await
                    .map_err(to_anyhow)?
                    .token
                }
            };
            write_secret(&state.data_dir().join(OWNER_TOKEN_FILE), &token)?;
            token
        }
    };
    Ok(Bootstrapped {
        owner_token,
        operator_token,
    })
}

/// The token in `file`, if it still authenticates with the expected role.
async fn reuse(state: &AppState, file: &str, role: Role) -> Option<String> {
    let token = std::fs::read_to_string(state.data_dir().join(file)).ok()?;
    let token = token.trim().to_owned();
    let caller = authenticate(state, &token).await.ok()?;
    (caller.role == role).then_some(token)
}

fn to_anyhow(e: ApiError) -> anyhow::Error {
    match e {
        ApiError::Internal(e) => e,
        other => anyhow::anyhow!(other.to_string()),
    }
}

/// Writes a secret readable by its owner only.
pub fn write_secret(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The JWT signing secret: `HEARTH_JWT_SECRET` (production, shared by replicas), else a
/// random secret kept in the data directory.
pub fn signing_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(s) = std::env::var("HEARTH_JWT_SECRET") {
        if s.len() >= 32 {
            return Ok(s.into_bytes());
        }
        anyhow::bail!("HEARTH_JWT_SECRET must be at least 32 characters");
    }
    let path = data_dir.join("jwt.secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if s.len() >= 32 {
            return Ok(s.as_bytes().to_vec());
        }
    }
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_secret(&path, &secret)?;
    Ok(secret.into_bytes())
}
