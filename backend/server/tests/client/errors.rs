//! Every kind of failure, for real: the server's refusals (400, 422, 401, 403, 404, 409)
//! keep status, code, message and raw body; no answer is a transport error; an answer
//! that does not read is a decode error.

use std::time::Duration;

use hearth_client::{Client, Error, RetryPolicy};

use crate::harness::*;
use crate::proxy::{Action, Proxy, answer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_refusals_keep_status_code_message_and_body() {
    let app = spawn_app().await;
    let client = app.client();

    // 400: a bad field, named first.
    let message = refusal(
        client.pools().create("bad", "no-such-profile").send().await,
        400,
        "validation",
    );
    assert!(message.starts_with("profile"), "{message}");
    let message = refusal(
        client.events().types(["nope"]).subscribe().await,
        400,
        "validation",
    );
    assert!(message.starts_with("types"), "{message}");

    // 422: an Idempotency-Key reused with another body.
    client
        .jobs()
        .create("first")
        .idempotency_key("same-key")
        .send()
        .await
        .unwrap();
    let message = refusal(
        client
            .jobs()
            .create("second")
            .idempotency_key("same-key")
            .send()
            .await,
        422,
        "unprocessable",
    );
    assert!(message.starts_with("Idempotency-Key"), "{message}");

    // 401: a token the server did not sign.
    let stranger = app.client_at(&app.url(), "not-a-token");
    refusal(stranger.profiles().await, 401, "unauthorized");
    refusal(stranger.events().subscribe().await, 401, "unauthorized");

    // 403: a viewer (made through the API) reads but does not write.
    let viewer = client
        .tokens()
        .create("tv", "viewer")
        .send()
        .await
        .expect("token");
    assert_eq!(viewer.token_info.role, "viewer");
    let viewer = app.client_at(&app.url(), &viewer.token);
    let pool = client
        .pools()
        .create("seen", "docker-batch")
        .slots(0)
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.pools().get(&pool).await.unwrap().name, "seen");
    let message = refusal(
        viewer.pools().create("mine", "docker-batch").send().await,
        403,
        "forbidden",
    );
    assert!(message.contains("viewer"), "{message}");
    refusal(viewer.pools().close(&pool).await, 403, "forbidden");
    refusal(first(viewer.budgets().list()).await, 403, "forbidden");

    // 404: no such object (or another tenant's).
    let nobody = uuid::Uuid::new_v4();
    refusal(client.pools().get(nobody).await, 404, "not_found");
    refusal(client.tasks().get(nobody).await, 404, "not_found");
    refusal(client.jobs().get(nobody).await, 404, "not_found");
    refusal(
        client.events().pool(nobody).subscribe().await,
        404,
        "not_found",
    );
    refusal(
        client.tasks().create("lost").pool(nobody).send().await,
        404,
        "not_found",
    );

    // 409: a state conflict, naming the state.
    let closed = pool.close().await.unwrap();
    assert_eq!(closed.state, "Closed", "no node: closed at once");
    let message = refusal(pool.close().await, 409, "conflict");
    assert!(message.contains("Closed"), "{message}");
    let message = refusal(
        client
            .tasks()
            .create("late")
            .pool(&pool)
            .command("true")
            .send()
            .await,
        409,
        "conflict",
    );
    assert!(message.contains("Closed"), "{message}");
    refusal(pool.update().fixed(1).send().await, 409, "conflict");
    app.stop().await;
}

/// Reads the first item of a list, for a refusal to show.
async fn first<T>(mut list: hearth_client::Paged<T>) -> hearth_client::Result<Option<T>> {
    use futures_util::StreamExt;
    list.next().await.transpose()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_a_transport_error_and_a_bad_answer_a_decode_error() {
    // Nothing listens on a port just freed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = Client::builder(format!("http://127.0.0.1:{port}"), "t")
        .retry(RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        })
        .build()
        .unwrap();
    match dead.profiles().await {
        Err(Error::Transport {
            method,
            path,
            source,
        }) => {
            assert_eq!((method.as_str(), path.as_str()), ("GET", "/profiles"));
            assert!(source.is_connect(), "{source:?}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }

    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let client = app.client_at(&proxy.url(), &app.owner_token);
    proxy.set_rule(|seen| {
        if seen.path().starts_with("/pools/") {
            Action::Answer(answer(
                200,
                &[("content-type", "application/json")],
                "{\"uuid\": 3}",
            ))
        } else if seen.path() == "/info" {
            Action::Answer(answer(
                502,
                &[("content-type", "text/html")],
                "<h1>bad gateway</h1>",
            ))
        } else {
            Action::Forward
        }
    });
    match client.pools().get(uuid::Uuid::new_v4()).await {
        Err(Error::Decode { what, body, .. }) => {
            assert!(what.starts_with("GET /pools/"), "{what}");
            assert_eq!(body, "{\"uuid\": 3}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    // A proxy's own error page: the status, and the page as message and body.
    match client.info().await {
        Err(Error::Api {
            status,
            code,
            message,
            body,
        }) => {
            assert_eq!((status, code.as_str()), (502, "bad_gateway"));
            assert_eq!(
                (message.as_str(), body.as_str()),
                ("<h1>bad gateway</h1>", "<h1>bad gateway</h1>")
            );
        }
        other => panic!("expected the 502, got {other:?}"),
    }
    assert_eq!(
        proxy.seen_of("GET", "/info").len(),
        1 + 4,
        "a GET's 502 is retried 4 times"
    );
    assert!(
        client
            .profiles()
            .await
            .unwrap()
            .contains(&"docker-batch".to_owned())
    );
    app.stop().await;
}
