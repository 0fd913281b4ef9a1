//! `GET /tasks/{uuid}/instances/{n}/output` while a real instance writes: its stdout and
//! stderr arrive piece by piece as they are written, once each, then `end`; a reconnect
//! with `Last-Event-ID` gets exactly the rest; bad offsets, unknown instances, another
//! tenant and no credentials are refused.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::helpers::*;

/// One frame of an output stream.
#[derive(Debug)]
struct Frame {
    id: Option<String>,
    event: String,
    data: Value,
    /// When it arrived.
    at: Instant,
}

struct Reader {
    response: reqwest::Response,
    buffer: String,
}

impl Reader {
    async fn open(base: &str, path: &str, token: &str, last_id: Option<&str>) -> Reader {
        let mut request = reqwest::Client::new()
            .get(format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("GET output");
        assert_eq!(response.status(), 200, "GET {path}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Reader {
            response,
            buffer: String::new(),
        }
    }

    /// Frames up to the end of the stream (which must come within `WAIT`).
    async fn read_to_end(mut self) -> Vec<Frame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut frames = Vec::new();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let text: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::from("message"), None);
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).expect("JSON data"));
                    }
                }
                if let Some(data) = data {
                    frames.push(Frame {
                        id,
                        event,
                        data,
                        at: Instant::now(),
                    });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("the stream did not end; got {frames:#?}"))
                .expect("stream read");
            match chunk {
                Some(bytes) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                None => return frames,
            }
        }
    }
}

/// The text of one stream's `output` frames, joined.
fn joined(frames: &[Frame], stream: &str) -> String {
    frames
        .iter()
        .filter(|f| f.event == "output" && f.data["stream"] == stream)
        .map(|f| f.data["text"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_output_streams_as_written_and_resumes_after_its_last_id() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let base = api.base.clone();
    let pool = api.create_pool(&pool_body("tailed", 1)).await;
    let task = api
        .submit_task(&task_body(
            "talker",
            &pool,
            1,
            "for i in 1 2 3; do echo out-$i; echo err-$i >&2; sleep 1; done",
        ))
        .await;
    let path = format!("/tasks/{task}/instances/0/output");
    // Opened while the instance is still queued: the stream waits for it.
    let frames = Reader::open(&base, &path, &api.token, None)
        .await
        .read_to_end()
        .await;
    assert_eq!(joined(&frames, "stdout"), "out-1\nout-2\nout-3\n");
    assert_eq!(joined(&frames, "stderr"), "err-1\nerr-2\nerr-3\n");
    let end = frames.last().expect("frames");
    assert_eq!(end.event, "end", "{frames:#?}");
    assert_eq!(end.data, json!({"state": "Succeeded", "exitCode": 0}));
    // Live: the output came in several pieces, spread over the seconds it took to write.
    let pieces: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.event == "output" && f.data["stream"] == "stdout")
        .collect();
    assert!(pieces.len() >= 2, "one piece only: {frames:#?}");
    let spread = pieces.last().unwrap().at - pieces[0].at;
    assert!(
        spread >= Duration::from_millis(1500),
        "all output at once ({spread:?}): not followed live"
    );
    // Each piece says where it starts; ids count the bytes of both streams sent so far.
    let mut at = 0;
    for p in &pieces {
        assert_eq!(p.data["offset"], at, "{frames:#?}");
        at += p.data["text"].as_str().unwrap().len();
    }
    let last_output = frames.iter().rev().find(|f| f.event == "output").unwrap();
    assert_eq!(last_output.id.as_deref(), Some("18.18"));

    // A reconnect after the first line of stdout and nothing of stderr gets the rest only.
    let rest = Reader::open(&base, &path, &api.token, Some("6.0"))
        .await
        .read_to_end()
        .await;
    assert_eq!(joined(&rest, "stdout"), "out-2\nout-3\n");
    assert_eq!(joined(&rest, "stderr"), "err-1\nerr-2\nerr-3\n");
    assert_eq!(rest.last().unwrap().event, "end");
    // Offsets in the query do the same; at the end already, only `end` comes.
    let none = Reader::open(
        &base,
        &format!("{path}?stdoutFrom=18&stderrFrom=18"),
        &api.token,
        None,
    )
    .await
    .read_to_end()
    .await;
    assert_eq!(none.len(), 1, "{none:#?}");
    assert_eq!(none[0].event, "end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_output_refuses_bad_offsets_unknown_instances_and_strangers() {
    let app = spawn_app(None).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("refusing", 1)).await;
    let task = api
        .submit_task(&task_body("short", &pool, 1, "echo hi"))
        .await;
    let path = format!("/tasks/{task}/instances/0/output");
    let get = |path: String, token: Option<String>, last_id: Option<&'static str>| {
        let base = api.base.clone();
        async move {
            let mut request = reqwest::Client::new().get(format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(id) = last_id {
                request = request.header("Last-Event-ID", id);
            }
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.text().await.unwrap())
        }
    };
    let me = Some(api.token.clone());
    let (status, text) = get(format!("{path}?stdoutFrom=-1"), me.clone(), None).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("stdoutFrom must be >= 0"), "{text}");
    let (status, text) = get(path.clone(), me.clone(), Some("twelve")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Last-Event-ID"), "{text}");
    let (status, text) = get(
        format!("/tasks/{task}/instances/7/output"),
        me.clone(),
        None,
    )
    .await;
    assert_eq!(status, 404, "{text}");
    let (status, text) = get(
        format!("/tasks/{task}/instances/x/output"),
        me.clone(),
        None,
    )
    .await;
    assert_eq!(status, 404, "{text}");
    let (status, _) = get(path.clone(), None, None).await;
    assert_eq!(status, 401);
    // Another tenant: not found, as if there were no such task.
    let (status, text) = api
        .as_token(&app.operator_token)
        .call(
            reqwest::Method::POST,
            "/tenants",
            Some(&json!({"name": "stranger"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{text}");
    let stranger = serde_json::from_str::<Value>(&text).unwrap()["ownerToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, text) = get(path.clone(), Some(stranger), None).await;
    assert_eq!(status, 404, "{text}");
    // Refusals hold no bell: nothing is followed any more.
    assert_eq!(app.state.bells.followed(), 0);
}
