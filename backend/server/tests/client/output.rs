//! One instance's output followed live through the SDK
//! (`GET /tasks/{uuid}/instances/{instanceId}/output`): the text as it is written, the
//! end, a start from given offsets, and a stream cut by the network that resumes from the
//! last id it saw with neither a lost nor a repeated byte.

use std::time::Duration;

use futures_util::StreamExt;
use hearth_client::output::{OutputEvent, OutputFollower, OutputStream};

use crate::harness::*;
use crate::proxy::Proxy;

/// The events of `output` up to and with its end; panics on an error, or when nothing
/// comes within the harness's deadline.
async fn to_end(output: &mut OutputFollower) -> Vec<OutputEvent> {
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, output.next())
            .await
            .expect("an output event within the deadline")
            .expect("the stream goes on until its end")
            .expect("an event, not an error");
        let end = matches!(event, OutputEvent::End { .. });
        events.push(event);
        if end {
            return events;
        }
    }
}

/// The text of `pipe` in `events`, checking that each piece starts where the one before
/// ended (no gap, no overlap) from `start`.
fn text_of(events: &[OutputEvent], pipe: OutputStream, start: u64) -> String {
    let mut text = String::new();
    for e in events {
        if let OutputEvent::Chunk {
            stream,
            offset,
            text: piece,
        } = e
            && *stream == pipe
        {
            assert_eq!(
                *offset,
                start + text.len() as u64,
                "{pipe:?} piece {piece:?} after {text:?}"
            );
            text.push_str(piece);
        }
    }
    text
}

fn end_of(events: &[OutputEvent]) -> (String, Option<i32>) {
    match events.last() {
        Some(OutputEvent::End { state, exit_code }) => (state.clone(), *exit_code),
        other => panic!("the last event is not the end: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_output_is_followed_as_written_until_its_end() {
    let app = spawn_app().await;
    let client = app.client();
    let pool = client
        .pools()
        .create("output", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let task = client
        .tasks()
        .create("lines")
        .pool(&pool)
        .command("for i in 1 2 3; do echo line $i; echo err $i >&2; sleep 0.3; done; exit 3")
        .send()
        .await
        .unwrap();
    // Opened at once (the instance is queued, or booting): it waits for it.
    let mut output = task.instance_output(0).follow().await.expect("follow");
    let events = to_end(&mut output).await;
    assert_eq!(
        text_of(&events, OutputStream::Stdout, 0),
        "line 1\nline 2\nline 3\n"
    );
    assert_eq!(
        text_of(&events, OutputStream::Stderr, 0),
        "err 1\nerr 2\nerr 3\n"
    );
    assert_eq!(end_of(&events), ("Failed".to_owned(), Some(3)));
    assert_eq!(output.position(), (21, 18));
    let after = tokio::time::timeout(WAIT, output.next())
        .await
        .expect("the stream ends after its end");
    assert!(after.is_none(), "{after:?}");
    assert_eq!(output.reconnects(), 0);

    // From given offsets: only what follows them.
    let mut later = client
        .tasks()
        .instance_output(&task, 0)
        .from(7, 12)
        .follow()
        .await
        .unwrap();
    let events = to_end(&mut later).await;
    assert_eq!(
        text_of(&events, OutputStream::Stdout, 7),
        "line 2\nline 3\n"
    );
    assert_eq!(text_of(&events, OutputStream::Stderr, 12), "err 3\n");
    assert_eq!(end_of(&events), ("Failed".to_owned(), Some(3)));

    // An instance outside the task is refused at once.
    let refused = client.tasks().instance_output(&task, 5).follow().await;
    assert!(
        refused.as_ref().is_err_and(|e| e.is_not_found()),
        "{refused:?}"
    );
    pool.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_output_stream_resumes_after_its_last_id_without_loss_or_repeat() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let direct = app.client();
    let through = app.client_at(&proxy.url(), &app.owner_token);
    let pool = direct
        .pools()
        .create("cut", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let task = direct
        .tasks()
        .create("lines")
        .pool(&pool)
        .command("for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done")
        .send()
        .await
        .unwrap();
    let mut output = through
        .tasks()
        .instance_output(&task, 0)
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .follow()
        .await
        .expect("follow through the proxy");

    // Read in the background (so it notices the cut and retries meanwhile).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<OutputEvent>();
    let reader = tokio::spawn(async move {
        while let Some(event) = output.next().await {
            let event = event.expect("the proxied stream hands out no error");
            if tx.send(event).is_err() {
                break;
            }
        }
        output.reconnects()
    });
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<OutputEvent>| {
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("an output event within the deadline")
            .expect("the stream goes on until its end")
    };
    let first = next(&mut rx).await;
    assert!(
        matches!(&first, OutputEvent::Chunk { offset: 0, text, .. } if text.starts_with("line 1\n")),
        "{first:?}"
    );

    // The network drops the stream and refuses new connections while the instance
    // writes more.
    proxy.refuse(true);
    proxy.cut_all();
    let written_before = match &first {
        OutputEvent::Chunk { text, .. } => text.len(),
        _ => unreachable!(),
    };
    wait_for("more output while the stream is cut", || async {
        let text = direct
            .tasks()
            .stdout(&task)
            .instance(0)
            .await
            .map_err(|e| e.to_string())?;
        if text.len() > written_before + 7 {
            Ok(())
        } else {
            Err(format!("{text:?}"))
        }
    })
    .await;
    proxy.refuse(false);

    let mut events = vec![first];
    loop {
        let event = next(&mut rx).await;
        let end = matches!(event, OutputEvent::End { .. });
        events.push(event);
        if end {
            break;
        }
    }
    let reconnects = tokio::time::timeout(WAIT, reader)
        .await
        .expect("the stream ends after its end")
        .unwrap();
    assert!(reconnects >= 1, "the stream reconnected");
    // Exactly what the instance wrote: nothing lost, nothing twice, no gap in the offsets.
    assert_eq!(
        text_of(&events, OutputStream::Stdout, 0),
        "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n"
    );
    assert_eq!(end_of(&events), ("Succeeded".to_owned(), Some(0)));

    // Each reopening asked for what followed the bytes it had handed out.
    let route = format!("/tasks/{}/instances/0/output", task.uuid());
    let opens = proxy.seen_of("GET", &route);
    assert!(opens.len() >= 2, "{opens:?}");
    assert_eq!(opens[0].header("Last-Event-ID"), None);
    let ends: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Chunk { offset, text, .. } => Some(offset + text.len() as u64),
            _ => None,
        })
        .collect();
    for open in &opens[1..] {
        let id = open
            .header("Last-Event-ID")
            .expect("a reconnect names where it was");
        let (out, err) = id.split_once('.').expect("{stdout}.{stderr}");
        let out: u64 = out.parse().unwrap();
        assert_eq!(err, "0", "{id}");
        assert!(
            out >= written_before as u64 && ends.contains(&out),
            "{id} is not the end of a piece handed out: {ends:?}"
        );
    }
    pool.close().await.unwrap();
    app.stop().await;
}
