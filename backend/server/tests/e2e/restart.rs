//! The real `hearth serve` binary killed in the middle of a task and started again on the
//! same data directory and port: the running agents are adopted, nothing runs twice,
//! nothing is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hearth_server::entities::instance;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tempfile::TempDir;

use crate::helpers::{
    Api, PgDatabase, WAIT, agent_processes, executions, kill_leftovers, node_summary, parse_uuid,
    pool_body, send_signal, task_summary, wait_for,
};

/// A data directory, its database, and the server process running on them.
struct Fixture {
    server: Option<Child>,
    logs: TempDir,
    data_dir: PathBuf,
    pg: Option<PgDatabase>,
    _dir: TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Fixture {
            server: None,
            logs: tempfile::tempdir().expect("log dir"),
            data_dir: dir.path().join("data"),
            pg: PgDatabase::maybe("hearth_e2e").await,
            _dir: dir,
        }
    }

    fn database_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("hearth.db").display()
            ),
        }
    }

    /// Starts `hearth serve` on `bind`; returns the port it serves on.
    async fn start(&mut self, run: u32, bind: &str) -> u16 {
        let out_path = self.logs.path().join(format!("server-{run}.out"));
        let err_path = self.logs.path().join(format!("server-{run}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_hearth"));
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--bind")
            .arg(bind)
            .args(["--heartbeat-ms", "300"])
            .args(["--agent-give-up-seconds", "30"])
            .args(["--kill-grace-ms", "500"])
            .env(
                "HEARTH_LOG",
                std::env::var("HEARTH_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("stderr file"));
        if let Some(pg) = &self.pg {
            command.arg("--database-url").arg(&pg.url);
        }
        let child = command.spawn().expect("starting hearth serve");
        self.server = Some(child);
        let server = self.server.as_mut().expect("server");
        let out = out_path.clone();
        let log = err_path.clone();
        wait_for(&format!("server run {run} to serve"), WAIT, || {
            let out = out.clone();
            let log = log.clone();
            let exited = server.try_wait().ok().flatten();
            async move {
                let text = std::fs::read_to_string(&out).unwrap_or_default();
                if let Some(status) = exited {
                    panic!(
                        "hearth serve exited ({status}): {text}\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                text.lines()
                    .find_map(|l| l.strip_prefix("hearth is serving on http://"))
                    .and_then(|rest| rest.rsplit_once(':'))
                    .and_then(|(_, port)| port.trim().parse::<u16>().ok())
                    .ok_or(text)
            }
        })
        .await
    }

    fn server_log(&self, run: u32) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("server-{run}.log")))
            .unwrap_or_default()
    }

    fn kill_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit.
    async fn stop_server(&mut self) {
        let mut child = self.server.take().expect("a running server");
        send_signal(child.id() as i32, libc::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                assert!(status.success(), "hearth serve exited with {status}");
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("hearth serve did not stop within 20 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.kill_server();
        kill_leftovers(&self.data_dir, Duration::from_secs(1));
        if std::thread::panicking() {
            for run in 1..=2 {
                eprintln!("--- server run {run} ---\n{}", self.server_log(run));
            }
        }
    }
}

fn data_dir_of(f: &Fixture) -> &Path {
    &f.data_dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_no_instance_and_runs_none_twice() {
    crate::helpers::init_logging();
    let mut fx = Fixture::new().await;
    let port = fx.start(1, "127.0.0.1:0").await;
    let token = std::fs::read_to_string(fx.data_dir.join("owner.token"))
        .expect("owner.token")
        .trim()
        .to_owned();
    let api = Api::new(port, &token);

    let pool = api.create_pool(&pool_body("restart", 4)).await;
    let before: BTreeSet<String> = api
        .wait_ready_nodes(&pool, 4)
        .await
        .iter()
        .map(|n| n["uuid"].as_str().unwrap_or_default().to_owned())
        .collect();
    let task = api
        .submit_task(&crate::helpers::task_body(
            "survives",
            &pool,
            4,
            "sleep 3; echo ok-$INSTANCE_ID",
        ))
        .await;
    let api_ref = &api;
    let task_ref = task.as_str();
    wait_for("all 4 instances executing", WAIT, || async move {
        let t = api_ref.task(task_ref).await;
        let running = t["status"]["runningInstancesInfo"]["perRunningInstanceInfo"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let executing = running.iter().filter(|r| r["phase"] == "execution").count();
        // Counted from the instances themselves, not from the task's derived state.
        if executing == 4 {
            Ok(())
        } else {
            Err(task_summary(&t))
        }
    })
    .await;

    // The server dies without any chance to clean up; its agents keep running.
    fx.kill_server();
    let agents = agent_processes(data_dir_of(&fx));
    assert_eq!(agents.len(), 4, "the agents outlive the server: {agents:?}");

    let again = fx.start(2, &format!("127.0.0.1:{port}")).await;
    assert_eq!(again, port);
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    for i in 0..4 {
        assert_eq!(
            api.stdout(&task, i).await,
            format!("ok-{i}\n"),
            "instance {i}"
        );
    }
    // The same four nodes were adopted: none was lost or replaced.
    let after = api.nodes(&pool).await;
    let after_ids: BTreeSet<String> = after
        .iter()
        .map(|n| n["uuid"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(after_ids, before, "{}", node_summary(&after));
    assert!(
        after.iter().all(|n| n["state"] == "Ready"),
        "{}",
        node_summary(&after)
    );

    let mut options = sea_orm::ConnectOptions::new(fx.database_url());
    options.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(options)
        .await
        .expect("connecting to the server's database");
    let execs = executions(&db, &task).await;
    let mut per_instance: BTreeMap<i32, usize> = BTreeMap::new();
    for e in &execs {
        *per_instance.entry(e.instance_id).or_default() += 1;
    }
    assert_eq!(
        per_instance,
        (0..4).map(|i| (i, 1)).collect::<BTreeMap<_, _>>(),
        "each instance runs exactly once: {execs:?}"
    );
    assert!(execs.iter().all(|e| e.attempt == 1), "{execs:?}");
    assert!(
        execs
            .iter()
            .all(|e| e.outcome.as_deref() == Some("Succeeded") && e.ended_at.is_some()),
        "{execs:?}"
    );
    let rows = instance::Entity::find()
        .filter(instance::Column::TaskId.eq(parse_uuid(&task)))
        .all(&db)
        .await
        .expect("instances");
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|i| i.attempts == 1 && i.state == "Succeeded"),
        "{rows:?}"
    );
    let _ = db.close().await;

    // A clean stop ends every agent of this data directory.
    fx.stop_server().await;
    let dir = fx.data_dir.clone();
    wait_for(
        "every agent to exit after SIGTERM",
        Duration::from_secs(5),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_kills_of_the_server_during_2000_instances_run_each_exactly_once() {
    use hearth_server::entities::usage_interval;
    const INSTANCES: i32 = 2000;
    crate::helpers::init_logging();
    let mut fx = Fixture::new().await;
    let port = fx.start(1, "127.0.0.1:0").await;
    let token = std::fs::read_to_string(fx.data_dir.join("owner.token"))
        .expect("owner.token")
        .trim()
        .to_owned();
    let api = Api::new(port, &token);
    let mut body = pool_body("many", 16);
    body["multiSlotsSettings"] = serde_json::json!({"slotsPerNode": 16});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;
    let log = fx.data_dir.join("ran.log");
    let task = api
        .submit_task(&crate::helpers::task_body(
            "many",
            &pool,
            INSTANCES as u32,
            &format!("echo $INSTANCE_ID >> {}", log.display()),
        ))
        .await;

    for kill in 1..=3u32 {
        // Kill while the work is in full flow, each time further in.
        let wanted = kill as usize * INSTANCES as usize / 5;
        let api_ref = &api;
        let task_ref = task.as_str();
        wait_for(
            &format!("{wanted} instances done before kill {kill}"),
            Duration::from_secs(120),
            || async move {
                let t = api_ref.task(task_ref).await;
                // From the counters (the listed completed instances are capped).
                let progress = t["status"]["executionProgress"].as_f64().unwrap_or(0.0);
                let done = (progress * f64::from(INSTANCES) / 100.0).round() as usize;
                if done >= wanted || t["state"] == "Success" {
                    Ok(())
                } else {
                    Err(task_summary(&t))
                }
            },
        )
        .await;
        fx.kill_server();
        let again = fx.start(kill + 1, &format!("127.0.0.1:{port}")).await;
        assert_eq!(again, port);
    }
    let t = api
        .wait_task_finished(&task, Duration::from_secs(300))
        .await;
    assert_eq!(t["state"], "Success", "{}", task_summary(&t));
    fx.stop_server().await;

    let mut options = sea_orm::ConnectOptions::new(fx.database_url());
    options.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(options)
        .await
        .expect("connecting to the server's database");
    let rows = instance::Entity::find()
        .filter(instance::Column::TaskId.eq(parse_uuid(&task)))
        .all(&db)
        .await
        .expect("instances");
    assert_eq!(rows.len(), INSTANCES as usize);
    let mut runs: BTreeMap<i32, i32> = BTreeMap::new();
    for line in std::fs::read_to_string(&log).expect("the log").lines() {
        *runs
            .entry(line.trim().parse().expect("an instance id"))
            .or_default() += 1;
    }
    for row in &rows {
        assert_eq!(row.state, "Succeeded", "{row:?}");
        // A run the server counted as a retry may show twice; nothing else may.
        let ran = runs.get(&row.instance_id).copied().unwrap_or(0);
        assert_eq!(
            ran, row.attempts,
            "instance {} ran {ran} times for {} attempts",
            row.instance_id, row.attempts
        );
    }
    let double: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!("instances run twice (counted as retries): {}", double.len());

    // Metering: one interval per node, closed, never overlapping another of the same node.
    let intervals = usage_interval::Entity::find()
        .filter(usage_interval::Column::PoolId.eq(parse_uuid(&pool)))
        .all(&db)
        .await
        .expect("usage intervals");
    let mut per_node: BTreeMap<uuid::Uuid, Vec<_>> = BTreeMap::new();
    for i in &intervals {
        per_node.entry(i.node_id).or_default().push(i.clone());
    }
    assert!(!per_node.is_empty());
    for (node, list) in &per_node {
        assert_eq!(list.len(), 1, "node {node}: a gap or a split: {list:?}");
        let end = list[0].ended_at.expect("closed after a clean stop");
        assert!(end >= list[0].started_at, "{list:?}");
    }
    let _ = db.close().await;
}
