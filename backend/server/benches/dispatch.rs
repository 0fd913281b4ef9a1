//! Dispatch latency: time from a task's submit to all of its instances running, on a warm
//! pool of real `hearth agent` processes.
//!
//! ```sh
//! cargo bench -p hearth-server --bench dispatch
//! ```
//!
//! The application runs in-process (data in a temporary directory) and launches 4 agents
//! (1 slot each). After 2 warm-up rounds, 20 rounds each submit a 4-instance task running
//! `sleep 0.2` and wait for it to finish before the next. Every round is measured two ways:
//!
//! * client: wall time from just before `POST /tasks` until the bench, polling the database
//!   every millisecond on its own read connection, sees the 4 instance rows with a
//!   `started_at` (the row turns `Executing` and gets `started_at` in the same transaction
//!   when the agent reports the process started; counting `started_at` rather than the
//!   current state cannot miss an instance that already finished);
//! * server: `max(instance.started_at) - task.created_at` from the rows, both stamped by
//!   the server.
//!
//! Also shown, to split the client figure: the `POST /tasks` round trip and when the bench
//! first sees all 4 rows placed on a node (dispatch committed, agents not yet told).
//! Prints one line per round, min / median / p90 / max of each, and
//! `dispatch_latency_median_ms=<client median>` for scripts (plus the server median).
//!
//! Boot time is not measured: rounds start once the pool's nodes are Ready.
//!
//! Environment:
//! * `HEARTH_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres`: a fresh PostgreSQL
//!   database on that server (created, then dropped) instead of SQLite;
//! * `HEARTH_LOG=<filter>`: the server's log on stderr.
//!
//! A failed run keeps its data directory (agent logs in `nodes/<node>/agent.log`) and
//! prints where it is.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hearth_server::entities::{instance, task};
use hearth_server::startup::{Application, Settings};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    QueryFilter, QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

const NODES: u64 = 4;
const INSTANCES: u64 = 4;
const WARMUP_ROUNDS: usize = 2;
const ROUNDS: usize = 20;
const COMMAND: &str = "sleep 0.2";
/// How often the client side looks at the instance rows.
const POLL_EVERY: Duration = Duration::from_millis(1);
const POOL_READY_TIMEOUT: Duration = Duration::from_secs(30);
const ROUND_TIMEOUT: Duration = Duration::from_secs(15);

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Authorization", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// One measured round.
struct Round {
    /// `POST /tasks` round trip.
    submit_ms: f64,
    /// Client-side: submit → 4 instances seen placed on nodes (dispatch committed).
    assigned_ms: f64,
    /// Client-side: submit → 4 instances seen started.
    client_ms: f64,
    /// Server-side: `created_at` → first and last `started_at`.
    server_first_ms: f64,
    server_ms: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn chrono_ms(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

async fn wait_pool_ready(api: &Api, pool: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let p = api
            .call(reqwest::Method::GET, &format!("/pools/{pool}"), None)
            .await?;
        let nodes = api
            .call(reqwest::Method::GET, &format!("/pools/{pool}/nodes"), None)
            .await?;
        let capacity = p["totalSlotCapacity"].as_u64().unwrap_or(0);
        let ready = nodes["items"].as_array().map_or(0, |n| {
            n.iter().filter(|n| n["state"] == "Ready").count() as u64
        });
        if capacity == INSTANCES && ready == NODES {
            return Ok(start.elapsed());
        }
        // A node that registered (`readyAt` set) yet reads `Booting` lost the launch race.
        let stuck = nodes["items"]
            .as_array()
            .and_then(|n| {
                n.iter()
                    .find(|n| n["state"] == "Booting" && !n["readyAt"].is_null())
            })
            .filter(|_| start.elapsed() > Duration::from_secs(2));
        if let Some(stuck) = stuck {
            bail!(
                "node {} registered but is still Booting (launch race): {stuck}",
                stuck["uuid"]
            );
        }
        if start.elapsed() > POOL_READY_TIMEOUT {
            bail!(
                "pool not ready after {:?}: state {}, totalSlotCapacity {capacity}, {ready} Ready nodes: {nodes}",
                POOL_READY_TIMEOUT,
                p["state"]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn round(api: &Api, db: &DatabaseConnection, pool: &str, n: usize) -> anyhow::Result<Round> {
    let body = json!({
        "name": format!("dispatch-bench-{n}"),
        "poolUuid": pool,
        "instanceCount": INSTANCES,
        "constants": [{"key": "DOCKER_CMD", "value": COMMAND}],
    });
    let start = Instant::now();
    let created = api
        .call(reqwest::Method::POST, "/tasks", Some(body))
        .await?;
    let submit = start.elapsed();
    let task_id: Uuid = created["uuid"]
        .as_str()
        .context("POST /tasks without uuid")?
        .parse()?;

    // (a) client side: the instance rows, polled on the bench's own connection. A row gets
    // its node when dispatch commits (`Assigned`) and `started_at` when the agent reports.
    let mut assigned = None;
    let client = loop {
        let rows: Vec<(Option<Uuid>, Option<chrono::DateTime<chrono::Utc>>)> =
            instance::Entity::find()
                .select_only()
                .column(instance::Column::NodeId)
                .column(instance::Column::StartedAt)
                .filter(instance::Column::TaskId.eq(task_id))
                .into_tuple()
                .all(db)
                .await?;
        let elapsed = start.elapsed();
        let placed = rows.iter().filter(|r| r.0.is_some()).count() as u64;
        let started = rows.iter().filter(|r| r.1.is_some()).count() as u64;
        if placed == INSTANCES && assigned.is_none() {
            assigned = Some(elapsed);
        }
        if started == INSTANCES {
            break elapsed;
        }
        if elapsed > ROUND_TIMEOUT {
            bail!("round {n}: only {started}/{INSTANCES} instances started after {elapsed:?}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    };

    // The task must finish (slots free again) before the next round.
    let t = loop {
        let t = task::Entity::find_by_id(task_id)
            .one(db)
            .await?
            .context("task row vanished")?;
        if matches!(t.state.as_str(), "Success" | "Failure" | "Cancelled") {
            break t;
        }
        if start.elapsed() > ROUND_TIMEOUT {
            bail!(
                "round {n}: task still {} after {:?}",
                t.state,
                start.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    if t.state != "Success" {
        bail!("round {n}: task ended {}", t.state);
    }

    // (b) server side: its own timestamps.
    let rows = instance::Entity::find()
        .filter(instance::Column::TaskId.eq(task_id))
        .all(db)
        .await?;
    let starts: Vec<_> = rows.iter().filter_map(|i| i.started_at).collect();
    let (Some(first), Some(last)) = (starts.iter().min(), starts.iter().max()) else {
        bail!("round {n}: no started_at");
    };
    Ok(Round {
        submit_ms: ms(submit),
        assigned_ms: ms(assigned.unwrap_or(client)),
        client_ms: ms(client),
        server_first_ms: chrono_ms(*first - t.created_at),
        server_ms: chrono_ms(*last - t.created_at),
    })
}

struct Stats {
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

fn stats(values: &[f64]) -> Stats {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    };
    // Nearest rank.
    let p90 = v[((0.9 * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats {
        min: v[0],
        median,
        p90,
        max: v[n - 1],
    }
}

async fn bench(api: &Api, db: &DatabaseConnection) -> anyhow::Result<Vec<Round>> {
    let created = api
        .call(
            reqwest::Method::POST,
            "/pools",
            Some(json!({"name": "dispatch-bench", "profile": "docker-batch", "instanceCount": NODES})),
        )
        .await?;
    let pool = created["uuid"]
        .as_str()
        .context("POST /pools without uuid")?
        .to_owned();
    let boot = wait_pool_ready(api, &pool).await?;
    println!("pool {pool}: {NODES} nodes Ready in {:.0} ms", ms(boot));

    for n in 0..WARMUP_ROUNDS {
        round(api, db, &pool, n).await?;
    }
    println!(
        "{WARMUP_ROUNDS} warm-up rounds done; {ROUNDS} rounds of {INSTANCES} x `{COMMAND}` (ms):"
    );
    println!(
        "{:>5} {:>8} {:>9} {:>8} {:>13} {:>12}",
        "round", "submit", "assigned", "client", "server_first", "server_last"
    );
    let mut rounds = Vec::with_capacity(ROUNDS);
    for n in 0..ROUNDS {
        let r = round(api, db, &pool, WARMUP_ROUNDS + n).await?;
        println!(
            "{:>5} {:>8.2} {:>9.2} {:>8.2} {:>13.2} {:>12.2}",
            n + 1,
            r.submit_ms,
            r.assigned_ms,
            r.client_ms,
            r.server_first_ms,
            r.server_ms
        );
        rounds.push(r);
    }
    Ok(rounds)
}

/// A fresh PostgreSQL database for one run (`HEARTH_BENCH_PG_URL` names the server, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.
struct PgDatabase {
    base: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn admin(base: &str) -> anyhow::Result<DatabaseConnection> {
        let mut options = ConnectOptions::new(base.to_owned());
        options
            .max_connections(1)
            .min_connections(0)
            .sqlx_logging(false);
        Ok(Database::connect(options).await?)
    }

    async fn create(base: String) -> anyhow::Result<Self> {
        let name = format!("hearth_bench_{}", Uuid::new_v4().simple());
        let admin = Self::admin(&base).await?;
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await?;
        admin.close().await?;
        let mut url = reqwest::Url::parse(&base).context("HEARTH_BENCH_PG_URL is not a URL")?;
        url.set_path(&format!("/{name}"));
        Ok(PgDatabase {
            base,
            name,
            url: url.to_string(),
        })
    }

    async fn drop_database(self) -> anyhow::Result<()> {
        let admin = Self::admin(&self.base).await?;
        admin
            .execute_unprepared(&format!(
                r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#,
                self.name
            ))
            .await?;
        admin.close().await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    // Server logs on stderr only when asked for: they would drown the table.
    if std::env::var_os("HEARTH_LOG").is_some() {
        hearth_server::telemetry::init_logging();
    }
    let tmp = tempfile::tempdir()?;
    let pg = match std::env::var("HEARTH_BENCH_PG_URL") {
        Ok(base) if !base.trim().is_empty() => Some(PgDatabase::create(base).await?),
        _ => None,
    };
    println!(
        "database: {}",
        if pg.is_some() {
            "PostgreSQL (HEARTH_BENCH_PG_URL)"
        } else {
            "SQLite"
        }
    );
    let settings = Settings::new(tmp.path().to_path_buf())
        .with_database_url(pg.as_ref().map(|p| p.url.clone()))
        .with_agent_program(PathBuf::from(env!("CARGO_BIN_EXE_hearth")))
        .with_heartbeat_interval(Duration::from_millis(500))
        .with_agent_give_up(Duration::from_secs(5));
    let app = Application::build(settings).await?;
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{}", app.port()),
        token: app.owner_token().to_owned(),
    };
    let state = app.state();
    // A read connection of its own: polling must not take one of the server's pooled ones.
    let mut options = ConnectOptions::new(state.settings.database_url());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));

    let outcome = bench(&api, &db).await;

    // Stops the server and terminates the agents, whatever the outcome.
    let _ = tx.send(());
    let stopped = server.await;
    let _ = db.close().await;
    if let Some(pg) = pg {
        pg.drop_database().await?;
    }
    if outcome.is_err() {
        // The agents' logs are in DIR/nodes/<node>/agent.log.
        eprintln!("data directory kept: {}", tmp.keep().display());
    }
    let rounds = outcome?;
    stopped??;

    let client = stats(&rounds.iter().map(|r| r.client_ms).collect::<Vec<_>>());
    let server = stats(&rounds.iter().map(|r| r.server_ms).collect::<Vec<_>>());
    let submit = stats(&rounds.iter().map(|r| r.submit_ms).collect::<Vec<_>>());
    let assigned = stats(&rounds.iter().map(|r| r.assigned_ms).collect::<Vec<_>>());
    println!();
    println!("submit -> all {INSTANCES} instances running, {ROUNDS} rounds (ms):");
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8}",
        "method", "min", "median", "p90", "max"
    );
    for (name, s) in [
        ("client (DB poll, wall time)", &client),
        ("server (max started_at-created)", &server),
        ("  of which: POST /tasks answered", &submit),
        ("  of which: all 4 placed (client)", &assigned),
    ] {
        println!(
            "{name:<34} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            s.min, s.median, s.p90, s.max
        );
    }
    println!("dispatch_latency_median_ms={:.2}", client.median);
    println!("dispatch_latency_server_median_ms={:.2}", server.median);
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
