//! /tenants, /tokens, /users.

use serde_json::{Value, json};

use crate::helpers::*;

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list.as_array()
        .expect("array")
        .iter()
        .find(|item| item[key] == value)
}

// --- tenants ---------------------------------------------------------------------------------

#[tokio::test]
async fn operator_creates_a_tenant_whose_owner_token_works() {
    let app = spawn_app().await;
    let tenant = app.create_tenant_with(&json!({"name": "acme"})).await;
    uuid_of(&tenant);
    assert_eq!(tenant["name"], "acme");
    assert_eq!(
        tenant["multiSlotEnabled"], false,
        "multiSlotEnabled defaults to false: {tenant}"
    );
    assert_wire_date(&tenant, "creationDate");
    let token = tenant["ownerToken"].as_str().expect("ownerToken");
    assert_ne!(token, app.owner_token);

    app.get("/pools", token).await.expect(200);
    let info = app.get("/info", token).await.expect_json(200);
    assert_eq!(info["poolCount"], 0);
    // An owner: manages its own tokens.
    app.get("/tokens", token).await.expect(200);
}

#[tokio::test]
async fn tenants_are_listed_with_their_entitlement() {
    let app = spawn_app().await;
    let plain = app.create_tenant_with(&json!({"name": "plain"})).await;
    let multi = app
        .create_tenant_with(&json!({"name": "multi", "multiSlotEnabled": true}))
        .await;
    assert_eq!(multi["multiSlotEnabled"], true);

    let list = app
        .get("/tenants", &app.operator_token)
        .await
        .expect_json(200)["items"]
        .clone();
    let items = list.as_array().expect("array");
    assert_eq!(items.len(), 3, "default + 2: {list}");
    for item in items {
        uuid_of(item);
        assert_wire_date(item, "creationDate");
        assert!(
            item.get("ownerToken").is_none(),
            "listing must not leak owner tokens: {item}"
        );
    }
    let default = find(&list, "name", "default").expect("default tenant listed");
    assert_eq!(
        default["multiSlotEnabled"], true,
        "the bootstrap tenant has multi-slot: {default}"
    );
    assert_eq!(find(&list, "name", "plain").unwrap()["uuid"], plain["uuid"]);
    assert_eq!(
        find(&list, "name", "plain").unwrap()["multiSlotEnabled"],
        false
    );
    assert_eq!(
        find(&list, "name", "multi").unwrap()["multiSlotEnabled"],
        true
    );
}

#[tokio::test]
async fn duplicate_tenant_name_is_409() {
    let app = spawn_app().await;
    app.create_tenant_with(&json!({"name": "twice"})).await;
    app.post_json("/tenants", &app.operator_token, &json!({"name": "twice"}))
        .await
        .expect_error(409, "conflict", &[]);
    app.post_json("/tenants", &app.operator_token, &json!({"name": "default"}))
        .await
        .expect_error(409, "conflict", &[]);
}

#[tokio::test]
async fn tenant_name_is_required() {
    let app = spawn_app().await;
    app.post_json("/tenants", &app.operator_token, &json!({"name": ""}))
        .await
        .expect_validation("name");
}

#[tokio::test]
async fn tenant_tokens_cannot_manage_tenants() {
    let app = spawn_app().await;
    let (_, other_owner) = app.create_tenant("other").await;
    for token in [app.owner_token.as_str(), other_owner.as_str()] {
        app.get("/tenants", token)
            .await
            .expect_error(403, "forbidden", &[]);
        app.post_json("/tenants", token, &json!({"name": "sneaky"}))
            .await
            .expect_error(403, "forbidden", &[]);
    }
    let list = app
        .get("/tenants", &app.operator_token)
        .await
        .expect_json(200)["items"]
        .clone();
    assert!(find(&list, "name", "sneaky").is_none(), "{list}");
}

// --- tokens ----------------------------------------------------------------------------------

#[tokio::test]
async fn owner_creates_and_lists_tokens() {
    let app = spawn_app().await;
    let created = app
        .create_token_with(&json!({"name": "ci", "role": "member"}))
        .await;
    let uuid = uuid_of(&created);
    assert_eq!(created["name"], "ci");
    assert_eq!(created["role"], "member");
    assert!(
        created["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{created}"
    );
    assert_wire_date(&created, "creationDate");
    assert!(
        created.as_object().unwrap().contains_key("userUuid"),
        "{created}"
    );
    assert!(
        created.as_object().unwrap().contains_key("expiresAt"),
        "{created}"
    );

    let list = app.get("/tokens", &app.owner_token).await.expect_json(200)["items"].clone();
    let entry = find(&list, "uuid", &uuid).unwrap_or_else(|| panic!("token not listed: {list}"));
    assert_eq!(entry["name"], "ci");
    assert_eq!(entry["role"], "member");
    assert_eq!(entry["revoked"], false);
    assert_eq!(entry["creationDate"], created["creationDate"]);
    assert!(
        entry.get("token").is_none(),
        "GET /tokens must not return secrets: {entry}"
    );
    for item in list.as_array().unwrap() {
        assert!(
            item.get("token").is_none(),
            "GET /tokens must not return secrets: {item}"
        );
        assert!(item["revoked"].is_boolean(), "{item}");
    }
}

#[tokio::test]
async fn tokens_are_listed_a_page_at_a_time_in_creation_order() {
    let app = spawn_app().await;
    let mut made = vec![];
    for i in 0..5 {
        let t = app
            .post_json(
                "/tokens",
                &app.owner_token,
                &json!({"name": format!("t{i}"), "role": "viewer"}),
            )
            .await
            .expect_json(201);
        made.push(t["uuid"].clone());
    }
    // The owner's own token comes first (created with the tenant), then these five.
    let mut seen = vec![];
    let mut path = "/tokens?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get(&path, &app.owner_token).await.expect_json(200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        seen.extend(items.iter().map(|t| t["uuid"].clone()));
        pages += 1;
        match page["nextPageToken"].as_str() {
            Some(t) => path = format!("/tokens?limit=2&pageToken={t}"),
            None => break,
        }
    }
    assert_eq!(pages, 3, "6 tokens, 2 a page");
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[1..], made[..], "creation order, each once");
    // A token of another kind of list is refused, naming the parameter.
    let e = app
        .get("/tokens?pageToken=seq:3", &app.owner_token)
        .await
        .expect_json(400);
    assert!(
        e["message"].as_str().unwrap().starts_with("pageToken"),
        "{e}"
    );
}

#[tokio::test]
async fn a_token_for_a_user_names_that_user() {
    let app = spawn_app().await;
    let user = app.create_user("alice@example.com", "member").await;
    let created = app
        .create_token_with(&json!({"name": "alice", "role": "member", "userUuid": user}))
        .await;
    assert_eq!(created["userUuid"], user.as_str());
    let token = created["token"].as_str().unwrap();
    app.get("/pools", token).await.expect(200);
    app.create_pool(token, &pool_body("alices")).await;
}

#[tokio::test]
async fn token_role_is_validated() {
    let app = spawn_app().await;
    app.post_json(
        "/tokens",
        &app.owner_token,
        &json!({"name": "x", "role": "emperor"}),
    )
    .await
    .expect_validation("role");
    // A tenant token can never be an operator token.
    let response = app
        .post_json(
            "/tokens",
            &app.owner_token,
            &json!({"name": "x", "role": "operator"}),
        )
        .await;
    assert!(matches!(response.status, 400 | 403), "{response:?}");
}

#[tokio::test]
async fn token_for_an_unknown_user_is_refused() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/tokens",
            &app.owner_token,
            &json!({"name": "ghost", "role": "member", "userUuid": random_uuid()}),
        )
        .await;
    assert!(matches!(response.status, 400 | 404), "{response:?}");
}

#[tokio::test]
async fn deleting_an_unknown_token_is_404() {
    let app = spawn_app().await;
    app.delete(&format!("/tokens/{}", random_uuid()), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
}

// --- users -----------------------------------------------------------------------------------

#[tokio::test]
async fn owner_creates_and_lists_users() {
    let app = spawn_app().await;
    let created = app
        .post_json(
            "/users",
            &app.owner_token,
            &json!({"email": "bob@example.com", "role": "viewer"}),
        )
        .await
        .expect_json(201);
    let uuid = uuid_of(&created);
    assert_eq!(created["email"], "bob@example.com");
    assert_eq!(created["role"], "viewer");
    assert_wire_date(&created, "creationDate");

    let list = app.get("/users", &app.owner_token).await.expect_json(200)["items"].clone();
    let bob = find(&list, "uuid", &uuid).unwrap_or_else(|| panic!("user not listed: {list}"));
    assert_eq!(bob["email"], "bob@example.com");
    assert_eq!(bob["role"], "viewer");
    let owner = find(&list, "email", "owner@default")
        .unwrap_or_else(|| panic!("bootstrap owner not listed: {list}"));
    assert_eq!(owner["role"], "owner");
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[tokio::test]
async fn duplicate_user_email_is_409() {
    let app = spawn_app().await;
    app.create_user("carol@example.com", "member").await;
    app.post_json(
        "/users",
        &app.owner_token,
        &json!({"email": "carol@example.com", "role": "viewer"}),
    )
    .await
    .expect_error(409, "conflict", &[]);
    app.post_json(
        "/users",
        &app.owner_token,
        &json!({"email": "owner@default", "role": "member"}),
    )
    .await
    .expect_error(409, "conflict", &[]);
}

#[tokio::test]
async fn user_fields_are_validated() {
    let app = spawn_app().await;
    app.post_json(
        "/users",
        &app.owner_token,
        &json!({"email": "dave@example.com", "role": "wizard"}),
    )
    .await
    .expect_validation("role");
    app.post_json(
        "/users",
        &app.owner_token,
        &json!({"email": "", "role": "member"}),
    )
    .await
    .expect_validation("email");
}

#[tokio::test]
async fn each_tenant_sees_only_its_users() {
    let app = spawn_app().await;
    let (_, other) = app.create_tenant("other").await;
    app.create_user("erin@example.com", "member").await;
    let theirs = app.get("/users", &other).await.expect_json(200)["items"].clone();
    assert!(
        find(&theirs, "email", "erin@example.com").is_none(),
        "{theirs}"
    );
    assert!(
        find(&theirs, "email", "owner@default").is_none(),
        "{theirs}"
    );
    app.post_json(
        "/users",
        &other,
        &json!({"email": "frank@example.com", "role": "member"}),
    )
    .await
    .expect(201);
    let ours = app.get("/users", &app.owner_token).await.expect_json(200)["items"].clone();
    assert!(
        find(&ours, "email", "frank@example.com").is_none(),
        "{ours}"
    );
}

// --- login (email and password for a token) ------------------------------------------------

/// A user of the default tenant with `role` and a dashboard password; answers its email.
async fn user_with_password(app: &TestApp, role: &str, password: &str) -> String {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app.create_user(&email, role).await;
    app.put_json(
        &format!("/users/{user}/password"),
        &app.owner_token,
        &json!({ "password": password }),
    )
    .await
    .expect(204);
    email
}

async fn login(app: &TestApp, body: &Value) -> TestResponse {
    app.request(
        reqwest::Method::POST,
        "/auth/token",
        Auth::None,
        Body::Json(body),
    )
    .await
}

#[tokio::test]
async fn a_password_is_traded_for_a_token_of_the_users_role() {
    let app = spawn_app().await;
    let email = user_with_password(&app, "viewer", "correct horse battery").await;
    let answer = login(
        &app,
        &json!({"email": email.to_uppercase(), "password": "correct horse battery", "name": "laptop"}),
    )
    .await
    .expect_json(201);
    assert_eq!(answer["name"], "login: laptop", "{answer}");
    assert_eq!(answer["role"], "viewer", "{answer}");
    let token = answer["token"].as_str().expect("token");
    // 30 days by default.
    let created =
        chrono::DateTime::parse_from_rfc3339(answer["creationDate"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(answer["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 30, "{answer}");
    // It acts as the viewer: reads, may not write.
    app.get("/pools", token).await.expect(200);
    app.post_json(
        "/pools",
        token,
        &json!({"name": "p", "profile": "docker-batch"}),
    )
    .await
    .expect(403);
    // The owner sees it among the tenant's tokens.
    let tokens = app
        .get("/tokens?limit=500", &app.owner_token)
        .await
        .expect_json(200);
    assert!(
        find(&tokens["items"], "uuid", answer["uuid"].as_str().unwrap()).is_some(),
        "{tokens}"
    );
    // A life of its own, bounded to a year.
    let short = login(
        &app,
        &json!({"email": email, "password": "correct horse battery", "name": "ci", "expiresInSeconds": 60}),
    )
    .await
    .expect_json(201);
    assert!(short["expiresAt"].is_string(), "{short}");
}

#[tokio::test]
async fn login_tokens_are_one_per_name_and_bounded_per_user() {
    let app = spawn_app().await;
    let email = user_with_password(&app, "member", "correct horse battery").await;
    let as_name =
        |name: &str| json!({"email": email, "password": "correct horse battery", "name": name});
    let first = login(&app, &as_name("laptop")).await.expect_json(201);
    let first = first["token"].as_str().unwrap().to_owned();
    app.get("/pools", &first).await.expect(200);
    // Logging in again under the same name replaces the token.
    let second = login(&app, &as_name("laptop")).await.expect_json(201);
    let second = second["token"].as_str().unwrap().to_owned();
    app.get("/pools", &second).await.expect(200);
    app.get("/pools", &first)
        .await
        .expect_error(401, "unauthorized", &["token"]);
    // Another name keeps both; beyond ten, the oldest go.
    let mut tokens = vec![second];
    for i in 0..11 {
        let t = login(&app, &as_name(&format!("box-{i}")))
            .await
            .expect_json(201);
        tokens.push(t["token"].as_str().unwrap().to_owned());
    }
    let mut live = 0;
    for t in &tokens {
        if app.get("/pools", t).await.status == 200 {
            live += 1;
        }
    }
    assert_eq!(live, 10, "at most ten login tokens per user stay");
    // The newest ten, so the oldest two ("laptop", "box-0") are the ones gone.
    app.get("/pools", &tokens[0]).await.expect(401);
    app.get("/pools", &tokens[1]).await.expect(401);
    app.get("/pools", &tokens[11]).await.expect(200);
    let listed = app
        .get("/tokens?limit=500", &app.owner_token)
        .await
        .expect_json(200);
    let logins = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("login: "))
        .count();
    assert_eq!(logins, 10, "{listed}");
}

#[tokio::test]
async fn a_refused_login_says_so_without_telling_which_part_was_wrong() {
    let app = spawn_app().await;
    let email = user_with_password(&app, "member", "correct horse battery").await;
    let wrong = login(
        &app,
        &json!({"email": email, "password": "wrong horse battery"}),
    )
    .await
    .expect_error(401, "unauthorized", &["email or password"]);
    let unknown = login(
        &app,
        &json!({"email": "nobody@example.com", "password": "correct horse battery"}),
    )
    .await
    .expect_error(401, "unauthorized", &["email or password"]);
    assert_eq!(wrong, unknown);
    // A user without a password cannot log in with any.
    let no_password = format!("np-{}@example.com", uuid::Uuid::new_v4().simple());
    app.create_user(&no_password, "member").await;
    login(
        &app,
        &json!({"email": no_password, "password": "anything at all"}),
    )
    .await
    .expect(401);
    // After refusals, the right password still works (the delay is the throttle's, the
    // success forgets the email's refusals).
    login(
        &app,
        &json!({"email": email, "password": "correct horse battery"}),
    )
    .await
    .expect(201);
    // Bad bodies name the field.
    login(&app, &json!({"password": "x"}))
        .await
        .expect_validation("email");
    login(&app, &json!({"email": email}))
        .await
        .expect_validation("password");
    login(
        &app,
        &json!({"email": email, "password": "x", "name": "  "}),
    )
    .await
    .expect_validation("name");
    login(
        &app,
        &json!({"email": email, "password": "x", "expiresInSeconds": 0}),
    )
    .await
    .expect_validation("expiresInSeconds");
    login(
        &app,
        &json!({"email": email, "password": "x", "expiresInSeconds": 400 * 24 * 3600}),
    )
    .await
    .expect_validation("expiresInSeconds");
    login(&app, &json!({"email": "x".repeat(300), "password": "x"}))
        .await
        .expect_validation("email");
    // The wrong shape is a 422 or 400 (never a 500: the helper asserts that).
    let bad = login(&app, &json!({"email": 5, "password": "x"})).await;
    assert!(matches!(bad.status, 400 | 422), "{}", bad.text);
}
