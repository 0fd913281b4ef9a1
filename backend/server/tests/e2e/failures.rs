//! When things go wrong: failing commands and retries, aborting a running task, losing a
//! node in the middle of an instance.

use std::time::{Duration, Instant};

use hearth_server::entities::instance;
use serde_json::json;

use crate::helpers::{
    KILL_GRACE, TestApp, WAIT, node_summary, pool_body, process_exists, processes_of, send_signal,
    spawn_app, task_body, wait_for,
};

/// Waits until instance `id` of the task is Executing and returns its row.
async fn wait_executing(app: &TestApp, task: &str, id: i32) -> instance::Model {
    wait_for(
        &format!("instance {id} of {task} executing"),
        WAIT,
        || async {
            let rows = app.instances(task).await;
            match rows.iter().find(|i| i.instance_id == id) {
                Some(i) if i.state == "Executing" && i.node_id.is_some() => Ok(i.clone()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_instance_is_retried_then_fails_the_task() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("retries", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;

    // Per-instance limit: 1 attempt + 2 retries.
    let mut body = task_body("exit-1", &pool, 1, "exit 1");
    body["retrySettings"] = json!({"maxPerInstanceRetries": 2});
    let task = api.submit_task(&body).await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Failure", "{t}");
    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), 3, "1 attempt + 2 retries: {execs:?}");
    let attempts: Vec<i32> = execs.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3], "{execs:?}");
    assert!(execs.iter().all(|e| e.exit_code == Some(1)), "{execs:?}");
    let outcomes: Vec<Option<&str>> = execs.iter().map(|e| e.outcome.as_deref()).collect();
    assert_eq!(
        outcomes,
        vec![Some("retried"), Some("retried"), Some("Failed")],
        "{execs:?}"
    );
    let rows = app.instances(&task).await;
    assert_eq!(rows[0].attempts, 3, "{rows:?}");
    assert_eq!(rows[0].state, "Failed", "{rows:?}");
    let completed = t["completedInstances"]
        .as_array()
        .expect("completedInstances");
    assert_eq!(completed.len(), 1, "{t}");
    assert_eq!(completed[0]["executionAttemptCount"], 3, "{t}");
    assert_eq!(completed[0]["state"], "Failure", "{t}");
    assert_eq!(completed[0]["exitCode"], 1, "{t}");
    assert_eq!(t["status"]["failedRange"], "0", "{}", t["status"]);

    // Task-wide limit: two instances may retry 5 times each, but only once in total.
    let mut body = task_body("exit-1-capped", &pool, 2, "exit 1");
    body["retrySettings"] = json!({"maxPerInstanceRetries": 5, "maxTotalRetries": 1});
    let task = api.submit_task(&body).await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Failure", "{t}");
    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), 3, "2 attempts + 1 retry in total: {execs:?}");
    let rows = app.instances(&task).await;
    assert!(rows.iter().all(|i| i.state == "Failed"), "{rows:?}");
    assert_eq!(rows.iter().map(|i| i.attempts).sum::<i32>(), 3, "{rows:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_kills_the_running_process() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("abort", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;

    let task = api
        .submit_task(&task_body("long", &pool, 1, "echo $$ > pid; sleep 30"))
        .await;
    let inst = wait_executing(&app, &task, 0).await;
    let node = inst.node_id.expect("node of an executing instance");
    let job_dir = app.node_dir(node).join("job").join(&task);
    let pid_file = job_dir.join("pid");
    let pid: i32 = wait_for("the pid file", WAIT, || {
        let pid_file = pid_file.clone();
        async move {
            let text = std::fs::read_to_string(&pid_file).map_err(|e| e.to_string())?;
            text.trim()
                .parse::<i32>()
                .map_err(|e| format!("{text:?}: {e}"))
        }
    })
    .await;
    assert!(
        process_exists(pid),
        "the instance's shell {pid} is not running"
    );

    let asked = Instant::now();
    let aborted = api.post(&format!("/tasks/{task}/abort"), &json!({})).await;
    assert!(
        ["PendingCancel", "Cancelled"].contains(&aborted["state"].as_str().unwrap_or_default()),
        "{aborted}"
    );
    let t = api
        .wait_task_finished(&task, KILL_GRACE + Duration::from_secs(3))
        .await;
    let took = asked.elapsed();
    assert_eq!(t["state"], "Cancelled", "{t}");
    let rows = app.instances(&task).await;
    assert_eq!(rows[0].state, "Cancelled", "{rows:?}");

    wait_for(
        "the instance's processes to be gone",
        Duration::from_secs(3),
        || {
            let job_dir = job_dir.clone();
            async move {
                let left = processes_of(&job_dir);
                if !process_exists(pid) && left.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "pid {pid} alive: {}, in the job dir: {left:?}",
                        process_exists(pid)
                    ))
                }
            }
        },
    )
    .await;
    eprintln!("abort → Cancelled in {took:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_of_a_lost_node_runs_again_elsewhere() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("lost-node", 2)).await;
    api.wait_ready_nodes(&pool, 2).await;

    let mut body = task_body("survivor", &pool, 1, "sleep 2; echo done");
    body["retrySettings"] = json!({"maxPerInstanceRetries": 1});
    let task = api.submit_task(&body).await;
    let inst = wait_executing(&app, &task, 0).await;
    let lost = inst.node_id.expect("node");
    let row = app
        .node_rows(&pool)
        .await
        .into_iter()
        .find(|n| n.id == lost)
        .expect("node row");
    let pid = row.pid.expect("the node's agent pid");
    send_signal(pid, libc::SIGKILL);

    wait_for("the killed node to be Failed", WAIT, || async {
        let nodes = api.nodes(&pool).await;
        let state = nodes
            .iter()
            .find(|n| n["uuid"] == lost.to_string().as_str())
            .map(|n| n["state"].clone());
        if state.as_ref().is_some_and(|s| s == "Failed") {
            Ok(())
        } else {
            Err(node_summary(&nodes))
        }
    })
    .await;

    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), 2, "{execs:?}");
    assert_eq!(execs[0].node_id, lost, "{execs:?}");
    assert_eq!(execs[0].outcome.as_deref(), Some("lost"), "{execs:?}");
    assert_ne!(
        execs[1].node_id, lost,
        "ran again on the lost node: {execs:?}"
    );
    assert_eq!(execs[1].outcome.as_deref(), Some("Succeeded"), "{execs:?}");
    assert_eq!(execs[1].attempt, 2, "{execs:?}");
    let completed = t["completedInstances"]
        .as_array()
        .expect("completedInstances");
    assert_eq!(completed[0]["executionAttemptCount"], 2, "{t}");
    assert_eq!(api.stdout(&task, 0).await, "done\n");
    let node_rows = app.node_rows(&pool).await;
    let failed = node_rows.iter().find(|n| n.id == lost).expect("lost node");
    assert_eq!(failed.state, "Failed");
    assert!(failed.ended_at.is_some(), "{failed:?}");
    app.stop().await;
}
