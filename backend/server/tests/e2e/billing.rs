//! `GET /billing/usage` over real nodes and real executions, with a `ManualClock`: known
//! node lifetimes, a known busy stretch and a price change mid-interval give the exact lines
//! for every `groupBy`; the lines add up to the totals, the totals to what the nodes' own
//! lifetimes cost, and the CSV to the JSON.

use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use hearth_core::clock::ManualClock;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::*;

/// A decimal text as integer units of `places` (the report writes every place).
fn units(text: &Value, places: usize) -> i128 {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal text: {text}"));
    let (whole, fraction) = text.split_once('.').expect("a decimal point");
    assert_eq!(fraction.len(), places, "{text}");
    format!("{whole}{fraction}").parse().expect("digits")
}

fn money(v: &Value) -> i128 {
    units(v, 6)
}

fn seconds(v: &Value) -> i128 {
    units(v, 3)
}

/// Checks that lines add up to the totals, field by field, and that each line's cost is
/// its busy plus idle cost and its slot-seconds its busy plus idle ones.
fn check_sums(report: &Value) {
    let lines = report["items"].as_array().expect("lines");
    let totals = &report["totals"];
    for (field, places) in [
        ("slotSeconds", 3),
        ("busySlotSeconds", 3),
        ("idleSlotSeconds", 3),
        ("cost", 6),
        ("busyCost", 6),
        ("idleCost", 6),
    ] {
        let sum: i128 = lines.iter().map(|l| units(&l[field], places)).sum();
        assert_eq!(sum, units(&totals[field], places), "{field} of {report:#}");
    }
    for l in lines {
        assert_eq!(
            money(&l["cost"]),
            money(&l["busyCost"]) + money(&l["idleCost"])
        );
        assert_eq!(
            seconds(&l["slotSeconds"]),
            seconds(&l["busySlotSeconds"]) + seconds(&l["idleSlotSeconds"])
        );
        assert_eq!(l["currency"], "EUR");
    }
}

/// (slotSeconds, busySlotSeconds, cost, busyCost) of a line, as decimal texts.
fn figures(line: &Value) -> (String, String, String, String) {
    let text = |f: &str| line[f].as_str().unwrap_or("?").to_owned();
    (
        text("slotSeconds"),
        text("busySlotSeconds"),
        text("cost"),
        text("busyCost"),
    )
}

fn f(slot: &str, busy: &str, cost: &str, busy_cost: &str) -> (String, String, String, String) {
    (slot.into(), busy.into(), cost.into(), busy_cost.into())
}

async fn set_price(app: &TestApp, price: &str) {
    app.api
        .as_token(&app.operator_token)
        .put(
            "/profiles/docker-batch",
            &json!({"pricePerSlotHour": price}),
        )
        .await;
}

pub(crate) async fn report(app: &TestApp, query: &str) -> Value {
    let r = app.api.get(&format!("/billing/usage?{query}")).await;
    check_sums(&r);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_lines_are_exact_for_every_grouping_across_a_price_change() {
    // 22:30 UTC: the day changes 1 h 30 into the run.
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 22, 30, 0).unwrap();
    let at = |minutes: i64| t0 + TimeDelta::minutes(minutes);
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    set_price(&app, "0.36").await;

    // One node of 2 slots, Ready at t0.
    let mut body = pool_body("billed", 2);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 2});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;

    // One instance busy on one slot from t0 to t0 + 1 h: it runs until a file appears.
    let go = app.data_dir.join("go");
    let command = format!("until [ -e '{}' ]; do sleep 0.02; done", go.display());
    let task = api
        .submit_task(&task_body("hour", &pool, 1, &command))
        .await;
    wait_for("the instance to start", WAIT, || async {
        let n = app.executions(&task).await.len();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} executions"))
        }
    })
    .await;
    clock.set(at(60));
    std::fs::write(&go, "").unwrap();
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{}", task_summary(&t));
    let execs = app.executions(&task).await;
    assert_eq!(
        (execs[0].started_at, execs[0].ended_at),
        (t0, Some(at(60))),
        "{execs:?}"
    );

    // The price doubles at 23:30 (the node is idle then), the pool closes at 00:30.
    set_price(&app, "0.72").await;
    clock.set(at(120));
    api.post(&format!("/pools/{pool}/close"), &json!({})).await;
    api.wait_pool_state(&pool, "Closed").await;

    let period = "from=2026-03-01&to=2026-03-03";
    // 2 slots x 2 h = 14,400 slot-s: 1 h at 0.36 (0.72) and 1 h at 0.72 (1.44); busy 1 h
    // of one slot at 0.36.
    let by_pool = report(&app, &format!("{period}&groupBy=pool")).await;
    let lines = by_pool["items"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{by_pool:#}");
    assert_eq!(lines[0]["poolUuid"], pool.as_str());
    assert_eq!(lines[0]["poolName"], "billed");
    assert_eq!(
        figures(&lines[0]),
        f("14400.000", "3600.000", "2.160000", "0.360000")
    );
    assert_eq!(by_pool["totals"]["idleCost"], "1.800000");
    assert_eq!(by_pool["groupBy"], "pool");
    assert_eq!(by_pool["currency"], "EUR");

    // What the node's own lifetime costs, computed from its row and the two prices.
    let nodes = app.node_rows(&pool).await;
    assert_eq!(nodes.len(), 1);
    let (ready, ended) = (nodes[0].ready_at.unwrap(), nodes[0].ended_at.unwrap());
    let price_change = at(60);
    let ms = |a: DateTime<Utc>, b: DateTime<Utc>| i128::from((b - a).num_milliseconds());
    let slots = i128::from(nodes[0].slots);
    // micro-units: ms x slots x price / 3,600,000 x 10^6.
    let expected = (ms(ready, price_change) * slots * 360_000
        + ms(price_change, ended) * slots * 720_000)
        / 3_600_000;
    assert_eq!(money(&by_pool["totals"]["cost"]), expected);

    let by_task = report(&app, &format!("{period}&groupBy=task")).await;
    let lines = by_task["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{by_task:#}");
    assert_eq!(lines[0]["taskUuid"], task.as_str());
    assert_eq!(lines[0]["taskName"], "hour");
    assert_eq!(
        figures(&lines[0]),
        f("3600.000", "3600.000", "0.360000", "0.360000")
    );
    assert_eq!(lines[1]["taskUuid"], Value::Null);
    assert_eq!(lines[1]["taskName"], "__idle__");
    assert_eq!(lines[1]["poolUuid"], pool.as_str());
    assert_eq!(
        figures(&lines[1]),
        f("10800.000", "0.000", "1.800000", "0.000000")
    );
    // A line a page: the same lines in the same order, the totals on every page.
    let first = app
        .api
        .get(&format!("/billing/usage?{period}&groupBy=task&limit=1"))
        .await;
    assert_eq!(first["items"], json!([lines[0].clone()]), "{first:#}");
    assert_eq!(first["totals"], by_task["totals"]);
    let token = first["nextPageToken"].as_str().expect("a second page");
    let second = app
        .api
        .get(&format!(
            "/billing/usage?{period}&groupBy=task&limit=1&pageToken={token}"
        ))
        .await;
    assert_eq!(second["items"], json!([lines[1].clone()]), "{second:#}");
    assert_eq!(second["nextPageToken"], Value::Null);
    assert_eq!(second["totals"], by_task["totals"]);

    let by_day = report(&app, &format!("{period}&groupBy=day")).await;
    let lines = by_day["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{by_day:#}");
    assert_eq!(lines[0]["day"], "2026-03-01");
    // 22:30-23:30 at 0.36 and 23:30-24:00 at 0.72, 2 slots.
    assert_eq!(
        figures(&lines[0]),
        f("10800.000", "3600.000", "1.440000", "0.360000")
    );
    assert_eq!(lines[1]["day"], "2026-03-02");
    assert_eq!(
        figures(&lines[1]),
        f("3600.000", "0.000", "0.720000", "0.000000")
    );

    for (group, key) in [("profile", "profile"), ("node", "nodeUuid")] {
        let r = report(&app, &format!("{period}&groupBy={group}")).await;
        let lines = r["items"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "{r:#}");
        assert!(lines[0][key].is_string(), "{r:#}");
        assert_eq!(
            figures(&lines[0]),
            f("14400.000", "3600.000", "2.160000", "0.360000")
        );
    }

    // Clipped to 23:00-00:00: 1 h x 2 slots, half of it busy on one slot.
    let clipped = report(
        &app,
        "from=2026-03-01T23:00:00Z&to=2026-03-02T00:00:00Z&groupBy=pool",
    )
    .await;
    assert_eq!(
        figures(&clipped["items"][0]),
        f("7200.000", "1800.000", "1.080000", "0.180000")
    );

    // An open node counts up to now: a second pool of one slot, Ready at 00:30, read at
    // 00:45.
    let second = api.create_pool(&pool_body("still-up", 1)).await;
    api.wait_ready_nodes(&second, 1).await;
    clock.set(at(135));
    let with_open = report(&app, &format!("{period}&groupBy=pool")).await;
    let open_line = with_open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["poolUuid"] == second.as_str())
        .expect("the open pool's line")
        .clone();
    assert_eq!(
        figures(&open_line),
        f("900.000", "0.000", "0.180000", "0.000000")
    );
    assert_eq!(with_open["totals"]["cost"], "2.340000");

    // The CSV holds the same lines: parsed back, it sums to the JSON totals.
    let (status, csv) = api
        .call(
            reqwest::Method::GET,
            &format!("/billing/usage?{period}&groupBy=task&format=csv"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let json_report = report(&app, &format!("{period}&groupBy=task")).await;
    let mut rows = csv.split("\r\n").filter(|r| !r.is_empty());
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "taskUuid",
            "taskName",
            "poolUuid",
            "poolName",
            "slotSeconds",
            "busySlotSeconds",
            "idleSlotSeconds",
            "cost",
            "busyCost",
            "idleCost",
            "currency"
        ]
    );
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), json_report["items"].as_array().unwrap().len());
    for (field, places) in [("slotSeconds", 3), ("cost", 6), ("idleCost", 6)] {
        let sum: i128 = rows
            .iter()
            .map(|r| units(&json!(r[column(field)]), places))
            .sum();
        assert_eq!(sum, units(&json_report["totals"][field], places), "{field}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_interval_bills_the_node_once_whole_days_and_partial_days_alike() {
    let t0 = Utc.with_ymd_and_hms(2026, 4, 10, 9, 0, 0).unwrap();
    let hours = |h: i64| t0 + TimeDelta::hours(h);
    let clock = ManualClock::new(t0);
    let app = spawn_restartable_app(Some(clock.clone())).await;
    set_price(&app, "0.36").await;
    let pool = app.api.create_pool(&pool_body("restarted", 1)).await;
    app.api.wait_ready_nodes(&pool, 1).await;

    // The server goes away an hour into the node's interval and comes back on the same
    // database; the node's agent ran on and is adopted.
    clock.set(hours(1));
    let app = app.restart_abandoning_nodes().await;
    let nodes = app.api.wait_ready_nodes(&pool, 1).await;
    assert_eq!(nodes.len(), 1);

    // Open: it counts up to now, over whole days (raw, open) and partial ones alike.
    clock.set(hours(2));
    let whole = "from=2026-04-10&to=2026-04-11&groupBy=pool";
    let cut = "from=2026-04-09T12:00:00Z&to=2026-04-11T06:00:00Z&groupBy=day";
    let open = report(&app, whole).await;
    assert_eq!(open["totals"]["slotSeconds"], "7200.000", "{open:#}");
    let open_cut = report(&app, cut).await;
    assert_eq!(
        open_cut["totals"]["slotSeconds"], "7200.000",
        "{open_cut:#}"
    );

    clock.set(hours(3));
    app.api
        .post(&format!("/pools/{pool}/close"), &json!({}))
        .await;
    app.api.wait_pool_state(&pool, "Closed").await;

    // The node's own lifetime, priced independently: 3 h of 1 slot at 0.36 = 1.08.
    let rows = app.node_rows(&pool).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (ready, ended) = (rows[0].ready_at.unwrap(), rows[0].ended_at.unwrap());
    assert_eq!((ready, ended), (t0, hours(3)), "{rows:?}");
    let expected =
        i128::from((ended - ready).num_milliseconds()) * i128::from(rows[0].slots) * 360_000
            / 3_600_000;
    assert_eq!(expected, 1_080_000);

    // Closed: the whole day from the rollups, the cut period from the rollups and the raw
    // rows of its partial days, and a period inside the day from the raw rows only.
    for (query, slot_seconds, cost) in [
        (whole, "10800.000", expected),
        (cut, "10800.000", expected),
        (
            "from=2026-04-10T09:30:00Z&to=2026-04-10T11:00:00Z&groupBy=task",
            "5400.000",
            540_000,
        ),
    ] {
        let r = report(&app, query).await;
        assert_eq!(r["totals"]["slotSeconds"], slot_seconds, "{query}: {r:#}");
        assert_eq!(money(&r["totals"]["cost"]), cost, "{query}: {r:#}");
    }
    let by_day = report(&app, cut).await;
    let days: Vec<&Value> = by_day["items"].as_array().unwrap().iter().collect();
    assert_eq!(days.len(), 1, "{by_day:#}");
    assert_eq!(days[0]["day"], "2026-04-10");

    // The backfill (what the migration runs over older history) rebuilds the same rollups.
    let mut reports = Vec::new();
    for q in [whole, cut] {
        reports.push(report(&app, q).await);
    }
    for table in ["usage_rollups", "usage_interval_days"] {
        app.db
            .execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .expect("emptying the rollups");
    }
    let emptied = report(&app, whole).await;
    assert_eq!(emptied["totals"]["slotSeconds"], "0.000", "{emptied:#}");
    hearth_migrations::rollups::roll_up(&app.db, hearth_migrations::rollups::Closed::All)
        .await
        .expect("backfill");
    for (i, q) in [whole, cut].iter().enumerate() {
        assert_eq!(report(&app, q).await, reports[i], "{q} after the backfill");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_usage_past_the_retention_is_pruned_and_its_whole_days_still_bill_the_same() {
    use hearth_server::entities::{instance_execution, usage_interval};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    let t0 = Utc.with_ymd_and_hms(2025, 6, 10, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    set_price(&app, "0.36").await;

    // Pool `gone` runs one instance for an hour, then closes; pool `kept` stays up.
    let gone = api.create_pool(&pool_body("gone", 1)).await;
    let kept = api.create_pool(&pool_body("kept", 1)).await;
    api.wait_ready_nodes(&gone, 1).await;
    api.wait_ready_nodes(&kept, 1).await;
    let go = app.data_dir.join("go");
    let command = format!("until [ -e '{}' ]; do sleep 0.02; done", go.display());
    let on_gone = api
        .submit_task(&task_body("on-gone", &gone, 1, &command))
        .await;
    let on_kept = api
        .submit_task(&task_body("on-kept", &kept, 1, &command))
        .await;
    for task in [&on_gone, &on_kept] {
        wait_for("the instance to start", WAIT, || async {
            match app.executions(task).await.len() {
                1 => Ok(()),
                n => Err(format!("{n} executions")),
            }
        })
        .await;
    }
    clock.set(t0 + TimeDelta::hours(1));
    std::fs::write(&go, "").unwrap();
    for task in [&on_gone, &on_kept] {
        let t = api.wait_task_finished(task, WAIT).await;
        assert_eq!(t["state"], "Success", "{}", task_summary(&t));
    }
    clock.set(t0 + TimeDelta::hours(2));
    api.post(&format!("/pools/{gone}/close"), &json!({})).await;
    api.wait_pool_state(&gone, "Closed").await;

    let june = "from=2025-06-01&to=2025-07-01";
    let mut reports = Vec::new();
    for group in ["pool", "task"] {
        reports.push(report(&app, &format!("{june}&groupBy={group}")).await);
    }
    let intervals = || async { usage_interval::Entity::find().count(&app.db).await.unwrap() };
    assert_eq!(intervals().await, 2);

    // 401 days on, June 2025 is before the horizon: `gone`'s raw rows go, `kept`'s stay
    // (its node is still billed on the open interval, which rolls its busy time up later).
    clock.set(t0 + TimeDelta::days(401));
    wait_for("the prune", WAIT, || async {
        match intervals().await {
            1 => Ok(()),
            n => Err(format!("{n} intervals")),
        }
    })
    .await;
    let executions = |task: &str| {
        let task = parse_uuid(task);
        let db = app.db.clone();
        async move {
            instance_execution::Entity::find()
                .filter(instance_execution::Column::TaskId.eq(task))
                .count(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        executions(&on_gone).await,
        0,
        "the closed node's execution is pruned"
    );
    assert_eq!(
        executions(&on_kept).await,
        1,
        "the open node's execution is kept"
    );

    // Whole days read the rollups: `gone`'s June lines are what they were, to the digit.
    let lines_of = |r: &Value, pool: &str| -> Vec<Value> {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["poolUuid"] == pool)
            .cloned()
            .collect()
    };
    for (group, then) in ["pool", "task"].iter().zip(&reports) {
        let now = report(&app, &format!("{june}&groupBy={group}")).await;
        assert!(!lines_of(then, &gone).is_empty(), "{then:#}");
        assert_eq!(
            lines_of(&now, &gone),
            lines_of(then, &gone),
            "{group}: {now:#}"
        );
    }
    // June 10 holds `gone`'s 2 h (rollups) and `kept`'s 14 h to midnight (its open raw
    // interval): 16 h of one slot, of which each pool's hour of work is busy.
    let by_day = report(&app, &format!("{june}&groupBy=day")).await;
    let day = &by_day["items"][0];
    assert_eq!(day["day"], "2025-06-10", "{by_day:#}");
    assert_eq!(day["slotSeconds"], "57600.000", "{by_day:#}");
    assert_eq!(day["busySlotSeconds"], "7200.000", "{by_day:#}");

    // What needs the raw rows before the horizon is refused, naming the field.
    for (query, field) in [
        (
            "from=2025-06-10T12:00:00Z&to=2025-07-01&groupBy=pool",
            "from",
        ),
        ("from=2025-06-01&to=2025-06-10T12:00:00Z&groupBy=pool", "to"),
        ("from=2025-06-01&to=2025-07-01&groupBy=node", "from"),
    ] {
        let (status, text) = api
            .call(
                reqwest::Method::GET,
                &format!("/billing/usage?{query}"),
                None,
            )
            .await
            .expect("GET");
        assert_eq!(status, 400, "{query}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{query}: {body}"
        );
    }
    // Within the horizon nothing changes: the last 30 days by node read the raw rows.
    let recent = report(&app, "from=2026-06-16&to=2026-07-16&groupBy=node").await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 1, "{recent:#}");
    app.stop().await;
}
