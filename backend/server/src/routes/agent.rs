//! `/agent/v1`: what node agents call (docs/agent-protocol.md). Authenticated by node tokens,
//! which no other route accepts.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, post, web};
use hearth_core::model::{InstanceState, NodeState};
use hearth_core::task_state::TaskState;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ok;
use crate::auth::NodeCaller;
use crate::body::JsonBody;
use crate::engine::{self, instances, nodes};
use crate::entities::{instance, node, pool, task};
use crate::error::ApiResult;
use crate::services::{path_id, profiles, tasks};
use crate::state::AppState;
use crate::wire::KeyValue;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(register)
        .service(heartbeat)
        .service(poll)
        .service(started)
        .service(output)
        .service(finished)
        .service(report);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    pid: Option<u32>,
    hostname: Option<String>,
}

/// An agent announces itself: its node becomes Ready.
#[utoipa::path(tag = "agent", responses((status = 200, description = "node settings")))]
#[post("/agent/v1/register")]
async fn register(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<RegisterBody>,
) -> ApiResult<HttpResponse> {
    engine::touch_liveness(&state, caller.node.id);
    let n = nodes::mark_ready(&state, caller.node.id).await?;
    tracing::debug!(node = %n.id, pid = ?body.0.pid, host = ?body.0.hostname, "agent registered");
    engine::spawn_dispatch(state.clone(), n.pool_id);
    let s = &state.settings;
    Ok(ok(json!({
        "nodeUuid": n.id,
        "poolUuid": n.pool_id,
        "slots": n.slots,
        "heartbeatIntervalMs": s.heartbeat_interval.as_millis() as u64,
        "pollWaitMs": s.poll_wait.as_millis() as u64,
        "killGraceMs": s.kill_grace.as_millis() as u64,
    })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RunningBody {
    #[serde(default)]
    running: Vec<Uuid>,
}

/// What a node should do now: new assignments, instances to stop, whether to shut down.
struct Work {
    assignments: Vec<Value>,
    cancel: Vec<Uuid>,
    /// Some of `cancel` stop work that still runs (not only reports still in flight).
    urgent_cancel: bool,
    shutdown: bool,
}

impl Work {
    /// Nothing a held poll should be answered for now.
    fn is_empty(&self) -> bool {
        self.assignments.is_empty() && !self.urgent_cancel && !self.shutdown
    }

    fn json(&self) -> Value {
        json!({"assignments": self.assignments, "cancel": self.cancel, "shutdown": self.shutdown})
    }
}

async fn work_for(
    state: &AppState,
    node_id: Uuid,
    running: &[Uuid],
    with_assignments: bool,
) -> ApiResult<Work> {
    let Some(n) = node::Entity::find_by_id(node_id).one(&state.db).await? else {
        return Ok(Work {
            assignments: vec![],
            cancel: running.to_vec(),
            urgent_cancel: true,
            shutdown: true,
        });
    };
    let on_node = instance::Entity::find()
        .filter(instance::Column::NodeId.eq(node_id))
        .filter(instance::Column::State.is_in([
            InstanceState::Assigned.as_str(),
            InstanceState::Executing.as_str(),
        ]))
        .all(&state.db)
        .await?;
    let node_state = nodes::node_state(&n);
    if node_state == NodeState::Draining && on_node.is_empty() {
        nodes::end_node(state, node_id, nodes::NodeEnd::Terminated, true).await?;
        nodes::refresh_pool_state(state, n.pool_id).await?;
        return Ok(Work {
            assignments: vec![],
            cancel: running.to_vec(),
            urgent_cancel: true,
            shutdown: true,
        });
    }
    if node_state.is_terminal() {
        return Ok(Work {
            assignments: vec![],
            cancel: running.to_vec(),
            urgent_cancel: true,
            shutdown: true,
        });
    }
    let mut task_states: HashMap<Uuid, TaskState> = HashMap::new();
    for i in &on_node {
        if let std::collections::hash_map::Entry::Vacant(e) = task_states.entry(i.task_id) {
            let s = task::Entity::find_by_id(i.task_id)
                .one(&state.db)
                .await?
                .map(|t| tasks::state_of(&t))
                .unwrap_or(TaskState::Cancelled);
            e.insert(s);
        }
    }
    let stopping = |t: &Uuid| {
        matches!(
            task_states.get(t),
            Some(TaskState::PendingCancel | TaskState::Cancelled | TaskState::PendingDelete) | None
        )
    };
    let cancel: Vec<Uuid> = running
        .iter()
        .filter(|id| {
            on_node
                .iter()
                .find(|i| i.id == **id)
                .is_none_or(|i| stopping(&i.task_id))
        })
        .copied()
        .collect();
    // Of those, the ones still holding a slot here for a task being stopped: news worth
    // answering a held poll for. The others are instances whose end the server already has
    // (their `/finished` is on its way back to the agent): telling it again must not make
    // the poll answer at once, or agent and server would loop.
    let urgent = on_node
        .iter()
        .any(|i| stopping(&i.task_id) && running.contains(&i.id));
    let running: HashSet<&Uuid> = running.iter().collect();
    let mut assignments = Vec::new();
    if with_assignments {
        let mut env_cache: HashMap<Uuid, TaskEnvironment> = HashMap::new();
        for i in on_node
            .iter()
            .filter(|i| i.state == InstanceState::Assigned.as_str() && !running.contains(&i.id))
        {
            if let std::collections::hash_map::Entry::Vacant(slot) = env_cache.entry(i.task_id) {
                match task_environment(state, i.task_id).await? {
                    Some(found) => slot.insert(found),
                    None => continue,
                };
            }
            let TaskEnvironment {
                command,
                constants,
                task: t,
            } = &env_cache[&i.task_id];
            let mut env: serde_json::Map<String, Value> = constants
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let slot = i.slot_index.unwrap_or(0);
            for (k, v) in [
                ("INSTANCE_ID", i.instance_id.to_string()),
                ("TASK_UUID", t.id.to_string()),
                ("POOL_UUID", t.pool_id.to_string()),
                ("INSTANCE_COUNT", t.instance_count.to_string()),
                ("NODE_UUID", node_id.to_string()),
                ("SLOT_INDEX", slot.to_string()),
            ] {
                env.insert(k.into(), json!(v));
            }
            if let Some(job) = t.job_id {
                env.insert("JOB_UUID".into(), json!(job.to_string()));
            }
            assignments.push(json!({
                "instanceUuid": i.id,
                "attempt": i.attempts + 1,
                "taskUuid": t.id,
                "instanceId": i.instance_id,
                "slotIndex": slot,
                "command": command,
                "env": env,
                "workdir": format!("job/{}", t.id),
            }));
        }
    }
    Ok(Work {
        assignments,
        cancel,
        urgent_cancel: urgent,
        shutdown: false,
    })
}

/// Constants in force for a task's instances (profile < pool < task) and the command they run.
/// What a task's instances run with.
struct TaskEnvironment {
    command: String,
    constants: Vec<(String, String)>,
    task: task::Model,
}

async fn task_environment(state: &AppState, task_id: Uuid) -> ApiResult<Option<TaskEnvironment>> {
    let Some(t) = task::Entity::find_by_id(task_id).one(&state.db).await? else {
        return Ok(None);
    };
    let Some(p) = pool::Entity::find_by_id(t.pool_id).one(&state.db).await? else {
        return Ok(None);
    };
    let mut merged: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| {
        if let Some(slot) = merged.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
        } else {
            merged.push((k, v));
        }
    };
    if let Ok(profile) = profiles::find(&state.db, &p.profile_name).await {
        let consts: Vec<profiles::ProfileConstant> =
            serde_json::from_value(profile.constants).unwrap_or_default();
        for c in consts {
            set(c.name, c.value);
        }
    }
    for source in [&p.constants, &t.constants] {
        let consts: Vec<KeyValue> = serde_json::from_value(source.clone()).unwrap_or_default();
        for c in consts {
            set(c.key, c.value.unwrap_or_default());
        }
    }
    let command = merged
        .iter()
        .find(|(k, v)| k == "DOCKER_CMD" && !v.is_empty())
        .or_else(|| merged.iter().find(|(k, v)| k == "command" && !v.is_empty()))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Ok(Some(TaskEnvironment {
        command,
        constants: merged,
        task: t,
    }))
}

async fn note_heartbeat(state: &AppState, node_id: Uuid) -> ApiResult<()> {
    engine::touch_liveness(state, node_id);
    node::Entity::update_many()
        .col_expr(node::Column::LastHeartbeat, Expr::value(state.clock.now()))
        .filter(node::Column::Id.eq(node_id))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Liveness; answers instances to stop and whether to shut down.
#[utoipa::path(tag = "agent", responses((status = 200, description = "cancel list and shutdown flag")))]
#[post("/agent/v1/heartbeat")]
async fn heartbeat(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<RunningBody>,
) -> ApiResult<HttpResponse> {
    note_heartbeat(&state, caller.node.id).await?;
    let work = work_for(&state, caller.node.id, &body.0.running, false).await?;
    Ok(ok(
        json!({"cancel": work.cancel, "shutdown": work.shutdown}),
    ))
}

/// Long poll: answered at once when there is work, else when woken or after `pollWaitMs`.
#[utoipa::path(tag = "agent", responses((status = 200, description = "assignments, cancel list, shutdown flag")))]
#[post("/agent/v1/poll")]
async fn poll(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<RunningBody>,
) -> ApiResult<HttpResponse> {
    let node_id = caller.node.id;
    engine::touch_liveness(&state, node_id);
    let signal = state.node_signal(node_id);
    // Registered before looking, so a wake between the look and the wait is not lost.
    let notified = signal.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let work = work_for(&state, node_id, &body.0.running, true).await?;
    if !work.is_empty() {
        return Ok(ok(work.json()));
    }
    let _ = tokio::time::timeout(state.settings.poll_wait, notified).await;
    engine::touch_liveness(&state, node_id);
    Ok(ok(work_for(&state, node_id, &body.0.running, true)
        .await?
        .json()))
}

#[derive(Deserialize, Default)]
struct StartedBody {
    attempt: Option<i32>,
}

/// The instance's process started.
#[utoipa::path(tag = "agent", responses((status = 200, description = "recorded"), (status = 409, description = "must not run")))]
#[post("/agent/v1/instances/{uuid}/started")]
async fn started(
    state: web::Data<AppState>,
    caller: NodeCaller,
    uuid: web::Path<String>,
    body: JsonBody<StartedBody>,
) -> ApiResult<HttpResponse> {
    engine::touch_liveness(&state, caller.node.id);
    let id = path_id(&uuid, "instance")?;
    instances::started(&state, caller.node.id, id, body.0.attempt).await?;
    Ok(ok(json!({})))
}

#[derive(Deserialize, Default)]
struct OutputBody {
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
}

/// Output since the previous report.
#[utoipa::path(tag = "agent", responses((status = 200, description = "appended")))]
#[post("/agent/v1/instances/{uuid}/output")]
async fn output(
    state: web::Data<AppState>,
    caller: NodeCaller,
    uuid: web::Path<String>,
    body: JsonBody<OutputBody>,
) -> ApiResult<HttpResponse> {
    engine::touch_liveness(&state, caller.node.id);
    instances::output(
        &state,
        caller.node.id,
        path_id(&uuid, "instance")?,
        &body.0.stdout,
        &body.0.stderr,
    )
    .await?;
    Ok(ok(json!({})))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FinishedBody {
    attempt: Option<i32>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
}

impl FinishedBody {
    fn finish(&self) -> instances::Finish<'_> {
        instances::Finish {
            attempt: self.attempt,
            exit_code: self.exit_code,
            signal: self.signal,
            stdout: &self.stdout,
            stderr: &self.stderr,
        }
    }
}

/// After instances of a node ended: their slots are refilled at once (the pool's state
/// follows its nodes, which the reports do not change), and a draining node that just
/// emptied learns on its next poll to shut down.
async fn refill(state: &AppState, node: &crate::entities::node::Model) -> ApiResult<()> {
    engine::dispatch::dispatch_pool(state, node.pool_id).await?;
    state.wake_node(node.id);
    Ok(())
}

/// The instance's process ended; its slot is free again at once.
#[utoipa::path(tag = "agent", responses((status = 200, description = "recorded")))]
#[post("/agent/v1/instances/{uuid}/finished")]
async fn finished(
    state: web::Data<AppState>,
    caller: NodeCaller,
    uuid: web::Path<String>,
    body: JsonBody<FinishedBody>,
) -> ApiResult<HttpResponse> {
    let node_id = caller.node.id;
    engine::touch_liveness(&state, node_id);
    instances::finished(
        &state,
        node_id,
        path_id(&uuid, "instance")?,
        body.0.finish(),
    )
    .await?;
    refill(&state, &caller.node).await?;
    Ok(ok(json!({})))
}

/// One instance report of a batch.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
enum BatchItem {
    #[serde(rename = "started", rename_all = "camelCase")]
    Started {
        instance_uuid: Uuid,
        attempt: Option<i32>,
    },
    #[serde(rename = "finished", rename_all = "camelCase")]
    Finished {
        instance_uuid: Uuid,
        #[serde(flatten)]
        report: FinishedBody,
    },
}

#[derive(Deserialize)]
struct BatchBody {
    reports: Vec<BatchItem>,
}

/// Reports of a batch, at most (a bigger batch is refused with 400).
const MAX_BATCH: usize = 1000;

/// Several instance reports at once (`started` and `finished`, in order), committed in one
/// transaction; the freed slots are refilled once for the whole batch. Answers one status
/// per report, as its own route would (200, or 409 for a start the server refuses).
#[utoipa::path(tag = "agent", responses((status = 200, description = "one status per report"), (status = 400, description = "too many reports")))]
#[post("/agent/v1/report")]
async fn report(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<BatchBody>,
) -> ApiResult<HttpResponse> {
    let node_id = caller.node.id;
    engine::touch_liveness(&state, node_id);
    let reports = body.0.reports;
    if reports.len() > MAX_BATCH {
        return Err(crate::error::ApiError::field(
            "reports",
            format!("at most {MAX_BATCH} per batch, got {}", reports.len()),
        ));
    }
    let now = state.clock.now();
    let txn = crate::db::write(&state.db).await?;
    let mut results = Vec::with_capacity(reports.len());
    let mut any_finished = false;
    for item in &reports {
        let outcome = match item {
            BatchItem::Started {
                instance_uuid,
                attempt,
            } => instances::started_in(&txn, now, node_id, *instance_uuid, *attempt).await,
            BatchItem::Finished {
                instance_uuid,
                report,
            } => {
                any_finished = true;
                instances::finished_in(&txn, now, node_id, *instance_uuid, report.finish()).await
            }
        };
        results.push(match outcome {
            Ok(()) => json!({"status": 200}),
            // Refusals are decided before any write: the batch goes on.
            Err(
                e @ (crate::error::ApiError::Conflict(_) | crate::error::ApiError::NotFound(_)),
            ) => {
                let status = actix_web::ResponseError::status_code(&e).as_u16();
                json!({"status": status, "message": e.to_string()})
            }
            Err(e) => return Err(e),
        });
    }
    txn.commit().await?;
    if any_finished {
        instances::mark_idle_if_free(&state.db, node_id, now).await?;
        refill(&state, &caller.node).await?;
    }
    Ok(ok(json!({"results": results})))
}
