//! The `hearth` command line client: the built binary, run with its own `HOME`, against
//! the real application on port 0 whose nodes are real `hearth agent` processes.
//!
//! `cargo nextest run -p hearth-server --test cli`. Waiting polls with deadlines.

mod harness;
mod login;
mod logs;
mod tty;

use harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_writes_a_0600_profile_and_whoami_reads_it() {
    let app = spawn_app().await;
    let before = app.hearth(&["whoami"]).await;
    assert_ne!(before.code, 0, "{before:?}");
    assert!(before.stderr.contains("hearth login"), "{before:?}");
    app.login().await;
    let path = app.home.path().join("xdg/hearth/config.toml");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path)
        .expect("profile file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let file = hearth_client::config::ProfileFile::load(&path)
        .unwrap()
        .unwrap();
    assert_eq!(file.profiles["default"].url, app.url());
    assert_eq!(file.profiles["default"].token, app.owner_token);

    let who = app.hearth(&["whoami", "-o", "json"]).await;
    assert_eq!(who.code, 0, "{who:?}");
    let v: serde_json::Value = serde_json::from_str(&who.stdout).expect("json");
    assert_eq!(v["url"], app.url());
    assert!(v["email"].is_string(), "{v}");

    // A second profile (`--email` has tests of its own, in login.rs).
    let url = app.url();
    let out = app
        .hearth(&[
            "login",
            "--url",
            &url,
            "--token",
            &app.owner_token,
            "--profile",
            "other",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = app.hearth(&["whoami", "--config-profile", "other"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_go_to_stderr_with_the_servers_message() {
    let app = spawn_app().await;
    app.login().await;
    let out = app
        .hearth(&["pools", "create", "bad", "--profile", "no-such-profile"])
        .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.starts_with("error: "), "{out:?}");
    // The server's own words.
    let server = app
        .client()
        .pools()
        .create("bad", "no-such-profile")
        .send()
        .await
        .unwrap_err();
    let hearth_client::Error::Api { message, .. } = server else {
        panic!("{server:?}")
    };
    assert!(out.stderr.contains(&message), "{out:?} vs {message}");

    let out = app.hearth(&["pools", "get", "nothing-named-so"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("nothing-named-so"), "{out:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_wait_run_list_and_close_as_in_the_readme() {
    let app = spawn_app().await;
    app.login().await;
    let out = app
        .hearth(&[
            "pools",
            "create",
            "demo",
            "--profile",
            "docker-batch",
            "--slots",
            "2",
            "--wait",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let pool: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(pool["state"], "FullyExecuting", "{pool}");

    let out = app
        .hearth(&[
            "run",
            "--pool",
            "demo",
            "-n",
            "8",
            "--show-output",
            "--",
            "echo",
            "hi $INSTANCE_ID",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Success"), "{out:?}");

    let out = app.hearth(&["tasks", "list", "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let tasks: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["state"], "Success");
    let task = tasks[0]["uuid"].as_str().unwrap().to_owned();
    let stdout = app
        .client()
        .tasks()
        .stdout(task.parse::<uuid::Uuid>().unwrap())
        .await
        .unwrap();
    for i in 0..8 {
        assert!(stdout.contains(&format!("hi {i}")), "{stdout}");
    }

    let out = app.hearth(&["tasks", "list", "-o", "jsonl"]).await;
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    let out = app.hearth(&["tasks", "list", "-o", "csv"]).await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(lines[0].starts_with("UUID,NAME,STATE"), "{out:?}");
    assert!(lines[1].starts_with(&task), "{out:?}");
    let out = app.hearth(&["tasks", "wait", &task]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = app.hearth(&["tasks", "logs", &task]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("hi 7"), "{out:?}");

    let out = app.hearth(&["pools", "list"]).await;
    assert!(
        out.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("demo")),
        "{out:?}"
    );
    let out = app.hearth(&["pools", "nodes", "demo", "-o", "json"]).await;
    let nodes: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("json");
    assert!(!nodes.is_empty(), "{out:?}");
    let out = app
        .hearth(&["billing", "usage", "--group-by", "pool", "-o", "csv"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let rows = parse_csv(&out.stdout);
    assert!(rows.len() >= 2, "{out:?}");
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{out:?}");
    assert!(
        rows.iter().skip(1).any(|r| r.iter().any(|c| c == "demo")),
        "{out:?}"
    );
    let out = app.hearth(&["billing", "usage", "-o", "json"]).await;
    let lines: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("json");
    assert!(lines.iter().any(|l| l["poolName"] == "demo"), "{out:?}");

    // The stream, replayed from its start: the pool's first event.
    let out = app
        .hearth(&[
            "events", "--pool", "demo", "--after", "0", "--count", "1", "-o", "jsonl",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let event: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    assert_eq!(event["kind"], "pool", "{event}");

    let out = app
        .hearth(&["pools", "decisions", "demo", "-o", "json"])
        .await;
    let decisions: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("json");
    assert!(!decisions.is_empty(), "{out:?}");
    let uuid = pool["uuid"].as_str().unwrap();
    let out = app
        .hearth(&["pools", "resize", uuid, "--slots", "1", "-o", "json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let resized: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(resized["instanceCount"], 1, "{resized}");

    let out = app.hearth(&["pools", "close", "demo"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = app.hearth(&["pools", "delete", uuid]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = app.hearth(&["pools", "get", uuid]).await;
    assert_eq!(out.code, 4, "{out:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_exits_1_on_failure_and_2_when_aborted() {
    let app = app_with_pool("2").await;
    let out = app
        .hearth(&["run", "--pool", "p", "-n", "2", "--", "false"])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("Failure"), "{out:?}");

    // `tasks submit`, then `logs -f` follows until the end.
    let out = app
        .hearth(&[
            "tasks",
            "submit",
            "--pool",
            "p",
            "--name",
            "follow",
            "--",
            "echo one; sleep 1; echo two",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = app.hearth(&["tasks", "logs", "-f", "follow"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "one\ntwo\n", "{out:?}");

    let child = app
        .command(&["run", "--pool", "p", "--name", "long", "--", "sleep", "300"])
        .spawn()
        .expect("spawn");
    let client = app.client();
    let task = wait_for("the task 'long' to run", || async {
        let task = client
            .tasks()
            .find_by_name("long")
            .await
            .map_err(|e| e.to_string())?;
        if task.running_instance_count > 0 {
            Ok(task)
        } else {
            Err(task.state)
        }
    })
    .await;
    let out = app.hearth(&["tasks", "abort", "long"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let done = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("run ended")
        .expect("run ran");
    assert_eq!(done.status.code(), Some(2), "{done:?}");
    let out = app.hearth(&["tasks", "wait", &task.uuid.to_string()]).await;
    assert_eq!(out.code, 2, "{out:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_is_idempotent_and_export_round_trips() {
    let app = spawn_app().await;
    app.login().await;
    let file = app.home.path().join("pool.toml");
    std::fs::write(
        &file,
        "name = \"web\"\nprofile = \"docker-batch\"\nslots = 1\ntags = [\"a\"]\n\n[labels]\nteam = \"x\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let first = app.hearth(&["pools", "apply", "-f", path]).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("created"), "{first:?}");
    let second = app.hearth(&["pools", "apply", "-f", path]).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stdout.contains("no change"), "{second:?}");

    // Changed in place, showing the change.
    std::fs::write(
        &file,
        "name = \"web\"\nprofile = \"docker-batch\"\nslots = 2\ntags = [\"a\", \"b\"]\n\n[labels]\nteam = \"x\"\n",
    )
    .unwrap();
    let third = app.hearth(&["pools", "apply", "-f", path]).await;
    assert_eq!(third.code, 0, "{third:?}");
    assert!(third.stdout.contains("slots: 1 → 2"), "{third:?}");
    let pool = app.client().pools().find_by_name("web").await.unwrap();
    assert_eq!(pool.instance_count, 2);
    assert_eq!(pool.tags, vec!["a", "b"]);

    let exported = app.hearth(&["pools", "export", "web"]).await;
    assert_eq!(exported.code, 0, "{exported:?}");
    let round = app.home.path().join("exported.toml");
    std::fs::write(&round, &exported.stdout).unwrap();
    let again = app
        .hearth(&["pools", "apply", "-f", round.to_str().unwrap()])
        .await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains("no change"),
        "{again:?} after {}",
        exported.stdout
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_created_listed_and_deleted_by_name() {
    let app = spawn_app().await;
    app.login().await;
    let out = app
        .hearth(&[
            "budgets", "create", "team", "--amount", "100", "--alert", "0.5", "-o", "json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let budget: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(budget["name"], "team");
    let out = app.hearth(&["budgets", "list", "-o", "csv"]).await;
    let rows = parse_csv(&out.stdout);
    assert_eq!(rows.len(), 2, "{out:?}");
    assert_eq!(rows[1][1], "team");
    let out = app.hearth(&["budgets", "delete", "team"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = app.hearth(&["budgets", "get", "team"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    app.stop().await;
}

/// RFC 4180 rows (quoted fields, doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(!quoted, "unterminated quote in {text}");
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_are_printed_for_each_shell() {
    let app = spawn_app().await;
    for shell in ["bash", "zsh", "fish"] {
        let out = app.hearth(&["completions", shell]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.contains("pools"),
            "{shell}: {}",
            out.stdout.len()
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_scaled_by_policies_applies_exports_and_applies_again_unchanged() {
    let app = spawn_app().await;
    app.login().await;
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::hours(1)).to_rfc3339();
    let to = (now + chrono::Duration::days(1)).to_rfc3339();
    let file = app.home.path().join("scaled.toml");
    let text = |max: u32| {
        format!(
            r#"name = "scaled"
profile = "docker-batch"
resize_period = 30
tags = ["batch"]

[[policies]]
type = "Fixed"
name = "launch-day"
slots = 1

[[policies.periods]]
type = "DateRange"
from = "{from}"
to = "{to}"

[[policies]]
type = "ManagedTasksQueue"
name = "rest"
max_total_slots = {max}
min_idle_time_seconds = 120

[[policies.periods]]
type = "Weekly"
name = "weekdays"
days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
start = "8:00"
end = "18:30"
"#
        )
    };
    std::fs::write(&file, text(4)).unwrap();
    let path = file.to_str().unwrap();
    let first = app.hearth(&["pools", "apply", "-f", path]).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("created"), "{first:?}");
    let second = app.hearth(&["pools", "apply", "-f", path]).await;
    assert!(second.stdout.contains("no change"), "{second:?}");

    // The server holds the policies as written (its defaults filled in).
    let pool = app.client().pools().find_by_name("scaled").await.unwrap();
    assert_eq!(pool.resize_period, 30);
    let scaling = pool.scaling.clone().expect("a pool scaled by policies");
    assert_eq!(scaling.policies.len(), 2, "{scaling:?}");
    assert_eq!(scaling.policies[0].name.as_deref(), Some("launch-day"));
    assert_eq!(scaling.policies[0].slots_count, Some(1));
    assert_eq!(
        scaling.policies[0].enabled_periods[0].kind.as_deref(),
        Some("DateRange")
    );
    let rest = &scaling.policies[1];
    assert_eq!(rest.max_total_slots, Some(4));
    assert_eq!(rest.min_idle_time_seconds, Some(120));
    let weekdays = &rest.enabled_periods[0];
    assert_eq!(weekdays.name.as_deref(), Some("weekdays"));
    assert_eq!(weekdays.days.as_ref().map(Vec::len), Some(5));
    assert_eq!(weekdays.start_time_utc.as_deref(), Some("08:00:00"));
    // The date range contains now: the first policy applies.
    wait_for("the launch-day policy to be active", || async {
        let p = app.client().pools().find_by_name("scaled").await.unwrap();
        match p.scaling.and_then(|s| s.active_policy_name) {
            Some(n) if n == "launch-day" => Ok(()),
            other => Err(format!("active: {other:?}")),
        }
    })
    .await;

    // export → apply: the same pool, no change; the file has the policies, not a size.
    let exported = app.hearth(&["pools", "export", "scaled"]).await;
    assert_eq!(exported.code, 0, "{exported:?}");
    assert!(
        exported.stdout.contains("[[policies]]"),
        "{}",
        exported.stdout
    );
    assert!(
        exported.stdout.contains("[[policies.periods]]"),
        "{}",
        exported.stdout
    );
    // No top-level size (`slots =` before the first table is the fixed form).
    assert!(
        !exported
            .stdout
            .lines()
            .take_while(|l| !l.starts_with('['))
            .any(|l| l.starts_with("slots =")),
        "{}",
        exported.stdout
    );
    let round = app.home.path().join("exported.toml");
    std::fs::write(&round, &exported.stdout).unwrap();
    let again = app
        .hearth(&["pools", "apply", "-f", round.to_str().unwrap()])
        .await;
    assert!(
        again.stdout.contains("no change"),
        "{again:?} after {}",
        exported.stdout
    );

    // A changed figure is shown and applied in place.
    std::fs::write(&file, text(6)).unwrap();
    let changed = app.hearth(&["pools", "apply", "-f", path]).await;
    assert_eq!(changed.code, 0, "{changed:?}");
    assert!(changed.stdout.contains("policies: "), "{changed:?}");
    assert!(changed.stdout.contains("0..6"), "{changed:?}");
    let pool = app.client().pools().get(pool.uuid).await.unwrap();
    assert_eq!(pool.scaling.unwrap().policies[1].max_total_slots, Some(6));

    // Back to a fixed size: the policies give way to `slots`.
    std::fs::write(
        &file,
        "name = \"scaled\"\nprofile = \"docker-batch\"\nslots = 2\ntags = [\"batch\"]\n",
    )
    .unwrap();
    let fixed = app.hearth(&["pools", "apply", "-f", path]).await;
    assert!(
        fixed.stdout.contains("slots: scaled by 2 policies → 2"),
        "{fixed:?}"
    );
    let pool = app.client().pools().get(pool.uuid).await.unwrap();
    assert_eq!(pool.instance_count, 2);
    assert!(pool.scaling.is_none(), "{:?}", pool.scaling);
    let exported = app.hearth(&["pools", "export", "scaled"]).await;
    assert!(exported.stdout.contains("slots = 2"), "{}", exported.stdout);
    assert!(!exported.stdout.contains("policies"), "{}", exported.stdout);

    // A file that is not right is refused before anything is sent, naming the field.
    std::fs::write(
        &file,
        "name = \"scaled\"\nprofile = \"docker-batch\"\n[[policies]]\ntype = \"Fixed\"\n",
    )
    .unwrap();
    let bad = app.hearth(&["pools", "apply", "-f", path]).await;
    assert_eq!(bad.code, 6, "{bad:?}");
    assert!(bad.stderr.contains("policies[0].slots"), "{bad:?}");
    app.stop().await;
}
