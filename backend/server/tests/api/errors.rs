//! Malformed requests: bad JSON, wrong shapes, oversized bodies. Never a server error.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    for path in [
        "/pools",
        "/tasks",
        "/jobs/",
        "/tokens",
        "/users",
        "/pools/paginate",
    ] {
        let response = app
            .post_raw(
                path,
                &app.owner_token,
                "{\"name\": ".to_string(),
                "application/json",
            )
            .await;
        assert_eq!(response.status, 400, "{path}: {response:?}");
        let body = response.json();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
    let response = app
        .request(
            Method::PUT,
            &format!("/pools/{pool}"),
            Auth::Raw(&app.owner_token),
            Body::Text("not json at all".to_string(), "application/json"),
        )
        .await;
    assert_eq!(response.status, 400, "{response:?}");
    let response = app
        .post_raw(
            "/tenants",
            &app.operator_token,
            "[1, 2,".to_string(),
            "application/json",
        )
        .await;
    assert_eq!(response.status, 400, "{response:?}");
}

#[tokio::test]
async fn wrong_json_types_are_400_or_422() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let cases = [
        (
            "/pools",
            json!({"name": 5, "profile": "docker-batch", "instanceCount": 1}),
        ),
        (
            "/pools",
            json!({"name": "x", "profile": "docker-batch", "instanceCount": "many"}),
        ),
        (
            "/pools",
            json!({"name": "x", "profile": "docker-batch", "instanceCount": 1, "elasticProperty": "yes"}),
        ),
        (
            "/pools",
            json!({"name": "x", "profile": "docker-batch", "instanceCount": 1, "constants": {"a": 1}}),
        ),
        (
            "/pools",
            json!({"name": "x", "profile": "docker-batch", "instanceCount": 1, "scaling": {"policies": 3}}),
        ),
        ("/pools", json!("just a string")),
        (
            "/tasks",
            json!({"name": "t", "poolUuid": pool, "instanceCount": "four"}),
        ),
        (
            "/tasks",
            json!({"name": "t", "poolUuid": 42, "instanceCount": 1}),
        ),
        ("/tasks", json!(17)),
        ("/jobs/", json!({"name": ["not", "a", "string"]})),
        (
            "/tokens",
            json!({"name": "t", "role": "member", "expiresInSeconds": "soon"}),
        ),
        ("/users", json!({"email": 3, "role": "member"})),
        ("/pools/paginate", json!({"maximumResults": "ten"})),
    ];
    for (path, body) in cases {
        let response = app.post_json(path, &app.owner_token, &body).await;
        assert!(
            matches!(response.status, 400 | 422),
            "{path} {body}: expected 400 or 422, got {} {}",
            response.status,
            response.text
        );
        let error = response.json();
        let code = error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no code in {error}"));
        let expected = if response.status == 400 {
            "validation"
        } else {
            "unprocessable"
        };
        assert_eq!(code, expected, "{path} {body}: {error}");
    }
    assert_eq!(app.list_uuids("/pools", &app.owner_token).await, vec![pool]);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let app = spawn_app().await;
    let mut body = pool_body("huge");
    body["labels"] = json!({"padding": "x".repeat(1024 * 1024 + 16)});
    let response = app.post_json("/pools", &app.owner_token, &body).await;
    response.expect_error(413, "payload_too_large", &[]);
    assert!(app.list_uuids("/pools", &app.owner_token).await.is_empty());

    // Just under the limit is fine.
    let mut body = pool_body("big");
    body["labels"] = json!({"padding": "x".repeat(512 * 1024)});
    app.create_pool(&app.owner_token, &body).await;
}

#[tokio::test]
async fn a_huge_bulk_submit_is_413() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let mut one = task_body("padded", &pool, 1);
    one["labels"] = json!({"padding": "y".repeat(64 * 1024)});
    let bodies = serde_json::Value::Array(vec![one; 20]);
    app.post_json("/tasks", &app.owner_token, &bodies)
        .await
        .expect_error(413, "payload_too_large", &[]);
    assert!(app.list_uuids("/tasks", &app.owner_token).await.is_empty());
}

#[tokio::test]
async fn errors_are_json_with_message_and_code() {
    let app = spawn_app().await;
    let cases = [
        app.get_with("/pools", Auth::None).await,
        app.get(&format!("/pools/{}", random_uuid()), &app.owner_token)
            .await,
        app.get("/tenants", &app.owner_token).await,
        app.post_json("/pools", &app.owner_token, &pool_body(""))
            .await,
    ];
    let expected = [
        (401, "unauthorized"),
        (404, "not_found"),
        (403, "forbidden"),
        (400, "validation"),
    ];
    for (response, (status, code)) in cases.iter().zip(expected) {
        response.expect_error(status, code, &[]);
        assert!(
            response.content_type.starts_with("application/json"),
            "{response:?}"
        );
    }
}

#[tokio::test]
async fn a_path_uuid_that_is_not_a_uuid_is_a_client_error() {
    let app = spawn_app().await;
    for path in ["/pools/not-a-uuid", "/tasks/not-a-uuid", "/jobs/not-a-uuid"] {
        let response = app.get(path, &app.owner_token).await;
        assert!(matches!(response.status, 400 | 404), "{path}: {response:?}");
    }
}
