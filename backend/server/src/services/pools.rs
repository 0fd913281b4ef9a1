//! Pools: create, read, change, close, delete, list, and evaluate their scaling.

use chrono::{DateTime, Utc};
use hearth_core::model::{InstanceState, NodeState};
use hearth_core::pool_state::{PoolEvent, PoolState, pool_transition};
use hearth_core::scaling::{
    NodeSnapshot, Policy, PoolSnapshot, RecordedDecision, ScalingDecision, active_policy, evaluate,
    validate_elastic_property, validate_policies,
};
use hearth_core::validation::{SlotsPerNodeRefusal, validate_slots_per_node};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use hearth_api::Page;
use hearth_api::pools::{Node, ScalingDecision as DecisionView};

use super::keyset::Cursor;
use super::paging::{Paging, Position, creation_page, newest_first_page, page_of};
use super::{json_of, required_name};
use crate::entities::{instance, node, pool, profile, scaling_decision, task, tenant};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::filter::Filterable;
use crate::wire::pool::{
    ECHOED_KEYS, Elastic, ElasticCore, PolicyCore, PoolBody, PoolFigures, PoolScalingSpec,
    PoolView, ScalingPolicy, ScalingSource, pool_answer,
};
use crate::wire::{constants_from, echoed, tags_from};

pub use super::lookup::{pool as load, pool_state as state_of};

/// The core policies a stored pool follows.
pub fn policies_of(pool: &pool::Model) -> Vec<Policy> {
    crate::wire::pool::stored_policies(pool)
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.to_core(&format!("scaling.policies[{i}]")).ok())
        .collect()
}

/// Moves a pool to `next`, keeping the previous state and both transition times.
pub fn set_state(
    active: &mut pool::ActiveModel,
    current: &pool::Model,
    next: PoolState,
    now: DateTime<Utc>,
) {
    if current.state != next.as_str() {
        active.previous_state = Set(Some(current.state.clone()));
        active.previous_state_transition_time = Set(Some(current.state_transition_time));
        active.state = Set(next.as_str().to_owned());
        active.state_transition_time = Set(now);
    }
}

struct Checked {
    name: String,
    instance_count: u32,
    slots_per_node: u32,
    source: ScalingSource,
    policies: Vec<Policy>,
    elastic: Elastic,
    resize_period: u32,
}

/// Everything a pool body must satisfy, with the field named on refusal.
fn check_body(body: &PoolBody, profile: &profile::Model, entitled: bool) -> ApiResult<Checked> {
    let name = required_name(&body.name, "name")?;
    let instance_count = match body.instance_count.unwrap_or(1) {
        n if (0..=100_000).contains(&n) => n as u32,
        _ => {
            return Err(ApiError::field(
                "instanceCount",
                "must be between 0 and 100000",
            ));
        }
    };
    let slots_per_node = match body
        .multi_slots_settings
        .as_ref()
        .and_then(|m| m.slots_per_node)
    {
        None => 1,
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
        Some(_) => {
            return Err(ApiError::field(
                "multiSlotsSettings.slotsPerNode",
                "must be at least 1",
            ));
        }
    };
    validate_slots_per_node(
        slots_per_node,
        profile.max_slots_per_node.max(1) as u32,
        entitled,
    )
    .map_err(|refusal| match refusal {
        SlotsPerNodeRefusal::Invalid(e) => e.into(),
        other @ SlotsPerNodeRefusal::NotEntitled { .. } => ApiError::Forbidden(other.to_string()),
    })?;
    let spec = body.scaling_spec(instance_count)?;
    if spec.source == ScalingSource::Elastic {
        validate_elastic_property(&spec.elastic, slots_per_node)?;
    } else {
        validate_policies(&spec.policies, slots_per_node)?;
    }
    Ok(Checked {
        name,
        instance_count,
        slots_per_node,
        source: spec.source,
        resize_period: spec.elastic.resize_period_seconds,
        elastic: Elastic::from_core(&spec.elastic),
        policies: spec.policies,
    })
}

fn stored_policies(policies: &[Policy]) -> Value {
    json_of(
        &policies
            .iter()
            .map(ScalingPolicy::from_core)
            .collect::<Vec<_>>(),
    )
}

fn spec_of(body: &PoolBody) -> Value {
    json!({
        "echo": echoed(&body.rest, ECHOED_KEYS),
        "defaultRetrySettings": body.default_retry_settings,
    })
}

/// A PUT's stored extras: what the body gives replaces, what it leaves out is kept (a PUT
/// of new tags keeps the pool's retry settings and echoed Qarnot fields).
fn updated_spec(current: &Value, body: &PoolBody) -> Value {
    let given = spec_of(body);
    let mut echo = current
        .get("echo")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(new) = given.get("echo").and_then(Value::as_object) {
        echo.extend(new.clone());
    }
    let retries = if body.default_retry_settings.is_some() {
        given["defaultRetrySettings"].clone()
    } else {
        current
            .get("defaultRetrySettings")
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({"echo": echo, "defaultRetrySettings": retries})
}

async fn find_profile(
    db: &impl ConnectionTrait,
    name: &Option<String>,
) -> ApiResult<profile::Model> {
    let name = required_name(name, "profile")?;
    profile::Entity::find()
        .filter(profile::Column::Name.eq(&name))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "profile",
                format!("'{name}' is not a known profile (GET /profiles lists them)"),
            )
        })
}

pub async fn create(state: &AppState, tenant_id: Uuid, body: PoolBody) -> ApiResult<pool::Model> {
    let db = &state.db;
    let profile = find_profile(db, &body.profile).await?;
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("tenant no longer exists".into()))?;
    let checked = check_body(&body, &profile, tenant.multi_slot_enabled)?;
    let now = state.clock.now();
    // Counted and inserted in one write transaction: two requests cannot both take the
    // last pool of a quota.
    let txn = state.write().await?;
    state.budgets.check_new_work(tenant_id)?;
    super::quotas::check_new_pool(&txn, tenant_id).await?;
    let row = pool::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        name: Set(checked.name),
        shortname: Set(body.shortname.clone().filter(|s| !s.is_empty())),
        profile_name: Set(profile.name.clone()),
        instance_count: Set(checked.instance_count as i32),
        slots_per_node: Set(checked.slots_per_node as i32),
        state: Set(PoolState::Submitted.as_str().to_owned()),
        previous_state: Set(None),
        state_transition_time: Set(now),
        previous_state_transition_time: Set(None),
        resize_period_seconds: Set(checked.resize_period as i32),
        policies: Set(stored_policies(&checked.policies)),
        elastic: Set(json_of(&checked.elastic)),
        scaling_source: Set(checked.source.as_str().to_owned()),
        constants: Set(json_of(&constants_from(
            body.constants.clone(),
            "constants",
        )?)),
        tags: Set(json_of(&tags_from(body.tags.clone()))),
        labels: Set(json_of(&body.labels.clone().unwrap_or_default())),
        spec: Set(spec_of(&body)),
        next_evaluation_at: Set(Some(now)),
        grown_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        end_date: Set(None),
        target_slots: Set(0),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    state.announce(row.tenant_id, crate::feed::pool_change(&row));
    // Its first evaluation is due now: the resize loop requests its nodes.
    state.evaluate_by(row.id, now);
    Ok(row)
}

/// `PUT /pools/{uuid}`: new name, tags, constants and scaling for a live pool. Running work
/// is untouched: the next evaluation simply follows the new policies.
pub async fn update(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    body: PoolBody,
) -> ApiResult<pool::Model> {
    let db = &state.db;
    let current = load(db, tenant_id, id).await?;
    let pool_state = state_of(&current);
    if !pool_state.accepts_tasks() {
        return Err(ApiError::Conflict(format!(
            "pool is {}: its settings can no longer change",
            pool_state.as_str()
        )));
    }
    let profile = find_profile(db, &Some(current.profile_name.clone())).await?;
    if let Some(asked) = body
        .profile
        .as_deref()
        .filter(|p| *p != current.profile_name)
    {
        return Err(ApiError::field(
            "profile",
            format!(
                "cannot change on a live pool (it is '{}', got '{asked}')",
                current.profile_name
            ),
        ));
    }
    let mut body = body;
    if body.name.is_none() {
        body.name = Some(current.name.clone());
    }
    // A body that says nothing of the pool's size (no instanceCount, scaling or
    // elasticProperty) keeps it: a PUT of new tags must not shrink the pool to the default.
    let keeps_scaling =
        body.instance_count.is_none() && body.scaling.is_none() && body.elastic_property.is_none();
    if body.instance_count.is_none() {
        body.instance_count = Some(i64::from(current.instance_count));
    }
    if body.multi_slots_settings.is_none() {
        body.multi_slots_settings = Some(crate::wire::pool::MultiSlots {
            slots_per_node: Some(i64::from(current.slots_per_node)),
        });
    }
    let tenant = tenant::Entity::find_by_id(tenant_id).one(db).await?;
    let entitled = tenant.is_some_and(|t| t.multi_slot_enabled);
    let checked = check_body(&body, &profile, entitled || current.slots_per_node > 1)?;
    if checked.slots_per_node != current.slots_per_node as u32 {
        return Err(ApiError::field(
            "multiSlotsSettings.slotsPerNode",
            format!(
                "cannot change on a live pool (it is {})",
                current.slots_per_node
            ),
        ));
    }
    let now = state.clock.now();
    let mut active = current.clone().into_active_model();
    active.name = Set(checked.name);
    if let Some(short) = body.shortname.clone().filter(|s| !s.is_empty()) {
        active.shortname = Set(Some(short));
    }
    if !keeps_scaling {
        active.instance_count = Set(checked.instance_count as i32);
        active.resize_period_seconds = Set(checked.resize_period as i32);
        active.policies = Set(stored_policies(&checked.policies));
        active.elastic = Set(json_of(&checked.elastic));
        active.scaling_source = Set(checked.source.as_str().to_owned());
    }
    if body.constants.is_some() {
        active.constants = Set(json_of(&constants_from(
            body.constants.clone(),
            "constants",
        )?));
    }
    if body.tags.is_some() {
        active.tags = Set(json_of(&tags_from(body.tags.clone())));
    }
    if let Some(labels) = &body.labels {
        active.labels = Set(json_of(labels));
    }
    active.spec = Set(updated_spec(&current.spec, &body));
    // A policy change is worth an evaluation now rather than at the end of the period.
    active.next_evaluation_at = Set(Some(now));
    active.updated_at = Set(now);
    let updated = active.update(db).await?;
    state.forget_inherited(Some(updated.id));
    state.announce(updated.tenant_id, crate::feed::pool_change(&updated));
    state.evaluate_by(updated.id, now);
    Ok(updated)
}

/// A live pool's policies replaced by `policies` (the dashboard's policy editor): checked
/// as `PUT /pools/{uuid}` checks them, stored as the pool's `scaling`, and evaluated now.
/// Running work is untouched, as with any policy change.
pub async fn set_policies(
    state: &AppState,
    tenant_id: Uuid,
    id: Uuid,
    policies: Vec<Policy>,
) -> ApiResult<pool::Model> {
    let current = load(&state.db, tenant_id, id).await?;
    let pool_state = state_of(&current);
    if !pool_state.accepts_tasks() {
        return Err(ApiError::Conflict(format!(
            "pool is {}: its settings can no longer change",
            pool_state.as_str()
        )));
    }
    validate_policies(&policies, current.slots_per_node.max(1) as u32)?;
    let now = state.clock.now();
    let mut active = current.into_active_model();
    active.policies = Set(stored_policies(&policies));
    active.scaling_source = Set(ScalingSource::Scaling.as_str().to_owned());
    active.next_evaluation_at = Set(Some(now));
    active.updated_at = Set(now);
    let updated = active.update(&state.db).await?;
    state.forget_inherited(Some(updated.id));
    state.announce(updated.tenant_id, crate::feed::pool_change(&updated));
    state.evaluate_by(updated.id, now);
    Ok(updated)
}

pub async fn figures(db: &impl ConnectionTrait, pool: &pool::Model) -> ApiResult<PoolFigures> {
    let nodes = node::Entity::find()
        .filter(node::Column::PoolId.eq(pool.id))
        .all(db)
        .await?;
    let total_slots: u32 = nodes
        .iter()
        .filter(|n| {
            n.state
                .parse::<NodeState>()
                .is_ok_and(|s| s.counts_toward_capacity())
        })
        .map(|n| n.slots.max(0) as u32)
        .sum();
    let running = instance::Entity::find()
        .filter(instance::Column::PoolId.eq(pool.id))
        .filter(instance::Column::State.is_in([
            InstanceState::Assigned.as_str(),
            InstanceState::Executing.as_str(),
        ]))
        .count(db)
        .await? as u32;
    let queued = instance::Entity::find()
        .filter(instance::Column::PoolId.eq(pool.id))
        .filter(instance::Column::State.eq(InstanceState::Queued.as_str()))
        .count(db)
        .await? as u32;
    let cores = profile::Entity::find()
        .filter(profile::Column::Name.eq(&pool.profile_name))
        .one(db)
        .await?
        .map(|p| p.cores.max(1) as u32)
        .unwrap_or(1);
    Ok(PoolFigures {
        total_slots,
        running_instances: running,
        running_cores: running * cores / (pool.slots_per_node.max(1) as u32).max(1),
        queued_or_running: running + queued,
    })
}

pub fn active_policy_name(pool: &pool::Model, now: DateTime<Utc>) -> Option<String> {
    let policies = policies_of(pool);
    active_policy(&policies, now).and_then(|(_, p, _)| p.name.clone())
}

pub async fn view(
    state: &AppState,
    pool: &pool::Model,
) -> ApiResult<hearth_api::qarnot::pool::Pool> {
    let figures = figures(&state.db, pool).await?;
    Ok(pool_answer(&PoolView {
        pool,
        figures,
        active_policy_name: active_policy_name(pool, state.clock.now()),
    }))
}

/// Live nodes (anything not yet Terminated or Failed).
pub async fn live_nodes(db: &impl ConnectionTrait, pool_id: Uuid) -> ApiResult<Vec<node::Model>> {
    Ok(node::Entity::find()
        .filter(node::Column::PoolId.eq(pool_id))
        .filter(
            node::Column::State
                .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
        )
        .all(db)
        .await?)
}

/// Cancels every unfinished task of a pool (queued instances cancelled at once).
async fn cancel_pool_tasks(
    db: &impl ConnectionTrait,
    pool_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let open = task::Entity::find()
        .filter(task::Column::PoolId.eq(pool_id))
        .all(db)
        .await?;
    for t in open {
        let s = super::tasks::state_of(&t);
        if !s.is_finished() && s != hearth_core::task_state::TaskState::PendingDelete {
            super::tasks::abort_in(db, &t, now).await?;
        }
    }
    Ok(())
}

pub async fn close(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<pool::Model> {
    let now = state.clock.now();
    let closed = crate::db::in_write(&state.writer, |txn| {
        Box::pin(async move {
            let current = load(txn, tenant_id, id).await?;
            let mut next = pool_transition(state_of(&current), &PoolEvent::Close)?;
            cancel_pool_tasks(txn, id, now).await?;
            if live_nodes(txn, id).await?.is_empty() {
                next = pool_transition(next, &PoolEvent::AllNodesTerminated)?;
            }
            let mut active = current.clone().into_active_model();
            set_state(&mut active, &current, next, now);
            if next == PoolState::Closed {
                active.end_date = Set(Some(now));
            }
            active.next_evaluation_at = Set(None);
            active.updated_at = Set(now);
            Ok(active.update(txn).await?)
        })
    })
    .await?;
    state.forget_inherited(Some(closed.id));
    state.announce(closed.tenant_id, crate::feed::pool_change(&closed));
    Ok(closed)
}

/// Deleting hides the pool at once (404 from then on) and cancels its tasks, which stay
/// readable; its nodes are terminated by the engine. The row stays for the tasks and billing.
pub async fn delete(state: &AppState, tenant_id: Uuid, id: Uuid) -> ApiResult<()> {
    let now = state.clock.now();
    crate::db::in_write(&state.writer, |txn| {
        Box::pin(async move {
            let current = load(txn, tenant_id, id).await?;
            let next = pool_transition(state_of(&current), &PoolEvent::Delete)?;
            cancel_pool_tasks(txn, id, now).await?;
            let mut active = current.clone().into_active_model();
            set_state(&mut active, &current, next, now);
            if current.end_date.is_none() {
                active.end_date = Set(Some(now));
            }
            active.next_evaluation_at = Set(None);
            active.updated_at = Set(now);
            Ok(active.update(txn).await?)
        })
    })
    .await
    .map(|deleted| {
        state.forget_inherited(Some(deleted.id));
        state.announce(tenant_id, crate::feed::pool_change(&deleted))
    })
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Uuid) -> ApiResult<Vec<pool::Model>> {
    Ok(listed(tenant_id)
        .order_by_asc(pool::Column::CreatedAt)
        .order_by_asc(pool::Column::Id)
        .all(db)
        .await?)
}

/// The tenant's listed pools (not those being deleted), unordered.
pub fn listed(tenant_id: Uuid) -> sea_orm::Select<pool::Entity> {
    pool::Entity::find()
        .filter(pool::Column::TenantId.eq(tenant_id))
        .filter(pool::Column::State.ne(PoolState::PendingDelete.as_str()))
}

/// A page of the tenant's pools in creation order (see `keyset::page`).
pub async fn keyset_page(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    filter: Option<&crate::wire::filter::Filter>,
    after: Option<super::keyset::Cursor>,
    size: usize,
) -> ApiResult<(Vec<pool::Model>, Option<super::keyset::Cursor>)> {
    let columns = super::keyset::Listed {
        created_at: pool::Column::CreatedAt,
        id: pool::Column::Id,
        tags: pool::Column::Tags,
        name: pool::Column::Name,
        state: pool::Column::State,
    };
    let base = listed(tenant_id);
    super::keyset::creation_page(db, base, columns, filter, after, size).await
}

impl super::keyset::Keyed for pool::Model {
    type Key = super::keyset::Cursor;

    fn key(&self) -> super::keyset::Cursor {
        super::keyset::Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

impl Filterable for pool::Model {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "tags" => serde_json::from_value(self.tags.clone()).unwrap_or_default(),
            "name" => vec![self.name.clone()],
            "state" => vec![self.state.clone()],
            "uuid" => vec![self.id.to_string()],
            "profile" => vec![self.profile_name.clone()],
            "shortname" => vec![self.shortname.clone().unwrap_or_default()],
            _ => return None,
        })
    }
}

/// Rows per `IN (...)` list: keeps SQLite under its bound-parameter limit.
const IN_CHUNK: usize = 500;

/// Above this many pools, `snapshots` reads every live node at once.
const MANY_POOLS: usize = 64;

/// Task states whose queued instances are demand.
const OPEN_TASK_STATES: [&str; 5] = [
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
];

/// The state of many pools as of their nodes, for the scaling evaluation, in a fixed
/// number of queries per 500 pools (live nodes, their busy slots, queued instances from
/// the task counters), whatever the number of instances.
pub async fn snapshots(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    pools: &[&pool::Model],
) -> ApiResult<std::collections::HashMap<Uuid, PoolSnapshot>> {
    // Nodes, busy slots and the queue read as of one instant: a dispatch committing
    // between two of the reads would show an instance neither queued nor on a slot (and
    // the pool would hold where it should grow). SQLite's read transaction sees one
    // snapshot from its first read; PostgreSQL needs repeatable read for that.
    let isolation = (db.get_database_backend() == sea_orm::DbBackend::Postgres)
        .then_some(sea_orm::IsolationLevel::RepeatableRead);
    let txn = db.begin_with_config(isolation, None).await?;
    let out = snapshots_in(&txn, pools).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(out)
}

async fn snapshots_in(
    db: &impl ConnectionTrait,
    pools: &[&pool::Model],
) -> ApiResult<std::collections::HashMap<Uuid, PoolSnapshot>> {
    use sea_orm::QuerySelect;
    use std::collections::HashMap;
    let mut out: HashMap<Uuid, PoolSnapshot> = pools
        .iter()
        .map(|p| {
            (
                p.id,
                PoolSnapshot {
                    slots_per_node: p.slots_per_node.max(1) as u32,
                    queued_instances: 0,
                    nodes: Vec::new(),
                },
            )
        })
        .collect();
    let ids: Vec<Uuid> = pools.iter().map(|p| p.id).collect();
    // Live nodes are few (the launcher's capacity bounds them): for many pools, one query
    // for all of them beats lists of pool ids.
    let live = || {
        node::Entity::find().filter(
            node::Column::State
                .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
        )
    };
    let nodes: Vec<node::Model> = if ids.len() > MANY_POOLS {
        live()
            .all(db)
            .await?
            .into_iter()
            .filter(|n| out.contains_key(&n.pool_id))
            .collect()
    } else {
        live()
            .filter(node::Column::PoolId.is_in(ids.iter().copied()))
            .all(db)
            .await?
    };
    let mut busy: HashMap<Uuid, u32> = HashMap::new();
    let node_ids: Vec<Uuid> = nodes.iter().map(|n| n.id).collect();
    for node_chunk in node_ids.chunks(IN_CHUNK) {
        let counts: Vec<(Option<Uuid>, i64)> = instance::Entity::find()
            .select_only()
            .column(instance::Column::NodeId)
            // Slots, not instances: one may wait behind the one running on its slot.
            .column_as(
                sea_orm::sea_query::ExprTrait::count_distinct(sea_orm::sea_query::Expr::col(
                    instance::Column::SlotIndex,
                )),
                "busy",
            )
            .filter(instance::Column::NodeId.is_in(node_chunk.iter().copied()))
            .filter(instance::Column::State.is_in([
                InstanceState::Assigned.as_str(),
                InstanceState::Executing.as_str(),
            ]))
            .group_by(instance::Column::NodeId)
            .into_tuple()
            .all(db)
            .await?;
        for (n, c) in counts {
            if let Some(n) = n {
                busy.insert(n, c.max(0) as u32);
            }
        }
    }
    for n in nodes {
        if let Some(snap) = out.get_mut(&n.pool_id) {
            snap.nodes.push(NodeSnapshot {
                id: n.id,
                state: n.state.parse().unwrap_or(NodeState::Failed),
                busy_slots: busy.get(&n.id).copied().unwrap_or(0),
                idle_since: n.idle_since,
                created_at: n.created_at,
            });
        }
    }
    for chunk in ids.chunks(IN_CHUNK) {
        let queued: Vec<(Uuid, Option<i64>)> = task::Entity::find()
            .select_only()
            .column(task::Column::PoolId)
            .column_as(task::Column::QueuedCount.sum(), "queued")
            .filter(task::Column::PoolId.is_in(chunk.iter().copied()))
            .filter(task::Column::State.is_in(OPEN_TASK_STATES))
            .filter(task::Column::Waiting.eq(false))
            .group_by(task::Column::PoolId)
            .into_tuple()
            .all(db)
            .await?;
        for (p, q) in queued {
            if let Some(snap) = out.get_mut(&p) {
                snap.queued_instances = q.unwrap_or(0).max(0) as u32;
            }
        }
    }
    Ok(out)
}

/// One pool's state as of its nodes, for the scaling evaluation.
pub async fn snapshot(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    pool: &pool::Model,
) -> ApiResult<PoolSnapshot> {
    Ok(snapshots(db, &[pool])
        .await?
        .remove(&pool.id)
        .expect("a snapshot for every pool asked"))
}

/// A pool's resize period as a duration: at least a second.
pub fn resize_period(seconds: i32) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(seconds.max(1)))
}

/// How an evaluation is recorded.
pub struct Recording<'a> {
    /// Decisions kept per pool.
    pub kept: u64,
    /// Why the evaluation happens now, when not on schedule (said in a growth's reason).
    pub why_now: Option<&'a str>,
    /// The launcher's capacity: growth stops at it.
    pub max_live_nodes: u32,
    /// Set while a spent `StopAndBlockAll` budget stops the tenant: the pool winds down
    /// to zero instead of following its policies, and the decision says why.
    pub stopped_by: Option<String>,
}

/// What the resize loop remembers of a decision row.
pub fn recorded(row: &scaling_decision::Model) -> RecordedDecision {
    RecordedDecision {
        id: row.id,
        action: row.action.clone(),
        target_slots: row.target_slots,
        wanted_slots: row.wanted_slots,
        reason: row.reason.clone(),
        policy: row.active_policy_name.clone(),
        period: row.active_period_name.clone(),
    }
}

/// The latest decision of a pool, from the database.
pub async fn latest_decision(
    db: &impl ConnectionTrait,
    pool_id: Uuid,
) -> ApiResult<Option<scaling_decision::Model>> {
    Ok(scaling_decision::Entity::find()
        .filter(scaling_decision::Column::PoolId.eq(pool_id))
        .order_by_desc(scaling_decision::Column::Seq)
        .order_by_desc(scaling_decision::Column::CreatedAt)
        .one(db)
        .await?)
}

/// Evaluates a pool's policies now and stores the decision. An evaluation that reaches
/// the same decision as the latest one (action, target, wanted, reason, policy, period)
/// adds no row: it counts on the latest (`evaluations`, `last_evaluated_at`). When a new
/// row is written, the pool's decisions beyond the newest `kept` are deleted.
pub async fn evaluate_and_record(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    pool: &pool::Model,
    now: DateTime<Utc>,
    how: &Recording<'_>,
) -> ApiResult<(ScalingDecision, scaling_decision::Model)> {
    use sea_orm::QuerySelect;
    let kept = how.kept;
    let why_now = how.why_now;
    let snapshot = snapshot(db, pool).await?;
    let mut decision = match &how.stopped_by {
        Some(reason) => super::budgets::stopped_decision(&snapshot, now, reason),
        None => evaluate(&policies_of(pool), now, &snapshot),
    };
    if let hearth_core::scaling::ScalingAction::Grow { nodes } = decision.action {
        let (room, limit) = super::quotas::growth_room(
            db,
            pool.tenant_id,
            decision.slots_per_node,
            nodes,
            how.max_live_nodes,
        )
        .await?;
        if let Some(limit) = limit {
            decision.cap_growth(room, &limit);
        }
    }
    // Said only of a growth: a hold asked for by work is the same hold as a scheduled one.
    if let Some(why) = why_now
        && matches!(
            decision.action,
            hearth_core::scaling::ScalingAction::Grow { .. }
        )
    {
        decision.reason = format!("{why}: {}", decision.reason);
    }
    let action = decision.action.word();
    let mut next = pool::Entity::update_many()
        .col_expr(
            pool::Column::NextEvaluationAt,
            Expr::value(now + resize_period(pool.resize_period_seconds)),
        )
        .filter(pool::Column::Id.eq(pool.id));
    if matches!(
        decision.action,
        hearth_core::scaling::ScalingAction::Grow { .. }
    ) {
        next = next.col_expr(pool::Column::GrownAt, Expr::value(now));
    }
    next.exec(db).await?;
    let latest = latest_decision(db, pool.id).await?;
    let seq = latest.as_ref().map_or(1, |l| l.seq + 1);
    if let Some(latest) = latest
        && recorded(&latest).same_as(&decision)
    {
        let mut active = latest.into_active_model();
        active.evaluations = Set(active.evaluations.as_ref() + 1);
        active.last_evaluated_at = Set(Some(now));
        let row = active.update(db).await?;
        return Ok((decision, row));
    }
    let row = scaling_decision::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(pool.tenant_id),
        pool_id: Set(pool.id),
        created_at: Set(now),
        active_policy_name: Set(decision.active_policy_name.clone()),
        active_period_name: Set(decision.active_period_name.clone()),
        wanted_slots: Set(decision.wanted_slots as i32),
        target_slots: Set(decision.target_slots as i32),
        action: Set(action),
        reason: Set(decision.reason.clone()),
        detail: Set(json_of(&decision)),
        evaluations: Set(1),
        seq: Set(seq),
        last_evaluated_at: Set(Some(now)),
    }
    .insert(db)
    .await?;
    // Retention: the oldest kept decision bounds what stays.
    let oldest_kept: Option<i64> = scaling_decision::Entity::find()
        .select_only()
        .column(scaling_decision::Column::Seq)
        .filter(scaling_decision::Column::PoolId.eq(pool.id))
        .order_by_desc(scaling_decision::Column::Seq)
        .order_by_desc(scaling_decision::Column::CreatedAt)
        .offset(kept.saturating_sub(1))
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(oldest_kept) = oldest_kept {
        scaling_decision::Entity::delete_many()
            .filter(scaling_decision::Column::PoolId.eq(pool.id))
            .filter(scaling_decision::Column::Seq.lt(oldest_kept))
            .exec(db)
            .await?;
    }
    Ok((decision, row))
}

pub fn decision_view(row: &scaling_decision::Model) -> DecisionView {
    DecisionView {
        uuid: row.id,
        pool_uuid: row.pool_id,
        creation_date: row.created_at,
        evaluations: row.evaluations,
        last_evaluation_date: row.last_evaluated_at.unwrap_or(row.created_at),
        active_policy_name: row.active_policy_name.clone(),
        active_period_name: row.active_period_name.clone(),
        wanted_slots: row.wanted_slots,
        target_slots: row.target_slots,
        action: row.action.clone(),
        reason: row.reason.clone(),
        inputs: row.detail.get("inputs").cloned().unwrap_or(json!({})),
        clamps: row.detail.get("clamps").cloned().unwrap_or(json!([])),
        decision: row.detail.clone(),
    }
}

/// A page of the pool's scaling decisions, newest first.
pub async fn decisions(
    db: &impl ConnectionTrait,
    pool_id: Uuid,
    paging: &Paging,
) -> ApiResult<(Vec<scaling_decision::Model>, Option<String>)> {
    newest_first_page(
        db,
        scaling_decision::Entity::find().filter(scaling_decision::Column::PoolId.eq(pool_id)),
        scaling_decision::Column::Seq,
        |d| Position {
            at: d.seq,
            id: d.id,
        },
        paging,
    )
    .await
}

pub fn node_view(n: &node::Model, busy: u32) -> Node {
    Node {
        uuid: n.id,
        pool_uuid: n.pool_id,
        state: n.state.clone(),
        slots: n.slots,
        busy_slots: busy,
        creation_date: n.created_at,
        ready_at: n.ready_at,
        last_heartbeat: n.last_heartbeat,
        ended_at: n.ended_at,
    }
}

/// A page of the pool's nodes in creation order, with their busy slots.
pub async fn nodes(
    db: &impl ConnectionTrait,
    pool_id: Uuid,
    paging: &Paging,
) -> ApiResult<Page<Node>> {
    let (nodes, next) = creation_page(
        db,
        node::Entity::find().filter(node::Column::PoolId.eq(pool_id)),
        node::Column::CreatedAt,
        node::Column::Id,
        |n| Cursor {
            created_at: n.created_at,
            id: n.id,
        },
        paging,
    )
    .await?;
    let busy = instance::Entity::find()
        .filter(instance::Column::PoolId.eq(pool_id))
        .filter(instance::Column::NodeId.is_in(nodes.iter().map(|n| n.id)))
        .filter(instance::Column::State.is_in([
            InstanceState::Assigned.as_str(),
            InstanceState::Executing.as_str(),
        ]))
        .all(db)
        .await?;
    Ok(page_of(&nodes, next, |n| {
        // Slots, not instances: one may wait behind the one running on its slot.
        let slots: std::collections::BTreeSet<Option<i32>> = busy
            .iter()
            .filter(|i| i.node_id == Some(n.id))
            .map(|i| i.slot_index)
            .collect();
        node_view(n, slots.len() as u32)
    }))
}
