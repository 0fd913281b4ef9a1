//! Every Qarnot answer reads back as its `hearth-api` type and writes out again as the very
//! JSON the server sent: the Rust SDK and the CLI, which read answers with these types, lose
//! nothing and see every field.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use hearth_api::qarnot::account::{ComputingQuotas, UserInfo};
use hearth_api::qarnot::job::Job;
use hearth_api::qarnot::pool::Pool;
use hearth_api::qarnot::task::Task;
use hearth_api::qarnot::{BulkResult, QarnotPage};

use crate::helpers::*;

/// `answer` as `T`, and back: the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(answer: &Value) -> T {
    let typed: T = serde_json::from_value(answer.clone()).unwrap_or_else(|e| {
        panic!(
            "does not read as {}: {e}\n{answer}",
            std::any::type_name::<T>()
        )
    });
    let again = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(
        &again,
        answer,
        "{} loses or changes fields",
        std::any::type_name::<T>()
    );
    typed
}

#[tokio::test]
async fn pool_task_and_job_answers_are_their_hearth_api_types() {
    let app = spawn_app().await;
    let token = &app.owner_token;
    let mut body = pool_body("typed");
    body["schedulingType"] = json!("Flex");
    body["privileges"] = json!({"exportApiAndStorageCredentialsInEnvironment": true});
    body["scaling"] = json!({"policies": [
        {"type": "ManagedTasksQueue", "name": "day", "minTotalSlots": 0, "maxTotalSlots": 2,
         "minIdleSlots": 0, "enabledPeriods": [{"type": "Weekly", "days": ["monday"],
         "startTimeUtc": "08:00:00", "endTimeUtc": "18:00:00"}]},
        {"type": "Fixed", "name": "rest", "slotsCount": 1}
    ]});
    let pool_uuid = app.create_pool(token, &body).await;
    let pool: Pool = round_trip(&app.get_pool(token, &pool_uuid).await);
    assert_eq!(pool.echoed.other["schedulingType"], "Flex");
    assert_eq!(pool.scaling.expect("scaling read back").policies.len(), 2);

    let job_uuid = app
        .create_job(
            token,
            &json!({"name": "j", "poolUuid": pool_uuid, "useDependencies": true}),
        )
        .await;
    let job: Job = round_trip(&app.get_job(token, &job_uuid).await);
    assert!(job.use_dependencies);

    let mut first = task_body("first", &pool_uuid, 2);
    first["jobUuid"] = json!(job_uuid);
    let first_uuid = app.create_task(token, &first).await;
    let mut second = task_body("second", &pool_uuid, 1);
    second["jobUuid"] = json!(job_uuid);
    second["dependencies"] = json!({"dependsOn": [first_uuid]});
    let second_uuid = app.create_task(token, &second).await;
    let task: Task = round_trip(&app.get_task(token, &second_uuid).await);
    assert_eq!(task.dependencies.depends_on, vec![first_uuid.clone()]);

    let tasks: Vec<Task> = round_trip(&app.get("/tasks", token).await.expect_json(200));
    assert_eq!(tasks.len(), 2);
    let _: Vec<Pool> = round_trip(&app.get("/pools", token).await.expect_json(200));
    let _: Vec<Task> = round_trip(
        &app.get(&format!("/jobs/{job_uuid}/tasks"), token)
            .await
            .expect_json(200),
    );
    let page: QarnotPage<Task> = round_trip(
        &app.post_json("/tasks/paginate", token, &json!({"maximumResults": 1}))
            .await
            .expect_json(200),
    );
    assert!(page.is_truncated && page.next_token.is_some());
    let _: QarnotPage<Pool> = round_trip(
        &app.post_json("/pools/paginate", token, &json!({}))
            .await
            .expect_json(200),
    );
    let _: QarnotPage<Job> = round_trip(
        &app.post_json("/jobs/paginate", token, &json!({}))
            .await
            .expect_json(200),
    );

    let bulk: Vec<BulkResult> = round_trip(
        &app.post_json(
            "/tasks",
            token,
            &json!([task_body("ok", &pool_uuid, 1), {"name": "no pool", "instanceCount": 1}]),
        )
        .await
        .expect_json(200),
    );
    assert_eq!(bulk[0].status_code, 201);
    assert!(bulk[1].status_code >= 400 && bulk[1].message.is_some());
}

#[tokio::test]
async fn account_answers_are_their_hearth_api_types() {
    let app = spawn_app().await;
    let token = &app.owner_token;
    let info: UserInfo = round_trip(&app.get("/info", token).await.expect_json(200));
    assert!(
        info.computing_quotas
            .organization
            .flex
            .running_counts_per_user
            .is_some()
    );
    assert!(
        info.computing_quotas
            .user
            .flex
            .running_counts_per_user
            .is_none()
    );
    let _: ComputingQuotas = round_trip(
        &app.get("/quotas/computing-quotas/user", token)
            .await
            .expect_json(200),
    );
    let _: ComputingQuotas = round_trip(
        &app.get("/quotas/computing-quotas/organization", token)
            .await
            .expect_json(200),
    );
}
