//! Retries through a proxy that fails on purpose: a creating POST whose answer is lost is
//! sent again with the same `Idempotency-Key` and creates once; busy answers (429, 503)
//! are retried with backoff; a POST that is not safe to repeat is not repeated.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::TryStreamExt;
use hearth_client::{Error, Listing};

use crate::harness::*;
use crate::proxy::{Action, Proxy, answer};

/// A rule that applies `first` to the first `n` requests of `method path` and forwards
/// the rest.
fn first_n(
    method: &'static str,
    path: String,
    n: usize,
    first: impl Fn() -> Action + Send + 'static,
) -> impl FnMut(&crate::proxy::Seen) -> Action + Send + 'static {
    let count = Arc::new(AtomicUsize::new(0));
    move |seen| {
        if seen.is(method, &path) && count.fetch_add(1, Ordering::SeqCst) < n {
            first()
        } else {
            Action::Forward
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_with_the_same_key_and_creates_once() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let client = app.client_at(&proxy.url(), &app.owner_token);

    // A pool: the first POST /pools reaches the server, its answer is lost.
    proxy.set_rule(first_n("POST", "/pools".into(), 1, || Action::LoseAnswer));
    let pool = client
        .pools()
        .create("once", "docker-batch")
        .slots(0)
        .send()
        .await
        .expect("the retry gets the first answer");
    let posts = proxy.seen_of("POST", "/pools");
    assert_eq!(posts.len(), 2, "sent, lost, sent again");
    let key = posts[0]
        .header("Idempotency-Key")
        .expect("a key")
        .to_owned();
    assert_eq!(
        posts[1].header("Idempotency-Key"),
        Some(key.as_str()),
        "the same key"
    );
    assert_eq!(posts[0].body, posts[1].body, "the same body");
    let named: Vec<_> = app
        .client()
        .pools()
        .list_with(Listing::new().name("once"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        named.iter().map(|p| p.uuid).collect::<Vec<_>>(),
        [pool.uuid()],
        "one pool"
    );

    // A task, the same way: one task exists, the one the client was answered.
    proxy.set_rule(first_n("POST", "/tasks".into(), 1, || Action::LoseAnswer));
    let task = client
        .tasks()
        .create("exactly-once")
        .pool(&pool)
        .command("true")
        .send()
        .await
        .expect("submit through a lost answer");
    let posts = proxy.seen_of("POST", "/tasks");
    assert_eq!(posts.len(), 2);
    assert_ne!(
        posts[0].header("Idempotency-Key"),
        Some(key.as_str()),
        "a key per call"
    );
    assert_eq!(
        posts[0].header("Idempotency-Key"),
        posts[1].header("Idempotency-Key")
    );
    let all: Vec<_> = app.client().tasks().list().try_collect().await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.uuid).collect::<Vec<_>>(),
        [task.uuid()],
        "one task"
    );

    // Two calls are two tasks: keys are per call, not per body.
    proxy.set_rule(|_| Action::Forward);
    let again = client
        .tasks()
        .create("exactly-once")
        .pool(&pool)
        .command("true")
        .send()
        .await
        .unwrap();
    assert_ne!(again.uuid(), task.uuid());

    // A DELETE whose answer is lost: its retry finds the task gone, which is done.
    let path = format!("/tasks/{}", again.uuid());
    proxy.set_rule(first_n("DELETE", path.clone(), 1, || Action::LoseAnswer));
    again
        .delete()
        .await
        .expect("deleted once, answered by the retry");
    assert_eq!(proxy.seen_of("DELETE", &path).len(), 2);
    assert!(
        app.client()
            .tasks()
            .get(again.uuid())
            .await
            .unwrap_err()
            .is_not_found()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_answers_are_retried_and_unsafe_posts_are_not_repeated() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let client = app.client_at(&proxy.url(), &app.owner_token);

    // 503 twice, then the server: one call, three requests.
    proxy.set_rule(first_n("GET", "/profiles".into(), 2, || {
        Action::Answer(answer(
            503,
            &[],
            r#"{"message":"busy","code":"unavailable"}"#,
        ))
    }));
    assert!(
        client
            .profiles()
            .await
            .unwrap()
            .contains(&"docker-batch".to_owned())
    );
    assert_eq!(proxy.seen_of("GET", "/profiles").len(), 3);

    // 429 on a creating POST (with Retry-After): retried, created once.
    proxy.set_rule(first_n("POST", "/jobs".into(), 1, || {
        Action::Answer(answer(
            429,
            &[("retry-after", "0")],
            r#"{"message":"slow down","code":"rate_limited"}"#,
        ))
    }));
    let job = client.jobs().create("after-429").send().await.unwrap();
    assert_eq!(proxy.seen_of("POST", "/jobs").len(), 2);
    assert_eq!(job.get().await.unwrap().name, "after-429");

    // Retries run out: the last answer comes back.
    proxy.set_rule(|seen| {
        if seen.path() == "/info" {
            Action::Answer(answer(
                503,
                &[],
                r#"{"message":"down","code":"unavailable"}"#,
            ))
        } else {
            Action::Forward
        }
    });
    refusal(client.info().await, 503, "unavailable");
    assert_eq!(
        proxy.seen_of("GET", "/info").len(),
        1 + quick_retries().max_retries as usize
    );

    // A 500 on a POST that may have done its work is not sent again.
    let pool = client
        .pools()
        .create("p", "docker-batch")
        .slots(0)
        .send()
        .await
        .unwrap();
    let close = format!("/pools/{}/close", pool.uuid());
    proxy.set_rule(first_n("POST", close.clone(), 1, || {
        Action::Answer(answer(
            500,
            &[],
            r#"{"message":"internal error","code":"internal"}"#,
        ))
    }));
    refusal(pool.close().await, 500, "internal");
    assert_eq!(proxy.seen_of("POST", &close).len(), 1);

    // Nor is one whose answer was lost: the close happened, a retry would be a 409.
    proxy.set_rule(first_n("POST", close.clone(), 1, || Action::LoseAnswer));
    match pool.close().await {
        Err(Error::Transport { method, path, .. }) => {
            assert_eq!((method.as_str(), path.as_str()), ("POST", close.as_str()));
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_eq!(proxy.seen_of("POST", &close).len(), 2);
    assert_eq!(
        pool.get().await.unwrap().state,
        "Closed",
        "the lost close was done"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_still_being_answered_is_waited_for_with_the_same_key() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let client = app.client_at(&proxy.url(), &app.owner_token);
    // The server's answer while a request with the same key runs (see the API tests),
    // given once in its place; then the request goes through.
    let in_flight = answer(
        409,
        &[("content-type", "application/json"), ("retry-after", "1")],
        r#"{"message":"Idempotency-Key: a request with this key is still being answered; retry","code":"in_flight"}"#,
    );
    proxy.set_rule(first_n("POST", "/jobs".into(), 1, move || {
        Action::Answer(in_flight.clone())
    }));
    let job = client
        .jobs()
        .create("twin")
        .send()
        .await
        .expect("retried after the twin");
    let posts = proxy.seen_of("POST", "/jobs");
    assert_eq!(posts.len(), 2, "answered 409 in_flight, then sent again");
    assert_eq!(
        posts[0].header("Idempotency-Key"),
        posts[1].header("Idempotency-Key"),
        "the retry keeps its key"
    );
    let jobs: Vec<_> = client.jobs().list().try_collect().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].uuid, job.uuid());

    // A plain state conflict is not retried.
    proxy.set_rule(first_n("POST", "/jobs".into(), 1, || {
        Action::Answer(answer(
            409,
            &[("content-type", "application/json")],
            r#"{"message":"the pool is Closed","code":"conflict"}"#,
        ))
    }));
    let refused = client.jobs().create("conflicted").send().await.unwrap_err();
    assert_eq!(refused.code(), Some("conflict"), "{refused:?}");
    assert_eq!(proxy.seen_of("POST", "/jobs").len(), 3, "not sent again");
    app.stop().await;
}
