//! What a node is told to run: an assignment's command, environment and working directory,
//! built from the task row and the constants its pool inherits. Shared by the dispatcher,
//! which hands the assignments it just placed to the node's waiting poll, and by the poll
//! route, which reads a node's assigned instances back from the database.

use std::collections::{BTreeMap, HashMap};

use hearth_api::agent::Assignment;
use uuid::Uuid;

use crate::entities::{pool, task};
use crate::error::ApiResult;
use crate::services::profiles;
use crate::state::{AppState, InheritedConstants};
use crate::wire::KeyValue;

/// An instance placed on a slot, as an assignment needs it.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub id: Uuid,
    pub task_id: Uuid,
    pub instance_id: i32,
    pub slot_index: i32,
    /// Attempts before this one: the assignment carries `attempts + 1`.
    pub attempts: i32,
}

/// Builds the assignments of `placed` (instances of `tasks`) on one node. Instances whose
/// task is not in `tasks` are left out; none when the pool is gone.
pub async fn assignments(
    state: &AppState,
    pool_id: Uuid,
    node_id: Uuid,
    placed: &[Placed],
    tasks: &HashMap<Uuid, task::Model>,
) -> ApiResult<Vec<Assignment>> {
    if placed.is_empty() {
        return Ok(Vec::new());
    }
    let Some(inherited) = inherited_constants(state, pool_id).await? else {
        return Ok(Vec::new());
    };
    let mut environments: HashMap<Uuid, TaskEnvironment> = HashMap::new();
    let mut out = Vec::with_capacity(placed.len());
    for p in placed {
        let Some(t) = tasks.get(&p.task_id) else {
            continue;
        };
        let environment = environments
            .entry(p.task_id)
            .or_insert_with(|| task_environment(&inherited, t));
        out.push(assignment(node_id, t, environment, p));
    }
    Ok(out)
}

/// What a task's instances run with: the constants in force (profile < pool < task) and the
/// command.
struct TaskEnvironment {
    command: String,
    constants: Vec<(String, String)>,
}

fn assignment(
    node_id: Uuid,
    t: &task::Model,
    environment: &TaskEnvironment,
    p: &Placed,
) -> Assignment {
    let mut env: BTreeMap<String, String> = environment.constants.iter().cloned().collect();
    for (k, v) in [
        ("INSTANCE_ID", p.instance_id.to_string()),
        ("TASK_UUID", t.id.to_string()),
        ("POOL_UUID", t.pool_id.to_string()),
        ("INSTANCE_COUNT", t.instance_count.to_string()),
        ("NODE_UUID", node_id.to_string()),
        ("SLOT_INDEX", p.slot_index.to_string()),
    ] {
        env.insert(k.into(), v);
    }
    if let Some(job) = t.job_id {
        env.insert("JOB_UUID".into(), job.to_string());
    }
    Assignment {
        instance_uuid: p.id,
        attempt: u32::try_from(p.attempts + 1).unwrap_or(1),
        task_uuid: Some(t.id),
        instance_id: Some(i64::from(p.instance_id)),
        slot_index: Some(i64::from(p.slot_index)),
        command: environment.command.clone(),
        env,
        workdir: format!("job/{}", t.id),
    }
}

/// Constants every task of a pool inherits: its profile's, overridden by the pool's. `None`
/// when the pool is gone. Kept in memory once read (see `AppState::inherited_of`).
async fn inherited_constants(
    state: &AppState,
    pool_id: Uuid,
) -> ApiResult<Option<InheritedConstants>> {
    use sea_orm::EntityTrait;
    let (known, generation) = state.inherited_of(pool_id);
    if let Some(known) = known {
        return Ok(Some(known));
    }
    let Some(p) = pool::Entity::find_by_id(pool_id).one(&state.db).await? else {
        return Ok(None);
    };
    let mut merged: Vec<(String, String)> = Vec::new();
    if let Ok(profile) = profiles::find(&state.db, &p.profile_name).await {
        let consts: Vec<profiles::ProfileConstant> =
            serde_json::from_value(profile.constants).unwrap_or_default();
        for c in consts {
            set_constant(&mut merged, c.name, c.value);
        }
    }
    let consts: Vec<KeyValue> = serde_json::from_value(p.constants).unwrap_or_default();
    for c in consts {
        set_constant(&mut merged, c.key, c.value.unwrap_or_default());
    }
    let merged = std::sync::Arc::new(merged);
    state.remember_inherited(pool_id, merged.clone(), generation);
    Ok(Some(merged))
}

fn set_constant(merged: &mut Vec<(String, String)>, k: String, v: String) {
    if let Some(slot) = merged.iter_mut().find(|(key, _)| *key == k) {
        slot.1 = v;
    } else {
        merged.push((k, v));
    }
}

fn task_environment(inherited: &[(String, String)], t: &task::Model) -> TaskEnvironment {
    let mut merged = inherited.to_vec();
    let consts: Vec<KeyValue> = serde_json::from_value(t.constants.clone()).unwrap_or_default();
    for c in consts {
        set_constant(&mut merged, c.key, c.value.unwrap_or_default());
    }
    let command = merged
        .iter()
        .find(|(k, v)| k == "DOCKER_CMD" && !v.is_empty())
        .or_else(|| merged.iter().find(|(k, v)| k == "command" && !v.is_empty()))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    TaskEnvironment {
        command,
        constants: merged,
    }
}
