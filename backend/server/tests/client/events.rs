//! The event stream through the SDK: typed events, and a stream cut by the network that
//! reconnects with `Last-Event-ID` and goes on with neither a gap nor a repeat.

use std::time::Duration;

use futures_util::StreamExt;
use hearth_client::events::{Change, EventItem, EventStream};
use uuid::Uuid;

use crate::harness::*;
use crate::proxy::Proxy;

/// The next item of `stream`, within the harness's deadline.
async fn next(stream: &mut EventStream) -> EventItem {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an event within the deadline")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

/// Items of `stream` up to and with the first that `last` accepts.
async fn until(stream: &mut EventStream, last: impl Fn(&EventItem) -> bool) -> Vec<EventItem> {
    let mut items = Vec::new();
    loop {
        let item = next(stream).await;
        let done = last(&item);
        items.push(item);
        if done {
            return items;
        }
    }
}

fn task_ended(task: Uuid) -> impl Fn(&EventItem) -> bool {
    move |item| {
        matches!(item, EventItem::Event(e) if matches!(&e.change,
            Change::TaskProgress { task: t, state, .. } if *t == task && state == "Success"))
    }
}

fn ids(items: &[EventItem]) -> Vec<u64> {
    items
        .iter()
        .filter(|i| matches!(i, EventItem::Event(_)))
        .filter_map(EventItem::id)
        .collect()
}

/// What a stream read in the background hands out, with its reconnect count then.
type Read = (EventItem, u32);

/// Items of `rx` up to and with the first that `last` accepts.
async fn until_rx(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Read>,
    last: impl Fn(&EventItem) -> bool,
) -> Vec<Read> {
    let mut items = Vec::new();
    loop {
        let read = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("an event within the deadline")
            .expect("the stream goes on");
        let done = last(&read.0);
        items.push(read);
        if done {
            return items;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_resumes_after_its_last_event_without_loss_or_repeat() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let direct = app.client();
    let through = app.client_at(&proxy.url(), &app.owner_token);

    // Two streams of the same events: one straight to the server, one through the proxy,
    // read all along in the background (so it notices the cut and retries meanwhile).
    let mut reference = direct.events().subscribe().await.expect("direct stream");
    let mut cut = through
        .events()
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .subscribe()
        .await
        .expect("proxied stream");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Read>();
    let reader = tokio::spawn(async move {
        while let Some(item) = cut.next().await {
            let item = item.expect("the proxied stream hands out no error");
            if tx.send((item, cut.reconnects())).is_err() {
                return;
            }
        }
    });

    let pool = direct
        .pools()
        .create("events", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let first = direct
        .tasks()
        .create("before-the-cut")
        .pool(&pool)
        .command("echo one")
        .send()
        .await
        .unwrap();
    let mut got = until_rx(&mut rx, task_ended(first.uuid())).await;
    assert!(
        got.iter().any(|(i, _)| matches!(i, EventItem::Event(e) if matches!(&e.change, Change::Pool { pool: p, .. } if *p == pool.uuid()))),
        "the pool's events: {got:?}"
    );

    // The network drops the stream and refuses new connections while a task runs.
    proxy.refuse(true);
    proxy.cut_all();
    let second = direct
        .tasks()
        .create("during-the-cut")
        .pool(&pool)
        .command("echo two")
        .send()
        .await
        .unwrap();
    second.wait_until_done(WAIT).await.unwrap();
    proxy.refuse(false);

    // Back: what happened meanwhile comes first, then live events.
    got.extend(until_rx(&mut rx, task_ended(second.uuid())).await);
    let third = direct
        .tasks()
        .create("after-the-cut")
        .pool(&pool)
        .command("echo three")
        .send()
        .await
        .unwrap();
    got.extend(until_rx(&mut rx, task_ended(third.uuid())).await);
    reader.abort();
    assert!(got.last().unwrap().1 >= 1, "the stream reconnected");
    let items: Vec<EventItem> = got.into_iter().map(|(i, _)| i).collect();
    assert!(
        !items.iter().any(|i| matches!(i, EventItem::Reset { .. })),
        "nothing was too old to replay: {items:?}"
    );

    // The same events as the stream that was never cut: none lost, none twice, in order.
    let expected = ids(&until(&mut reference, task_ended(third.uuid())).await);
    let seen = ids(&items);
    assert_eq!(seen, expected, "the cut stream against the direct one");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let during = items
        .iter()
        .filter(|i| matches!(i, EventItem::Event(e) if e.change.task_id() == Some(second.uuid())))
        .count();
    assert!(
        during > 0,
        "the events of the task run during the cut were replayed"
    );

    // Each reopening asked for what followed an event it had handed out.
    let opens = proxy.seen_of("GET", "/events");
    assert!(opens.len() >= 2, "{opens:?}");
    assert_eq!(opens[0].header("Last-Event-ID"), None);
    for open in &opens[1..] {
        let id: u64 = open
            .header("Last-Event-ID")
            .expect("a reconnect names its last event")
            .parse()
            .unwrap();
        assert!(seen.contains(&id), "{id} is not an event of the stream");
    }
    pool.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_streams_start_after_a_given_id() {
    let app = spawn_app().await;
    let client = app.client();
    let mut all = client.events().subscribe().await.unwrap();
    let pool = client
        .pools()
        .create("filtered", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let task = client
        .tasks()
        .create("watched")
        .pool(&pool)
        .instances(2)
        .command("exit $INSTANCE_ID")
        .send()
        .await
        .unwrap();
    let ended = |item: &EventItem| {
        matches!(item, EventItem::Event(e) if matches!(&e.change,
            Change::TaskProgress { task: t, state, .. } if *t == task.uuid() && state == "Failure"))
    };
    let everything = until(&mut all, ended).await;
    let first_id = everything[0].id().unwrap();

    // Opened later, after the first event: the kept ones are replayed, filtered.
    let mut of_task = client
        .events()
        .task(&task)
        .types(["instanceEnded", "taskProgress"])
        .after(first_id)
        .subscribe()
        .await
        .unwrap();
    let replayed = until(&mut of_task, ended).await;
    let expected: Vec<u64> = everything
        .iter()
        .filter(|i| matches!(i, EventItem::Event(e) if e.change.task_id() == Some(task.uuid())))
        .filter_map(EventItem::id)
        .collect();
    assert_eq!(ids(&replayed), expected);
    let exits: Vec<_> = replayed
        .iter()
        .filter_map(|i| match i {
            EventItem::Event(e) => match &e.change {
                Change::InstanceEnded {
                    instance_id,
                    outcome,
                    exit_code,
                    ..
                } => Some((*instance_id, outcome.clone(), *exit_code)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut exits = exits;
    exits.sort();
    assert_eq!(
        exits,
        [
            (0, "Succeeded".to_owned(), Some(0)),
            (1, "Failed".to_owned(), Some(1))
        ]
    );
    pool.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_from_an_event_no_longer_kept_starts_with_a_reset_then_what_is_kept() {
    // A backlog of 3 events per tenant: a pool's creation and one task make more.
    let app = spawn_app_with(|s| s.with_event_backlog(3)).await;
    let client = app.client();
    let mut all = client.events().subscribe().await.unwrap();
    let pool = client
        .pools()
        .create("small-backlog", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let task = client
        .tasks()
        .create("t")
        .pool(&pool)
        .command("true")
        .send()
        .await
        .unwrap();
    let ended = |item: &EventItem| {
        matches!(item, EventItem::Event(e) if matches!(&e.change,
            Change::TaskProgress { task: t, state, .. } if *t == task.uuid() && state == "Success"))
    };
    let everything = until(&mut all, ended).await;
    assert!(everything.len() > 3, "{everything:?}");
    // The wire's instants: six fractional digits, UTC.
    let raw = reqwest::Client::new()
        .get(format!("{}/events", app.url()))
        .bearer_auth(&app.owner_token)
        .header("Last-Event-ID", everything[0].id().unwrap().to_string())
        .send()
        .await
        .unwrap();
    let mut raw = raw;
    let mut text = String::new();
    while !text.contains("\"at\":") {
        let chunk = tokio::time::timeout(WAIT, raw.chunk())
            .await
            .expect("frames within the deadline")
            .unwrap()
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: reset\n"), "{text}");
    let at = text.split("\"at\":\"").nth(1).unwrap();
    let at = &at[..at.find('"').unwrap()];
    assert_eq!(at.len(), "2026-01-01T00:00:00.000000Z".len(), "{at}");
    drop(raw);

    // Through the SDK: the reset (with its reason), then exactly the kept events.
    let mut resumed = client
        .events()
        .after(everything[0].id().unwrap())
        .subscribe()
        .await
        .unwrap();
    let first = next(&mut resumed).await;
    let EventItem::Reset { reason, .. } = &first else {
        panic!("expected a reset first, got {first:?}")
    };
    assert!(reason.contains("no longer kept"), "{reason}");
    let kept = until(&mut resumed, ended).await;
    assert_eq!(
        ids(&kept),
        ids(&everything[everything.len() - 3..]),
        "the newest three are kept"
    );
    pool.close().await.unwrap();
    app.stop().await;
}
