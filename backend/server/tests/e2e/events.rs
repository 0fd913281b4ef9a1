//! `GET /events` while a real pool runs a real task: the events arrive in order up to the
//! task's `Success`, a reconnect with `Last-Event-ID` gets exactly what it missed, filters
//! and tickets work, and another tenant's stream sees none of it. `GET /tasks/{uuid}/wait`
//! answers the moment the task ends.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::helpers::*;

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sse {
    pub(crate) id: Option<u64>,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// Reads an event stream frame by frame (comments skipped).
pub(crate) struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub(crate) async fn open(
        base: &str,
        path: &str,
        token: Option<&str>,
        last_id: Option<u64>,
    ) -> SseReader {
        let client = reqwest::Client::new();
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("GET /events");
        assert_eq!(response.status(), 200, "GET {path}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when none came within `within`.
    pub(crate) async fn next(&mut self, within: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::from("message"), None);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().expect("numeric id"));
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).expect("JSON data"));
                    }
                }
                if let Some(data) = data {
                    return Some(Sse { id, event, data });
                }
                // `retry:` or a comment: nothing to hand out.
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .expect("stream read")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// Events until one satisfies `last` (included).
    pub(crate) async fn until(&mut self, what: &str, last: impl Fn(&Sse) -> bool) -> Vec<Sse> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self
                .next(left)
                .await
                .unwrap_or_else(|| panic!("{what} never came; got {got:#?}"));
            let done = last(&e);
            got.push(e);
            if done {
                return got;
            }
        }
    }
}

fn is_task_end(e: &Sse, task: &str) -> bool {
    e.event == "taskProgress" && e.data["task"] == task && e.data["state"] == "Success"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tasks_events_arrive_in_order_and_a_reconnect_gets_exactly_the_missed_ones() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let base = api.base.clone();
    // A second tenant, following its own stream from before anything happens.
    let (status, text) = api
        .as_token(&app.operator_token)
        .call(
            reqwest::Method::POST,
            "/tenants",
            Some(&json!({"name": "elsewhere"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{text}");
    let other_token = serde_json::from_str::<Value>(&text).unwrap()["ownerToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut other = SseReader::open(&base, "/events", Some(&other_token), None).await;
    let mut live = SseReader::open(&base, "/events", Some(&api.token), None).await;

    let mut body = pool_body("evented", 1);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 2});
    let pool = api.create_pool(&body).await;
    let task = api
        .submit_task(&task_body("evented-task", &pool, 5, "true"))
        .await;
    // The long poll answers the end (the task takes a node boot, well under 30 s).
    let waited = api.get(&format!("/tasks/{task}/wait?timeout=30")).await;
    assert_eq!(waited["state"], "Success", "{}", task_summary(&waited));

    let events = live
        .until("the task's Success", |e| is_task_end(e, &task))
        .await;
    let ids: Vec<u64> = events.iter().map(|e| e.id.expect("an id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    for e in &events {
        assert_eq!(e.data["id"].as_u64(), e.id, "data carries the id");
        assert_eq!(e.data["type"], e.event.as_str(), "data carries the kind");
        assert_eq!(
            e.data["pool"],
            pool.as_str(),
            "every event is of our one pool"
        );
    }
    let kinds = |k: &str| events.iter().filter(|e| e.event == k).count();
    assert!(
        kinds("pool") >= 1,
        "the pool's creation and growth: {events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == "node" && e.data["state"] == "Ready"),
        "the node became ready"
    );
    let ended: Vec<&Sse> = events
        .iter()
        .filter(|e| e.event == "instanceEnded" && e.data["task"] == task.as_str())
        .collect();
    let mut instance_ids: Vec<u64> = ended
        .iter()
        .map(|e| e.data["instanceId"].as_u64().unwrap())
        .collect();
    instance_ids.sort_unstable();
    assert_eq!(instance_ids, [0, 1, 2, 3, 4], "each instance ended once");
    assert!(ended.iter().all(|e| e.data["outcome"] == "Succeeded"));
    let progress: Vec<&Sse> = events
        .iter()
        .filter(|e| e.event == "taskProgress" && e.data["task"] == task.as_str())
        .collect();
    let succeeded: Vec<u64> = progress
        .iter()
        .map(|e| e.data["succeeded"].as_u64().unwrap())
        .collect();
    assert!(
        succeeded.windows(2).all(|w| w[0] <= w[1]),
        "progress only moves forward: {succeeded:?}"
    );
    assert_eq!(succeeded.last(), Some(&5));
    assert_eq!(progress.last().unwrap().data["state"], "Success");

    // A client that saw the first third reconnects: it gets exactly the rest, in order.
    let cut = events.len() / 3;
    let mut resumed = SseReader::open(&base, "/events", Some(&api.token), Some(ids[cut])).await;
    let replayed = resumed
        .until("the replayed Success", |e| is_task_end(e, &task))
        .await;
    assert_eq!(replayed, events[cut + 1..], "the missed events, exactly");

    // A filtered replay through a ticket (no header): only this task's instance ends.
    let ticket = api.post("/events/tickets", &json!({})).await;
    let ticket = ticket["ticket"].as_str().expect("a ticket");
    let mut filtered = SseReader::open(
        &base,
        &format!(
            "/events?ticket={ticket}&task={task}&types=instanceEnded&lastEventId={}",
            ids[0] - 1
        ),
        None,
        None,
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(filtered.next(WAIT).await.expect("an instance end"));
    }
    assert_eq!(got, ended.into_iter().cloned().collect::<Vec<_>>());

    // The other tenant saw nothing of it: its first event is its own pool's.
    let (status, _) = api
        .as_token(&other_token)
        .call(
            reqwest::Method::POST,
            "/pools",
            Some(&json!({"name": "theirs", "profile": "docker-batch", "instanceCount": 0})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    let first = other.next(WAIT).await.expect("their own pool's event");
    assert_eq!(first.event, "pool", "{first:?}");
    assert_ne!(first.data["pool"], pool.as_str());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_opens_streams_for_a_minute_of_the_injected_clock() {
    let t0 = chrono::Utc::now();
    let clock = hearth_core::clock::ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let ticket = app.api.post("/events/tickets", &json!({})).await;
    assert_eq!(
        ticket["expiresAt"].as_str().map(|s| s
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp()),
        Some(t0.timestamp() + 60)
    );
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let url = format!("{}/events?ticket={ticket}", app.api.base);
    let open = reqwest::get(&url).await.unwrap();
    assert_eq!(open.status(), 200);
    drop(open);
    // Past its minute it opens no stream.
    clock.advance(chrono::Duration::seconds(61));
    let late = reqwest::get(&url).await.unwrap();
    assert_eq!(late.status(), 401);
    app.stop().await;
}
