//! `/metrics` scraped while a real pool runs real tasks, with a `ManualClock`: the fleet
//! gauges, the instance counters and histograms, the billed slot-seconds and the HTTP
//! histogram's labels are checked figure by figure; and every metric the Grafana dashboard
//! plots is one the server exposes.

use std::collections::BTreeMap;

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use hearth_core::clock::ManualClock;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Api, TestApp, WAIT, pool_body, spawn_app, task_body, task_summary, wait_for};

/// One scrape: each sample by its name and labels.
struct Scrape {
    text: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    async fn of(api: &Api) -> Scrape {
        let text = api.get_text("/metrics").await;
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(parse_sample)
            .collect();
        Scrape { text, samples }
    }

    /// The value of the one sample of `name` with exactly these labels, if shown.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| *v)
    }

    /// `find`, panicking when the sample is absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.text))
    }

    /// `find`, 0 when absent (a labelled series appears at its first observation).
    fn value_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).unwrap_or(0.0)
    }

    /// `name{state=...}` for every state shown, zeros left out.
    fn nonzero_by(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        self.samples
            .iter()
            .filter(|(n, _, v)| n == name && *v != 0.0)
            .filter_map(|(_, l, v)| l.get(label).map(|s| (s.clone(), *v)))
            .collect()
    }

    /// The metric families the scrape declares (`# TYPE <name> <type>`).
    fn families(&self) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }
}

/// `name{a="x",b="y"} value` (label values here hold no quote or comma).
fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let (series, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("not a sample: {line:?}"));
    let value: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("not a value: {line:?}"));
    let (name, labels) = match series.split_once('{') {
        None => (series.to_owned(), BTreeMap::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}').expect("labels end with }");
            let labels = inner
                .split(',')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels)
        }
    };
    (name, labels, value)
}

fn states(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Waits until `n` instances of the task are Executing.
async fn wait_executing(app: &TestApp, task: &str, n: usize) {
    wait_for(
        &format!("{n} instances of {task} executing"),
        WAIT,
        || async {
            let rows = app.instances(task).await;
            let executing = rows.iter().filter(|i| i.state == "Executing").count();
            if executing == n {
                Ok(())
            } else {
                Err(format!("{executing} executing"))
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_a_pool_from_its_first_node_to_its_close() {
    let t0 = Utc.with_ymd_and_hms(2024, 5, 6, 9, 0, 0).unwrap();
    let at = |s: i64| t0 + TimeDelta::seconds(s);
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;

    // Two nodes of one slot, Ready at t0.
    let pool = api.create_pool(&pool_body("metered", 2)).await;
    api.wait_ready_nodes(&pool, 2).await;
    api.wait_pool_state(&pool, "FullyExecuting").await;

    // At t0 + 100 s, task A holds both slots until a file appears; task B, submitted at the
    // same instant, waits in the queue.
    clock.set(at(100));
    let go = app.data_dir.join("go");
    let hold = format!("until [ -e '{}' ]; do sleep 0.02; done", go.display());
    let a = api.submit_task(&task_body("a", &pool, 2, &hold)).await;
    wait_executing(&app, &a, 2).await;
    let b = api.submit_task(&task_body("b", &pool, 1, "true")).await;

    let busy = Scrape::of(api).await;
    assert_eq!(
        busy.nonzero_by("hearth_pools", "state"),
        states(&[("FullyExecuting", 1.0)])
    );
    assert_eq!(busy.value("hearth_pools", &[("state", "Closed")]), 0.0);
    assert_eq!(
        busy.nonzero_by("hearth_nodes", "state"),
        states(&[("Ready", 2.0)])
    );
    assert_eq!(
        busy.nonzero_by("hearth_slots", "state"),
        states(&[("busy", 2.0)])
    );
    assert_eq!(busy.value("hearth_slots", &[("state", "idle")]), 0.0);
    assert_eq!(busy.value("hearth_instances_queued", &[]), 1.0);

    // Seven seconds later A ends and B starts on a freed slot: B waited 7 s, A none.
    clock.set(at(107));
    std::fs::write(&go, "").unwrap();
    for task in [&a, &b] {
        let t = api.wait_task_finished(task, WAIT).await;
        assert_eq!(t["state"], "Success", "{}", task_summary(&t));
    }
    // Task C fails at once (no retry by default).
    let c = api.submit_task(&task_body("c", &pool, 1, "exit 3")).await;
    let t = api.wait_task_finished(&c, WAIT).await;
    assert_eq!(t["state"], "Failure", "{}", task_summary(&t));

    let done = Scrape::of(api).await;
    assert_eq!(
        done.nonzero_by("hearth_slots", "state"),
        states(&[("idle", 2.0)])
    );
    assert_eq!(done.value("hearth_instances_queued", &[]), 0.0);
    assert_eq!(
        done.nonzero_by("hearth_instances_finished_total", "outcome"),
        states(&[("succeeded", 3.0), ("failed", 1.0)])
    );
    assert_eq!(
        done.value(
            "hearth_instances_finished_total",
            &[("outcome", "cancelled")]
        ),
        0.0
    );
    let latency = "hearth_instance_submit_to_start_seconds";
    assert_eq!(done.value(&format!("{latency}_count"), &[]), 4.0);
    assert_eq!(done.value(&format!("{latency}_sum"), &[]), 7.0);
    assert_eq!(
        done.value(&format!("{latency}_bucket"), &[("le", "5")]),
        3.0
    );
    assert_eq!(
        done.value(&format!("{latency}_bucket"), &[("le", "10")]),
        4.0
    );
    assert_eq!(
        done.value("hearth_instances_dispatched_total", &[]),
        4.0,
        "dispatched"
    );

    // The HTTP histogram: by route template, never by the raw path.
    let http = "hearth_http_request_duration_seconds_count";
    let by_uuid = [
        ("route", "/pools/{uuid}"),
        ("method", "GET"),
        ("class", "2xx"),
    ];
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("class", "4xx")];
    let before = Scrape::of(api).await;
    let pool_gets = before.value(http, &by_uuid);
    let unmatched_gets = before.value_or_zero(http, &unmatched);
    api.pool(&pool).await;
    api.pool(&pool).await;
    let (status, _) = api
        .call(Method::GET, "/no/such/route", None)
        .await
        .expect("server reachable");
    assert_eq!(status, 404);
    let after = Scrape::of(api).await;
    assert_eq!(after.value(http, &by_uuid) - pool_gets, 2.0);
    assert_eq!(after.value(http, &unmatched) - unmatched_gets, 1.0);
    assert!(
        !after.text.contains(&pool),
        "a raw path with the pool's uuid is a label:\n{}",
        after.text
    );
    // The scrape itself is counted under its route.
    assert!(
        after.value(
            http,
            &[("route", "/metrics"), ("method", "GET"), ("class", "2xx")]
        ) >= 3.0
    );

    // Closed at t0 + 300 s: 2 nodes x 1 slot x 300 s billed.
    clock.set(at(300));
    api.post(&format!("/pools/{pool}/close"), &json!({})).await;
    api.wait_pool_state(&pool, "Closed").await;
    let closed = Scrape::of(api).await;
    assert_eq!(
        closed.nonzero_by("hearth_pools", "state"),
        states(&[("Closed", 1.0)])
    );
    assert_eq!(
        closed.nonzero_by("hearth_nodes", "state"),
        states(&[("Terminated", 2.0)])
    );
    assert!(closed.nonzero_by("hearth_slots", "state").is_empty());
    assert_eq!(closed.value("hearth_billed_slot_seconds_total", &[]), 600.0);
    app.stop().await;
}

/// The metric names in the dashboard's queries: every `hearth_…` identifier, with the
/// suffixes a histogram's series add taken off.
fn dashboard_metrics() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/grafana/hearth-dashboard.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut names = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let mut rest = expr;
            while let Some(start) = rest.find("hearth_") {
                let tail = &rest[start..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                names.push(tail[..end].to_owned());
                rest = &tail[end..];
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboard_is_exposed() {
    let app = spawn_app(None).await;
    let api = &app.api;
    // Some work, so that every labelled family has a series.
    let pool = api.create_pool(&pool_body("dash", 1)).await;
    api.wait_ready_nodes(&pool, 1).await;
    let task = api.submit_task(&task_body("t", &pool, 1, "true")).await;
    api.wait_task_finished(&task, WAIT).await;
    api.resize(&pool).await;
    wait_for("a resize tick", WAIT, || async {
        let s = Scrape::of(api).await;
        match s.value("hearth_resize_tick_duration_seconds_count", &[]) {
            n if n >= 1.0 => Ok(()),
            n => Err(format!("{n} ticks")),
        }
    })
    .await;

    let scrape = Scrape::of(api).await;
    let families = scrape.families();
    let used = dashboard_metrics();
    assert!(used.len() >= 10, "dashboard metrics: {used:?}");
    for name in &used {
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| families.iter().any(|x| x == f))
            })
            .unwrap_or(name);
        assert!(
            families.iter().any(|f| f == family),
            "the dashboard plots {name}, which /metrics does not expose: {families:?}"
        );
    }
    app.stop().await;
}
