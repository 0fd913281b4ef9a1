//! The change feed, followed while a real pool runs a real task: each committed change is
//! announced once, in order, for its own tenant.

use std::time::Duration;

use hearth_server::feed::{Change, Event};
use serde_json::json;
use tokio::sync::broadcast::error::TryRecvError;

use super::helpers::*;

/// Everything announced so far, in order (fails on a lagged receiver: nothing may be lost
/// in a test this small).
fn drain(rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>, into: &mut Vec<Event>) {
    loop {
        match rx.try_recv() {
            Ok(e) => into.push((*e).clone()),
            Err(TryRecvError::Empty) => return,
            Err(e) => panic!("feed receive: {e:?}"),
        }
    }
}

/// Drains the feed into `events` until one of them is `wanted`.
async fn follow_until(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>,
    events: &mut Vec<Event>,
    what: &str,
    wanted: impl Fn(&Change) -> bool,
) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        drain(rx, events);
        if events.iter().any(|e| wanted(&e.change)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never came on the feed: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_run_is_announced_once_change_by_change() {
    let app = spawn_app(None).await;
    let mut rx = app.state.feed.subscribe();
    let api = &app.api;
    let mut body = pool_body("followed", 1);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 2});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;
    let task = api
        .submit_task(&task_body("followed-task", &pool, 5, "true"))
        .await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{}", task_summary(&t));

    let task_id = parse_uuid(&task);
    let pool_id = parse_uuid(&pool);
    let mut events: Vec<Event> = Vec::new();
    // The last announcement follows its commit, which the API may show a moment before.
    let task_done = |c: &Change| {
        matches!(c, Change::TaskProgress { task, state, .. }
            if *task == task_id && state == "Success")
    };
    follow_until(&mut rx, &mut events, "the task's Success", task_done).await;
    api.post(&format!("/pools/{pool}/close"), &json!({})).await;
    api.wait_pool_state(&pool, "Closed").await;
    let pool_closed = |c: &Change| matches!(c, Change::Pool { pool, state, .. } if *pool == pool_id && state == "Closed");
    follow_until(&mut rx, &mut events, "the pool's Closed", pool_closed).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drain(&mut rx, &mut events);

    assert!(
        events.windows(2).all(|w| w[0].seq < w[1].seq),
        "sequence numbers increase"
    );
    let tenant = events[0].tenant;
    assert!(events.iter().all(|e| e.tenant == tenant), "one tenant here");

    // Each instance's end, once, all succeeded.
    let mut ended: Vec<(i32, String)> = events
        .iter()
        .filter_map(|e| match &e.change {
            Change::InstanceEnded {
                task,
                instance_id,
                outcome,
                ..
            } if *task == task_id => Some((*instance_id, outcome.clone())),
            _ => None,
        })
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        (0..5)
            .map(|i| (i, "Succeeded".to_owned()))
            .collect::<Vec<_>>()
    );

    // The task's progress: first as its submit left it (placed on the free slots in the
    // same transaction, the rest queued), counts that always add up to 5, ending in Success
    // with 5 succeeded; no change announced twice in a row.
    let progress: Vec<&Change> = events
        .iter()
        .map(|e| &e.change)
        .filter(|c| matches!(c, Change::TaskProgress { task, .. } if *task == task_id))
        .collect();
    match progress.first() {
        Some(Change::TaskProgress {
            state,
            queued,
            assigned,
            ..
        }) => {
            let expected = match *assigned {
                0 => "Submitted",
                5 => "FullyDispatched",
                _ => "PartiallyDispatched",
            };
            assert_eq!((state.as_str(), queued + assigned), (expected, 5))
        }
        other => panic!("first progress: {other:?}"),
    }
    for c in &progress {
        if let Change::TaskProgress {
            queued,
            assigned,
            executing,
            succeeded,
            failed,
            cancelled,
            ..
        } = c
        {
            assert_eq!(
                queued + assigned + executing + succeeded + failed + cancelled,
                5,
                "{c:?}"
            );
        }
    }
    match progress.last() {
        Some(Change::TaskProgress {
            state, succeeded, ..
        }) => assert_eq!((state.as_str(), *succeeded), ("Success", 5)),
        other => panic!("last progress: {other:?}"),
    }

    // The node's life and the pool's, in order.
    let node_states: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.change {
            Change::Node { pool, state, .. } if *pool == pool_id => Some(state.as_str()),
            _ => None,
        })
        .collect();
    // An agent quick to register makes its node Ready before the launcher's Booting write
    // lands (that write moves a node only from Requested): then no Booting is announced,
    // since the node never was.
    let lived = match node_states.first() {
        Some(&"Booting") => vec!["Booting", "Ready", "Terminated"],
        _ => vec!["Ready", "Terminated"],
    };
    assert_eq!(node_states, lived);
    let pool_states: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.change {
            Change::Pool { pool, state, .. } if *pool == pool_id => Some(state.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(pool_states.first(), Some(&"Submitted"), "{pool_states:?}");
    assert!(pool_states.contains(&"FullyExecuting"), "{pool_states:?}");
    assert_eq!(pool_states.last(), Some(&"Closed"), "{pool_states:?}");
    assert!(
        events.iter().any(|e| matches!(&e.change,
            Change::Decision { pool, action, .. } if *pool == pool_id && action == "grow 1")),
        "the growth to one node is announced"
    );
    app.stop().await;
}
