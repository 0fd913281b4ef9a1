//! An `Idempotency-Key` answers its first result for 24 hours of the injected clock, then
//! is free again.

use serde_json::{Value, json};

use super::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_kept_for_a_day_of_the_injected_clock() {
    let t0 = chrono::Utc::now();
    let clock = hearth_core::clock::ManualClock::new(t0);
    let app = spawn_app(Some(clock.clone())).await;
    let client = reqwest::Client::new();
    let post = |key: &'static str| {
        let request = client
            .post(format!("{}/jobs", app.api.base))
            .bearer_auth(&app.api.token)
            .header("Idempotency-Key", key)
            .json(&json!({"name": "daily"}));
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 201);
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (r.json::<Value>().await.unwrap()["uuid"].clone(), replayed)
        }
    };
    let (first, replayed) = post("daily-run").await;
    assert!(!replayed);
    clock.advance(chrono::Duration::hours(23));
    assert_eq!(post("daily-run").await, (first.clone(), true));
    clock.advance(chrono::Duration::hours(2));
    let (later, replayed) = post("daily-run").await;
    assert!(!replayed, "25 h later the key is free");
    assert_ne!(later, first);
    app.stop().await;
}
