//! Day rollups of usage (issue 7): the SQL that folds closed usage intervals into
//! `usage_rollups` (per tenant, UTC day, pool, profile, price and task) and records the days
//! each touched in `usage_interval_days`. One statement set serves the server's write path
//! (the intervals a transaction just closed) and the backfill of history (every closed
//! interval, run once by the migration that creates the tables), so both roll up alike.
//!
//! A `usage_rollups` row with the nil task holds node time (interval milliseconds × slots);
//! a row with a task holds that task's busy milliseconds (its executions, one slot each,
//! cut by the interval that priced them; an execution still running when its interval
//! closed counts to the interval's end, as a report would count it).

use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// Which closed intervals to roll up.
pub enum Closed<'a> {
    /// These (just closed by the caller's transaction).
    Ids(&'a [Uuid]),
    /// Every closed interval (the backfill; the tables must be empty).
    All,
}

/// An instant column as whole milliseconds since the epoch (to the nearest), the same
/// number on both databases (and the same expression the reports use).
pub fn ms(backend: DbBackend, column: &str) -> String {
    if backend == DbBackend::Postgres {
        format!("CAST(ROUND(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)")
    } else {
        format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)")
    }
}

pub fn least(backend: DbBackend, parts: &[&str]) -> String {
    let f = if backend == DbBackend::Postgres {
        "LEAST"
    } else {
        "MIN"
    };
    format!("{f}({})", parts.join(", "))
}

pub fn greatest(backend: DbBackend, parts: &[&str]) -> String {
    let f = if backend == DbBackend::Postgres {
        "GREATEST"
    } else {
        "MAX"
    };
    format!("{f}({})", parts.join(", "))
}

/// Rolls the closed intervals `which` into the day rollups (adding to what is there).
/// Each interval must be rolled up once: the write path calls this for the intervals its
/// own update closed, the backfill once over an empty table.
pub async fn roll_up<C: ConnectionTrait>(db: &C, which: Closed<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = Vec::new();
    let filter = match which {
        Closed::Ids([]) => return Ok(()),
        Closed::Ids(ids) => {
            let marks: Vec<String> = ids
                .iter()
                .map(|id| {
                    values.push((*id).into());
                    placeholder(backend, values.len())
                })
                .collect();
            format!("id IN ({})", marks.join(", "))
        }
        Closed::All => "TRUE".to_owned(),
    };
    // `d`: one row per closed interval and UTC day it touches, times in milliseconds.
    let d = format!(
        "WITH RECURSIVE d(id, tenant_id, pool_id, node_id, profile_name, price, slots, s, e, day) AS (\
         SELECT id, tenant_id, pool_id, node_id, profile_name, price_per_slot_hour, slots, \
         {start}, {end}, {start} / {DAY_MS} FROM usage_intervals \
         WHERE ended_at IS NOT NULL AND {filter} \
         UNION ALL SELECT id, tenant_id, pool_id, node_id, profile_name, price, slots, s, e, day + 1 \
         FROM d WHERE (day + 1) * {DAY_MS} < e)",
        start = ms(backend, "started_at"),
        end = ms(backend, "ended_at"),
    );
    let upsert = "ON CONFLICT (tenant_id, day, pool_id, profile_name, price_per_slot_hour, task_id) \
                  DO UPDATE SET slot_ms = usage_rollups.slot_ms + excluded.slot_ms, \
                  busy_ms = usage_rollups.busy_ms + excluded.busy_ms";
    let columns =
        "(tenant_id, day, pool_id, profile_name, price_per_slot_hour, task_id, slot_ms, busy_ms)";
    let day_start = format!("d.day * {DAY_MS}");
    let day_end = format!("(d.day + 1) * {DAY_MS}");

    // Node time.
    let mut node_values = values.clone();
    node_values.push(Uuid::nil().into());
    let nil = placeholder(backend, node_values.len());
    let node_start = greatest(backend, &["d.s", &day_start]);
    let node_end = least(backend, &["d.e", &day_end]);
    let node_sql = format!(
        "{d} INSERT INTO usage_rollups {columns} \
         SELECT d.tenant_id, d.day, d.pool_id, d.profile_name, d.price, {nil}, \
         CAST(SUM(({node_end} - {node_start}) * d.slots) AS BIGINT), 0 \
         FROM d WHERE {node_end} > {node_start} \
         GROUP BY d.tenant_id, d.day, d.pool_id, d.profile_name, d.price {upsert}"
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        node_sql,
        node_values,
    ))
    .await?;

    // Busy time: each execution on the node cut by the interval and the day.
    let x_end = ms(backend, "x.ended_at");
    let busy_start = greatest(backend, &[&ms(backend, "x.started_at"), "d.s", &day_start]);
    let busy_end = least(
        backend,
        &[&format!("COALESCE({x_end}, d.e)"), "d.e", &day_end],
    );
    // SQLite: `d` read first (CROSS JOIN keeps the order), each node's executions then
    // found by their node index, rather than every execution probed against `d`.
    let join = if backend == DbBackend::Postgres {
        "JOIN"
    } else {
        "CROSS JOIN"
    };
    let busy_sql = format!(
        "{d} INSERT INTO usage_rollups {columns} \
         SELECT d.tenant_id, d.day, d.pool_id, d.profile_name, d.price, x.task_id, 0, \
         CAST(SUM({busy_end} - {busy_start}) AS BIGINT) \
         FROM d {join} instance_executions x ON x.node_id = d.node_id \
         WHERE {busy_end} > {busy_start} \
         GROUP BY d.tenant_id, d.day, d.pool_id, d.profile_name, d.price, x.task_id {upsert}"
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        busy_sql,
        values.clone(),
    ))
    .await?;

    // The days each interval touched: a report's partial days find their intervals here.
    let days_sql = format!(
        "{d} INSERT INTO usage_interval_days (interval_id, tenant_id, day) \
         SELECT d.id, d.tenant_id, d.day FROM d WHERE TRUE \
         ON CONFLICT (interval_id, day) DO NOTHING"
    );
    db.execute_raw(Statement::from_sql_and_values(backend, days_sql, values))
        .await?;
    Ok(())
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres {
        format!("${n}")
    } else {
        "?".to_owned()
    }
}
