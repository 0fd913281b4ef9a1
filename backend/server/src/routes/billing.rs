//! `GET /billing/usage`: what a tenant's nodes cost over a period, grouped, as JSON or CSV.

use actix_web::{HttpResponse, get, web};

use super::ok;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::services::billing::{self, GroupBy, Scope, UsageRequest};
use crate::services::body_id;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(usage);
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct UsageQuery {
    /// Start of the period (RFC 3339, or YYYY-MM-DD for its UTC midnight); default: the
    /// first of the current month.
    from: Option<String>,
    /// End of the period, excluded; default: now. At most 366 days after `from`.
    to: Option<String>,
    /// pool (default), profile, day, task or node.
    group_by: Option<String>,
    /// json (default) or csv.
    format: Option<String>,
    /// Operator only: `all`, or one tenant's uuid.
    tenant: Option<String>,
}

/// Usage and cost over `[from, to)`: one line per group with slot-seconds (busy and idle)
/// and their cost at the prices recorded on the nodes' intervals, plus totals. Owner,
/// billing and operator roles.
#[utoipa::path(
    tag = "billing",
    params(UsageQuery),
    responses(
        (status = 200, description = "the report (JSON, or CSV with format=csv)"),
        (status = 400, description = "bad period, groupBy, format or tenant"),
        (status = 403, description = "role without billing access"),
        (status = 422, description = "more lines than a report holds")
    )
)]
#[get("/billing/usage")]
async fn usage(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<UsageQuery>,
) -> ApiResult<HttpResponse> {
    if !caller.role.can_read_billing() {
        return Err(ApiError::Forbidden(format!(
            "role {} cannot read billing (owner, billing or operator)",
            caller.role.as_str()
        )));
    }
    let scope = match (
        query.tenant.as_deref().filter(|t| !t.is_empty()),
        caller.tenant_id,
    ) {
        (Some("all"), None) => Scope::All,
        (Some(t), None) => Scope::Tenant(body_id(t, "tenant")?),
        (None, Some(own)) => Scope::Tenant(own),
        (None, None) => {
            return Err(ApiError::field(
                "tenant",
                "is required for the operator: 'all' or a tenant's uuid",
            ));
        }
        (Some(t), Some(own)) => {
            if body_id(t, "tenant")? != own {
                return Err(ApiError::Forbidden(
                    "only the operator reports other tenants".into(),
                ));
            }
            Scope::Tenant(own)
        }
    };
    let group_by = GroupBy::parse(query.group_by.as_deref().unwrap_or("pool"))?;
    let csv = match query.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => {
            return Err(ApiError::field(
                "format",
                format!("must be json or csv, got '{other}'"),
            ));
        }
    };
    let now = state.clock.now();
    let (from, to) = billing::period(query.from.as_deref(), query.to.as_deref(), now)?;
    let request = UsageRequest {
        scope,
        from,
        to,
        group_by,
        now,
        currency: state.settings.currency.clone(),
    };
    let report = billing::usage(&state.db, &request).await?;
    if !csv {
        return Ok(ok(report));
    }
    let file = format!(
        "usage-{}-{}-by-{}.csv",
        from.format("%Y%m%dT%H%M%SZ"),
        to.format("%Y%m%dT%H%M%SZ"),
        group_by.as_str()
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        ))
        .body(billing::csv(&report, group_by, scope)))
}
