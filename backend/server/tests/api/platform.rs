//! GET /health, /metrics, /openapi.json, /settings, /info, and the `//` path prefix.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_answers_ok_without_a_token() {
    let app = spawn_app().await;
    let body = app.get_with("/health", Auth::None).await.expect_json(200);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn metrics_is_prometheus_text_without_a_token() {
    let app = spawn_app().await;
    let response = app.get_with("/metrics", Auth::None).await;
    response.expect(200);
    assert!(
        response.content_type.starts_with("text/plain"),
        "content type {:?}",
        response.content_type
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&response.text).is_err(),
        "/metrics must be text, not JSON: {}",
        response.text
    );
    // Prometheus exposition: comment lines or `name value` samples.
    for line in response.text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.starts_with('#') || line.split_whitespace().count() >= 2,
            "not a Prometheus line: {line:?}"
        );
    }
}

#[tokio::test]
async fn openapi_document_lists_the_pool_routes() {
    let app = spawn_app().await;
    let doc = app
        .get_with("/openapi.json", Auth::None)
        .await
        .expect_json(200);
    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with('3'), "openapi version {version}");
    let paths = doc["paths"].as_object().expect("paths is an object");
    assert!(
        paths.contains_key("/pools"),
        "paths without /pools: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    assert!(
        paths.contains_key("/tasks"),
        "paths without /tasks: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn settings_reports_no_storage() {
    let app = spawn_app().await;
    let body = app
        .get("/settings", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(body, json!({"storage": null}));
    // The key must be present and null: that is what turns storage off in the SDK.
    assert!(body.as_object().unwrap().contains_key("storage"));
}

#[tokio::test]
async fn settings_answers_any_token_including_the_operator() {
    let app = spawn_app().await;
    let body = app
        .get("/settings", &app.operator_token)
        .await
        .expect_json(200);
    assert_eq!(body, json!({"storage": null}));
}

#[tokio::test]
async fn settings_needs_a_token() {
    let app = spawn_app().await;
    app.get_with("/settings", Auth::None)
        .await
        .expect_error(401, "unauthorized", &[]);
}

#[tokio::test]
async fn double_slash_settings_is_settings() {
    let app = spawn_app().await;
    let body = app
        .get("//settings", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(body, json!({"storage": null}));
}

#[tokio::test]
async fn double_slash_prefix_works_on_other_routes() {
    let app = spawn_app().await;
    let pool = app.create_default_pool("slashes").await;
    let listed = app.get("//pools", &app.owner_token).await.expect_json(200);
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .any(|p| p["uuid"] == pool.as_str())
    );
    let fetched = app
        .get(&format!("//pools/{pool}"), &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(fetched["uuid"], pool.as_str());
    let created = app
        .post_json("//pools", &app.owner_token, &pool_body("via-slashes"))
        .await
        .expect_json(201);
    uuid_of(&created);
}

#[tokio::test]
async fn info_counts_the_tenants_objects() {
    let app = spawn_app().await;
    let info = app.get("/info", &app.owner_token).await.expect_json(200);
    assert_eq!(info["email"], "owner@default", "{info}");
    for field in [
        "poolCount",
        "taskCount",
        "runningPoolCount",
        "runningTaskCount",
        "runningInstanceCount",
        "runningCoreCount",
    ] {
        assert!(
            info[field].is_u64(),
            "{field} is not a non-negative integer in {info}"
        );
    }
    assert_eq!(info["poolCount"], 0, "{info}");
    assert_eq!(info["taskCount"], 0, "{info}");

    let pool = app.create_idle_pool(&app.owner_token, "counted").await;
    app.create_task(&app.owner_token, &task_body("counted", &pool, 1))
        .await;
    let info = app.get("/info", &app.owner_token).await.expect_json(200);
    assert_eq!(info["poolCount"], 1, "{info}");
    assert_eq!(info["taskCount"], 1, "{info}");
}

#[tokio::test]
async fn info_is_a_tenant_route() {
    let app = spawn_app().await;
    app.get("/info", &app.operator_token)
        .await
        .expect_error(403, "forbidden", &[]);
    app.get_with("/info", Auth::None)
        .await
        .expect_error(401, "unauthorized", &[]);
}

#[tokio::test]
async fn unknown_route_is_a_client_error() {
    let app = spawn_app().await;
    let response = app.get("/no-such-route", &app.owner_token).await;
    assert_eq!(response.status, 404, "{response:?}");
}

#[tokio::test]
async fn the_document_describes_bodies_errors_and_the_bearer_scheme() {
    let app = spawn_app().await;
    let doc = app
        .get_with("/openapi.json", Auth::None)
        .await
        .expect_json(200);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    let error_ref = json!({"$ref": "#/components/schemas/ErrorBody"});
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], json!(["message", "code"]), "{error}");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let schema = &responses["500"]["content"]["application/json"]["schema"];
            assert_eq!(
                schema, &error_ref,
                "{method} {path}: 500 without the error body"
            );
            let public = op["security"] == json!([{}]);
            if public {
                // A public route answers 401 only for what it checks itself (the sign-in
                // route's refused password), never "no valid token".
                if let Some(r) = responses.get("401") {
                    assert_ne!(r["description"], "no valid token", "{method} {path}");
                }
                assert!(!responses.contains_key("403"), "{method} {path}");
            } else {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path}");
            }
        }
    }
    assert!(operations > 60, "{operations} operations");
    // Typed bodies are described, with the constraints the server checks.
    let token_body = &doc["components"]["schemas"]["TokenBody"];
    assert_eq!(
        token_body["required"],
        json!(["name", "role"]),
        "{token_body}"
    );
    let tokens = &doc["paths"]["/tokens"]["get"];
    let params: Vec<&str> = tokens["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["limit", "pageToken"]);
    // What the streams send besides their route's body is described too.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["OutputEnd"]["required"],
        json!(["state"]),
        "{}",
        schemas["OutputEnd"]
    );
    assert!(
        schemas["StreamReset"]["properties"]["reason"].is_object(),
        "{}",
        schemas["StreamReset"]
    );
    // Instants are marked as such, budgets' included.
    for field in ["periodFrom", "periodTo", "creationDate", "lastModified"] {
        assert_eq!(
            schemas["Budget"]["properties"][field]["format"], "date-time",
            "Budget.{field}"
        );
    }
    // An event is its change's fields and its own (`allOf`).
    let own = schemas["Event"]["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part["properties"]["at"].is_object())
        .expect("Event's own fields");
    assert_eq!(own["properties"]["at"]["format"], "date-time");
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow() {
    let app = spawn_app().await;
    let client = http_client();
    for (method, path, allow) in [
        ("TRACE", "/pools", "GET, POST"),
        ("DELETE", "/tokens", "GET, POST"),
        (
            "PATCH",
            "/pools/0d6b6ad4-5a8f-4e0a-8f7e-4c0f2ad1d111",
            "GET, PUT, DELETE",
        ),
        ("GET", "/pools/paginate", "POST"),
        ("OPTIONS", "/billing/usage", "GET"),
    ] {
        let answer = client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .bearer_auth(&app.owner_token)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let header = answer
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value = answer.json().await.unwrap();
        if method == "GET" {
            // `/pools/{uuid}` takes GET /pools/paginate first, as the router does: a pool
            // named "paginate" does not exist.
            assert_eq!(status, 404, "{method} {path}: {body}");
            continue;
        }
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(header.as_deref(), Some(allow), "{method} {path}");
        assert_eq!(body["code"], "method_not_allowed", "{body}");
    }
    app.get("/no/such/route", &app.owner_token)
        .await
        .expect_error(404, "not_found", &["no such route"]);
}
