//! Scaling on real nodes, driven by a `ManualClock`: an elastic pool following its queue,
//! the ramp factor, and weekly periods.

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use hearth_core::clock::ManualClock;
use serde_json::{Value, json};

use crate::helpers::{
    Api, WAIT, is_live_node, node_summary, pool_body, spawn_app, task_body, wait_for,
};

fn elastic_body(name: &str, max: u32, ramp: f64) -> Value {
    let mut body = pool_body(name, 0);
    body["elasticProperty"] = json!({
        "isElastic": true,
        "minTotalSlots": 0,
        "maxTotalSlots": max,
        "minIdleSlots": 0,
        "resizePeriod": 1,
        "rampResizeFactor": ramp,
        "minIdleTimeSeconds": 2,
    });
    body
}

/// Waits for the evaluation the resize loop makes when a pool is created, so that the
/// test's own resizes are the only evaluations that follow (the clock is frozen).
async fn wait_first_evaluation(api: &Api, pool: &str) {
    wait_for("the pool's first evaluation", WAIT, || async move {
        let decisions = api.decisions(pool).await;
        let p = api.pool(pool).await;
        if !decisions.is_empty() && p["state"] == "FullyExecuting" {
            Ok(())
        } else {
            Err(format!("state {}, decisions {decisions:?}", p["state"]))
        }
    })
    .await;
}

/// Waits for the newest decision of a pool to have `action`, and returns it.
async fn wait_decision(api: &Api, pool: &str, wanted: &str) -> Value {
    wait_for(&format!("a '{wanted}' decision"), WAIT, || async move {
        let decisions = api.decisions(pool).await;
        match decisions.first() {
            Some(d) if action(d) == wanted => Ok(d.clone()),
            _ => Err(format!(
                "{:?}",
                decisions.iter().map(action).collect::<Vec<_>>()
            )),
        }
    })
    .await
}

/// Waits for the pool to have exactly `count` nodes, every one of them Terminated.
async fn wait_all_terminated(api: &Api, pool: &str, count: usize) {
    wait_for(&format!("{count} nodes Terminated"), WAIT, || async move {
        let nodes = api.nodes(pool).await;
        if nodes.len() == count && nodes.iter().all(|n| n["state"] == "Terminated") {
            Ok(())
        } else {
            Err(node_summary(&nodes))
        }
    })
    .await;
}

fn clamp_kinds(decision: &Value) -> Vec<String> {
    decision["clamps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn action(decision: &Value) -> &str {
    decision["action"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elastic_pool_grows_for_its_queue_then_shrinks_after_the_idle_time() {
    let t0 = Utc.with_ymd_and_hms(2024, 3, 4, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    let pool = api.create_pool(&elastic_body("elastic", 5, 1.0)).await;
    wait_first_evaluation(api, &pool).await;
    let p = api.pool(&pool).await;
    assert_eq!(
        p["totalSlotCapacity"], 0,
        "an empty queue needs no slot: {p}"
    );

    // Five queued instances and no free slot: the pool grows to five nodes at once, on
    // demand, without waiting for its period (the clock does not move), and runs them.
    clock.advance(TimeDelta::milliseconds(100));
    let task = api
        .submit_task(&task_body("five", &pool, 5, "sleep 0.5"))
        .await;
    let grow = wait_decision(api, &pool, "grow 5").await;
    assert!(
        grow["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("on demand"),
        "{grow}"
    );
    assert_eq!(grow["targetSlots"], 5, "{grow}");
    assert_eq!(grow["wantedSlots"], 5, "{grow}");
    assert!(
        !grow["reason"].as_str().unwrap_or_default().is_empty(),
        "{grow}"
    );
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    api.wait_ready_nodes(&pool, 5).await;
    let p = api.wait_pool_state(&pool, "FullyExecuting").await;
    assert_eq!(p["totalSlotCapacity"], 5, "{p}");

    // Idle, but not for minIdleTimeSeconds yet: the nodes stay.
    clock.advance(TimeDelta::milliseconds(100));
    let hold = api.resize(&pool).await;
    assert_eq!(action(&hold), "hold", "{hold}");
    assert_eq!(hold["wantedSlots"], 0, "{hold}");
    assert_eq!(hold["targetSlots"], 5, "{hold}");
    assert!(
        clamp_kinds(&hold).iter().any(|k| k == "IdleTimeNotElapsed"),
        "the decision should say the idle time has not elapsed: {hold}"
    );
    assert!(
        !hold["reason"].as_str().unwrap_or_default().is_empty(),
        "{hold}"
    );
    let nodes = api.nodes(&pool).await;
    assert_eq!(
        nodes.iter().filter(|n| n["state"] == "Ready").count(),
        5,
        "{}",
        node_summary(&nodes)
    );

    // Two seconds later they have been idle long enough: the pool shrinks to zero. (The
    // resize loop may notice the moved clock first; then this evaluation holds.)
    clock.advance(TimeDelta::seconds(2));
    let last = api.resize(&pool).await;
    assert!(
        action(&last) == "shrink 5" || action(&last) == "hold",
        "{last}"
    );
    assert_eq!(last["targetSlots"], 0, "{last}");
    wait_all_terminated(api, &pool, 5).await;
    let p = api.wait_pool_state(&pool, "FullyExecuting").await;
    assert_eq!(p["totalSlotCapacity"], 0, "{p}");

    // The decisions explain each step, oldest first: hold (empty), grow, hold, shrink.
    let mut decisions = api.decisions(&pool).await;
    decisions.reverse();
    for d in &decisions {
        assert!(
            !d["reason"].as_str().unwrap_or_default().trim().is_empty(),
            "decision without a reason: {d}"
        );
    }
    let actions: Vec<&str> = decisions.iter().map(action).collect();
    assert_eq!(actions.first(), Some(&"hold"), "{actions:?}");
    let grow_at = actions
        .iter()
        .position(|a| *a == "grow 5")
        .unwrap_or_else(|| panic!("no grow in {actions:?}"));
    let hold_at = actions[grow_at..]
        .iter()
        .position(|a| *a == "hold")
        .map(|i| i + grow_at)
        .unwrap_or_else(|| panic!("no hold after the grow in {actions:?}"));
    assert!(
        actions[hold_at..].contains(&"shrink 5"),
        "no shrink after the hold in {actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("grow")).count(),
        1,
        "{actions:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_factor_limits_growth_per_evaluation() {
    let t0 = Utc.with_ymd_and_hms(2024, 3, 4, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    let pool = api.create_pool(&elastic_body("ramp", 5, 0.4)).await;
    wait_first_evaluation(api, &pool).await;

    let task = api
        .submit_task(&task_body("five", &pool, 5, "sleep 2"))
        .await;
    // The clock does not move. The work asks for growth at once (on demand), then each
    // resize is one more evaluation of the same instant.
    let first = wait_decision(api, &pool, "grow 2").await;
    assert_eq!(first["targetSlots"], 2, "{first}");
    let mut seen = vec![first];
    for (step, (nodes, target)) in [(2, 4), (1, 5)].into_iter().enumerate() {
        let d = api.resize(&pool).await;
        assert_eq!(action(&d), format!("grow {nodes}"), "step {step}: {d}");
        assert_eq!(d["targetSlots"], target, "step {step}: {d}");
        assert_eq!(d["wantedSlots"], 5, "step {step}: {d}");
        seen.push(d);
    }
    assert!(
        clamp_kinds(&seen[0]).iter().any(|k| k == "RampLimited"),
        "the first growth is limited by the ramp factor: {}",
        seen[0]
    );
    let fourth = api.resize(&pool).await;
    assert_eq!(action(&fourth), "hold", "{fourth}");
    let nodes = api.nodes(&pool).await;
    assert_eq!(
        nodes.iter().filter(|n| is_live_node(n)).count(),
        5,
        "{}",
        node_summary(&nodes)
    );
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_period_switches_policy_at_the_window_end() {
    let before_end = Utc.with_ymd_and_hms(2024, 1, 1, 17, 59, 59).unwrap(); // a Monday
    let clock = ManualClock::new(before_end);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    let mut body = pool_body("office", 2);
    body["scaling"] = json!({"policies": [
        {"type": "Fixed", "name": "office", "slotsCount": 2,
         "enabledPeriods": [{"type": "Weekly", "name": "monday-office", "days": ["monday"],
                             "startTimeUtc": "08:00:00", "endTimeUtc": "18:00:00"}]},
        {"type": "Fixed", "name": "night", "slotsCount": 0,
         "enabledPeriods": [{"type": "Always"}]}
    ]});
    let pool = api.create_pool(&body).await;

    let d = api.resize(&pool).await;
    assert_eq!(d["activePolicyName"], "office", "{d}");
    assert_eq!(d["activePeriodName"], "monday-office", "{d}");
    assert_eq!(d["targetSlots"], 2, "{d}");
    // The loop's first evaluation may have launched the nodes already.
    assert!(action(&d) == "grow 2" || action(&d) == "hold", "{d}");
    api.wait_ready_nodes(&pool, 2).await;
    let p = api.wait_pool_state(&pool, "FullyExecuting").await;
    assert_eq!(p["scaling"]["activePolicyName"], "office", "{p}");
    assert_eq!(p["totalSlotCapacity"], 2, "{p}");

    // The window's end is exclusive: at 18:00:00 the night policy holds no node.
    clock.set(Utc.with_ymd_and_hms(2024, 1, 1, 18, 0, 0).unwrap());
    let d = api.resize(&pool).await;
    assert_eq!(d["activePolicyName"], "night", "{d}");
    assert_eq!(d["targetSlots"], 0, "{d}");
    assert_eq!(action(&d), "shrink 2", "{d}");
    wait_all_terminated(api, &pool, 2).await;
    let p = api.wait_pool_state(&pool, "FullyExecuting").await;
    assert_eq!(p["scaling"]["activePolicyName"], "night", "{p}");
    assert_eq!(p["totalSlotCapacity"], 0, "{p}");
    let listed = api.get("/pools").await;
    let entry = listed
        .as_array()
        .expect("pools array")
        .iter()
        .find(|x| x["uuid"] == pool.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("pool missing from GET /pools: {listed}"));
    assert_eq!(entry["scaling"]["activePolicyName"], "night", "{entry}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_grows_an_empty_pool_at_once_then_one_step_per_period() {
    let t0 = Utc.with_ymd_and_hms(2024, 3, 4, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    let mut body = elastic_body("on-demand", 4, 1.0);
    body["elasticProperty"]["resizePeriod"] = json!(90);
    let pool = api.create_pool(&body).await;
    wait_first_evaluation(api, &pool).await;

    // The clock never moves here: without growth on demand this would wait 90 s.
    let first = api
        .submit_task(&task_body("first", &pool, 1, "sleep 6"))
        .await;
    let grow = wait_decision(api, &pool, "grow 1").await;
    assert!(
        grow["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("on demand"),
        "the decision says growth on demand applied: {grow}"
    );
    api.wait_ready_nodes(&pool, 1).await;

    // A second burst within the same period: no second growth step before the period ends.
    let second = api
        .submit_task(&task_body("second", &pool, 2, "sleep 0.2"))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let nodes = api.nodes(&pool).await;
    assert_eq!(
        nodes.iter().filter(|n| is_live_node(n)).count(),
        1,
        "one growth step per period: {}",
        node_summary(&nodes)
    );
    let actions: Vec<String> = api
        .decisions(&pool)
        .await
        .iter()
        .map(|d| action(d).to_owned())
        .collect();
    assert_eq!(
        actions.first().map(String::as_str),
        Some("grow 1"),
        "{actions:?}"
    );

    // The period ends: the scheduled evaluation takes the next step for the queue.
    clock.advance(TimeDelta::seconds(90));
    let first_uuid = grow["uuid"].clone();
    let pool_ref = &pool;
    let next = wait_for("a scheduled growth step", WAIT, || {
        let first_uuid = first_uuid.clone();
        async move {
            let decisions = api.decisions(pool_ref).await;
            match decisions.first() {
                Some(d) if action(d).starts_with("grow") && d["uuid"] != first_uuid => {
                    Ok(d.clone())
                }
                _ => Err(format!(
                    "{:?}",
                    decisions.iter().map(action).collect::<Vec<_>>()
                )),
            }
        }
    })
    .await;
    assert!(
        !next["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("on demand"),
        "a scheduled step: {next}"
    );
    for task in [first, second] {
        let t = api.wait_task_finished(&task, WAIT).await;
        assert_eq!(t["state"], "Success", "{t}");
    }
    app.stop().await;
}

/// The resize loop evaluates a pool from what it read last time until the feed announces a
/// change of the pool: the end of its work must reach it. Here nothing but the loop
/// evaluates the pool (no resize is asked for). It counts an unchanged hold while the
/// nodes are busy; once the work has ended and the clock has moved past the idle time, the
/// loop alone must see the nodes idle and shrink the pool.
#[tokio::test]
async fn the_loop_alone_sees_the_work_end_and_shrinks_the_pool() {
    let t0 = Utc.with_ymd_and_hms(2024, 3, 4, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    let pool = api.create_pool(&elastic_body("loop-only", 2, 1.0)).await;
    wait_first_evaluation(api, &pool).await;
    clock.advance(TimeDelta::milliseconds(100));
    let task = api
        .submit_task(&task_body("two", &pool, 2, "sleep 4"))
        .await;
    wait_decision(api, &pool, "grow 2").await;
    wait_for("both instances executing", WAIT, || async {
        let t = api.task(&task).await;
        if t["runningInstanceCount"] == 2 {
            Ok(())
        } else {
            Err(t.to_string())
        }
    })
    .await;

    // A period later the loop holds (busy nodes, nothing queued), and a period after that
    // it holds again: that evaluation is only counted.
    clock.advance(TimeDelta::milliseconds(1100));
    let hold = wait_decision(api, &pool, "hold").await;
    clock.advance(TimeDelta::milliseconds(1100));
    wait_for("the hold counted again", WAIT, || async {
        let latest = api
            .decisions(&pool)
            .await
            .first()
            .cloned()
            .unwrap_or_default();
        if latest["uuid"] == hold["uuid"] && latest["evaluations"].as_i64() >= Some(2) {
            Ok(())
        } else {
            Err(latest.to_string())
        }
    })
    .await;

    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");
    // Past the period and the idle time: the loop's next tick is due.
    clock.advance(TimeDelta::seconds(3));
    let shrink = wait_decision(api, &pool, "shrink 2").await;
    assert_eq!(shrink["targetSlots"], 0, "{shrink}");
    wait_all_terminated(api, &pool, 2).await;
}
