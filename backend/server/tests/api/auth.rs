//! Authentication: header forms, bad, revoked and expiring tokens.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const TOKEN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/pools"),
    ("GET", "/tasks"),
    ("GET", "/profiles"),
    ("GET", "/info"),
    ("GET", "/settings"),
    ("POST", "/pools/paginate"),
    ("POST", "/pools"),
    ("POST", "/tasks"),
    ("POST", "/jobs/"),
    ("GET", "/tokens"),
    ("GET", "/tenants"),
];

async fn call(app: &TestApp, method: &str, path: &str, auth: Auth<'_>) -> TestResponse {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    if method == Method::GET {
        app.request(method, path, auth, Body::None).await
    } else {
        app.request(method, path, auth, Body::Json(&pool_body("auth")))
            .await
    }
}

#[tokio::test]
async fn missing_authorization_header_is_401() {
    let app = spawn_app().await;
    for (method, path) in TOKEN_ROUTES {
        call(&app, method, path, Auth::None)
            .await
            .expect_error(401, "unauthorized", &[]);
    }
}

#[tokio::test]
async fn garbage_tokens_are_401() {
    let app = spawn_app().await;
    let tampered = {
        // Flip the last character of a real token: the signature no longer matches.
        let mut t = app.owner_token.clone();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    let garbage = [
        "garbage",
        "Bearer garbage",
        "Bearer ",
        "Basic b3duZXI6cGFzcw==",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        tampered.as_str(),
    ];
    for header in garbage {
        for (method, path) in [("GET", "/pools"), ("GET", "/settings"), ("POST", "/pools")] {
            call(&app, method, path, Auth::Header(header))
                .await
                .expect_error(401, "unauthorized", &[]);
        }
    }
}

#[tokio::test]
async fn raw_and_bearer_tokens_are_both_accepted() {
    let app = spawn_app().await;
    app.get_with("/pools", Auth::Raw(&app.owner_token))
        .await
        .expect(200);
    app.get_with("/pools", Auth::Bearer(&app.owner_token))
        .await
        .expect(200);
    let created = app
        .request(
            Method::POST,
            "/pools",
            Auth::Bearer(&app.owner_token),
            Body::Json(&pool_body("bearer")),
        )
        .await
        .expect_json(201);
    uuid_of(&created);
    app.get_with("/tenants", Auth::Bearer(&app.operator_token))
        .await
        .expect(200);
    app.get_with("/tenants", Auth::Raw(&app.operator_token))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let app = spawn_app().await;
    let created = app
        .create_token_with(&json!({"name": "short-lived", "role": "member"}))
        .await;
    let token = created["token"].as_str().unwrap().to_string();
    let uuid = uuid_of(&created);
    app.get("/pools", &token).await.expect(200);

    app.delete(&format!("/tokens/{uuid}"), &app.owner_token)
        .await
        .expect(204);

    app.get("/pools", &token)
        .await
        .expect_error(401, "unauthorized", &[]);
    app.get_with("/pools", Auth::Bearer(&token))
        .await
        .expect_error(401, "unauthorized", &[]);
    app.post_json("/pools", &token, &pool_body("after-revoke"))
        .await
        .expect_error(401, "unauthorized", &[]);
    // The owner's own token is untouched.
    app.get("/pools", &app.owner_token).await.expect(200);

    let listed = app.get("/tokens", &app.owner_token).await.expect_json(200)["items"].clone();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["uuid"] == uuid.as_str())
        .unwrap_or_else(|| panic!("revoked token not listed: {listed}"));
    assert_eq!(entry["revoked"], true, "{entry}");
}

#[tokio::test]
async fn revoking_the_owner_token_of_a_tenant_locks_it_out() {
    let app = spawn_app().await;
    let (_, tenant_token) = app.create_tenant(&unique("revoke-me")).await;
    let tokens = app.get("/tokens", &tenant_token).await.expect_json(200)["items"].clone();
    let own = tokens.as_array().unwrap();
    assert_eq!(
        own.len(),
        1,
        "a new tenant has exactly its owner token: {tokens}"
    );
    let uuid = uuid_of(&own[0]);
    app.delete(&format!("/tokens/{uuid}"), &tenant_token)
        .await
        .expect(204);
    app.get("/tokens", &tenant_token)
        .await
        .expect_error(401, "unauthorized", &[]);
}

#[tokio::test]
async fn an_expiring_token_carries_its_expiry() {
    let app = spawn_app().await;
    let created = app
        .create_token_with(&json!({"name": "one-second", "role": "member", "expiresInSeconds": 1}))
        .await;
    let creation = assert_wire_date(&created, "creationDate");
    let expires = assert_wire_date(&created, "expiresAt");
    // One second later (whole-second rounding of the expiry is tolerated).
    let lifetime = (expires - creation).num_microseconds().unwrap();
    assert!(
        lifetime > 0 && lifetime <= 2_000_000,
        "expiresAt - creationDate = {lifetime} µs, expected about 1 s: {created}"
    );
    let now = chrono::Utc::now();
    assert!(
        (expires - now).num_seconds().abs() <= 5,
        "expiresAt {expires} is far from now {now}"
    );

    let forever = app
        .create_token_with(&json!({"name": "forever", "role": "member"}))
        .await;
    assert!(forever["expiresAt"].is_null(), "{forever}");
    assert!(
        forever.as_object().unwrap().contains_key("expiresAt"),
        "{forever}"
    );
    let token = forever["token"].as_str().unwrap();
    app.get("/pools", token).await.expect(200);

    let hour = app
        .create_token_with(&json!({"name": "hour", "role": "viewer", "expiresInSeconds": 3600}))
        .await;
    let lifetime = (assert_wire_date(&hour, "expiresAt") - assert_wire_date(&hour, "creationDate"))
        .num_seconds();
    assert!((3599..=3601).contains(&lifetime), "{hour}");
    app.get("/pools", hour["token"].as_str().unwrap())
        .await
        .expect(200);
}

#[tokio::test]
async fn expires_in_seconds_must_be_positive() {
    let app = spawn_app().await;
    for bad in [json!(0), json!(-1), json!(-3600)] {
        app.post_json(
            "/tokens",
            &app.owner_token,
            &json!({"name": "bad", "role": "member", "expiresInSeconds": bad}),
        )
        .await
        .expect_validation("expiresInSeconds");
    }
}
