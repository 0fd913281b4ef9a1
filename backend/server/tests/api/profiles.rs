//! /profiles: the catalogue read by any token, written by the operator.

use serde_json::{Value, json};

use crate::helpers::*;

fn price(profile: &Value) -> f64 {
    let raw = profile["pricePerSlotHour"]
        .as_str()
        .unwrap_or_else(|| panic!("pricePerSlotHour must be a decimal string: {profile}"));
    raw.parse()
        .unwrap_or_else(|e| panic!("pricePerSlotHour {raw:?}: {e}"))
}

fn profile_body(name: &str) -> Value {
    json!({
        "name": name,
        "constants": [{"name": "DOCKER_CMD", "value": ""}, {"name": "GPU", "value": "none"}],
        "cores": 8,
        "memoryMB": 16384,
        "pricePerSlotHour": "0.12",
        "maxSlotsPerNode": 8,
        "bootDelaySeconds": 0
    })
}

#[tokio::test]
async fn the_catalogue_lists_the_bootstrap_profiles() {
    let app = spawn_app().await;
    for token in [&app.owner_token, &app.operator_token] {
        let names = app.get("/profiles", token).await.expect_json(200);
        let names: Vec<&str> = names
            .as_array()
            .expect("array of names")
            .iter()
            .map(|n| n.as_str().expect("each profile is a name string"))
            .collect();
        assert!(names.contains(&"docker-batch"), "{names:?}");
        assert!(names.contains(&"docker-network"), "{names:?}");
    }
    let viewer = app.create_token("viewer").await;
    app.get("/profiles", &viewer).await.expect(200);
}

#[tokio::test]
async fn profile_details_have_the_documented_shape() {
    let app = spawn_app().await;
    let batch = app
        .get("/profiles/docker-batch", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(batch["name"], "docker-batch");
    assert_eq!(batch["maxSlotsPerNode"], 16, "{batch}");
    for field in ["cores", "memoryMB"] {
        assert!(batch[field].is_u64(), "{field} in {batch}");
    }
    assert!(
        batch["bootDelaySeconds"].as_f64().is_some_and(|s| s >= 0.0),
        "{batch}"
    );
    assert!(price(&batch) >= 0.0);
    let constants = assert_array(&batch, "constants");
    for constant in constants {
        assert!(
            constant["name"].is_string(),
            "profile constants use name/value: {constant}"
        );
        assert!(constant.get("value").is_some(), "{constant}");
        assert!(
            constant.get("key").is_none(),
            "profile constants use name, not key: {constant}"
        );
    }
    assert!(
        constants.iter().any(|c| c["name"] == "DOCKER_CMD"),
        "docker-batch runs DOCKER_CMD: {batch}"
    );

    let network = app
        .get("/profiles/docker-network", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(network["name"], "docker-network");
    assert_eq!(network["maxSlotsPerNode"], 1, "{network}");
}

#[tokio::test]
async fn unknown_profile_is_404() {
    let app = spawn_app().await;
    app.get("/profiles/no-such-profile", &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
}

#[tokio::test]
async fn operator_adds_a_profile() {
    let app = spawn_app().await;
    let created = app
        .post_json("/profiles", &app.operator_token, &profile_body("gpu-batch"))
        .await
        .expect_json(201);
    assert_eq!(created["name"], "gpu-batch");
    assert_eq!(created["maxSlotsPerNode"], 8);
    assert_eq!(created["cores"], 8);
    assert_eq!(created["memoryMB"], 16384);
    assert!((price(&created) - 0.12).abs() < 1e-9, "{created}");

    let fetched = app
        .get("/profiles/gpu-batch", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(fetched["maxSlotsPerNode"], 8);
    assert!((price(&fetched) - 0.12).abs() < 1e-9, "{fetched}");
    let constants = assert_array(&fetched, "constants");
    assert!(
        constants
            .iter()
            .any(|c| c["name"] == "GPU" && c["value"] == "none"),
        "{fetched}"
    );

    let names = app
        .get("/profiles", &app.owner_token)
        .await
        .expect_json(200);
    assert!(
        names.as_array().unwrap().iter().any(|n| n == "gpu-batch"),
        "{names}"
    );

    // Tenants can use it at once.
    let mut body = pool_body("on-gpu");
    body["profile"] = json!("gpu-batch");
    let pool = app.create_pool(&app.owner_token, &body).await;
    assert_eq!(
        app.get_pool(&app.owner_token, &pool).await["profile"],
        "gpu-batch"
    );
}

#[tokio::test]
async fn a_numeric_price_is_accepted() {
    let app = spawn_app().await;
    let mut body = profile_body("cheap");
    body["pricePerSlotHour"] = json!(0.25);
    let created = app
        .post_json("/profiles", &app.operator_token, &body)
        .await
        .expect_json(201);
    assert!((price(&created) - 0.25).abs() < 1e-9, "{created}");
}

#[tokio::test]
async fn duplicate_profile_is_409() {
    let app = spawn_app().await;
    app.post_json(
        "/profiles",
        &app.operator_token,
        &profile_body("docker-batch"),
    )
    .await
    .expect_error(409, "conflict", &[]);
    app.post_json("/profiles", &app.operator_token, &profile_body("twice"))
        .await
        .expect(201);
    app.post_json("/profiles", &app.operator_token, &profile_body("twice"))
        .await
        .expect_error(409, "conflict", &[]);
}

#[tokio::test]
async fn operator_updates_a_profile() {
    let app = spawn_app().await;
    app.post_json("/profiles", &app.operator_token, &profile_body("tunable"))
        .await
        .expect(201);
    let mut body = profile_body("tunable");
    body["pricePerSlotHour"] = json!("0.5");
    body["maxSlotsPerNode"] = json!(4);
    let updated = app
        .put_json("/profiles/tunable", &app.operator_token, &body)
        .await
        .expect_json(200);
    assert_eq!(updated["maxSlotsPerNode"], 4);
    assert!((price(&updated) - 0.5).abs() < 1e-9, "{updated}");
    let fetched = app
        .get("/profiles/tunable", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(fetched["maxSlotsPerNode"], 4);
    assert!((price(&fetched) - 0.5).abs() < 1e-9, "{fetched}");
}

#[tokio::test]
async fn tenant_tokens_cannot_write_profiles() {
    let app = spawn_app().await;
    let member = app.create_token("member").await;
    for token in [app.owner_token.as_str(), member.as_str()] {
        app.post_json("/profiles", token, &profile_body("tenant-made"))
            .await
            .expect_error(403, "forbidden", &[]);
        let mut body = profile_body("docker-batch");
        body["maxSlotsPerNode"] = json!(1);
        app.put_json("/profiles/docker-batch", token, &body)
            .await
            .expect_error(403, "forbidden", &[]);
    }
    app.get("/profiles/tenant-made", &app.owner_token)
        .await
        .expect(404);
    let batch = app
        .get("/profiles/docker-batch", &app.owner_token)
        .await
        .expect_json(200);
    assert_eq!(
        batch["maxSlotsPerNode"], 16,
        "a refused PUT changed the profile: {batch}"
    );
}
