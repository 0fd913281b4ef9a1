//! Budgets over real nodes with a `ManualClock`: a node Ready at t0 at 3.6 per slot-hour
//! costs exactly 0.001 a second, so consumed, remaining and forecast are known to the
//! micro-unit; thresholds fire as `budgetAlert` events in order, once each; `AlertOnly`
//! keeps creating, `BlockNew` answers 402 to new pools and tasks, `StopAndBlockAll` also
//! winds the pools down to zero (the running instance finishes, the queued one waits).
//! The budget loop notices a moved clock within a second of real time; every wait is for
//! an event or a state, never a sleep.

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use hearth_core::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};

use super::events::SseReader;
use crate::helpers::*;

/// 3.6 per slot-hour: 0.001 (1,000 micro-units) per slot-second.
async fn metered_app(clock: &ManualClock) -> TestApp {
    let app = spawn_app(Some(clock.clone())).await;
    app.api
        .as_token(&app.operator_token)
        .put(
            "/profiles/docker-batch",
            &json!({"pricePerSlotHour": "3.6"}),
        )
        .await;
    app
}

async fn alerts(app: &TestApp) -> SseReader {
    SseReader::open(
        &app.api.base,
        "/events?types=budgetAlert",
        Some(&app.api.token),
        None,
    )
    .await
}

/// The POST's status and JSON body.
async fn post(api: &Api, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = api
        .call(Method::POST, path, Some(body))
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[track_caller]
fn assert_payment_required(answer: &(u16, Value), budget: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 402, "{body}");
    assert_eq!(body["code"], "payment_required", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(budget), "{message}");
    // The public SDK raises NotEnoughCreditsException on a 402 unless this is said.
    assert!(!message.contains("hardware constraint"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_fire_in_order_once_each_and_alert_only_keeps_creating() {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = metered_app(&clock).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("metered", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;

    let budget = api
        .post(
            "/budgets",
            &json!({"name": "march", "amount": "3.6", "period": "monthly",
                    "overrunPolicy": "AlertOnly", "alertThresholds": [1.0, 0.25, 0.5]}),
        )
        .await;
    let uuid = budget["uuid"].as_str().unwrap().to_owned();
    assert_eq!(budget["consumed"], "0.000000");
    assert_eq!(budget["forecast"], "0.000000");
    assert_eq!(budget["periodFrom"], "2026-03-01T00:00:00.000000Z");
    assert_eq!(budget["periodTo"], "2026-04-01T00:00:00.000000Z");
    let mut events = alerts(&app).await;

    // 30 minutes: 1.8 consumed, past a quarter and a half.
    clock.set(t0 + TimeDelta::minutes(30));
    let got = events
        .until("the 0.5 alert", |e| e.data["threshold"] == 0.5)
        .await;
    let fired: Vec<&Value> = got.iter().map(|e| &e.data["threshold"]).collect();
    assert_eq!(fired, [&json!(0.25), &json!(0.5)], "{got:#?}");
    assert_eq!(got[0].data["budget"], uuid.as_str());
    assert_eq!(got[0].data["name"], "march");
    assert_eq!(got[0].data["amount"], "3.600000");
    assert_eq!(got[0].data["currency"], "EUR");
    assert_eq!(got[0].data["overrunPolicy"], "AlertOnly");
    assert_eq!(got[0].data["periodFrom"], "2026-03-01T00:00:00.000000Z");
    let b = api.get(&format!("/budgets/{uuid}")).await;
    assert_eq!(b["consumed"], "1.800000");
    assert_eq!(b["remaining"], "1.800000");
    // 1.8 over 9 days 30 minutes of a 31-day month: 1.8 × 2,678,400 / 779,400 s.
    assert_eq!(b["forecast"], "6.185681");
    assert_eq!(b["spent"], false);
    assert_eq!(b["firedThresholds"], json!([0.25, 0.5]));
    // What the billing report says for the same period.
    let report = api
        .get("/billing/usage?from=2026-03-01&to=2026-04-01")
        .await;
    assert_eq!(report["totals"]["cost"], b["consumed"]);

    // An hour: spent. AlertOnly only alerts: pools and tasks are still accepted.
    clock.set(t0 + TimeDelta::minutes(60));
    let got = events
        .until("the 1.0 alert", |e| e.data["threshold"] == 1.0)
        .await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].data["consumed"], "3.600000");
    let b = api.get(&format!("/budgets/{uuid}")).await;
    assert_eq!(b["consumed"], "3.600000");
    assert_eq!(b["remaining"], "0.000000");
    assert_eq!(b["forecast"], "12.342857");
    assert_eq!(b["spent"], true);
    api.submit_task(&task_body("still", &pool, 1, "true")).await;
    api.create_pool(&pool_body("another", 1)).await;

    // Evaluated again (a PUT evaluates at once): nothing fires twice. A new budget's
    // first threshold fires at its creation, and it is the next event on the stream.
    api.put(
        &format!("/budgets/{uuid}"),
        &json!({"name": "march", "amount": "3.6", "period": "monthly",
                "overrunPolicy": "AlertOnly", "alertThresholds": [0.25, 0.5, 1.0]}),
    )
    .await;
    let marker = api
        .post(
            "/budgets",
            &json!({"name": "marker", "amount": "1000", "period": "monthly",
                    "alertThresholds": [0.0001]}),
        )
        .await;
    let next = events.next(WAIT).await.expect("the marker budget's alert");
    assert_eq!(next.data["budget"], marker["uuid"], "{next:?}");
    let b = api.get(&format!("/budgets/{uuid}")).await;
    assert_eq!(b["firedThresholds"], json!([0.25, 0.5, 1.0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_block_new_budget_refuses_new_pools_and_tasks_with_402() {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 20, 12, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = metered_app(&clock).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("metered", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;
    let body = json!({"name": "daily cap", "amount": "0.36",
                      "period": {"from": "2026-05-20", "to": "2026-05-21"},
                      "overrunPolicy": "BlockNew", "alertThresholds": [1]});
    let budget = api.post("/budgets", &body).await;
    let uuid = budget["uuid"].as_str().unwrap().to_owned();
    let mut events = alerts(&app).await;
    // Not spent yet: accepted.
    api.submit_task(&task_body("before", &pool, 1, "true"))
        .await;

    // Six minutes: 0.36 consumed, the whole amount.
    clock.set(t0 + TimeDelta::minutes(6));
    events
        .until("the 1.0 alert", |e| e.data["threshold"] == 1.0)
        .await;
    assert_payment_required(
        &post(api, "/pools", &pool_body("refused", 1)).await,
        "daily cap",
    );
    assert_payment_required(
        &post(api, "/tasks", &task_body("refused", &pool, 1, "true")).await,
        "daily cap",
    );
    let (status, items) = post(api, "/tasks", &json!([task_body("bulk", &pool, 1, "true")])).await;
    assert_eq!(status, 200, "{items}");
    assert_eq!(items[0]["statusCode"], 402, "{items}");
    let b = api.get(&format!("/budgets/{uuid}")).await;
    assert_eq!(b["consumed"], "0.360000");
    assert_eq!(b["remaining"], "0.000000");
    // 0.36 over 12 h 6 min of a 24-hour period.
    assert_eq!(b["forecast"], "0.714050");
    assert_eq!(b["spent"], true);
    // BlockNew leaves what runs alone.
    assert_eq!(api.wait_ready_nodes(&pool, 1).await.len(), 1);

    // A larger amount unblocks at once.
    let mut raised = body.clone();
    raised["amount"] = json!("100");
    api.put(&format!("/budgets/{uuid}"), &raised).await;
    api.create_pool(&pool_body("accepted", 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_stop_and_block_all_budget_winds_the_pools_down_and_lets_running_work_finish() {
    let t0 = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = metered_app(&clock).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("stopped", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;
    // Two instances on one slot: the first runs until a file appears, the second waits.
    let go = app.data_dir.join("go");
    let command = format!("until [ -e '{}' ]; do sleep 0.02; done", go.display());
    let task = api
        .submit_task(&task_body("long", &pool, 2, &command))
        .await;
    wait_for("the first instance to start", WAIT, || async {
        let n = app.executions(&task).await.len();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} executions"))
        }
    })
    .await;

    let budget = api
        .post(
            "/budgets",
            &json!({"name": "hard stop", "amount": "0.36", "period": "monthly",
                    "overrunPolicy": "StopAndBlockAll", "alertThresholds": [1]}),
        )
        .await;
    let uuid = budget["uuid"].as_str().unwrap().to_owned();
    let mut events = alerts(&app).await;
    clock.set(t0 + TimeDelta::minutes(6));
    events
        .until("the 1.0 alert", |e| e.data["threshold"] == 1.0)
        .await;
    assert_payment_required(
        &post(api, "/pools", &pool_body("refused", 1)).await,
        "hard stop",
    );
    assert_payment_required(
        &post(api, "/tasks", &task_body("refused", &pool, 1, "true")).await,
        "hard stop",
    );

    // The busy node drains (its instance keeps running), recorded as a decision that says
    // the budget.
    let decision = wait_for("a decision naming the budget", WAIT, || async {
        let decisions = api.decisions(&pool).await;
        let nodes = api.nodes(&pool).await;
        match decisions
            .iter()
            .find(|d| d["reason"].as_str().unwrap_or("").contains("hard stop"))
        {
            Some(d) if nodes.iter().any(|n| n["state"] == "Draining") => Ok(d.clone()),
            _ => Err(format!("{decisions:#?} {}", node_summary(&nodes))),
        }
    })
    .await;
    assert_eq!(decision["targetSlots"], 0, "{decision:#}");
    assert!(
        decision["reason"]
            .as_str()
            .unwrap()
            .contains("StopAndBlockAll"),
        "{decision:#}"
    );
    let running = app.instances(&task).await;
    assert_eq!(
        running.iter().filter(|i| i.state == "Executing").count(),
        1,
        "{running:#?}"
    );

    // The running instance finishes; its node then ends; the second instance stays queued.
    std::fs::write(&go, "").unwrap();
    wait_for("the node to end", WAIT, || async {
        let nodes = api.nodes(&pool).await;
        if nodes.iter().any(is_live_node) {
            Err(node_summary(&nodes))
        } else {
            Ok(())
        }
    })
    .await;
    let instances = app.instances(&task).await;
    let states: Vec<&str> = instances.iter().map(|i| i.state.as_str()).collect();
    assert_eq!(states, ["Succeeded", "Queued"], "{instances:#?}");
    let latest = &api.decisions(&pool).await[0];
    assert_eq!(latest["targetSlots"], 0, "{latest:#}");

    // The budget goes: the pool follows its policy again and the queued instance runs.
    let (status, text) = api
        .call(Method::DELETE, &format!("/budgets/{uuid}"), None)
        .await
        .unwrap();
    assert_eq!(status, 204, "{text}");
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{}", task_summary(&t));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_fires_no_threshold_twice_and_the_next_one_still_fires() {
    let t0 = Utc.with_ymd_and_hms(2026, 5, 12, 0, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_restartable_app(Some(clock.clone())).await;
    app.api
        .as_token(&app.operator_token)
        .put(
            "/profiles/docker-batch",
            &json!({"pricePerSlotHour": "3.6"}),
        )
        .await;
    let pool = app.api.create_pool(&pool_body("metered", 1)).await;
    app.api.wait_ready_nodes(&pool, 1).await;
    let budget = app
        .api
        .post(
            "/budgets",
            &json!({"name": "may", "amount": "3.6", "period": "monthly",
                    "overrunPolicy": "AlertOnly", "alertThresholds": [0.25, 0.5]}),
        )
        .await;
    let uuid = budget["uuid"].as_str().unwrap().to_owned();
    let mut events = alerts(&app).await;
    // 20 minutes: 1.2 of 3.6, past a quarter only.
    clock.set(t0 + TimeDelta::minutes(20));
    let got = events
        .until("the 0.25 alert", |e| e.data["threshold"] == 0.25)
        .await;
    assert_eq!(got.len(), 1, "{got:#?}");
    drop(events);

    // The server goes away and comes back on the same database; the node runs on.
    let app = app.restart_abandoning_nodes().await;
    app.api.wait_ready_nodes(&pool, 1).await;
    let mut events = alerts(&app).await;
    let b = app.api.get(&format!("/budgets/{uuid}")).await;
    assert_eq!(b["firedThresholds"], json!([0.25]), "{b}");
    // A later budget's first alert is a marker: had the restart fired 0.25 again, that
    // alert would come before it.
    let marker = app
        .api
        .post(
            "/budgets",
            &json!({"name": "marker", "amount": "1000", "period": "monthly",
                    "alertThresholds": [0.0001]}),
        )
        .await;
    let next = events.next(WAIT).await.expect("the marker budget's alert");
    assert_eq!(next.data["budget"], marker["uuid"], "{next:?}");

    // 40 minutes: 2.4, past a half: that one fires, once.
    clock.set(t0 + TimeDelta::minutes(40));
    let got = events
        .until("the 0.5 alert", |e| e.data["threshold"] == 0.5)
        .await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].data["budget"], uuid.as_str());
    let b = app.api.get(&format!("/budgets/{uuid}")).await;
    assert_eq!(b["firedThresholds"], json!([0.25, 0.5]), "{b}");
    assert_eq!(b["consumed"], "2.400000", "{b}");
    app.stop().await;
}
