//! Billing reports: a node's usage intervals (its billed stretches from Ready to its end,
//! each with its slots and the price snapshotted) and the instance executions on it (the
//! busy part), clipped to a period, grouped, and priced exactly (see `hearth_core::billing`).
//!
//! The database sums node time and busy time per group, price and day: whole UTC days from
//! the day rollups that an interval's close writes (`hearth_migrations::rollups`), the
//! partial edge days and the open intervals from the raw rows; here they are priced and
//! apportioned. Memory: the report's lines, at most [`MAX_LINES`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use hearth_api::billing::{UsageFigures, UsageLine, UsageReport};
use hearth_core::billing::{
    COST_DENOMINATOR, MONEY_DECIMALS, PRICE_SCALE, apportion, cost_numerator, decimal_text,
    split_by_day,
};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::entities::{pool, task, tenant};
use crate::error::{ApiError, ApiResult};

/// Days raw usage is kept by default (see [`prune_raw_usage`]).
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// The shortest retention: longer than the longest report or budget period (366 days), so
/// one ending now never needs pruned rows.
pub const MIN_RETENTION_DAYS: u32 = MAX_DAYS as u32 + 1;

/// The first instant whose raw usage is kept: the UTC midnight `days` days before `now`'s.
pub fn raw_horizon(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let day = now.date_naive() - chrono::Duration::days(i64::from(days));
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// Before the horizon only whole UTC days, from the rollups, can be reported: a period
/// edge there must be a midnight, and node lines (read from the raw rows) start after it.
pub fn check_retained(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: GroupBy,
    horizon: DateTime<Utc>,
) -> ApiResult<()> {
    if from >= horizon {
        return Ok(());
    }
    let kept = format!(
        "raw usage before {} is no longer kept",
        hearth_api::time::text(horizon)
    );
    if group_by == GroupBy::Node {
        return Err(ApiError::field(
            "from",
            format!("must not be before the horizon with groupBy=node: {kept}"),
        ));
    }
    let midnight = |t: DateTime<Utc>| t.time() == chrono::NaiveTime::MIN;
    if !midnight(from) {
        return Err(ApiError::field(
            "from",
            format!("must be a UTC midnight before the horizon: {kept}"),
        ));
    }
    if to < horizon && !midnight(to) {
        return Err(ApiError::field(
            "to",
            format!("must be a UTC midnight before the horizon: {kept}"),
        ));
    }
    Ok(())
}

/// What one prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub intervals: u64,
    pub interval_days: u64,
    pub executions: u64,
}

/// Deletes the raw usage wholly before `horizon`: closed intervals that ended before it,
/// their day index before its day, and ended executions before it, except on a node
/// whose usage is still open (its busy time is rolled up when that interval closes). The
/// day rollups of those days stay, and with them every whole-day report. Each statement
/// reads an index (the intervals' end, the days' day, each tenant's executions by end).
pub async fn prune_raw_usage(
    db: &impl ConnectionTrait,
    horizon: DateTime<Utc>,
) -> ApiResult<Pruned> {
    use crate::entities::{instance_execution, usage_interval};
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let mut pruned = Pruned::default();
    let day = horizon.timestamp().div_euclid(86_400);
    let days = Query::delete()
        .from_table(Alias::new("usage_interval_days"))
        .and_where(Expr::col(Alias::new("day")).lt(day))
        .to_owned();
    pruned.interval_days = db
        .execute_raw(db.get_database_backend().build(&days))
        .await?
        .rows_affected();
    pruned.intervals = usage_interval::Entity::delete_many()
        .filter(usage_interval::Column::EndedAt.lt(horizon))
        .exec(db)
        .await?
        .rows_affected;
    let tenants: Vec<Uuid> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for tenant_id in tenants {
        pruned.executions += instance_execution::Entity::delete_many()
            .filter(instance_execution::Column::TenantId.eq(tenant_id))
            .filter(instance_execution::Column::EndedAt.lt(horizon))
            .filter(Expr::cust(
                "NOT EXISTS (SELECT 1 FROM usage_intervals u \
                 WHERE u.node_id = instance_executions.node_id AND u.ended_at IS NULL)",
            ))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(pruned)
}

/// Most lines one report answers (narrow the period or group more coarsely beyond).
pub const MAX_LINES: usize = 100_000;
/// Longest period of one report.
pub const MAX_DAYS: i64 = 366;
/// The `taskName` of a pool's idle line when grouping by task.
pub use hearth_api::billing::IDLE_LINE;

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

/// An instant as a client writes one: RFC 3339, or `YYYY-MM-DD` for its UTC midnight.
pub fn instant(text: &str, field: &str) -> ApiResult<DateTime<Utc>> {
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

/// `from` and `to` as given (RFC 3339, or a date meaning its UTC midnight), by default the
/// current month up to now, checked.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
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

/// One row of the aggregate queries: whose, the parts of its group the grouping needs, the
/// price, and the slot-milliseconds at that price.
struct Sum {
    tenant: Uuid,
    pool: Option<Uuid>,
    node: Option<Uuid>,
    profile: Option<String>,
    task: Option<Uuid>,
    day: Option<String>,
    price: String,
    ms: i64,
}

struct Report {
    group_by: GroupBy,
    lines: BTreeMap<(Uuid, Group), Acc>,
}

fn missing(what: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("billing aggregate row without its {what}"))
}

impl Report {
    /// The line that holds a node's slot time.
    fn container(&self, s: &Sum) -> ApiResult<Group> {
        let pool = || s.pool.ok_or_else(|| missing("pool"));
        Ok(match self.group_by {
            GroupBy::Pool => Group::Pool(pool()?),
            GroupBy::Profile => Group::Profile(Arc::from(
                s.profile.as_deref().ok_or_else(|| missing("profile"))?,
            )),
            GroupBy::Day => Group::Day(
                s.day
                    .as_deref()
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .ok_or_else(|| missing("day"))?,
            ),
            GroupBy::Node => Group::Node {
                pool: pool()?,
                node: s.node.ok_or_else(|| missing("node"))?,
            },
            GroupBy::Task => Group::PoolTask {
                pool: pool()?,
                task: TaskOrIdle::Idle,
            },
        })
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

    /// Slot-milliseconds of nodes (already times their slots) in their group.
    fn add_slot_time(&mut self, s: &Sum, price: i128) -> ApiResult<()> {
        let group = self.container(s)?;
        let acc = self.line(s.tenant, group)?;
        acc.slot_ms += s.ms;
        acc.slot_num += cost_numerator(s.ms, price);
        Ok(())
    }

    /// Busy slot-milliseconds (of `s.task` when grouping by task).
    fn add_busy_time(&mut self, s: &Sum, price: i128) -> ApiResult<()> {
        let container = self.container(s)?;
        let num = cost_numerator(s.ms, price);
        if self.group_by == GroupBy::Task {
            // The task's line holds its busy time; the pool's idle line what is left.
            let busy = self.line(
                s.tenant,
                Group::PoolTask {
                    pool: s.pool.ok_or_else(|| missing("pool"))?,
                    task: TaskOrIdle::Task(s.task.ok_or_else(|| missing("task"))?),
                },
            )?;
            busy.slot_ms += s.ms;
            busy.slot_num += num;
            busy.busy_ms += s.ms;
            busy.busy_num += num;
            let idle = self.line(s.tenant, container)?;
            idle.slot_ms -= s.ms;
            idle.slot_num -= num;
        } else {
            let acc = self.line(s.tenant, container)?;
            acc.busy_ms += s.ms;
            acc.busy_num += num;
        }
        Ok(())
    }
}

/// A statement being written, with its bound values in the order their placeholders appear.
struct Query {
    backend: DbBackend,
    sql: String,
    values: Vec<sea_orm::Value>,
}

impl Query {
    fn bind(&mut self, value: impl Into<sea_orm::Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    fn postgres(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// An instant column as whole milliseconds since the epoch (to the nearest), the same
    /// number on both databases.
    fn ms(&self, column: &str) -> String {
        if self.postgres() {
            format!("CAST(ROUND(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)")
        } else {
            format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)")
        }
    }

    fn least(&self, parts: &[&str]) -> String {
        let f = if self.postgres() { "LEAST" } else { "MIN" };
        format!("{f}({})", parts.join(", "))
    }

    fn greatest(&self, parts: &[&str]) -> String {
        let f = if self.postgres() { "GREATEST" } else { "MAX" };
        format!("{f}({})", parts.join(", "))
    }

    /// A join that reads its left side first: SQLite's planner, without statistics on a
    /// materialized CTE, may otherwise scan the whole right table and probe the left.
    fn outer_first(&self) -> &'static str {
        if self.postgres() {
            "JOIN"
        } else {
            "CROSS JOIN"
        }
    }

    fn null_uuid(&self) -> &'static str {
        if self.postgres() {
            "CAST(NULL AS uuid)"
        } else {
            "NULL"
        }
    }
}

/// One stretch of the period a raw query clips to: `(day label, start ms, end ms)`; the
/// label is the UTC day when grouping by day, else empty.
type Window = (String, i64, i64);

/// The period's UTC days, each whole (`true`: it can be read from the rollups) or cut by
/// `from` or `to`.
fn days(req: &UsageRequest) -> Vec<(NaiveDate, i64, i64, bool)> {
    split_by_day(req.from, req.to)
        .map(|(day, s, e)| {
            let midnight = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
            let whole = s == midnight && e == midnight + chrono::Duration::days(1);
            (day, s.timestamp_millis(), e.timestamp_millis(), whole)
        })
        .collect()
}

/// Windows over some of the period's days: one per day when grouping by day, else one per
/// run of consecutive days.
fn windows(req: &UsageRequest, days: &[(NaiveDate, i64, i64, bool)]) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    for (day, s, e, _) in days {
        if req.group_by == GroupBy::Day {
            out.push((day.to_string(), *s, *e));
        } else if let Some(last) = out.last_mut().filter(|w| w.2 == *s) {
            last.2 = *e;
        } else {
            out.push((String::new(), *s, *e));
        }
    }
    out
}

fn epoch_day(day: NaiveDate) -> i64 {
    i64::from(day.num_days_from_ce() - EPOCH_CE_DAYS)
}

/// `num_days_from_ce` of 1970-01-01.
const EPOCH_CE_DAYS: i32 = 719_163;

/// Which intervals a raw query reads.
enum Source<'a> {
    /// Every interval overlapping the period (grouping by node: rollups keep no node).
    Period,
    /// Closed intervals that touched these days (epoch days), and the open ones.
    Days(&'a [i64]),
    /// The open intervals.
    Open,
}

/// Node time (`busy` false: intervals × slots) or busy time (`busy` true: executions, one
/// slot each, cut by the interval that priced them) of the intervals of `source`, clipped
/// to `windows` and summed by group, price and window in the database.
async fn raw_sums<C: ConnectionTrait>(
    db: &C,
    req: &UsageRequest,
    busy: bool,
    source: Source<'_>,
    windows: &[Window],
) -> ApiResult<Vec<Sum>> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query {
        backend: db.get_database_backend(),
        sql: String::new(),
        values: Vec::new(),
    };
    let now = req.now.timestamp_millis().to_string();
    let null_uuid = q.null_uuid();
    let (pool, node, profile) = match req.group_by {
        GroupBy::Pool | GroupBy::Task => ("i.pool_id", null_uuid, "CAST(NULL AS TEXT)"),
        GroupBy::Profile => (null_uuid, null_uuid, "i.profile_name"),
        GroupBy::Day => (null_uuid, null_uuid, "CAST(NULL AS TEXT)"),
        GroupBy::Node => ("i.pool_id", "i.node_id", "CAST(NULL AS TEXT)"),
    };
    let task = if busy && req.group_by == GroupBy::Task {
        "i.task_id"
    } else {
        null_uuid
    };
    let mut group = vec!["i.tenant_id", "w.day", "i.price_per_slot_hour"];
    group.extend(
        [pool, node, profile, task]
            .into_iter()
            .filter(|c| c.starts_with("i.")),
    );
    let rows: Vec<String> = windows
        .iter()
        .map(|(day, s, e)| format!("('{day}', {s}, {e})"))
        .collect();
    let mut ctes = vec![format!(
        "WITH w(day, ds, de) AS (VALUES {})",
        rows.join(", ")
    )];
    // `u`: the intervals read, each instant turned into milliseconds once (materialized:
    // the joins then compare integers).
    let columns = format!(
        "v.id, v.tenant_id, v.pool_id, v.node_id, v.profile_name, v.price_per_slot_hour, \
         v.slots, {} AS s, COALESCE({}, {now}) AS e",
        q.ms("v.started_at"),
        q.ms("v.ended_at")
    );
    let tenant = |q: &mut Query, prefix: &str| match req.scope {
        Scope::Tenant(t) => format!(" AND {prefix}tenant_id = {}", q.bind(t)),
        Scope::All => String::new(),
    };
    // By their null end only (the index on it): the few open intervals, whatever their
    // start; one that starts after the period meets no window.
    let open = |q: &mut Query| {
        let t = tenant(q, "v.");
        format!("SELECT {columns} FROM usage_intervals v WHERE v.ended_at IS NULL{t}")
    };
    let intervals = match source {
        Source::Period => {
            // Placeholders bound in the order they appear (SQLite's are positional).
            let to = q.bind(req.to);
            let from = q.bind(req.from);
            let t = tenant(&mut q, "v.");
            format!(
                "SELECT {columns} FROM usage_intervals v WHERE v.started_at < {to} \
                 AND (v.ended_at IS NULL OR v.ended_at > {from}){t}"
            )
        }
        Source::Days(days) => {
            let list: Vec<String> = days.iter().map(i64::to_string).collect();
            // Driven by the days' index, each interval then found by its id.
            let t = tenant(&mut q, "d.");
            let closed = format!(
                "SELECT {columns} FROM usage_interval_days d \
                 {} usage_intervals v ON v.id = d.interval_id WHERE d.day IN ({}){t}",
                q.outer_first(),
                list.join(", ")
            );
            format!("{closed} UNION ALL {}", open(&mut q))
        }
        Source::Open => open(&mut q),
    };
    ctes.push(format!("u AS MATERIALIZED ({intervals})"));
    if busy {
        // Each execution on the interval's node cut by the interval (found through the
        // executions' node index).
        let x_end = format!("COALESCE({}, {now})", q.ms("x.ended_at"));
        let start = q.greatest(&[&q.ms("x.started_at"), "u.s"]);
        let end = q.least(&[&x_end, "u.e"]);
        ctes.push(format!(
            "i AS MATERIALIZED (SELECT u.tenant_id, u.pool_id, u.node_id, u.profile_name, \
             u.price_per_slot_hour, x.task_id, {start} AS s, {end} AS e \
             FROM u {} instance_executions x ON x.node_id = u.node_id)",
            q.outer_first()
        ));
    }
    let from = if busy { "i" } else { "u i" };
    let start = q.greatest(&["i.s", "w.ds"]);
    let end = q.least(&["i.e", "w.de"]);
    let slots = if busy { "" } else { " * i.slots" };
    q.sql = format!(
        "{} SELECT i.tenant_id, {pool}, {node}, {profile}, {task}, w.day, \
         i.price_per_slot_hour, CAST(SUM(({end} - {start}){slots}) AS BIGINT) \
         FROM {from} JOIN w ON {start} < {end} GROUP BY {}",
        ctes.join(", "),
        group.join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(q.backend, q.sql, q.values))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Sum {
                tenant: r.try_get_by_index(0)?,
                pool: r.try_get_by_index(1)?,
                node: r.try_get_by_index(2)?,
                profile: r.try_get_by_index(3)?,
                task: r.try_get_by_index(4)?,
                day: r
                    .try_get_by_index::<Option<String>>(5)?
                    .filter(|d| !d.is_empty()),
                price: r.try_get_by_index(6)?,
                ms: r.try_get_by_index::<Option<i64>>(7)?.unwrap_or(0),
            })
        })
        .collect::<Result<Vec<Sum>, sea_orm::DbErr>>()
        .map_err(ApiError::from)
}

/// Node time and busy time (`(busy, sum)`) of closed intervals over whole days
/// `[first, last]` (epoch days), from the day rollups: a few rows per pool and day.
async fn rollup_sums<C: ConnectionTrait>(
    db: &C,
    req: &UsageRequest,
    (first, last): (i64, i64),
) -> ApiResult<Vec<(bool, Sum)>> {
    let mut q = Query {
        backend: db.get_database_backend(),
        sql: String::new(),
        values: Vec::new(),
    };
    let null_uuid = q.null_uuid();
    let (pool, profile, task, day) = match req.group_by {
        GroupBy::Pool => (
            "pool_id",
            "CAST(NULL AS TEXT)",
            null_uuid,
            "CAST(NULL AS BIGINT)",
        ),
        GroupBy::Task => (
            "pool_id",
            "CAST(NULL AS TEXT)",
            "task_id",
            "CAST(NULL AS BIGINT)",
        ),
        GroupBy::Profile => (null_uuid, "profile_name", null_uuid, "CAST(NULL AS BIGINT)"),
        GroupBy::Day | GroupBy::Node => (null_uuid, "CAST(NULL AS TEXT)", null_uuid, "day"),
    };
    let mut group = vec!["tenant_id", "price_per_slot_hour"];
    group.extend(
        [pool, profile, task, day]
            .into_iter()
            .filter(|c| !c.starts_with("CAST") && *c != "NULL"),
    );
    let mut clauses = Vec::new();
    if let Scope::Tenant(t) = req.scope {
        clauses.push(format!("tenant_id = {}", q.bind(t)));
    }
    clauses.push(format!(
        "day >= {} AND day <= {}",
        q.bind(first),
        q.bind(last)
    ));
    q.sql = format!(
        "SELECT tenant_id, {pool}, {profile}, {task}, {day}, price_per_slot_hour, \
         CAST(SUM(slot_ms) AS BIGINT), CAST(SUM(busy_ms) AS BIGINT) \
         FROM usage_rollups WHERE {} GROUP BY {}",
        clauses.join(" AND "),
        group.join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(q.backend, q.sql, q.values))
        .await?;
    let mut out = Vec::with_capacity(rows.len() * 2);
    for r in &rows {
        let task: Option<Uuid> = r.try_get_by_index(3)?;
        let day: Option<i64> = r.try_get_by_index(4)?;
        let day = day
            .map(|d| {
                i32::try_from(d)
                    .ok()
                    .and_then(|d| d.checked_add(EPOCH_CE_DAYS))
                    .and_then(NaiveDate::from_num_days_from_ce_opt)
                    .map(|d| d.to_string())
                    .ok_or_else(|| missing("day"))
            })
            .transpose()?;
        let sum = |ms: i64, task: Option<Uuid>| -> ApiResult<Sum> {
            Ok(Sum {
                tenant: r.try_get_by_index(0)?,
                pool: r.try_get_by_index(1)?,
                node: None,
                profile: r.try_get_by_index(2)?,
                task,
                day: day.clone(),
                price: r.try_get_by_index(5)?,
                ms,
            })
        };
        let slot_ms = r.try_get_by_index::<Option<i64>>(6)?.unwrap_or(0);
        let busy_ms = r.try_get_by_index::<Option<i64>>(7)?.unwrap_or(0);
        match task {
            // Grouped by task: the nil task's row is node time, the others busy time.
            Some(t) if t.is_nil() => out.push((false, sum(slot_ms, None)?)),
            Some(t) => out.push((true, sum(busy_ms, Some(t))?)),
            None => {
                out.push((false, sum(slot_ms, None)?));
                out.push((true, sum(busy_ms, None)?));
            }
        }
    }
    Ok(out)
}

/// Every sum of a report (`(busy, sum)`; busy time only when `with_busy`): whole days of
/// closed intervals from the rollups; the raw rows of the partial days' intervals and of
/// the open ones otherwise. Grouped by node, the raw rows of the whole period. Read in one
/// snapshot, so that an interval closing meanwhile counts once.
async fn all_sums<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    req: &UsageRequest,
    with_busy: bool,
) -> ApiResult<Vec<(bool, Sum)>> {
    let txn = if db.get_database_backend() == DbBackend::Postgres {
        db.begin_with_config(
            Some(sea_orm::IsolationLevel::RepeatableRead),
            Some(sea_orm::AccessMode::ReadOnly),
        )
        .await?
    } else {
        db.begin().await?
    };
    let kinds: &[bool] = if with_busy { &[false, true] } else { &[false] };
    let mut out = Vec::new();
    if req.group_by == GroupBy::Node {
        let whole = windows(req, &days(req));
        for &busy in kinds {
            for s in raw_sums(&txn, req, busy, Source::Period, &whole).await? {
                out.push((busy, s));
            }
        }
    } else {
        let days = days(req);
        let (whole, partial): (Vec<_>, Vec<_>) = days.into_iter().partition(|d| d.3);
        if let (Some(first), Some(last)) = (whole.first(), whole.last()) {
            for (busy, s) in rollup_sums(&txn, req, (epoch_day(first.0), epoch_day(last.0))).await?
            {
                if busy && !with_busy {
                    continue;
                }
                out.push((busy, s));
            }
        }
        let partial_days: Vec<i64> = partial.iter().map(|d| epoch_day(d.0)).collect();
        let (edge, open) = (windows(req, &partial), windows(req, &whole));
        for &busy in kinds {
            for s in raw_sums(&txn, req, busy, Source::Days(&partial_days), &edge).await? {
                out.push((busy, s));
            }
            for s in raw_sums(&txn, req, busy, Source::Open, &open).await? {
                out.push((busy, s));
            }
        }
    }
    txn.commit().await?;
    Ok(out)
}

/// The report as JSON: node time and busy time summed in the database (one row per group,
/// price and day), priced and apportioned here.
pub async fn usage<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    req: &UsageRequest,
) -> ApiResult<UsageReport> {
    let mut report = Report {
        group_by: req.group_by,
        lines: BTreeMap::new(),
    };
    let mut prices: HashMap<String, i128> = HashMap::new();
    for (busy, s) in all_sums(db, req, true).await? {
        let price = match prices.get(&s.price) {
            Some(p) => *p,
            None => {
                let p = price_units(&s.price).ok_or_else(|| unreadable(&s.price))?;
                prices.insert(s.price.clone(), p);
                p
            }
        };
        if busy {
            report.add_busy_time(&s, price)?;
        } else {
            report.add_slot_time(&s, price)?;
        }
    }
    render(db, req, report).await
}

fn unreadable(price: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!(
        "a usage interval has an unreadable price '{price}'"
    ))
}

/// The exact cost of a tenant's nodes over `[from, to)` up to `now`, as a numerator over
/// `COST_DENOMINATOR` micro-units: the report's `totals.cost` before its one rounding. Node
/// time by pool and price only; busy time does not change a total.
pub async fn tenant_cost<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ApiResult<i128> {
    let req = UsageRequest {
        scope: Scope::Tenant(tenant),
        from,
        to,
        group_by: GroupBy::Pool,
        now,
        currency: String::new(),
    };
    let mut total = 0i128;
    for (_, s) in all_sums(db, &req, false).await? {
        let price = price_units(&s.price).ok_or_else(|| unreadable(&s.price))?;
        total += cost_numerator(s.ms, price);
    }
    Ok(total)
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
) -> ApiResult<UsageReport> {
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
    let name_of = |names: &HashMap<Uuid, String>, id: &Uuid| names.get(id).cloned();
    let figures = |slot_ms: i64, busy_ms: i64, busy: i128, idle: i128| UsageFigures {
        slot_seconds: seconds(slot_ms),
        busy_slot_seconds: seconds(busy_ms),
        idle_slot_seconds: seconds(slot_ms - busy_ms),
        cost: money(busy + idle),
        busy_cost: money(busy),
        idle_cost: money(idle),
        currency: req.currency.clone(),
    };

    let mut lines = Vec::with_capacity(report.lines.len());
    let (mut slot_ms, mut busy_ms, mut busy_cost, mut idle_cost) = (0i64, 0i64, 0i128, 0i128);
    for (i, ((tenant, group), acc)) in report.lines.iter().enumerate() {
        let (busy, idle) = (shown[2 * i], shown[2 * i + 1]);
        let mut line = UsageLine {
            tenant_uuid: None,
            tenant_name: None,
            pool_uuid: None,
            pool_name: None,
            profile: None,
            day: None,
            node_uuid: None,
            task_uuid: None,
            task_name: None,
            figures: figures(acc.slot_ms, acc.busy_ms, busy, idle),
        };
        if req.scope == Scope::All {
            line.tenant_uuid = Some(*tenant);
            line.tenant_name = name_of(&tenant_names, tenant);
        }
        match group {
            Group::Pool(p) => {
                line.pool_uuid = Some(*p);
                line.pool_name = name_of(&pool_names, p);
            }
            Group::Profile(name) => line.profile = Some(name.to_string()),
            Group::Day(day) => line.day = Some(day.to_string()),
            Group::Node { pool, node } => {
                line.node_uuid = Some(*node);
                line.pool_uuid = Some(*pool);
                line.pool_name = name_of(&pool_names, pool);
            }
            Group::PoolTask { pool, task } => {
                match task {
                    TaskOrIdle::Task(t) => {
                        line.task_uuid = Some(*t);
                        line.task_name = name_of(&task_names, t);
                    }
                    TaskOrIdle::Idle => line.task_name = Some(IDLE_LINE.to_owned()),
                }
                line.pool_uuid = Some(*pool);
                line.pool_name = name_of(&pool_names, pool);
            }
        }
        slot_ms += acc.slot_ms;
        busy_ms += acc.busy_ms;
        busy_cost += busy;
        idle_cost += idle;
        lines.push(line);
    }
    debug_assert_eq!(busy_cost + idle_cost, total_cost);
    Ok(UsageReport {
        tenant: match req.scope {
            Scope::Tenant(t) => t.to_string(),
            Scope::All => "all".to_owned(),
        },
        from: req.from,
        to: req.to,
        group_by: req.group_by.as_str().to_owned(),
        currency: req.currency.clone(),
        items: lines,
        next_page_token: None,
        totals: figures(slot_ms, busy_ms, busy_cost, idle_cost),
    })
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
pub fn csv(report: &UsageReport, group_by: GroupBy, scope: Scope) -> String {
    let columns = csv_columns(group_by, scope);
    let mut out = String::new();
    out.push_str(&columns.join(","));
    out.push_str("\r\n");
    for line in &report.items {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| match column(line, c) {
                None => String::new(),
                Some(text) => csv_field(&text, c.ends_with("Name")),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A line's field by its JSON name (the CSV header).
fn column(line: &UsageLine, name: &str) -> Option<String> {
    let f = &line.figures;
    let text = |s: &Option<String>| s.clone();
    let id = |u: &Option<Uuid>| u.map(|u| u.to_string());
    match name {
        "tenantUuid" => id(&line.tenant_uuid),
        "tenantName" => text(&line.tenant_name),
        "poolUuid" => id(&line.pool_uuid),
        "poolName" => text(&line.pool_name),
        "profile" => text(&line.profile),
        "day" => text(&line.day),
        "nodeUuid" => id(&line.node_uuid),
        "taskUuid" => id(&line.task_uuid),
        "taskName" => text(&line.task_name),
        "slotSeconds" => Some(f.slot_seconds.clone()),
        "busySlotSeconds" => Some(f.busy_slot_seconds.clone()),
        "idleSlotSeconds" => Some(f.idle_slot_seconds.clone()),
        "cost" => Some(f.cost.clone()),
        "busyCost" => Some(f.busy_cost.clone()),
        "idleCost" => Some(f.idle_cost.clone()),
        "currency" => Some(f.currency.clone()),
        _ => None,
    }
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
