//! The jobs pages' reads: the newest jobs with their task counts, and a job's tasks with
//! what each waits for. Bounded reads, through the same lookups and rules as `/jobs`.

use std::collections::HashMap;

use hearth_ui::model::{JobList, JobPage, JobRow, JobTask, Tally};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Caller;
use crate::entities::{job, task};
use crate::error::ApiResult;
use crate::services::jobs;
use crate::state::AppState;

fn at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub async fn list(state: &AppState, tenant: Uuid) -> ApiResult<JobList> {
    let db = &state.db;
    let mut rows = job::Entity::find()
        .filter(job::Column::TenantId.eq(tenant))
        .order_by_desc(job::Column::CreatedAt)
        .order_by_desc(job::Column::Id)
        .limit(JobList::ROWS as u64 + 1)
        .all(db)
        .await?;
    let more = rows.len() > JobList::ROWS;
    rows.truncate(JobList::ROWS);
    let ids: Vec<Uuid> = rows.iter().map(|j| j.id).collect();
    let counts: HashMap<Uuid, i64> = if ids.is_empty() {
        HashMap::new()
    } else {
        task::Entity::find()
            .select_only()
            .column(task::Column::JobId)
            .column_as(task::Column::Id.count(), "n")
            .filter(task::Column::JobId.is_in(ids))
            .filter(task::Column::State.ne("PendingDelete"))
            .group_by(task::Column::JobId)
            .into_tuple::<(Option<Uuid>, i64)>()
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(j, n)| j.map(|j| (j, n)))
            .collect()
    };
    let pools = super::pool_names(db, rows.iter().filter_map(|j| j.pool_id).collect()).await?;
    Ok(JobList {
        rows: rows
            .into_iter()
            .map(|j| JobRow {
                id: j.id.to_string(),
                tasks: counts.get(&j.id).copied().unwrap_or(0).max(0) as u32,
                pool_id: j.pool_id.map(|p| p.to_string()),
                pool_name: j.pool_id.and_then(|p| pools.get(&p).cloned()),
                created: at(j.created_at),
                name: j.name,
                state: j.state,
            })
            .collect(),
        more,
    })
}

/// The tasks a task waits for, from its stored `dependencies`.
fn depends_on(dependencies: &Value) -> Vec<Uuid> {
    let simple = dependencies
        .get("dependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let advanced = dependencies
        .get("advancedDependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("taskUuid").and_then(Value::as_str));
    simple
        .chain(advanced)
        .filter_map(|t| Uuid::parse_str(t).ok())
        .collect()
}

pub async fn page(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<JobPage> {
    let tenant = caller.tenant()?;
    let db = &state.db;
    let j = jobs::load(db, tenant, id).await?;
    let mut tasks = task::Entity::find()
        .filter(task::Column::JobId.eq(j.id))
        .filter(task::Column::State.ne("PendingDelete"))
        .order_by_asc(task::Column::Seq)
        .limit(JobPage::TASKS as u64 + 1)
        .all(db)
        .await?;
    let more_tasks = tasks.len() > JobPage::TASKS;
    tasks.truncate(JobPage::TASKS);
    let names: HashMap<Uuid, String> = tasks.iter().map(|t| (t.id, t.name.clone())).collect();
    let mut total = Tally::default();
    let lines = tasks
        .iter()
        .map(|t| {
            let tally = super::tally(t);
            total.total += tally.total;
            total.queued += tally.queued;
            total.running += tally.running;
            total.succeeded += tally.succeeded;
            total.failed += tally.failed;
            total.cancelled += tally.cancelled;
            JobTask {
                id: t.id.to_string(),
                name: t.name.clone(),
                state: t.state.clone(),
                tally,
                depends_on: depends_on(&t.dependencies)
                    .into_iter()
                    .map(|d| (d.to_string(), names.get(&d).cloned().unwrap_or_default()))
                    .collect(),
            }
        })
        .collect();
    let pool_name = match j.pool_id {
        Some(p) => super::pool_names(db, vec![p]).await?.remove(&p),
        None => None,
    };
    Ok(JobPage {
        id: j.id.to_string(),
        name: j.name.clone(),
        terminable: j.state == jobs::ACTIVE,
        state: j.state.clone(),
        pool_id: j.pool_id.map(|p| p.to_string()),
        pool_name,
        use_dependencies: j.use_dependencies,
        created: at(j.created_at),
        can_write: caller.writer().is_ok(),
        tally: total,
        tasks: lines,
        more_tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dependencies_are_read_from_both_forms() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let deps = json!({"dependsOn": [a.to_string()], "advancedDependsOn": [{"taskUuid": b.to_string()}]});
        assert_eq!(depends_on(&deps), vec![a, b]);
        assert!(depends_on(&json!({"dependsOn": []})).is_empty());
        assert!(depends_on(&json!(null)).is_empty());
    }
}
