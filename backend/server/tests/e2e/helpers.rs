//! The harness: a `TestApp` runs the real application in-process (agents are real
//! `hearth agent` child processes), stops it cleanly at the end — or, when a test fails, on
//! drop — and kills whatever process of its data directory would be left behind.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hearth_core::clock::ManualClock;
use hearth_server::entities::{instance, instance_execution, node};
use hearth_server::startup::{Application, Settings};
use reqwest::Method;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

/// Overall deadline for anything that waits on real processes.
pub const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(75);

pub const HEARTBEAT: Duration = Duration::from_millis(300);
pub const KILL_GRACE: Duration = Duration::from_millis(500);
pub const AGENT_GIVE_UP: Duration = Duration::from_secs(5);

pub const FINISHED_TASK_STATES: &[&str] = &["Success", "Failure", "Cancelled"];

pub fn init_logging() {
    if std::env::var_os("HEARTH_LOG").is_some() {
        hearth_server::telemetry::init_logging();
    }
}

// ---------------------------------------------------------------------------------------------
// Database per test
// ---------------------------------------------------------------------------------------------

#[path = "../common/pg_database.rs"]
mod pg_database;
pub use pg_database::PgDatabase;

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// The owner's view of the REST API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(port: u16, token: &str) -> Self {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            token: token.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
        }
    }

    /// One request; `Err` only when the server could not be reached.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), String> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    async fn expect(&self, method: Method, path: &str, body: Option<&Value>) -> String {
        let (status, text) = self
            .call(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(
            (200..300).contains(&status),
            "{method} {path}: status {status}, body {text}"
        );
        text
    }

    fn parse(path: &str, text: &str) -> Value {
        if text.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }

    pub async fn get(&self, path: &str) -> Value {
        Self::parse(path, &self.expect(Method::GET, path, None).await)
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.expect(Method::GET, path, None).await
    }

    /// A GET that tolerates a server that is down or restarting.
    pub async fn try_get(&self, path: &str) -> Result<Value, String> {
        match self.call(Method::GET, path, None).await {
            Ok((200, text)) => serde_json::from_str(&text).map_err(|e| format!("{e}: {text}")),
            Ok((status, text)) => Err(format!("GET {path}: {status} {text}")),
            Err(e) => Err(format!("GET {path}: {e}")),
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        Self::parse(path, &self.expect(Method::POST, path, Some(body)).await)
    }

    pub async fn put(&self, path: &str, body: &Value) -> Value {
        Self::parse(path, &self.expect(Method::PUT, path, Some(body)).await)
    }

    /// The same server, called with another token.
    pub fn as_token(&self, token: &str) -> Api {
        Api {
            base: self.base.clone(),
            token: token.to_owned(),
            client: self.client.clone(),
        }
    }

    pub async fn create_pool(&self, body: &Value) -> String {
        let created = self.post("/pools", body).await;
        created["uuid"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /pools answered {created}"))
            .to_owned()
    }

    pub async fn submit_task(&self, body: &Value) -> String {
        let created = self.post("/tasks", body).await;
        created["uuid"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /tasks answered {created}"))
            .to_owned()
    }

    pub async fn pool(&self, pool: &str) -> Value {
        self.get(&format!("/pools/{pool}")).await
    }

    pub async fn task(&self, task: &str) -> Value {
        self.get(&format!("/tasks/{task}")).await
    }

    /// Every item of one of hearth's paged lists, following `nextPageToken`.
    pub async fn all_items(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &token {
                None => format!("{path}{sep}limit=500"),
                Some(t) => format!("{path}{sep}limit=500&pageToken={t}"),
            };
            let page = self.get(&url).await;
            items.extend(page["items"].as_array().cloned().expect("a page's items"));
            match page["nextPageToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => return items,
            }
        }
    }

    pub async fn nodes(&self, pool: &str) -> Vec<Value> {
        self.all_items(&format!("/pools/{pool}/nodes")).await
    }

    pub async fn resize(&self, pool: &str) -> Value {
        self.post(&format!("/pools/{pool}/resize"), &json!({}))
            .await
    }

    pub async fn decisions(&self, pool: &str) -> Vec<Value> {
        self.all_items(&format!("/pools/{pool}/scaling-decisions"))
            .await
    }

    pub async fn stdout(&self, task: &str, instance: u32) -> String {
        self.get_text(&format!("/tasks/{task}/stdout/{instance}"))
            .await
    }

    /// Waits until the pool has `count` Ready nodes (and no other live one).
    pub async fn wait_ready_nodes(&self, pool: &str, count: usize) -> Vec<Value> {
        wait_for(
            &format!("{count} Ready nodes in pool {pool}"),
            WAIT,
            || async move {
                let nodes = self.nodes(pool).await;
                let ready: Vec<Value> = nodes
                    .iter()
                    .filter(|n| n["state"] == "Ready")
                    .cloned()
                    .collect();
                let live = nodes.iter().filter(|n| is_live_node(n)).count();
                if ready.len() == count && live == count {
                    Ok(ready)
                } else {
                    Err(node_summary(&nodes))
                }
            },
        )
        .await
    }

    /// Waits until the task has finished (Success, Failure or Cancelled) and returns it.
    pub async fn wait_task_finished(&self, task: &str, timeout: Duration) -> Value {
        wait_for(&format!("task {task} to finish"), timeout, || async move {
            let t = self.try_get(&format!("/tasks/{task}")).await?;
            let state = t["state"].as_str().unwrap_or_default();
            if FINISHED_TASK_STATES.contains(&state) {
                Ok(t)
            } else {
                Err(task_summary(&t))
            }
        })
        .await
    }

    pub async fn wait_pool_state(&self, pool: &str, wanted: &str) -> Value {
        wait_for(
            &format!("pool {pool} to be {wanted}"),
            WAIT,
            || async move {
                let p = self.pool(pool).await;
                if p["state"] == wanted {
                    Ok(p)
                } else {
                    Err(format!(
                        "state {} totalSlotCapacity {} nodes {}",
                        p["state"],
                        p["totalSlotCapacity"],
                        node_summary(&self.nodes(pool).await)
                    ))
                }
            },
        )
        .await
    }
}

pub fn is_live_node(n: &Value) -> bool {
    !matches!(n["state"].as_str(), Some("Terminated") | Some("Failed"))
}

pub fn node_summary(nodes: &[Value]) -> String {
    let states: Vec<String> = nodes
        .iter()
        .map(|n| {
            format!(
                "{}:{}(busy {})",
                short(&n["uuid"]),
                n["state"],
                n["busySlots"]
            )
        })
        .collect();
    format!("[{}]", states.join(", "))
}

pub fn task_summary(t: &Value) -> String {
    format!(
        "state {} running {} completed {} status {}",
        t["state"],
        t["runningInstanceCount"],
        t["completedInstances"].as_array().map_or(0, |a| a.len()),
        json!({
            "succeededRange": t["status"]["succeededRange"],
            "failedRange": t["status"]["failedRange"],
            "executedRange": t["status"]["executedRange"],
            "errors": t["errors"],
        })
    )
}

fn short(v: &Value) -> String {
    v.as_str().unwrap_or("?").chars().take(8).collect()
}

/// Polls `probe` until it answers `Ok`, or panics after `timeout` with the last `Err`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) => {
                if start.elapsed() > timeout {
                    panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// A fixed pool of `instance_count` slots of the docker-batch profile.
pub fn pool_body(name: &str, instance_count: u32) -> Value {
    json!({
        "name": name,
        "profile": "docker-batch",
        "instanceCount": instance_count,
        "constants": [],
        "tags": ["e2e"],
    })
}

/// A task of `count` instances running `cmd` (as `DOCKER_CMD`).
pub fn task_body(name: &str, pool: &str, count: u32, cmd: &str) -> Value {
    json!({
        "name": name,
        "poolUuid": pool,
        "instanceCount": count,
        "constants": [{"key": "DOCKER_CMD", "value": cmd}],
        "tags": ["e2e"],
    })
}

// ---------------------------------------------------------------------------------------------
// Application in-process
// ---------------------------------------------------------------------------------------------

pub struct TestApp {
    pub api: Api,
    /// The platform operator's token (tenants, profiles).
    pub operator_token: String,
    pub data_dir: PathBuf,
    pub db: DatabaseConnection,
    /// The running application's shared state (its change feed, its settings).
    pub state: actix_web::web::Data<hearth_server::state::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// What a restart needs: the clock, the agent program, the port.
    restart: Option<(Option<ManualClock>, PathBuf, u16)>,
    // Dropped after the app is stopped (in `Drop::drop`): the database, then the directory.
    _pg: Option<PgDatabase>,
    _dir: TempDir,
}

/// Starts the application on a fresh data directory (and database), agents being real
/// `hearth agent` processes; `clock` replaces the system clock.
pub async fn spawn_app(clock: Option<ManualClock>) -> TestApp {
    spawn_app_with_agent(clock, PathBuf::from(env!("CARGO_BIN_EXE_hearth"))).await
}

/// `spawn_app` with another program launched as each node's agent (given the same
/// arguments and environment as `hearth agent`).
pub async fn spawn_app_with_agent(clock: Option<ManualClock>, agent: PathBuf) -> TestApp {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = PgDatabase::maybe("hearth_e2e").await;
    start_app(dir, pg, clock, agent, "127.0.0.1:0".into(), false).await
}

/// The application on `dir` (and `pg`), bound to `bind`; `abandon`: its stop leaves the
/// nodes running as a killed server would (see `TestApp::restart_abandoning_nodes`).
async fn start_app(
    dir: TempDir,
    pg: Option<PgDatabase>,
    clock: Option<ManualClock>,
    agent: PathBuf,
    bind: String,
    abandon: bool,
) -> TestApp {
    let mut settings = Settings::new(dir.path().to_path_buf())
        .with_database_url(pg.as_ref().map(|p| p.url.clone()))
        .with_agent_program(agent.clone())
        .with_heartbeat_interval(HEARTBEAT)
        .with_kill_grace(KILL_GRACE)
        .with_agent_give_up(AGENT_GIVE_UP)
        .with_bind(bind);
    if let Some(clock) = &clock {
        settings = settings.with_clock(Arc::new(clock.clone()));
    }
    let app = Application::build(settings)
        .await
        .expect("Application::build failed");
    let port = app.port();
    let owner = app.owner_token().to_owned();
    let operator_token = app.operator_token().to_owned();
    let db = app.state().db.clone();
    let state = app.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = rx.await;
    };
    let handle = if abandon {
        tokio::spawn(app.run_until_abandoning_nodes(stopped))
    } else {
        tokio::spawn(app.run_until(stopped))
    };
    TestApp {
        api: Api::new(port, &owner),
        operator_token,
        data_dir: dir.path().to_path_buf(),
        db,
        state,
        stop: Some(tx),
        handle: Some(handle),
        restart: Some((clock, agent, port)),
        _pg: pg,
        _dir: dir,
    }
}

/// `spawn_app` whose first stop is a restart that abandons its nodes.
pub async fn spawn_restartable_app(clock: Option<ManualClock>) -> TestApp {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = PgDatabase::maybe("hearth_e2e").await;
    let agent = PathBuf::from(env!("CARGO_BIN_EXE_hearth"));
    start_app(dir, pg, clock, agent, "127.0.0.1:0".into(), true).await
}

impl TestApp {
    /// Stops the server as a kill would (nodes and agents left running, usage open) and
    /// starts it again on the same data directory, database, port and clock: the agents
    /// call in again and are adopted.
    pub async fn restart_abandoning_nodes(mut self) -> TestApp {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            match tokio::time::timeout(Duration::from_secs(20), handle).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("the application did not stop: {other:?}"),
            }
        }
        let (clock, agent, port) = self.restart.take().expect("a restartable app");
        let (dir, pg) = (
            std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir")),
            self._pg.take(),
        );
        // Dropping the old handle must not kill the agents it leaves to the next start.
        self.data_dir = self._dir.path().to_path_buf();
        drop(self);
        start_app(dir, pg, clock, agent, format!("127.0.0.1:{port}"), false).await
    }
}

impl TestApp {
    /// Checks what must hold whatever happened: each task's counters equal a recount of its
    /// instances (state by state, and retries taken), and no execution ends before it starts.
    pub async fn check_invariants(&self) {
        use hearth_server::entities::task;
        use sea_orm::{DbBackend, IsolationLevel, TransactionTrait};
        // One snapshot for tasks and instances, so work still going on cannot skew the count.
        let isolation = match self.db.get_database_backend() {
            DbBackend::Postgres => Some(IsolationLevel::RepeatableRead),
            _ => None,
        };
        let txn = self
            .db
            .begin_with_config(isolation, None)
            .await
            .expect("read transaction");
        for t in task::Entity::find().all(&txn).await.expect("tasks") {
            let rows = instance::Entity::find()
                .filter(instance::Column::TaskId.eq(t.id))
                .all(&txn)
                .await
                .expect("instances");
            let count = |s: &str| rows.iter().filter(|i| i.state == s).count() as i32;
            let recount = [
                count("Queued"),
                count("Assigned"),
                count("Executing"),
                count("Succeeded"),
                count("Failed"),
                count("Cancelled"),
                rows.iter().map(|i| (i.attempts - 1).max(0)).sum::<i32>(),
            ];
            let counters = [
                t.queued_count,
                t.assigned_count,
                t.executing_count,
                t.succeeded_count,
                t.failed_count,
                t.cancelled_count,
                t.retries_used,
            ];
            assert_eq!(
                counters, recount,
                "task {} counters (queued, assigned, executing, succeeded, failed, cancelled, \
                 retries) differ from its instances",
                t.id
            );
        }
        for e in instance_execution::Entity::find()
            .all(&txn)
            .await
            .expect("executions")
        {
            if let Some(end) = e.ended_at {
                assert!(
                    end >= e.started_at,
                    "execution ends before it starts: {e:?}"
                );
            }
        }
    }

    /// Stops the application cleanly and checks that no agent of it is left running (and
    /// the invariants of `check_invariants` before that).
    pub async fn stop(mut self) {
        self.check_invariants().await;
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            match tokio::time::timeout(Duration::from_secs(20), handle).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("the application did not stop cleanly: {other:?}"),
            }
        }
        let dir = self.data_dir.clone();
        wait_for(
            "every agent to exit after a clean stop",
            Duration::from_secs(4),
            || {
                let dir = dir.clone();
                async move {
                    let left = agent_processes(&dir);
                    if left.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("{left:?}"))
                    }
                }
            },
        )
        .await;
    }

    pub fn node_dir(&self, node: Uuid) -> PathBuf {
        self.data_dir.join("nodes").join(node.to_string())
    }

    pub async fn executions(&self, task: &str) -> Vec<instance_execution::Model> {
        executions(&self.db, task).await
    }

    pub async fn instances(&self, task: &str) -> Vec<instance::Model> {
        instance::Entity::find()
            .filter(instance::Column::TaskId.eq(parse_uuid(task)))
            .order_by_asc(instance::Column::InstanceId)
            .all(&self.db)
            .await
            .expect("instances")
    }

    pub async fn node_rows(&self, pool: &str) -> Vec<node::Model> {
        node::Entity::find()
            .filter(node::Column::PoolId.eq(parse_uuid(pool)))
            .order_by_asc(node::Column::CreatedAt)
            .all(&self.db)
            .await
            .expect("nodes")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A failed test: stop the app from here. The test runtime is multi-threaded, so its
        // workers carry the shutdown while this thread waits.
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let deadline = Instant::now() + Duration::from_secs(15);
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        kill_leftovers(&self.data_dir, Duration::from_secs(3));
        if std::thread::panicking() {
            print_agent_logs(&self.data_dir);
        }
    }
}

/// The end of every agent log of a data directory (shown when a test fails).
pub fn print_agent_logs(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir.join("nodes")) else {
        return;
    };
    for entry in entries.flatten() {
        let log = std::fs::read_to_string(entry.path().join("agent.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        eprintln!(
            "--- agent log of node {} (last {} lines) ---\n{}",
            entry.file_name().to_string_lossy(),
            tail.len(),
            tail.join("\n")
        );
    }
}

pub fn parse_uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_else(|e| panic!("{s:?} is not a uuid: {e}"))
}

pub async fn executions(db: &DatabaseConnection, task: &str) -> Vec<instance_execution::Model> {
    instance_execution::Entity::find()
        .filter(instance_execution::Column::TaskId.eq(parse_uuid(task)))
        .order_by_asc(instance_execution::Column::StartedAt)
        .all(db)
        .await
        .expect("instance executions")
}

/// The largest number of intervals open at one instant (an end and a start at the same
/// instant do not overlap).
pub fn max_overlap(intervals: &[(DateTime<Utc>, DateTime<Utc>)]) -> usize {
    let mut events: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for (start, end) in intervals {
        events.push((*start, 1));
        events.push((*end, -1));
    }
    events.sort();
    let (mut open, mut max) = (0i32, 0i32);
    for (_, delta) in events {
        open += delta;
        max = max.max(open);
    }
    max as usize
}

/// Execution intervals; panics on one that never ended.
pub fn closed_intervals(
    execs: &[instance_execution::Model],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    execs
        .iter()
        .map(|e| {
            (
                e.started_at,
                e.ended_at
                    .unwrap_or_else(|| panic!("execution without an end: {e:?}")),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// Whether a process exists (zombies included).
pub fn process_exists(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

pub fn send_signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a process this test started (directly or through the server).
    unsafe {
        libc::kill(pid, sig);
    }
}

fn cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .split('\0')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Live processes (not zombies, not this one) whose command line names `dir` or whose
/// working directory is inside it: the server, its agents and their instances.
pub fn processes_of(dir: &Path) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let dir_text = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || is_zombie(pid) {
            continue;
        }
        let cmd = cmdline(pid).unwrap_or_default();
        let names_dir = cmd
            .split(' ')
            .any(|arg| arg == dir_text || arg.starts_with(&format!("{dir_text}/")));
        let in_dir = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|cwd| cwd.starts_with(dir))
            .unwrap_or(false);
        if names_dir || in_dir {
            out.push((pid, cmd));
        }
    }
    out
}

/// `hearth agent` processes whose node directory is inside `dir`.
pub fn agent_processes(dir: &Path) -> Vec<(i32, String)> {
    processes_of(dir)
        .into_iter()
        .filter(|(_, cmd)| cmd.contains(" agent ") && cmd.contains("--node-dir"))
        .collect()
}

/// Gives the processes of `dir` `grace` to end by themselves, then SIGKILLs the rest.
pub fn kill_leftovers(dir: &Path, grace: Duration) {
    let deadline = Instant::now() + grace;
    while !processes_of(dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for (pid, cmd) in processes_of(dir) {
        eprintln!("killing leftover process {pid}: {cmd}");
        send_signal(pid, libc::SIGKILL);
    }
}
