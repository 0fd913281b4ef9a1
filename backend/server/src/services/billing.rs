//! Billing reports: a node's usage intervals (its billed stretches from Ready to its end,
//! each with its slots and the price snapshotted) and the instance executions on it (the
//! busy part), clipped to a period, grouped, and priced exactly (see `hearth_core::billing`).
//!
//! Memory: the period's usage intervals are held (about 100 bytes each, a few per node);
//! executions, far more numerous, are streamed; a report has at most [`MAX_LINES`] lines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use futures_util::TryStreamExt;
use hearth_core::billing::{
    COST_DENOMINATOR, MONEY_DECIMALS, PRICE_SCALE, apportion, cost_numerator, decimal_text,
    split_by_day,
};
use rust_decimal::Decimal;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, StreamTrait};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::entities::{instance_execution, pool, task, tenant, usage_interval};
use crate::error::{ApiError, ApiResult};

/// Most lines one report answers (narrow the period or group more coarsely beyond).
pub const MAX_LINES: usize = 100_000;
/// Longest period of one report.
pub const MAX_DAYS: i64 = 366;
/// The `taskName` of a pool's idle line when grouping by task.
pub const IDLE_LINE: &str = "__idle__";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Pool,
    Profile,
    Day,
    Task,
    Node,
}

impl GroupBy {
    pub fn parse(text: &str) -> ApiResult<GroupBy> {
        Ok(match text {
            "pool" => GroupBy::Pool,
            "profile" => GroupBy::Profile,
            "day" => GroupBy::Day,
            "task" => GroupBy::Task,
            "node" => GroupBy::Node,
            other => {
                return Err(ApiError::field(
                    "groupBy",
                    format!("must be pool, profile, day, task or node, got '{other}'"),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Pool => "pool",
            GroupBy::Profile => "profile",
            GroupBy::Day => "day",
            GroupBy::Task => "task",
            GroupBy::Node => "node",
        }
    }

    /// The key columns of a line, in order (before the figures).
    fn key_columns(self) -> &'static [&'static str] {
        match self {
            GroupBy::Pool => &["poolUuid", "poolName"],
            GroupBy::Profile => &["profile"],
            GroupBy::Day => &["day"],
            GroupBy::Task => &["taskUuid", "taskName", "poolUuid", "poolName"],
            GroupBy::Node => &["nodeUuid", "poolUuid", "poolName"],
        }
    }
}

/// Whose usage a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Tenant(Uuid),
    /// Every tenant (operator): lines carry their tenant.
    All,
}

pub struct UsageRequest {
    pub scope: Scope,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
    /// Where open intervals and executions end.
    pub now: DateTime<Utc>,
    pub currency: String,
}

/// `from` and `to` as given (RFC 3339, or a date meaning its UTC midnight), by default the
/// current month up to now, checked.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    fn instant(text: &str, field: &str) -> ApiResult<DateTime<Utc>> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
        }
        Err(ApiError::field(
            field,
            format!("must be an RFC 3339 instant or a date (YYYY-MM-DD), got '{text}'"),
        ))
    }
    let from = match from.filter(|t| !t.trim().is_empty()) {
        Some(t) => instant(t, "from")?,
        None => Utc
            .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
            .single()
            .expect("the first of a month exists"),
    };
    let to = match to.filter(|t| !t.trim().is_empty()) {
        Some(t) => instant(t, "to")?,
        None => now,
    };
    if to <= from {
        return Err(ApiError::field("to", "must be after from"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::field(
            "to",
            format!("must be at most {MAX_DAYS} days after from"),
        ));
    }
    Ok((from, to))
}

/// A price text as integer units of `PRICE_SCALE` places (`None`: not a price we can bill).
pub fn price_units(text: &str) -> Option<i128> {
    let d: Decimal = text.trim().parse().ok()?;
    if d.is_sign_negative() || d.scale() > PRICE_SCALE {
        return None;
    }
    let mut m = d.mantissa();
    for _ in d.scale()..PRICE_SCALE {
        m = m.checked_mul(10)?;
    }
    Some(m)
}

/// A line's group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Group {
    Pool(Uuid),
    Profile(Arc<str>),
    Day(NaiveDate),
    Node {
        pool: Uuid,
        node: Uuid,
    },
    /// Grouped by task: a task's busy time (`Some`), or its pool's idle time (`None`,
    /// after the pool's tasks).
    PoolTask {
        pool: Uuid,
        task: TaskOrIdle,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TaskOrIdle {
    Task(Uuid),
    Idle,
}

#[derive(Default)]
struct Acc {
    slot_ms: i64,
    busy_ms: i64,
    slot_num: i128,
    busy_num: i128,
}

/// One billed stretch of a node, clipped to the period.
struct Piece {
    tenant: Uuid,
    pool: Uuid,
    node: Uuid,
    profile: Arc<str>,
    slots: i64,
    price: i128,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

struct Report {
    group_by: GroupBy,
    lines: BTreeMap<(Uuid, Group), Acc>,
}

impl Report {
    /// The line that holds a node's slot time.
    fn container(&self, p: &Piece, day: NaiveDate) -> Group {
        match self.group_by {
            GroupBy::Pool => Group::Pool(p.pool),
            GroupBy::Profile => Group::Profile(p.profile.clone()),
            GroupBy::Day => Group::Day(day),
            GroupBy::Node => Group::Node {
                pool: p.pool,
                node: p.node,
            },
            GroupBy::Task => Group::PoolTask {
                pool: p.pool,
                task: TaskOrIdle::Idle,
            },
        }
    }

    fn line(&mut self, tenant: Uuid, group: Group) -> ApiResult<&mut Acc> {
        if self.lines.len() >= MAX_LINES && !self.lines.contains_key(&(tenant, group.clone())) {
            return Err(ApiError::Unprocessable(format!(
                "groupBy: the report would have more than {MAX_LINES} lines; \
                 narrow the period or group by {}",
                if self.group_by == GroupBy::Task {
                    "pool"
                } else {
                    "day"
                }
            )));
        }
        Ok(self.lines.entry((tenant, group)).or_default())
    }

    /// `ms` of the piece's node time, on its slots, in its group.
    fn add_slot_time(&mut self, p: &Piece, day: NaiveDate, ms: i64) -> ApiResult<()> {
        let group = self.container(p, day);
        let acc = self.line(p.tenant, group)?;
        acc.slot_ms += ms * p.slots;
        acc.slot_num += cost_numerator(ms * p.slots, p.price);
        Ok(())
    }

    /// `ms` of one slot busy with `task` within the piece.
    fn add_busy_time(&mut self, p: &Piece, day: NaiveDate, task: Uuid, ms: i64) -> ApiResult<()> {
        let container = self.container(p, day);
        let num = cost_numerator(ms, p.price);
        if self.group_by == GroupBy::Task {
            // The task's line holds its busy time; the pool's idle line what is left.
            let busy = self.line(
                p.tenant,
                Group::PoolTask {
                    pool: p.pool,
                    task: TaskOrIdle::Task(task),
                },
            )?;
            busy.slot_ms += ms;
            busy.slot_num += num;
            busy.busy_ms += ms;
            busy.busy_num += num;
            let idle = self.line(p.tenant, container)?;
            idle.slot_ms -= ms;
            idle.slot_num -= num;
        } else {
            let acc = self.line(p.tenant, container)?;
            acc.busy_ms += ms;
            acc.busy_num += num;
        }
        Ok(())
    }

    /// Calls `f(day, ms)` for the part of `[start, end)` each day holds, or once for the
    /// whole when days do not matter.
    fn pieces(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        mut f: impl FnMut(NaiveDate, i64) -> ApiResult<()>,
    ) -> ApiResult<()> {
        if end <= start {
            return Ok(());
        }
        if self.group_by == GroupBy::Day {
            for (day, s, e) in split_by_day(start, end) {
                f(day, (e - s).num_milliseconds())?;
            }
            Ok(())
        } else {
            f(start.date_naive(), (end - start).num_milliseconds())
        }
    }
}

fn in_scope<C: sea_orm::ColumnTrait>(scope: Scope, column: C) -> Condition {
    match scope {
        Scope::Tenant(t) => Condition::all().add(column.eq(t)),
        Scope::All => Condition::all(),
    }
}

/// The report as JSON.
pub async fn usage<C>(db: &C, req: &UsageRequest) -> ApiResult<Value>
where
    C: ConnectionTrait + StreamTrait,
{
    let (from, to, now) = (req.from, req.to, req.now);
    let mut report = Report {
        group_by: req.group_by,
        lines: BTreeMap::new(),
    };
    // The period's intervals, by node.
    let intervals = usage_interval::Entity::find()
        .filter(in_scope(req.scope, usage_interval::Column::TenantId))
        .filter(usage_interval::Column::StartedAt.lt(to))
        .filter(
            Condition::any()
                .add(usage_interval::Column::EndedAt.is_null())
                .add(usage_interval::Column::EndedAt.gt(from)),
        )
        .all(db)
        .await?;
    let mut profiles: HashMap<String, Arc<str>> = HashMap::new();
    let mut by_node: HashMap<Uuid, Vec<Piece>> = HashMap::new();
    for i in intervals {
        let price = price_units(&i.price_per_slot_hour).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "usage interval {} has an unreadable price '{}'",
                i.id,
                i.price_per_slot_hour
            ))
        })?;
        let profile = profiles
            .entry(i.profile_name.clone())
            .or_insert_with(|| Arc::from(i.profile_name.as_str()))
            .clone();
        let piece = Piece {
            tenant: i.tenant_id,
            pool: i.pool_id,
            node: i.node_id,
            profile,
            slots: i64::from(i.slots),
            price,
            start: i.started_at.max(from),
            end: i.ended_at.unwrap_or(now).min(to),
        };
        if piece.end <= piece.start {
            continue;
        }
        let mut parts = Vec::new();
        report.pieces(piece.start, piece.end, |day, ms| {
            parts.push((day, ms));
            Ok(())
        })?;
        for (day, ms) in parts {
            report.add_slot_time(&piece, day, ms)?;
        }
        by_node.entry(piece.node).or_default().push(piece);
    }

    // The executions on those nodes, streamed.
    if !by_node.is_empty() {
        let mut executions = instance_execution::Entity::find()
            .select_only()
            .column(instance_execution::Column::NodeId)
            .column(instance_execution::Column::TaskId)
            .column(instance_execution::Column::StartedAt)
            .column(instance_execution::Column::EndedAt)
            .filter(in_scope(req.scope, instance_execution::Column::TenantId))
            .filter(instance_execution::Column::StartedAt.lt(to))
            .filter(
                Condition::any()
                    .add(instance_execution::Column::EndedAt.is_null())
                    .add(instance_execution::Column::EndedAt.gt(from)),
            )
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>)>()
            .stream(db)
            .await?;
        let mut parts = Vec::new();
        while let Some((node, task, started, ended)) = executions.try_next().await? {
            let Some(pieces) = by_node.get(&node) else {
                continue;
            };
            let end = ended.unwrap_or(now);
            for p in pieces {
                let s = started.max(p.start);
                let e = end.min(p.end);
                parts.clear();
                report.pieces(s, e, |day, ms| {
                    parts.push((day, ms));
                    Ok(())
                })?;
                for &(day, ms) in &parts {
                    report.add_busy_time(p, day, task, ms)?;
                }
            }
        }
    }
    render(db, req, report).await
}

/// Names of what the lines name (`id` and `name` columns of `E`), read in chunks.
async fn names<E, C>(
    db: &C,
    ids: HashSet<Uuid>,
    id: E::Column,
    name: E::Column,
) -> ApiResult<HashMap<Uuid, String>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, String)> = E::find()
            .select_only()
            .column(id)
            .column(name)
            .filter(id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

async fn render<C: ConnectionTrait>(
    db: &C,
    req: &UsageRequest,
    report: Report,
) -> ApiResult<Value> {
    let mut pool_ids = HashSet::new();
    let mut task_ids = HashSet::new();
    let mut tenant_ids = HashSet::new();
    for (tenant, group) in report.lines.keys() {
        tenant_ids.insert(*tenant);
        match group {
            Group::Pool(p) | Group::Node { pool: p, .. } => {
                pool_ids.insert(*p);
            }
            Group::PoolTask { pool, task } => {
                pool_ids.insert(*pool);
                if let TaskOrIdle::Task(t) = task {
                    task_ids.insert(*t);
                }
            }
            Group::Profile(_) | Group::Day(_) => {}
        }
    }
    let pool_names =
        names::<pool::Entity, _>(db, pool_ids, pool::Column::Id, pool::Column::Name).await?;
    let task_names =
        names::<task::Entity, _>(db, task_ids, task::Column::Id, task::Column::Name).await?;
    let tenant_names = if req.scope == Scope::All {
        names::<tenant::Entity, _>(db, tenant_ids, tenant::Column::Id, tenant::Column::Name).await?
    } else {
        HashMap::new()
    };

    // Money: every line's busy and idle cost shown so that all add up to the exact total.
    let numerators: Vec<i128> = report
        .lines
        .values()
        .flat_map(|a| [a.busy_num, a.slot_num - a.busy_num])
        .collect();
    let (shown, total_cost) = apportion(&numerators, COST_DENOMINATOR);
    let money = |units: i128| decimal_text(units, MONEY_DECIMALS);
    let seconds = |ms: i64| decimal_text(i128::from(ms), 3);
    let name_or_null = |names: &HashMap<Uuid, String>, id: &Uuid| {
        names
            .get(id)
            .map_or(Value::Null, |n| Value::String(n.clone()))
    };

    let mut lines = Vec::with_capacity(report.lines.len());
    let (mut slot_ms, mut busy_ms, mut busy_cost, mut idle_cost) = (0i64, 0i64, 0i128, 0i128);
    for (i, ((tenant, group), acc)) in report.lines.iter().enumerate() {
        let (busy, idle) = (shown[2 * i], shown[2 * i + 1]);
        let mut line = Map::new();
        if req.scope == Scope::All {
            line.insert("tenantUuid".into(), json!(tenant));
            line.insert("tenantName".into(), name_or_null(&tenant_names, tenant));
        }
        match group {
            Group::Pool(p) => {
                line.insert("poolUuid".into(), json!(p));
                line.insert("poolName".into(), name_or_null(&pool_names, p));
            }
            Group::Profile(name) => {
                line.insert("profile".into(), json!(name.as_ref()));
            }
            Group::Day(day) => {
                line.insert("day".into(), json!(day.to_string()));
            }
            Group::Node { pool, node } => {
                line.insert("nodeUuid".into(), json!(node));
                line.insert("poolUuid".into(), json!(pool));
                line.insert("poolName".into(), name_or_null(&pool_names, pool));
            }
            Group::PoolTask { pool, task } => {
                match task {
                    TaskOrIdle::Task(t) => {
                        line.insert("taskUuid".into(), json!(t));
                        line.insert("taskName".into(), name_or_null(&task_names, t));
                    }
                    TaskOrIdle::Idle => {
                        line.insert("taskUuid".into(), Value::Null);
                        line.insert("taskName".into(), json!(IDLE_LINE));
                    }
                }
                line.insert("poolUuid".into(), json!(pool));
                line.insert("poolName".into(), name_or_null(&pool_names, pool));
            }
        }
        line.insert("slotSeconds".into(), json!(seconds(acc.slot_ms)));
        line.insert("busySlotSeconds".into(), json!(seconds(acc.busy_ms)));
        line.insert(
            "idleSlotSeconds".into(),
            json!(seconds(acc.slot_ms - acc.busy_ms)),
        );
        line.insert("cost".into(), json!(money(busy + idle)));
        line.insert("busyCost".into(), json!(money(busy)));
        line.insert("idleCost".into(), json!(money(idle)));
        line.insert("currency".into(), json!(req.currency));
        slot_ms += acc.slot_ms;
        busy_ms += acc.busy_ms;
        busy_cost += busy;
        idle_cost += idle;
        lines.push(Value::Object(line));
    }
    debug_assert_eq!(busy_cost + idle_cost, total_cost);
    Ok(json!({
        "tenant": match req.scope {
            Scope::Tenant(t) => json!(t),
            Scope::All => json!("all"),
        },
        "from": req.from,
        "to": req.to,
        "groupBy": req.group_by.as_str(),
        "currency": req.currency,
        "lines": lines,
        "totals": {
            "slotSeconds": seconds(slot_ms),
            "busySlotSeconds": seconds(busy_ms),
            "idleSlotSeconds": seconds(slot_ms - busy_ms),
            "cost": money(total_cost),
            "busyCost": money(busy_cost),
            "idleCost": money(idle_cost),
            "currency": req.currency,
        },
    }))
}

/// The CSV columns of a report: its key columns, then the figures.
pub fn csv_columns(group_by: GroupBy, scope: Scope) -> Vec<&'static str> {
    let mut columns = Vec::new();
    if scope == Scope::All {
        columns.extend(["tenantUuid", "tenantName"]);
    }
    columns.extend(group_by.key_columns());
    columns.extend([
        "slotSeconds",
        "busySlotSeconds",
        "idleSlotSeconds",
        "cost",
        "busyCost",
        "idleCost",
        "currency",
    ]);
    columns
}

/// The report's lines as CSV (RFC 4180: CRLF, fields quoted when they hold a comma, a
/// quote or a line break). A name a spreadsheet would take for a formula (starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`.
pub fn csv(report: &Value, group_by: GroupBy, scope: Scope) -> String {
    let columns = csv_columns(group_by, scope);
    let mut out = String::new();
    out.push_str(&columns.join(","));
    out.push_str("\r\n");
    for line in report["lines"].as_array().into_iter().flatten() {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| match &line[*c] {
                Value::Null => String::new(),
                Value::String(s) => csv_field(s, c.ends_with("Name")),
                other => csv_field(&other.to_string(), false),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(text: &str, is_name: bool) -> String {
    let text = if is_name && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_become_exact_units() {
        assert_eq!(price_units("0.05"), Some(50_000_000));
        assert_eq!(price_units("1"), Some(1_000_000_000));
        assert_eq!(price_units("0.000000001"), Some(1));
        assert_eq!(price_units("0.0000000001"), None, "finer than the scale");
        assert_eq!(price_units("-1"), None);
        assert_eq!(price_units("x"), None);
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain", true), "plain");
        assert_eq!(csv_field("a,b", true), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)", true), "'=SUM(A1)");
        assert_eq!(csv_field("-1.5", false), "-1.5");
    }

    #[test]
    fn periods_default_to_this_month_and_are_checked() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap();
        let (from, to) = period(None, None, now).unwrap();
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(to, now);
        let (from, _) = period(Some("2026-11-03"), None, now).unwrap();
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap());
        assert!(period(Some("yesterday"), None, now).is_err());
        assert!(period(Some("2026-12-02"), Some("2026-12-01"), now).is_err());
        assert!(period(Some("2024-01-01"), Some("2026-01-01"), now).is_err());
    }
}
