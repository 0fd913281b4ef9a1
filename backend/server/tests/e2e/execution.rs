//! Tasks running on real nodes: output per instance, slot limits, multi-slot packing.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    WAIT, closed_intervals, max_overlap, parse_uuid, pool_body, spawn_app, task_body, task_summary,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_runs_once_on_each_of_four_nodes() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("four-nodes", 4)).await;
    let nodes = api.wait_ready_nodes(&pool, 4).await;
    assert!(nodes.iter().all(|n| n["slots"] == 1), "{nodes:?}");
    let p = api.wait_pool_state(&pool, "FullyExecuting").await;
    assert_eq!(p["totalSlotCapacity"], 4, "{p}");

    let task = api
        .submit_task(&task_body(
            "hello",
            &pool,
            4,
            r#"echo "Hello World from node ${INSTANCE_ID}""#,
        ))
        .await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    for i in 0..4 {
        let out = api.stdout(&task, i).await;
        assert_eq!(out, format!("Hello World from node {i}\n"), "instance {i}");
    }
    let completed = t["completedInstances"]
        .as_array()
        .expect("completedInstances");
    assert_eq!(completed.len(), 4, "{t}");
    let ids: BTreeSet<i64> = completed
        .iter()
        .map(|c| c["instanceId"].as_i64().expect("instanceId"))
        .collect();
    assert_eq!(ids, (0..4).collect(), "{completed:?}");
    assert!(
        completed.iter().all(|c| c["state"] == "Success"),
        "{completed:?}"
    );
    assert_eq!(t["status"]["succeededRange"], "0-3", "{}", t["status"]);
    assert_eq!(t["status"]["executedRange"], "0-3", "{}", t["status"]);
    assert_eq!(t["status"]["failedRange"], "", "{}", t["status"]);

    // One execution per instance, on four distinct nodes of the pool (one slot each).
    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), 4, "{execs:?}");
    let pool_nodes: HashSet<Uuid> = app.node_rows(&pool).await.iter().map(|n| n.id).collect();
    assert!(execs.iter().all(|e| pool_nodes.contains(&e.node_id)));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_instances_never_use_more_than_the_four_slots() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("four-slots", 4)).await;
    api.wait_ready_nodes(&pool, 4).await;

    let task = api
        .submit_task(&task_body("sixteen", &pool, 16, "sleep 0.3"))
        .await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    assert_eq!(t["status"]["succeededRange"], "0-15", "{}", t["status"]);
    assert_eq!(
        t["completedInstances"].as_array().map(Vec::len),
        Some(16),
        "{t}"
    );

    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), 16, "one execution per instance: {execs:?}");
    let ids: BTreeSet<i32> = execs.iter().map(|e| e.instance_id).collect();
    assert_eq!(ids, (0..16).collect());
    assert!(
        execs
            .iter()
            .all(|e| e.outcome.as_deref() == Some("Succeeded")),
        "{execs:?}"
    );
    let overlap = max_overlap(&closed_intervals(&execs));
    assert!(overlap <= 4, "{overlap} instances ran at once on 4 slots");
    assert!(
        overlap >= 2,
        "the 4 slots were not used in parallel: {overlap}"
    );
    let pool_nodes: HashSet<Uuid> = app.node_rows(&pool).await.iter().map(|n| n.id).collect();
    for e in &execs {
        assert!(
            pool_nodes.contains(&e.node_id),
            "execution on node {} outside the pool",
            e.node_id
        );
    }
    // Per node, never more than its single slot.
    let mut per_node: BTreeMap<Uuid, Vec<_>> = BTreeMap::new();
    for e in &execs {
        per_node.entry(e.node_id).or_default().push(e.clone());
    }
    for (node, list) in per_node {
        assert_eq!(
            max_overlap(&closed_intervals(&list)),
            1,
            "node {node} ran two instances at once"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_slot_nodes_run_in_parallel_and_pack_work() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let mut body = pool_body("multi-slot", 8);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 4});
    let pool = api.create_pool(&body).await;
    let nodes = api.wait_ready_nodes(&pool, 2).await;
    assert!(nodes.iter().all(|n| n["slots"] == 4), "{nodes:?}");
    let p = api.wait_pool_state(&pool, "FullyExecuting").await;
    assert_eq!(p["totalSlotCapacity"], 8, "{p}");

    // Eight instances of one second: all eight slots at once.
    let wide = api
        .submit_task(&task_body("eight", &pool, 8, "sleep 1"))
        .await;
    let t = api.wait_task_finished(&wide, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    let execs = app.executions(&wide).await;
    assert_eq!(execs.len(), 8, "{execs:?}");
    assert_eq!(
        max_overlap(&closed_intervals(&execs)),
        8,
        "8 slots should run 8 instances at once: {execs:?}"
    );
    check_distinct_slots(&execs);

    // With the pool idle, five instances are packed onto the fewest nodes: 4 + 1.
    let packed = api
        .submit_task(&task_body("five", &pool, 5, "sleep 0.5"))
        .await;
    let t = api.wait_task_finished(&packed, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    let execs = app.executions(&packed).await;
    assert_eq!(execs.len(), 5, "{execs:?}");
    let mut per_node: BTreeMap<Uuid, usize> = BTreeMap::new();
    for e in &execs {
        *per_node.entry(e.node_id).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_node.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        vec![1, 4],
        "5 instances on 2 idle nodes of 4 slots should be packed 4 + 1: {per_node:?}"
    );
    check_distinct_slots(&execs);
    let pool_id = parse_uuid(&pool);
    assert!(execs.iter().all(|e| e.pool_id == pool_id));
    app.stop().await;
}

/// Instances running at the same time on one node use distinct slot indices within it.
fn check_distinct_slots(execs: &[hearth_server::entities::instance_execution::Model]) {
    let mut per_node: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
    for e in execs {
        per_node.entry(e.node_id).or_default().push(e.slot_index);
    }
    for (node, slots) in per_node {
        let distinct: BTreeSet<i32> = slots.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            slots.len(),
            "node {node} reused a slot index: {slots:?}"
        );
        assert!(
            slots.iter().all(|s| (0..4).contains(s)),
            "slot index out of 0..4 on node {node}: {slots:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_task_answer_lists_a_bounded_number_of_completed_instances() {
    const INSTANCES: u32 = 1005;
    let app = spawn_app(None).await;
    let api = &app.api;
    let mut body = pool_body("large", 16);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 16});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;
    let task = api
        .submit_task(&task_body("large", &pool, INSTANCES, "true"))
        .await;
    let t = api
        .wait_task_finished(&task, std::time::Duration::from_secs(120))
        .await;
    assert_eq!(t["state"], "Success", "{}", t["status"]);
    let listed = t["completedInstances"]
        .as_array()
        .expect("completedInstances");
    assert_eq!(listed.len(), 1000, "the list is capped");
    assert_eq!(t["completedInstancesTruncated"], true);
    // The first by instance id, and the ranges and progress still cover every instance.
    assert_eq!(listed[0]["instanceId"], 0);
    assert_eq!(listed[999]["instanceId"], 999);
    assert_eq!(
        t["status"]["succeededRange"],
        format!("0-{}", INSTANCES - 1)
    );
    assert_eq!(t["status"]["executionProgress"], 100.0);
    app.stop().await;
}

/// An instance runs with its profile's constants, overridden by its pool's, then its task's.
/// The server keeps what a pool's tasks inherit in memory: a change of the pool's constants
/// or of its profile's must reach the next instances all the same.
#[tokio::test]
async fn a_changed_pool_or_profile_constant_reaches_the_next_instances() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let operator = api.as_token(
        std::fs::read_to_string(app.data_dir.join("operator.token"))
            .expect("operator token")
            .trim(),
    );
    let mut body = pool_body("constants", 1);
    body["constants"] = json!([{"key": "WORD", "value": "pool-one"}]);
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;
    let words = async |name: &str| {
        let task = api
            .submit_task(&task_body(name, &pool, 1, "echo \"$WORD/$SHADE\""))
            .await;
        let t = api.wait_task_finished(&task, WAIT).await;
        assert_eq!(t["state"], "Success", "{t}");
        api.stdout(&task, 0).await.trim().to_owned()
    };
    assert_eq!(words("first").await, "pool-one/");

    body["constants"] = json!([{"key": "WORD", "value": "pool-two"}]);
    api.put(&format!("/pools/{pool}"), &body).await;
    assert_eq!(words("after-pool-change").await, "pool-two/");

    let mut profile = operator.get("/profiles/docker-batch").await;
    let mut constants = profile["constants"].as_array().cloned().unwrap_or_default();
    constants.push(json!({"name": "SHADE", "value": "profile-one"}));
    profile["constants"] = json!(constants);
    operator.put("/profiles/docker-batch", &profile).await;
    assert_eq!(words("after-profile-change").await, "pool-two/profile-one");
    app.stop().await;
}

/// A task submitted to a warm pool is placed by its own submit, and the node's waiting poll
/// answers the assignment the dispatcher built: the path that keeps submit → start short.
/// Each round checks what the instance saw, so a handed assignment is a complete one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_poll_is_handed_the_work_its_submit_placed() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("handed", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;
    api.wait_pool_state(&pool, "FullyExecuting").await;
    for round in 0..3 {
        let task = api
            .submit_task(&task_body(
                &format!("handed-{round}"),
                &pool,
                1,
                r#"echo "$INSTANCE_ID $INSTANCE_COUNT $TASK_UUID""#,
            ))
            .await;
        let t = api.wait_task_finished(&task, WAIT).await;
        assert_eq!(t["state"], "Success", "round {round}: {t}");
        assert_eq!(api.stdout(&task, 0).await, format!("0 1 {task}\n"));
    }
    // A poll may be between two calls when a submit lands (it then reads its work back):
    // at least one of three rounds finds it waiting.
    let handed = app.state.metrics.assignments_handed.get();
    assert!(handed >= 1, "no assignment was handed over in 3 rounds");
    app.check_invariants().await;
    app.stop().await;
}

/// Lines of a file the instances append their `INSTANCE_ID` to, as numbers, sorted.
fn ran_ids(log: &std::path::Path) -> Vec<u32> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut ids: Vec<u32> = text
        .lines()
        .map(|l| l.trim().parse().expect("an instance id per line"))
        .collect();
    ids.sort_unstable();
    ids
}

/// A pool of one node × 2 slots that has just run short instances, so that the server
/// queues further short ones behind its busy slots.
async fn pool_known_for_short_instances(app: &crate::helpers::TestApp, name: &str) -> String {
    let api = &app.api;
    let mut body = pool_body(name, 1);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 2});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;
    api.wait_pool_state(&pool, "FullyExecuting").await;
    let warm = api.submit_task(&task_body("warm", &pool, 8, "true")).await;
    let t = api.wait_task_finished(&warm, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    pool
}

/// Short instances are queued behind the busy slots of their node, so that the next one
/// starts the moment a slot frees, without a round trip; each still runs exactly once, and
/// the executions of one slot never overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_instances_wait_behind_busy_slots_and_each_runs_once() {
    const INSTANCES: u32 = 120;
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = pool_known_for_short_instances(&app, "behind").await;
    let log = app.data_dir.join("ran.log");
    let cmd = format!("echo $INSTANCE_ID >> {}", log.display());
    let task = api
        .submit_task(&task_body("burst", &pool, INSTANCES, &cmd))
        .await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    assert!(
        app.state.metrics.instances_queued_behind.get() > 0,
        "no instance was queued behind a busy slot"
    );
    assert_eq!(ran_ids(&log), (0..INSTANCES).collect::<Vec<_>>());
    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), INSTANCES as usize);
    let mut per_slot: BTreeMap<(Uuid, i32), Vec<_>> = BTreeMap::new();
    for e in &execs {
        assert!((0..2).contains(&e.slot_index), "slot out of 0..2: {e:?}");
        per_slot
            .entry((e.node_id, e.slot_index))
            .or_default()
            .push(e.clone());
    }
    for (slot, list) in &per_slot {
        // At most one at a time (a start and an end in one batch make an empty interval).
        assert!(
            max_overlap(&closed_intervals(list)) <= 1,
            "two executions overlap on slot {slot:?}: {list:?}"
        );
    }
    // The node's busy slots never count the instances waiting behind them.
    let nodes = api.nodes(&pool).await;
    assert!(nodes.iter().all(|n| n["busySlots"] == 0), "{nodes:?}");
    app.stop().await;
}

/// An instance aborted while it waits behind its slot never starts: only those that held
/// slots ran, and the task ends Cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_aborted_while_it_waits_behind_its_slot_never_starts() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = pool_known_for_short_instances(&app, "behind-abort").await;
    let before = app.state.metrics.instances_queued_behind.get();
    let log = app.data_dir.join("ran.log");
    let cmd = format!("echo $INSTANCE_ID >> {}; sleep 30", log.display());
    let task = api.submit_task(&task_body("long", &pool, 4, &cmd)).await;
    crate::helpers::wait_for("2 instances running, 2 waiting", WAIT, || async {
        let running = app
            .instances(&task)
            .await
            .iter()
            .filter(|i| i.state == "Executing")
            .count();
        let ran = ran_ids(&log).len();
        if running == 2 && ran == 2 {
            Ok(())
        } else {
            Err(format!("{running} running, {ran} started"))
        }
    })
    .await;
    assert_eq!(
        app.state.metrics.instances_queued_behind.get() - before,
        2,
        "the 2 instances without a free slot should wait behind the busy ones"
    );
    let (status, answer) = api
        .call(reqwest::Method::POST, &format!("/tasks/{task}/abort"), None)
        .await
        .expect("abort");
    assert_eq!(status, 200, "{answer}");
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Cancelled", "{t}");
    let instances = app.instances(&task).await;
    assert!(
        instances.iter().all(|i| i.state == "Cancelled"),
        "{instances:?}"
    );
    assert_eq!(ran_ids(&log).len(), 2, "a waiting instance was started");
    assert_eq!(app.executions(&task).await.len(), 2);
    app.stop().await;
}

/// A task waiting on another starts when that one ends, not at the pool's next scaling
/// evaluation (90 s by default): the batch that reports the end settles the dependencies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_task_starts_as_soon_as_its_dependency_ends() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("deps", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;
    let first = api
        .submit_task(&task_body("first", &pool, 1, "sleep 0.3"))
        .await;
    let mut second = task_body("second", &pool, 1, "true");
    second["dependencies"] = json!({"dependsOn": [first]});
    let second = api.submit_task(&second).await;
    // 30 s: far below the resize period, the only other moment dependencies are settled.
    let done = api
        .wait_task_finished(&second, std::time::Duration::from_secs(30))
        .await;
    assert_eq!(done["state"], "Success", "{}", task_summary(&done));
    assert_eq!(api.task(&first).await["state"], "Success");
    app.stop().await;
}
