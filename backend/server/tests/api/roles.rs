//! Roles: viewer/billing read only, member without account management, operator out of
//! tenant routes, tenants out of platform routes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Objects of the default tenant every write route can aim at.
struct Fixture {
    pool: String,
    task: String,
    job: String,
    token_uuid: String,
    token: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let pool = app.create_idle_pool(&app.owner_token, "target").await;
    let task = app
        .create_task(&app.owner_token, &task_body("target", &pool, 1))
        .await;
    let job = app
        .create_job(&app.owner_token, &job_body("target", Some(&pool)))
        .await;
    app.create_task(&app.owner_token, &job_task_body("in-job", &job, 1))
        .await;
    let token = app
        .create_token_with(&json!({"name": "target", "role": "member"}))
        .await;
    Fixture {
        pool,
        task,
        job,
        token_uuid: uuid_of(&token),
        token: token["token"].as_str().unwrap().to_string(),
    }
}

fn write_routes(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    let (pool, task, job, token) = (&f.pool, &f.task, &f.job, &f.token_uuid);
    vec![
        (Method::POST, "/pools".into(), Some(pool_body("denied"))),
        (
            Method::PUT,
            format!("/pools/{pool}"),
            Some(pool_body("denied")),
        ),
        (Method::POST, format!("/pools/{pool}/close"), None),
        (Method::POST, format!("/pools/{pool}/resize"), None),
        (Method::DELETE, format!("/pools/{pool}"), None),
        (
            Method::POST,
            "/tasks".into(),
            Some(task_body("denied", pool, 1)),
        ),
        (
            Method::POST,
            "/tasks".into(),
            Some(json!([task_body("denied", pool, 1)])),
        ),
        (Method::POST, format!("/tasks/{task}/abort"), None),
        (Method::DELETE, format!("/tasks/{task}"), None),
        (
            Method::POST,
            "/jobs/".into(),
            Some(job_body("denied", None)),
        ),
        (Method::POST, "/jobs".into(), Some(job_body("denied", None))),
        (Method::POST, format!("/jobs/{job}/terminate"), None),
        (Method::DELETE, format!("/jobs/{job}?force=True"), None),
        (
            Method::POST,
            "/tokens".into(),
            Some(json!({"name": "denied", "role": "viewer"})),
        ),
        (Method::DELETE, format!("/tokens/{token}"), None),
        (
            Method::POST,
            "/users".into(),
            Some(json!({"email": "denied@example.com", "role": "viewer"})),
        ),
    ]
}

fn read_routes(f: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    let (pool, task, job) = (&f.pool, &f.task, &f.job);
    vec![
        (Method::GET, "/settings".into(), None),
        (Method::GET, "/info".into(), None),
        (Method::GET, "/profiles".into(), None),
        (Method::GET, "/profiles/docker-batch".into(), None),
        (Method::GET, "/pools".into(), None),
        (Method::GET, format!("/pools/{pool}"), None),
        (Method::GET, format!("/pools/{pool}/nodes"), None),
        (
            Method::GET,
            format!("/pools/{pool}/scaling-decisions"),
            None,
        ),
        (Method::POST, "/pools/paginate".into(), Some(json!({}))),
        (
            Method::POST,
            "/pools/summaries/paginate".into(),
            Some(json!({})),
        ),
        (Method::GET, "/tasks".into(), None),
        (Method::GET, format!("/tasks/{task}"), None),
        (Method::GET, format!("/tasks/{task}/stdout"), None),
        (Method::GET, format!("/tasks/{task}/stderr/0"), None),
        (Method::POST, "/tasks/paginate".into(), Some(json!({}))),
        (
            Method::POST,
            "/tasks/summaries/paginate".into(),
            Some(json!({})),
        ),
        (Method::GET, format!("/jobs/{job}"), None),
        (Method::GET, format!("/jobs/{job}/tasks"), None),
        (Method::POST, "/jobs/paginate".into(), Some(json!({}))),
    ]
}

async fn send(
    app: &TestApp,
    token: &str,
    method: &Method,
    path: &str,
    body: &Option<Value>,
) -> TestResponse {
    match body {
        Some(body) => {
            app.request(method.clone(), path, Auth::Raw(token), Body::Json(body))
                .await
        }
        None => {
            app.request(method.clone(), path, Auth::Raw(token), Body::None)
                .await
        }
    }
}

/// Nothing the refused writes aimed at has changed.
async fn assert_untouched(app: &TestApp, f: &Fixture) {
    let pool = app.get_pool(&app.owner_token, &f.pool).await;
    assert_eq!(pool["name"], "target", "{pool}");
    assert_state_in(&pool, &POOL_STATES[..5]);
    assert_state_in(
        &app.get_task(&app.owner_token, &f.task).await,
        UNFINISHED_TASK_STATES,
    );
    assert_eq!(
        app.get_job(&app.owner_token, &f.job).await["state"],
        "Active"
    );
    app.get("/pools", &f.token).await.expect(200);
    let pools = app.list_uuids("/pools", &app.owner_token).await;
    assert_eq!(
        pools,
        vec![f.pool.clone()],
        "a refused POST /pools created a pool"
    );
    let tasks = app.list_uuids("/tasks", &app.owner_token).await;
    assert_eq!(
        tasks.len(),
        2,
        "a refused POST /tasks created a task: {tasks:?}"
    );
    let users = app.get("/users", &app.owner_token).await.expect_json(200)["items"].clone();
    assert!(
        !users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "denied@example.com"),
        "a refused POST /users created a user"
    );
    let tokens = app.get("/tokens", &app.owner_token).await.expect_json(200)["items"].clone();
    assert!(
        !tokens
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "denied"),
        "a refused POST /tokens created a token"
    );
}

async fn assert_read_only(role: &str) {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let token = app.create_token(role).await;
    for (method, path, body) in write_routes(&f) {
        let response = send(&app, &token, &method, &path, &body).await;
        assert_eq!(
            response.status, 403,
            "{role}: {method} {path} → {} {}",
            response.status, response.text
        );
        response.expect_error(403, "forbidden", &[]);
    }
    for (method, path, body) in read_routes(&f) {
        let response = send(&app, &token, &method, &path, &body).await;
        assert_eq!(
            response.status, 200,
            "{role}: {method} {path} → {} {}",
            response.status, response.text
        );
    }
    // Account management is the owner's.
    app.get("/tokens", &token)
        .await
        .expect_error(403, "forbidden", &[]);
    app.get("/users", &token)
        .await
        .expect_error(403, "forbidden", &[]);
    assert_untouched(&app, &f).await;
}

#[tokio::test]
async fn a_viewer_reads_but_never_writes() {
    assert_read_only("viewer").await;
}

#[tokio::test]
async fn billing_reads_but_never_writes() {
    assert_read_only("billing").await;
}

#[tokio::test]
async fn a_member_works_but_does_not_manage_accounts() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let member = app.create_token("member").await;
    app.post_json(
        "/tokens",
        &member,
        &json!({"name": "denied", "role": "viewer"}),
    )
    .await
    .expect_error(403, "forbidden", &[]);
    app.get("/tokens", &member)
        .await
        .expect_error(403, "forbidden", &[]);
    app.delete(&format!("/tokens/{}", f.token_uuid), &member)
        .await
        .expect_error(403, "forbidden", &[]);
    app.post_json(
        "/users",
        &member,
        &json!({"email": "denied@example.com", "role": "viewer"}),
    )
    .await
    .expect_error(403, "forbidden", &[]);
    app.get("/users", &member)
        .await
        .expect_error(403, "forbidden", &[]);
    assert_untouched(&app, &f).await;

    // Pools, tasks and jobs are the member's to manage.
    let pool = app.create_pool(&member, &pool_body("members")).await;
    let task = app
        .create_task(&member, &task_body("members", &pool, 1))
        .await;
    app.post_empty(&format!("/tasks/{task}/abort"), &member)
        .await
        .expect(200);
    let job = app
        .create_job(&member, &job_body("members", Some(&pool)))
        .await;
    app.delete(&format!("/jobs/{job}?force=False"), &member)
        .await
        .expect(204);
    app.post_empty(&format!("/pools/{pool}/resize"), &member)
        .await
        .expect(200);
    app.post_empty(&format!("/pools/{pool}/close"), &member)
        .await
        .expect(200);
    // The member's pool belongs to the tenant: the owner sees it.
    app.get_pool(&app.owner_token, &pool).await;
}

#[tokio::test]
async fn the_operator_has_no_tenant_routes() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for (method, path, body) in write_routes(&f).into_iter().chain(read_routes(&f)) {
        if matches!(
            path.as_str(),
            "/settings" | "/profiles" | "/profiles/docker-batch"
        ) {
            continue;
        }
        let response = send(&app, &app.operator_token, &method, &path, &body).await;
        assert_eq!(
            response.status, 403,
            "operator: {method} {path} → {} {}",
            response.status, response.text
        );
        response.expect_error(403, "forbidden", &[]);
    }
    app.get("/tokens", &app.operator_token)
        .await
        .expect_error(403, "forbidden", &[]);
    app.get("/users", &app.operator_token)
        .await
        .expect_error(403, "forbidden", &[]);
    assert_untouched(&app, &f).await;
}

#[tokio::test]
async fn an_owner_of_another_tenant_is_an_owner_there_only() {
    let app = spawn_app().await;
    let (_, other) = app.create_tenant("other").await;
    let created = app
        .post_json(
            "/tokens",
            &other,
            &json!({"name": "their-viewer", "role": "viewer"}),
        )
        .await
        .expect_json(201);
    let viewer = created["token"].as_str().unwrap();
    app.get("/pools", viewer).await.expect(200);
    app.post_json("/pools", viewer, &pool_body("no"))
        .await
        .expect_error(403, "forbidden", &[]);
    let ours = app.get("/tokens", &app.owner_token).await.expect_json(200)["items"].clone();
    assert!(
        !ours
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "their-viewer"),
        "{ours}"
    );
}
