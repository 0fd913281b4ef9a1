//! The billing page's reads: one period's usage report by day (the chart) and by the chosen
//! grouping (the table), and the tenant's budgets; and the page's downloads of the same
//! report. The rules are the API's: `services::billing` prices the report, the roles that
//! read `GET /billing/usage` read this page, and the operator sees every tenant.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use hearth_api::billing::UsageLine;
use hearth_ui::model::{Billing, BillingQuery, BudgetLine, CostLine, DayCost};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::services::billing::{self, GroupBy, Scope, UsageRequest};
use crate::services::{budgets, sessions};
use crate::state::AppState;

/// The page's period: first and last day, both inclusive (UTC).
struct Days {
    first: NaiveDate,
    last: NaiveDate,
}

impl Days {
    /// As the page's query has them; empty: this month so far.
    fn read(from: &str, to: &str, today: NaiveDate) -> ApiResult<Days> {
        let day = |text: &str, field: &str, default: NaiveDate| -> ApiResult<NaiveDate> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(default);
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                ApiError::field(field, format!("must be a date (YYYY-MM-DD), got '{text}'"))
            })
        };
        let month_start = today.with_day(1).unwrap_or(today);
        let first = day(from, "from", month_start)?;
        let last = day(to, "to", today)?;
        if last < first {
            return Err(ApiError::field("to", "must not be before from"));
        }
        if (last - first).num_days() >= billing::MAX_DAYS {
            return Err(ApiError::field(
                "to",
                format!("must be within {} days of from", billing::MAX_DAYS),
            ));
        }
        Ok(Days { first, last })
    }

    fn from(&self) -> DateTime<Utc> {
        self.first.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
    }

    /// The midnight after the last day.
    fn to(&self) -> DateTime<Utc> {
        self.from() + Duration::days((self.last - self.first).num_days() + 1)
    }
}

fn scope_of(caller: &Caller) -> ApiResult<Scope> {
    if !caller.role.can_read_billing() {
        return Err(ApiError::Forbidden(format!(
            "role {} cannot read billing (owner, billing or operator)",
            caller.role.as_str()
        )));
    }
    Ok(match caller.tenant_id {
        Some(t) => Scope::Tenant(t),
        None => Scope::All,
    })
}

fn grouping(by: &str) -> ApiResult<GroupBy> {
    match by.trim() {
        "" | "pool" => Ok(GroupBy::Pool),
        "profile" => Ok(GroupBy::Profile),
        "task" => Ok(GroupBy::Task),
        other => Err(ApiError::field(
            "by",
            format!("must be pool, profile or task, got '{other}'"),
        )),
    }
}

pub async fn page(state: &AppState, caller: &Caller, query: &BillingQuery) -> ApiResult<Billing> {
    let scope = scope_of(caller)?;
    let group_by = grouping(&query.by)?;
    let now = state.clock.now();
    let today = now.date_naive();
    let days = Days::read(&query.from, &query.to, today)?;
    let (from, to) = (days.from(), days.to());
    let horizon = billing::raw_horizon(now, state.settings.usage_retention_days);
    billing::check_retained(from, to, group_by, horizon)?;
    let request = |group_by| UsageRequest {
        scope,
        from,
        to,
        group_by,
        now,
        currency: state.settings.currency.clone(),
    };
    let report = billing::usage(&state.db, &request(group_by)).await?;
    let by_day = billing::usage(&state.db, &request(GroupBy::Day)).await?;

    let mut day_costs = Vec::new();
    let mut day = days.first;
    let mut lines = by_day.items.iter().peekable();
    while day <= days.last {
        let text = day.format("%Y-%m-%d").to_string();
        let mut cost = DayCost {
            day: text.clone(),
            busy: "0".into(),
            idle: "0".into(),
        };
        while let Some(l) = lines.peek() {
            match l.day.as_deref() {
                Some(d) if d < text.as_str() => {
                    lines.next();
                }
                Some(d) if d == text => {
                    cost.busy = l.figures.busy_cost.clone();
                    cost.idle = l.figures.idle_cost.clone();
                    lines.next();
                    break;
                }
                _ => break,
            }
        }
        day_costs.push(cost);
        day = day.succ_opt().unwrap_or(day);
        if day == days.first {
            break;
        }
    }

    let more = report.items.len() > Billing::LINES;
    let every_tenant = scope == Scope::All;
    let budgets = match scope {
        Scope::Tenant(tenant) => budget_lines(state, tenant, Billing::BUDGETS as u32).await?,
        Scope::All => Vec::new(),
    };
    let date = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let month_start = today.with_day(1).unwrap_or(today);
    let last_month_end = month_start.pred_opt().unwrap_or(month_start);
    let presets = vec![
        ("Today".to_owned(), date(today), date(today)),
        (
            "Last 7 days".to_owned(),
            date(today - Duration::days(6)),
            date(today),
        ),
        ("This month".to_owned(), date(month_start), date(today)),
        (
            "Last month".to_owned(),
            date(last_month_end.with_day(1).unwrap_or(last_month_end)),
            date(last_month_end),
        ),
    ];
    Ok(Billing {
        from: date(days.first),
        to: date(days.last),
        by: group_by.as_str().to_owned(),
        currency: report.currency.clone(),
        every_tenant,
        days: day_costs,
        lines: report
            .items
            .iter()
            .take(Billing::LINES)
            .map(|l| cost_line(l, group_by))
            .collect(),
        more,
        totals: CostLine {
            name: "Total".into(),
            slot_seconds: report.totals.slot_seconds.clone(),
            busy_slot_seconds: report.totals.busy_slot_seconds.clone(),
            idle_slot_seconds: report.totals.idle_slot_seconds.clone(),
            busy_cost: report.totals.busy_cost.clone(),
            idle_cost: report.totals.idle_cost.clone(),
            cost: report.totals.cost.clone(),
            ..CostLine::default()
        },
        budgets,
        presets,
        read_at: now.format("%Y-%m-%d %H:%M:%S").to_string(),
    })
}

fn cost_line(l: &UsageLine, group_by: GroupBy) -> CostLine {
    let deleted = |what: &str| format!("(deleted {what})");
    let pool = || l.pool_name.clone().unwrap_or_else(|| deleted("pool"));
    let (name, pool_column) = match group_by {
        GroupBy::Profile => (l.profile.clone().unwrap_or_default(), None),
        GroupBy::Task => (
            l.task_name.clone().unwrap_or_else(|| deleted("task")),
            Some(pool()),
        ),
        _ => (pool(), None),
    };
    let f = &l.figures;
    CostLine {
        idle_line: group_by == GroupBy::Task
            && l.task_uuid.is_none()
            && l.task_name.as_deref() == Some(billing::IDLE_LINE),
        name,
        pool: pool_column,
        tenant: l
            .tenant_name
            .clone()
            .or_else(|| l.tenant_uuid.map(|t| t.to_string())),
        slot_seconds: f.slot_seconds.clone(),
        busy_slot_seconds: f.busy_slot_seconds.clone(),
        idle_slot_seconds: f.idle_slot_seconds.clone(),
        busy_cost: f.busy_cost.clone(),
        idle_cost: f.idle_cost.clone(),
        cost: f.cost.clone(),
    }
}

/// The tenant's first `limit` budgets, in creation order.
pub(super) async fn budget_lines(
    state: &AppState,
    tenant: uuid::Uuid,
    limit: u32,
) -> ApiResult<Vec<BudgetLine>> {
    let paging = crate::services::paging::Paging::of(&hearth_api::page::PageQuery {
        limit: Some(limit),
        page_token: None,
    })?;
    let minute = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|_| text.to_owned())
    };
    Ok(budgets::page(state, tenant, &paging)
        .await?
        .items
        .into_iter()
        .map(|b| BudgetLine {
            period_from: minute(&b.period_from),
            period_to: minute(&b.period_to),
            name: b.name,
            amount: b.amount,
            consumed: b.consumed,
            remaining: b.remaining,
            forecast: b.forecast,
            currency: b.currency,
            spent: b.spent,
        })
        .collect())
}

/// `GET /ui/billing/usage?from=&to=&groupBy=&format=csv|json[&tenant=all]`: the page's
/// downloads, for the session's caller: `GET /billing/usage` over the page's days (both
/// inclusive), every line in one answer.
#[derive(serde::Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default, rename = "groupBy")]
    group_by: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    tenant: String,
}

pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<DownloadQuery>,
) -> ApiResult<HttpResponse> {
    let session = super::session_of(&req)
        .ok_or_else(|| ApiError::Unauthorized("sign in to the dashboard first".into()))?;
    let caller = sessions::caller(&state, &session).await?;
    let scope = scope_of(&caller)?;
    if query.tenant == "all" && scope != Scope::All {
        return Err(ApiError::Forbidden(
            "only the operator reports every tenant".into(),
        ));
    }
    let group_by = grouping(&query.group_by)?;
    let now = state.clock.now();
    let days = Days::read(&query.from, &query.to, now.date_naive())?;
    let (from, to) = (days.from(), days.to());
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
    let report = billing::usage(&state.db, &request).await?;
    let file = format!(
        "usage-{}-{}-by-{}",
        days.first.format("%Y%m%d"),
        days.last.format("%Y%m%d"),
        group_by.as_str()
    );
    let (body, kind, ext) = match query.format.as_str() {
        "" | "csv" => (
            billing::csv(&report, group_by, scope),
            "text/csv; charset=utf-8",
            "csv",
        ),
        "json" => (
            serde_json::to_string(&report)
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("report as JSON: {e}")))?,
            "application/json",
            "json",
        ),
        other => {
            return Err(ApiError::field(
                "format",
                format!("must be csv or json, got '{other}'"),
            ));
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}.{ext}\""),
        ))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_to_this_month_and_are_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let d = Days::read("", "", today).unwrap();
        assert_eq!(
            (d.first.to_string(), d.last.to_string()),
            ("2026-12-01".into(), "2026-12-03".into())
        );
        assert_eq!(
            d.to() - d.from(),
            Duration::days(3),
            "the last day is included"
        );
        let one = Days::read("2026-11-30", "2026-11-30", today).unwrap();
        assert_eq!(one.to() - one.from(), Duration::days(1));
        assert!(Days::read("2026-12-02", "2026-12-01", today).is_err());
        assert!(Days::read("yesterday", "", today).is_err());
        assert!(Days::read("2025-01-01", "2026-12-01", today).is_err());
    }
}
