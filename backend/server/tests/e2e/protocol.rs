//! The agent protocol answered report by report: the node here is driven by the test itself
//! (the launcher starts a stand-in program that only hands over its node token), so that a
//! batch can carry what a real agent sends only in races: repeated and stale starts, a start
//! and an end of the same instance, a failure that takes a retry, unknown instances.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use uuid::Uuid;

use super::helpers::*;

/// A program standing in for `hearth agent`: it leaves the node token in the node directory
/// (the fifth argument) and sleeps, so the launcher sees a live process.
fn stand_in_agent(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("stand-in-agent");
    std::fs::write(
        &path,
        "#!/bin/sh\n\
         # arguments as for hearth: agent --server URL --node-dir DIR ...\n\
         mkdir -p \"$5\"\n\
         printf '%s' \"$HEARTH_NODE_TOKEN\" > \"$5/token.tmp\" && mv \"$5/token.tmp\" \"$5/token\"\n\
         exec sleep 300\n",
    )
    .expect("write the stand-in agent");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

struct HandNode {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl HandNode {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/agent/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("server reachable");
        let status = response.status().as_u16();
        let text = response.text().await.expect("answer body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn statuses(answer: &Value) -> Vec<u64> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_answered_report_by_report_and_refills_in_its_answer() {
    let (_tmp, app, pool, node) = hand_pool("hand").await;
    let api = &app.api;

    let mut body = task_body("hand-task", &pool, 3, "true");
    body["retrySettings"] = json!({"maxPerInstanceRetries": 1});
    let task = api.submit_task(&body).await;

    // The three instances reach the node's poll (dispatch runs beside the submit).
    let assigned = poll_assignments(&node, 3).await;
    let [a, b, c] = instance_uuids(&assigned);
    assert!(assigned.iter().all(|x| x["attempt"] == 1), "{assigned:?}");
    let stranger = Uuid::new_v4().to_string();

    let (status, answer) = node
        .post(
            "/report",
            &json!({"assignmentsInAnswer": true, "reports": [
                {"kind": "started", "instanceUuid": a, "attempt": 1},
                {"kind": "started", "instanceUuid": a, "attempt": 1},
                {"kind": "started", "instanceUuid": b, "attempt": 2},
                {"kind": "finished", "instanceUuid": a, "attempt": 1, "exitCode": 0,
                 "stdout": "out of a\n"},
                {"kind": "started", "instanceUuid": a, "attempt": 1},
                {"kind": "started", "instanceUuid": b, "attempt": 1},
                {"kind": "finished", "instanceUuid": b, "attempt": 1, "exitCode": 1},
                {"kind": "started", "instanceUuid": stranger},
                {"kind": "finished", "instanceUuid": stranger, "exitCode": 0},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "report: {answer}");
    assert_eq!(
        statuses(&answer),
        // start, repeated start, wrong attempt, end, start after the end, start, failure,
        // unknown start, unknown end
        vec![200, 200, 409, 200, 409, 200, 200, 409, 200],
        "{answer}"
    );
    // b failed with a retry left: queued again, and placed on this node's free slot in the
    // same round trip, as its second attempt.
    let refilled = answer["assignments"]
        .as_array()
        .expect("refill assignments");
    let b_again = refilled
        .iter()
        .find(|x| x["instanceUuid"] == b.as_str())
        .unwrap_or_else(|| panic!("b refilled in the answer: {answer}"));
    assert_eq!(b_again["attempt"], 2, "{b_again}");

    let rows = app.instances(&task).await;
    let row = |u: &str| rows.iter().find(|i| i.id.to_string() == u).expect("row");
    assert_eq!(
        (row(&a).state.as_str(), row(&a).attempts, row(&a).exit_code),
        ("Succeeded", 1, Some(0))
    );
    assert_eq!(row(&a).stdout, "out of a\n");
    assert_eq!((row(&b).state.as_str(), row(&b).attempts), ("Assigned", 1));
    assert_eq!(row(&c).state.as_str(), "Assigned");
    let executions = app.executions(&task).await;
    let of = |u: &str| {
        executions
            .iter()
            .filter(|e| e.instance_row_id.to_string() == u)
            .map(|e| {
                (
                    e.attempt,
                    e.outcome.clone(),
                    e.exit_code,
                    e.ended_at.is_some(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&a), vec![(1, Some("Succeeded".into()), Some(0), true)]);
    assert_eq!(of(&b), vec![(1, Some("retried".into()), Some(1), true)]);
    assert!(of(&c).is_empty());
    app.check_invariants().await;

    // The single routes, as an agent without `/report` uses them.
    for (uuid, attempt) in [(&b, 2), (&c, 1)] {
        let (status, answer) = node
            .post(
                &format!("/instances/{uuid}/started"),
                &json!({"attempt": attempt}),
            )
            .await;
        assert_eq!(status, 200, "started {uuid}: {answer}");
    }
    let (status, _) = node
        .post(&format!("/instances/{a}/started"), &json!({"attempt": 1}))
        .await;
    assert_eq!(status, 409, "a start of a finished instance is refused");
    for (uuid, attempt) in [(&b, 2), (&c, 1)] {
        let (status, answer) = node
            .post(
                &format!("/instances/{uuid}/finished"),
                &json!({"attempt": attempt, "exitCode": 0}),
            )
            .await;
        assert_eq!(status, 200, "finished {uuid}: {answer}");
    }
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{}", task_summary(&t));
    let rows = app.instances(&task).await;
    assert!(rows.iter().all(|i| i.state == "Succeeded"));
    assert_eq!(
        rows.iter().map(|i| (i.attempts - 1).max(0)).sum::<i32>(),
        1,
        "one retry taken"
    );

    // A batch past the limit is refused whole, naming the field.
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"kind": "started", "instanceUuid": Uuid::new_v4()}))
        .collect();
    let (status, answer) = node.post("/report", &json!({"reports": too_many})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("reports"), "{answer}");

    app.stop().await;
}

/// An application with one pool of one node (4 slots) that the test drives: the stand-in
/// agent's directory (to keep while the app runs), the app, the pool's uuid, the node.
async fn hand_pool(name: &str) -> (tempfile::TempDir, TestApp, String, HandNode) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with_agent(None, stand_in_agent(tmp.path())).await;
    let mut pool = pool_body(name, 1);
    pool["multiSlotsSettings"] = json!({"slotsPerNode": 4});
    let pool = app.api.create_pool(&pool).await;
    let node = registered_hand_node(&app).await;
    (tmp, app, pool, node)
}

/// The stand-in agent's node, registered by the test.
async fn registered_hand_node(app: &TestApp) -> HandNode {
    let nodes_dir = app.data_dir.join("nodes");
    let token = wait_for("the stand-in agent's node token", WAIT, || {
        let nodes_dir = nodes_dir.clone();
        async move {
            let found = std::fs::read_dir(&nodes_dir)
                .into_iter()
                .flatten()
                .flatten()
                .find_map(|e| std::fs::read_to_string(e.path().join("token")).ok());
            found.ok_or_else(|| "no token yet".to_owned())
        }
    })
    .await;
    let node = HandNode {
        base: app.api.base.clone(),
        token,
        http: reqwest::Client::new(),
    };
    let (status, _) = node.post("/register", &json!({"pid": 1})).await;
    assert_eq!(status, 200, "register");
    node
}

/// The instance uuids of three assignments, in order.
fn instance_uuids(assigned: &[Value]) -> [String; 3] {
    [0, 1, 2].map(|i| {
        assigned[i]["instanceUuid"]
            .as_str()
            .expect("uuid")
            .to_owned()
    })
}

/// Polls until `count` distinct assignments came, sorted by instance id.
async fn poll_assignments(node: &HandNode, count: usize) -> Vec<Value> {
    let mut assigned: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while assigned.len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "{count} assignments, got {assigned:?}"
        );
        let (status, answer) = node.post("/poll", &json!({"running": []})).await;
        assert_eq!(status, 200, "poll");
        for a in answer["assignments"].as_array().expect("assignments") {
            if !assigned
                .iter()
                .any(|b| b["instanceUuid"] == a["instanceUuid"])
            {
                assigned.push(a.clone());
            }
        }
    }
    assigned.sort_by_key(|a| a["instanceId"].as_u64());
    assigned
}

/// A task's total retry limit counts the retries granted and not started yet: two
/// instances failing before either retry starts (in one batch, or in two) take one retry
/// between them, not one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_retry_limit_counts_retries_granted_but_not_started() {
    let (_tmp, app, pool, node) = hand_pool("hand-retries").await;
    let api = &app.api;
    let mut body = task_body("capped", &pool, 3, "exit 1");
    body["retrySettings"] = json!({"maxPerInstanceRetries": 5, "maxTotalRetries": 1});
    let task = api.submit_task(&body).await;
    let assigned = poll_assignments(&node, 3).await;
    let [a, b, c] = instance_uuids(&assigned);
    let failed = |uuid: &str| {
        json!([
            {"kind": "started", "instanceUuid": uuid, "attempt": 1},
            {"kind": "finished", "instanceUuid": uuid, "attempt": 1, "exitCode": 1},
        ])
    };
    let batch = |reports: Vec<Value>| {
        let reports: Vec<Value> = reports
            .into_iter()
            .flat_map(|r| r.as_array().expect("reports").clone())
            .collect();
        json!({"reports": reports})
    };
    // a and b fail in one batch: only a is retried.
    let (status, answer) = node
        .post("/report", &batch(vec![failed(&a), failed(&b)]))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(statuses(&answer), vec![200, 200, 200, 200], "{answer}");
    // c fails while a's retry has not started: no retry is left for it.
    let (status, answer) = node.post("/report", &batch(vec![failed(&c)])).await;
    assert_eq!(status, 200, "{answer}");
    let rows = app.instances(&task).await;
    let state_of = |uuid: &str| {
        rows.iter()
            .find(|i| i.id.to_string() == uuid)
            .map(|i| i.state.clone())
            .expect("instance row")
    };
    assert!(
        ["Queued", "Assigned"].contains(&state_of(&a).as_str()),
        "a's retry: {rows:?}"
    );
    assert_eq!(state_of(&b), "Failed", "{rows:?}");
    assert_eq!(state_of(&c), "Failed", "{rows:?}");
    app.check_invariants().await;
    app.stop().await;
}
