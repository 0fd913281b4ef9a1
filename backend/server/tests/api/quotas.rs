//! Quotas set by the operator: a pool or task past one is refused with Qarnot's messages
//! (403), they are reported in `/info` and Qarnot's computing-quota routes, and only the
//! operator sets them.

use serde_json::{Value, json};

use crate::helpers::*;

async fn set_quotas(app: &TestApp, tenant: &str, body: &Value) -> Value {
    app.put_json(
        &format!("/tenants/{tenant}/quotas"),
        &app.operator_token,
        body,
    )
    .await
    .expect_json(200)
}

#[tokio::test]
async fn a_pool_past_the_quota_is_refused_with_qarnots_message() {
    let app = spawn_app().await;
    let (tenant, owner) = app.create_tenant("capped").await;
    let quotas = set_quotas(&app, &tenant, &json!({"maxPools": 2})).await;
    assert_eq!(quotas["maxPools"], 2, "{quotas}");
    assert_eq!(quotas["maxRunningSlots"], Value::Null, "{quotas}");
    app.create_idle_pool(&owner, "one").await;
    let second = app.create_idle_pool(&owner, "two").await;
    app.post_json("/pools", &owner, &idle_pool_body("three"))
        .await
        .expect_error(403, "forbidden", &["Maximum number of pools reached"]);
    // A closed pool no longer counts.
    app.post_empty(&format!("/pools/{second}/close"), &owner)
        .await
        .expect(200);
    app.create_idle_pool(&owner, "three").await;
    let view = app
        .get(&format!("/tenants/{tenant}/quotas"), &app.operator_token)
        .await
        .expect_json(200);
    assert_eq!(view["usage"]["pools"], 2, "{view}");
    // Other tenants are not limited by it.
    app.create_idle_pool(&app.owner_token, "free").await;
}

#[tokio::test]
async fn a_task_past_the_queued_instances_quota_is_refused_with_qarnots_message() {
    let app = spawn_app().await;
    let (tenant, owner) = app.create_tenant("queue-capped").await;
    set_quotas(&app, &tenant, &json!({"maxQueuedInstances": 10})).await;
    let pool = app.create_idle_pool(&owner, "idle").await;
    app.create_task(&owner, &task_body("six", &pool, 6)).await;
    let refused = app
        .post_json("/tasks", &owner, &task_body("five", &pool, 5))
        .await
        .expect_error(403, "forbidden", &["Maximum number of tasks reached", "10"]);
    assert!(refused.contains("6 instances are queued"), "{refused}");
    app.create_task(&owner, &task_body("four", &pool, 4)).await;
    let info = app.get("/info", &owner).await.expect_json(200);
    assert_eq!(info["queuedInstanceCount"], 10, "{info}");
    assert_eq!(info["maxQueuedInstances"], 10, "{info}");
}

#[tokio::test]
async fn quotas_show_in_info_and_in_qarnots_computing_quota_routes() {
    let app = spawn_app().await;
    let (tenant, owner) = app.create_tenant("shown").await;
    set_quotas(
        &app,
        &tenant,
        &json!({"maxPools": 3, "maxRunningSlots": 8, "maxQueuedInstances": 100}),
    )
    .await;
    let info = app.get("/info", &owner).await.expect_json(200);
    assert_eq!(info["maxPool"], 3, "{info}");
    assert_eq!(info["maxInstances"], 8, "{info}");
    assert_eq!(
        info["computingQuotas"]["user"]["flex"]["maxInstances"], 8,
        "{info}"
    );
    assert!(
        info["launcher"]["maxLiveNodes"].as_u64().unwrap_or(0) >= 1,
        "{info}"
    );
    for route in ["user", "organization"] {
        let q = app
            .get(&format!("/quotas/computing-quotas/{route}"), &owner)
            .await
            .expect_json(200);
        assert_eq!(q["flex"]["maxCores"], 8, "{q}");
        assert_eq!(q["flex"]["runningInstancesCount"], 0, "{q}");
        assert!(q["reserved"].as_array().is_some_and(Vec::is_empty), "{q}");
    }
    // Without quotas, -1 means no limit.
    let info = app.get("/info", &app.owner_token).await.expect_json(200);
    assert_eq!(info["maxPool"], -1, "{info}");
}

#[tokio::test]
async fn only_the_operator_sets_quotas_and_bad_limits_name_their_field() {
    let app = spawn_app().await;
    let (tenant, owner) = app.create_tenant("guarded").await;
    app.put_json(
        &format!("/tenants/{tenant}/quotas"),
        &owner,
        &json!({"maxPools": 100}),
    )
    .await
    .expect(403);
    app.put_json(
        &format!("/tenants/{tenant}/quotas"),
        &app.operator_token,
        &json!({"maxPools": -1}),
    )
    .await
    .expect_validation("maxPools");
    app.put_json(
        &format!("/tenants/{tenant}/quotas"),
        &app.operator_token,
        &json!({"maxPoolz": 1}),
    )
    .await
    .expect_error(422, "unprocessable", &["maxPoolz"]);
    let missing = uuid::Uuid::new_v4();
    app.put_json(
        &format!("/tenants/{missing}/quotas"),
        &app.operator_token,
        &json!({"maxPools": 1}),
    )
    .await
    .expect(404);
}
