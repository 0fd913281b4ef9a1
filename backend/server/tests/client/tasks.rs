//! Tasks through the SDK: submitted, run by real agents, waited for with the long poll,
//! their output read whole, per instance and fresh, aborted and deleted.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use hearth_client::{Error, Listing};

use crate::harness::*;
use crate::proxy::Proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_and_its_output_comes_back() {
    let app = spawn_app().await;
    let client = app.client();
    let pool = client
        .pools()
        .create("work", "docker-batch")
        .slots(2)
        .send()
        .await
        .unwrap();
    let task = client
        .tasks()
        .create("echo")
        .pool(&pool)
        .instances(3)
        .command("echo out-$INSTANCE_ID-$GREETING; echo err-$INSTANCE_ID >&2")
        .constant("GREETING", "hi")
        .tag("sdk")
        .label("kind", "demo")
        .send()
        .await
        .expect("submit");
    let done = task.wait_until_done(WAIT).await.expect("wait");
    assert_eq!(done.state, "Success", "{:?}", done.errors);
    assert_eq!(done.instance_count, 3);
    assert_eq!(done.labels["kind"], "demo");
    assert_eq!(done.completed_instances.len(), 3);

    let all = task.stdout().await.unwrap();
    for i in 0..3 {
        assert!(all.contains(&format!("out-{i}-hi\n")), "{all:?}");
    }
    assert_eq!(task.stdout().instance(1).await.unwrap(), "out-1-hi\n");
    assert_eq!(task.stderr().instance(2).await.unwrap(), "err-2\n");
    assert!(task.stderr().await.unwrap().contains("err-0\n"));
    let fresh = task.stdout().fresh().await.unwrap();
    assert_eq!(fresh.lines().count(), 3, "{fresh:?}");
    assert_eq!(
        task.stdout().fresh().await.unwrap(),
        "",
        "nothing new since"
    );
    assert!(task.stdout().instance(7).await.unwrap_err().is_not_found());

    let got = task.get().await.unwrap();
    assert_eq!((got.uuid, got.pool_uuid), (task.uuid(), pool.uuid()));
    let listed: Vec<_> = client
        .tasks()
        .list_with(Listing::new().tag("sdk").state("Success"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|t| t.uuid).collect::<Vec<_>>(),
        [task.uuid()]
    );
    assert_eq!(
        client.tasks().find_by_name("echo").await.unwrap().uuid,
        task.uuid()
    );

    // Aborting a finished task changes nothing; deleting it makes it 404.
    assert_eq!(task.abort().await.unwrap().state, "Success");
    task.delete().await.unwrap();
    assert!(task.get().await.unwrap_err().is_not_found());
    pool.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_done_returns_right_after_the_end_with_one_long_poll() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let client = app.client_at(&proxy.url(), &app.owner_token);
    let pool = client
        .pools()
        .create("wait", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    ready_nodes(&client, pool.uuid(), 1).await;

    let task = client
        .tasks()
        .create("sleeper")
        .pool(&pool)
        .command("sleep 1.5; echo done")
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let done = task
        .wait_until_done(Duration::from_secs(50))
        .await
        .expect("wait");
    let returned_at = chrono::Utc::now();
    let waited = started.elapsed();
    assert_eq!(done.state, "Success");
    let ended_at = done.end_date.expect("a finished task has an end date");
    let after_end = (returned_at - ended_at).to_std().unwrap_or_default();
    println!(
        "wait_until_done: waited {waited:?} in all, returned {after_end:?} after the task ended"
    );
    assert!(
        waited >= Duration::from_secs(1),
        "the task sleeps 1.5 s: {waited:?}"
    );
    // Generous: the server answers on the task's end; a client polling every few seconds
    // would be late by seconds (and would show in the request count below).
    assert!(
        after_end < Duration::from_secs(3),
        "{after_end:?} after the end"
    );
    let waits = proxy.seen_of("GET", &format!("/tasks/{}/wait", task.uuid()));
    assert_eq!(waits.len(), 1, "one long poll, no polling: {waits:?}");
    assert!(waits[0].target.contains("timeout="), "{:?}", waits[0]);
    assert!(
        proxy
            .seen_of("GET", &format!("/tasks/{}", task.uuid()))
            .is_empty()
    );

    // A wait shorter than the task: WaitTimeout with the task as last read, not finished.
    let long = client
        .tasks()
        .create("long")
        .pool(&pool)
        .command("sleep 30")
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    match long.wait_until_done(Duration::from_millis(1200)).await {
        Err(Error::WaitTimeout { task, timeout }) => {
            assert_eq!(task.uuid, long.uuid());
            assert!(
                !hearth_client::tasks::is_finished(&task.state),
                "{}",
                task.state
            );
            assert_eq!(timeout, Duration::from_millis(1200));
        }
        other => panic!("expected WaitTimeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(1200));
    long.abort().await.unwrap();
    let aborted = long.wait_until_done(WAIT).await.unwrap();
    assert_eq!(aborted.state, "Cancelled");
    pool.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_retries_dependencies_and_bulk_submits() {
    let app = spawn_app().await;
    let client = app.client();
    let pool = client
        .pools()
        .create("deps", "docker-batch")
        .slots(2)
        .send()
        .await
        .unwrap();
    let tasks = client.tasks();

    let flaky = tasks
        .create("flaky")
        .pool(&pool)
        .command("exit 3")
        .retries(1, 1)
        .send()
        .await
        .unwrap();
    let after_failure = tasks
        .create("after-failure")
        .pool(&pool)
        .ranges("0-1,5")
        .command("echo $INSTANCE_ID")
        .depends_on_states(&flaky, &["failure"])
        .send()
        .await
        .unwrap();
    let after_success = tasks
        .create("after-success")
        .pool(&pool)
        .command("echo never")
        .depends_on(&flaky)
        .send()
        .await
        .unwrap();

    let failed = flaky.wait_until_done(WAIT).await.unwrap();
    assert_eq!(failed.state, "Failure");
    assert_eq!(
        failed.completed_instances[0].execution_attempt_count, 2,
        "one retry"
    );
    assert_eq!(failed.completed_instances[0].exit_code, Some(3));
    let ran = after_failure.wait_until_done(WAIT).await.unwrap();
    assert_eq!(ran.state, "Success");
    assert_eq!(ran.instance_count, 3);
    assert_eq!(ran.advanced_ranges.as_deref(), Some("0-1,5"));
    assert_eq!(after_failure.stdout().instance(5).await.unwrap(), "5\n");
    let skipped = after_success.wait_until_done(WAIT).await.unwrap();
    assert_eq!(skipped.state, "Cancelled", "its dependency failed");

    let results = tasks
        .submit_all(vec![
            tasks.create("bulk-a").pool(&pool).command("true"),
            tasks
                .create("bulk-b")
                .pool(uuid::Uuid::new_v4())
                .command("true"),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].status_code, 201);
    let created = results[0].uuid.expect("created");
    assert_eq!(results[1].status_code, 404, "{:?}", results[1].message);
    assert_eq!(
        client
            .task(created)
            .wait_until_done(WAIT)
            .await
            .unwrap()
            .state,
        "Success"
    );
    pool.close().await.unwrap();
    app.stop().await;
}
