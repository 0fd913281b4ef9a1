//! API tokens: HS256 JWTs naming user, tenant, role and token id (`jti`). The signature proves
//! who issued the token; the `api_tokens` row decides whether it still counts (revocation,
//! expiry against the injected clock), so revoking takes effect on the next request.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Utc};
use hearth_core::model::Role;
use jsonwebtoken::{Algorithm, Header, Validation};

use crate::keys::JwtKeys;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::api_token;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    tid: Option<Uuid>,
    role: String,
    jti: Uuid,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    exp: Option<i64>,
}

/// Who is calling, established from a valid, unrevoked, unexpired token.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub role: Role,
    pub token_id: Uuid,
}

impl Caller {
    /// The tenant whose objects this caller works on. Operators own none.
    pub fn tenant(&self) -> ApiResult<Uuid> {
        match (self.role, self.tenant_id) {
            (Role::Operator, _) | (_, None) => Err(ApiError::Forbidden(
                "operator tokens manage the platform (tenants, profiles); use a tenant token"
                    .into(),
            )),
            (_, Some(t)) => Ok(t),
        }
    }

    /// The tenant, for a request that changes something.
    pub fn writer(&self) -> ApiResult<Uuid> {
        let tenant = self.tenant()?;
        if self.role.can_write() {
            Ok(tenant)
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} can only read",
                self.role.as_str()
            )))
        }
    }

    /// The tenant, for token and user management.
    pub fn owner(&self) -> ApiResult<Uuid> {
        let tenant = self.tenant()?;
        if self.role == Role::Owner {
            Ok(tenant)
        } else {
            Err(ApiError::Forbidden(
                "only the tenant's owner manages tokens and users".into(),
            ))
        }
    }

    pub fn operator(&self) -> ApiResult<()> {
        if self.role == Role::Operator {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this route needs an operator token".into(),
            ))
        }
    }
}

pub struct IssuedToken {
    pub row: api_token::Model,
    pub token: String,
}

/// What a new token grants, to whom.
pub struct TokenGrant<'a> {
    pub tenant_id: Option<Uuid>,
    pub user_id: Uuid,
    pub name: &'a str,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a token row and signs the matching JWT.
pub async fn issue_token(
    db: &impl ConnectionTrait,
    keys: &JwtKeys,
    now: DateTime<Utc>,
    grant: TokenGrant<'_>,
) -> ApiResult<IssuedToken> {
    let TokenGrant {
        tenant_id,
        user_id,
        name,
        role,
        expires_at,
    } = grant;
    let id = Uuid::new_v4();
    let row = api_token::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    let claims = Claims {
        sub: user_id,
        tid: tenant_id,
        role: role.as_str().to_owned(),
        jti: id,
        iat: now.timestamp(),
        exp: expires_at.map(|e| e.timestamp()),
    };
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, keys.encoding())
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(IssuedToken { row, token })
}

/// Checks a presented token: signature, then the stored row (revocation, expiry).
pub async fn authenticate(state: &AppState, raw: &str) -> ApiResult<Caller> {
    let bad = || ApiError::Unauthorized("invalid or expired token".into());
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is judged below against the injected clock and the stored row.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(raw, state.keys.decoding(), &validation)
        .map_err(|_| bad())?
        .claims;
    token_caller(state, claims.jti, claims.sub, claims.tid).await
}

/// The caller a token row stands for, if it still counts and matches the signed claims.
pub(crate) async fn token_caller(
    state: &AppState,
    token_id: Uuid,
    user: Uuid,
    tenant: Option<Uuid>,
) -> ApiResult<Caller> {
    let bad = || ApiError::Unauthorized("invalid or expired token".into());
    let row = match state.known_token(token_id) {
        Some(row) => row,
        None => {
            let row = api_token::Entity::find_by_id(token_id)
                .one(&state.db)
                .await?
                .ok_or_else(bad)?;
            state.remember_token(&row);
            row
        }
    };
    let now = state.clock.now();
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|e| e <= now) {
        return Err(bad());
    }
    if row.user_id != user || row.tenant_id != tenant {
        return Err(bad());
    }
    let role = row.role.parse::<Role>().map_err(|_| bad())?;
    Ok(Caller {
        user_id: row.user_id,
        tenant_id: row.tenant_id,
        role,
        token_id: row.id,
    })
}

/// What an event-stream ticket says: the token it was obtained with (checked again when it
/// is used, so revoking the token voids its tickets) and until when it may be used. Its
/// `jti`-less shape is no API token: `authenticate` refuses it.
#[derive(Debug, Serialize, Deserialize)]
struct TicketClaims {
    sub: Uuid,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    tid: Option<Uuid>,
    tok: Uuid,
    typ: String,
    exp: i64,
}

const TICKET_TYPE: &str = "events";
/// How long a ticket may be used to open an event stream (not how long the stream lasts).
pub const TICKET_SECONDS: i64 = 60;

/// Signs a short-lived ticket for `GET /events?ticket=`, for clients that cannot send
/// headers (a browser's `EventSource`).
pub fn issue_ticket(state: &AppState, caller: &Caller) -> ApiResult<(String, DateTime<Utc>)> {
    let expires = state.clock.now() + chrono::Duration::seconds(TICKET_SECONDS);
    let claims = TicketClaims {
        sub: caller.user_id,
        tid: caller.tenant_id,
        tok: caller.token_id,
        typ: TICKET_TYPE.into(),
        exp: expires.timestamp(),
    };
    let ticket = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        state.keys.encoding(),
    )
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((ticket, expires))
}

/// Checks a ticket: signature, kind, expiry against the injected clock, then the token it
/// came from.
pub async fn ticket_caller(state: &AppState, raw: &str) -> ApiResult<Caller> {
    let bad = || ApiError::Unauthorized("invalid or expired ticket".into());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<TicketClaims>(raw, state.keys.decoding(), &validation)
        .map_err(|_| bad())?
        .claims;
    if claims.typ != TICKET_TYPE || claims.exp <= state.clock.now().timestamp() {
        return Err(bad());
    }
    token_caller(state, claims.tok, claims.sub, claims.tid)
        .await
        .map_err(|e| match e {
            ApiError::Unauthorized(_) => bad(),
            other => other,
        })
}

/// `Authorization: Bearer <t>` or the raw `Authorization: <t>` the Qarnot SDK sends.
pub(crate) fn presented_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = presented_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            let token = token
                .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?;
            authenticate(&state, &token).await
        })
    }
}

/// The role claim of node tokens. No `api_tokens` row ever carries it, so a node token is
/// refused by every user route; only `/agent/v1` accepts it.
const NODE_ROLE: &str = "node";

/// Signs a node's token; `token_id` is stored on the node row (rotating it revokes the token).
pub fn node_token(
    keys: &JwtKeys,
    node_id: Uuid,
    tenant_id: Uuid,
    token_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let claims = Claims {
        sub: node_id,
        tid: Some(tenant_id),
        role: NODE_ROLE.to_owned(),
        jti: token_id,
        iat: now.timestamp(),
        exp: None,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, keys.encoding())
        .map_err(|e| ApiError::Internal(e.into()))
}

/// An agent calling in with a valid node token.
#[derive(Clone, Debug)]
pub struct NodeCaller {
    pub node: crate::entities::node::Model,
}

async fn authenticate_node(state: &AppState, raw: &str) -> ApiResult<NodeCaller> {
    let bad = || ApiError::Unauthorized("invalid node token".into());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(raw, state.keys.decoding(), &validation)
        .map_err(|_| bad())?
        .claims;
    if claims.role != NODE_ROLE {
        return Err(bad());
    }
    let node = crate::entities::node::Entity::find_by_id(claims.sub)
        .one(&state.db)
        .await?
        .ok_or_else(bad)?;
    if node.token_id != Some(claims.jti) || Some(node.tenant_id) != claims.tid {
        return Err(bad());
    }
    let node_state = node
        .state
        .parse::<hearth_core::model::NodeState>()
        .map_err(|_| bad())?;
    if node_state.is_terminal() {
        return Err(ApiError::Gone(format!("node is {}", node.state)));
    }
    Ok(NodeCaller { node })
}

impl FromRequest for NodeCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = presented_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            let token = token
                .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?;
            authenticate_node(&state, &token).await
        })
    }
}
