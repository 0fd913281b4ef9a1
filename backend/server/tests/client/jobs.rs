//! Jobs through the SDK: created on a pool, tasks joining them in order, listed, found by
//! name, terminated and deleted.

use std::time::Duration;

use futures_util::TryStreamExt;
use hearth_client::Listing;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_groups_its_tasks_until_terminated_and_deleted() {
    let app = spawn_app().await;
    let client = app.client();
    let pool = client
        .pools()
        .create("jobs", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let job = client
        .jobs()
        .create("pipeline")
        .pool(&pool)
        .use_dependencies(true)
        .max_wall_time(Duration::from_secs(3600))
        .tag("nightly")
        .send()
        .await
        .expect("create job");
    let got = job.get().await.unwrap();
    assert_eq!(
        (got.name.as_str(), got.pool_uuid),
        ("pipeline", Some(pool.uuid()))
    );
    assert!(got.use_dependencies);
    assert_eq!(got.max_wall_time.as_deref(), Some("01:00:00"));
    assert_eq!(got.state, "Active");

    let fetch = client
        .tasks()
        .create("fetch")
        .job(&job)
        .command("echo fetched")
        .send()
        .await
        .unwrap();
    let build = client
        .tasks()
        .create("build")
        .job(&job)
        .depends_on(&fetch)
        .command("echo built")
        .send()
        .await
        .unwrap();
    let built = build.wait_until_done(WAIT).await.unwrap();
    assert_eq!(built.state, "Success");
    assert_eq!(built.job_uuid, Some(job.uuid()));
    assert_eq!(
        fetch.get().await.unwrap().state,
        "Success",
        "build waited for fetch"
    );
    let in_job: Vec<_> = job.tasks().await.unwrap().iter().map(|t| t.uuid).collect();
    assert_eq!(in_job, [fetch.uuid(), build.uuid()]);

    let listed: Vec<_> = client
        .jobs()
        .list_with(Listing::new().tag("nightly"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|j| j.uuid).collect::<Vec<_>>(),
        [job.uuid()]
    );
    assert_eq!(
        client.jobs().find_by_name("pipeline").await.unwrap().uuid,
        job.uuid()
    );

    // A task still running: a plain delete is refused (409), terminate cancels it.
    let long = client
        .tasks()
        .create("long")
        .job(&job)
        .command("sleep 30")
        .send()
        .await
        .unwrap();
    let message = refusal(job.delete(false).await, 409, "conflict");
    assert!(!message.is_empty());
    let terminating = job.terminate().await.unwrap();
    assert!(
        matches!(terminating.state.as_str(), "Terminating" | "Completed"),
        "{}",
        terminating.state
    );
    assert_eq!(long.wait_until_done(WAIT).await.unwrap().state, "Cancelled");
    job.delete(true).await.unwrap();
    assert!(job.get().await.unwrap_err().is_not_found());
    pool.close().await.unwrap();
    app.stop().await;
}
