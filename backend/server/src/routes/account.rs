//! Tenants (operator), tokens and users (tenant owner).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};

use hearth_api::accounts::{
    LoginBody, PasswordBody, Quotas, Tenant, TenantCreated, Token, TokenCreated, User,
};
use hearth_api::{ErrorBody, Page, PageQuery};

use super::{created, no_content, ok};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::query::Query;
use crate::services::accounts::{self, TenantBody, TokenBody, UserBody};
use crate::services::paging::Paging;
use crate::services::path_id;
use crate::services::quotas::{self, QuotasBody};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login)
        .service(create_tenant)
        .service(list_tenants)
        .service(get_quotas)
        .service(set_quotas)
        .service(create_token)
        .service(list_tokens)
        .service(revoke_token)
        .service(create_user)
        .service(list_users)
        .service(set_password);
}

/// Trades a user's email and dashboard password for an API token of the user's role
/// (`login: NAME`, 30 days unless `expiresInSeconds` says). No Bearer token: this is how a
/// command line signs in. Refusals answer 401 and slow the next attempts of that email and
/// that client address down, as the dashboard's sign-in form does.
#[utoipa::path(tag = "tokens", request_body = LoginBody, security(()), responses((status = 201, body = TokenCreated), (status = 400, description = "a field missing or out of range", body = ErrorBody), (status = 401, description = "email or password not accepted", body = ErrorBody)))]
#[post("/auth/token")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginBody>,
) -> ApiResult<HttpResponse> {
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    Ok(created(accounts::login(&state, body.0, &client).await?))
}

/// Creates a tenant with its owner; answers the owner's first token (operator).
#[utoipa::path(tag = "tenants", request_body = TenantBody, responses((status = 201, body = TenantCreated), (status = 409, description = "name taken", body = ErrorBody)))]
#[post("/tenants")]
async fn create_tenant(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<TenantBody>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    Ok(created(accounts::create_tenant(&state, body.0).await?))
}

/// Lists tenants in creation order, a page at a time (operator).
#[utoipa::path(tag = "tenants", params(PageQuery), responses((status = 200, body = Page<Tenant>)))]
#[get("/tenants")]
async fn list_tenants(
    state: web::Data<AppState>,
    caller: Caller,
    page: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let paging = Paging::of(&page)?;
    Ok(ok(accounts::list_tenants(&state, &paging).await?))
}

/// A tenant's quotas and what it uses of them (operator).
#[utoipa::path(tag = "tenants", responses((status = 200, body = Quotas), (status = 404, description = "unknown tenant", body = ErrorBody)))]
#[get("/tenants/{uuid}/quotas")]
async fn get_quotas(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let id = path_id(&uuid, "tenant")?;
    Ok(ok(quotas::view(&state.db, id).await?))
}

/// Sets a tenant's quotas: `maxPools`, `maxRunningSlots`, `maxQueuedInstances`, each a
/// count or null for no limit (operator).
#[utoipa::path(tag = "tenants", request_body = QuotasBody, responses((status = 200, body = Quotas), (status = 400, description = "a limit out of range", body = ErrorBody), (status = 404, description = "unknown tenant", body = ErrorBody)))]
#[put("/tenants/{uuid}/quotas")]
async fn set_quotas(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    body: JsonBody<QuotasBody>,
) -> ApiResult<HttpResponse> {
    caller.operator()?;
    let id = path_id(&uuid, "tenant")?;
    quotas::set(&state.db, id, body.0).await?;
    Ok(ok(quotas::view(&state.db, id).await?))
}

/// Issues an API token; the secret is shown only in this answer (owner).
#[utoipa::path(tag = "tokens", request_body = TokenBody, responses((status = 201, body = TokenCreated), (status = 404, description = "userUuid names no user of the tenant", body = ErrorBody)))]
#[post("/tokens")]
async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<TokenBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.owner()?;
    Ok(created(
        accounts::create_token(&state, tenant, caller.user_id, body.0).await?,
    ))
}

/// Lists the tenant's tokens in creation order, never their secrets (owner).
#[utoipa::path(tag = "tokens", params(PageQuery), responses((status = 200, body = Page<Token>)))]
#[get("/tokens")]
async fn list_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    page: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.owner()?;
    let paging = Paging::of(&page)?;
    Ok(ok(accounts::list_tokens(&state, tenant, &paging).await?))
}

/// Revokes a token at once (owner).
#[utoipa::path(tag = "tokens", responses((status = 204, description = "revoked")))]
#[delete("/tokens/{uuid}")]
async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.owner()?;
    accounts::revoke_token(&state, tenant, path_id(&uuid, "token")?).await?;
    Ok(no_content())
}

/// Adds a user to the tenant (owner).
#[utoipa::path(tag = "users", request_body = UserBody, responses((status = 201, body = User), (status = 409, description = "email taken", body = ErrorBody)))]
#[post("/users")]
async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<UserBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.owner()?;
    Ok(created(
        accounts::create_user(&state, tenant, body.0).await?,
    ))
}

/// Lists the tenant's users in creation order (owner).
#[utoipa::path(tag = "users", params(PageQuery), responses((status = 200, body = Page<User>)))]
#[get("/users")]
async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    page: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.owner()?;
    let paging = Paging::of(&page)?;
    Ok(ok(accounts::list_users(&state, tenant, &paging).await?))
}

/// Sets or resets a user's dashboard password (owner); ends the user's password sessions.
#[utoipa::path(tag = "users", request_body = PasswordBody, responses((status = 204, description = "set"), (status = 400, description = "password too short or too long", body = ErrorBody), (status = 404, description = "no such user in this tenant", body = ErrorBody)))]
#[put("/users/{uuid}/password")]
async fn set_password(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    body: JsonBody<PasswordBody>,
) -> ApiResult<HttpResponse> {
    let tenant = caller.owner()?;
    let user = path_id(&uuid, "user")?;
    crate::services::sessions::set_password(&state, tenant, user, body.0.password.as_deref())
        .await?;
    Ok(no_content())
}
