//! Billing reports: a node's usage intervals (its billed stretches from Ready to its end,
//! each with its slots and the price snapshotted) and the instance executions on it (the
//! busy part), clipped to a period, grouped, and priced exactly (see `hearth_core::billing`).
//!
//! The database sums node time and busy time per group, price and day (one query each);
//! here they are priced and apportioned. Memory: the report's lines, at most [`MAX_LINES`].

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
};
use uuid::Uuid;

use crate::entities::{pool, task, tenant};
use crate::error::{ApiError, ApiResult};

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

    fn null_uuid(&self) -> &'static str {
        if self.postgres() {
            "CAST(NULL AS uuid)"
        } else {
            "NULL"
        }
    }
}

/// The period as windows `(day, start ms, end ms)`: one per UTC day when grouping by day,
/// else the period itself; written as a `VALUES` list of our own numbers.
fn windows(req: &UsageRequest) -> String {
    let rows: Vec<String> = if req.group_by == GroupBy::Day {
        split_by_day(req.from, req.to)
            .map(|(day, s, e)| {
                format!(
                    "('{day}', {}, {})",
                    s.timestamp_millis(),
                    e.timestamp_millis()
                )
            })
            .collect()
    } else {
        vec![format!(
            "('', {}, {})",
            req.from.timestamp_millis(),
            req.to.timestamp_millis()
        )]
    };
    format!("WITH w(day, ds, de) AS (VALUES {})", rows.join(", "))
}

/// Node time (`busy` false: intervals × slots) or busy time (`busy` true: executions, one
/// slot each, cut by the interval that priced them), summed by group, price and window in
/// the database.
async fn sums<C: ConnectionTrait>(db: &C, req: &UsageRequest, busy: bool) -> ApiResult<Vec<Sum>> {
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
    // `i`: the period's stretches, each instant turned into milliseconds once
    // (materialized: the join with the windows then compares integers). Node time: the
    // intervals. Busy time: the executions (`e`), each cut by the interval of its node
    // that priced it (found through the node's index).
    let mut ctes = vec![windows(req)];
    let period = |q: &mut Query, prefix: &str| {
        let mut clauses = Vec::new();
        if let Scope::Tenant(t) = req.scope {
            clauses.push(format!("{prefix}tenant_id = {}", q.bind(t)));
        }
        let to = q.bind(req.to);
        let from = q.bind(req.from);
        clauses.push(format!(
            "{prefix}started_at < {to} AND ({prefix}ended_at IS NULL OR {prefix}ended_at > {from})"
        ));
        clauses.join(" AND ")
    };
    if busy {
        let clauses = period(&mut q, "");
        ctes.push(format!(
            "e AS MATERIALIZED (SELECT node_id, task_id, {} AS s, COALESCE({}, {now}) AS e \
             FROM instance_executions WHERE {clauses})",
            q.ms("started_at"),
            q.ms("ended_at"),
        ));
        let clauses = period(&mut q, "u.");
        let u_start = q.ms("u.started_at");
        let u_end = format!("COALESCE({}, {now})", q.ms("u.ended_at"));
        ctes.push(format!(
            "i AS MATERIALIZED (SELECT u.tenant_id, u.pool_id, u.node_id, u.profile_name, \
             u.price_per_slot_hour, e.task_id, {} AS s, {} AS e \
             FROM e JOIN usage_intervals u ON u.node_id = e.node_id WHERE {clauses})",
            q.greatest(&["e.s", &u_start]),
            q.least(&["e.e", &u_end]),
        ));
    } else {
        let clauses = period(&mut q, "");
        ctes.push(format!(
            "i AS MATERIALIZED (SELECT tenant_id, pool_id, node_id, profile_name, \
             price_per_slot_hour, slots, {} AS s, COALESCE({}, {now}) AS e \
             FROM usage_intervals WHERE {clauses})",
            q.ms("started_at"),
            q.ms("ended_at"),
        ));
    }
    let start = q.greatest(&["i.s", "w.ds"]);
    let end = q.least(&["i.e", "w.de"]);
    let slots = if busy { "" } else { " * i.slots" };
    q.sql = format!(
        "{} SELECT i.tenant_id, {pool}, {node}, {profile}, {task}, w.day, \
         i.price_per_slot_hour, CAST(SUM(({end} - {start}){slots}) AS BIGINT) \
         FROM i JOIN w ON {start} < {end} GROUP BY {}",
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

/// The report as JSON: node time and busy time summed in the database (one row per group,
/// price and day), priced and apportioned here.
pub async fn usage<C: ConnectionTrait>(db: &C, req: &UsageRequest) -> ApiResult<UsageReport> {
    let mut report = Report {
        group_by: req.group_by,
        lines: BTreeMap::new(),
    };
    let mut prices: HashMap<String, i128> = HashMap::new();
    for busy in [false, true] {
        for s in sums(db, req, busy).await? {
            let price = match prices.get(&s.price) {
                Some(p) => *p,
                None => {
                    let p = price_units(&s.price).ok_or_else(|| {
                        ApiError::Internal(anyhow::anyhow!(
                            "a usage interval has an unreadable price '{}'",
                            s.price
                        ))
                    })?;
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
    }
    render(db, req, report).await
}

/// The exact cost of a tenant's nodes over `[from, to)` up to `now`, as a numerator over
/// `COST_DENOMINATOR` micro-units: the report's `totals.cost` before its one rounding. One
/// aggregate query (node time by pool and price); busy time does not change a total.
pub async fn tenant_cost<C: ConnectionTrait>(
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
    for s in sums(db, &req, false).await? {
        let price = price_units(&s.price).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "a usage interval has an unreadable price '{}'",
                s.price
            ))
        })?;
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
