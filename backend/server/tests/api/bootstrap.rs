//! Bootstrap: a second start on the same data dir reuses everything.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_second_start_reuses_the_tokens_and_the_catalogue() {
    let app = spawn_app().await;
    let owner_file = std::fs::read_to_string(app.data_dir.join("owner.token")).unwrap();
    let operator_file = std::fs::read_to_string(app.data_dir.join("operator.token")).unwrap();
    let pool = app.create_default_pool("survivor").await;

    #[cfg(unix)]
    for file in ["owner.token", "operator.token"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{file} must be mode 0600, is {:o}",
            mode & 0o777
        );
    }

    let port = start_application(&app.data_dir, app.database_url.clone()).await;
    assert_ne!(port, app.port);
    let second = format!("http://127.0.0.1:{port}");

    assert_eq!(
        std::fs::read_to_string(app.data_dir.join("owner.token")).unwrap(),
        owner_file
    );
    assert_eq!(
        std::fs::read_to_string(app.data_dir.join("operator.token")).unwrap(),
        operator_file
    );

    let client = http_client();
    let get = |path: String, token: String| get_json(&client, format!("{second}{path}"), token);

    // The old tokens still work on the new instance, and the data is there.
    let fetched = get(format!("/pools/{pool}"), app.owner_token.clone()).await;
    assert_eq!(fetched["name"], "survivor");

    let tenants = get("/tenants".into(), app.operator_token.clone()).await["items"].clone();
    let defaults = tenants
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "default")
        .count();
    assert_eq!(defaults, 1, "one default tenant: {tenants}");
    assert_eq!(tenants.as_array().unwrap().len(), 1, "{tenants}");

    let profiles = get("/profiles".into(), app.owner_token.clone()).await;
    let names: Vec<&str> = profiles
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in ["docker-batch", "docker-network"] {
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "{name} once: {names:?}"
        );
    }

    let users = get("/users".into(), app.owner_token.clone()).await["items"].clone();
    let owners = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["email"] == "owner@default")
        .count();
    assert_eq!(owners, 1, "one bootstrap owner: {users}");

    // The first instance still answers the same tokens too.
    app.get("/pools", &app.owner_token).await.expect(200);
}

async fn get_json(client: &reqwest::Client, url: String, token: String) -> Value {
    let response = client
        .get(&url)
        .header("Authorization", token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{url}: {text}");
    serde_json::from_str(&text).unwrap()
}
