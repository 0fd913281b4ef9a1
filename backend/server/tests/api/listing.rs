//! Listing: GET arrays, paginate walks, filters.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::*;

/// Three pools tagged {a}, {b}, {a, b}; returns their uuids in that order.
async fn tagged_pools(app: &TestApp) -> [String; 3] {
    let mut uuids = Vec::new();
    for (name, tags) in [
        ("only-a", json!(["a"])),
        ("only-b", json!(["b"])),
        ("both", json!(["a", "b"])),
    ] {
        let mut body = pool_body(name);
        body["tags"] = tags;
        uuids.push(app.create_pool(&app.owner_token, &body).await);
    }
    uuids.try_into().unwrap()
}

async fn tagged_tasks(app: &TestApp) -> [String; 3] {
    let pool = app.create_idle_pool(&app.owner_token, "tasks-home").await;
    let mut uuids = Vec::new();
    for (name, tags) in [
        ("only-a", json!(["a"])),
        ("only-b", json!(["b"])),
        ("both", json!(["a", "b"])),
    ] {
        let mut body = task_body(name, &pool, 1);
        body["tags"] = tags;
        uuids.push(app.create_task(&app.owner_token, &body).await);
    }
    uuids.try_into().unwrap()
}

fn set(items: &[String]) -> HashSet<String> {
    items.iter().cloned().collect()
}

#[track_caller]
fn assert_each_once(listed: &[String], expected: &[String]) {
    assert_eq!(
        listed.len(),
        set(listed).len(),
        "an item came twice: {listed:?}"
    );
    assert_eq!(
        set(listed),
        set(expected),
        "listed {listed:?}, expected {expected:?}"
    );
}

#[tokio::test]
async fn get_pools_is_an_array_of_pools() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/pools", &app.owner_token).await.expect_json(200),
        json!([])
    );
    let pools = tagged_pools(&app).await;
    let list = app.get("/pools", &app.owner_token).await.expect_json(200);
    for pool in list.as_array().expect("array") {
        assert_wire_date(pool, "creationDate");
        assert_array(pool, "constants");
        assert_object(pool, "elasticProperty");
    }
    assert_each_once(&app.list_uuids("/pools", &app.owner_token).await, &pools);
}

#[tokio::test]
async fn get_tasks_is_an_array_of_tasks() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/tasks", &app.owner_token).await.expect_json(200),
        json!([])
    );
    let tasks = tagged_tasks(&app).await;
    let list = app.get("/tasks", &app.owner_token).await.expect_json(200);
    for task in list.as_array().expect("array") {
        assert_wire_date(task, "creationDate");
        assert_array(task, "completedInstances");
    }
    assert_each_once(&app.list_uuids("/tasks", &app.owner_token).await, &tasks);
}

#[tokio::test]
async fn pool_pages_of_one_walk_every_pool_once() {
    let app = spawn_app().await;
    let pools = tagged_pools(&app).await;
    for path in ["/pools/paginate", "/pools/summaries/paginate"] {
        let walked = app.walk(path, &app.owner_token, Value::Null, 1).await;
        assert_each_once(&walked, &pools);
        let walked = app.walk(path, &app.owner_token, Value::Null, 2).await;
        assert_each_once(&walked, &pools);
    }
}

#[tokio::test]
async fn task_pages_of_one_walk_every_task_once() {
    let app = spawn_app().await;
    let tasks = tagged_tasks(&app).await;
    for path in ["/tasks/paginate", "/tasks/summaries/paginate"] {
        let walked = app.walk(path, &app.owner_token, Value::Null, 1).await;
        assert_each_once(&walked, &tasks);
    }
}

#[tokio::test]
async fn job_pages_of_one_walk_every_job_once() {
    let app = spawn_app().await;
    let mut jobs = Vec::new();
    for name in ["j1", "j2", "j3"] {
        jobs.push(
            app.create_job(&app.owner_token, &job_body(name, None))
                .await,
        );
    }
    let walked = app
        .walk("/jobs/paginate", &app.owner_token, Value::Null, 1)
        .await;
    assert_each_once(&walked, &jobs);
}

#[tokio::test]
async fn a_page_reports_its_token_and_truncation() {
    let app = spawn_app().await;
    tagged_pools(&app).await;
    let first = app
        .post_json(
            "/pools/paginate",
            &app.owner_token,
            &json!({"filter": null, "token": null, "maximumResults": 2}),
        )
        .await
        .expect_json(200);
    assert_eq!(first["data"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(first["isTruncated"], true);
    assert!(first["nextToken"].is_string(), "{first}");
    assert!(first.as_object().unwrap().contains_key("token"), "{first}");
    let second = app
        .post_json(
            "/pools/paginate",
            &app.owner_token,
            &json!({"filter": null, "token": first["nextToken"], "maximumResults": 2}),
        )
        .await
        .expect_json(200);
    assert_eq!(second["data"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["isTruncated"], false);
    assert!(second["nextToken"].is_null(), "{second}");

    // An empty body lists with the defaults.
    let all = app
        .post_json("/pools/paginate", &app.owner_token, &json!({}))
        .await
        .expect_json(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "{all}");
    assert_eq!(all["isTruncated"], false);
}

#[tokio::test]
async fn tag_filters_select_pools() {
    let app = spawn_app().await;
    let [only_a, only_b, both] = tagged_pools(&app).await;
    let equal_a = tag_equal("a");
    let or = json!({"operator": "Or", "filters": [tag_equal("a"), tag_equal("b")]});
    let and = json!({"operator": "And", "filters": [tag_equal("a"), tag_equal("b")]});
    let nobody = tag_equal("c");
    for path in ["/pools/paginate", "/pools/summaries/paginate"] {
        let token = &app.owner_token;
        assert_each_once(
            &app.list_page(path, token, equal_a.clone()).await,
            &[only_a.clone(), both.clone()],
        );
        assert_each_once(
            &app.list_page(path, token, tag_equal("b")).await,
            &[only_b.clone(), both.clone()],
        );
        assert_each_once(
            &app.list_page(path, token, or.clone()).await,
            &[only_a.clone(), only_b.clone(), both.clone()],
        );
        assert_each_once(
            &app.list_page(path, token, and.clone()).await,
            std::slice::from_ref(&both),
        );
        assert_each_once(&app.list_page(path, token, nobody.clone()).await, &[]);
    }
    // Filters and pagination together.
    let walked = app
        .walk("/pools/paginate", &app.owner_token, equal_a, 1)
        .await;
    assert_each_once(&walked, &[only_a, both]);
}

#[tokio::test]
async fn tag_filters_select_tasks() {
    let app = spawn_app().await;
    let [only_a, only_b, both] = tagged_tasks(&app).await;
    let or = json!({"operator": "Or", "filters": [tag_equal("a"), tag_equal("b")]});
    let and = json!({"operator": "And", "filters": [tag_equal("a"), tag_equal("b")]});
    for path in ["/tasks/paginate", "/tasks/summaries/paginate"] {
        let token = &app.owner_token;
        assert_each_once(
            &app.list_page(path, token, tag_equal("a")).await,
            &[only_a.clone(), both.clone()],
        );
        assert_each_once(
            &app.list_page(path, token, or.clone()).await,
            &[only_a.clone(), only_b.clone(), both.clone()],
        );
        assert_each_once(
            &app.list_page(path, token, and.clone()).await,
            std::slice::from_ref(&both),
        );
    }
}

#[tokio::test]
async fn tag_filters_select_jobs() {
    let app = spawn_app().await;
    let mut tagged = job_body("tagged", None);
    tagged["tags"] = json!(["a"]);
    let a = app.create_job(&app.owner_token, &tagged).await;
    app.create_job(&app.owner_token, &job_body("untagged", None))
        .await;
    let listed = app
        .list_page("/jobs/paginate", &app.owner_token, tag_equal("a"))
        .await;
    assert_each_once(&listed, &[a]);
}

#[tokio::test]
async fn name_uuid_and_state_filters() {
    let app = spawn_app().await;
    let [only_a, only_b, both] = tagged_pools(&app).await;
    let token = &app.owner_token;
    let by_name = json!({"operator": "Equal", "field": "Name", "value": "only-b"});
    assert_each_once(
        &app.list_page("/pools/paginate", token, by_name).await,
        std::slice::from_ref(&only_b),
    );
    let not_name = json!({"operator": "NotEqual", "field": "Name", "value": "only-b"});
    assert_each_once(
        &app.list_page("/pools/paginate", token, not_name).await,
        &[only_a.clone(), both.clone()],
    );
    let by_uuid = json!({"operator": "In", "field": "Uuid", "value": [only_a, both]});
    assert_each_once(
        &app.list_page("/pools/paginate", token, by_uuid).await,
        &[only_a.clone(), both.clone()],
    );
    // Without wildcards, every reading of Like (SQL pattern or substring) selects only-b.
    let like = json!({"operator": "Like", "field": "Name", "value": "only-b"});
    assert_each_once(
        &app.list_page("/pools/paginate", token, like).await,
        std::slice::from_ref(&only_b),
    );

    app.post_empty(&format!("/pools/{only_a}/close"), token)
        .await
        .expect(200);
    let live = json!({"operator": "NotIn", "field": "State", "value": ["Closing", "Closed"]});
    assert_each_once(
        &app.list_page("/pools/paginate", token, live).await,
        &[only_b, both],
    );
}

#[tokio::test]
async fn maximum_results_above_1000_is_not_a_server_error() {
    let app = spawn_app().await;
    tagged_pools(&app).await;
    let response = app
        .post_json(
            "/pools/paginate",
            &app.owner_token,
            &json!({"maximumResults": 5000}),
        )
        .await;
    assert!(matches!(response.status, 200 | 400), "{response:?}");
    let response = app
        .post_json(
            "/pools/paginate",
            &app.owner_token,
            &json!({"token": "not-a-token", "maximumResults": 1}),
        )
        .await;
    assert!(matches!(response.status, 200 | 400), "{response:?}");
}

#[tokio::test]
async fn maximum_results_defaults_to_50() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "many").await;
    let bodies: Vec<Value> = (0..51)
        .map(|i| task_body(&format!("t{i}"), &pool, 1))
        .collect();
    let answers = app
        .post_json("/tasks", &app.owner_token, &Value::Array(bodies))
        .await
        .expect_json(200);
    assert_eq!(answers.as_array().unwrap().len(), 51);
    let page = app
        .post_json("/tasks/paginate", &app.owner_token, &json!({}))
        .await
        .expect_json(200);
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        50,
        "default page size"
    );
    assert_eq!(page["isTruncated"], true);
    let rest = app
        .post_json(
            "/tasks/paginate",
            &app.owner_token,
            &json!({"token": page["nextToken"]}),
        )
        .await
        .expect_json(200);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["isTruncated"], false);
    assert_eq!(app.list_uuids("/tasks", &app.owner_token).await.len(), 51);
}

#[tokio::test]
async fn filtered_task_pages_walk_in_submission_order_across_read_chunks() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "many-tasks").await;
    // More tasks than one read chunk (500), every third one tagged: a filtered page has
    // to read on past the first chunk, and pages after it continue where it stopped.
    let tasks: Vec<Value> = (0..1203)
        .map(|i| {
            let mut body = task_body(&format!("t{i}"), &pool, 1);
            body["tags"] = if i % 3 == 0 {
                json!(["third"])
            } else {
                json!([])
            };
            body
        })
        .collect();
    let mut submitted: Vec<String> = Vec::new();
    for chunk in tasks.chunks(100) {
        let answers = app
            .post_json("/tasks", &app.owner_token, &json!(chunk))
            .await
            .expect_json(200);
        for a in answers.as_array().expect("one answer per task") {
            submitted.push(a["uuid"].as_str().expect("uuid").to_owned());
        }
    }
    let tagged: Vec<String> = submitted.iter().step_by(3).cloned().collect();
    let walked = app
        .walk("/tasks/paginate", &app.owner_token, tag_equal("third"), 150)
        .await;
    assert_eq!(
        walked, tagged,
        "every tagged task once, in submission order"
    );
    let all = app
        .walk("/tasks/paginate", &app.owner_token, Value::Null, 400)
        .await;
    assert_eq!(all, submitted);

    // `GET /tasks` streams every task (more than one read chunk) as one array, in order;
    // with `limit` it pages, the next page named by `X-Next-Page-Token`.
    assert_eq!(app.list_uuids("/tasks", &app.owner_token).await, submitted);
    let mut paged: Vec<String> = Vec::new();
    let mut path = "/tasks?limit=500".to_owned();
    loop {
        let answer = app.get(&path, &app.owner_token).await;
        let page = answer.expect_json(200);
        let page = page.as_array().expect("an array");
        assert!(page.len() <= 500);
        paged.extend(page.iter().map(uuid_of));
        match &answer.next_page_token {
            Some(token) => path = format!("/tasks?limit=500&pageToken={token}"),
            None => break,
        }
    }
    assert_eq!(paged, submitted);
    for bad in ["/tasks?limit=0", "/tasks?limit=1001", "/tasks?limit=x"] {
        let answer = app.get(bad, &app.owner_token).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert!(answer.text.contains("limit"), "{bad}: {}", answer.text);
    }
    let answer = app.get("/tasks?pageToken=nonsense", &app.owner_token).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("pageToken"), "{}", answer.text);

    // A token this server never gave is refused naming the field; an offset token (of an
    // earlier version) still reads from that offset.
    for bad in ["after:x", "nonsense"] {
        let answer = app
            .post_json(
                "/tasks/paginate",
                &app.owner_token,
                &json!({"token": bad, "maximumResults": 2}),
            )
            .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert!(answer.text.contains("token"), "{}", answer.text);
    }
    let legacy = app
        .post_json(
            "/tasks/paginate",
            &app.owner_token,
            &json!({"token": "1200", "maximumResults": 5}),
        )
        .await
        .expect_json(200);
    let uuids = data_uuids(&legacy);
    assert_eq!(uuids, submitted[1200..].to_vec());
}

/// Filters narrowed in SQL keep `matches`' meaning: tags compared ignoring ASCII case, a tag
/// that contains another is not it, values SQL cannot narrow (quotes, wildcards) still
/// filter, `In` takes a list, and an `Or` with a branch SQL cannot narrow reads everything.
#[tokio::test]
async fn task_filters_narrowed_in_sql_answer_what_the_filter_means() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "narrowed").await;
    let mut uuids: Vec<String> = Vec::new();
    for (name, tags) in [
        ("Alpha", json!(["Rare"])),
        ("beta", json!(["rarely"])),
        ("gamma", json!(["50%", "say \"hi\""])),
        ("delta", json!(["RARE", "other"])),
        ("epsilon", json!([])),
    ] {
        let mut body = task_body(name, &pool, 1);
        body["tags"] = tags;
        let answer = app
            .post_json("/tasks", &app.owner_token, &body)
            .await
            .expect_json(201);
        uuids.push(uuid_of(&answer));
    }
    let [alpha, beta, gamma, delta, epsilon] = <[String; 5]>::try_from(uuids).unwrap();
    let token = &app.owner_token;
    let path = "/tasks/paginate";
    assert_each_once(
        &app.list_page(path, token, tag_equal("rare")).await,
        &[alpha.clone(), delta.clone()],
    );
    assert_each_once(
        &app.list_page(path, token, tag_equal("50%")).await,
        std::slice::from_ref(&gamma),
    );
    assert_each_once(
        &app.list_page(path, token, tag_equal("say \"hi\"")).await,
        std::slice::from_ref(&gamma),
    );
    let listed = json!({"operator": "In", "field": "Tags", "value": ["rarely", "other"]});
    assert_each_once(
        &app.list_page(path, token, listed).await,
        &[beta.clone(), delta.clone()],
    );
    let by_name = json!({"operator": "Equal", "field": "Name", "value": "ALPHA"});
    assert_each_once(
        &app.list_page(path, token, by_name).await,
        std::slice::from_ref(&alpha),
    );
    let not_rare = json!({"operator": "NotEqual", "field": "Tags", "value": "rare"});
    let or = json!({"operator": "Or", "filters": [tag_equal("rarely"), not_rare]});
    assert_each_once(
        &app.list_page(path, token, or).await,
        &[beta.clone(), gamma.clone(), epsilon.clone()],
    );
    let and = json!({"operator": "And", "filters": [tag_equal("rare"), {"operator": "Equal", "field": "Tags", "value": "other"}]});
    assert_each_once(
        &app.list_page(path, token, and).await,
        std::slice::from_ref(&delta),
    );
}

/// Job and pool pages walk in creation order after the last object of the previous page,
/// a filtered page reading on past one read chunk (500 rows); offset tokens of earlier
/// versions still read from their offset, and a broken token of ours is a 400.
#[tokio::test]
async fn job_and_pool_pages_walk_in_creation_order_across_read_chunks() {
    let app = spawn_app().await;
    let token = &app.owner_token;
    let mut jobs: Vec<String> = Vec::new();
    for i in 0..1203 {
        let mut body = job_body(&format!("j{i}"), None);
        body["tags"] = if i % 3 == 0 {
            json!(["third"])
        } else {
            json!([])
        };
        jobs.push(app.create_job(token, &body).await);
    }
    let tagged: Vec<String> = jobs.iter().step_by(3).cloned().collect();
    let walked = app
        .walk("/jobs/paginate", token, tag_equal("third"), 150)
        .await;
    assert_eq!(walked, tagged, "every tagged job once, in creation order");
    assert_eq!(
        app.walk("/jobs/paginate", token, Value::Null, 400).await,
        jobs
    );

    let mut pools: Vec<String> = Vec::new();
    for i in 0..12 {
        let mut body = pool_body(&format!("p{i}"));
        body["tags"] = if i % 2 == 0 {
            json!(["even"])
        } else {
            json!([])
        };
        pools.push(app.create_pool(token, &body).await);
    }
    let even: Vec<String> = pools.iter().step_by(2).cloned().collect();
    for path in ["/pools/paginate", "/pools/summaries/paginate"] {
        assert_eq!(app.walk(path, token, tag_equal("even"), 2).await, even);
        assert_eq!(app.walk(path, token, Value::Null, 5).await, pools);
    }

    // A page continues after the last job of the previous one: deleting a job listed
    // before it does not make the walk skip one (as an offset would).
    let first = app
        .post_json("/jobs/paginate", token, &json!({"maximumResults": 5}))
        .await
        .expect_json(200);
    let deleted = app.delete(&format!("/jobs/{}", jobs[0]), token).await;
    assert!(deleted.status < 300, "{}", deleted.text);
    let second = app
        .post_json(
            "/jobs/paginate",
            token,
            &json!({"token": first["nextToken"], "maximumResults": 5}),
        )
        .await
        .expect_json(200);
    let uuids = data_uuids(&second);
    assert_eq!(uuids, jobs[5..10].to_vec());
    jobs.remove(0);

    let legacy = app
        .post_json(
            "/jobs/paginate",
            token,
            &json!({"token": "1199", "maximumResults": 5}),
        )
        .await
        .expect_json(200);
    let uuids = data_uuids(&legacy);
    assert_eq!(uuids, jobs[1199..].to_vec());
    for bad in ["at:", "at:2026-12-01T14:00:00Z/nope", "at:yesterday/x"] {
        for path in ["/jobs/paginate", "/pools/paginate"] {
            let answer = app.post_json(path, token, &json!({"token": bad})).await;
            assert_eq!(answer.status, 400, "{path} {bad}: {}", answer.text);
            assert!(answer.text.contains("token"), "{}", answer.text);
        }
    }
}

/// The uuids of a page's objects, in order.
fn data_uuids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(uuid_of)
        .collect()
}
