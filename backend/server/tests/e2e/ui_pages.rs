//! The dashboard's billing page and policy editor against the real app, on a `ManualClock`:
//! the page's lines and totals are the API report's to the digit, its download is the
//! API's CSV, a week-grid click changes which policy is active, and the roles and tenants
//! see what the API lets them see.

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use hearth_core::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::ui::{browser, page, server_fn, session, user_with_password};

/// The app on a `ManualClock` at 2026-03-01 10:00 UTC, `docker-batch` priced 0.36 a
/// slot-hour.
async fn priced_app() -> (TestApp, ManualClock, chrono::DateTime<Utc>) {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    app.api
        .as_token(&app.operator_token)
        .put(
            "/profiles/docker-batch",
            &json!({"pricePerSlotHour": "0.36"}),
        )
        .await;
    (app, clock, t0)
}

/// A dashboard session of a new viewer of the default tenant.
async fn viewer_session(app: &TestApp) -> String {
    let (_, email) = user_with_password(app, "viewer", "correct horse battery").await;
    session(
        app,
        &[("email", &email), ("password", "correct horse battery")],
    )
    .await
}

/// A dashboard session of a new tenant's owner.
async fn other_tenant_session(app: &TestApp) -> String {
    let other = app
        .api
        .as_token(&app.operator_token)
        .post("/tenants", &json!({"name": "other"}))
        .await;
    session(app, &[("token", other["ownerToken"].as_str().unwrap())]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_lists_each_pool_and_its_idle_time_and_downloads_the_same_report() {
    let (app, clock, t0) = priced_app().await;
    let api = &app.api;
    let mut body = pool_body("billed", 2);
    body["multiSlotsSettings"] = json!({"slotsPerNode": 2});
    let pool = api.create_pool(&body).await;
    api.wait_ready_nodes(&pool, 1).await;
    // One slot busy for the first hour, then the pool closes after two.
    let go = app.data_dir.join("go");
    let command = format!("until [ -e '{}' ]; do sleep 0.02; done", go.display());
    let task = api
        .submit_task(&task_body("hour", &pool, 1, &command))
        .await;
    wait_for("the instance to start", WAIT, || async {
        match app.executions(&task).await.len() {
            1 => Ok(()),
            n => Err(format!("{n} executions")),
        }
    })
    .await;
    clock.set(t0 + TimeDelta::hours(1));
    std::fs::write(&go, "").unwrap();
    api.wait_task_finished(&task, WAIT).await;
    clock.set(t0 + TimeDelta::hours(2));
    api.post(&format!("/pools/{pool}/close"), &json!({})).await;
    api.wait_pool_state(&pool, "Closed").await;

    let owner = session(&app, &[("token", &api.token)]).await;
    let day = "from=2026-03-01&to=2026-03-01";
    let by_pool = page(&app, &format!("/ui/billing?{day}"), &owner).await;
    assert_eq!(by_pool.status, StatusCode::OK, "{}", by_pool.text);
    // 2 slots × 2 h at 0.36 = 1.44, of which one slot-hour busy (0.36).
    let api_report = api
        .get("/billing/usage?from=2026-03-01&to=2026-03-02&groupBy=pool")
        .await;
    assert_eq!(api_report["totals"]["cost"], "1.440000", "{api_report:#}");
    for exact in ["1.440000", "0.360000", "1.080000"] {
        assert!(
            by_pool.text.contains(&format!("value=\"{exact}\"")),
            "no {exact} in {}",
            by_pool.text
        );
    }
    assert!(by_pool.text.contains("billed"));
    assert!(by_pool.text.contains("Busy and idle cost per day"));
    assert!(
        by_pool
            .text
            .contains("2026-03-01: busy 0.36 EUR, idle 1.08 EUR"),
        "the day's bar says its figures: {}",
        by_pool.text
    );

    let by_task = page(&app, &format!("/ui/billing?{day}&by=task"), &owner).await;
    assert_eq!(by_task.status, StatusCode::OK);
    assert!(by_task.text.contains(">hour<"), "{}", by_task.text);
    assert!(by_task.text.contains("__idle__"), "{}", by_task.text);

    // The download is the API's CSV over the same days, byte for byte.
    let csv = browser()
        .get(format!(
            "{}/ui/billing/usage?{day}&groupBy=task&format=csv",
            api.base
        ))
        .header("cookie", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("usage-20260301-20260301-by-task.csv")
    );
    let csv = csv.text().await.unwrap();
    let expected = api
        .get_text("/billing/usage?from=2026-03-01&to=2026-03-02&groupBy=task&format=csv")
        .await;
    assert_eq!(csv, expected);
    assert!(csv.contains("__idle__"), "{csv}");

    // Bad input names its field; no session, no download.
    let bad = page(&app, "/ui/billing?by=planet", &owner).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.text.contains("by must be pool, profile or task"),
        "{}",
        bad.text
    );
    let backwards = page(&app, "/ui/billing?from=2026-03-02&to=2026-03-01", &owner).await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    let anonymous = browser()
        .get(format!("{}/ui/billing/usage?{day}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // A viewer may not read billing; another tenant sees none of this one's usage.
    let viewer = viewer_session(&app).await;
    let refused = page(&app, &format!("/ui/billing?{day}"), &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.text.contains("billed"));
    let theirs = other_tenant_session(&app).await;
    let empty = page(&app, &format!("/ui/billing?{day}"), &theirs).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(!empty.text.contains("billed"));
    assert!(empty.text.contains("No usage in this period."));
    app.stop().await;
}

#[tokio::test]
async fn a_week_grid_click_changes_the_active_policy_and_only_writers_may_click() {
    // A Monday, 10:00 UTC.
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let app = spawn_app(Some(ManualClock::new(now))).await;
    let api = &app.api;
    let mut body = pool_body("scheduled", 0);
    body["scaling"] = json!({"policies": [
        {"type": "Fixed", "name": "evenings", "slotsCount": 0,
         "enabledPeriods": [{"type": "Weekly", "days": ["monday"],
                             "startTimeUtc": "20:00:00", "endTimeUtc": "23:00:00"}]},
        {"type": "Fixed", "name": "otherwise", "slotsCount": 0},
    ]});
    let pool = api.create_pool(&body).await;
    let owner = session(&app, &[("token", &api.token)]).await;
    let before = page(&app, &format!("/ui/pools/{pool}"), &owner).await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before.text.contains("Monday 20:00–21:00: enabled"),
        "{}",
        before.text
    );
    assert!(before.text.contains("Monday 10:00–11:00: off"));
    assert_eq!(
        api.pool(&pool).await["scaling"]["activePolicyName"],
        "otherwise"
    );

    // Switching Monday 10:00–11:00 on for "evenings" makes it the active policy now.
    let hours = |on: &'static str, from: &'static str, to: &'static str| {
        [
            ("id", pool.clone()),
            ("policy", "0".into()),
            ("day", "0".into()),
            ("from_hour", from.into()),
            ("to_hour", to.into()),
            ("on", on.into()),
        ]
    };
    let form = |pairs: &[(&'static str, String)]| -> Vec<(&'static str, String)> { pairs.to_vec() };
    let call = |cookie: String, pairs: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            server_fn(app, "set_policy_hours", &refs, &cookie).await
        }
    };
    let done = call(owner.clone(), form(&hours("true", "10", "11"))).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let stored = api.pool(&pool).await;
    assert_eq!(
        stored["scaling"]["activePolicyName"], "evenings",
        "{stored:#}"
    );
    let periods = &stored["scaling"]["policies"][0]["enabledPeriods"];
    assert_eq!(periods.as_array().map(Vec::len), Some(2), "{periods:#}");
    let after = page(&app, &format!("/ui/pools/{pool}"), &owner).await;
    assert!(
        after.text.contains("Monday 10:00–11:00: enabled"),
        "{}",
        after.text
    );
    assert!(after.text.contains("active now"));

    // Switching every hour of Monday off would leave "evenings" never enabled: refused,
    // with the field named, and nothing changed.
    let never = call(owner.clone(), form(&hours("false", "0", "24"))).await;
    assert_eq!(never.status, StatusCode::BAD_REQUEST, "{}", never.text);
    assert!(
        never.text.contains("would never be enabled"),
        "{}",
        never.text
    );
    assert_eq!(
        api.pool(&pool).await["scaling"]["policies"][0]["enabledPeriods"],
        *periods
    );
    let backwards = call(owner.clone(), form(&hours("true", "11", "10"))).await;
    assert_eq!(
        backwards.status,
        StatusCode::BAD_REQUEST,
        "{}",
        backwards.text
    );

    // A viewer sees the grid without buttons, and a forged click is refused.
    let viewer = viewer_session(&app).await;
    let seen = page(&app, &format!("/ui/pools/{pool}"), &viewer).await;
    assert!(seen.text.contains("Monday 10:00–11:00: enabled"));
    assert!(!seen.text.contains("switch all of"), "{}", seen.text);
    let forged = call(viewer, form(&hours("false", "10", "11"))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    // Another tenant: no such pool.
    let theirs = other_tenant_session(&app).await;
    let stranger = call(theirs, form(&hours("false", "10", "11"))).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{}", stranger.text);
    assert_eq!(
        api.pool(&pool).await["scaling"]["activePolicyName"],
        "evenings"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pools_table_filters_shows_cost_today_and_the_form_creates_pools() {
    let (app, clock, t0) = priced_app().await;
    let api = &app.api;
    let alpha = api.create_pool(&pool_body("alpha", 1)).await;
    api.wait_ready_nodes(&alpha, 1).await;
    let mut quiet = pool_body("beta", 0);
    quiet["tags"] = json!(["other"]);
    let beta = api.create_pool(&quiet).await;
    api.post(
        "/budgets",
        &json!({"name": "march", "amount": "10", "period": "monthly"}),
    )
    .await;
    clock.set(t0 + TimeDelta::hours(1));

    let owner = session(&app, &[("token", &api.token)]).await;
    let all = page(&app, "/ui/pools", &owner).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert!(all.text.contains("alpha") && all.text.contains("beta"));
    // One slot for one hour at 0.36, as the API's report since midnight says.
    assert!(all.text.contains("value=\"0.360000\""), "{}", all.text);
    assert!(all.text.contains("Cost today (EUR)"));
    assert!(all.text.contains("New pool…"), "an owner gets the form");
    let tagged = page(&app, "/ui/pools?tag=other", &owner).await;
    assert!(tagged.text.contains("beta") && !tagged.text.contains(">alpha<"));
    let ended = page(&app, "/ui/pools?state=ended", &owner).await;
    assert!(!ended.text.contains(">beta<") && !ended.text.contains(">alpha<"));
    api.post(&format!("/pools/{beta}/close"), &json!({})).await;
    api.wait_pool_state(&beta, "Closed").await;
    let ended = page(&app, "/ui/pools?state=ended", &owner).await;
    assert!(ended.text.contains(">beta<"), "{}", ended.text);
    let live = page(&app, "/ui/pools?state=live", &owner).await;
    assert!(live.text.contains(">alpha<") && !live.text.contains(">beta<"));
    let nonsense = page(&app, "/ui/pools?state=Sleeping", &owner).await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST);
    assert!(
        nonsense
            .text
            .contains("state must be live, ended or a pool state")
    );

    // The Overview: spend today and this month against the budget, and the feed.
    let overview = page(&app, "/ui", &owner).await;
    assert!(
        overview.text.contains("value=\"0.360000\""),
        "{}",
        overview.text
    );
    assert!(
        overview
            .text
            .contains("Budget march: 4% of 10.00 EUR consumed"),
        "{}",
        overview.text
    );
    assert!(overview.text.contains("Recent events"));
    assert!(
        overview.text.contains("pool beta: closed"),
        "{}",
        overview.text
    );

    // The form: a pool following the queue, created with the API's rules.
    let form = [
        ("name", "from-the-form"),
        ("profile", "docker-batch"),
        ("slots_per_node", "1"),
        ("scaling", "queue"),
        ("slots", "0"),
        ("min_slots", "0"),
        ("max_slots", "4"),
        ("min_idle", "0"),
        ("idle_seconds", "60"),
        ("factor", "0.5"),
        ("tags", "made, here"),
    ];
    let made = server_fn(&app, "create_pool", &form, &owner).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let id: String = serde_json::from_str(&made.text).expect("the new pool's uuid");
    let pool = api.pool(&id).await;
    assert_eq!(pool["name"], "from-the-form");
    assert_eq!(pool["tags"], json!(["made", "here"]));
    let policy = &pool["scaling"]["policies"][0];
    assert_eq!(policy["type"], "ManagedTasksQueue", "{pool:#}");
    assert_eq!(policy["maxTotalSlots"], 4);
    // A bad figure is the API's 400, naming the field; nothing is created.
    let mut bad = form;
    bad[0] = ("name", "refused");
    bad[5] = ("min_slots", "5");
    bad[6] = ("max_slots", "2");
    let refused = server_fn(&app, "create_pool", &bad, &owner).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(refused.text.contains("maxTotalSlots"), "{}", refused.text);
    let listed = api.get("/pools").await;
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "refused"),
        "{listed:#}"
    );

    // A viewer reads the table without the form and costs (billing is not theirs), and a
    // forged create is refused.
    let viewer = viewer_session(&app).await;
    let seen = page(&app, "/ui/pools", &viewer).await;
    assert!(seen.text.contains(">alpha<"));
    assert!(!seen.text.contains("New pool…"));
    assert!(!seen.text.contains("value=\"0.360000\""));
    let overview = page(&app, "/ui", &viewer).await;
    assert!(!overview.text.contains("Spend"), "{}", overview.text);
    let mut forged = form;
    forged[0] = ("name", "forged");
    let forged = server_fn(&app, "create_pool", &forged, &viewer).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    app.stop().await;
}

#[tokio::test]
async fn the_job_pages_show_tasks_with_their_dependencies_and_terminate_is_for_writers() {
    let app = spawn_app(None).await;
    let api = &app.api;
    // No nodes: the tasks stay queued (or held).
    let pool = api.create_pool(&pool_body("job-pool", 0)).await;
    let job = api
        .post(
            "/jobs",
            &json!({"name": "pipeline", "poolUuid": pool, "useDependencies": true}),
        )
        .await["uuid"]
        .as_str()
        .expect("a job")
        .to_owned();
    let mut first = task_body("prepare", &pool, 1, "true");
    first["jobUuid"] = json!(job);
    first.as_object_mut().unwrap().remove("poolUuid");
    let first = api.submit_task(&first).await;
    let mut second = task_body("render", &pool, 2, "true");
    second["jobUuid"] = json!(job);
    second.as_object_mut().unwrap().remove("poolUuid");
    second["dependencies"] = json!({"dependsOn": [first]});
    let second = api.submit_task(&second).await;

    let owner = session(&app, &[("token", &api.token)]).await;
    let list = page(&app, "/ui/jobs", &owner).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains(">pipeline<"), "{}", list.text);
    assert!(list.text.contains(">job-pool<"));
    let one = page(&app, &format!("/ui/jobs/{job}"), &owner).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert!(one.text.contains(">prepare<") && one.text.contains(">render<"));
    // "render" waits for "prepare", linked.
    assert!(
        one.text.contains(&format!(
            "href=\"/ui/tasks/{first}\" class=\"dep\">prepare</a>"
        )),
        "{}",
        one.text
    );
    assert!(one.text.contains("Terminate job"));
    assert!(one.text.contains("3 queued of 3"), "{}", one.text);

    let viewer = viewer_session(&app).await;
    let seen = page(&app, &format!("/ui/jobs/{job}"), &viewer).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.text.contains("Terminate job"));
    let forged = server_fn(&app, "terminate_job", &[("id", &job)], &viewer).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    let theirs = other_tenant_session(&app).await;
    let hidden = page(&app, &format!("/ui/jobs/{job}"), &theirs).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let listed = page(&app, "/ui/jobs", &theirs).await;
    assert!(!listed.text.contains("pipeline"));
    let stranger = server_fn(&app, "terminate_job", &[("id", &job)], &theirs).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{}", stranger.text);

    let done = server_fn(&app, "terminate_job", &[("id", &job)], &owner).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    for t in [&first, &second] {
        assert_eq!(api.task(t).await["state"], "Cancelled");
    }
    let after = page(&app, &format!("/ui/jobs/{job}"), &owner).await;
    assert!(!after.text.contains("Terminate job"), "{}", after.text);
    assert!(after.text.contains("3 cancelled of 3"), "{}", after.text);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reads_every_tenants_billing_and_a_tenant_cannot_ask_for_it() {
    let (app, clock, t0) = priced_app().await;
    let api = &app.api;
    let operator = api.as_token(&app.operator_token);
    let other = operator.post("/tenants", &json!({"name": "second"})).await;
    let theirs = api.as_token(other["ownerToken"].as_str().unwrap());
    let mine = api.create_pool(&pool_body("first-tenant-pool", 1)).await;
    let their_pool = theirs
        .create_pool(&pool_body("second-tenant-pool", 1))
        .await;
    api.wait_ready_nodes(&mine, 1).await;
    theirs.wait_ready_nodes(&their_pool, 1).await;
    clock.set(t0 + TimeDelta::hours(1));

    let op = session(&app, &[("token", &app.operator_token)]).await;
    let all = page(&app, "/ui/billing?from=2026-03-01&to=2026-03-01", &op).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    for words in [
        "first-tenant-pool",
        "second-tenant-pool",
        ">second<",
        ">Tenant<",
    ] {
        assert!(all.text.contains(words), "no {words} in {}", all.text);
    }
    assert!(!all.text.contains("Budgets"), "budgets are a tenant's");
    let csv = crate::ui::browser()
        .get(format!(
            "{}/ui/billing/usage?from=2026-03-01&to=2026-03-01&groupBy=pool&format=csv&tenant=all",
            api.base
        ))
        .header("cookie", &op)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("tenantUuid,tenantName,poolUuid,poolName"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().count(),
        3,
        "a header and a line per tenant's pool: {csv}"
    );

    // A tenant's owner asking for every tenant is refused; their own page has only theirs.
    let owner = session(&app, &[("token", &api.token)]).await;
    let refused = crate::ui::browser()
        .get(format!(
            "{}/ui/billing/usage?from=2026-03-01&to=2026-03-01&tenant=all",
            api.base
        ))
        .header("cookie", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let own = page(&app, "/ui/billing?from=2026-03-01&to=2026-03-01", &owner).await;
    assert!(own.text.contains("first-tenant-pool") && !own.text.contains("second-tenant-pool"));
    app.stop().await;
}
