//! Jobs: create (both spellings), read, tasks, terminate, delete.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_job_is_created_with_or_without_the_trailing_slash() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let slashed = app
        .post_json(
            "/jobs/",
            &app.owner_token,
            &job_body("slashed", Some(&pool)),
        )
        .await
        .expect_json(201);
    let plain = app
        .post_json("/jobs", &app.owner_token, &job_body("plain", None))
        .await
        .expect_json(201);
    let slashed = uuid_of(&slashed);
    let plain = uuid_of(&plain);

    let job = app.get_job(&app.owner_token, &slashed).await;
    assert_eq!(job["uuid"], slashed.as_str());
    assert_eq!(job["name"], "slashed");
    assert_eq!(job["shortname"], "slashed");
    assert_eq!(job["poolUuid"], pool.as_str());
    assert_eq!(job["useDependencies"], false);
    assert_eq!(job["state"], "Active", "{job}");
    assert_wire_date(&job, "creationDate");
    assert_optional_wire_date(&job, "lastModified");
    assert!(job.get("maxWallTime").is_some(), "{job}");

    let job = app.get_job(&app.owner_token, &plain).await;
    assert_eq!(job["name"], "plain");
    assert!(job["poolUuid"].is_null(), "{job}");
}

#[tokio::test]
async fn max_wall_time_round_trips_as_a_timespan() {
    let app = spawn_app().await;
    let mut body = job_body("bounded", None);
    body["someFutureField"] = json!([1, 2]);
    body["maxWallTime"] = json!("01:30:00");
    body["useDependencies"] = json!(true);
    let uuid = app.create_job(&app.owner_token, &body).await;
    let job = app.get_job(&app.owner_token, &uuid).await;
    let wall = job["maxWallTime"]
        .as_str()
        .unwrap_or_else(|| panic!("{job}"));
    assert!(wall.starts_with("01:30:00"), "{wall}");
    assert_eq!(job["useDependencies"], true);
}

#[tokio::test]
async fn a_job_on_an_unknown_pool_is_404() {
    let app = spawn_app().await;
    app.post_json(
        "/jobs/",
        &app.owner_token,
        &job_body("lost", Some(&random_uuid())),
    )
    .await
    .expect_error(404, "not_found", &[]);
    app.get(&format!("/jobs/{}", random_uuid()), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
}

#[tokio::test]
async fn job_tasks_lists_its_tasks_only() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let job = app
        .create_job(&app.owner_token, &job_body("j", Some(&pool)))
        .await;
    let a = app
        .create_task(&app.owner_token, &job_task_body("a", &job, 1))
        .await;
    let b = app
        .create_task(&app.owner_token, &job_task_body("b", &job, 2))
        .await;
    let outsider = app
        .create_task(&app.owner_token, &task_body("outsider", &pool, 1))
        .await;

    let tasks = app
        .get(&format!("/jobs/{job}/tasks"), &app.owner_token)
        .await
        .expect_json(200);
    let tasks = tasks
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {tasks}"));
    let uuids: Vec<String> = tasks.iter().map(uuid_of).collect();
    assert_eq!(uuids.len(), 2, "{uuids:?}");
    assert!(uuids.contains(&a) && uuids.contains(&b), "{uuids:?}");
    assert!(!uuids.contains(&outsider));
    for task in tasks {
        assert_eq!(task["jobUuid"], job.as_str());
        assert_wire_date(task, "creationDate");
        assert_array(task, "completedInstances");
        assert_array(task, "constants");
    }
}

/// More tasks than one streamed chunk: all come, in submission order, and none of another
/// job's.
#[tokio::test]
async fn job_tasks_streams_every_task_of_a_large_job_in_order() {
    const TASKS: usize = 600;
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let job = app
        .create_job(&app.owner_token, &job_body("big", Some(&pool)))
        .await;
    let other = app
        .create_job(&app.owner_token, &job_body("other", Some(&pool)))
        .await;
    for (from, to) in [(0, 300), (300, TASKS)] {
        let bulk: Vec<Value> = (from..to)
            .map(|i| job_task_body(&format!("t{i:04}"), &job, 1))
            .collect();
        app.post_json("/tasks", &app.owner_token, &Value::Array(bulk))
            .await
            .expect_json(200);
        app.create_task(&app.owner_token, &job_task_body("stranger", &other, 1))
            .await;
    }
    let tasks = app
        .get(&format!("/jobs/{job}/tasks"), &app.owner_token)
        .await
        .expect_json(200);
    let names: Vec<String> = tasks
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {tasks}"))
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    let expected: Vec<String> = (0..TASKS).map(|i| format!("t{i:04}")).collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn terminate_cancels_the_unfinished_tasks() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let job = app
        .create_job(&app.owner_token, &job_body("j", Some(&pool)))
        .await;
    let task = app
        .create_task(&app.owner_token, &job_task_body("waiting", &job, 2))
        .await;
    app.post_empty(&format!("/jobs/{job}/terminate"), &app.owner_token)
        .await
        .expect(200);
    let state = assert_state_in(
        &app.get_job(&app.owner_token, &job).await,
        &["Terminating", "Completed"],
    );
    assert_state_in(
        &app.get_task(&app.owner_token, &task).await,
        &["PendingCancel", "Cancelled"],
    );
    if state == "Completed" {
        assert_eq!(
            app.get_task(&app.owner_token, &task).await["state"],
            "Cancelled"
        );
    }
}

#[tokio::test]
async fn deleting_a_job_with_unfinished_tasks_needs_force() {
    let app = spawn_app().await;
    let pool = app.create_idle_pool(&app.owner_token, "p").await;
    let job = app
        .create_job(&app.owner_token, &job_body("j", Some(&pool)))
        .await;
    let task = app
        .create_task(&app.owner_token, &job_task_body("waiting", &job, 1))
        .await;

    app.delete(&format!("/jobs/{job}?force=False"), &app.owner_token)
        .await
        .expect_error(409, "conflict", &[]);
    assert_eq!(app.get_job(&app.owner_token, &job).await["state"], "Active");
    assert_state_in(
        &app.get_task(&app.owner_token, &task).await,
        UNFINISHED_TASK_STATES,
    );

    app.delete(&format!("/jobs/{job}?force=True"), &app.owner_token)
        .await
        .expect(204);
    app.get(&format!("/jobs/{job}"), &app.owner_token)
        .await
        .expect_error(404, "not_found", &[]);
}

#[tokio::test]
async fn deleting_an_empty_job_needs_no_force() {
    let app = spawn_app().await;
    let job = app
        .create_job(&app.owner_token, &job_body("empty", None))
        .await;
    app.delete(&format!("/jobs/{job}?force=False"), &app.owner_token)
        .await
        .expect(204);
    app.get(&format!("/jobs/{job}"), &app.owner_token)
        .await
        .expect(404);
    app.delete(&format!("/jobs/{job}?force=True"), &app.owner_token)
        .await
        .expect(404);
}

#[tokio::test]
async fn jobs_paginate_lists_the_jobs() {
    let app = spawn_app().await;
    let a = app.create_job(&app.owner_token, &job_body("a", None)).await;
    let b = app.create_job(&app.owner_token, &job_body("b", None)).await;
    let listed = app
        .walk(
            "/jobs/paginate",
            &app.owner_token,
            serde_json::Value::Null,
            50,
        )
        .await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&a) && listed.contains(&b));
}
