//! Engine throughput, latency and scale, measured on the real `hearth serve` process, each
//! figure printed beside the machine's own limit measured in the same run.
//!
//! ```sh
//! cargo bench -p hearth-server --bench engine
//! # a quick look (dev profile, small sizes):
//! HEARTH_BENCH_SIZES=200 HEARTH_BENCH_POOLS=50 HEARTH_BENCH_QUEUED_TASKS=2 \
//!     cargo test -p hearth-server --bench engine
//! ```
//!
//! Every scenario gets a server of its own: the package's `hearth` binary run as
//! `hearth serve --data-dir <temporary dir> --bind 127.0.0.1:<free port>`, its owner token read
//! from `<data dir>/owner.token`. Being a separate process, its memory (`VmRSS` in
//! `/proc/<pid>/status`) and CPU time (`utime + stime` in `/proc/<pid>/stat`) are its own and
//! not the bench's. Nodes are the real `hearth agent` processes that server launches for its
//! pools. A scenario ends with SIGTERM to the server, waited for (SIGKILL after 60 s); an agent
//! still alive 10 s after the server exited is reported as a failure and ended by pid.
//!
//! * Spawn limit (the machine): `sh -c true` 2,000 times from 4 threads, each spawning and
//!   waiting in turn; processes/s, measured before and after the scenarios (no server runs
//!   meanwhile). An agent cannot start processes faster than this.
//! * Throughput: a pool of 1 node x 16 slots (`docker-batch`), FullyExecuting with its node
//!   Ready; a 16-instance warm-up task, then one task per size (`HEARTH_BENCH_SIZES`) of no-op
//!   instances (`DOCKER_CMD=true`), timed from just before `POST /tasks` until the task reads
//!   `Success`. The state is read every 20 ms from the task's row on the bench's own read-only
//!   database connection: it costs the server nothing, where `GET /tasks/{uuid}` loads every
//!   instance. Instances/s, beside the mean of the two spawn rates; the CPU time per instance
//!   of the server and of the agent (its own, not its children's); and the ratio of the
//!   largest size's rate to the smallest's (a rate that falls with size means per-instance
//!   work grows with the task). The task is then checked through `GET /tasks/{uuid}`. The
//!   agent executes `true` without a shell (a plain command); the largest size is run once
//!   more with `:`, which only `sh -c` runs: the cost when a command needs the shell.
//! * Latency: a pool of 1 node x 1 slot; 2 warm-up rounds, then 50 sequential 1-instance
//!   tasks running `date +%s.%N`. The figure is the time the instance printed minus the
//!   bench's clock just before `POST /tasks` (the output read with `GET /tasks/{uuid}/stdout`
//!   once the task ended): submit, dispatch, the agent's spawn. The floor beside it: the same
//!   measured from spawning `date +%s.%N` from the bench (as the agent does: a plain command
//!   runs without a shell), mean of 50.
//! * Scale: `HEARTH_BENCH_POOLS` pools with one Fixed policy of 0 slots and a resize period of
//!   1 s, then `HEARTH_BENCH_QUEUED_TASKS` tasks of `HEARTH_BENCH_QUEUED_INSTANCES` instances on
//!   the first pool, which stay queued (no slot). Once every pool has its first decision
//!   and after 3 s of calm, a 10 s window without any request but two reads of `/metrics`:
//!   the server's CPU as % of one core, the rows of `scaling_decisions` (read on the bench's
//!   connection) at the window's start and end, and the resize loop's wall time per 10,000
//!   evaluations (growth of `hearth_resize_tick_seconds_total` over the growth of
//!   `hearth_scaling_decisions_total`). Then VmRSS (and the peak VmHWM),
//!   the `hearth_resize_last_tick_seconds` and `hearth_resize_last_tick_pools` gauges of
//!   `/metrics` ("n/a" when absent), and the medians of 20 `POST /tasks/paginate` (page of
//!   50), 20 `GET /tasks` and 5 `GET /tasks/{uuid}` of a queued task, beside 20 `GET /health`
//!   (the HTTP round trip).
//!
//! * Listing: `HEARTH_BENCH_TASKS` tasks of one instance submitted in arrays of 500 to a pool
//!   of 0 slots, 1 task in 1,000 tagged `rare`; the medians of 20 `POST /tasks/paginate` of
//!   the first page of 50 and of the page after half the tasks (reached by walking the
//!   pages), of 5 pages filtered on the `rare` tag, beside 20 `GET /health`; and the server's
//!   VmRSS.
//!
//! Output: human lines, one `key=value` line per figure when it is measured, and at the end a
//! Markdown table of every figure with its target. Times are reported, never asserted. The
//! exit status is non-zero when something is functionally wrong: a server that does not start
//! or stop, a pool not Ready in 2 minutes, a task not `Success`, a queued instance dispatched
//! on a zero-slot pool, a throughput task or another scenario past `HEARTH_BENCH_TIMEOUT_SECONDS`.
//! A failed scenario does not stop the next one.
//!
//! Environment:
//! * `HEARTH_BENCH_ONLY=throughput,latency,scale,listing`: the scenarios to run (default all; the
//!   spawn limit is always measured);
//! * `HEARTH_BENCH_SIZES=1000,10000`: the throughput tasks;
//! * `HEARTH_BENCH_POOLS=1000`, `HEARTH_BENCH_QUEUED_TASKS=10`,
//!   `HEARTH_BENCH_QUEUED_INSTANCES=10000`: the scale scenario;
//! * `HEARTH_BENCH_TASKS=100000`: the listing scenario;
//! * `HEARTH_BENCH_TIMEOUT_SECONDS=600`: limit of each throughput task, and of the latency and
//!   scale scenarios;
//! * `HEARTH_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres`: every server on a fresh
//!   PostgreSQL database of that server (created, passed as `DATABASE_URL`, dropped at the end)
//!   instead of SQLite in its data directory;
//! * `HEARTH_LOG=<filter>`: the server's log filter; its log is `<data dir>/server.log`.
//!
//! A failed scenario keeps its data directory (`server.log`, `nodes/<node>/agent.log`) and
//! prints where it is.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use hearth_core::model::InstanceState;
use hearth_core::task_state::TaskState;
use hearth_server::entities::{instance, scaling_decision, task};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

const SPAWNS: usize = 2000;
const SPAWN_THREADS: usize = 4;
const THROUGHPUT_SLOTS: u64 = 16;
const NOOP: &str = "true";
/// A no-op only the shell runs (`:` is a special builtin): the agent starts `sh -c :`, the
/// very process the spawn limit measures, where `true` is executed without a shell.
const NOOP_SHELL: &str = ":";
const DATE: &str = "date +%s.%N";
const LATENCY_WARMUP: usize = 2;
const LATENCY_ROUNDS: usize = 50;
const FLOOR_RUNS: usize = 50;
/// How often the throughput scenario reads the task's state.
const STATE_POLL: Duration = Duration::from_millis(20);
/// The latency figure comes from the instance's own clock: a slower poll only ends the round
/// later, and leaves the two cores to the server and the agent.
const LATENCY_POLL: Duration = Duration::from_millis(10);
const LATENCY_ROUND_LIMIT: Duration = Duration::from_secs(60);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
const IDLE_SETTLE: Duration = Duration::from_secs(3);
const IDLE_WINDOW: Duration = Duration::from_secs(10);
const LIST_CALLS: usize = 20;
const BIG_TASK_CALLS: usize = 5;
const PAGE: u64 = 50;
const START_LIMIT: Duration = Duration::from_secs(60);
const READY_LIMIT: Duration = Duration::from_secs(120);
const STOP_LIMIT: Duration = Duration::from_secs(60);
const AGENTS_GONE_LIMIT: Duration = Duration::from_secs(10);
const REQUEST_LIMIT: Duration = Duration::from_secs(300);
/// Agents of a server that died without stopping them exit this soon.
const AGENT_GIVE_UP_SECONDS: u64 = 15;

// --- configuration --------------------------------------------------------------------------

struct Config {
    throughput: bool,
    latency: bool,
    listing: bool,
    /// Tasks of the listing scenario.
    tasks: u64,
    scale: bool,
    sizes: Vec<u64>,
    pools: u64,
    queued_tasks: u64,
    queued_instances: u64,
    limit: Duration,
    pg_url: Option<String>,
}

fn env_text(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_count(name: &str, default: u64) -> anyhow::Result<u64> {
    match env_text(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v}: not a whole number")),
    }
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let sizes = env_text("HEARTH_BENCH_SIZES")
            .unwrap_or_else(|| "1000,10000".into())
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("HEARTH_BENCH_SIZES: '{s}' is not a size >= 1"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (mut throughput, mut latency, mut scale, mut listing) = (true, true, true, true);
        if let Some(only) = env_text("HEARTH_BENCH_ONLY") {
            (throughput, latency, scale, listing) = (false, false, false, false);
            for name in only.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match name {
                    "throughput" => throughput = true,
                    "latency" => latency = true,
                    "scale" => scale = true,
                    "listing" => listing = true,
                    other => bail!(
                        "HEARTH_BENCH_ONLY: unknown scenario '{other}' \
                         (throughput, latency, scale, listing)"
                    ),
                }
            }
        }
        let queued_instances = env_count("HEARTH_BENCH_QUEUED_INSTANCES", 10_000)?;
        if queued_instances == 0 {
            bail!("HEARTH_BENCH_QUEUED_INSTANCES must be >= 1");
        }
        Ok(Config {
            throughput,
            latency,
            listing,
            tasks: env_count("HEARTH_BENCH_TASKS", 100_000)?.max(1),
            scale,
            sizes,
            pools: env_count("HEARTH_BENCH_POOLS", 1000)?.max(1),
            queued_tasks: env_count("HEARTH_BENCH_QUEUED_TASKS", 10)?,
            queued_instances,
            limit: Duration::from_secs(env_count("HEARTH_BENCH_TIMEOUT_SECONDS", 600)?.max(1)),
            pg_url: env_text("HEARTH_BENCH_PG_URL"),
        })
    }
}

// --- figures and the summary ----------------------------------------------------------------

#[derive(Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
    Within(f64, f64),
    Exactly(f64),
}

impl Target {
    fn met(self, v: f64) -> bool {
        match self {
            Target::AtLeast(t) => v >= t,
            Target::AtMost(t) => v <= t,
            Target::Below(t) => v < t,
            Target::Within(lo, hi) => (lo..=hi).contains(&v),
            Target::Exactly(t) => v == t,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtLeast(t) => format!("≥ {t}"),
            Target::AtMost(t) => format!("≤ {t}"),
            Target::Below(t) => format!("< {t}"),
            Target::Within(lo, hi) => format!("{lo} – {hi}"),
            Target::Exactly(t) => format!("= {t}"),
        }
    }
}

struct Figure {
    key: String,
    label: String,
    value: Option<f64>,
    decimals: usize,
    reference: String,
    target: Option<Target>,
}

impl Figure {
    fn new(key: impl Into<String>, label: impl Into<String>, value: Option<f64>) -> Figure {
        Figure {
            key: key.into(),
            label: label.into(),
            value,
            decimals: 2,
            reference: String::new(),
            target: None,
        }
    }

    fn decimals(mut self, decimals: usize) -> Figure {
        self.decimals = decimals;
        self
    }

    fn reference(mut self, reference: impl Into<String>) -> Figure {
        self.reference = reference.into();
        self
    }

    fn target(mut self, target: Target) -> Figure {
        self.target = Some(target);
        self
    }

    fn value_text(&self) -> String {
        match self.value {
            Some(v) => format!("{v:.*}", self.decimals),
            None => "n/a".into(),
        }
    }
}

#[derive(Default)]
struct Report {
    figures: Vec<Figure>,
    /// Throughput per task size, for the ratios computed once both spawn rates are known.
    rates: Vec<(u64, f64)>,
    /// The same for the largest task when every instance goes through `sh -c`.
    shell_rate: Option<(u64, f64)>,
}

impl Report {
    /// Records a figure and prints its machine-readable line at once.
    fn add(&mut self, figure: Figure) {
        println!("{}={}", figure.key, figure.value_text());
        self.figures.push(figure);
    }

    fn table(&self) -> String {
        let mut out = String::from(
            "| figure | key | value | machine / reference | target | met |\n|---|---|---:|---|---|---|\n",
        );
        for f in &self.figures {
            let (target, met) = match (f.target, f.value) {
                (Some(t), Some(v)) => (t.text(), if t.met(v) { "yes" } else { "**no**" }),
                (Some(t), None) => (t.text(), "n/a"),
                (None, _) => ("—".into(), ""),
            };
            let reference = if f.reference.is_empty() {
                "—"
            } else {
                &f.reference
            };
            out.push_str(&format!(
                "| {} | `{}` | {} | {reference} | {target} | {met} |\n",
                f.label,
                f.key,
                f.value_text()
            ));
        }
        out
    }
}

// --- small helpers --------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn median(values: &[f64]) -> f64 {
    let v = sorted(values);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
}

/// Nearest rank.
fn percentile(values: &[f64], p: f64) -> f64 {
    let v = sorted(values);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// `date +%s.%N` output as nanoseconds since the epoch (integer arithmetic: no rounding).
fn parse_epoch(text: &str) -> anyhow::Result<i128> {
    let line = text
        .split_whitespace()
        .next()
        .with_context(|| format!("no time in output {text:?}"))?;
    let (secs, frac) = line
        .split_once('.')
        .with_context(|| format!("'{line}' is not seconds.nanoseconds"))?;
    let secs: i128 = secs
        .parse()
        .with_context(|| format!("'{line}': bad seconds"))?;
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i128 = digits
        .parse()
        .with_context(|| format!("'{line}': bad fraction"))?;
    Ok(secs * 1_000_000_000 + nanos)
}

fn epoch_nanos(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as i128
}

fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) on a pid this bench started (or its server launched); no memory shared.
    unsafe { libc::kill(pid, sig) == 0 }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Field 2, the command, is in parentheses and may hold spaces: count from the last ')'.
    // What follows starts at field 3 (state); utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc stat")?
            .parse()
            .context("non-numeric /proc stat field")
    };
    Ok(field(11)? + field(12)?)
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in MiB.
fn status_mib(pid: u32, key: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))?
        .parse()?;
    Ok(kb / 1024.0)
}

/// A sample's value in Prometheus text, whatever its labels.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = match rest.strip_prefix('{') {
            Some(labelled) => labelled.split_once('}')?.1,
            None if rest.starts_with(' ') => rest,
            None => return None,
        };
        rest.split_whitespace().next()?.parse().ok()
    })
}

// --- the machine's own limits ---------------------------------------------------------------

/// `sh -c true`, spawned and waited for, SPAWNS times from SPAWN_THREADS threads: processes/s.
fn spawn_rate() -> anyhow::Result<f64> {
    let per_thread = SPAWNS / SPAWN_THREADS;
    let start = Instant::now();
    let outcomes: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..SPAWN_THREADS)
            .map(|_| {
                scope.spawn(move || -> anyhow::Result<()> {
                    for _ in 0..per_thread {
                        let status = Command::new("sh")
                            .args(["-c", "true"])
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .status()
                            .context("spawning sh -c true")?;
                        if !status.success() {
                            bail!("sh -c true ended {status}");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow!("spawn thread panicked")))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    for outcome in outcomes {
        outcome?;
    }
    Ok((per_thread * SPAWN_THREADS) as f64 / elapsed.as_secs_f64())
}

/// Spawn → printed time of `sh -c 'date +%s.%N'` run directly, FLOOR_RUNS times (ms).
fn date_floor() -> anyhow::Result<Vec<f64>> {
    (0..FLOOR_RUNS)
        .map(|_| {
            let before = SystemTime::now();
            // As the agent starts it: a plain command, executed without a shell.
            let mut words = DATE.split(' ');
            let out = Command::new(words.next().expect("a program"))
                .args(words)
                .stdin(Stdio::null())
                .output()
                .context("spawning date")?;
            let printed = parse_epoch(&String::from_utf8_lossy(&out.stdout))?;
            Ok((printed - epoch_nanos(before)) as f64 / 1e6)
        })
        .collect()
}

// --- the API --------------------------------------------------------------------------------

struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Api {
    fn new(base: String, token: &str) -> anyhow::Result<Api> {
        Ok(Api {
            http: reqwest::Client::builder()
                .timeout(REQUEST_LIMIT)
                .no_proxy()
                .build()?,
            base,
            auth: format!("Bearer {token}"),
        })
    }

    async fn text(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Authorization", &self.auth);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        Ok(text)
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let text = self.text(method.clone(), path, body).await?;
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text}"))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.json(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.json(reqwest::Method::POST, path, Some(body)).await
    }

    /// Median wall time (ms) of `calls` runs of one request; the last answer with it.
    async fn median_ms(
        &self,
        calls: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(f64, String)> {
        let mut times = Vec::with_capacity(calls);
        let mut last = String::new();
        for _ in 0..calls {
            let start = Instant::now();
            last = self.text(method.clone(), path, body).await?;
            times.push(ms(start.elapsed()));
        }
        Ok((median(&times), last))
    }
}

// --- the server process ---------------------------------------------------------------------

/// A fresh PostgreSQL database for one server, dropped after it.
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
        Database::connect(options)
            .await
            .context("connecting to HEARTH_BENCH_PG_URL")
    }

    async fn create(base: &str) -> anyhow::Result<PgDatabase> {
        let name = format!("hearth_bench_{}", Uuid::new_v4().simple());
        let admin = Self::admin(base).await?;
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await?;
        admin.close().await?;
        let mut url = reqwest::Url::parse(base).context("HEARTH_BENCH_PG_URL is not a URL")?;
        url.set_path(&format!("/{name}"));
        Ok(PgDatabase {
            base: base.to_owned(),
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

/// `hearth serve` as a child process, with a read connection of the bench's own to its
/// database. `stop` ends it; dropping it without `stop` (a panic) still ends the process.
struct Server {
    scenario: &'static str,
    child: Option<Child>,
    pid: u32,
    dir: Option<tempfile::TempDir>,
    api: Option<Api>,
    db: Option<DatabaseConnection>,
    pg: Option<PgDatabase>,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// SIGTERM, then wait (SIGKILL after STOP_LIMIT).
fn terminate(child: &mut Child) -> anyhow::Result<(Duration, ExitStatus)> {
    let start = Instant::now();
    if let Some(status) = child.try_wait()? {
        bail!("the server had already exited ({status})");
    }
    signal(child.id() as i32, libc::SIGTERM);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((start.elapsed(), status));
        }
        if start.elapsed() > STOP_LIMIT {
            let _ = child.kill();
            let status = child.wait()?;
            bail!("the server was still running {STOP_LIMIT:?} after SIGTERM: killed ({status})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Live processes whose command line names a directory under `nodes_dir`: the agents
/// (`--node-dir <data dir>/nodes/<node>`). A zombie has an empty command line.
fn agents_under(nodes_dir: &Path) -> Vec<i32> {
    let needle = nodes_dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

/// Waits for the agents of a stopped server to exit; ends (by pid) and returns those that
/// do not within AGENTS_GONE_LIMIT.
fn end_leftover_agents(nodes_dir: &Path) -> Vec<i32> {
    let start = Instant::now();
    let mut left = agents_under(nodes_dir);
    while !left.is_empty() && start.elapsed() < AGENTS_GONE_LIMIT {
        std::thread::sleep(Duration::from_millis(100));
        left = agents_under(nodes_dir);
    }
    for pid in &left {
        signal(*pid, libc::SIGTERM);
    }
    if !left.is_empty() {
        std::thread::sleep(Duration::from_secs(2));
        for pid in agents_under(nodes_dir) {
            signal(pid, libc::SIGKILL);
        }
    }
    left
}

impl Server {
    async fn start(cfg: &Config, scenario: &'static str) -> anyhow::Result<Server> {
        let mut server = Server {
            scenario,
            child: None,
            pid: 0,
            dir: None,
            api: None,
            db: None,
            pg: None,
        };
        match server.boot(cfg).await {
            Ok(()) => Ok(server),
            Err(e) => {
                if let Err(stop) = server.stop(true).await {
                    eprintln!("{scenario}: stopping the server that failed to start: {stop:#}");
                }
                Err(e.context(format!("{scenario}: starting hearth serve")))
            }
        }
    }

    async fn boot(&mut self, cfg: &Config) -> anyhow::Result<()> {
        if let Some(base) = &cfg.pg_url {
            self.pg = Some(PgDatabase::create(base).await?);
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("hearth-bench-{}-", self.scenario))
            .tempdir()?;
        let data = dir.path().to_path_buf();
        self.dir = Some(dir);
        let port = free_port()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_hearth"));
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--agent-give-up-seconds")
            .arg(AGENT_GIVE_UP_SECONDS.to_string())
            // SQLite unless asked otherwise, whatever the bench's own environment says.
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(File::create(data.join("server.out"))?)
            .stderr(File::create(data.join("server.log"))?);
        if let Some(pg) = &self.pg {
            command.env("DATABASE_URL", &pg.url);
        }
        let child = command.spawn().context("spawning hearth serve")?;
        self.pid = child.id();
        let child = self.child.insert(child);

        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .build()?;
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let token = loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "hearth serve exited ({status}) while starting; its log:\n{}",
                    log_tail(&data)
                );
            }
            let token = std::fs::read_to_string(data.join("owner.token")).unwrap_or_default();
            let healthy = probe
                .get(format!("{base}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy && !token.trim().is_empty() {
                break token.trim().to_owned();
            }
            if start.elapsed() > START_LIMIT {
                bail!(
                    "hearth serve not answering after {START_LIMIT:?}; its log:\n{}",
                    log_tail(&data)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.api = Some(Api::new(base, &token)?);

        let url = match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}?mode=ro", data.join("hearth.db").display()),
        };
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        self.db = Some(
            Database::connect(options)
                .await
                .context("opening the bench's read connection to the server's database")?,
        );
        println!(
            "server pid {} on 127.0.0.1:{port} ({:.0} ms to answer), data in {}",
            self.pid,
            ms(start.elapsed()),
            data.display()
        );
        Ok(())
    }

    fn nodes_dir(&self) -> std::path::PathBuf {
        self.dir
            .as_ref()
            .expect("started server has a data directory")
            .path()
            .join("nodes")
    }

    fn api(&self) -> &Api {
        self.api.as_ref().expect("started server has an API client")
    }

    fn db(&self) -> &DatabaseConnection {
        self.db
            .as_ref()
            .expect("started server has a read connection")
    }

    /// Stops the server and checks it left no agent behind; keeps the data directory when
    /// asked to (or when stopping went wrong) and drops the PostgreSQL database.
    async fn stop(&mut self, keep: bool) -> anyhow::Result<()> {
        if let Some(db) = self.db.take() {
            let _ = db.close().await;
        }
        let mut problems = Vec::new();
        if let Some(mut child) = self.child.take() {
            match terminate(&mut child) {
                Ok((took, status)) => {
                    println!("server stopped {:.0} ms after SIGTERM ({status})", ms(took));
                    if !status.success() {
                        problems.push(format!("the server ended {status} on SIGTERM"));
                    }
                }
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        if let Some(dir) = &self.dir {
            let left = end_leftover_agents(&dir.path().join("nodes"));
            if !left.is_empty() {
                problems.push(format!(
                    "{} agent(s) still running {AGENTS_GONE_LIMIT:?} after the server stopped \
                     (pids {left:?}; ended by the bench)",
                    left.len()
                ));
            }
        }
        if let Some(pg) = self.pg.take() {
            let name = pg.name.clone();
            if let Err(e) = pg.drop_database().await {
                problems.push(format!("dropping PostgreSQL database {name}: {e:#}"));
            }
        }
        if let Some(dir) = self.dir.take()
            && (keep || !problems.is_empty())
        {
            println!("data directory kept: {}", dir.keep().display());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(problems.join("; ")))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only after a panic: `stop` took the child otherwise.
        if let Some(mut child) = self.child.take() {
            let _ = terminate(&mut child);
            if let Some(dir) = self.dir.take() {
                end_leftover_agents(&dir.path().join("nodes"));
                eprintln!("data directory kept: {}", dir.keep().display());
            }
            if let Some(pg) = &self.pg {
                eprintln!("PostgreSQL database {} left behind", pg.name);
            }
        }
    }
}

/// Runs a scenario on a server of its own, within `limit`; the server is stopped whatever
/// the outcome.
async fn on_fresh_server<T>(
    cfg: &Config,
    scenario: &'static str,
    limit: Duration,
    run: impl AsyncFnOnce(&Server) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut server = Server::start(cfg, scenario).await?;
    let outcome = match tokio::time::timeout(limit, run(&server)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow!("no result after {limit:?}")),
    };
    let stopped = server.stop(outcome.is_err()).await;
    match (outcome, stopped) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(stop)) => Err(anyhow!("{e:#}; then, stopping the server: {stop:#}")),
    }
}

// --- pools and tasks ------------------------------------------------------------------------

async fn create_pool(api: &Api, body: &Value) -> anyhow::Result<String> {
    let created = api.post("/pools", body).await?;
    Ok(created["uuid"]
        .as_str()
        .with_context(|| format!("POST /pools answered no uuid: {created}"))?
        .to_owned())
}

/// Until the pool is FullyExecuting with `nodes` Ready nodes and `slots` slots.
async fn wait_pool_ready(
    api: &Api,
    pool: &str,
    nodes: u64,
    slots: u64,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let p = api.get(&format!("/pools/{pool}")).await?;
        let list = api.get(&format!("/pools/{pool}/nodes")).await?;
        let ready = list["items"].as_array().map_or(0, |n| {
            n.iter().filter(|n| n["state"] == "Ready").count() as u64
        });
        let capacity = p["totalSlotCapacity"].as_u64().unwrap_or(0);
        let state = p["state"].as_str().unwrap_or("?");
        if state == "FullyExecuting" && ready == nodes && capacity == slots {
            return Ok(start.elapsed());
        }
        if matches!(state, "Failure" | "Closing" | "Closed") || start.elapsed() > READY_LIMIT {
            bail!(
                "pool {pool} not ready after {:.1} s: state {state}, totalSlotCapacity \
                 {capacity}, {ready} Ready nodes (want {nodes} nodes, {slots} slots): {list}",
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn submit_task(
    api: &Api,
    pool: &str,
    name: &str,
    instances: u64,
    command: &str,
) -> anyhow::Result<Uuid> {
    let body = json!({
        "name": name,
        "poolUuid": pool,
        "instanceCount": instances,
        "constants": [{"key": "DOCKER_CMD", "value": command}],
    });
    let created = api.post("/tasks", &body).await?;
    created["uuid"]
        .as_str()
        .with_context(|| format!("POST /tasks answered no uuid: {created}"))?
        .parse()
        .context("POST /tasks answered a malformed uuid")
}

async fn task_state(db: &DatabaseConnection, id: Uuid) -> anyhow::Result<TaskState> {
    let state: String = task::Entity::find_by_id(id)
        .select_only()
        .column(task::Column::State)
        .into_tuple()
        .one(db)
        .await?
        .with_context(|| format!("task {id}: no row"))?;
    state
        .parse()
        .map_err(|_| anyhow!("task {id}: unknown state '{state}'"))
}

/// The task's instances by state, e.g. `{"Queued": 10, "Succeeded": 90}`.
async fn instance_states(
    db: &DatabaseConnection,
    id: Uuid,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let states: Vec<String> = instance::Entity::find()
        .select_only()
        .column(instance::Column::State)
        .filter(instance::Column::TaskId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    let mut tally = BTreeMap::new();
    for s in states {
        *tally.entry(s).or_insert(0) += 1;
    }
    Ok(tally)
}

fn ended(tally: &BTreeMap<String, u64>) -> u64 {
    [
        InstanceState::Succeeded,
        InstanceState::Failed,
        InstanceState::Cancelled,
    ]
    .iter()
    .map(|s| tally.get(s.as_str()).copied().unwrap_or(0))
    .sum()
}

/// A task still unfinished at its time limit, with how far it got.
#[derive(Debug)]
struct TimedOut {
    id: Uuid,
    state: TaskState,
    elapsed: Duration,
    ended: u64,
    instances: u64,
    tally: BTreeMap<String, u64>,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task {} still {} after {:.0} s (the limit): {}/{} instances ended ({:.1}/s so far) {:?}",
            self.id,
            self.state.as_str(),
            self.elapsed.as_secs_f64(),
            self.ended,
            self.instances,
            self.ended as f64 / self.elapsed.as_secs_f64(),
            self.tally
        )
    }
}

impl std::error::Error for TimedOut {}

/// Reads the task's row every `poll` until it is finished: the time since `start` when it
/// was first seen finished, and the state it ended in.
async fn wait_task(
    db: &DatabaseConnection,
    id: Uuid,
    instances: u64,
    start: Instant,
    poll: Duration,
    limit: Duration,
) -> anyhow::Result<(Duration, TaskState)> {
    let mut next_progress = PROGRESS_EVERY;
    loop {
        let state = task_state(db, id).await?;
        let elapsed = start.elapsed();
        if state.is_finished() {
            return Ok((elapsed, state));
        }
        if elapsed > limit {
            let tally = instance_states(db, id).await?;
            return Err(TimedOut {
                id,
                state,
                elapsed,
                ended: ended(&tally),
                instances,
                tally,
            }
            .into());
        }
        if elapsed >= next_progress {
            let done = ended(&instance_states(db, id).await?);
            println!(
                "  ... {done}/{instances} instances ended after {:.0} s",
                elapsed.as_secs_f64()
            );
            next_progress += PROGRESS_EVERY;
        }
        tokio::time::sleep(poll).await;
    }
}

struct TaskRun {
    id: Uuid,
    elapsed: Duration,
    /// The server's own `created_at` → `end_date`.
    server: Option<Duration>,
}

/// Submits a task and waits for it; anything but Success is an error.
async fn run_task(
    s: &Server,
    pool: &str,
    name: &str,
    instances: u64,
    command: &str,
    limit: Duration,
) -> anyhow::Result<TaskRun> {
    let start = Instant::now();
    let id = submit_task(s.api(), pool, name, instances, command).await?;
    let (elapsed, state) = wait_task(s.db(), id, instances, start, STATE_POLL, limit).await?;
    if state != TaskState::Success {
        bail!(
            "task {name} ({id}) ended {}: {:?}",
            state.as_str(),
            instance_states(s.db(), id).await?
        );
    }
    let (created, end): (DateTime<Utc>, Option<DateTime<Utc>>) = task::Entity::find_by_id(id)
        .select_only()
        .column(task::Column::CreatedAt)
        .column(task::Column::EndDate)
        .into_tuple()
        .one(s.db())
        .await?
        .context("task row vanished")?;
    Ok(TaskRun {
        id,
        elapsed,
        server: end.and_then(|e| (e - created).to_std().ok()),
    })
}

// --- scenarios ------------------------------------------------------------------------------

async fn throughput(s: &Server, cfg: &Config, report: &mut Report) -> anyhow::Result<()> {
    println!(
        "\n== throughput: 1 node x {THROUGHPUT_SLOTS} slots, tasks of {:?} no-op instances",
        cfg.sizes
    );
    let api = s.api();
    let pool = create_pool(
        api,
        &json!({
            "name": "engine-bench-throughput",
            "profile": "docker-batch",
            "instanceCount": THROUGHPUT_SLOTS,
            "multiSlotsSettings": {"slotsPerNode": THROUGHPUT_SLOTS},
        }),
    )
    .await?;
    let boot = wait_pool_ready(api, &pool, 1, THROUGHPUT_SLOTS).await?;
    println!(
        "pool {pool}: 1 node x {THROUGHPUT_SLOTS} slots Ready in {:.0} ms",
        ms(boot)
    );
    let warm = run_task(s, &pool, "warm-up", THROUGHPUT_SLOTS, NOOP, cfg.limit).await?;
    println!(
        "warm-up task of {THROUGHPUT_SLOTS} instances: {:.0} ms",
        ms(warm.elapsed)
    );

    // The agent's own CPU (not its children's), to tell which side a slow rate comes from.
    let agents = agents_under(&s.nodes_dir());
    let agent_ticks = || -> u64 {
        agents
            .iter()
            .filter_map(|pid| cpu_ticks(*pid as u32).ok())
            .sum()
    };
    let tick = ticks_per_second();
    for &n in &cfg.sizes {
        let cpu_before = cpu_ticks(s.pid)?;
        let agent_before = agent_ticks();
        let run = match run_task(s, &pool, &format!("throughput-{n}"), n, NOOP, cfg.limit).await {
            Ok(run) => run,
            Err(e) => {
                // Past the limit: the rate so far is still worth a line, the run fails anyway.
                if let Some(t) = e.downcast_ref::<TimedOut>() {
                    report.add(
                        Figure::new(
                            format!("throughput_{n}_per_s"),
                            format!("throughput, task of {n}: unfinished at the limit"),
                            None,
                        )
                        .target(Target::AtLeast(1000.0)),
                    );
                    report.add(
                        Figure::new(
                            format!("throughput_{n}_partial_per_s"),
                            format!(
                                "throughput, task of {n}: instances ended per s until the {:.0} s limit",
                                t.elapsed.as_secs_f64()
                            ),
                            Some(t.ended as f64 / t.elapsed.as_secs_f64()),
                        )
                        .decimals(1),
                    );
                    report.add(
                        Figure::new(
                            format!("throughput_{n}_ended_at_limit"),
                            format!("throughput, task of {n}: instances ended at the limit"),
                            Some(t.ended as f64),
                        )
                        .decimals(0),
                    );
                }
                return Err(e);
            }
        };
        let cpu = (cpu_ticks(s.pid)?.saturating_sub(cpu_before)) as f64 / tick;
        let agent_cpu = agent_ticks().saturating_sub(agent_before) as f64 / tick;
        let secs = run.elapsed.as_secs_f64();
        let rate = n as f64 / secs;
        println!(
            "{n} instances: Success {secs:.2} s after submit (server created→ended {}), \
             {rate:.0} instances/s; CPU per instance: server {:.3} ms, agent {:.3} ms",
            run.server
                .map_or("?".into(), |d| format!("{:.2} s", d.as_secs_f64())),
            cpu * 1000.0 / n as f64,
            agent_cpu * 1000.0 / n as f64
        );
        // The check through the API, after the clock stopped.
        let start = Instant::now();
        let t = api.get(&format!("/tasks/{}", run.id)).await?;
        // The answer lists at most 1,000 completed instances; the succeeded range covers all.
        let completed = t["completedInstances"].as_array().map_or(0, Vec::len) as u64;
        let listed_ok = completed == n.min(1000)
            && t["completedInstancesTruncated"].as_bool() == Some(n > 1000);
        let all_succeeded = t["status"]["succeededRange"].as_str()
            == Some(
                if n == 1 {
                    "0".to_owned()
                } else {
                    format!("0-{}", n - 1)
                }
                .as_str(),
            );
        if t["state"] != "Success" || !listed_ok || !all_succeeded {
            bail!(
                "GET /tasks/{}: state {}, {completed} of {n} completed instances listed, \
                 succeededRange {}",
                run.id,
                t["state"],
                t["status"]["succeededRange"]
            );
        }
        println!(
            "  GET /tasks/{{uuid}} of it: {:.0} ms, state Success, {completed} completed instances",
            ms(start.elapsed())
        );
        report.rates.push((n, rate));
        report.add(
            Figure::new(
                format!("throughput_{n}_per_s"),
                format!("throughput, task of {n} no-op instances on 16 slots (instances/s)"),
                Some(rate),
            )
            .decimals(1)
            .target(Target::AtLeast(1000.0)),
        );
        report.add(
            Figure::new(
                format!("throughput_{n}_seconds"),
                format!("throughput, task of {n}: submit → Success (s)"),
                Some(secs),
            )
            .decimals(3),
        );
        report.add(
            Figure::new(
                format!("throughput_{n}_server_cpu_ms_per_instance"),
                format!("throughput, task of {n}: server CPU per instance (ms)"),
                Some(cpu * 1000.0 / n as f64),
            )
            .decimals(3),
        );
        report.add(
            Figure::new(
                format!("throughput_{n}_agent_cpu_ms_per_instance"),
                format!("throughput, task of {n}: agent CPU per instance, own (ms)"),
                Some(agent_cpu * 1000.0 / n as f64),
            )
            .decimals(3),
        );
    }
    // The largest size again, each instance through the shell: what a command with shell
    // syntax costs, and the old figure (before plain commands skipped the shell).
    if let Some(&n) = cfg.sizes.iter().max() {
        let run = run_task(
            s,
            &pool,
            &format!("throughput-shell-{n}"),
            n,
            NOOP_SHELL,
            cfg.limit,
        )
        .await?;
        let rate = n as f64 / run.elapsed.as_secs_f64();
        println!("{n} instances of `{NOOP_SHELL}` (through sh -c): {rate:.0} instances/s");
        report.shell_rate = Some((n, rate));
        report.add(
            Figure::new(
                format!("throughput_shell_{n}_per_s"),
                format!("throughput, task of {n} instances run by `sh -c :` (instances/s)"),
                Some(rate),
            )
            .decimals(1),
        );
    }
    let rss = status_mib(s.pid, "VmRSS")?;
    let hwm = status_mib(s.pid, "VmHWM")?;
    println!("server after the throughput tasks: VmRSS {rss:.1} MiB (peak {hwm:.1})");
    report.add(
        Figure::new(
            "throughput_server_rss_mb",
            "throughput: server VmRSS after its tasks (MiB)",
            Some(rss),
        )
        .decimals(1),
    );
    Ok(())
}

async fn latency(s: &Server, report: &mut Report) -> anyhow::Result<()> {
    println!(
        "\n== latency: 1 node x 1 slot, {LATENCY_ROUNDS} sequential 1-instance tasks `{DATE}`"
    );
    let api = s.api();
    let pool = create_pool(
        api,
        &json!({"name": "engine-bench-latency", "profile": "docker-batch", "instanceCount": 1}),
    )
    .await?;
    let boot = wait_pool_ready(api, &pool, 1, 1).await?;
    println!("pool {pool}: 1 node x 1 slot Ready in {:.0} ms", ms(boot));

    let floor = date_floor()?;
    let floor_mean = mean(&floor);
    println!(
        "floor: `{DATE}` spawned by the bench, spawn → printed time: mean {floor_mean:.3} ms, \
         median {:.3} ms (of {FLOOR_RUNS})",
        median(&floor)
    );

    let mut latencies = Vec::with_capacity(LATENCY_ROUNDS);
    let mut submits = Vec::with_capacity(LATENCY_ROUNDS);
    for round in 0..LATENCY_WARMUP + LATENCY_ROUNDS {
        let before = SystemTime::now();
        let start = Instant::now();
        let id = submit_task(api, &pool, &format!("latency-{round}"), 1, DATE).await?;
        let submit = ms(start.elapsed());
        let (_, state) = wait_task(s.db(), id, 1, start, LATENCY_POLL, LATENCY_ROUND_LIMIT).await?;
        if state != TaskState::Success {
            bail!("latency round {round}: task {id} ended {}", state.as_str());
        }
        let out = api
            .text(reqwest::Method::GET, &format!("/tasks/{id}/stdout"), None)
            .await?;
        let printed =
            parse_epoch(&out).with_context(|| format!("latency round {round}: task {id}"))?;
        if round >= LATENCY_WARMUP {
            latencies.push((printed - epoch_nanos(before)) as f64 / 1e6);
            submits.push(submit);
        }
    }
    let (p50, p90, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
    );
    println!(
        "submit → instance's printed time, {LATENCY_ROUNDS} rounds (ms): min {:.2} p50 {p50:.2} \
         p90 {p90:.2} p99 {p99:.2} max {max:.2}; of which POST /tasks answered: median {:.2}",
        percentile(&latencies, 0.0),
        median(&submits)
    );
    let floor_text = format!("floor {floor_mean:.2} ms");
    for (key, label, value, target) in [
        (
            "latency_p50_ms",
            "latency p50",
            p50,
            Some(Target::AtMost(3.0)),
        ),
        ("latency_p90_ms", "latency p90", p90, None),
        (
            "latency_p99_ms",
            "latency p99",
            p99,
            Some(Target::AtMost(15.0)),
        ),
        ("latency_max_ms", "latency max", max, None),
    ] {
        let mut f = Figure::new(
            key,
            format!("{label}: submit → instance running `date` (ms)"),
            Some(value),
        )
        .reference(&floor_text);
        if let Some(t) = target {
            f = f.target(t);
        }
        report.add(f);
    }
    report.add(
        Figure::new(
            "latency_floor_ms",
            "floor: spawn → printed time of `date` spawned alone, mean of 50 (ms)",
            Some(floor_mean),
        )
        .decimals(3),
    );
    report.add(Figure::new(
        "latency_submit_median_ms",
        "latency rounds: POST /tasks round trip, median (ms)",
        Some(median(&submits)),
    ));
    Ok(())
}

/// A pool that never gets a slot (Fixed 0), evaluated every second: what it is given stays
/// queued.
fn zero_pool_body(name: &str) -> Value {
    json!({
        "name": name,
        "profile": "docker-batch",
        "instanceCount": 0,
        "scaling": {"policies": [{
            "type": "Fixed", "name": "zero", "slotsCount": 0,
            "enabledPeriods": [{"type": "Always", "name": "always"}],
        }]},
        "elasticProperty": {"resizePeriod": 1},
    })
}

/// Tasks per `POST /tasks` array in the listing scenario.
const SUBMIT_ARRAY: u64 = 500;
/// Calls of the filtered page (each reads many rows).
const FILTERED_CALLS: usize = 5;

async fn listing(s: &Server, cfg: &Config, report: &mut Report) -> anyhow::Result<()> {
    println!(
        "\n== listing: {} tasks of 1 instance queued on a pool of 0 slots, 1 in 1,000 tagged `rare`",
        cfg.tasks
    );
    let api = s.api();
    let pool = create_pool(api, &zero_pool_body("engine-bench-listing")).await?;
    let start = Instant::now();
    let mut submitted = 0;
    while submitted < cfg.tasks {
        let n = (cfg.tasks - submitted).min(SUBMIT_ARRAY);
        let batch: Vec<Value> = (submitted..submitted + n)
            .map(|k| {
                json!({
                    "name": format!("engine-bench-list-{k}"),
                    "poolUuid": pool,
                    "instanceCount": 1,
                    "constants": [{"key": "DOCKER_CMD", "value": NOOP}],
                    "tags": [if k % 1000 == 999 { "rare" } else { "common" }],
                })
            })
            .collect();
        api.post("/tasks", &json!(batch)).await?;
        submitted += n;
    }
    let submit_s = start.elapsed().as_secs_f64();
    println!(
        "{} tasks submitted in {submit_s:.1} s ({:.0}/s)",
        cfg.tasks,
        cfg.tasks as f64 / submit_s
    );
    let (health, _) = api
        .median_ms(LIST_CALLS, reqwest::Method::GET, "/health", None)
        .await?;
    let page_of = |token: &Value, filter: &Value| json!({"maximumResults": PAGE, "token": token, "filter": filter});
    let (first, page) = api
        .median_ms(
            LIST_CALLS,
            reqwest::Method::POST,
            "/tasks/paginate",
            Some(&page_of(&Value::Null, &Value::Null)),
        )
        .await?;
    let page: Value = serde_json::from_str(&page)?;
    let want = cfg.tasks.min(PAGE) as usize;
    if page["data"].as_array().map(Vec::len) != Some(want) {
        bail!("first page: want {want} tasks, got {}", page["data"]);
    }
    // Walk to the middle of the list, page by page.
    let mut token = Value::Null;
    let mut seen = 0;
    while seen < cfg.tasks / 2 {
        let page = api
            .post("/tasks/paginate", &page_of(&token, &Value::Null))
            .await?;
        seen += page["data"].as_array().map_or(0, Vec::len) as u64;
        if page["isTruncated"] != true {
            bail!("the pages ended after {seen} of {} tasks", cfg.tasks);
        }
        token = page["nextToken"].clone();
    }
    let (middle, _) = api
        .median_ms(
            LIST_CALLS,
            reqwest::Method::POST,
            "/tasks/paginate",
            Some(&page_of(&token, &Value::Null)),
        )
        .await?;
    let (get_page, page) = api
        .median_ms(
            LIST_CALLS,
            reqwest::Method::GET,
            &format!("/tasks?limit={PAGE}"),
            None,
        )
        .await?;
    let page: Value = serde_json::from_str(&page)?;
    if page.as_array().map(Vec::len) != Some(want) {
        bail!("GET /tasks?limit={PAGE}: want {want} tasks, got {page}");
    }
    let rare = json!({"operator": "Equal", "field": "Tags", "value": "rare"});
    let (filtered, page) = api
        .median_ms(
            FILTERED_CALLS,
            reqwest::Method::POST,
            "/tasks/paginate",
            Some(&page_of(&Value::Null, &rare)),
        )
        .await?;
    let page: Value = serde_json::from_str(&page)?;
    let want = (cfg.tasks / 1000).min(PAGE) as usize;
    let got = page["data"].as_array().map_or(0, Vec::len);
    if got != want {
        bail!("filtered page: want {want} `rare` tasks, got {got}");
    }
    let rss = status_mib(s.pid, "VmRSS")?;
    println!(
        "listing, medians (ms): GET /health {health:.2}, first page {first:.2}, page after \
         {seen} tasks {middle:.2}, GET /tasks?limit={PAGE} {get_page:.2}, filtered (1 in \
         1,000) {filtered:.1}; VmRSS {rss:.1} MiB"
    );
    let health_text = format!("GET /health {health:.2} ms");
    let shape = format!("{} tasks", cfg.tasks);
    report.add(
        Figure::new(
            "listing_submit_s",
            format!("listing: submitting {shape} in arrays of {SUBMIT_ARRAY} (s)"),
            Some(submit_s),
        )
        .decimals(1),
    );
    report.add(
        Figure::new(
            "listing_get_page_ms",
            format!("listing: GET /tasks?limit={PAGE}, first page of {shape}, median (ms)"),
            Some(get_page),
        )
        .reference(&health_text)
        .target(Target::Below(20.0)),
    );
    report.add(
        Figure::new(
            "listing_first_page_ms",
            format!("listing: POST /tasks/paginate, first page of {PAGE} of {shape}, median (ms)"),
            Some(first),
        )
        .reference(&health_text)
        .target(Target::Below(20.0)),
    );
    report.add(
        Figure::new(
            "listing_middle_page_ms",
            format!("listing: POST /tasks/paginate, page after {seen} of {shape}, median (ms)"),
            Some(middle),
        )
        .reference(&health_text)
        .target(Target::Below(20.0)),
    );
    report.add(
        Figure::new(
            "listing_filtered_page_ms",
            format!(
                "listing: POST /tasks/paginate filtered on a tag 1 task in 1,000 has, {shape}, \
                 median of {FILTERED_CALLS} (ms)"
            ),
            Some(filtered),
        )
        .decimals(1)
        .reference(&health_text),
    );
    report.add(
        Figure::new(
            "listing_rss_mb",
            format!("listing: server VmRSS with {shape} (MiB)"),
            Some(rss),
        )
        .decimals(1),
    );
    Ok(())
}

async fn scale(s: &Server, cfg: &Config, report: &mut Report) -> anyhow::Result<()> {
    let queued_total = cfg.queued_tasks * cfg.queued_instances;
    println!(
        "\n== scale: {} pools of 0 slots (resize period 1 s), {} tasks x {} queued instances",
        cfg.pools, cfg.queued_tasks, cfg.queued_instances
    );
    let api = s.api();
    let db = s.db();
    let rss_fresh = status_mib(s.pid, "VmRSS")?;
    println!("fresh server: VmRSS {rss_fresh:.1} MiB");

    let start = Instant::now();
    let mut creates = Vec::with_capacity(cfg.pools as usize);
    let mut pools = Vec::with_capacity(cfg.pools as usize);
    let step = (cfg.pools / 10).max(1);
    for i in 0..cfg.pools {
        let body = zero_pool_body(&format!("engine-bench-zero-{i}"));
        let one = Instant::now();
        pools.push(create_pool(api, &body).await?);
        creates.push(ms(one.elapsed()));
        if (i + 1) % step == 0 {
            println!(
                "  {} pools created after {:.1} s (last POST /pools {:.1} ms)",
                i + 1,
                start.elapsed().as_secs_f64(),
                creates[creates.len() - 1]
            );
        }
    }
    let first = &pools[0];
    let p = api.get(&format!("/pools/{first}")).await?;
    if p["resizePeriod"] != 1 || p["scaling"]["policies"][0]["slotsCount"] != 0 {
        bail!("pool {first} did not keep its settings (resizePeriod 1, Fixed 0 slots): {p}");
    }
    report.add(Figure::new(
        "scale_pool_create_median_ms",
        "scale: POST /pools, median while creating them (ms)",
        Some(median(&creates)),
    ));
    report.add(Figure::new(
        "scale_pool_create_p99_ms",
        "scale: POST /pools, p99 while creating them (ms)",
        Some(percentile(&creates, 99.0)),
    ));

    let mut submits = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..cfg.queued_tasks {
        let one = Instant::now();
        tasks.push(
            submit_task(
                api,
                first,
                &format!("engine-bench-queued-{i}"),
                cfg.queued_instances,
                NOOP,
            )
            .await?,
        );
        submits.push(ms(one.elapsed()));
    }
    if !submits.is_empty() {
        println!(
            "{} tasks of {} instances submitted: POST /tasks median {:.0} ms, max {:.0} ms",
            cfg.queued_tasks,
            cfg.queued_instances,
            median(&submits),
            percentile(&submits, 100.0)
        );
        report.add(
            Figure::new(
                format!("scale_submit_{}_median_ms", cfg.queued_instances),
                format!(
                    "scale: POST /tasks of {} instances, median (ms)",
                    cfg.queued_instances
                ),
                Some(median(&submits)),
            )
            .decimals(1),
        );
    }
    let queued_of_pool = async || -> anyhow::Result<u64> {
        Ok(instance::Entity::find()
            .filter(instance::Column::PoolId.eq(first.parse::<Uuid>()?))
            .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
            .count(db)
            .await?)
    };
    let queued = queued_of_pool().await?;
    if queued != queued_total {
        bail!("{queued} instances queued on pool {first}, want {queued_total}");
    }

    // Every pool's first evaluation records a decision: the window starts after them (the
    // scenario's time limit bounds the wait).
    let first_decisions = Instant::now();
    loop {
        let recorded = scaling_decision::Entity::find().count(db).await?;
        if recorded >= cfg.pools {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_decisions = first_decisions.elapsed().as_secs_f64();
    println!("every pool had its first decision {first_decisions:.1} s after the last was created");
    report.add(
        Figure::new(
            "scale_first_decisions_s",
            format!(
                "scale: time until all {} pools had a first decision (s)",
                cfg.pools
            ),
            Some(first_decisions),
        )
        .decimals(1),
    );
    tokio::time::sleep(IDLE_SETTLE).await;
    let decisions_start = scaling_decision::Entity::find().count(db).await?;
    let counters = async || -> anyhow::Result<(f64, f64)> {
        let text = api.text(reqwest::Method::GET, "/metrics", None).await?;
        Ok((
            metric(&text, "hearth_resize_tick_seconds_total").unwrap_or(0.0),
            metric(&text, "hearth_scaling_decisions_total").unwrap_or(0.0),
        ))
    };
    let (tick_start, evaluations_start) = counters().await?;
    let cpu_start = cpu_ticks(s.pid)?;
    let window = Instant::now();
    tokio::time::sleep(IDLE_WINDOW).await;
    let cpu_end = cpu_ticks(s.pid)?;
    let seconds = window.elapsed().as_secs_f64();
    let (tick_end, evaluations_end) = counters().await?;
    let decisions_end = scaling_decision::Entity::find().count(db).await?;
    let evaluations = evaluations_end - evaluations_start;
    let per_10k = (evaluations > 0.0).then(|| (tick_end - tick_start) / evaluations * 1e4 * 1e3);
    println!(
        "idle window: {evaluations:.0} evaluations in {seconds:.1} s, resize ticks {:.0} ms in all",
        (tick_end - tick_start) * 1e3
    );
    report.add(
        Figure::new(
            "scale_resize_ms_per_10k",
            "scale: resize loop wall time per 10,000 pool evaluations, idle window (ms)",
            per_10k,
        )
        .decimals(1)
        .reference(format!(
            "{evaluations:.0} evaluations of {} pools in {seconds:.0} s",
            cfg.pools
        ))
        .target(Target::Below(100.0)),
    );
    let cpu_pct = (cpu_end.saturating_sub(cpu_start)) as f64 / ticks_per_second() / seconds * 100.0;
    let rss = status_mib(s.pid, "VmRSS")?;
    let hwm = status_mib(s.pid, "VmHWM")?;
    let growth = decisions_end as f64 - decisions_start as f64;
    println!(
        "idle {seconds:.1} s: server CPU {cpu_pct:.1} % of one core; scaling_decisions \
         {decisions_start} → {decisions_end} ({:.0}/s); VmRSS {rss:.1} MiB (peak {hwm:.1})",
        growth / seconds
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shape = format!("{} pools, {queued_total} queued", cfg.pools);
    report.add(
        Figure::new(
            "scale_rss_mb",
            format!("scale: server VmRSS, {shape} (MiB)"),
            Some(rss),
        )
        .decimals(1)
        .reference(format!("fresh server {rss_fresh:.1} MiB"))
        .target(Target::Below(64.0)),
    );
    report.add(
        Figure::new(
            "scale_hwm_mb",
            format!("scale: server VmHWM (peak RSS), {shape} (MiB)"),
            Some(hwm),
        )
        .decimals(1),
    );
    report.add(
        Figure::new(
            "scale_idle_cpu_pct",
            format!("scale: server CPU while idle, {shape} (% of one core)"),
            Some(cpu_pct),
        )
        .decimals(1)
        .reference(format!("one core = 100 %, machine has {cores}"))
        .target(Target::Below(10.0)),
    );
    report.add(
        Figure::new(
            "scale_decisions_start",
            "scale: scaling_decisions rows at the window's start",
            Some(decisions_start as f64),
        )
        .decimals(0),
    );
    report.add(
        Figure::new(
            "scale_decisions_end",
            "scale: scaling_decisions rows at the window's end",
            Some(decisions_end as f64),
        )
        .decimals(0),
    );
    report.add(
        Figure::new(
            "scale_decisions_growth",
            format!(
                "scale: scaling_decisions rows added in {:.0} s idle",
                IDLE_WINDOW.as_secs_f64()
            ),
            Some(growth),
        )
        .decimals(0)
        .reference(format!("{} pools x 1 evaluation/s", cfg.pools))
        .target(Target::Exactly(0.0)),
    );

    let metrics = api.text(reqwest::Method::GET, "/metrics", None).await?;
    for (key, name, decimals) in [
        (
            "resize_last_tick_seconds",
            "hearth_resize_last_tick_seconds",
            4,
        ),
        ("resize_last_tick_pools", "hearth_resize_last_tick_pools", 0),
    ] {
        let value = metric(&metrics, name);
        report.add(Figure::new(key, format!("scale: `/metrics` {name}"), value).decimals(decimals));
    }

    let (health, _) = api
        .median_ms(LIST_CALLS, reqwest::Method::GET, "/health", None)
        .await?;
    let page_body = json!({"maximumResults": PAGE});
    let (paginate, page) = api
        .median_ms(
            LIST_CALLS,
            reqwest::Method::POST,
            "/tasks/paginate",
            Some(&page_body),
        )
        .await?;
    let page: Value = serde_json::from_str(&page)?;
    let want = cfg.queued_tasks.min(PAGE) as usize;
    if page["data"].as_array().map(Vec::len) != Some(want) {
        bail!(
            "POST /tasks/paginate: want {want} tasks in the page, got {}",
            page["data"]
        );
    }
    let (list, all) = api
        .median_ms(LIST_CALLS, reqwest::Method::GET, "/tasks", None)
        .await?;
    let all: Value = serde_json::from_str(&all)?;
    if all.as_array().map(Vec::len) != Some(cfg.queued_tasks as usize) {
        bail!("GET /tasks: want {} tasks", cfg.queued_tasks);
    }
    println!(
        "listing, median of {LIST_CALLS} (ms): GET /health {health:.2}, POST /tasks/paginate \
         {paginate:.2}, GET /tasks {list:.2}"
    );
    let health_text = format!("GET /health {health:.2} ms");
    report.add(
        Figure::new(
            "scale_paginate_ms",
            format!("scale: POST /tasks/paginate (page of {PAGE}), median of {LIST_CALLS} (ms)"),
            Some(paginate),
        )
        .reference(&health_text)
        .target(Target::Below(20.0)),
    );
    report.add(
        Figure::new(
            "scale_list_tasks_ms",
            format!("scale: GET /tasks, median of {LIST_CALLS} (ms)"),
            Some(list),
        )
        .reference(&health_text),
    );
    if let Some(big) = tasks.first() {
        let (get, one) = api
            .median_ms(
                BIG_TASK_CALLS,
                reqwest::Method::GET,
                &format!("/tasks/{big}"),
                None,
            )
            .await?;
        let one: Value = serde_json::from_str(&one)?;
        if one["state"] == "Success" || one["state"] == "Failure" || one["state"] == "Cancelled" {
            bail!(
                "queued task {big} ended on a pool of 0 slots: {}",
                one["state"]
            );
        }
        println!(
            "GET /tasks/{{uuid}} of a {}-instance task, median of {BIG_TASK_CALLS}: {get:.2} ms",
            cfg.queued_instances
        );
        report.add(
            Figure::new(
                format!("scale_get_task_{}_ms", cfg.queued_instances),
                format!(
                    "scale: GET /tasks/{{uuid}} of a {}-instance task, median of {BIG_TASK_CALLS} (ms)",
                    cfg.queued_instances
                ),
                Some(get),
            )
            .reference(&health_text),
        );
    }
    report.add(
        Figure::new(
            "scale_http_floor_ms",
            "scale: GET /health, median of 20 (ms)",
            Some(health),
        )
        .decimals(3),
    );

    // Nothing may have run: the pools have no slot.
    let queued = queued_of_pool().await?;
    let nodes = api.get(&format!("/pools/{first}/nodes")).await?;
    let live = nodes["items"].as_array().map_or(0, |n| {
        n.iter()
            .filter(|n| n["state"] != "Terminated" && n["state"] != "Failed")
            .count()
    });
    if queued != queued_total || live != 0 {
        bail!(
            "pool {first} of 0 slots: {queued}/{queued_total} instances still queued, {live} live nodes"
        );
    }
    Ok(())
}

// --- main -----------------------------------------------------------------------------------

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("engine bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ok(false): a scenario failed (already reported).
fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    let cfg = Config::from_env()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "engine bench: database {}, {cores} cores, server {}",
        if cfg.pg_url.is_some() {
            "PostgreSQL (HEARTH_BENCH_PG_URL)"
        } else {
            "SQLite"
        },
        env!("CARGO_BIN_EXE_hearth")
    );
    println!(
        "database={}",
        if cfg.pg_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    let mut report = Report::default();
    let mut failures: Vec<String> = Vec::new();

    let before = spawn_rate()?;
    println!("spawn limit: `sh -c true` x {SPAWNS} from {SPAWN_THREADS} threads: {before:.0}/s");
    report.add(
        Figure::new(
            "spawn_per_s_before",
            "machine: `sh -c true` spawn+wait rate, before (processes/s)",
            Some(before),
        )
        .decimals(0),
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if cfg.throughput {
            // Each task has the limit; the scenario all of them plus the warm-up and the boot.
            let limit = cfg.limit * (cfg.sizes.len() as u32 + 1) + READY_LIMIT;
            let outcome = on_fresh_server(&cfg, "throughput", limit, async |s: &Server| {
                throughput(s, &cfg, &mut report).await
            })
            .await;
            if let Err(e) = outcome {
                failures.push(format!("throughput: {e:#}"));
            }
        }
        if cfg.latency {
            let outcome = on_fresh_server(&cfg, "latency", cfg.limit, async |s: &Server| {
                latency(s, &mut report).await
            })
            .await;
            if let Err(e) = outcome {
                failures.push(format!("latency: {e:#}"));
            }
        }
        if cfg.scale {
            let outcome = on_fresh_server(&cfg, "scale", cfg.limit, async |s: &Server| {
                scale(s, &cfg, &mut report).await
            })
            .await;
            if let Err(e) = outcome {
                failures.push(format!("scale: {e:#}"));
            }
        }
        if cfg.listing {
            let outcome = on_fresh_server(&cfg, "listing", cfg.limit, async |s: &Server| {
                listing(s, &cfg, &mut report).await
            })
            .await;
            if let Err(e) = outcome {
                failures.push(format!("listing: {e:#}"));
            }
        }
    });
    drop(runtime);

    println!();
    let after = spawn_rate()?;
    let spawn_mean = (before + after) / 2.0;
    println!("spawn limit: before {before:.0}/s, after {after:.0}/s, mean {spawn_mean:.0}/s");
    report.add(
        Figure::new(
            "spawn_per_s_after",
            "machine: `sh -c true` spawn+wait rate, after (processes/s)",
            Some(after),
        )
        .decimals(0),
    );
    let spawn_text = format!("spawn {spawn_mean:.0}/s (mean of before and after)");
    let rates = report.rates.clone();
    for f in &mut report.figures {
        if cfg
            .sizes
            .iter()
            .any(|n| f.key == format!("throughput_{n}_per_s"))
        {
            f.reference = spawn_text.clone();
        }
    }
    for &(n, rate) in &rates {
        report.add(
            Figure::new(
                format!("throughput_{n}_vs_spawn"),
                format!("throughput of the {n}-instance task / spawn rate"),
                Some(rate / spawn_mean),
            )
            .decimals(3)
            .reference(&spawn_text)
            .target(Target::AtLeast(0.70)),
        );
    }
    if let Some((n, rate)) = report.shell_rate {
        report.add(
            Figure::new(
                format!("throughput_shell_{n}_vs_spawn"),
                format!("throughput of the {n}-instance task through `sh -c` / spawn rate"),
                Some(rate / spawn_mean),
            )
            .decimals(3)
            .reference(&spawn_text),
        );
    }
    let smallest = rates.iter().min_by_key(|r| r.0);
    let largest = rates.iter().max_by_key(|r| r.0);
    if let (Some(&(small, small_rate)), Some(&(large, large_rate))) = (smallest, largest)
        && small != large
    {
        report.add(
            Figure::new(
                format!("throughput_{large}_vs_{small}"),
                format!("throughput rate of the {large}-instance task / the {small}-instance one"),
                Some(large_rate / small_rate),
            )
            .decimals(3)
            .target(Target::Within(0.8, 1.2)),
        );
    }

    println!(
        "\n## engine bench summary ({})\n",
        if cfg.pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    print!("{}", report.table());
    println!(
        "\ntotal bench time {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        Ok(true)
    } else {
        for f in &failures {
            eprintln!("FAILED {f}");
        }
        Ok(false)
    }
}
