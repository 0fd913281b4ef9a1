//! `GET /events` and `POST /events/tickets` refusals, and `GET /tasks/{uuid}/wait`, on a
//! real server (the streams themselves are followed in the e2e suite, with real agents).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_event_stream_refuses_what_it_cannot_serve_with_the_reason() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let pool = app.create_idle_pool(&owner, "mine").await;
    let (_, other) = app.create_tenant("elsewhere").await;
    let theirs = app.create_idle_pool(&other, "theirs").await;

    app.get_with("/events", Auth::None).await.expect_error(
        401,
        "unauthorized",
        &["Authorization", "ticket"],
    );
    app.get_with("/events?ticket=not-a-ticket", Auth::None)
        .await
        .expect_error(401, "unauthorized", &["ticket"]);
    // An API token is no ticket, and a ticket is no API token.
    app.get_with(&format!("/events?ticket={owner}"), Auth::None)
        .await
        .expect(401);
    let ticket = app
        .post_empty("/events/tickets", &owner)
        .await
        .expect_json(200);
    let ticket = ticket["ticket"].as_str().expect("ticket").to_owned();
    assert!(!ticket.is_empty());
    app.get("/pools", &ticket).await.expect(401);
    app.get_with("/events", Auth::Bearer(&app.operator_token))
        .await
        .expect(403);

    app.get("/events?types=pool,bogus", &owner)
        .await
        .expect_validation("types");
    app.get("/events?pool=nope", &owner)
        .await
        .expect_validation("pool");
    app.get(&format!("/events?pool={theirs}"), &owner)
        .await
        .expect(404);
    app.get(&format!("/events?task={pool}"), &owner)
        .await
        .expect(404);
    app.get("/events?lastEventId=yesterday", &owner)
        .await
        .expect_validation("Last-Event-ID");
}

#[tokio::test]
async fn a_ticket_opens_the_stream_until_its_token_is_revoked() {
    let app = spawn_app().await;
    let email = format!("viewer-{}@default", uuid::Uuid::new_v4().simple());
    let user = app.create_user(&email, "viewer").await;
    let issued = app
        .create_token_with(&json!({"name": "watcher", "role": "viewer", "userUuid": user}))
        .await;
    let token = issued["token"].as_str().expect("token").to_owned();
    let id = issued["uuid"].as_str().expect("token uuid").to_owned();
    let ticket = app
        .post_empty("/events/tickets", &token)
        .await
        .expect_json(200);
    assert!(ticket["expiresAt"].is_string());
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let open = app
        .client
        .get(app.url(&format!("/events?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(open.headers()["content-type"], "text/event-stream");
    drop(open);

    app.delete(&format!("/tokens/{id}"), &app.owner_token)
        .await
        .expect(204);
    app.get_with(&format!("/events?ticket={ticket}"), Auth::None)
        .await
        .expect_error(401, "unauthorized", &["ticket"]);
}

#[tokio::test]
async fn wait_answers_at_the_timeout_or_the_moment_the_task_ends() {
    let app = spawn_app().await;
    let owner = app.owner_token.clone();
    let pool = app.create_idle_pool(&owner, "no-slots").await;
    let task = app.create_task(&owner, &task_body("waits", &pool, 3)).await;

    // Nothing can run on a pool of 0 slots: the timeout answers the task as it is.
    let now = app
        .get(&format!("/tasks/{task}/wait?timeout=0"), &owner)
        .await
        .expect_json(200);
    assert_eq!(now["uuid"], task.as_str());
    assert_eq!(now["state"], "Submitted");

    for bad in ["-1", "61", "soon"] {
        app.get(&format!("/tasks/{task}/wait?timeout={bad}"), &owner)
            .await
            .expect_validation("timeout");
    }
    let (_, other) = app.create_tenant("elsewhere").await;
    app.get(&format!("/tasks/{task}/wait?timeout=0"), &other)
        .await
        .expect(404);

    // A wait of up to 60 s, the task aborted meanwhile: the answer comes with the end,
    // well before the client's own 20 s limit.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = app.url(&format!("/tasks/{task}/wait?timeout=60"));
    let waiting = tokio::spawn({
        let owner = owner.clone();
        async move { client.get(url).bearer_auth(owner).send().await }
    });
    // Let the wait subscribe before the abort (it reads the task after subscribing, so
    // an abort before that is answered at once as well).
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.request(
        Method::POST,
        &format!("/tasks/{task}/abort"),
        Auth::Bearer(&owner),
        Body::None,
    )
    .await
    .expect(200);
    let answer = waiting
        .await
        .unwrap()
        .expect("the wait answered before the client gave up");
    assert_eq!(answer.status(), 200);
    let t: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(t["state"], "Cancelled", "{t}");
}
