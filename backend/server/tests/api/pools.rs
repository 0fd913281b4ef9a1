//! Pools: create, read back, update, close, delete, resize, nodes, scaling decisions.

use chrono::{Datelike, NaiveTime, Timelike, Utc, Weekday};
use serde_json::{Value, json};

use crate::helpers::*;

fn always() -> Value {
    json!([{"type": "Always"}])
}

fn queue_policy(name: &str, min: u64, max: u64) -> Value {
    json!({
        "type": "ManagedTasksQueue", "name": name, "minTotalSlots": min, "maxTotalSlots": max,
        "minIdleSlots": 0, "minIdleTimeSeconds": 120, "scalingFactor": 0.5, "enabledPeriods": always()
    })
}

fn with_policies(mut body: Value, policies: Value) -> Value {
    body["scaling"] = json!({ "policies": policies });
    body
}

// --- create and read back --------------------------------------------------------------------

#[tokio::test]
async fn create_pool_answers_201_with_a_uuid() {
    let app = spawn_app().await;
    let created = app
        .post_json("/pools", &app.owner_token, &pool_body("demo-pool"))
        .await
        .expect_json(201);
    let uuid = uuid_of(&created);
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(pool["uuid"], uuid.as_str());
}

#[tokio::test]
async fn a_pool_reads_back_with_every_qarnot_field() {
    let app = spawn_app().await;
    let mut body = pool_body("shape");
    body["shortname"] = json!("shape-short");
    body["tags"] = json!(["blue", "green"]);
    body["labels"] = json!({"team": "infra"});
    let before = Utc::now();
    let uuid = app.create_pool(&app.owner_token, &body).await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;

    assert_eq!(pool["uuid"], uuid.as_str());
    assert_eq!(pool["name"], "shape");
    assert_eq!(pool["shortname"], "shape-short");
    assert_eq!(pool["profile"], "docker-batch");
    assert!(pool["instanceCount"].is_u64(), "{pool}");
    assert_state_in(&pool, POOL_STATES);
    assert!(
        pool.get("previousState").is_some(),
        "no previousState: {pool}"
    );
    assert_optional_wire_date(&pool, "stateTransitionTime");
    assert_optional_wire_date(&pool, "previousStateTransitionTime");
    assert_optional_wire_date(&pool, "lastModified");
    let created = assert_wire_date(&pool, "creationDate");
    assert!(
        (created - before).num_seconds().abs() <= 10,
        "creationDate {created} is not about now ({before})"
    );

    let constants = assert_array(&pool, "constants");
    assert!(
        constants
            .iter()
            .any(|c| c["key"] == "DOCKER_REPO" && c["value"] == "library/ubuntu"),
        "pool constants use key/value: {pool}"
    );
    assert_eq!(pool["tags"], json!(["blue", "green"]));
    assert_eq!(pool["labels"]["team"], "infra", "{pool}");

    for field in ["errors", "hardwareConstraints", "forcedNetworkRules"] {
        assert_array(&pool, field);
    }
    for field in [
        "elasticProperty",
        "privileges",
        "defaultRetrySettings",
        "multiSlotsSettings",
        "secretsAccessRights",
    ] {
        assert_object(&pool, field);
    }
    let elastic = &pool["elasticProperty"];
    assert_eq!(elastic["isElastic"], true);
    assert_eq!(elastic["minTotalSlots"], 0);
    assert_eq!(elastic["maxTotalSlots"], 4);
    assert_eq!(pool["multiSlotsSettings"]["slotsPerNode"], 1, "{pool}");
    // `scaling` may be null (the SDK accepts it); when present it has the documented shape.
    if !pool["scaling"].is_null() {
        let scaling = assert_object(&pool, "scaling");
        assert!(
            scaling.get("policies").is_some_and(Value::is_array),
            "{pool}"
        );
        assert!(scaling.contains_key("activePolicyName"), "{pool}");
    }

    assert!(pool.get("status").is_some(), "no status: {pool}");
    assert_status_arrays(&pool);
    for field in [
        "runningCoreCount",
        "runningInstanceCount",
        "totalSlotCapacity",
        "queuedOrRunningTaskInstancesCount",
    ] {
        assert!(pool[field].is_u64(), "{field} is not a count in {pool}");
    }
    assert_eq!(pool["resizePeriod"], 90, "{pool}");
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let mut body = pool_body("extra");
    body["someFutureField"] = json!({"nested": [1, 2, 3]});
    body["schedulingType"] = json!("OnDemand");
    body["maxTimeQueueSeconds"] = json!(600);
    body["secretsAccessRights"] =
        json!({"bySecret": [{"key": "db/pass"}], "byPrefix": [{"prefix": "shared/"}]});
    body["preparationTask"] = json!({"commandLine": "echo prep"});
    let uuid = app.create_pool(&app.owner_token, &body).await;
    assert_eq!(app.get_pool(&app.owner_token, &uuid).await["name"], "extra");
}

#[tokio::test]
async fn unknown_pool_is_404() {
    let app = spawn_app().await;
    let missing = random_uuid();
    app.get(&format!("/pools/{missing}"), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
    app.post_empty(&format!("/pools/{missing}/close"), &app.owner_token)
        .await
        .expect(404);
    app.delete(&format!("/pools/{missing}"), &app.owner_token)
        .await
        .expect(404);
    app.put_json(
        &format!("/pools/{missing}"),
        &app.owner_token,
        &pool_body("x"),
    )
    .await
    .expect(404);
    app.post_empty(&format!("/pools/{missing}/resize"), &app.owner_token)
        .await
        .expect(404);
    app.get(&format!("/pools/{missing}/nodes"), &app.owner_token)
        .await
        .expect(404);
    app.get(
        &format!("/pools/{missing}/scaling-decisions"),
        &app.owner_token,
    )
    .await
    .expect(404);
}

// --- scaling precedence and read-back ---------------------------------------------------------

#[tokio::test]
async fn elastic_property_round_trips() {
    let app = spawn_app().await;
    let mut body = pool_body("elastic");
    body["elasticProperty"] = json!({
        "isElastic": true, "minTotalSlots": 0, "maxTotalSlots": 6, "minIdleSlots": 0,
        "resizePeriod": 30, "rampResizeFactor": 0.5, "minIdleTimeSeconds": 45
    });
    let uuid = app.create_pool(&app.owner_token, &body).await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    let elastic = &pool["elasticProperty"];
    assert_eq!(elastic["isElastic"], true, "{elastic}");
    assert_eq!(elastic["minTotalSlots"], 0, "{elastic}");
    assert_eq!(elastic["maxTotalSlots"], 6, "{elastic}");
    assert_eq!(elastic["minIdleSlots"], 0, "{elastic}");
    assert_eq!(elastic["resizePeriod"], 30, "{elastic}");
    assert_eq!(elastic["minIdleTimeSeconds"], 45, "{elastic}");
    assert_eq!(elastic["rampResizeFactor"].as_f64(), Some(0.5), "{elastic}");
    assert_eq!(pool["resizePeriod"], 30, "{pool}");

    // isElastic means one ManagedTasksQueue policy: with no task and no idle minimum it
    // wants 0 slots, where a Fixed policy of instanceCount (1) would want 1.
    let decision = resize(&app, &uuid).await;
    assert_eq!(decision["wantedSlots"], 0, "{decision}");
    assert_eq!(decision["targetSlots"], 0, "{decision}");
}

/// The API's documented pool shape names `scaling {policies, activePolicyName}`; a pool
/// sent without `scaling` still reads back that object (policies may be empty).
#[tokio::test]
async fn a_pool_sent_without_scaling_reads_back_null_scaling() {
    // docs/decisions.md: `scaling` reads back only when the policies came from it, so an SDK
    // `commit()` that changes `elasticProperty` is not overridden by an echoed `scaling`.
    let app = spawn_app().await;
    let uuid = app.create_default_pool("no-scaling").await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert!(pool["scaling"].is_null(), "{pool}");
    assert_object(&pool, "elasticProperty");
}

async fn resize(app: &TestApp, pool: &str) -> Value {
    app.post_empty(&format!("/pools/{pool}/resize"), &app.owner_token)
        .await
        .expect_json(200)
}

#[tokio::test]
async fn a_static_pool_is_one_fixed_policy_of_instance_count() {
    let app = spawn_app().await;
    let uuid = app
        .create_pool(&app.owner_token, &fixed_pool_body("static", 2))
        .await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(pool["instanceCount"], 2);
    assert_eq!(pool["elasticProperty"]["isElastic"], false);
    // A Fixed policy of instanceCount slots: it wants 2 with no task queued.
    let decision = resize(&app, &uuid).await;
    assert_eq!(decision["wantedSlots"], 2, "{decision}");
    if let Some(policies) = pool["scaling"]["policies"]
        .as_array()
        .filter(|p| !p.is_empty())
    {
        assert_eq!(policies.len(), 1, "{policies:?}");
        assert_eq!(policies[0]["type"], "Fixed");
        assert_eq!(policies[0]["slotsCount"], 2);
    }
}

#[tokio::test]
async fn scaling_policies_win_over_elastic_property() {
    let app = spawn_app().await;
    // Elastic 0..4 is sent too; the non-empty policy list wins.
    let body = with_policies(
        pool_body("both"),
        json!([queue_policy("from-scaling", 0, 3)]),
    );
    let uuid = app.create_pool(&app.owner_token, &body).await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    let policies = pool["scaling"]["policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(policies[0]["name"], "from-scaling");
    assert_eq!(policies[0]["type"], "ManagedTasksQueue");
    assert_eq!(policies[0]["maxTotalSlots"], 3);
    assert_eq!(pool["scaling"]["activePolicyName"], "from-scaling");
    let decision = resize(&app, &uuid).await;
    assert_eq!(decision["activePolicyName"], "from-scaling", "{decision}");
}

#[tokio::test]
async fn an_empty_scaling_object_falls_back_to_elastic_property() {
    let app = spawn_app().await;
    let mut body = pool_body("empty-scaling");
    body["scaling"] = json!({});
    let uuid = app.create_pool(&app.owner_token, &body).await;
    // Elastic 0..4 with nothing queued wants 0 (a Fixed policy of instanceCount would want 1).
    let decision = resize(&app, &uuid).await;
    assert_eq!(decision["wantedSlots"], 0, "{decision}");
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(pool["elasticProperty"]["maxTotalSlots"], 4);
}

/// The SDK scenario of qarnot-wire.md §8: office hours on weekdays, else the queue policy.
fn office_hours_expected(now: chrono::DateTime<Utc>) -> &'static str {
    let weekday = !matches!(now.weekday(), Weekday::Sat | Weekday::Sun);
    let time = now.time();
    let start = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
    let end = NaiveTime::from_hms_opt(18, 30, 0).unwrap();
    if weekday && time >= start && time < end {
        "office-hours"
    } else {
        "default"
    }
}

#[tokio::test]
async fn active_policy_follows_the_weekly_window_of_the_sdk_scenario() {
    let app = spawn_app().await;
    let policies = json!([
        {"type": "Fixed", "name": "office-hours", "slotsCount": 2,
         "enabledPeriods": [{"type": "Weekly", "name": "weekdays",
                             "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                             "startTimeUtc": "08:00:00", "endTimeUtc": "18:30:00"}]},
        {"type": "ManagedTasksQueue", "name": "default", "minTotalSlots": 0, "maxTotalSlots": 4,
         "minIdleSlots": 0, "minIdleTimeSeconds": 120, "scalingFactor": 0.5,
         "enabledPeriods": [{"type": "Always"}]}
    ]);
    let before = office_hours_expected(Utc::now());
    let uuid = app
        .create_pool(
            &app.owner_token,
            &with_policies(pool_body("demo-pool"), policies),
        )
        .await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    let after = office_hours_expected(Utc::now());
    let active = pool["scaling"]["activePolicyName"]
        .as_str()
        .unwrap_or_else(|| panic!("{pool}"));
    // Only when the window edge passes during the test may either name be right.
    assert!(
        active == before || active == after,
        "active {active:?}, expected {before:?} (at {})",
        Utc::now()
    );

    let stored = pool["scaling"]["policies"].as_array().expect("policies");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["name"], "office-hours");
    assert_eq!(stored[0]["slotsCount"], 2);
    let period = &stored[0]["enabledPeriods"][0];
    assert_eq!(period["type"], "Weekly");
    assert_eq!(
        period["days"],
        json!(["monday", "tuesday", "wednesday", "thursday", "friday"])
    );
    assert_eq!(
        period["startTimeUtc"].as_str().map(|s| &s[..8]),
        Some("08:00:00")
    );
    assert_eq!(
        period["endTimeUtc"].as_str().map(|s| &s[..8]),
        Some("18:30:00")
    );
    assert_eq!(stored[1]["name"], "default");
    assert_eq!(stored[1]["enabledPeriods"][0]["type"], "Always");
}

#[tokio::test]
async fn a_weekly_window_around_now_is_active_before_always() {
    let app = spawn_app().await;
    let today = Utc::now().weekday();
    let days = [today.pred(), today, today.succ()].map(weekday_name);
    let policies = json!([
        {"type": "ManagedTasksQueue", "name": "today-window", "minTotalSlots": 0, "maxTotalSlots": 2,
         "minIdleSlots": 0, "minIdleTimeSeconds": 0, "scalingFactor": 1,
         "enabledPeriods": [{"type": "Weekly", "name": "all-day", "days": days,
                             "startTimeUtc": "00:00:00", "endTimeUtc": "23:59:59.999999"}]},
        {"type": "Fixed", "name": "fallback", "slotsCount": 1, "enabledPeriods": [{"type": "Always"}]}
    ]);
    let uuid = app
        .create_pool(
            &app.owner_token,
            &with_policies(pool_body("windowed"), policies),
        )
        .await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(
        pool["scaling"]["activePolicyName"], "today-window",
        "{}",
        pool["scaling"]
    );
}

#[tokio::test]
async fn a_weekly_window_on_other_days_falls_through_to_always() {
    let app = spawn_app().await;
    let policies = json!([
        {"type": "Fixed", "name": "far-days", "slotsCount": 1,
         "enabledPeriods": [{"type": "Weekly", "days": days_far_from_today(),
                             "startTimeUtc": "00:00:00", "endTimeUtc": "23:59:59"}]},
        queue_policy("fallback", 0, 2)
    ]);
    let uuid = app
        .create_pool(
            &app.owner_token,
            &with_policies(pool_body("fallthrough"), policies),
        )
        .await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(
        pool["scaling"]["activePolicyName"], "fallback",
        "{}",
        pool["scaling"]
    );
}

#[tokio::test]
async fn a_window_across_midnight_contains_now() {
    let app = spawn_app().await;
    // "outside" runs from now+1h to now-1h and "around-now" from now-1h to now+1h, on
    // every day. Whatever the hour, exactly one of the two crosses midnight, and only
    // "around-now" contains now.
    let now = Utc::now();
    let hms = |h: i64| {
        let t = now + chrono::Duration::hours(h);
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    };
    let all_days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let policies = json!([
        {"type": "Fixed", "name": "outside", "slotsCount": 1,
         "enabledPeriods": [{"type": "Weekly", "days": all_days, "startTimeUtc": hms(1), "endTimeUtc": hms(-1)}]},
        {"type": "ManagedTasksQueue", "name": "around-now", "minTotalSlots": 0, "maxTotalSlots": 2,
         "minIdleSlots": 0, "minIdleTimeSeconds": 0, "scalingFactor": 1,
         "enabledPeriods": [{"type": "Weekly", "days": all_days, "startTimeUtc": hms(-1), "endTimeUtc": hms(1)}]},
        queue_policy("last", 0, 1)
    ]);
    let uuid = app
        .create_pool(
            &app.owner_token,
            &with_policies(pool_body("midnight"), policies),
        )
        .await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(
        pool["scaling"]["activePolicyName"], "around-now",
        "{}",
        pool["scaling"]
    );
}

#[tokio::test]
async fn with_no_active_policy_there_is_no_active_name() {
    let app = spawn_app().await;
    let uuid = app.create_idle_pool(&app.owner_token, "idle").await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    let scaling = assert_object(&pool, "scaling");
    assert_eq!(scaling["policies"][0]["name"], "never-now", "{pool}");
    assert!(
        scaling.get("activePolicyName").is_some_and(Value::is_null),
        "activePolicyName must be present and null: {pool}"
    );
    let decision = app
        .post_empty(&format!("/pools/{uuid}/resize"), &app.owner_token)
        .await
        .expect_json(200);
    assert!(decision["activePolicyName"].is_null(), "{decision}");
    assert_eq!(
        decision["targetSlots"], 0,
        "no active policy → target 0: {decision}"
    );
}

// --- update --------------------------------------------------------------------------------

#[tokio::test]
async fn put_changes_name_tags_constants_and_elastic_property() {
    let app = spawn_app().await;
    let uuid = app.create_default_pool("before").await;
    let mut body = pool_body("after");
    body["tags"] = json!(["x", "y"]);
    body["constants"] =
        json!([{"key": "DOCKER_REPO", "value": "library/debian"}, {"key": "EXTRA", "value": "1"}]);
    body["elasticProperty"]["maxTotalSlots"] = json!(8);
    body["elasticProperty"]["resizePeriod"] = json!(15);
    let updated = app
        .put_json(&format!("/pools/{uuid}"), &app.owner_token, &body)
        .await
        .expect_json(200);
    for pool in [updated, app.get_pool(&app.owner_token, &uuid).await] {
        assert_eq!(pool["uuid"], uuid.as_str());
        assert_eq!(pool["name"], "after");
        assert_eq!(pool["tags"], json!(["x", "y"]));
        let constants = assert_array(&pool, "constants");
        assert!(
            constants
                .iter()
                .any(|c| c["key"] == "DOCKER_REPO" && c["value"] == "library/debian"),
            "{pool}"
        );
        assert!(
            constants
                .iter()
                .any(|c| c["key"] == "EXTRA" && c["value"] == "1"),
            "{pool}"
        );
        assert_eq!(pool["elasticProperty"]["maxTotalSlots"], 8);
        assert_eq!(pool["resizePeriod"], 15);
        assert_wire_date(&pool, "creationDate");
        assert_state_in(&pool, POOL_STATES);
    }
}

#[tokio::test]
async fn put_replaces_the_scaling_policies() {
    let app = spawn_app().await;
    let uuid = app.create_default_pool("rescaled").await;
    let body = with_policies(
        pool_body("rescaled"),
        json!([queue_policy("new-policy", 0, 3)]),
    );
    let updated = app
        .put_json(&format!("/pools/{uuid}"), &app.owner_token, &body)
        .await
        .expect_json(200);
    assert_eq!(
        updated["scaling"]["policies"][0]["name"], "new-policy",
        "{updated}"
    );
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(pool["scaling"]["policies"].as_array().unwrap().len(), 1);
    assert_eq!(pool["scaling"]["policies"][0]["maxTotalSlots"], 3);
    assert_eq!(pool["scaling"]["activePolicyName"], "new-policy");
}

#[tokio::test]
async fn a_put_that_says_nothing_of_the_size_keeps_the_scaling_and_the_other_settings() {
    let app = spawn_app().await;
    let mut body = with_policies(
        pool_body("sized"),
        json!([queue_policy("kept-policy", 0, 6)]),
    );
    body["defaultRetrySettings"] = json!({"maxTotalRetries": 3, "maxPerInstanceRetries": 1});
    body["schedulingType"] = json!("Flex");
    let uuid = app
        .post_json("/pools", &app.owner_token, &body)
        .await
        .expect_json(201)["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(
        before["defaultRetrySettings"]["maxTotalRetries"], 3,
        "{before:#}"
    );
    assert_eq!(before["schedulingType"], "Flex", "{before:#}");
    // Only new tags: the policies, the instance count and the source stay as they were.
    app.put_json(
        &format!("/pools/{uuid}"),
        &app.owner_token,
        &json!({"tags": ["x"]}),
    )
    .await
    .expect_json(200);
    let after = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(after["tags"], json!(["x"]));
    assert_eq!(after["scaling"], before["scaling"], "{after:#}");
    assert_eq!(after["instanceCount"], before["instanceCount"]);
    assert_eq!(after["scaling"]["policies"][0]["maxTotalSlots"], 6);
    assert_eq!(
        after["defaultRetrySettings"],
        before["defaultRetrySettings"]
    );
    assert_eq!(after["schedulingType"], before["schedulingType"]);
    // Saying the size changes it, as before.
    let fixed = app
        .put_json(
            &format!("/pools/{uuid}"),
            &app.owner_token,
            &json!({"instanceCount": 3}),
        )
        .await
        .expect_json(200);
    assert_eq!(fixed["instanceCount"], 3, "{fixed:#}");
    assert_eq!(
        fixed["scaling"],
        serde_json::Value::Null,
        "a Fixed pool now"
    );
}

#[tokio::test]
async fn an_invalid_put_changes_nothing() {
    let app = spawn_app().await;
    let uuid = app.create_default_pool("keep").await;
    let mut body = pool_body("renamed");
    body["elasticProperty"]["minTotalSlots"] = json!(5);
    body["elasticProperty"]["maxTotalSlots"] = json!(2);
    app.put_json(&format!("/pools/{uuid}"), &app.owner_token, &body)
        .await
        .expect_validation("maxTotalSlots");
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(pool["name"], "keep");
    assert_eq!(pool["elasticProperty"]["maxTotalSlots"], 4);
}

// --- close and delete ------------------------------------------------------------------------

#[tokio::test]
async fn close_answers_the_pool_and_closing_twice_is_409() {
    let app = spawn_app().await;
    let uuid = app.create_default_pool("closing").await;
    let closed = app
        .post_empty(&format!("/pools/{uuid}/close"), &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(closed["uuid"], uuid.as_str());
    assert_state_in(&closed, &["Closing", "Closed"]);
    assert_wire_date(&closed, "creationDate");
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_state_in(&pool, &["Closing", "Closed"]);

    let message = app
        .post_empty(&format!("/pools/{uuid}/close"), &app.owner_token)
        .await
        .expect_error(409, "conflict", &[]);
    assert!(
        message.contains("Clos"),
        "the 409 message names the state: {message:?}"
    );
}

#[tokio::test]
async fn a_pool_without_nodes_is_closed_at_once() {
    let app = spawn_app().await;
    let uuid = app.create_idle_pool(&app.owner_token, "no-nodes").await;
    let nodes = app
        .get(&format!("/pools/{uuid}/nodes"), &app.owner_token)
        .await
        .expect_json(200)["items"]
        .clone();
    assert_eq!(nodes, json!([]), "an idle pool has no node");
    let closed = app
        .post_empty(&format!("/pools/{uuid}/close"), &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(closed["state"], "Closed", "{closed}");
    assert!(closed["previousState"].is_string(), "{closed}");
}

#[tokio::test]
async fn put_on_a_closed_pool_is_409() {
    let app = spawn_app().await;
    let uuid = app.create_default_pool("frozen").await;
    app.post_empty(&format!("/pools/{uuid}/close"), &app.owner_token)
        .await
        .expect(200);
    app.put_json(
        &format!("/pools/{uuid}"),
        &app.owner_token,
        &pool_body("thawed"),
    )
    .await
    .expect_error(409, "conflict", &[]);
    assert_eq!(
        app.get_pool(&app.owner_token, &uuid).await["name"],
        "frozen"
    );
}

#[tokio::test]
async fn delete_removes_the_pool_and_cancels_its_tasks() {
    let app = spawn_app().await;
    let uuid = app.create_idle_pool(&app.owner_token, "doomed").await;
    let task = app
        .create_task(&app.owner_token, &task_body("orphan", &uuid, 2))
        .await;
    app.delete(&format!("/pools/{uuid}"), &app.owner_token)
        .await
        .expect(204);
    app.get(&format!("/pools/{uuid}"), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
    let listed = app.list_uuids("/pools", &app.owner_token).await;
    assert!(!listed.contains(&uuid), "deleted pool still listed");
    let task = app.get_task(&app.owner_token, &task).await;
    assert_state_in(&task, &["PendingCancel", "Cancelled"]);
    app.delete(&format!("/pools/{uuid}"), &app.owner_token)
        .await
        .expect(404);
}

// --- resize, decisions, nodes ----------------------------------------------------------------

fn assert_decision_shape(decision: &Value) {
    uuid_of(decision);
    assert_wire_date(decision, "creationDate");
    assert!(decision.get("activePolicyName").is_some(), "{decision}");
    assert!(decision.get("activePeriodName").is_some(), "{decision}");
    assert!(decision["wantedSlots"].is_u64(), "{decision}");
    assert!(decision["targetSlots"].is_u64(), "{decision}");
    assert!(
        decision["action"].as_str().is_some_and(|s| !s.is_empty()),
        "{decision}"
    );
    assert!(
        decision["reason"]
            .as_str()
            .is_some_and(|s| !s.trim().is_empty()),
        "reason in words: {decision}"
    );
    assert_object(decision, "inputs");
    assert_array(decision, "clamps");
}

#[tokio::test]
async fn resize_answers_a_decision_that_is_then_listed() {
    let app = spawn_app().await;
    let uuid = app.create_default_pool("resized").await;
    let decision = app
        .post_empty(&format!("/pools/{uuid}/resize"), &app.owner_token)
        .await
        .expect_json(200);
    assert_decision_shape(&decision);
    // Elastic 0..4, no task, no idle minimum: nothing wanted.
    assert_eq!(decision["wantedSlots"], 0, "{decision}");
    assert_eq!(decision["targetSlots"], 0, "{decision}");

    // Nothing changed: the same decision is counted again, not written again.
    let second = app
        .post_empty(&format!("/pools/{uuid}/resize"), &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(second["uuid"], decision["uuid"]);
    let count = |d: &Value| d["evaluations"].as_i64().unwrap_or(0);
    // The resize loop may evaluate the pool too: the count grows by one or more.
    assert!(count(&decision) >= 1, "{decision}");
    assert!(count(&second) > count(&decision), "{second}");

    // Its policy is now never active: another decision, listed before the first.
    app.put_json(
        &format!("/pools/{uuid}"),
        &app.owner_token,
        &idle_pool_body("resized"),
    )
    .await
    .expect(200);
    let second = app
        .post_empty(&format!("/pools/{uuid}/resize"), &app.owner_token)
        .await
        .expect_json(200);
    assert_ne!(second["uuid"], decision["uuid"], "{second}");
    assert_ne!(second["reason"], decision["reason"], "{second}");

    let list = app
        .get(
            &format!("/pools/{uuid}/scaling-decisions"),
            &app.owner_token,
        )
        .await
        .expect_json(200);
    assert_eq!(list["nextPageToken"], Value::Null, "one page: {list}");
    let items = list["items"].as_array().expect("array");
    for item in items {
        assert_decision_shape(item);
    }
    let position = |d: &Value| items.iter().position(|i| i["uuid"] == d["uuid"]);
    let first_at = position(&decision).unwrap_or_else(|| panic!("decision not listed: {list}"));
    let second_at = position(&second).unwrap_or_else(|| panic!("decision not listed: {list}"));
    assert!(second_at < first_at, "newest first: {list}");
    let listed = &items[first_at];
    assert_eq!(listed["reason"], decision["reason"]);
    assert_eq!(listed["targetSlots"], decision["targetSlots"]);
    let dates: Vec<_> = items
        .iter()
        .map(|i| parse_wire_date(i["creationDate"].as_str().unwrap()))
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {list}"
    );

    // A page at a time, newest first, each decision once.
    let path = format!("/pools/{uuid}/scaling-decisions");
    let mut paged = Vec::new();
    let mut next = format!("{path}?limit=1");
    loop {
        let page = app.get(&next, &app.owner_token).await.expect_json(200);
        let got = page["items"].as_array().unwrap();
        assert_eq!(got.len(), 1, "{page}");
        paged.push(got[0]["uuid"].clone());
        match page["nextPageToken"].as_str() {
            Some(t) => next = format!("{path}?limit=1&pageToken={t}"),
            None => break,
        }
    }
    let all: Vec<Value> = items.iter().map(|i| i["uuid"].clone()).collect();
    assert_eq!(paged, all);
    for bad in [
        "limit=0",
        "limit=501",
        "limit=x",
        "pageToken=nope",
        "pageToken=at:x",
    ] {
        let e = app
            .get(&format!("{path}?{bad}"), &app.owner_token)
            .await
            .expect_json(400);
        let field = bad.split('=').next().unwrap();
        assert!(
            e["message"].as_str().unwrap().starts_with(field),
            "{bad}: {e}"
        );
        assert_eq!(e["code"], "validation");
    }
}

#[tokio::test]
async fn resize_of_a_fixed_pool_wants_its_slots() {
    let app = spawn_app().await;
    let uuid = app
        .create_pool(&app.owner_token, &fixed_pool_body("fixed-two", 2))
        .await;
    let decision = app
        .post_empty(&format!("/pools/{uuid}/resize"), &app.owner_token)
        .await
        .expect_json(200);
    assert_decision_shape(&decision);
    assert_eq!(decision["wantedSlots"], 2, "{decision}");
    assert!(decision["targetSlots"].as_u64().unwrap() <= 2, "{decision}");
}

#[tokio::test]
async fn nodes_are_an_array_of_node_objects() {
    let app = spawn_app().await;
    let uuid = app
        .create_pool(&app.owner_token, &fixed_pool_body("with-nodes", 1))
        .await;
    app.post_empty(&format!("/pools/{uuid}/resize"), &app.owner_token)
        .await
        .expect(200);
    let nodes = app
        .get(&format!("/pools/{uuid}/nodes"), &app.owner_token)
        .await
        .expect_json(200)["items"]
        .clone();
    let nodes = nodes
        .as_array()
        .unwrap_or_else(|| panic!("nodes is not an array: {nodes}"));
    assert!(
        nodes.len() <= 1,
        "a pool of one slot has at most one node: {nodes:?}"
    );
    for node in nodes {
        uuid_of(node);
        assert_state_in(
            node,
            &[
                "Requested",
                "Booting",
                "Ready",
                "Draining",
                "Terminated",
                "Failed",
            ],
        );
        assert_eq!(node["slots"], 1, "{node}");
        assert!(node["busySlots"].is_u64(), "{node}");
        assert_wire_date(node, "creationDate");
        assert_optional_wire_date(node, "readyAt");
        assert_optional_wire_date(node, "lastHeartbeat");
    }
}

// --- validation ------------------------------------------------------------------------------

async fn rejected(app: &TestApp, body: Value, field: &str) -> String {
    app.post_json("/pools", &app.owner_token, &body)
        .await
        .expect_validation(field)
}

#[tokio::test]
async fn elastic_max_below_min_is_400() {
    let app = spawn_app().await;
    let mut body = pool_body("bad");
    body["elasticProperty"]["minTotalSlots"] = json!(5);
    body["elasticProperty"]["maxTotalSlots"] = json!(2);
    let message = rejected(&app, body, "maxTotalSlots").await;
    assert!(
        message.starts_with("elasticProperty.maxTotalSlots"),
        "message starts with the field: {message:?}"
    );
}

#[tokio::test]
async fn resize_period_below_one_second_is_400() {
    let app = spawn_app().await;
    let mut body = pool_body("bad");
    body["elasticProperty"]["resizePeriod"] = json!(0);
    rejected(&app, body, "resizePeriod").await;
}

#[tokio::test]
async fn queue_policy_max_below_min_is_400() {
    let app = spawn_app().await;
    let body = with_policies(pool_body("bad"), json!([queue_policy("q", 4, 2)]));
    rejected(&app, body, "maxTotalSlots").await;
}

#[tokio::test]
async fn multi_slot_max_below_one_node_is_400() {
    let app = spawn_app().await;
    let mut body = pool_body("bad");
    body["elasticProperty"]["maxTotalSlots"] = json!(2);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 4});
    let message = rejected(&app, body, "maxTotalSlots").await;
    assert!(
        message.contains("slotsPerNode"),
        "names both fields: {message:?}"
    );

    let mut body = with_policies(pool_body("bad"), json!([queue_policy("q", 0, 3)]));
    body["multiSlotsSettings"] = json!({"slotsPerNode": 4});
    let message = rejected(&app, body, "maxTotalSlots").await;
    assert!(
        message.contains("slotsPerNode"),
        "names both fields: {message:?}"
    );
}

#[tokio::test]
async fn scaling_factor_outside_zero_one_is_400() {
    let app = spawn_app().await;
    for factor in [json!(0), json!(1.5), json!(-0.5)] {
        let mut policy = queue_policy("q", 0, 4);
        policy["scalingFactor"] = factor;
        rejected(
            &app,
            with_policies(pool_body("bad"), json!([policy])),
            "scalingFactor",
        )
        .await;
    }
    // 1 is inside (0, 1].
    let mut policy = queue_policy("q", 0, 4);
    policy["scalingFactor"] = json!(1);
    app.create_pool(
        &app.owner_token,
        &with_policies(pool_body("ok"), json!([policy])),
    )
    .await;
}

#[tokio::test]
async fn weekly_period_without_days_is_400() {
    let app = spawn_app().await;
    let mut policy = queue_policy("q", 0, 4);
    policy["enabledPeriods"] =
        json!([{"type": "Weekly", "startTimeUtc": "08:00:00", "endTimeUtc": "18:00:00"}]);
    rejected(
        &app,
        with_policies(pool_body("bad"), json!([policy.clone()])),
        "days",
    )
    .await;
    policy["enabledPeriods"][0]["days"] = json!([]);
    rejected(
        &app,
        with_policies(pool_body("bad"), json!([policy.clone()])),
        "days",
    )
    .await;
    policy["enabledPeriods"][0]["days"] = json!(["funday"]);
    rejected(
        &app,
        with_policies(pool_body("bad"), json!([policy])),
        "days",
    )
    .await;
}

#[tokio::test]
async fn weekly_days_are_case_insensitive() {
    let app = spawn_app().await;
    let mut policy = queue_policy("q", 0, 4);
    policy["enabledPeriods"] = json!([{"type": "Weekly", "days": ["Monday", "FRIDAY"], "startTimeUtc": "08:00:00", "endTimeUtc": "18:00:00"}]);
    app.create_pool(
        &app.owner_token,
        &with_policies(pool_body("ok"), json!([policy])),
    )
    .await;
}

#[tokio::test]
async fn bad_time_strings_are_400() {
    let app = spawn_app().await;
    let period = |start: &str, end: &str| {
        let mut policy = queue_policy("q", 0, 4);
        policy["enabledPeriods"] = json!([{"type": "Weekly", "days": ["monday"], "startTimeUtc": start, "endTimeUtc": end}]);
        with_policies(pool_body("bad"), json!([policy]))
    };
    rejected(&app, period("25:00:00", "18:00:00"), "startTimeUtc").await;
    rejected(&app, period("08:00:00", "noon"), "endTimeUtc").await;
    rejected(&app, period("8h", "18:00:00"), "startTimeUtc").await;
    // Fractions, as time.isoformat() writes them, are fine.
    app.create_pool(&app.owner_token, &period("08:00:00.250000", "18:30:00"))
        .await;
}

#[tokio::test]
async fn unknown_profile_is_400_naming_profile() {
    let app = spawn_app().await;
    let mut body = pool_body("bad");
    body["profile"] = json!("no-such-profile");
    rejected(&app, body, "profile").await;
}

#[tokio::test]
async fn empty_pool_name_is_400() {
    let app = spawn_app().await;
    rejected(&app, pool_body(""), "name").await;
    let mut body = pool_body("x");
    body.as_object_mut().unwrap().remove("name");
    let response = app.post_json("/pools", &app.owner_token, &body).await;
    assert!(matches!(response.status, 400 | 422), "{response:?}");
}

#[tokio::test]
async fn instance_count_must_not_be_negative() {
    let app = spawn_app().await;
    let response = app
        .post_json("/pools", &app.owner_token, &fixed_pool_body("neg", 0))
        .await;
    // 0 slots is a valid (empty) static pool or a validation error, never a server error.
    assert!(matches!(response.status, 201 | 400), "{response:?}");
    let mut body = fixed_pool_body("neg", 1);
    body["instanceCount"] = json!(-1);
    let response = app.post_json("/pools", &app.owner_token, &body).await;
    assert!(matches!(response.status, 400 | 422), "{response:?}");
}

// --- multi-slot ------------------------------------------------------------------------------

fn multi_slot_body(name: &str, slots_per_node: u64, max: u64) -> Value {
    let mut body = pool_body(name);
    body["elasticProperty"]["maxTotalSlots"] = json!(max);
    body["multiSlotsSettings"] = json!({"slotsPerNode": slots_per_node});
    body
}

#[tokio::test]
async fn the_default_tenant_may_pack_slots() {
    let app = spawn_app().await;
    let uuid = app
        .create_pool(&app.owner_token, &multi_slot_body("packed", 4, 8))
        .await;
    let pool = app.get_pool(&app.owner_token, &uuid).await;
    assert_eq!(pool["multiSlotsSettings"]["slotsPerNode"], 4, "{pool}");
    // maxTotalSlots 0 is not "below one node".
    app.create_pool(&app.owner_token, &multi_slot_body("packed-zero", 4, 0))
        .await;
}

#[tokio::test]
async fn a_tenant_without_the_entitlement_gets_403() {
    let app = spawn_app().await;
    let (_, token) = app.create_tenant("no-multi").await;
    app.post_json("/pools", &token, &multi_slot_body("packed", 4, 8))
        .await
        .expect_error(403, "forbidden", &[]);
    assert!(app.list_uuids("/pools", &token).await.is_empty());
    // One slot per node is always allowed.
    app.create_pool(&token, &multi_slot_body("single", 1, 8))
        .await;
}

#[tokio::test]
async fn a_tenant_with_the_entitlement_may_pack_slots() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant_with(&json!({"name": "multi", "multiSlotEnabled": true}))
        .await;
    let token = tenant["ownerToken"].as_str().unwrap();
    let uuid = app
        .create_pool(token, &multi_slot_body("packed", 2, 8))
        .await;
    assert_eq!(
        app.get_pool(token, &uuid).await["multiSlotsSettings"]["slotsPerNode"],
        2
    );
}

#[tokio::test]
async fn slots_per_node_above_the_profile_maximum_is_400() {
    let app = spawn_app().await;
    rejected(&app, multi_slot_body("too-many", 17, 34), "slotsPerNode").await;
    let mut body = multi_slot_body("network", 2, 4);
    body["profile"] = json!("docker-network");
    rejected(&app, body, "slotsPerNode").await;
    app.create_pool(&app.owner_token, &multi_slot_body("sixteen", 16, 32))
        .await;
}

#[tokio::test]
async fn closing_a_pool_cancels_its_queued_tasks_and_refuses_new_ones() {
    let app = spawn_app().await;
    let uuid = app
        .create_idle_pool(&app.owner_token, "closing-with-work")
        .await;
    let task = app
        .create_task(&app.owner_token, &task_body("queued", &uuid, 3))
        .await;
    assert_state_in(
        &app.get_task(&app.owner_token, &task).await,
        UNFINISHED_TASK_STATES,
    );
    app.post_empty(&format!("/pools/{uuid}/close"), &app.owner_token)
        .await
        .expect(200);
    assert_state_in(
        &app.get_task(&app.owner_token, &task).await,
        &["PendingCancel", "Cancelled"],
    );
    let answers = app
        .post_json(
            "/tasks",
            &app.owner_token,
            &json!([task_body("late", &uuid, 1)]),
        )
        .await
        .expect_json(200);
    assert_eq!(answers[0]["statusCode"], 409, "{answers}");
}
