//! Billing of real nodes with a `ManualClock`: a node is billed from Ready to Terminated.

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use hearth_core::clock::ManualClock;
use hearth_server::entities::usage_interval;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{WAIT, closed_intervals, parse_uuid, pool_body, spawn_app, task_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_billed_from_ready_to_terminated() {
    let t0 = Utc.with_ymd_and_hms(2024, 5, 6, 9, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let api = &app.api;
    let pool = api.create_pool(&pool_body("billed", 2)).await;
    api.wait_ready_nodes(&pool, 2).await;
    for n in app.node_rows(&pool).await {
        assert_eq!(n.ready_at, Some(t0), "{n:?}");
    }

    clock.set(t0 + TimeDelta::seconds(100));
    let task = api
        .submit_task(&task_body("work", &pool, 2, "sleep 0.3"))
        .await;
    let t = api.wait_task_finished(&task, WAIT).await;
    assert_eq!(t["state"], "Success", "{t}");

    let end = t0 + TimeDelta::seconds(200);
    clock.set(end);
    api.post(&format!("/pools/{pool}/close"), &json!({})).await;
    let p = api.wait_pool_state(&pool, "Closed").await;
    assert_eq!(p["state"], "Closed");

    let nodes = app.node_rows(&pool).await;
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    let intervals = usage_interval::Entity::find()
        .filter(usage_interval::Column::PoolId.eq(parse_uuid(&pool)))
        .all(&app.db)
        .await
        .expect("usage intervals");
    let mut billed_slot_seconds = 0i64;
    for n in &nodes {
        assert_eq!(n.state, "Terminated", "{n:?}");
        assert_eq!(n.ended_at, Some(end), "{n:?}");
        let mine: Vec<&usage_interval::Model> =
            intervals.iter().filter(|u| u.node_id == n.id).collect();
        assert_eq!(mine.len(), 1, "node {} has {mine:?}", n.id);
        let u = mine[0];
        assert_eq!(Some(u.started_at), n.ready_at, "{u:?} vs {n:?}");
        assert_eq!(u.ended_at, n.ended_at, "{u:?} vs {n:?}");
        assert_eq!(u.slots, n.slots, "{u:?}");
        let ended = u.ended_at.expect("closed interval");
        billed_slot_seconds += (ended - u.started_at).num_seconds() * i64::from(u.slots);
    }
    assert_eq!(intervals.len(), 2, "{intervals:?}");
    assert_eq!(billed_slot_seconds, 400, "{intervals:?}");

    let execs = app.executions(&task).await;
    assert_eq!(execs.len(), 2, "{execs:?}");
    let busy: i64 = closed_intervals(&execs)
        .iter()
        .map(|(s, e)| (*e - *s).num_seconds())
        .sum();
    assert!(
        busy <= billed_slot_seconds,
        "busy {busy} s > billed {billed_slot_seconds} slot-s"
    );
    app.stop().await;
}
