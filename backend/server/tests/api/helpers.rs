//! The test harness: `spawn_app()` starts the real application on a random port with a
//! fresh database (SQLite in a temp dir, or a fresh PostgreSQL database when
//! `HEARTH_TEST_DATABASE=postgres`) and returns a `TestApp` with typed request helpers.
//! Every test is a black-box HTTP test against it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc, Weekday};
use hearth_server::startup::{Application, Settings};
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const POOL_STATES: &[&str] = &[
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
    "Closing",
    "Closed",
    "Failure",
    "PendingDelete",
];

pub const TASK_STATES: &[&str] = &[
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
    "Success",
    "Failure",
    "PendingCancel",
    "Cancelled",
    "PendingDelete",
];

/// Task states in which the task has not finished.
pub const UNFINISHED_TASK_STATES: &[&str] = &[
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
];

// ---------------------------------------------------------------------------------------------
// Database per test
// ---------------------------------------------------------------------------------------------

#[path = "../common/pg_database.rs"]
mod pg_database;
pub use pg_database::PgDatabase;

// ---------------------------------------------------------------------------------------------
// Application
// ---------------------------------------------------------------------------------------------

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub owner_token: String,
    pub operator_token: String,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    // Dropped after everything above, in this order: the database, then the directory.
    _pg: Option<PgDatabase>,
    _dir: TempDir,
}

/// Builds an `Application` on `data_dir` (and `database_url`), spawns it, returns its port.
pub async fn start_application(data_dir: &Path, database_url: Option<String>) -> u16 {
    // Nodes are real `hearth agent` processes (in a test, the current executable is the test
    // binary); they exit on their own a few seconds after the test's server is gone.
    let settings = Settings::new(data_dir.to_path_buf())
        .with_database_url(database_url)
        .with_agent_program(std::path::PathBuf::from(env!("CARGO_BIN_EXE_hearth")))
        .with_agent_give_up(std::time::Duration::from_secs(3));
    let application = Application::build(settings)
        .await
        .expect("Application::build failed");
    let port = application.port();
    tokio::spawn(application.run_until_stopped());
    port
}

pub fn read_token(data_dir: &Path, file: &str) -> String {
    let path = data_dir.join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .trim()
        .to_string()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = PgDatabase::maybe("hearth_test").await;
    let database_url = pg.as_ref().map(|p| p.url.clone());
    let port = start_application(dir.path(), database_url.clone()).await;
    let owner_token = read_token(dir.path(), "owner.token");
    let operator_token = read_token(dir.path(), "operator.token");
    assert!(!owner_token.is_empty(), "owner.token is empty");
    assert!(!operator_token.is_empty(), "operator.token is empty");
    assert_ne!(
        owner_token, operator_token,
        "owner and operator tokens must differ"
    );
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        owner_token,
        operator_token,
        client: http_client(),
        data_dir: dir.path().to_path_buf(),
        database_url,
        _pg: pg,
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A fully read HTTP response.
#[derive(Debug)]
pub struct TestResponse {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub content_type: String,
    /// `X-Next-Page-Token`, where the answer has one.
    pub next_page_token: Option<String>,
    pub text: String,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{} {} → {}: body is not JSON ({e}): {:?}",
                self.method, self.path, self.status, self.text
            )
        })
    }

    /// Asserts the status and returns `self` for chaining.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "{} {}: expected {status}, got {} with body {:?}",
            self.method, self.path, self.status, self.text
        );
        self
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect_json(&self, status: u16) -> Value {
        self.expect(status);
        self.json()
    }

    /// Asserts an error answer `{"message","code"}` with that status and code, whose
    /// message names every one of `words` (case-sensitive substrings).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, words: &[&str]) -> String {
        let body = self.expect_json(status);
        let message = body["message"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "{} {}: error without a string message: {body}",
                    self.method, self.path
                )
            })
            .to_string();
        assert!(
            !message.trim().is_empty(),
            "{} {}: empty error message",
            self.method,
            self.path
        );
        assert_eq!(
            body["code"].as_str(),
            Some(code),
            "{} {}: wrong error code in {body}",
            self.method,
            self.path
        );
        for word in words {
            assert!(
                message.contains(word),
                "{} {}: error message {message:?} does not name {word:?}",
                self.method,
                self.path
            );
        }
        message
    }

    /// A 400 validation error whose message names `field`.
    #[track_caller]
    pub fn expect_validation(&self, field: &str) -> String {
        self.expect_error(400, "validation", &[field])
    }
}

#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// `Authorization: <token>`, as the Qarnot SDK sends it.
    Raw(&'a str),
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// Any header value.
    Header(&'a str),
}

pub enum Body<'a> {
    None,
    Json(&'a Value),
    Text(String, &'a str),
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Body<'_>,
    ) -> TestResponse {
        let mut builder = self.client.request(method.clone(), self.url(path));
        builder = match auth {
            Auth::None => builder,
            Auth::Raw(token) => builder.header("Authorization", token),
            Auth::Bearer(token) => builder.header("Authorization", format!("Bearer {token}")),
            Auth::Header(value) => builder.header("Authorization", value),
        };
        builder = match body {
            Body::None => builder,
            Body::Json(value) => builder.json(value),
            Body::Text(text, content_type) => {
                builder.header("Content-Type", content_type).body(text)
            }
        };
        let response = builder
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: request failed: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let next_page_token = response
            .headers()
            .get("x-next-page-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: cannot read body: {e}"));
        // The contract never allows a server error.
        assert!(
            status < 500,
            "{method} {path}: server error {status}: {text:?}"
        );
        TestResponse {
            method: method.to_string(),
            path: path.to_string(),
            status,
            content_type,
            next_page_token,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::GET, path, Auth::Raw(token), Body::None)
            .await
    }

    pub async fn get_with(&self, path: &str, auth: Auth<'_>) -> TestResponse {
        self.request(Method::GET, path, auth, Body::None).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path, Auth::Raw(token), Body::Json(body))
            .await
    }

    /// A POST without a body, as the SDK sends close/abort/terminate/fresh output.
    pub async fn post_empty(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::POST, path, Auth::Raw(token), Body::None)
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        body: String,
        content_type: &str,
    ) -> TestResponse {
        self.request(
            Method::POST,
            path,
            Auth::Raw(token),
            Body::Text(body, content_type),
        )
        .await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.request(Method::PUT, path, Auth::Raw(token), Body::Json(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::DELETE, path, Auth::Raw(token), Body::None)
            .await
    }

    // --- pools ---------------------------------------------------------------------------

    pub async fn create_pool(&self, token: &str, body: &Value) -> String {
        let created = self.post_json("/pools", token, body).await.expect_json(201);
        uuid_of(&created)
    }

    /// An elastic pool (0..4 slots) of the owner of the default tenant.
    pub async fn create_default_pool(&self, name: &str) -> String {
        self.create_pool(&self.owner_token, &pool_body(name)).await
    }

    /// A pool whose only policy is never active now, so it never gets a node and its
    /// tasks stay unfinished.
    pub async fn create_idle_pool(&self, token: &str, name: &str) -> String {
        self.create_pool(token, &idle_pool_body(name)).await
    }

    pub async fn get_pool(&self, token: &str, uuid: &str) -> Value {
        self.get(&format!("/pools/{uuid}"), token)
            .await
            .expect_json(200)
    }

    // --- tasks ---------------------------------------------------------------------------

    pub async fn create_task(&self, token: &str, body: &Value) -> String {
        let created = self.post_json("/tasks", token, body).await.expect_json(201);
        uuid_of(&created)
    }

    pub async fn get_task(&self, token: &str, uuid: &str) -> Value {
        self.get(&format!("/tasks/{uuid}"), token)
            .await
            .expect_json(200)
    }

    // --- jobs ----------------------------------------------------------------------------

    pub async fn create_job(&self, token: &str, body: &Value) -> String {
        let created = self.post_json("/jobs/", token, body).await.expect_json(201);
        uuid_of(&created)
    }

    pub async fn get_job(&self, token: &str, uuid: &str) -> Value {
        self.get(&format!("/jobs/{uuid}"), token)
            .await
            .expect_json(200)
    }

    // --- accounts ------------------------------------------------------------------------

    /// A tenant made by the operator; returns (uuid, owner token).
    pub async fn create_tenant(&self, name: &str) -> (String, String) {
        let tenant = self.create_tenant_with(&json!({ "name": name })).await;
        (
            uuid_of(&tenant),
            tenant["ownerToken"]
                .as_str()
                .expect("ownerToken")
                .to_string(),
        )
    }

    pub async fn create_tenant_with(&self, body: &Value) -> Value {
        self.post_json("/tenants", &self.operator_token, body)
            .await
            .expect_json(201)
    }

    /// A user of the default tenant; returns its uuid.
    pub async fn create_user(&self, email: &str, role: &str) -> String {
        let user = self
            .post_json(
                "/users",
                &self.owner_token,
                &json!({ "email": email, "role": role }),
            )
            .await
            .expect_json(201);
        uuid_of(&user)
    }

    /// A token of the default tenant with `role`, made for a fresh user of that role.
    pub async fn create_token(&self, role: &str) -> String {
        let email = format!("{role}-{}@default", uuid::Uuid::new_v4().simple());
        let user = self.create_user(&email, role).await;
        let token = self
            .create_token_with(
                &json!({ "name": format!("{role} token"), "role": role, "userUuid": user }),
            )
            .await;
        token["token"].as_str().expect("token").to_string()
    }

    /// POST /tokens as the default owner; returns the whole 201 answer.
    pub async fn create_token_with(&self, body: &Value) -> Value {
        self.post_json("/tokens", &self.owner_token, body)
            .await
            .expect_json(201)
    }

    // --- listing -------------------------------------------------------------------------

    /// Walks a paginate route with `maximumResults` per page; returns every item's uuid
    /// in order, checking each page's shape.
    pub async fn walk(
        &self,
        path: &str,
        token: &str,
        filter: Value,
        page_size: u64,
    ) -> Vec<String> {
        let mut uuids = Vec::new();
        let mut next: Value = Value::Null;
        for _ in 0..200 {
            let page = self
                .post_json(
                    path,
                    token,
                    &json!({ "filter": filter, "token": next, "maximumResults": page_size }),
                )
                .await
                .expect_json(200);
            let data = page["data"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: data is not an array: {page}"));
            assert!(
                data.len() as u64 <= page_size,
                "{path}: page larger than maximumResults: {page}"
            );
            for item in data {
                assert_wire_date(item, "creationDate");
                uuids.push(uuid_of(item));
            }
            let truncated = page["isTruncated"]
                .as_bool()
                .unwrap_or_else(|| panic!("{path}: isTruncated is not a bool: {page}"));
            assert!(
                page.get("nextToken").is_some(),
                "{path}: no nextToken key: {page}"
            );
            if !truncated {
                return uuids;
            }
            next = page["nextToken"].clone();
            assert!(
                next.is_string(),
                "{path}: truncated page without a nextToken: {page}"
            );
        }
        panic!("{path}: pagination did not end after 200 pages");
    }

    /// One page of a paginate route; returns the uuids of `data`.
    pub async fn list_page(&self, path: &str, token: &str, filter: Value) -> Vec<String> {
        let page = self
            .post_json(
                path,
                token,
                &json!({ "filter": filter, "token": null, "maximumResults": 1000 }),
            )
            .await
            .expect_json(200);
        page["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: data is not an array: {page}"))
            .iter()
            .map(uuid_of)
            .collect()
    }

    /// GET of an array route; returns the uuids of its items.
    pub async fn list_uuids(&self, path: &str, token: &str) -> Vec<String> {
        let list = self.get(path, token).await.expect_json(200);
        list.as_array()
            .unwrap_or_else(|| panic!("GET {path}: not an array: {list}"))
            .iter()
            .map(uuid_of)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies (shaped as the Qarnot SDK 2.23.0 sends them)
// ---------------------------------------------------------------------------------------------

/// `POST /pools` body as `conn.create_elastic_pool(name, "docker-batch", 0, 4, 0, 60, 1, 90)`
/// sends it.
pub fn pool_body(name: &str) -> Value {
    json!({
        "name": name,
        "profile": "docker-batch",
        "constants": [{"key": "DOCKER_REPO", "value": "library/ubuntu"}],
        "forcedConstants": [],
        "constraints": [],
        "instanceCount": 1,
        "tags": [],
        "preparationTask": null,
        "elasticProperty": {
            "isElastic": true, "minTotalSlots": 0, "maxTotalSlots": 4, "minIdleSlots": 0,
            "resizePeriod": 90, "rampResizeFactor": 1, "minIdleTimeSeconds": 60
        },
        "taskDefaultWaitForPoolResourcesSynchronization": false,
        "labels": {},
        "advancedResourceBuckets": [],
        "autoDeleteOnCompletion": false,
        "completionTimeToLive": "00:00:00",
        "hardwareConstraints": [],
        "defaultResourcesCacheTTLSec": null,
        "privileges": {"exportApiAndStorageCredentialsInEnvironment": false},
        "defaultRetrySettings": {"maxTotalRetries": null, "maxPerInstanceRetries": null},
        "forcedNetworkRules": []
    })
}

/// A static pool of `instance_count` slots (`conn.create_pool(name, profile, n)`).
pub fn fixed_pool_body(name: &str, instance_count: u64) -> Value {
    let mut body = pool_body(name);
    body["instanceCount"] = json!(instance_count);
    body["elasticProperty"] = json!({
        "isElastic": false, "minTotalSlots": 0, "maxTotalSlots": 1, "minIdleSlots": 0,
        "resizePeriod": 90, "rampResizeFactor": 1, "minIdleTimeSeconds": 0
    });
    body
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// The four weekdays that are neither yesterday, today nor tomorrow (UTC): a Weekly period
/// on them is inactive now, even across a midnight during the test.
pub fn days_far_from_today() -> Vec<&'static str> {
    let today = Utc::now().weekday();
    let near = [today.pred(), today, today.succ()];
    let mut days = Vec::new();
    let mut day = Weekday::Mon;
    for _ in 0..7 {
        if !near.contains(&day) {
            days.push(weekday_name(day));
        }
        day = day.succ();
    }
    days
}

/// A pool whose only scaling policy is never active during the test: it gets no node.
pub fn idle_pool_body(name: &str) -> Value {
    let mut body = fixed_pool_body(name, 1);
    body["scaling"] = json!({
        "policies": [{
            "type": "Fixed", "name": "never-now", "slotsCount": 1,
            "enabledPeriods": [{
                "type": "Weekly", "name": "far-days", "days": days_far_from_today(),
                "startTimeUtc": "00:00:00", "endTimeUtc": "23:59:59"
            }]
        }]
    });
    body
}

/// `POST /tasks` body as `conn.create_task(name, pool, n)` sends it.
pub fn task_body(name: &str, pool_uuid: &str, instance_count: u64) -> Value {
    json!({
        "name": name,
        "profile": null,
        "poolUuid": pool_uuid,
        "jobUuid": null,
        "constants": [{"key": "DOCKER_CMD", "value": "echo hello"}],
        "constraints": [],
        "forcedConstants": [],
        "waitForPoolResourcesSynchronization": null,
        "uploadResultsOnCancellation": null,
        "labels": {},
        "dependencies": {"dependsOn": []},
        "advancedResourceBuckets": [],
        "instanceCount": instance_count,
        "tags": [],
        "autoDeleteOnCompletion": false,
        "completionTimeToLive": "00:00:00",
        "hardwareConstraints": [],
        "defaultResourcesCacheTTLSec": null,
        "privileges": {"exportApiAndStorageCredentialsInEnvironment": false},
        "retrySettings": {"maxTotalRetries": null, "maxPerInstanceRetries": null},
        "forcedNetworkRules": []
    })
}

/// A task that joins a job (pool and profile left null, as the SDK does).
pub fn job_task_body(name: &str, job_uuid: &str, instance_count: u64) -> Value {
    let mut body = task_body(name, "", instance_count);
    body["poolUuid"] = Value::Null;
    body["jobUuid"] = json!(job_uuid);
    body
}

/// `POST /jobs/` body as `job.submit()` sends it.
pub fn job_body(name: &str, pool_uuid: Option<&str>) -> Value {
    json!({
        "name": name,
        "poolUuid": pool_uuid,
        "shortname": name,
        "state": "",
        "tags": [],
        "useDependencies": false,
        "maxWallTime": null,
        "autoDeleteOnCompletion": false,
        "completionTimeToLive": "00:00:00"
    })
}

pub fn tag_equal(tag: &str) -> Value {
    json!({"operator": "Equal", "field": "Tags", "value": tag})
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

#[track_caller]
pub fn uuid_of(value: &Value) -> String {
    let uuid = value["uuid"]
        .as_str()
        .unwrap_or_else(|| panic!("no string uuid in {value}"));
    uuid::Uuid::parse_str(uuid).unwrap_or_else(|e| panic!("uuid {uuid:?} does not parse: {e}"));
    uuid.to_string()
}

/// `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$`
pub fn is_wire_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        range
            .clone()
            .all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let rest = &b[19..];
    match rest {
        [b'Z'] => true,
        [b'.', fraction @ .., b'Z'] => {
            (1..=6).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

#[track_caller]
pub fn parse_wire_date(s: &str) -> DateTime<Utc> {
    assert!(
        is_wire_date(s),
        "{s:?} is not a wire date YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
    );
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} does not parse as a date: {e}"))
        .with_timezone(&Utc)
}

/// `object[field]` is a wire date; returns it.
#[track_caller]
pub fn assert_wire_date(object: &Value, field: &str) -> DateTime<Utc> {
    let value = object[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {object}"));
    parse_wire_date(value)
}

/// `object[field]` is a date or null.
#[track_caller]
pub fn assert_optional_wire_date(object: &Value, field: &str) {
    assert!(object.get(field).is_some(), "no {field} key in {object}");
    if !object[field].is_null() {
        assert_wire_date(object, field);
    }
}

#[track_caller]
pub fn assert_array<'a>(object: &'a Value, field: &str) -> &'a Vec<Value> {
    object[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} must be a non-null array in {object}"))
}

#[track_caller]
pub fn assert_object<'a>(object: &'a Value, field: &str) -> &'a serde_json::Map<String, Value> {
    object[field]
        .as_object()
        .unwrap_or_else(|| panic!("{field} must be a non-null object in {object}"))
}

#[track_caller]
pub fn assert_state_in(object: &Value, states: &[&str]) -> String {
    let state = object["state"]
        .as_str()
        .unwrap_or_else(|| panic!("state is not a string in {object}"));
    assert!(
        states.contains(&state),
        "state {state:?} is not one of {states:?}"
    );
    state.to_string()
}

/// The Qarnot `status` object: when present and non-null it must hold the two arrays.
#[track_caller]
pub fn assert_status_arrays(object: &Value) {
    let status = &object["status"];
    if status.is_null() {
        return;
    }
    assert!(
        status.is_object(),
        "status is neither null nor an object in {object}"
    );
    assert_array(status, "executionTimeByCpuModel");
    assert_array(status, "executionTimeGhzByCpuModel");
}

pub fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[test]
fn wire_date_checker_follows_the_regex() {
    for good in [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.1Z",
        "2024-01-01T00:00:00.123456Z",
    ] {
        assert!(is_wire_date(good), "{good}");
    }
    for bad in [
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00+00:00",
        "2024-01-01T00:00:00.1234567Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01 00:00:00Z",
        "24-01-01T00:00:00Z",
        "",
    ] {
        assert!(!is_wire_date(bad), "{bad}");
    }
}
