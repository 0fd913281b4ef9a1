//! `/agent/v1`: what node agents call (docs/agent-protocol.md). Authenticated by node tokens,
//! which no other route accepts.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, post, web};
use hearth_api::agent::{
    Assignment, Directives, Finished, HeartbeatAnswer, Output, Recorded, RegisterBody,
    Registration, Report, ReportAnswer, ReportBatch, ReportResult, Running, Started,
};
use hearth_api::events::Change;
use hearth_core::model::{InstanceState, NodeState};
use hearth_core::task_state::TaskState;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::ok;
use crate::auth::NodeCaller;
use crate::body::JsonBody;
use crate::engine::{self, assign, batch, instances, nodes};
use crate::entities::{instance, node, task};
use crate::error::ApiResult;
use crate::services::{path_id, tasks};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(register)
        .service(heartbeat)
        .service(poll)
        .service(started)
        .service(output)
        .service(finished)
        .service(report);
}

/// An agent announces itself: its node becomes Ready.
#[utoipa::path(tag = "agent", request_body = RegisterBody, responses((status = 200, description = "node settings", body = Registration)))]
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
    Ok(ok(Registration {
        node_uuid: n.id,
        pool_uuid: n.pool_id,
        slots: n.slots.max(0) as usize,
        heartbeat_interval_ms: s.heartbeat_interval.as_millis() as u64,
        poll_wait_ms: s.poll_wait.as_millis() as u64,
        kill_grace_ms: s.kill_grace.as_millis() as u64,
    }))
}

/// What a node should do now: new assignments, instances to stop, whether to shut down.
struct Work {
    assignments: Vec<Assignment>,
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

    fn directives(self) -> Directives {
        Directives {
            assignments: self.assignments,
            cancel: self.cancel,
            shutdown: self.shutdown,
        }
    }
}

/// An instance on one of the node's slots, as a poll needs it (no output).
struct OnSlot {
    id: Uuid,
    task_id: Uuid,
    state: String,
    instance_id: i32,
    slot_index: Option<i32>,
    attempts: i32,
}

type OnSlotRow = (Uuid, Uuid, String, i32, Option<i32>, i32);

/// The node's work now. `fresh` is its row when the caller just read it (the first look of a
/// poll); a poll woken later reads it again. A fixed number of statements whatever the
/// node's slots: the node, its instances on slots, their tasks, and for new assignments the
/// pool and its profile.
async fn work_for(
    state: &AppState,
    node_id: Uuid,
    fresh: Option<&node::Model>,
    running: &[Uuid],
    with_assignments: bool,
) -> ApiResult<Work> {
    let n = match fresh {
        Some(n) => Some(n.clone()),
        None => node::Entity::find_by_id(node_id).one(&state.db).await?,
    };
    let Some(n) = n else {
        return Ok(Work {
            assignments: vec![],
            cancel: running.to_vec(),
            urgent_cancel: true,
            shutdown: true,
        });
    };
    let on_node: Vec<OnSlot> = instance::Entity::find()
        .select_only()
        .columns([
            instance::Column::Id,
            instance::Column::TaskId,
            instance::Column::State,
            instance::Column::InstanceId,
            instance::Column::SlotIndex,
            instance::Column::Attempts,
        ])
        .filter(instance::Column::NodeId.eq(node_id))
        .filter(instance::Column::State.is_in(instances::ON_SLOT))
        .into_tuple::<OnSlotRow>()
        .all(&state.db)
        .await?
        .into_iter()
        .map(
            |(id, task_id, state, instance_id, slot_index, attempts)| OnSlot {
                id,
                task_id,
                state,
                instance_id,
                slot_index,
                attempts,
            },
        )
        .collect();
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
    let mut task_ids: Vec<Uuid> = on_node.iter().map(|i| i.task_id).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    let task_rows: HashMap<Uuid, task::Model> = if task_ids.is_empty() {
        HashMap::new()
    } else {
        task::Entity::find()
            .filter(task::Column::Id.is_in(task_ids))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect()
    };
    let stopping = |t: &Uuid| task_rows.get(t).is_none_or(tasks::is_stopping);
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
    let new: Vec<assign::Placed> = on_node
        .iter()
        .filter(|i| i.state == InstanceState::Assigned.as_str() && !running.contains(&i.id))
        .map(|i| assign::Placed {
            id: i.id,
            task_id: i.task_id,
            instance_id: i.instance_id,
            slot_index: i.slot_index.unwrap_or(0),
            attempts: i.attempts,
        })
        .collect();
    let assignments = if with_assignments {
        assign::assignments(state, n.pool_id, node_id, &new, &task_rows).await?
    } else {
        Vec::new()
    };
    Ok(Work {
        assignments,
        cancel,
        urgent_cancel: urgent,
        shutdown: false,
    })
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
#[utoipa::path(tag = "agent", request_body = Running, responses((status = 200, description = "cancel list and shutdown flag", body = HeartbeatAnswer)))]
#[post("/agent/v1/heartbeat")]
async fn heartbeat(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<Running>,
) -> ApiResult<HttpResponse> {
    note_heartbeat(&state, caller.node.id).await?;
    let work = work_for(
        &state,
        caller.node.id,
        Some(&caller.node),
        &body.0.running,
        false,
    )
    .await?;
    Ok(ok(HeartbeatAnswer {
        cancel: work.cancel,
        shutdown: work.shutdown,
    }))
}

/// Long poll: answered at once when there is work, else when woken or after `pollWaitMs`.
#[utoipa::path(tag = "agent", request_body = Running, responses((status = 200, description = "assignments, cancel list, shutdown flag", body = Directives)))]
#[post("/agent/v1/poll")]
async fn poll(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<Running>,
) -> ApiResult<HttpResponse> {
    let node_id = caller.node.id;
    engine::touch_liveness(&state, node_id);
    let signal = state.node_signal(node_id);
    // Registered before looking, so a wake between the look and the wait is not lost.
    let notified = signal.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    // What was handed over before this look is in the database, which the look reads.
    state.take_handed(node_id);
    let work = work_for(&state, node_id, Some(&caller.node), &body.0.running, true).await?;
    if !work.is_empty() {
        return Ok(ok(work.directives()));
    }
    let _ = tokio::time::timeout(state.settings.poll_wait, notified).await;
    engine::touch_liveness(&state, node_id);
    // Woken by a dispatch: its assignments are answered as it built them. Cancellations and
    // a shutdown wait for the next poll, which the agent sends at once.
    let handed = state.take_handed(node_id);
    if !handed.is_empty() {
        state.metrics.assignments_handed.inc_by(handed.len() as u64);
        return Ok(ok(Directives {
            assignments: handed,
            cancel: vec![],
            shutdown: false,
        }));
    }
    Ok(ok(work_for(&state, node_id, None, &body.0.running, true)
        .await?
        .directives()))
}

/// The instance's process started.
#[utoipa::path(tag = "agent", request_body = Started, responses((status = 200, description = "recorded", body = Recorded), (status = 409, description = "must not run")))]
#[post("/agent/v1/instances/{uuid}/started")]
async fn started(
    state: web::Data<AppState>,
    caller: NodeCaller,
    uuid: web::Path<String>,
    body: JsonBody<Started>,
) -> ApiResult<HttpResponse> {
    engine::touch_liveness(&state, caller.node.id);
    let id = path_id(&uuid, "instance")?;
    instances::started(&state, caller.node.id, id, body.0.attempt.map(attempt_of)).await?;
    Ok(ok(Recorded {}))
}

/// Output since the previous report.
#[utoipa::path(tag = "agent", request_body = Output, responses((status = 200, description = "appended", body = Recorded)))]
#[post("/agent/v1/instances/{uuid}/output")]
async fn output(
    state: web::Data<AppState>,
    caller: NodeCaller,
    uuid: web::Path<String>,
    body: JsonBody<Output>,
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
    Ok(ok(Recorded {}))
}

/// A finished report as the engine reads it.
fn finish_of(ended: &Finished) -> instances::Finish<'_> {
    instances::Finish {
        attempt: ended.attempt.map(attempt_of),
        exit_code: ended.exit_code,
        signal: ended.signal,
        stdout: &ended.stdout,
        stderr: &ended.stderr,
    }
}

/// An attempt number as the rows count them (beyond `i32::MAX` it names no attempt there
/// is).
fn attempt_of(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

/// After an instance of a node ended: its slot is refilled at once (the pool's state
/// follows its nodes, which the reports do not change). A node that got no new work is
/// woken and marked idle if it has nothing left: a draining node that just emptied learns
/// on its next poll to shut down.
async fn refill(
    state: &AppState,
    node: &crate::entities::node::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    let dispatched = engine::dispatch::dispatch_pool(state, node.pool_id).await?;
    if !dispatched.nodes.contains(&node.id) {
        instances::mark_idle_if_free(&state.db, node.id, now).await?;
        state.wake_node(node.id);
    }
    Ok(())
}

/// The instance's process ended; its slot is free again at once.
#[utoipa::path(tag = "agent", request_body = Finished, responses((status = 200, description = "recorded", body = Recorded)))]
#[post("/agent/v1/instances/{uuid}/finished")]
async fn finished(
    state: web::Data<AppState>,
    caller: NodeCaller,
    uuid: web::Path<String>,
    body: JsonBody<Finished>,
) -> ApiResult<HttpResponse> {
    let node_id = caller.node.id;
    engine::touch_liveness(&state, node_id);
    instances::finished(
        &state,
        node_id,
        path_id(&uuid, "instance")?,
        finish_of(&body.0),
    )
    .await?;
    refill(&state, &caller.node, state.clock.now()).await?;
    Ok(ok(Recorded {}))
}

/// Reports of a batch, at most (a bigger batch is refused with 400).
const MAX_BATCH: usize = 1000;

/// Several instance reports at once (`started` and `finished`, in order), committed in one
/// transaction; the freed slots are refilled once for the whole batch. Answers one status
/// per report, as its own route would (200, or 409 for a start the server refuses).
#[utoipa::path(tag = "agent", request_body = ReportBatch, responses((status = 200, description = "one status per report", body = ReportAnswer), (status = 400, description = "too many reports")))]
#[post("/agent/v1/report")]
async fn report(
    state: web::Data<AppState>,
    caller: NodeCaller,
    body: JsonBody<ReportBatch>,
) -> ApiResult<HttpResponse> {
    let node_id = caller.node.id;
    engine::touch_liveness(&state, node_id);
    let reports = &body.0.reports;
    if reports.len() > MAX_BATCH {
        return Err(crate::error::ApiError::field(
            "reports",
            format!("at most {MAX_BATCH} per batch, got {}", reports.len()),
        ));
    }
    let now = state.clock.now();
    let batch: Vec<batch::Report> = reports
        .iter()
        .map(|item| match item {
            Report::Started {
                instance_uuid,
                attempt,
            } => batch::Report::Started {
                id: *instance_uuid,
                attempt: attempt.map(attempt_of),
            },
            Report::Finished {
                instance_uuid,
                report: ended,
            } => batch::Report::Finished {
                id: *instance_uuid,
                finish: finish_of(ended),
            },
        })
        .collect();
    let any_finished = batch
        .iter()
        .any(|r| matches!(r, batch::Report::Finished { .. }));
    // Slots freed by the batch are refilled in its own transaction, under the pool's
    // dispatch lock taken before it begins (the order every dispatch keeps).
    let pool_id = caller.node.pool_id;
    let lock = state.dispatch_lock(pool_id);
    let refilling = if any_finished {
        let guard = lock.lock().await;
        engine::dispatch::ready_to_place(&state, pool_id)
            .await?
            .then_some(guard)
    } else {
        None
    };
    let txn = state.write().await?;
    let applied = batch::apply(&txn, now, node_id, &batch).await?;
    state.note_ends(pool_id, applied.quick_ends, applied.ends);
    // On PostgreSQL the refill takes a transaction of its own: the batch has locked its
    // tasks, and a placement locks nodes before tasks, the order every other writer keeps.
    // SQLite runs one writer at a time, so there the refill shares the batch's commit.
    let serialized = txn.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let txn = if serialized {
        txn
    } else {
        txn.commit().await?;
        batch::observe(&state, &applied.waits, &applied.changes);
        state.write().await?
    };
    let placement = match &refilling {
        Some(_) => {
            Some(engine::dispatch::place_in(&txn, pool_id, now, state.queue_depth(pool_id)).await?)
        }
        None => None,
    };
    // A node the refill gave nothing and that has nothing left is idle from now.
    let idle = any_finished && !placement.as_ref().is_some_and(|p| p.reaches(node_id));
    if idle {
        instances::mark_idle_if_free(&txn, node_id, now).await?;
    }
    let results: Vec<ReportResult> = applied
        .verdicts
        .into_iter()
        .map(|v| match v {
            batch::Verdict::Done => ReportResult {
                status: 200,
                message: None,
            },
            batch::Verdict::Refused(status, message) => ReportResult {
                status,
                message: Some(message),
            },
        })
        .collect();
    txn.commit().await?;
    if serialized {
        batch::observe(&state, &applied.waits, &applied.changes);
    }
    // A task this batch ended may be what a waiting task of the pool depends on: the
    // dependencies were settled before the batch applied, so settle them again (and place
    // what they release) now that it has, without holding up the node's answer.
    let ended_a_task = applied.changes.iter().any(|(_, c)| {
        matches!(c, Change::TaskProgress { state, .. }
            if state.parse::<TaskState>().is_ok_and(|s| s.is_finished()))
    });
    for (tenant, change) in applied.changes {
        state.announce(tenant, change);
    }
    let in_answer = body.0.assignments_in_answer;
    let mut answer = ReportAnswer {
        results,
        assignments: None,
    };
    if let Some(placement) = placement {
        let quiet = in_answer.then_some(node_id);
        let dispatched = engine::dispatch::deliver(&state, pool_id, placement, quiet).await;
        if in_answer && !dispatched.assignments.is_empty() {
            answer.assignments = Some(dispatched.assignments);
        }
    }
    drop(refilling);
    if idle {
        // A draining node that just emptied learns on its next poll to shut down.
        state.wake_node(node_id);
    }
    if ended_a_task && !state.known_without_waiting(pool_id) {
        engine::spawn_dispatch(state.clone(), pool_id);
    }
    Ok(ok(answer))
}
