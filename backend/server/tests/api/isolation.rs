//! Tenant isolation: another tenant's objects answer 404 on every route and never show up
//! in listings.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Tenant A (the bootstrap tenant) with one of everything; tenant B a fresh tenant.
struct TwoTenants {
    app: TestApp,
    b: String,
    pool: String,
    task: String,
    job: String,
    token_uuid: String,
    token: String,
}

async fn two_tenants() -> TwoTenants {
    let app = spawn_app().await;
    let (_, b) = app.create_tenant("tenant-b").await;
    let pool = app.create_idle_pool(&app.owner_token, "a-pool").await;
    let task = app
        .create_task(&app.owner_token, &task_body("a-task", &pool, 2))
        .await;
    let job = app
        .create_job(&app.owner_token, &job_body("a-job", Some(&pool)))
        .await;
    app.create_task(&app.owner_token, &job_task_body("a-job-task", &job, 1))
        .await;
    let token = app
        .create_token_with(&json!({"name": "a-token", "role": "member"}))
        .await;
    TwoTenants {
        b,
        pool,
        task,
        job,
        token_uuid: uuid_of(&token),
        token: token["token"].as_str().unwrap().to_string(),
        app,
    }
}

fn routes_on_a(t: &TwoTenants) -> Vec<(Method, String, Option<Value>)> {
    let (pool, task, job, token) = (&t.pool, &t.task, &t.job, &t.token_uuid);
    let mut routes = vec![
        (Method::GET, format!("/pools/{pool}"), None),
        (
            Method::PUT,
            format!("/pools/{pool}"),
            Some(pool_body("hijacked")),
        ),
        (Method::POST, format!("/pools/{pool}/close"), None),
        (Method::POST, format!("/pools/{pool}/resize"), None),
        (Method::GET, format!("/pools/{pool}/nodes"), None),
        (
            Method::GET,
            format!("/pools/{pool}/scaling-decisions"),
            None,
        ),
        (Method::GET, format!("/tasks/{task}"), None),
        (Method::POST, format!("/tasks/{task}/abort"), None),
        (Method::GET, format!("/jobs/{job}"), None),
        (Method::GET, format!("/jobs/{job}/tasks"), None),
        (Method::POST, format!("/jobs/{job}/terminate"), None),
        (Method::DELETE, format!("/jobs/{job}?force=True"), None),
        (Method::DELETE, format!("/jobs/{job}?force=False"), None),
        (Method::DELETE, format!("/tokens/{token}"), None),
        (Method::DELETE, format!("/tasks/{task}"), None),
        (Method::DELETE, format!("/pools/{pool}"), None),
        // Creating in B with A's pool or job.
        (
            Method::POST,
            "/tasks".into(),
            Some(task_body("stowaway", pool, 1)),
        ),
        (
            Method::POST,
            "/tasks".into(),
            Some(job_task_body("stowaway", job, 1)),
        ),
        (
            Method::POST,
            "/jobs/".into(),
            Some(job_body("stowaway", Some(pool))),
        ),
    ];
    for stream in ["stdout", "stderr"] {
        for suffix in ["", "/0"] {
            let path = format!("/tasks/{task}/{stream}{suffix}");
            routes.push((Method::GET, path.clone(), None));
            routes.push((Method::POST, path, None));
        }
    }
    routes
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

async fn assert_a_untouched(t: &TwoTenants) {
    let app = &t.app;
    let pool = app.get_pool(&app.owner_token, &t.pool).await;
    assert_eq!(pool["name"], "a-pool", "{pool}");
    assert_state_in(&pool, &POOL_STATES[..5]);
    let task = app.get_task(&app.owner_token, &t.task).await;
    assert_state_in(&task, UNFINISHED_TASK_STATES);
    let job = app.get_job(&app.owner_token, &t.job).await;
    assert_eq!(job["state"], "Active", "{job}");
    let job_tasks = app
        .get(&format!("/jobs/{}/tasks", t.job), &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(job_tasks.as_array().unwrap().len(), 1, "{job_tasks}");
    app.get("/pools", &t.token).await.expect(200);
    assert_eq!(app.list_uuids("/tasks", &app.owner_token).await.len(), 2);
}

#[tokio::test]
async fn another_tenants_objects_are_404_on_every_route() {
    let t = two_tenants().await;
    for (method, path, body) in routes_on_a(&t) {
        let response = send(&t.app, &t.b, &method, &path, &body).await;
        assert_eq!(
            response.status, 404,
            "tenant B: {method} {path} → {} {} (expected 404)",
            response.status, response.text
        );
        response.expect_error(404, "not_found", &[]);
    }
    assert_a_untouched(&t).await;
    // Nothing was created in B either.
    assert!(t.app.list_uuids("/tasks", &t.b).await.is_empty());
    assert!(
        t.app
            .walk("/jobs/paginate", &t.b, Value::Null, 50)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_bulk_item_naming_another_tenants_pool_is_404() {
    let t = two_tenants().await;
    let b_pool = t.app.create_idle_pool(&t.b, "b-pool").await;
    let answers = t
        .app
        .post_json(
            "/tasks",
            &t.b,
            &json!([
                task_body("mine", &b_pool, 1),
                task_body("theirs", &t.pool, 1)
            ]),
        )
        .await
        .expect_json(200);
    let answers = answers.as_array().unwrap();
    assert!(
        answers[0]["statusCode"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s)),
        "{answers:?}"
    );
    assert_eq!(answers[1]["statusCode"], 404, "{answers:?}");
    assert_a_untouched(&t).await;
}

#[tokio::test]
async fn listings_never_show_another_tenants_objects() {
    let t = two_tenants().await;
    let app = &t.app;
    // B has objects of its own, so empty answers are not the only way to pass.
    let b_pool = app.create_idle_pool(&t.b, "b-pool").await;
    let b_task = app
        .create_task(&t.b, &task_body("b-task", &b_pool, 1))
        .await;
    let b_job = app
        .create_job(&t.b, &job_body("b-job", Some(&b_pool)))
        .await;

    assert_eq!(app.list_uuids("/pools", &t.b).await, vec![b_pool.clone()]);
    assert_eq!(app.list_uuids("/tasks", &t.b).await, vec![b_task.clone()]);
    for path in ["/pools/paginate", "/pools/summaries/paginate"] {
        assert_eq!(
            app.walk(path, &t.b, Value::Null, 1).await,
            vec![b_pool.clone()],
            "{path}"
        );
    }
    for path in ["/tasks/paginate", "/tasks/summaries/paginate"] {
        assert_eq!(
            app.walk(path, &t.b, Value::Null, 1).await,
            vec![b_task.clone()],
            "{path}"
        );
    }
    assert_eq!(
        app.walk("/jobs/paginate", &t.b, Value::Null, 1).await,
        vec![b_job.clone()]
    );
    // A filter naming A's uuid still finds nothing.
    let by_uuid = json!({"operator": "Equal", "field": "Uuid", "value": t.pool});
    assert!(
        app.list_page("/pools/paginate", &t.b, by_uuid)
            .await
            .is_empty()
    );

    let tokens = app.get("/tokens", &t.b).await.expect_json(200)["items"].clone();
    assert!(
        !tokens
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["uuid"] == t.token_uuid.as_str()),
        "{tokens}"
    );
    let users = app.get("/users", &t.b).await.expect_json(200)["items"].clone();
    assert!(
        !users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "owner@default"),
        "{users}"
    );
    let info = app.get("/info", &t.b).await.expect_json(200);
    assert_eq!(info["poolCount"], 1, "{info}");
    assert_eq!(info["taskCount"], 1, "{info}");

    // And the other way round.
    assert!(
        !app.list_uuids("/pools", &app.owner_token)
            .await
            .contains(&b_pool)
    );
    assert!(
        !app.list_uuids("/tasks", &app.owner_token)
            .await
            .contains(&b_task)
    );
    app.get(&format!("/pools/{b_pool}"), &app.owner_token)
        .await
        .expect(404);
    app.get(&format!("/jobs/{b_job}"), &app.owner_token)
        .await
        .expect(404);
}
