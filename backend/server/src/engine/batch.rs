//! A batch of one agent's instance reports (`POST /agent/v1/report`), applied set-wise.
//!
//! The batch's instances are read in one query and their tasks locked in one more; each
//! report is then decided in memory, in order, by the same rules `instances::started_in` and
//! `instances::finished_in` apply one at a time (a start and the end of the same instance in
//! one batch, retries taken by earlier reports of the batch); last, the changes are written
//! grouped: one update per kind of change, one insert of the new executions, one counter
//! update and one state refresh per task. The statements a batch costs grow with its tasks
//! and its kinds of outcome, not with its reports.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hearth_core::model::InstanceState;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use super::instances::{
    Finish, MAX_OUTPUT_BYTES, append_bounded, execution_label, granted_retries, retry_allowed_by,
    retry_limits,
};
use super::progress::settle_moved;
use crate::entities::{instance, instance_execution, task};
use crate::error::{ApiError, ApiResult};
use crate::feed::Change;
use crate::services::tasks;

/// One report of a batch.
pub enum Report<'a> {
    Started { id: Uuid, attempt: Option<i32> },
    Finished { id: Uuid, finish: Finish<'a> },
}

/// What a report's own route would have answered: 200, or a refusal (409 for a start the
/// server refuses, 404 for the end of an instance whose task is gone).
pub enum Verdict {
    Done,
    Refused(u16, String),
}

/// An instance of the batch as the reports so far left it.
struct Live {
    task_id: Uuid,
    pool_id: Uuid,
    tenant_id: Uuid,
    instance_id: i32,
    slot_index: Option<i32>,
    state: InstanceState,
    attempts: i32,
    /// Still on the reporting node (a requeue takes it off).
    on_node: bool,
    /// When its attempt started (`now` for a start in this batch).
    started_at: Option<DateTime<Utc>>,
}

/// An end this soon after its start counts as a short instance's (see
/// `AppState::queue_depth`).
pub const QUICK: chrono::TimeDelta = chrono::TimeDelta::milliseconds(250);

type LiveRow = (
    Uuid,
    Uuid,
    Uuid,
    Uuid,
    i32,
    Option<i32>,
    String,
    i32,
    Option<Uuid>,
    Option<DateTime<Utc>>,
);

/// A task of the batch: its locked row, the retries taken so far and the counter changes.
struct TaskTally {
    row: task::Model,
    retries_used: i32,
    retries_delta: i32,
    deltas: Vec<(InstanceState, i32)>,
    limits: Option<(i32, Option<i32>)>,
    /// Retries granted and not started, among the task's instances outside this batch
    /// (read once, when a decision needs it).
    granted_outside: Option<i32>,
}

impl TaskTally {
    fn moved(&mut self, from: InstanceState, to: InstanceState) {
        for (state, d) in [(from, -1), (to, 1)] {
            match self.deltas.iter_mut().find(|(s, _)| *s == state) {
                Some((_, n)) => *n += d,
                None => self.deltas.push((state, d)),
            }
        }
    }
}

/// An instance's end as it will be written.
struct End<'a> {
    id: Uuid,
    outcome: InstanceState,
    /// Stored on the instance: the exit code, or 128 + the signal.
    exit_code: Option<i32>,
    /// Stored on the execution interval: the exit code as reported.
    reported_exit: Option<i32>,
    stdout: &'a str,
    stderr: &'a str,
}

/// What a batch did: one verdict per report, in order, and the changes to announce once the
/// caller's transaction has committed (tenant, change).
pub struct Applied {
    pub verdicts: Vec<Verdict>,
    pub changes: Vec<(Uuid, Change)>,
    /// Instance ends applied, and how many of them came within `QUICK` of their start.
    pub ends: usize,
    pub quick_ends: usize,
    /// Seconds from submission to start of the instances first started by the batch.
    pub waits: Vec<f64>,
}

/// Once a batch has committed: its first starts' waits and its ends (`Applied::waits`,
/// `Applied::changes`) into the metrics, from figures already in memory.
pub fn observe(state: &crate::state::AppState, waits: &[f64], changes: &[(Uuid, Change)]) {
    for wait in waits {
        state.metrics.submit_to_start.observe(*wait);
    }
    super::instances::count_ends(state, changes);
}

/// Applies the reports in the caller's transaction; one verdict per report, in order.
/// Refusals are decided before anything is written, so they never spoil the transaction.
pub async fn apply(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    node_id: Uuid,
    reports: &[Report<'_>],
) -> ApiResult<Applied> {
    let mut ids: Vec<Uuid> = reports
        .iter()
        .map(|r| match r {
            Report::Started { id, .. } | Report::Finished { id, .. } => *id,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<LiveRow> = instance::Entity::find()
        .select_only()
        .columns([
            instance::Column::Id,
            instance::Column::TaskId,
            instance::Column::PoolId,
            instance::Column::TenantId,
            instance::Column::InstanceId,
            instance::Column::SlotIndex,
            instance::Column::State,
            instance::Column::Attempts,
            instance::Column::NodeId,
            instance::Column::StartedAt,
        ])
        // By primary key only: a node's finished instances keep their node, so a filter on
        // it could lead the planner to scan all of them.
        .filter(instance::Column::Id.is_in(ids))
        .into_tuple()
        .all(txn)
        .await?;
    let mut live: HashMap<Uuid, Live> = rows
        .into_iter()
        .filter(|row| row.8 == Some(node_id))
        .map(
            |(id, task_id, pool_id, tenant_id, instance_id, slot_index, state, attempts, _, at)| {
                let live = Live {
                    task_id,
                    pool_id,
                    tenant_id,
                    instance_id,
                    slot_index,
                    state: state.parse().unwrap_or(InstanceState::Failed),
                    attempts,
                    on_node: true,
                    started_at: at,
                };
                (id, live)
            },
        )
        .collect();
    // Counted from `live` when retries are decided, so left out of the database's count.
    let batch_ids: Vec<Uuid> = live.keys().copied().collect();
    let mut task_ids: Vec<Uuid> = live.values().map(|l| l.task_id).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    // Locked before deciding, as `finished_in` does: two nodes failing siblings at once must
    // not both take the last retry of the task.
    let mut tallies: HashMap<Uuid, TaskTally> = if task_ids.is_empty() {
        HashMap::new()
    } else {
        task::Entity::find()
            .filter(task::Column::Id.is_in(task_ids))
            .lock_exclusive()
            .all(txn)
            .await?
            .into_iter()
            .map(|row| {
                let tally = TaskTally {
                    retries_used: row.retries_used,
                    retries_delta: 0,
                    deltas: Vec::new(),
                    limits: None,
                    granted_outside: None,
                    row,
                };
                (tally.row.id, tally)
            })
            .collect()
    };

    let mut verdicts = Vec::with_capacity(reports.len());
    let mut starts: Vec<instance_execution::ActiveModel> = Vec::new();
    let mut ends: Vec<End> = Vec::new();
    let mut changes: Vec<(Uuid, Change)> = Vec::new();
    let mut quick_ends = 0;
    let mut waits: Vec<f64> = Vec::new();
    for report in reports {
        let verdict = match report {
            Report::Started { id, attempt } => start(
                &mut live,
                &mut tallies,
                node_id,
                now,
                *id,
                *attempt,
                (&mut starts, &mut waits),
            ),
            Report::Finished { id, finish } => {
                let Some(i) = live.get_mut(id).filter(|i| i.on_node) else {
                    verdicts.push(Verdict::Done);
                    continue;
                };
                let this_attempt = match i.state {
                    InstanceState::Executing => finish.attempt.is_none_or(|a| a == i.attempts),
                    // Ended before `/started` got through (spawn failure).
                    InstanceState::Assigned => finish.attempt.is_none_or(|a| a == i.attempts + 1),
                    _ => false,
                };
                if !this_attempt {
                    verdicts.push(Verdict::Done);
                    continue;
                }
                let Some(t) = tallies.get_mut(&i.task_id) else {
                    let e = ApiError::not_found("task");
                    verdicts.push(Verdict::Refused(404, e.to_string()));
                    continue;
                };
                let succeeded = finish.exit_code == Some(0) && finish.signal.is_none();
                let outcome = if tasks::is_stopping(&t.row) {
                    InstanceState::Cancelled
                } else if succeeded {
                    InstanceState::Succeeded
                } else {
                    let limits = match t.limits {
                        Some(l) => l,
                        None => *t.limits.insert(retry_limits(txn, &t.row).await?),
                    };
                    let granted = match limits.1 {
                        None => 0,
                        Some(_) => {
                            let outside = match t.granted_outside {
                                Some(n) => n,
                                None => *t
                                    .granted_outside
                                    .insert(granted_retries(txn, t.row.id, &batch_ids).await?),
                            };
                            outside + granted_in(&live, *id)
                        }
                    };
                    // `live` was only read: take this instance again.
                    let i = live.get_mut(id).expect("looked up above");
                    if retry_allowed_by(limits, i.attempts, t.retries_used + granted) {
                        InstanceState::Queued
                    } else {
                        InstanceState::Failed
                    }
                };
                let i = live.get_mut(id).expect("looked up above");
                if i.started_at.is_some_and(|at| now - at <= QUICK) {
                    quick_ends += 1;
                }
                t.moved(i.state, outcome);
                i.state = outcome;
                i.on_node = outcome != InstanceState::Queued;
                changes.push((
                    i.tenant_id,
                    crate::feed::instance_ended(
                        i.pool_id,
                        i.task_id,
                        i.instance_id,
                        outcome.as_str(),
                        finish.exit_code,
                        finish.signal,
                    ),
                ));
                ends.push(End {
                    id: *id,
                    outcome,
                    exit_code: finish.exit_code.or(finish.signal.map(|s| 128 + s)),
                    reported_exit: finish.exit_code,
                    stdout: finish.stdout,
                    stderr: finish.stderr,
                });
                Verdict::Done
            }
        };
        verdicts.push(verdict);
    }

    // An instance that starts and ends in this batch (a short one) gets each row written
    // once: its execution inserted closed, its instance row set to its outcome directly.
    let ended: HashMap<Uuid, &End> = ends.iter().map(|e| (e.id, e)).collect();
    let mut both: std::collections::HashSet<Uuid> = std::collections::HashSet::new();
    for s in &mut starts {
        let id = *s.instance_row_id.as_ref();
        if let Some(e) = ended.get(&id) {
            s.ended_at = Set(Some(now));
            s.exit_code = Set(e.reported_exit);
            s.outcome = Set(Some(execution_label(e.outcome).to_string()));
            both.insert(id);
        }
    }
    write_starts(txn, now, &starts, &both).await?;
    write_ends(txn, now, &ends, &both).await?;
    for (task_id, t) in &tallies {
        let shifted = tasks::shift_many(txn, *task_id, &t.deltas, t.retries_delta).await?;
        if t.deltas.is_empty() {
            continue;
        }
        if let Some(row) = settle_moved(txn, *task_id, shifted, now).await? {
            changes.push((row.tenant_id, crate::feed::progress_of(&row)));
        }
    }
    Ok(Applied {
        verdicts,
        changes,
        ends: ends.len(),
        quick_ends,
        waits,
    })
}

/// Retries granted and not started among the batch's other instances of `id`'s task, as
/// the reports so far left them: back in the queue, or placed, after an attempt.
fn granted_in(live: &HashMap<Uuid, Live>, id: Uuid) -> i32 {
    let Some(task_id) = live.get(&id).map(|i| i.task_id) else {
        return 0;
    };
    live.iter()
        .filter(|(k, l)| {
            **k != id
                && l.task_id == task_id
                && l.attempts >= 1
                && matches!(l.state, InstanceState::Queued | InstanceState::Assigned)
        })
        .count() as i32
}

/// Decides one start: the attempt the instance was given, on a slot of this node.
fn start(
    live: &mut HashMap<Uuid, Live>,
    tallies: &mut HashMap<Uuid, TaskTally>,
    node_id: Uuid,
    now: DateTime<Utc>,
    id: Uuid,
    attempt: Option<i32>,
    (starts, waits): (&mut Vec<instance_execution::ActiveModel>, &mut Vec<f64>),
) -> Verdict {
    let Some(i) = live.get_mut(&id).filter(|i| i.on_node) else {
        return Verdict::Refused(409, "instance is no longer assigned to this node".into());
    };
    match i.state {
        // A repeated report of the attempt already running.
        InstanceState::Executing if attempt.is_none_or(|a| a == i.attempts) => {
            return Verdict::Done;
        }
        InstanceState::Assigned if attempt.is_none_or(|a| a == i.attempts + 1) => {}
        other => {
            return Verdict::Refused(
                409,
                format!("instance is {}: it must not run", other.as_str()),
            );
        }
    }
    i.attempts += 1;
    i.state = InstanceState::Executing;
    i.started_at = Some(now);
    if let Some(t) = tallies.get_mut(&i.task_id) {
        t.moved(InstanceState::Assigned, InstanceState::Executing);
        if i.attempts > 1 {
            t.retries_used += 1;
            t.retries_delta += 1;
        } else {
            waits.push(hearth_core::clock::seconds_between(t.row.created_at, now));
        }
    }
    starts.push(instance_execution::ActiveModel {
        // Time-ordered, as every execution id: appended to the index, not scattered.
        id: Set(Uuid::now_v7()),
        tenant_id: Set(i.tenant_id),
        pool_id: Set(i.pool_id),
        node_id: Set(node_id),
        task_id: Set(i.task_id),
        instance_row_id: Set(id),
        instance_id: Set(i.instance_id),
        attempt: Set(i.attempts),
        slot_index: Set(i.slot_index.unwrap_or(0)),
        started_at: Set(now),
        ended_at: Set(None),
        exit_code: Set(None),
        outcome: Set(None),
    });
    Verdict::Done
}

/// Rows per multi-row insert: 13 columns each stays far below SQLite's parameter limit.
const INSERT_CHUNK: usize = 500;

/// The new executions, and the instance rows of those started here and not ended (`ended`
/// lists those ended in the same batch: `write_ends` writes their rows).
async fn write_starts(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    starts: &[instance_execution::ActiveModel],
    ended: &std::collections::HashSet<Uuid>,
) -> ApiResult<()> {
    use sea_orm::sea_query::ExprTrait;
    if starts.is_empty() {
        return Ok(());
    }
    // Each instance starts at most once per batch: a start that ends in a retry leaves the
    // node, and a new attempt needs a new dispatch first.
    let ids: Vec<Uuid> = starts
        .iter()
        .map(|s| *s.instance_row_id.as_ref())
        .filter(|id| !ended.contains(id))
        .collect();
    if !ids.is_empty() {
        instance::Entity::update_many()
            .col_expr(
                instance::Column::State,
                Expr::value(InstanceState::Executing.as_str()),
            )
            .col_expr(instance::Column::StartedAt, Expr::value(now))
            .col_expr(
                instance::Column::EndedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                instance::Column::Attempts,
                Expr::col(instance::Column::Attempts).add(1),
            )
            .filter(instance::Column::Id.is_in(ids))
            .exec(txn)
            .await?;
    }
    for chunk in starts.chunks(INSERT_CHUNK) {
        instance_execution::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The ends: instance rows (those in `started` also take their start, see `write_starts`)
/// and the open executions of the others.
async fn write_ends(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ends: &[End<'_>],
    started: &std::collections::HashSet<Uuid>,
) -> ApiResult<()> {
    use sea_orm::sea_query::ExprTrait;
    // Instances: one update per (outcome, exit code, started in this batch).
    type OutcomeKey = (InstanceState, Option<i32>, bool);
    let mut by_outcome: HashMap<OutcomeKey, Vec<Uuid>> = HashMap::new();
    // Open executions: one update per (label, reported exit code).
    let mut by_label: HashMap<(&'static str, Option<i32>), Vec<Uuid>> = HashMap::new();
    for e in ends {
        let started_here = started.contains(&e.id);
        by_outcome
            .entry((e.outcome, e.exit_code, started_here))
            .or_default()
            .push(e.id);
        if !started_here {
            by_label
                .entry((execution_label(e.outcome), e.reported_exit))
                .or_default()
                .push(e.id);
        }
    }
    for ((outcome, exit_code, started_here), ids) in by_outcome {
        let mut update = instance::Entity::update_many()
            .col_expr(instance::Column::ExitCode, Expr::value(exit_code))
            .col_expr(instance::Column::State, Expr::value(outcome.as_str()));
        if started_here {
            update = update
                .col_expr(instance::Column::StartedAt, Expr::value(now))
                .col_expr(
                    instance::Column::Attempts,
                    Expr::col(instance::Column::Attempts).add(1),
                );
            if outcome == InstanceState::Queued {
                update = update.col_expr(
                    instance::Column::EndedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
            }
        }
        update = if outcome == InstanceState::Queued {
            update
                .col_expr(instance::Column::NodeId, Expr::value(Option::<Uuid>::None))
                .col_expr(
                    instance::Column::SlotIndex,
                    Expr::value(Option::<i32>::None),
                )
        } else {
            update.col_expr(instance::Column::EndedAt, Expr::value(now))
        };
        update
            .filter(instance::Column::Id.is_in(ids))
            .exec(txn)
            .await?;
    }
    for ((label, exit_code), ids) in by_label {
        // Never before it started (an injected clock may stand behind a start).
        let ended = Expr::case(
            Expr::col(instance_execution::Column::StartedAt).gt(now),
            Expr::col(instance_execution::Column::StartedAt),
        )
        .finally(Expr::value(now));
        instance_execution::Entity::update_many()
            .col_expr(instance_execution::Column::EndedAt, ended.into())
            .col_expr(instance_execution::Column::ExitCode, Expr::value(exit_code))
            .col_expr(instance_execution::Column::Outcome, Expr::value(label))
            .filter(instance_execution::Column::InstanceRowId.is_in(ids))
            .filter(instance_execution::Column::EndedAt.is_null())
            .exec(txn)
            .await?;
    }
    write_outputs(txn, ends).await
}

type OutputRow = (Uuid, String, String, i64, i64);

/// The last output of instances that printed since their previous report: read and appended
/// for those instances only (bounded as `/output` is).
async fn write_outputs(txn: &impl ConnectionTrait, ends: &[End<'_>]) -> ApiResult<()> {
    let printed: Vec<&End> = ends
        .iter()
        .filter(|e| !e.stdout.is_empty() || !e.stderr.is_empty())
        .collect();
    if printed.is_empty() {
        return Ok(());
    }
    let mut texts: HashMap<Uuid, (String, String, i64, i64)> = instance::Entity::find()
        .select_only()
        .columns([
            instance::Column::Id,
            instance::Column::Stdout,
            instance::Column::Stderr,
            instance::Column::StdoutDropped,
            instance::Column::StderrDropped,
        ])
        .filter(instance::Column::Id.is_in(printed.iter().map(|e| e.id)))
        .into_tuple::<OutputRow>()
        .all(txn)
        .await?
        .into_iter()
        .map(|(id, out, err, out_cut, err_cut)| (id, (out, err, out_cut, err_cut)))
        .collect();
    for e in printed {
        let Some((out, err, out_cut, err_cut)) = texts.get_mut(&e.id) else {
            continue;
        };
        if !e.stdout.is_empty() {
            let (text, cut) = append_bounded(out, e.stdout, MAX_OUTPUT_BYTES);
            *out = text;
            *out_cut += cut as i64;
        }
        if !e.stderr.is_empty() {
            let (text, cut) = append_bounded(err, e.stderr, MAX_OUTPUT_BYTES);
            *err = text;
            *err_cut += cut as i64;
        }
        instance::Entity::update_many()
            .col_expr(instance::Column::Stdout, Expr::value(out.clone()))
            .col_expr(instance::Column::Stderr, Expr::value(err.clone()))
            .col_expr(instance::Column::StdoutDropped, Expr::value(*out_cut))
            .col_expr(instance::Column::StderrDropped, Expr::value(*err_cut))
            .filter(instance::Column::Id.eq(e.id))
            .exec(txn)
            .await?;
    }
    Ok(())
}
