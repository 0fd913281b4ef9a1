//! The dashboard's sign-in and pages against the real app: password and token sign-in,
//! the one refusal message, sign-out, idle expiry (ManualClock), roles, tenant isolation,
//! the cookie on `GET /events`, `GET /` for browsers, and no UI route in /openapi.json.

use chrono::{TimeZone, Utc};
use hearth_core::clock::{Clock, ManualClock};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const REFUSED: &str = "Sign-in refused: check the email and password, or the token.";

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

pub(crate) struct Answer {
    pub status: StatusCode,
    pub location: String,
    pub cookie: Option<String>,
    pub text: String,
}

pub(crate) async fn answer(res: reqwest::Response) -> Answer {
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header("location").unwrap_or_default();
    let cookie = header("set-cookie");
    Answer {
        status: res.status(),
        location,
        cookie,
        text: res.text().await.unwrap_or_default(),
    }
}

async fn sign_in(app: &TestApp, form: &[(&str, &str)]) -> Answer {
    let res = browser()
        .post(format!("{}/ui/session", app.api.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    answer(res).await
}

/// The `name=value` pair a successful sign-in set.
pub(crate) async fn session(app: &TestApp, form: &[(&str, &str)]) -> String {
    let a = sign_in(app, form).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text);
    assert_eq!(a.location, "/ui/");
    let cookie = a.cookie.expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> Answer {
    let res = browser()
        .get(format!("{}{path}", app.api.base))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    answer(res).await
}

fn assert_signed_out(a: &Answer) {
    assert!(
        a.status.is_redirection() && a.location.starts_with("/ui/sign-in"),
        "expected a redirect to the sign-in form, got {} {}",
        a.status,
        a.location
    );
}

/// A user of the default tenant with `role` and a password; returns (uuid, email).
pub(crate) async fn user_with_password(
    app: &TestApp,
    role: &str,
    password: &str,
) -> (String, String) {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app
        .api
        .post("/users", &json!({"email": email, "role": role}))
        .await;
    let uuid = user["uuid"].as_str().expect("user uuid").to_owned();
    let (status, body) = app
        .api
        .call(
            reqwest::Method::PUT,
            &format!("/users/{uuid}/password"),
            Some(&json!({ "password": password })),
        )
        .await
        .expect("request");
    assert_eq!(status, 204, "{body}");
    (uuid, email)
}

#[tokio::test]
async fn a_token_signs_in_the_overview_renders_and_sign_out_ends_the_session() {
    let app = spawn_app(None).await;
    let cookie = session(&app, &[("token", &app.api.token)]).await;

    let overview = page(&app, "/ui", &cookie).await;
    assert_eq!(overview.status, StatusCode::OK);
    for words in [
        "Overview",
        "Busy slots",
        "Idle slots",
        "Booting slots",
        "Queued instances",
        "Running tasks",
        "owner",
    ] {
        assert!(
            overview.text.contains(words),
            "no '{words}' in {}",
            overview.text
        );
    }

    let out = browser()
        .post(format!("{}/ui/session/end", app.api.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let out = answer(out).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.cookie.unwrap_or_default().contains("Max-Age=0"));
    assert_signed_out(&page(&app, "/ui", &cookie).await);
    assert_signed_out(&page(&app, "/ui/pools", &cookie).await);
    app.stop().await;
}

#[tokio::test]
async fn a_password_signs_in_and_any_wrong_credential_gets_the_one_message() {
    let app = spawn_app(None).await;
    let (_, email) = user_with_password(&app, "member", "correct horse battery").await;
    let cookie = session(
        &app,
        &[("email", &email), ("password", "correct horse battery")],
    )
    .await;
    let overview = page(&app, "/ui", &cookie).await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.text.contains(&email));

    let wrong_password = sign_in(
        &app,
        &[("email", &email), ("password", "wrong horse battery")],
    )
    .await;
    let unknown_email = sign_in(
        &app,
        &[
            ("email", "nobody@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    let bad_token = sign_in(&app, &[("token", "not-a-token")]).await;
    for refused in [&wrong_password, &unknown_email, &bad_token] {
        assert_eq!(refused.status, StatusCode::SEE_OTHER);
        assert_eq!(refused.location, "/ui/sign-in?refused=1");
        assert!(refused.cookie.is_none());
    }
    let form = page(&app, "/ui/sign-in?refused=1", "").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains(REFUSED), "{}", form.text);
    app.stop().await;
}

#[tokio::test]
async fn the_password_route_is_the_owners_and_names_the_field() {
    let app = spawn_app(None).await;
    let (uuid, _) = user_with_password(&app, "viewer", "long enough password").await;
    let (status, body) = app
        .api
        .call(
            reqwest::Method::PUT,
            &format!("/users/{uuid}/password"),
            Some(&json!({ "password": "short" })),
        )
        .await
        .expect("request");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("password"), "{body}");

    let member = app
        .api
        .post("/tokens", &json!({"name": "m", "role": "member"}))
        .await;
    let member = app.api.as_token(member["token"].as_str().unwrap());
    let (status, _) = member
        .call(
            reqwest::Method::PUT,
            &format!("/users/{uuid}/password"),
            Some(&json!({ "password": "another long password" })),
        )
        .await
        .expect("request");
    assert_eq!(status, 403);

    let (status, _) = app
        .api
        .call(
            reqwest::Method::PUT,
            &format!("/users/{}/password", uuid::Uuid::new_v4()),
            Some(&json!({ "password": "another long password" })),
        )
        .await
        .expect("request");
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_session_ends_after_twelve_idle_hours_and_a_password_reset_ends_it_too() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let app = spawn_app(Some(clock.clone())).await;
    let (uuid, email) = user_with_password(&app, "viewer", "correct horse battery").await;
    let form = [
        ("email", email.as_str()),
        ("password", "correct horse battery"),
    ];

    let cookie = session(&app, &form).await;
    clock.advance(chrono::Duration::hours(11));
    assert_eq!(page(&app, "/ui", &cookie).await.status, StatusCode::OK);
    // The request above counts as activity: 11 more hours is still under 12 idle.
    clock.advance(chrono::Duration::hours(11));
    assert_eq!(page(&app, "/ui", &cookie).await.status, StatusCode::OK);
    let idle = session(&app, &form).await;
    clock.advance(chrono::Duration::hours(12));
    assert_signed_out(&page(&app, "/ui", &cookie).await);

    // The idle session nobody used again is still stored; the next sign-in sweeps it.
    use hearth_server::entities::ui_session;
    use sea_orm::EntityTrait;
    assert_eq!(
        ui_session::Entity::find().all(&app.db).await.unwrap().len(),
        1
    );
    drop(idle);
    let cookie = session(&app, &form).await;
    let rows = ui_session::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].created_at, clock.now());
    app.api
        .call(
            reqwest::Method::PUT,
            &format!("/users/{uuid}/password"),
            Some(&json!({ "password": "a brand new password" })),
        )
        .await
        .expect("request");
    assert_signed_out(&page(&app, "/ui", &cookie).await);
    app.stop().await;
}

#[tokio::test]
async fn a_session_reads_its_own_tenant_only_with_its_role() {
    let app = spawn_app(None).await;
    app.api
        .create_pool(&json!({"name": "ours", "profile": "docker-batch", "instanceCount": 0}))
        .await;
    let other = app
        .api
        .as_token(&app.operator_token)
        .post("/tenants", &json!({"name": "other"}))
        .await;
    let other = app.api.as_token(other["ownerToken"].as_str().unwrap());
    other
        .create_pool(
            &json!({"name": "theirs-secret", "profile": "docker-batch", "instanceCount": 0}),
        )
        .await;

    let (_, email) = user_with_password(&app, "viewer", "correct horse battery").await;
    let cookie = session(
        &app,
        &[("email", &email), ("password", "correct horse battery")],
    )
    .await;
    let pools = page(&app, "/ui/pools", &cookie).await;
    assert_eq!(pools.status, StatusCode::OK);
    assert!(pools.text.contains("ours"), "{}", pools.text);
    assert!(pools.text.contains("docker-batch"));
    assert!(!pools.text.contains("theirs-secret"));
    assert!(pools.text.contains("viewer"));

    let theirs = session(&app, &[("token", &other.token)]).await;
    let pools = page(&app, "/ui/pools", &theirs).await;
    assert!(pools.text.contains("theirs-secret"));
    assert!(!pools.text.contains(">ours<"), "{}", pools.text);
    app.stop().await;
}

#[tokio::test]
async fn the_event_stream_accepts_the_session_cookie() {
    let app = spawn_app(None).await;
    let cookie = session(&app, &[("token", &app.api.token)]).await;
    let res = browser()
        .get(format!("{}/events", app.api.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = browser()
        .get(format!("{}/events", app.api.base))
        .header("cookie", "hearth_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn browsers_at_the_root_go_to_the_dashboard_and_the_api_document_has_no_ui_route() {
    let app = spawn_app(None).await;
    let html = page(&app, "/", "").await;
    assert_eq!(html.status, StatusCode::SEE_OTHER);
    assert_eq!(html.location, "/ui/");
    let api = browser()
        .get(format!("{}/", app.api.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let doc: Value = app.api.get("/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths
            .keys()
            .all(|p| !p.starts_with("/ui") && !p.starts_with("/pkg"))
    );
    assert!(paths.contains_key("/users/{uuid}/password"));
    // Signed out, a page sends the browser to the form.
    assert_signed_out(&page(&app, "/ui", "").await);
    app.stop().await;
}

#[tokio::test]
async fn the_cli_sets_a_password_read_from_standard_input() {
    use std::io::Write;
    let app = spawn_app(None).await;
    let email = format!("cli-{}@example.com", uuid::Uuid::new_v4().simple());
    app.api
        .post("/users", &json!({"email": email, "role": "member"}))
        .await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args([
            "users",
            "set-password",
            "--email",
            &email,
            "--server",
            &app.api.base,
        ])
        .env("HEARTH_TOKEN", &app.api.token)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"set from the command line\n")
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    session(
        &app,
        &[("email", &email), ("password", "set from the command line")],
    )
    .await;
    app.stop().await;
}

/// A server function called as a browser's form would (a forged one, for a viewer).
pub(crate) async fn server_fn(
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
    cookie: &str,
) -> Answer {
    let res = browser()
        .post(format!("{}/ui/fn/{name}", app.api.base))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    answer(res).await
}

#[tokio::test]
async fn the_task_pages_show_the_tenants_tasks_and_abort_is_for_writers_only() {
    let app = spawn_app(None).await;
    // A pool without nodes: the task's instances stay queued.
    let pool = app
        .api
        .create_pool(&json!({"name": "empty", "profile": "docker-batch", "instanceCount": 0}))
        .await;
    let task = app
        .api
        .submit_task(&task_body("waiting-work", &pool, 3, "true"))
        .await;
    let owner = session(&app, &[("token", &app.api.token)]).await;

    let list = page(&app, "/ui/tasks", &owner).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains("waiting-work"), "{}", list.text);
    assert!(list.text.contains("3 queued of 3"), "{}", list.text);
    let finished = page(&app, "/ui/tasks?state=finished", &owner).await;
    assert!(!finished.text.contains("waiting-work"));
    let tagged = page(&app, "/ui/tasks?tag=e2e", &owner).await;
    assert!(tagged.text.contains("waiting-work"));
    let untagged = page(&app, "/ui/tasks?tag=elsewhere", &owner).await;
    assert!(!untagged.text.contains("waiting-work"));
    let nonsense = page(&app, "/ui/tasks?state=Sleeping", &owner).await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST);
    assert!(nonsense.text.contains("no task state"), "{}", nonsense.text);

    let one = page(&app, &format!("/ui/tasks/{task}"), &owner).await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.text.contains("waiting-work"));
    assert!(one.text.contains("Abort task"), "{}", one.text);
    assert!(one.text.contains("output of instance 2"), "{}", one.text);

    // A viewer reads the page without the control; a forged abort is refused.
    let (_, email) = user_with_password(&app, "viewer", "correct horse battery").await;
    let viewer = session(
        &app,
        &[("email", &email), ("password", "correct horse battery")],
    )
    .await;
    let seen = page(&app, &format!("/ui/tasks/{task}"), &viewer).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.text.contains("Abort task"));
    let forged = server_fn(&app, "abort_task", &[("id", &task)], &viewer).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert_eq!(app.api.task(&task).await["state"], "Submitted");

    // Another tenant: no such task, on the page and for the server function.
    let other = app
        .api
        .as_token(&app.operator_token)
        .post("/tenants", &json!({"name": "other"}))
        .await;
    let theirs = session(&app, &[("token", other["ownerToken"].as_str().unwrap())]).await;
    let hidden = page(&app, &format!("/ui/tasks/{task}"), &theirs).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(!hidden.text.contains("waiting-work"));
    let listed = page(&app, "/ui/tasks", &theirs).await;
    assert!(!listed.text.contains("waiting-work"));
    let stranger = server_fn(&app, "abort_task", &[("id", &task)], &theirs).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{}", stranger.text);

    // The owner aborts: the queued instances are cancelled at once.
    let done = server_fn(&app, "abort_task", &[("id", &task)], &owner).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(app.api.task(&task).await["state"], "Cancelled");
    let after = page(&app, &format!("/ui/tasks/{task}"), &owner).await;
    assert!(after.text.contains("3 cancelled of 3"), "{}", after.text);
    assert!(!after.text.contains("Abort task"));
    app.stop().await;
}

#[tokio::test]
async fn settings_create_a_token_shown_once_revoke_it_and_are_for_owners_only() {
    let app = spawn_app(None).await;
    let owner = session(&app, &[("token", &app.api.token)]).await;
    let page_before = page(&app, "/ui/settings", &owner).await;
    assert_eq!(page_before.status, StatusCode::OK);
    assert!(
        page_before.text.contains("API tokens"),
        "{}",
        page_before.text
    );

    let made = server_fn(
        &app,
        "create_token",
        &[
            ("name", "ci robot"),
            ("role", "member"),
            ("expires_in_days", "30"),
        ],
        &owner,
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let made: Value = serde_json::from_str(&made.text).unwrap();
    let secret = made["secret"].as_str().expect("the secret").to_owned();
    let robot = app.api.as_token(&secret);
    let (status, _) = robot
        .call(reqwest::Method::GET, "/pools", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    // Listed by name with its expiry, never with its secret.
    let listed = page(&app, "/ui/settings", &owner).await;
    assert!(listed.text.contains("ci robot"));
    assert!(!listed.text.contains(&secret), "the secret is shown again");
    let tokens = app.api.get("/tokens").await;
    let id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci robot")
        .expect("the token")["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tokens["items"].to_string().contains("expiresAt"));

    // Bad input names its field.
    let bad = server_fn(
        &app,
        "create_token",
        &[("name", " "), ("role", "member"), ("expires_in_days", "0")],
        &owner,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("name"), "{}", bad.text);

    // A viewer sees no settings and cannot forge a revoke.
    let (_, email) = user_with_password(&app, "viewer", "correct horse battery").await;
    let viewer = session(
        &app,
        &[("email", &email), ("password", "correct horse battery")],
    )
    .await;
    let refused = page(&app, "/ui/settings", &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.text.contains("ci robot"));
    let forged = server_fn(&app, "revoke_token", &[("id", &id)], &viewer).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);

    // The owner revokes it: the API refuses it at once.
    let revoked = server_fn(&app, "revoke_token", &[("id", &id)], &owner).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let (status, _) = robot
        .call(reqwest::Method::GET, "/pools", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    let after = page(&app, "/ui/settings", &owner).await;
    assert!(after.text.contains("revoked"));

    // Users: added with a role, then given a password that signs in.
    let added = server_fn(
        &app,
        "add_user",
        &[("email", "Ada@Example.com"), ("role", "member")],
        &owner,
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    let again = server_fn(
        &app,
        "add_user",
        &[("email", "ada@example.com"), ("role", "member")],
        &owner,
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let users = app.api.get("/users").await;
    let ada = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .expect("ada")["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let short = server_fn(
        &app,
        "set_password",
        &[("id", &ada), ("password", "short")],
        &owner,
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.text);
    assert!(short.text.contains("password must be"), "{}", short.text);
    let set = server_fn(
        &app,
        "set_password",
        &[("id", &ada), ("password", "a long enough secret")],
        &owner,
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    session(
        &app,
        &[
            ("email", "ada@example.com"),
            ("password", "a long enough secret"),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_signed_out_server_function_call_answers_401_and_says_where_to_sign_in() {
    let app = spawn_app(None).await;
    let cookie = session(&app, &[("token", &app.api.token)]).await;
    let fine = server_fn(&app, "task_rows", &[("state", ""), ("tag", "")], &cookie).await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.text);
    // A page still reading as its session ends, or a forged session.
    let gone = server_fn(
        &app,
        "task_rows",
        &[("state", ""), ("tag", "")],
        "hearth_session=ended",
    )
    .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "{}", gone.text);
    assert!(gone.location.ends_with("/ui/sign-in"), "{}", gone.location);
    // A page render still redirects.
    let page_gone = page(&app, "/ui/tasks", "hearth_session=ended").await;
    assert_signed_out(&page_gone);
    app.stop().await;
}
