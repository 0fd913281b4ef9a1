//! `/budgets`: a tenant's spending limits, with where each stands in its current period.
//! Read by the roles that read billing (owner, billing); written by owner and billing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use hearth_core::model::Role;
use uuid::Uuid;

use super::{no_content, ok};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::services::paging::Paging;
use crate::services::{budgets, idempotency, path_id};
use crate::state::AppState;
use hearth_api::budgets::{Budget, BudgetBody};
use hearth_api::{Page, PageQuery};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_budget)
        .service(list_budgets)
        .service(get_budget)
        .service(update_budget)
        .service(delete_budget);
}

fn reader(caller: &Caller) -> ApiResult<Uuid> {
    let tenant = caller.tenant()?;
    if caller.role.can_read_billing() {
        Ok(tenant)
    } else {
        Err(ApiError::Forbidden(format!(
            "role {} cannot read budgets (owner or billing)",
            caller.role.as_str()
        )))
    }
}

fn writer(caller: &Caller) -> ApiResult<Uuid> {
    let tenant = caller.tenant()?;
    if matches!(caller.role, Role::Owner | Role::Billing) {
        Ok(tenant)
    } else {
        Err(ApiError::Forbidden(format!(
            "role {} cannot change budgets (owner or billing)",
            caller.role.as_str()
        )))
    }
}

/// Creates a budget; accepts `Idempotency-Key`.
#[utoipa::path(
    tag = "budgets",
    request_body = BudgetBody,
    responses(
        (status = 201, body = Budget),
        (status = 400, description = "invalid field (named)"),
        (status = 403, description = "role without budget access"),
        (status = 409, description = "the tenant holds the most budgets it may"),
        (status = 422, description = "wrong JSON shape (path named)")
    )
)]
#[post("/budgets")]
async fn create_budget(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: JsonBody<BudgetBody>,
) -> ApiResult<HttpResponse> {
    let tenant = writer(&caller)?;
    let JsonBody(budget_body, bytes) = body;
    idempotency::once(&state, &req, tenant, "POST /budgets", &bytes, || async {
        let row = budgets::create(&state, tenant, budget_body).await?;
        let shown = budgets::show(&state, &row).await?;
        Ok((StatusCode::CREATED, crate::services::json_of(&shown)))
    })
    .await
}

/// The tenant's budgets in creation order, a page at a time.
#[utoipa::path(
    tag = "budgets",
    params(PageQuery),
    responses(
        (status = 200, body = Page<Budget>),
        (status = 400, description = "bad limit or pageToken"),
        (status = 403, description = "role without budget access")
    )
)]
#[get("/budgets")]
async fn list_budgets(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let tenant = reader(&caller)?;
    let paging = Paging::of(&query)?;
    Ok(ok(budgets::page(&state, tenant, &paging).await?))
}

/// One budget, with consumed, remaining and forecast for its current period.
#[utoipa::path(
    tag = "budgets",
    responses((status = 200, body = Budget), (status = 404, description = "not found"))
)]
#[get("/budgets/{uuid}")]
async fn get_budget(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = reader(&caller)?;
    let row = budgets::load(&state.db, tenant, path_id(&uuid, "budget")?).await?;
    Ok(ok(budgets::show(&state, &row).await?))
}

/// Replaces a budget's fields.
#[utoipa::path(
    tag = "budgets",
    request_body = BudgetBody,
    responses(
        (status = 200, body = Budget),
        (status = 400, description = "invalid field (named)"),
        (status = 404, description = "not found")
    )
)]
#[put("/budgets/{uuid}")]
async fn update_budget(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
    body: JsonBody<BudgetBody>,
) -> ApiResult<HttpResponse> {
    let tenant = writer(&caller)?;
    let row = budgets::update(&state, tenant, path_id(&uuid, "budget")?, body.0).await?;
    Ok(ok(budgets::show(&state, &row).await?))
}

/// Deletes a budget (what it blocked is unblocked at once).
#[utoipa::path(
    tag = "budgets",
    responses((status = 204, description = "deleted"), (status = 404, description = "not found"))
)]
#[delete("/budgets/{uuid}")]
async fn delete_budget(
    state: web::Data<AppState>,
    caller: Caller,
    uuid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = writer(&caller)?;
    budgets::delete(&state, tenant, path_id(&uuid, "budget")?).await?;
    Ok(no_content())
}
