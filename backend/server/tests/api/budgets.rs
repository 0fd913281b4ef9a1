//! `/budgets` on a real server: create, read, page, replace and delete; every bad field
//! named; another tenant's budgets are 404; who may read and write; `Idempotency-Key`; the
//! per-tenant limit. (Consumption, alerts and overrun policies are checked over real
//! nodes with an injected clock in the e2e suite.)

use chrono::{Datelike, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

fn monthly(name: &str, amount: &str) -> Value {
    json!({"name": name, "amount": amount, "period": "monthly"})
}

async fn create(app: &TestApp, token: &str, body: &Value) -> Value {
    app.post_json("/budgets", token, body)
        .await
        .expect_json(201)
}

#[tokio::test]
async fn a_budget_is_created_read_listed_replaced_and_deleted() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let body = json!({
        "name": "march",
        "amount": "250.5",
        "period": "monthly",
        "overrunPolicy": "BlockNew",
        "alertThresholds": [1.0, 0.5, 0.8, 0.5],
    });
    let created = create(&app, &owner, &body).await;
    let uuid = created["uuid"].as_str().expect("uuid").to_owned();
    assert_eq!(created["name"], "march");
    assert_eq!(created["amount"], "250.500000");
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["period"], "monthly");
    assert_eq!(created["overrunPolicy"], "BlockNew");
    // Sorted, duplicates dropped.
    assert_eq!(created["alertThresholds"], json!([0.5, 0.8, 1.0]));
    // Nothing ran: nothing consumed, nothing forecast.
    assert_eq!(created["consumed"], "0.000000");
    assert_eq!(created["remaining"], "250.500000");
    assert_eq!(created["forecast"], "0.000000");
    assert_eq!(created["spent"], false);
    assert_eq!(created["firedThresholds"], json!([]));
    // The current calendar month, UTC.
    let now = Utc::now();
    let first = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .unwrap();
    assert_eq!(
        created["periodFrom"],
        first.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    );
    assert!(created["periodTo"].as_str().unwrap() > created["periodFrom"].as_str().unwrap());

    let got = app
        .get(&format!("/budgets/{uuid}"), &owner)
        .await
        .expect_json(200);
    assert_eq!(got["uuid"], uuid.as_str());
    assert_eq!(got["amount"], "250.500000");

    let page = app.get("/budgets", &owner).await.expect_json(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["uuid"], uuid.as_str());
    assert_eq!(page["nextPageToken"], Value::Null);

    // A PUT replaces every field; a range period reads back as given.
    let replaced = app
        .put_json(
            &format!("/budgets/{uuid}"),
            &owner,
            &json!({
                "name": "q3",
                "amount": 1000,
                "period": {"from": "2026-07-01", "to": "2026-10-01T00:00:00Z"},
                "overrunPolicy": "StopAndBlockAll",
                "alertThresholds": [],
            }),
        )
        .await
        .expect_json(200);
    assert_eq!(replaced["name"], "q3");
    assert_eq!(replaced["amount"], "1000.000000");
    assert_eq!(
        replaced["period"],
        json!({"from": "2026-07-01T00:00:00.000000Z", "to": "2026-10-01T00:00:00.000000Z"})
    );
    assert_eq!(replaced["periodFrom"], "2026-07-01T00:00:00.000000Z");
    assert_eq!(replaced["periodTo"], "2026-10-01T00:00:00.000000Z");
    assert_eq!(replaced["overrunPolicy"], "StopAndBlockAll");
    assert_eq!(replaced["alertThresholds"], json!([]));
    // Omitted: AlertOnly and the default thresholds.
    let defaults = app
        .put_json(&format!("/budgets/{uuid}"), &owner, &monthly("m", "1"))
        .await
        .expect_json(200);
    assert_eq!(defaults["overrunPolicy"], "AlertOnly");
    assert_eq!(defaults["alertThresholds"], json!([0.5, 0.8, 1.0]));

    app.delete(&format!("/budgets/{uuid}"), &owner)
        .await
        .expect(204);
    app.get(&format!("/budgets/{uuid}"), &owner)
        .await
        .expect_error(404, "not_found", &["budget"]);
    app.delete(&format!("/budgets/{uuid}"), &owner)
        .await
        .expect(404);
    app.get("/budgets/not-a-uuid", &owner).await.expect(404);
}

#[tokio::test]
async fn a_bad_budget_names_its_field() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let with = |key: &str, value: Value| {
        let mut body = monthly("b", "10");
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value;
        }
        body
    };
    for (body, field) in [
        (with("name", Value::Null), "name"),
        (with("name", json!("   ")), "name"),
        (with("name", json!("x".repeat(257))), "name"),
        (with("amount", Value::Null), "amount"),
        (with("amount", json!("0")), "amount"),
        (with("amount", json!("-5")), "amount"),
        (with("amount", json!("ten")), "amount"),
        (with("amount", json!("1.0000001")), "amount"),
        (with("amount", json!("1000000000000.01")), "amount"),
        (with("period", Value::Null), "period"),
        (with("period", json!("weekly")), "period"),
        (
            with("period", json!({"from": "2026-02-01", "to": "2026-02-01"})),
            "period.to",
        ),
        (
            with("period", json!({"from": "2025-01-01", "to": "2026-06-01"})),
            "period.to",
        ),
        (
            with("period", json!({"from": "tomorrow", "to": "2026-02-01"})),
            "period.from",
        ),
        (
            with("alertThresholds", json!([0.5, 0])),
            "alertThresholds[1]",
        ),
        (with("alertThresholds", json!([11])), "alertThresholds[0]"),
        (with("alertThresholds", json!([-0.5])), "alertThresholds[0]"),
        (
            with("alertThresholds", json!([0.33333])),
            "alertThresholds[0]",
        ),
        (
            with(
                "alertThresholds",
                json!([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]),
            ),
            "alertThresholds",
        ),
    ] {
        app.post_json("/budgets", &owner, &body)
            .await
            .expect_validation(field);
    }
    // JSON of the wrong shape: 422 naming the path.
    for (body, field) in [
        (with("overrunPolicy", json!("Sometimes")), "overrunPolicy"),
        (with("alertThresholds", json!("0.5")), "alertThresholds"),
        (with("name", json!(5)), "name"),
    ] {
        app.post_json("/budgets", &owner, &body)
            .await
            .expect_error(422, "unprocessable", &[field]);
    }
    // Nothing was created; a PUT is checked the same way.
    let page = app.get("/budgets", &owner).await.expect_json(200);
    assert_eq!(page["items"], json!([]));
    let uuid = create(&app, &owner, &monthly("ok", "1")).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put_json(
        &format!("/budgets/{uuid}"),
        &owner,
        &with("amount", json!("0")),
    )
    .await
    .expect_validation("amount");
}

#[tokio::test]
async fn budgets_page_in_creation_order_and_the_tenant_holds_at_most_a_hundred() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let mut made = Vec::new();
    for i in 0..100 {
        let b = create(&app, &owner, &monthly(&format!("b{i}"), "1")).await;
        made.push(b["uuid"].as_str().unwrap().to_owned());
    }
    app.post_json("/budgets", &owner, &monthly("one too many", "1"))
        .await
        .expect_error(409, "conflict", &["100 budgets"]);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/budgets?limit=30&pageToken={t}"),
            None => "/budgets?limit=30".to_owned(),
        };
        let page = app.get(&path, &owner).await.expect_json(200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 30);
        seen.extend(items.iter().map(|b| b["uuid"].as_str().unwrap().to_owned()));
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, made, "every budget once, in creation order");
    let first = app.get("/budgets", &owner).await.expect_json(200);
    assert_eq!(
        first["items"].as_array().unwrap().len(),
        100,
        "100 by default"
    );

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
        ("pageToken=bogus", "pageToken"),
        ("pageToken=at:nonsense", "pageToken"),
    ] {
        app.get(&format!("/budgets?{query}"), &owner)
            .await
            .expect_validation(field);
    }
    // A deleted one makes room.
    app.delete(&format!("/budgets/{}", made[0]), &owner)
        .await
        .expect(204);
    create(&app, &owner, &monthly("room", "1")).await;
}

#[tokio::test]
async fn another_tenants_budgets_are_not_found() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let mine = create(&app, &owner, &monthly("mine", "5")).await;
    let mine = mine["uuid"].as_str().unwrap();
    let (_, other) = app.create_tenant("elsewhere").await;
    app.get(&format!("/budgets/{mine}"), &other)
        .await
        .expect(404);
    app.put_json(&format!("/budgets/{mine}"), &other, &monthly("taken", "1"))
        .await
        .expect(404);
    app.delete(&format!("/budgets/{mine}"), &other)
        .await
        .expect(404);
    let theirs = app.get("/budgets", &other).await.expect_json(200);
    assert_eq!(theirs["items"], json!([]));
    // Still there, unchanged.
    let got = app
        .get(&format!("/budgets/{mine}"), &owner)
        .await
        .expect_json(200);
    assert_eq!(got["name"], "mine");
}

#[tokio::test]
async fn owners_and_billing_users_manage_budgets_others_cannot_see_them() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let billing = app.create_token("billing").await;
    let made = create(&app, &billing, &monthly("by billing", "5")).await;
    let uuid = made["uuid"].as_str().unwrap();
    app.put_json(
        &format!("/budgets/{uuid}"),
        &billing,
        &monthly("renamed", "6"),
    )
    .await
    .expect(200);
    app.get(&format!("/budgets/{uuid}"), &owner)
        .await
        .expect(200);
    for role in ["member", "viewer"] {
        let token = app.create_token(role).await;
        app.get("/budgets", &token)
            .await
            .expect_error(403, "forbidden", &[role]);
        app.get(&format!("/budgets/{uuid}"), &token)
            .await
            .expect(403);
        app.post_json("/budgets", &token, &monthly("no", "1"))
            .await
            .expect_error(403, "forbidden", &[role]);
        app.delete(&format!("/budgets/{uuid}"), &token)
            .await
            .expect(403);
    }
    // Operators have no tenant.
    app.get("/budgets", &app.operator_token).await.expect(403);
    app.delete(&format!("/budgets/{uuid}"), &billing)
        .await
        .expect(204);
}

#[tokio::test]
async fn a_retried_budget_creation_with_the_same_key_creates_one() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let body = monthly("keyed", "12");
    let post = |key: &'static str, body: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            let r = app
                .client
                .post(app.url("/budgets"))
                .bearer_auth(owner)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("POST /budgets");
            let status = r.status().as_u16();
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (
                status,
                replayed,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, replayed, first) = post("k-1", body.clone()).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, replayed, again) = post("k-1", body.clone()).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again["uuid"], first["uuid"]);
    let (status, _, error) = post("k-1", monthly("other", "1")).await;
    assert_eq!(status, 422, "{error}");
    let page = app.get("/budgets", &owner).await.expect_json(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn budget_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc = app
        .get_with("/openapi.json", Auth::None)
        .await
        .expect_json(200);
    for path in ["/budgets", "/budgets/{uuid}"] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    for schema in ["Budget", "BudgetBody", "Page_Budget", "OverrunPolicy"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}
