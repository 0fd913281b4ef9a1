//! `hearth tasks logs T -f`: following the output streams of one instance or of all, as
//! the instances write, until their end.

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::*;

async fn submit(app: &App, name: &str, instances: &str, command: &str) {
    let out = app
        .hearth(&[
            "tasks", "submit", "--pool", "p", "--name", name, "-n", instances, "--", command,
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_f_of_one_instance_prints_its_lines_as_written_and_exits_0_at_its_end() {
    let app = app_with_pool("1").await;
    let go = app.home.path().join("go");
    let command = format!(
        "echo first; echo oops >&2; while [ ! -e '{}' ]; do sleep 0.05; done; \
         for i in 1 2 3; do echo line $i; sleep 0.3; done",
        go.display()
    );
    submit(&app, "follow", "1", &command).await;

    // The first line comes while the instance still runs (it waits for `go`).
    let mut child = app
        .command(&["tasks", "logs", "follow", "-f", "--instance", "0"])
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("a first line within the deadline")
        .expect("read")
        .expect("a line");
    assert_eq!(first, "first");
    assert!(
        child.try_wait().unwrap().is_none(),
        "logs -f goes on while the task runs"
    );
    let task = app.client().tasks().find_by_name("follow").await.unwrap();
    assert!(
        !hearth_client::tasks::is_finished(&task.state),
        "{}",
        task.state
    );
    std::fs::write(&go, "").unwrap();
    let mut rest = Vec::new();
    while let Some(line) = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("lines within the deadline")
        .expect("read")
    {
        rest.push(line);
    }
    assert_eq!(rest, ["line 1", "line 2", "line 3"]);
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("logs -f ends with the instance")
        .unwrap();
    assert_eq!(status.code(), Some(0));

    // Its stderr, of the ended instance: all of it, then the end.
    let out = app
        .hearth(&[
            "tasks",
            "logs",
            "follow",
            "-f",
            "--instance",
            "0",
            "--stderr",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "oops\n", "{out:?}");

    // An instance the task does not have: not found.
    let out = app
        .hearth(&["tasks", "logs", "follow", "-f", "--instance", "4"])
        .await;
    assert_eq!(out.code, 4, "{out:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_f_of_a_task_prints_every_instances_lines_prefixed_and_in_order() {
    let app = app_with_pool("3").await;
    // The last line has no newline: it is held until the instance's end.
    submit(
        &app,
        "three",
        "3",
        "for i in 1 2 3; do echo line $i of $INSTANCE_ID; sleep 0.2; done; printf tail-$INSTANCE_ID",
    )
    .await;
    let out = app.hearth(&["tasks", "logs", "three", "-f"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.ends_with('\n'), "{out:?}");
    let mut by_instance: Vec<Vec<&str>> = vec![Vec::new(); 3];
    for line in out.stdout.lines() {
        let (prefix, text) = line
            .split_once("] ")
            .unwrap_or_else(|| panic!("no prefix: {line:?} in {out:?}"));
        let i: usize = prefix
            .strip_prefix('[')
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad prefix: {line:?}"));
        by_instance[i].push(text);
    }
    for (i, lines) in by_instance.iter().enumerate() {
        let expected: Vec<String> = (1..=3)
            .map(|n| format!("line {n} of {i}"))
            .chain([format!("tail-{i}")])
            .collect();
        assert_eq!(lines, &expected, "instance {i} in {out:?}");
    }

    // Without -f: the whole kept output at once, as before.
    let out = app
        .hearth(&["tasks", "logs", "three", "--instance", "1"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "line 1 of 1\nline 2 of 1\nline 3 of 1\ntail-1");
    app.stop().await;
}
