//! `Idempotency-Key` on `POST /pools`, `POST /tasks` and `POST /jobs`: a retry with the same
//! key and body answers the first result and creates nothing; another body is a 422.

use serde_json::{Value, json};

use crate::helpers::*;

async fn keyed(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, Value, bool) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let json = response.json().await.unwrap_or(Value::Null);
    (status, json, replayed)
}

#[tokio::test]
async fn a_retried_submit_with_the_same_key_creates_one_task() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let pool = app.create_idle_pool(&owner, "keyed").await;
    let body = task_body("once", &pool, 2);

    let (status, first, replayed) = keyed(&app, &owner, "/tasks", "retry-1", &body).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, again, replayed) = keyed(&app, &owner, "/tasks", "retry-1", &body).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again["uuid"], first["uuid"]);
    let tasks = app.get("/tasks", &owner).await.expect_json(200);
    assert_eq!(tasks.as_array().unwrap().len(), 1, "one task: {tasks}");

    // The same body spelt otherwise (keys in another order, other spacing): the same request.
    let respelt = {
        let mut fields: Vec<(&String, &Value)> = body.as_object().unwrap().iter().collect();
        fields.reverse();
        let inner: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{} : {}", json!(k), v))
            .collect();
        format!("{{ {} }}", inner.join(" ,\n "))
    };
    let response = app
        .client
        .post(app.url("/tasks"))
        .bearer_auth(&owner)
        .header("Idempotency-Key", "retry-1")
        .header("Content-Type", "application/json")
        .body(respelt)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 201);
    assert!(response.headers().get("idempotent-replayed").is_some());

    // The same key with another body: refused, nothing created.
    let other = task_body("twice", &pool, 2);
    let (status, error, _) = keyed(&app, &owner, "/tasks", "retry-1", &other).await;
    assert_eq!(status, 422, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    // A new key is a new task; no key at all too.
    let (status, _, _) = keyed(&app, &owner, "/tasks", "retry-2", &other).await;
    assert_eq!(status, 201);
    app.create_task(&owner, &body).await;
    let tasks = app.get("/tasks", &owner).await.expect_json(200);
    assert_eq!(tasks.as_array().unwrap().len(), 3);

    // Keys are the tenant's own: another tenant's same key creates its own task.
    let (_, theirs) = app.create_tenant("elsewhere").await;
    let their_pool = app.create_idle_pool(&theirs, "theirs").await;
    let (status, their_first, replayed) = keyed(
        &app,
        &theirs,
        "/tasks",
        "retry-1",
        &task_body("once", &their_pool, 2),
    )
    .await;
    assert_eq!((status, replayed), (201, false));
    assert_ne!(their_first["uuid"], first["uuid"]);
}

#[tokio::test]
async fn pools_and_jobs_are_created_once_per_key_and_failures_leave_the_key_free() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let body = idle_pool_body("keyed-pool");
    let (status, first, _) = keyed(&app, &owner, "/pools", "pool-1", &body).await;
    assert_eq!(status, 201);
    let (status, again, replayed) = keyed(&app, &owner, "/pools", "pool-1", &body).await;
    assert_eq!(
        (status, replayed, &again["uuid"]),
        (201, true, &first["uuid"])
    );
    let pools = app.get("/pools", &owner).await.expect_json(200);
    assert_eq!(pools.as_array().unwrap().len(), 1);

    let job = json!({"name": "keyed-job"});
    let (status, job_first, _) = keyed(&app, &owner, "/jobs", "job-1", &job).await;
    assert_eq!(status, 201);
    let (_, job_again, replayed) = keyed(&app, &owner, "/jobs", "job-1", &job).await;
    assert!(replayed);
    assert_eq!(job_again["uuid"], job_first["uuid"]);

    // A refused request keeps nothing: its retry is refused again, not replayed.
    let bad = json!({"name": "bad", "profile": "no-such-profile", "instanceCount": 1});
    let (status, _, replayed) = keyed(&app, &owner, "/pools", "pool-2", &bad).await;
    assert_eq!((status, replayed), (400, false));
    let (status, _, replayed) = keyed(&app, &owner, "/pools", "pool-2", &bad).await;
    assert_eq!((status, replayed), (400, false));

    for key in ["", &"k".repeat(256), "has space"] {
        let (status, error, _) = keyed(&app, &owner, "/pools", key, &body).await;
        assert_eq!(status, 400, "key {key:?}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key")
        );
    }
}

#[tokio::test]
async fn a_request_whose_twin_is_still_answered_is_told_to_retry_shortly() {
    use hearth_server::entities::idempotency_key;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let job = json!({"name": "twin"});
    let (status, first, _) = keyed(&app, &owner, "/jobs", "twin-1", &job).await;
    assert_eq!(status, 201);
    // The first request's row as it is while that request runs: claimed, not answered.
    let url = app.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            app.data_dir.join("hearth.db").display()
        )
    });
    let db = sea_orm::Database::connect(url)
        .await
        .expect("the app's database");
    let row = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Key.eq("twin-1"))
        .one(&db)
        .await
        .unwrap()
        .expect("the key's row");
    let (kept_status, kept_response) = (row.status, row.response.clone());
    idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::Status,
            Expr::value(Option::<i32>::None),
        )
        .col_expr(
            idempotency_key::Column::Response,
            Expr::value(Option::<String>::None),
        )
        .filter(idempotency_key::Column::Id.eq(row.id))
        .exec(&db)
        .await
        .unwrap();

    let response = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(&owner)
        .header("Idempotency-Key", "twin-1")
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "1"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "in_flight", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );

    // Once the first is answered, the retry gets that answer.
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Status, Expr::value(kept_status))
        .col_expr(
            idempotency_key::Column::Response,
            Expr::value(kept_response),
        )
        .filter(idempotency_key::Column::Id.eq(row.id))
        .exec(&db)
        .await
        .unwrap();
    let (status, again, replayed) = keyed(&app, &owner, "/jobs", "twin-1", &job).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(again["uuid"], first["uuid"]);
}
