//! `GET /billing/usage`: what a tenant's nodes cost over a period, grouped, as JSON or CSV.

use actix_web::{HttpResponse, get, web};

use hearth_api::billing::{UsageQuery, UsageReport};
use hearth_api::{ErrorBody, PageQuery};

use super::ok;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::services::billing::{self, GroupBy, Scope, UsageRequest};
use crate::services::body_id;
use crate::services::paging::Paging;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(usage);
}

/// Usage and cost over `[from, to)`: one line per group with slot-seconds (busy and idle)
/// and their cost at the prices recorded on the nodes' intervals, plus totals. Owner,
/// billing and operator roles.
#[utoipa::path(
    tag = "billing",
    params(UsageQuery),
    responses(
        (status = 200, description = "a page of the report's lines with its totals (or, with format=csv, every line as CSV)", content(
            (UsageReport = "application/json"),
            (String = "text/csv")
        )),
        (status = 400, description = "bad period, groupBy, format, tenant, limit or pageToken", body = ErrorBody),
        (status = 403, description = "role without billing access", body = ErrorBody),
        (status = 422, description = "more lines than a report holds", body = ErrorBody)
    )
)]
#[get("/billing/usage")]
async fn usage(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<UsageQuery>,
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
        (Some("all"), Some(_)) => {
            return Err(ApiError::Forbidden(
                "only the operator reports every tenant".into(),
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
    let group_by = GroupBy::parse(
        query
            .group_by
            .as_deref()
            .filter(|g| !g.is_empty())
            .unwrap_or("pool"),
    )?;
    let csv = match query
        .format
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or("json")
    {
        "json" => false,
        "csv" => true,
        other => {
            return Err(ApiError::field(
                "format",
                format!("must be json or csv, got '{other}'"),
            ));
        }
    };
    let paging = Paging::of(&PageQuery {
        limit: query.limit,
        page_token: query.page_token.clone(),
    })?;
    // A page token freezes "now" at the first page's instant, so that the pages of one
    // report come from the same figures (open intervals would grow between pages).
    let (offset, now) = match paging.offset_cursor()? {
        None => (0, state.clock.now()),
        Some((offset, at)) => {
            let now = state.clock.now();
            let at = chrono::DateTime::from_timestamp_millis(at).map_or(now, |at| at.min(now));
            (offset, at)
        }
    };
    let (from, to) = billing::period(query.from.as_deref(), query.to.as_deref(), now)?;
    billing::check_retained(
        from,
        to,
        group_by,
        billing::raw_horizon(now, state.settings.usage_retention_days),
    )?;
    let request = UsageRequest {
        scope,
        from,
        to,
        group_by,
        now,
        currency: state.settings.currency.clone(),
    };
    let mut report = billing::usage(&state.db, &request).await?;
    if !csv {
        // Every page prices the whole report and shows its slice: the rounding that makes
        // lines add up to the totals is the same on every page.
        let total = report.items.len();
        let end = offset.saturating_add(paging.limit).min(total);
        report.items = report.items.drain(offset.min(total)..end).collect();
        report.next_page_token = (end < total).then(|| format!("{end}-{}", now.timestamp_millis()));
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
