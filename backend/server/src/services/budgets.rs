//! Budgets: a tenant's spending limit over a period (the calendar month, UTC, or one
//! range), its alert thresholds and its overrun policy (Qarnot's `AlertOnly`, `BlockNew`,
//! `StopAndBlockAll`).
//!
//! Consumption is the billing report's total over the budget's current period
//! (`billing::tenant_cost`, one aggregate query per distinct period of a tenant). A check
//! runs on every new pool and task, so it never queries: each tenant's budgets are
//! evaluated into a [`Verdict`] kept in memory ([`Verdicts`]), refreshed by the budget loop
//! every `Settings::budget_refresh` of the injected clock (default 10 s; the loop looks at
//! the clock every second) and at once by every budget change on this server. A verdict is
//! thus at most `budget_refresh` + 1 s old.
//!
//! Each evaluation fires the thresholds newly crossed, in ascending order, as `budgetAlert`
//! events; a fired threshold is stored (`budget_alerts`, unique per budget, period and
//! threshold) before it is announced, so it fires once per period, also across restarts
//! and replicas.
//!
//! Bounded: at most [`MAX_BUDGETS`] budgets per tenant, [`MAX_THRESHOLDS`] thresholds
//! each, and only the current period's fired thresholds are kept.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use hearth_core::billing::{COST_DENOMINATOR, MONEY_DECIMALS, decimal_text, round_half_even};

use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::{budget, budget_alert, pool};
use crate::error::{ApiError, ApiResult};
use crate::feed::Change;
use crate::services::keyset::Cursor;
use crate::services::paging::{Paging, creation_page};
pub use crate::services::verdicts::{Verdict, Verdicts, stopped_decision};
use crate::state::AppState;
use hearth_api::Page;
use hearth_api::budgets::{Budget, BudgetBody, BudgetPeriod, DecimalInput, OverrunPolicy};

/// Budgets one tenant may hold.
pub const MAX_BUDGETS: u64 = 100;
/// Thresholds one budget may have.
pub const MAX_THRESHOLDS: usize = 10;
/// Decimal places of a threshold.
pub const THRESHOLD_DECIMALS: u32 = 4;
/// The largest amount (whole units of the currency).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// The longest range period.
pub const MAX_RANGE_DAYS: i64 = 366;

const MONTHLY: &str = "monthly";
const RANGE: &str = "range";

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

/// A budget body, checked.
struct Checked {
    name: String,
    amount: i128,
    kind: &'static str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    policy: OverrunPolicy,
    thresholds: Vec<Decimal>,
}

/// A decimal text as units of `places` decimal places (`None`: not such a decimal).
fn units_of(text: &str, places: u32) -> Option<i128> {
    let d: Decimal = text.parse().ok()?;
    if d.scale() > places {
        return None;
    }
    let mut m = d.mantissa();
    for _ in d.scale()..places {
        m = m.checked_mul(10)?;
    }
    Some(m)
}

fn check(body: BudgetBody) -> ApiResult<Checked> {
    let name = super::required_name(&body.name, "name")?;
    let amount_text = body
        .amount
        .as_ref()
        .map(DecimalInput::text)
        .ok_or_else(|| {
            ApiError::field("amount", "is required (a decimal text, e.g. \"100.00\")")
        })?;
    let amount = units_of(&amount_text, MONEY_DECIMALS)
        .filter(|u| *u > 0)
        .ok_or_else(|| {
            ApiError::field(
                "amount",
                format!(
                    "must be a positive decimal with at most {MONEY_DECIMALS} decimal places, \
                     got '{amount_text}'"
                ),
            )
        })?;
    if amount > i128::from(MAX_AMOUNT) * 10i128.pow(MONEY_DECIMALS) {
        return Err(ApiError::field(
            "amount",
            format!("must be at most {MAX_AMOUNT}"),
        ));
    }
    let (kind, from, to) = match body.period {
        None => {
            return Err(ApiError::field(
                "period",
                "is required: \"monthly\" or {\"from\", \"to\"}",
            ));
        }
        Some(BudgetPeriod::Named(n)) if n == MONTHLY => (MONTHLY, None, None),
        Some(BudgetPeriod::Named(n)) => {
            return Err(ApiError::field(
                "period",
                format!("must be \"monthly\" or {{\"from\", \"to\"}}, got '{n}'"),
            ));
        }
        Some(BudgetPeriod::Range { from, to }) => {
            let from = super::billing::instant(&from, "period.from")?;
            let to = super::billing::instant(&to, "period.to")?;
            if to <= from {
                return Err(ApiError::field("period.to", "must be after period.from"));
            }
            if to - from > Duration::days(MAX_RANGE_DAYS) {
                return Err(ApiError::field(
                    "period.to",
                    format!("must be at most {MAX_RANGE_DAYS} days after period.from"),
                ));
            }
            (RANGE, Some(from), Some(to))
        }
    };
    let given = body.alert_thresholds.unwrap_or_else(|| {
        ["0.5", "0.8", "1.0"]
            .map(|t| DecimalInput::Text(t.into()))
            .to_vec()
    });
    let mut thresholds = Vec::with_capacity(given.len());
    for (i, t) in given.iter().enumerate() {
        let text = t.text();
        let field = format!("alertThresholds[{i}]");
        let d: Decimal = text.parse().map_err(|_| {
            ApiError::field(&field, format!("must be a decimal number, got '{text}'"))
        })?;
        if d <= Decimal::ZERO || d > Decimal::from(10) {
            return Err(ApiError::field(
                &field,
                format!("must be in (0, 10] (a fraction of the amount), got {text}"),
            ));
        }
        if d.normalize().scale() > THRESHOLD_DECIMALS {
            return Err(ApiError::field(
                &field,
                format!("must have at most {THRESHOLD_DECIMALS} decimal places, got {text}"),
            ));
        }
        thresholds.push(d.normalize());
    }
    thresholds.sort();
    thresholds.dedup();
    if thresholds.len() > MAX_THRESHOLDS {
        return Err(ApiError::field(
            "alertThresholds",
            format!("must have at most {MAX_THRESHOLDS} distinct thresholds"),
        ));
    }
    Ok(Checked {
        name,
        amount,
        kind,
        from,
        to,
        policy: body.overrun_policy.unwrap_or(OverrunPolicy::AlertOnly),
        thresholds,
    })
}

// ---------------------------------------------------------------------------------------
// A budget's figures
// ---------------------------------------------------------------------------------------

fn policy_of(b: &budget::Model) -> OverrunPolicy {
    OverrunPolicy::parse(&b.overrun_policy).unwrap_or(OverrunPolicy::AlertOnly)
}

fn amount_of(b: &budget::Model) -> i128 {
    units_of(&b.amount, MONEY_DECIMALS).unwrap_or(0)
}

fn thresholds_of(b: &budget::Model) -> Vec<Decimal> {
    b.alert_thresholds
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str()?.parse().ok())
        .collect()
}

fn as_number(d: &Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// The budget's current period `[from, to)`: the calendar month (UTC) of `now`, or its range.
pub fn current_period(b: &budget::Model, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    match (b.period_kind.as_str(), b.period_from, b.period_to) {
        (RANGE, Some(from), Some(to)) => (from, to),
        _ => month_of(now),
    }
}

fn month_of(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = |y: i32, m: u32| {
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .expect("the first of a month exists")
    };
    let from = first(now.year(), now.month());
    let to = if now.month() == 12 {
        first(now.year() + 1, 1)
    } else {
        first(now.year(), now.month() + 1)
    };
    (from, to)
}

/// Where a budget stands: exact micro-units of money.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Standing {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Consumed, rounded half to even as the report's total is.
    consumed: i128,
    forecast: i128,
    /// `from <= now < to`: the policy and thresholds apply.
    current: bool,
}

impl Standing {
    fn spent(&self, amount: i128) -> bool {
        self.consumed >= amount
    }

    fn crossed(&self, amount: i128, threshold: &Decimal) -> bool {
        // consumed ≥ amount × threshold, exactly: consumed × 10^s ≥ amount × mantissa.
        let scale = 10i128.pow(threshold.scale());
        self.consumed * scale >= amount * threshold.mantissa()
    }
}

/// Costs of one tenant's periods, each period read once per evaluation.
struct Costs<'a, C> {
    db: &'a C,
    tenant: Uuid,
    now: DateTime<Utc>,
    read: HashMap<(DateTime<Utc>, DateTime<Utc>), Standing>,
}

impl<C: ConnectionTrait + sea_orm::TransactionTrait> Costs<'_, C> {
    async fn standing(&mut self, b: &budget::Model) -> ApiResult<Standing> {
        let (from, to) = current_period(b, self.now);
        if let Some(s) = self.read.get(&(from, to)) {
            return Ok(*s);
        }
        let now = self.now;
        let exact = if now > from {
            super::billing::tenant_cost(self.db, self.tenant, from, to, now).await?
        } else {
            0
        };
        let consumed = round_half_even(exact, COST_DENOMINATOR);
        let length = (to - from).num_milliseconds().max(1) as i128;
        let elapsed = (now.min(to) - from)
            .num_milliseconds()
            .clamp(0, length as i64) as i128;
        let forecast = if elapsed == 0 {
            0
        } else {
            match (
                exact.checked_mul(length),
                COST_DENOMINATOR.checked_mul(elapsed),
            ) {
                (Some(n), Some(d)) => round_half_even(n, d),
                _ => round_half_even(consumed * length, elapsed),
            }
        };
        let s = Standing {
            from,
            to,
            consumed,
            forecast,
            current: from <= now && now < to,
        };
        self.read.insert((from, to), s);
        Ok(s)
    }
}

fn money(units: i128) -> String {
    decimal_text(units, MONEY_DECIMALS)
}

fn view(b: &budget::Model, s: &Standing, fired: &[Decimal], currency: &str) -> Budget {
    let amount = amount_of(b);
    let period = match (b.period_kind.as_str(), b.period_from, b.period_to) {
        (RANGE, Some(from), Some(to)) => BudgetPeriod::Range {
            from: crate::wire::date(from),
            to: crate::wire::date(to),
        },
        _ => BudgetPeriod::Named(MONTHLY.into()),
    };
    Budget {
        uuid: b.id,
        name: b.name.clone(),
        amount: money(amount),
        currency: currency.to_owned(),
        period,
        overrun_policy: policy_of(b),
        alert_thresholds: thresholds_of(b).iter().map(as_number).collect(),
        period_from: crate::wire::date(s.from),
        period_to: crate::wire::date(s.to),
        consumed: money(s.consumed),
        remaining: money((amount - s.consumed).max(0)),
        forecast: money(s.forecast),
        spent: s.spent(amount),
        fired_thresholds: fired.iter().map(as_number).collect(),
        creation_date: crate::wire::date(b.created_at),
        last_modified: crate::wire::date(b.updated_at),
    }
}

/// The thresholds of a budget that fired in the period starting at `from`.
async fn fired_in(
    db: &impl ConnectionTrait,
    budget_id: Uuid,
    from: DateTime<Utc>,
) -> ApiResult<Vec<Decimal>> {
    let rows: Vec<String> = budget_alert::Entity::find()
        .select_only()
        .column(budget_alert::Column::Threshold)
        .filter(budget_alert::Column::BudgetId.eq(budget_id))
        .filter(budget_alert::Column::PeriodFrom.eq(from))
        .into_tuple()
        .all(db)
        .await?;
    let mut fired: Vec<Decimal> = rows.iter().filter_map(|t| t.parse().ok()).collect();
    fired.sort();
    Ok(fired)
}

// ---------------------------------------------------------------------------------------
// CRUD
// ---------------------------------------------------------------------------------------

pub async fn load(db: &impl ConnectionTrait, tenant: Uuid, id: Uuid) -> ApiResult<budget::Model> {
    budget::Entity::find_by_id(id)
        .filter(budget::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("budget"))
}

/// One budget as the API shows it, its figures read now.
pub async fn show(state: &AppState, b: &budget::Model) -> ApiResult<Budget> {
    let mut costs = Costs {
        db: &state.db,
        tenant: b.tenant_id,
        now: state.clock.now(),
        read: HashMap::new(),
    };
    let s = costs.standing(b).await?;
    let fired = fired_in(&state.db, b.id, s.from).await?;
    Ok(view(b, &s, &fired, &state.settings.currency))
}

fn thresholds_json(thresholds: &[Decimal]) -> Value {
    Value::Array(
        thresholds
            .iter()
            .map(|t| Value::String(t.to_string()))
            .collect(),
    )
}

pub async fn create(state: &AppState, tenant: Uuid, body: BudgetBody) -> ApiResult<budget::Model> {
    let checked = check(body)?;
    let now = state.clock.now();
    // Counted and inserted in one write transaction: two requests cannot both take the
    // last place.
    let txn = state.write().await?;
    let held = budget::Entity::find()
        .filter(budget::Column::TenantId.eq(tenant))
        .count(&txn)
        .await?;
    if held >= MAX_BUDGETS {
        return Err(ApiError::Conflict(format!(
            "the tenant holds {held} budgets, the most it may; delete one first"
        )));
    }
    let row = budget::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        name: Set(checked.name),
        amount: Set(money(checked.amount)),
        period_kind: Set(checked.kind.to_owned()),
        period_from: Set(checked.from),
        period_to: Set(checked.to),
        overrun_policy: Set(checked.policy.as_str().to_owned()),
        alert_thresholds: Set(thresholds_json(&checked.thresholds)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    evaluate_tenant(state, tenant).await?;
    Ok(row)
}

/// Replaces every field of a budget. Thresholds that fired in the current period stay
/// fired while they are still listed and still crossed under the new amount; the others
/// fire again when crossed.
pub async fn update(
    state: &AppState,
    tenant: Uuid,
    id: Uuid,
    body: BudgetBody,
) -> ApiResult<budget::Model> {
    let checked = check(body)?;
    let current = load(&state.db, tenant, id).await?;
    let mut active = current.into_active_model();
    active.name = Set(checked.name);
    active.amount = Set(money(checked.amount));
    active.period_kind = Set(checked.kind.to_owned());
    active.period_from = Set(checked.from);
    active.period_to = Set(checked.to);
    active.overrun_policy = Set(checked.policy.as_str().to_owned());
    active.alert_thresholds = Set(thresholds_json(&checked.thresholds));
    active.updated_at = Set(state.clock.now());
    let row = active.update(&state.writer).await?;
    let mut costs = Costs {
        db: &state.db,
        tenant,
        now: state.clock.now(),
        read: HashMap::new(),
    };
    let s = costs.standing(&row).await?;
    let amount = amount_of(&row);
    let kept: Vec<String> = checked
        .thresholds
        .iter()
        .filter(|t| s.crossed(amount, t))
        .map(|t| t.to_string())
        .collect();
    budget_alert::Entity::delete_many()
        .filter(budget_alert::Column::BudgetId.eq(id))
        .filter(
            Condition::any()
                .add(budget_alert::Column::PeriodFrom.ne(s.from))
                .add(budget_alert::Column::Threshold.is_not_in(kept)),
        )
        .exec(&state.writer)
        .await?;
    evaluate_tenant(state, tenant).await?;
    Ok(row)
}

pub async fn delete(state: &AppState, tenant: Uuid, id: Uuid) -> ApiResult<()> {
    load(&state.db, tenant, id).await?;
    let txn = state.write().await?;
    budget_alert::Entity::delete_many()
        .filter(budget_alert::Column::BudgetId.eq(id))
        .exec(&txn)
        .await?;
    budget::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    evaluate_tenant(state, tenant).await
}

/// A page of the tenant's budgets in creation order (see `services::paging`).
pub async fn page(state: &AppState, tenant: Uuid, paging: &Paging) -> ApiResult<Page<Budget>> {
    let (rows, next) = creation_page(
        &state.db,
        budget::Entity::find().filter(budget::Column::TenantId.eq(tenant)),
        budget::Column::CreatedAt,
        budget::Column::Id,
        |b| Cursor {
            created_at: b.created_at,
            id: b.id,
        },
        paging,
    )
    .await?;
    let mut costs = Costs {
        db: &state.db,
        tenant,
        now: state.clock.now(),
        read: HashMap::new(),
    };
    let mut items = Vec::with_capacity(rows.len());
    for b in &rows {
        let s = costs.standing(b).await?;
        let fired = fired_in(&state.db, b.id, s.from).await?;
        items.push(view(b, &s, &fired, &state.settings.currency));
    }
    Ok(Page {
        items,
        next_page_token: next,
    })
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

/// Evaluates a tenant's budgets: fires the thresholds newly crossed (ascending, once per
/// period), drops fired thresholds of earlier periods, and keeps the tenant's verdict.
/// When the verdict starts or stops winding the tenant's pools down, they are evaluated
/// at once.
pub async fn evaluate_tenant(state: &AppState, tenant: Uuid) -> ApiResult<()> {
    let now = state.clock.now();
    let budgets = budget::Entity::find()
        .filter(budget::Column::TenantId.eq(tenant))
        .order_by_asc(budget::Column::CreatedAt)
        .order_by_asc(budget::Column::Id)
        .all(&state.db)
        .await?;
    let mut costs = Costs {
        db: &state.db,
        tenant,
        now,
        read: HashMap::new(),
    };
    let fired_rows = budget_alert::Entity::find()
        .filter(budget_alert::Column::TenantId.eq(tenant))
        .all(&state.db)
        .await?;
    let mut verdict = Verdict::default();
    let mut stale: Vec<Uuid> = Vec::new();
    let mut crossed: Vec<(&budget::Model, Standing, Decimal, OverrunPolicy)> = Vec::new();
    for b in &budgets {
        let s = costs.standing(b).await?;
        let mut fired: HashSet<String> = HashSet::new();
        for row in fired_rows.iter().filter(|r| r.budget_id == b.id) {
            if row.period_from == s.from {
                fired.insert(row.threshold.clone());
            } else {
                stale.push(row.id);
            }
        }
        if !s.current {
            continue;
        }
        let amount = amount_of(b);
        let policy = policy_of(b);
        for t in thresholds_of(b) {
            let text = t.to_string();
            if fired.contains(&text) || !s.crossed(amount, &t) {
                continue;
            }
            crossed.push((b, s, t, policy));
        }
        if s.spent(amount) && policy != OverrunPolicy::AlertOnly && verdict.block.is_none() {
            verdict.block = Some(format!(
                "budget '{}' is spent: {} of {} {} consumed from {} to {}; new pools and tasks \
                 are refused (overrunPolicy {})",
                b.name,
                money(s.consumed),
                money(amount),
                state.settings.currency,
                crate::wire::date(s.from),
                crate::wire::date(s.to),
                policy.as_str()
            ));
        }
        if s.spent(amount) && policy == OverrunPolicy::StopAndBlockAll && verdict.stop.is_none() {
            verdict.stop = Some(format!(
                "budget '{}' is spent (StopAndBlockAll): the pool winds down to zero, \
                 running instances finish, queued ones wait",
                b.name
            ));
        }
    }
    if !stale.is_empty() {
        budget_alert::Entity::delete_many()
            .filter(budget_alert::Column::Id.is_in(stale))
            .exec(&state.writer)
            .await?;
    }
    // The verdict first: whoever sees an alert sees the new work refused already.
    let stop_changed = state.budgets.set(tenant, verdict);
    for (b, s, t, policy) in crossed {
        fire(state, b, &s, &t, policy, now).await?;
    }
    if stop_changed {
        reconsider_pools(state, tenant).await?;
    }
    Ok(())
}

/// Stores a crossed threshold and announces it; another evaluation (or replica) that
/// stored it first wins, and this one stays silent.
async fn fire(
    state: &AppState,
    b: &budget::Model,
    s: &Standing,
    threshold: &Decimal,
    policy: OverrunPolicy,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let stored = budget_alert::ActiveModel {
        id: Set(Uuid::now_v7()),
        budget_id: Set(b.id),
        tenant_id: Set(b.tenant_id),
        period_from: Set(s.from),
        threshold: Set(threshold.to_string()),
        consumed: Set(money(s.consumed)),
        fired_at: Set(now),
    }
    .insert(&state.writer)
    .await;
    match stored {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(budget = %b.id, tenant = %b.tenant_id, threshold = %threshold, "budget alert");
    state.announce(
        b.tenant_id,
        Change::BudgetAlert {
            budget: b.id,
            name: b.name.clone(),
            threshold: as_number(threshold),
            amount: money(amount_of(b)),
            consumed: money(s.consumed),
            currency: state.settings.currency.clone(),
            overrun_policy: policy.as_str().to_owned(),
            period_from: crate::wire::date(s.from),
            period_to: crate::wire::date(s.to),
        },
    );
    Ok(())
}

/// The tenant's scaled pools are evaluated now (their budget stop started or ended).
async fn reconsider_pools(state: &AppState, tenant: Uuid) -> ApiResult<()> {
    let ids: Vec<Uuid> = pool::Entity::find()
        .select_only()
        .column(pool::Column::Id)
        .filter(pool::Column::TenantId.eq(tenant))
        .filter(pool::Column::NextEvaluationAt.is_not_null())
        .into_tuple()
        .all(&state.db)
        .await?;
    let now = state.clock.now();
    for id in ids {
        state.evaluate_by(id, now);
    }
    Ok(())
}

/// Evaluates every tenant that has a budget, and clears the verdicts of tenants that no
/// longer have one (the budget loop).
pub async fn evaluate_all(state: &AppState) -> ApiResult<()> {
    let tenants: Vec<Uuid> = budget::Entity::find()
        .select_only()
        .column(budget::Column::TenantId)
        .distinct()
        .into_tuple()
        .all(&state.db)
        .await?;
    let with_budgets: HashSet<Uuid> = tenants.iter().copied().collect();
    let gone = state
        .budgets
        .tenants()
        .into_iter()
        .filter(|t| !with_budgets.contains(t));
    for tenant in gone.chain(tenants) {
        if let Err(e) = evaluate_tenant(state, tenant).await {
            tracing::error!(tenant = %tenant, error = %e, "budgets not evaluated");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> BudgetBody {
        serde_json::from_value(v).expect("a budget body")
    }

    fn field_of(v: Value) -> String {
        match check(body(v)) {
            Err(ApiError::Validation(m)) => m,
            Err(e) => panic!("not a validation error: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn a_body_is_checked_field_by_field() {
        let ok = serde_json::json!({"name": "b", "amount": "10.5", "period": "monthly"});
        let c = check(body(ok)).expect("valid");
        assert_eq!(c.amount, 10_500_000);
        assert_eq!(c.policy, OverrunPolicy::AlertOnly);
        assert_eq!(
            c.thresholds
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>(),
            ["0.5", "0.8", "1"]
        );
        let m = |v: Value| field_of(v);
        let base = |k: &str, v: Value| {
            let mut b = serde_json::json!({"name": "b", "amount": "1", "period": "monthly"});
            b[k] = v;
            b
        };
        assert!(m(base("name", "  ".into())).starts_with("name"));
        assert!(m(base("amount", "0".into())).starts_with("amount"));
        assert!(m(base("amount", "-1".into())).starts_with("amount"));
        assert!(m(base("amount", "0.0000001".into())).starts_with("amount"));
        assert!(m(base("amount", "1000000000001".into())).starts_with("amount"));
        assert!(m(base("period", "weekly".into())).starts_with("period"));
        let range = serde_json::json!({"from": "2026-02-01", "to": "2026-01-01"});
        assert!(m(base("period", range)).starts_with("period.to"));
        let range = serde_json::json!({"from": "soon", "to": "2026-01-01"});
        assert!(m(base("period", range)).starts_with("period.from"));
        let t = serde_json::json!([0.5, 0]);
        assert!(m(base("alertThresholds", t)).starts_with("alertThresholds[1]"));
        let t = serde_json::json!([10.5]);
        assert!(m(base("alertThresholds", t)).starts_with("alertThresholds[0]"));
        let t = serde_json::json!([0.12345]);
        assert!(m(base("alertThresholds", t)).starts_with("alertThresholds[0]"));
        let t: Vec<f64> = (1..=11).map(|i| f64::from(i) / 10.0).collect();
        assert!(m(base("alertThresholds", serde_json::json!(t))).starts_with("alertThresholds"));
        let t = serde_json::json!([1.0, 0.5, "0.50", 0.8]);
        let c = check(body(base("alertThresholds", t))).expect("valid");
        assert_eq!(
            c.thresholds
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>(),
            ["0.5", "0.8", "1"]
        );
    }

    #[test]
    fn a_month_is_the_calendar_month_in_utc() {
        let (from, to) = month_of(Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap());
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let (from, to) = month_of(Utc.with_ymd_and_hms(2028, 2, 1, 0, 0, 0).unwrap());
        assert_eq!((to - from).num_days(), 29);
    }

    #[test]
    fn thresholds_are_compared_exactly() {
        let s = Standing {
            from: Utc::now(),
            to: Utc::now(),
            consumed: 799_999,
            forecast: 0,
            current: true,
        };
        let t: Decimal = "0.8".parse().unwrap();
        assert!(!s.crossed(1_000_000, &t));
        assert!(
            Standing {
                consumed: 800_000,
                ..s
            }
            .crossed(1_000_000, &t)
        );
        assert!(!s.spent(1_000_000));
        assert!(
            Standing {
                consumed: 1_000_000,
                ..s
            }
            .spent(1_000_000)
        );
    }
}
