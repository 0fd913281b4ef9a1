//! Tasks: submit (single and bulk), read back, abort, delete, stdout/stderr.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_task_reads_back_with_every_qarnot_field() {
    let app = spawn_app().await;
    let pool = app.create_default_pool("runner").await;
    let mut body = task_body("demo-task", &pool, 4);
    body["shortname"] = json!("demo-short");
    body["tags"] = json!(["t1"]);
    body["labels"] = json!({"owner": "ci"});
    body["someFutureField"] = json!({"ignored": true});
    body["resultsWhitelist"] = json!(".*");
    let created = app
        .post_json("/tasks", &app.owner_token, &body)
        .await
        .expect_json(201);
    let uuid = uuid_of(&created);
    let task = app.get_task(&app.owner_token, &uuid).await;

    assert_eq!(task["uuid"], uuid.as_str());
    assert_eq!(task["name"], "demo-task");
    assert_eq!(task["shortname"], "demo-short");
    assert_eq!(task["poolUuid"], pool.as_str());
    assert_eq!(task["instanceCount"], 4);
    assert_eq!(task["tags"], json!(["t1"]));
    assert_eq!(task["labels"]["owner"], "ci", "{task}");
    assert_state_in(&task, TASK_STATES);
    assert_wire_date(&task, "creationDate");
    assert_optional_wire_date(&task, "lastModified");
    assert_optional_wire_date(&task, "stateTransitionTime");
    let constants = assert_array(&task, "constants");
    assert!(
        constants
            .iter()
            .any(|c| c["key"] == "DOCKER_CMD" && c["value"] == "echo hello"),
        "{task}"
    );
    for field in [
        "errors",
        "completedInstances",
        "hardwareConstraints",
        "forcedNetworkRules",
    ] {
        assert_array(&task, field);
    }
    for field in ["privileges", "retrySettings", "secretsAccessRights"] {
        assert_object(&task, field);
    }
    assert!(
        task["resultsCount"].is_u64(),
        "resultsCount must be a number: {task}"
    );
    // status is always an object holding the two arrays.
    assert_object(&task, "status");
    assert_status_arrays(&task);
    for completed in assert_array(&task, "completedInstances") {
        assert!(completed["instanceId"].is_u64(), "{completed}");
    }
}

#[tokio::test]
async fn advanced_ranges_define_the_instances() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "ranges").await;
    let mut body = task_body("ranged", &pool, 1);
    body.as_object_mut().unwrap().remove("instanceCount");
    body["advancedRanges"] = json!("0-9,20");
    let uuid = app.create_task(&app.owner_token, &body).await;
    let task = app.get_task(&app.owner_token, &uuid).await;
    assert_eq!(task["advancedRanges"], "0-9,20", "{task}");
    // Instance ids inside the ranges have output; the others do not exist.
    for id in [0, 9, 20] {
        app.get(&format!("/tasks/{uuid}/stdout/{id}"), &app.owner_token)
            .await
            .expect(200);
    }
    for id in [10, 15, 21] {
        app.get(&format!("/tasks/{uuid}/stdout/{id}"), &app.owner_token)
            .await
            .expect(404);
    }
}

#[tokio::test]
async fn unknown_task_is_404() {
    let app = spawn_app().await;
    let missing = random_uuid();
    app.get(&format!("/tasks/{missing}"), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
    app.post_empty(&format!("/tasks/{missing}/abort"), &app.owner_token)
        .await
        .expect(404);
    app.delete(&format!("/tasks/{missing}"), &app.owner_token)
        .await
        .expect(404);
    app.get(&format!("/tasks/{missing}/stdout"), &app.owner_token)
        .await
        .expect(404);
    app.post_empty(&format!("/tasks/{missing}/stderr"), &app.owner_token)
        .await
        .expect(404);
}

// --- validation ------------------------------------------------------------------------------

#[tokio::test]
async fn a_task_needs_an_instance_count_or_ranges() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let mut body = task_body("countless", &pool, 1);
    body.as_object_mut().unwrap().remove("instanceCount");
    let message = app
        .post_json("/tasks", &app.owner_token, &body)
        .await
        .expect_error(400, "validation", &[]);
    assert!(
        message.contains("instanceCount") || message.contains("advancedRanges"),
        "names the field: {message:?}"
    );
}

#[tokio::test]
async fn instance_count_zero_is_400() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    app.post_json("/tasks", &app.owner_token, &task_body("zero", &pool, 0))
        .await
        .expect_validation("instanceCount");
}

#[tokio::test]
async fn an_instance_count_out_of_range_is_400_saying_which_bound() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    for (count, words) in [
        (json!(-1), "must be >= 1"),
        (json!(100_001), "at most 100000"),
        (json!(i64::MAX), "at most 100000"),
        (json!(u32::MAX as i64 + 1), "at most 100000"),
    ] {
        let mut body = task_body("big", &pool, 1);
        body["instanceCount"] = count.clone();
        let message = app
            .post_json("/tasks", &app.owner_token, &body)
            .await
            .expect_validation("instanceCount");
        assert!(message.contains(words), "{count}: {message}");
    }
    let tasks = app.get("/tasks", &app.owner_token).await.expect_json(200);
    assert_eq!(tasks, json!([]), "nothing was created");
}

#[tokio::test]
async fn bad_advanced_ranges_are_400() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    for ranges in ["5-2", "a-b", "1,,2", "-3", ""] {
        let mut body = task_body("ranged", &pool, 1);
        body.as_object_mut().unwrap().remove("instanceCount");
        body["advancedRanges"] = json!(ranges);
        app.post_json("/tasks", &app.owner_token, &body)
            .await
            .expect_validation("advancedRanges");
    }
}

#[tokio::test]
async fn a_profile_only_task_is_400() {
    let app = spawn_app().await;
    let mut body = task_body("no-pool", "", 1);
    body["poolUuid"] = Value::Null;
    body["profile"] = json!("docker-batch");
    app.post_json("/tasks", &app.owner_token, &body)
        .await
        .expect_error(400, "validation", &[]);
    body["profile"] = Value::Null;
    app.post_json("/tasks", &app.owner_token, &body)
        .await
        .expect_error(400, "validation", &[]);
}

#[tokio::test]
async fn an_unknown_pool_or_job_is_404() {
    let app = spawn_app().await;
    app.post_json(
        "/tasks",
        &app.owner_token,
        &task_body("lost", &random_uuid(), 1),
    )
    .await
    .expect_error(404, "not_found", &[]);
    app.post_json(
        "/tasks",
        &app.owner_token,
        &job_task_body("lost", &random_uuid(), 1),
    )
    .await
    .expect_error(404, "not_found", &[]);
}

#[tokio::test]
async fn a_task_to_a_closed_pool_is_409() {
    let app = spawn_app().await;
    let pool = app.create_default_pool("closed").await;
    app.post_empty(&format!("/pools/{pool}/close"), &app.owner_token)
        .await
        .expect(200);
    let message = app
        .post_json("/tasks", &app.owner_token, &task_body("late", &pool, 1))
        .await
        .expect_error(409, "conflict", &[]);
    assert!(message.contains("Clos"), "names the state: {message:?}");
}

// --- bulk ------------------------------------------------------------------------------------

#[tokio::test]
async fn bulk_submit_answers_each_item_in_order() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "bulk").await;
    let bodies = json!([
        task_body("first", &pool, 1),
        task_body("bad-pool", &random_uuid(), 1),
        task_body("third", &pool, 2),
        task_body("zero", &pool, 0),
    ]);
    let answers = app
        .post_json("/tasks", &app.owner_token, &bodies)
        .await
        .expect_json(200);
    let answers = answers
        .as_array()
        .unwrap_or_else(|| panic!("bulk answer is not an array: {answers}"));
    assert_eq!(answers.len(), 4, "{answers:?}");

    for (index, name) in [(0, "first"), (2, "third")] {
        let item = &answers[index];
        let status = item["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("{item}"));
        assert!((200..300).contains(&status), "{item}");
        let uuid = uuid_of(item);
        let task = app.get_task(&app.owner_token, &uuid).await;
        assert_eq!(task["name"], name, "answers are in request order");
    }
    let bad = &answers[1];
    assert_eq!(bad["statusCode"], 404, "{bad}");
    assert!(
        bad["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{bad}"
    );
    assert!(
        bad["uuid"].as_str().is_none_or(str::is_empty),
        "a failed item has no uuid: {bad}"
    );
    let zero = &answers[3];
    assert_eq!(zero["statusCode"], 400, "{zero}");
    assert!(
        zero["message"]
            .as_str()
            .is_some_and(|m| m.contains("instanceCount")),
        "{zero}"
    );

    let listed = app.list_uuids("/tasks", &app.owner_token).await;
    assert_eq!(
        listed.len(),
        2,
        "only the good items were created: {listed:?}"
    );
}

#[tokio::test]
async fn bulk_submit_of_good_tasks() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "bulk").await;
    let bodies = json!([task_body("a", &pool, 1), task_body("b", &pool, 1)]);
    let answers = app
        .post_json("/tasks", &app.owner_token, &bodies)
        .await
        .expect_json(200);
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 2);
    let uuids: Vec<String> = answers.iter().map(uuid_of).collect();
    assert_ne!(uuids[0], uuids[1]);
    for answer in answers {
        assert!(
            answer["statusCode"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s)),
            "{answer}"
        );
        assert!(
            answer.as_object().unwrap().contains_key("message"),
            "{answer}"
        );
    }
}

// --- abort and delete ------------------------------------------------------------------------

#[tokio::test]
async fn abort_cancels_and_a_second_abort_is_a_no_op() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "abortable").await;
    let uuid = app
        .create_task(&app.owner_token, &task_body("victim", &pool, 3))
        .await;
    assert_state_in(
        &app.get_task(&app.owner_token, &uuid).await,
        UNFINISHED_TASK_STATES,
    );

    app.post_empty(&format!("/tasks/{uuid}/abort"), &app.owner_token)
        .await
        .expect(200);
    let task = app.get_task(&app.owner_token, &uuid).await;
    let state = assert_state_in(&task, &["PendingCancel", "Cancelled"]);
    app.post_empty(&format!("/tasks/{uuid}/abort"), &app.owner_token)
        .await
        .expect(200);
    let again = app.get_task(&app.owner_token, &uuid).await;
    assert_state_in(&again, &["PendingCancel", "Cancelled"]);
    if state == "Cancelled" {
        assert_eq!(again["state"], "Cancelled");
    }
    // The pool is unaffected.
    assert_state_in(
        &app.get_pool(&app.owner_token, &pool).await,
        &POOL_STATES[..5],
    );
}

#[tokio::test]
async fn delete_removes_the_task() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let uuid = app
        .create_task(&app.owner_token, &task_body("gone", &pool, 1))
        .await;
    app.delete(&format!("/tasks/{uuid}"), &app.owner_token)
        .await
        .expect(204);
    app.get(&format!("/tasks/{uuid}"), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
    assert!(
        !app.list_uuids("/tasks", &app.owner_token)
            .await
            .contains(&uuid)
    );
    app.delete(&format!("/tasks/{uuid}"), &app.owner_token)
        .await
        .expect(404);
}

// --- output ----------------------------------------------------------------------------------

#[tokio::test]
async fn stdout_and_stderr_are_plain_text() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let uuid = app
        .create_task(&app.owner_token, &task_body("quiet", &pool, 2))
        .await;
    for stream in ["stdout", "stderr"] {
        for path in [
            format!("/tasks/{uuid}/{stream}"),
            format!("/tasks/{uuid}/{stream}/0"),
            format!("/tasks/{uuid}/{stream}/1"),
        ] {
            let whole = app.get(&path, &app.owner_token).await;
            whole.expect(200);
            assert!(
                whole.content_type.starts_with("text/plain"),
                "{path}: {:?}",
                whole.content_type
            );
            assert_eq!(
                whole.text, "",
                "{path}: a task that never ran has no output"
            );
            let fresh = app.post_empty(&path, &app.owner_token).await;
            fresh.expect(200);
            assert!(
                fresh.content_type.starts_with("text/plain"),
                "{path}: {:?}",
                fresh.content_type
            );
            assert_eq!(fresh.text, "");
        }
        app.get(&format!("/tasks/{uuid}/{stream}/2"), &app.owner_token)
            .await
            .expect(404);
        app.post_empty(&format!("/tasks/{uuid}/{stream}/2"), &app.owner_token)
            .await
            .expect(404);
        app.get(&format!("/tasks/{uuid}/{stream}/99"), &app.owner_token)
            .await
            .expect(404);
    }
}

// --- jobs ------------------------------------------------------------------------------------

#[tokio::test]
async fn a_task_in_a_job_runs_on_the_jobs_pool() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let job = app
        .create_job(&app.owner_token, &job_body("j", Some(&pool)))
        .await;
    let uuid = app
        .create_task(&app.owner_token, &job_task_body("member", &job, 1))
        .await;
    let task = app.get_task(&app.owner_token, &uuid).await;
    assert_eq!(task["jobUuid"], job.as_str());
    assert_eq!(task["poolUuid"], pool.as_str());
}

#[tokio::test]
async fn a_task_in_a_job_without_a_pool_is_refused() {
    let app = spawn_app().await;
    let job = app
        .create_job(&app.owner_token, &job_body("poolless", None))
        .await;
    let response = app
        .post_json(
            "/tasks",
            &app.owner_token,
            &job_task_body("nowhere", &job, 1),
        )
        .await;
    assert!(matches!(response.status, 400 | 409), "{response:?}");
    assert!(app.list_uuids("/tasks", &app.owner_token).await.is_empty());
}
