//! `GET /billing/usage` access and validation on a real server (the figures themselves are
//! checked over real nodes in the e2e suite).

use crate::helpers::*;

#[tokio::test]
async fn billing_is_for_owners_billing_users_and_the_operator() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let report = app.get("/billing/usage", &owner).await.expect_json(200);
    assert_eq!(report["groupBy"], "pool");
    assert_eq!(report["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["totals"]["cost"], "0.000000");
    assert_eq!(report["totals"]["slotSeconds"], "0.000");

    // Only the operator reports every tenant.
    app.get("/billing/usage?tenant=all", &owner)
        .await
        .expect_error(403, "forbidden", &["operator"]);

    let billing = app.create_token("billing").await;
    app.get("/billing/usage?groupBy=day", &billing)
        .await
        .expect(200);
    for role in ["viewer", "member"] {
        let token = app.create_token(role).await;
        app.get("/billing/usage", &token)
            .await
            .expect_error(403, "forbidden", &[role]);
    }

    let operator = app.operator_token.clone();
    app.get("/billing/usage", &operator)
        .await
        .expect_validation("tenant");
    let all = app
        .get("/billing/usage?tenant=all&groupBy=profile", &operator)
        .await
        .expect_json(200);
    assert_eq!(all["tenant"], "all");
    let (other, _) = app.create_tenant("elsewhere").await;
    app.get(&format!("/billing/usage?tenant={other}"), &operator)
        .await
        .expect(200);
    app.get(&format!("/billing/usage?tenant={other}"), &owner)
        .await
        .expect(403);
}

#[tokio::test]
async fn a_bad_report_request_names_its_parameter() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    for (query, field) in [
        ("groupBy=week", "groupBy"),
        ("format=xml", "format"),
        ("from=yesterday", "from"),
        ("to=2020-13-01", "to"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("from=2020-01-01&to=2026-01-01", "to"),
    ] {
        app.get(&format!("/billing/usage?{query}"), &owner)
            .await
            .expect_validation(field);
    }
    let csv = app
        .get("/billing/usage?format=csv&groupBy=task", &owner)
        .await;
    csv.expect(200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert_eq!(
        csv.text,
        "taskUuid,taskName,poolUuid,poolName,slotSeconds,busySlotSeconds,idleSlotSeconds,\
         cost,busyCost,idleCost,currency\r\n"
    );
}

#[tokio::test]
async fn a_price_finer_than_a_billion_th_is_refused() {
    let app = spawn_app().await;
    let body = serde_json::json!({"pricePerSlotHour": "0.0000000001"});
    app.put_json("/profiles/docker-batch", &app.operator_token, &body)
        .await
        .expect_validation("pricePerSlotHour");
    let body = serde_json::json!({"pricePerSlotHour": "0.000000001"});
    app.put_json("/profiles/docker-batch", &app.operator_token, &body)
        .await
        .expect(200);
}
