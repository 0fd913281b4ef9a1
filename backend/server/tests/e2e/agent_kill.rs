//! An agent SIGKILLed in the middle of a task, again and again: what it ran dies with it
//! (no process of the node outlives it), so no instance runs twice at the same time or
//! completes twice; the task always ends (Success when it has retries), an abort always
//! ends Cancelled, and no execution interval ends before it starts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    TestApp, WAIT, node_summary, pool_body, send_signal, spawn_app, task_body, wait_for,
};

const RUNS: usize = 10;
const INSTANCES: u32 = 12;

/// Live processes whose environment says they run on `node` (what the agent gives every
/// instance), outside this test process.
fn processes_of_node(node: Uuid) -> Vec<i32> {
    let marker = format!("NODE_UUID={node}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .collect()
}

/// The lines instances wrote: `start <id> <pid>` and `end <id> <pid>`.
fn log_lines(path: &Path) -> Vec<(String, i32, i32)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((
                parts.next()?.to_owned(),
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
            ))
        })
        .collect()
}

async fn node_of_an_executing_instance(app: &TestApp, task: &str) -> Uuid {
    wait_for("an instance executing", WAIT, || async {
        app.instances(task)
            .await
            .iter()
            .find(|i| i.state == "Executing")
            .and_then(|i| i.node_id)
            .ok_or_else(|| "none yet".to_owned())
    })
    .await
}

async fn wait_node_failed(app: &TestApp, pool: &str, node: Uuid) {
    wait_for("the killed node to be Failed", WAIT, || async {
        let nodes = app.api.nodes(pool).await;
        let failed = nodes
            .iter()
            .any(|n| n["uuid"] == node.to_string().as_str() && n["state"] == "Failed");
        if failed {
            Ok(())
        } else {
            Err(node_summary(&nodes))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_takes_its_instances_with_it_every_time() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let mut body = pool_body("kill-agents", 4);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 2});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 2).await;

    for run in 0..RUNS {
        // Even runs have retries (must succeed), odd ones none; every third run is aborted.
        let retries = run % 2 == 0;
        let abort = run % 3 == 2;
        let log = app.data_dir.join(format!("run-{run}.log"));
        let cmd = format!(
            "echo start $INSTANCE_ID $$ >> {log}; sleep 0.4; echo end $INSTANCE_ID $$ >> {log}",
            log = log.display()
        );
        let mut body = task_body(&format!("run-{run}"), &pool, INSTANCES, &cmd);
        if retries {
            body["retrySettings"] = json!({"maxPerInstanceRetries": 3});
        }
        let task = api.submit_task(&body).await;
        let victim = node_of_an_executing_instance(&app, &task).await;
        let row = app
            .node_rows(&pool)
            .await
            .into_iter()
            .find(|n| n.id == victim)
            .expect("node row");
        send_signal(row.pid.expect("agent pid"), libc::SIGKILL);
        wait_node_failed(&app, &pool, victim).await;
        let left = processes_of_node(victim);
        assert!(
            left.is_empty(),
            "run {run}: processes of the Failed node {victim} still run: {left:?}"
        );
        if abort {
            api.call(reqwest::Method::POST, &format!("/tasks/{task}/abort"), None)
                .await
                .expect("abort");
        }
        let started = Instant::now();
        let t = api.wait_task_finished(&task, WAIT).await;
        let expected: &[&str] = match (abort, retries) {
            (true, _) => &["Cancelled"],
            (false, true) => &["Success"],
            (false, false) => &["Success", "Failure"],
        };
        assert!(
            expected.contains(&t["state"].as_str().unwrap_or_default()),
            "run {run} (retries {retries}, abort {abort}) ended {} after {:?}: {t}",
            t["state"],
            started.elapsed()
        );

        // Give a process that escaped the kill the time to write its end line.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let mut ends: BTreeMap<i32, usize> = BTreeMap::new();
        for (what, id, _) in log_lines(&log) {
            if what == "end" {
                *ends.entry(id).or_default() += 1;
            }
        }
        assert!(
            ends.values().all(|n| *n <= 1),
            "run {run}: an instance completed twice: {ends:?}"
        );
        if !abort && retries {
            assert_eq!(
                ends.len(),
                INSTANCES as usize,
                "run {run}: every instance completes once: {ends:?}"
            );
        }
        app.check_invariants().await;
        // The pool replaces the node before the next run.
        api.wait_ready_nodes(&pool, 2).await;
    }
    app.stop().await;
}
