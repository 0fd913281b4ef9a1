//! Billing report over a large history: `GET /billing/usage`'s work (the service call the
//! route makes) over 1,000,000 usage intervals and 1,000,000 executions of one tenant.
//!
//! ```sh
//! cargo bench -p hearth-server --bench billing
//! ```
//!
//! A fresh data directory (SQLite, or `HEARTH_BENCH_PG_URL` for a fresh PostgreSQL
//! database) gets `HEARTH_BENCH_INTERVALS` (default 1,000,000) usage intervals: 1,000 pools,
//! one interval of 1–6 h per node within November 2026, 1–16 slots, two prices; and one
//! execution inside each interval (one task per pool). The rollups are made by the real
//! backfill (migration m0011's statements). Then, for `groupBy` pool, day and task, the
//! median of 3 reports of November, and by pool from noon on the 1st to noon on the 30th
//! (partial edge days read raw), beside the machine's floor measured in the
//! same run: the time the database takes to count and sum the same rows
//! (`SELECT COUNT(*), SUM(slots)` over the tenant's intervals and executions). Target: a
//! report in < 2 s. Prints `billing_report_<group>_ms=<median>` lines for scripts.

use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use hearth_server::entities::{instance_execution, usage_interval};
use hearth_server::services::billing::{self, GroupBy, Scope, UsageRequest};
use hearth_server::startup::{Application, Settings};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

const POOLS: u64 = 1_000;
const CHUNK: usize = 1_000;
const ROUNDS: usize = 3;

fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A small deterministic generator (the same history every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let intervals: u64 = std::env::var("HEARTH_BENCH_INTERVALS")
        .ok()
        .map(|v| v.parse().context("HEARTH_BENCH_INTERVALS"))
        .transpose()?
        .unwrap_or(1_000_000);
    // HEARTH_BENCH_KEEP: the data directory is kept, to look at the database afterwards.
    let (_dir, dir) = if std::env::var_os("HEARTH_BENCH_KEEP").is_some() {
        let kept = tempfile::tempdir()?.keep();
        println!("data directory kept: {}", kept.display());
        (None, kept)
    } else {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        (Some(dir), path)
    };
    let pg_url = std::env::var("HEARTH_BENCH_PG_URL").ok();
    let mut pg_name = None;
    let database_url = match &pg_url {
        Some(base) => {
            let admin = sea_orm::Database::connect(base.as_str()).await?;
            let name = format!("hearth_bench_billing_{}", Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            pg_name = Some((admin, name.clone()));
            let (root, _) = base.rsplit_once('/').context("a database URL")?;
            Some(format!("{root}/{name}"))
        }
        None => None,
    };
    let app =
        Application::build(Settings::new(dir.clone()).with_database_url(database_url)).await?;
    let state = app.state();
    let db = state.db.clone();
    let tenant = hearth_server::entities::tenant::Entity::find()
        .one(&db)
        .await?
        .context("the first tenant")?
        .id;

    println!(
        "billing bench ({}): {intervals} usage intervals and as many executions, {POOLS} pools",
        if pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let pools: Vec<Uuid> = (0..POOLS).map(|_| Uuid::now_v7()).collect();
    let tasks: Vec<Uuid> = (0..POOLS).map(|_| Uuid::now_v7()).collect();
    let mut rng = Lcg(7);
    let fill = Instant::now();
    let mut made = 0u64;
    while made < intervals {
        let n = CHUNK.min((intervals - made) as usize);
        let mut rows = Vec::with_capacity(n);
        let mut execs = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let p = ((made + i) % POOLS) as usize;
            let node = Uuid::now_v7();
            let start = t0 + Duration::seconds(rng.next(29 * 86_400) as i64);
            let end = start + Duration::seconds(3_600 + rng.next(5 * 3_600) as i64);
            rows.push(usage_interval::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(tenant),
                pool_id: Set(pools[p]),
                node_id: Set(node),
                profile_name: Set(if p.is_multiple_of(2) {
                    "docker-batch"
                } else {
                    "docker-nvidia"
                }
                .into()),
                slots: Set(1 + rng.next(16) as i32),
                price_per_slot_hour: Set(if p.is_multiple_of(2) { "0.05" } else { "0.08" }.into()),
                started_at: Set(start),
                ended_at: Set(Some(end)),
            });
            let busy_start = start + Duration::seconds(rng.next(1_800) as i64);
            execs.push(instance_execution::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(tenant),
                pool_id: Set(pools[p]),
                node_id: Set(node),
                task_id: Set(tasks[p]),
                instance_row_id: Set(Uuid::now_v7()),
                instance_id: Set(i as i32),
                attempt: Set(1),
                slot_index: Set(0),
                started_at: Set(busy_start),
                ended_at: Set(Some(
                    busy_start + Duration::seconds(1 + rng.next(1_800) as i64),
                )),
                exit_code: Set(Some(0)),
                outcome: Set(Some("Succeeded".into())),
            });
        }
        let txn = state.writer.begin().await?;
        usage_interval::Entity::insert_many(rows).exec(&txn).await?;
        instance_execution::Entity::insert_many(execs)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        made += n as u64;
    }
    println!("history written in {:.1} s", fill.elapsed().as_secs_f64());
    // The rollups, as the product makes them for history: the backfill of migration m0011
    // (the same statements that the interval close runs for the intervals it ends).
    let backfill = Instant::now();
    let txn = state.writer.begin().await?;
    hearth_migrations::rollups::roll_up(&txn, hearth_migrations::rollups::Closed::All).await?;
    txn.commit().await?;
    let rollup_rows: Option<i64> = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_rollups",
        ))
        .await?
        .map(|r| r.try_get_by_index(0))
        .transpose()?;
    println!(
        "rollups backfilled in {:.1} s: {} rollup rows",
        backfill.elapsed().as_secs_f64(),
        rollup_rows.unwrap_or(0)
    );

    // The machine's floor: the database reading and summing the same rows.
    let mut floors = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let slots: Option<i64> = usage_interval::Entity::find()
            .select_only()
            .column_as(usage_interval::Column::Slots.sum(), "s")
            .filter(usage_interval::Column::TenantId.eq(tenant))
            .into_tuple()
            .one(&db)
            .await?
            .flatten();
        let busy: Option<i64> = instance_execution::Entity::find()
            .select_only()
            .column_as(instance_execution::Column::SlotIndex.sum(), "s")
            .filter(instance_execution::Column::TenantId.eq(tenant))
            .into_tuple()
            .one(&db)
            .await?
            .flatten();
        anyhow::ensure!(slots.is_some() && busy.is_some(), "the rows are there");
        floors.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let floor = median(floors);
    println!(
        "floor: the database summing a column of the same rows: {floor:.0} ms (median of {ROUNDS})"
    );

    let hwm_before = status_mib("VmHWM");
    let mut figures = Vec::new();
    // November in whole days (rollups only), then a period cut at noon on both ends (two
    // partial days read from the raw rows).
    let noon = Duration::hours(12);
    for (name, group_by, from, to) in [
        ("pool", GroupBy::Pool, t0, t0 + Duration::days(30)),
        ("day", GroupBy::Day, t0, t0 + Duration::days(30)),
        ("task", GroupBy::Task, t0, t0 + Duration::days(30)),
        (
            "pool_noon_to_noon",
            GroupBy::Pool,
            t0 + noon,
            t0 + Duration::days(29) + noon,
        ),
    ] {
        let mut times = Vec::new();
        let mut lines = 0;
        for _ in 0..ROUNDS {
            let req = UsageRequest {
                scope: Scope::Tenant(tenant),
                from,
                to,
                group_by,
                now: t0 + Duration::days(31),
                currency: "EUR".into(),
            };
            let start = Instant::now();
            let report = billing::usage(&db, &req).await?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            lines = report.items.len();
        }
        let ms = median(times);
        println!(
            "report by {name}: {ms:.0} ms, {lines} lines ({:.2} x the floor of {floor:.0} ms; \
             target < 2000 ms: {})",
            ms / floor,
            if ms < 2000.0 { "met" } else { "NOT met" }
        );
        figures.push((name, ms));
    }
    let hwm_after = status_mib("VmHWM");
    println!(
        "peak RSS of the bench process: {hwm_before:.0} MiB before the reports, {hwm_after:.0} MiB after"
    );
    println!("billing_floor_ms={floor:.0}");
    for (group, ms) in figures {
        println!("billing_report_{group}_ms={ms:.0}");
    }
    drop(app);
    if let Some((admin, name)) = pg_name {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
    Ok(())
}
