//! The pools page's reads and its "New pool" form, through the same services as the API.

use std::collections::HashMap;

use chrono::Duration;
use hearth_ui::model::{NewPool, PoolFilter, PoolList, PoolRow, ProfileChoice};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Caller;
use crate::entities::{profile, tenant};
use crate::error::{ApiError, ApiResult};
use crate::services::billing::{self, GroupBy, Scope, UsageRequest};
use crate::services::pools;
use crate::state::AppState;

/// Pools a page lists at most (the API pages through all).
pub const ROWS: usize = 500;

fn keeps(filter: &PoolFilter, pool: &crate::entities::pool::Model) -> ApiResult<bool> {
    let state = pools::state_of(pool);
    let by_state = match filter.state.trim() {
        "" => true,
        "live" => state.accepts_tasks(),
        "ended" => matches!(pool.state.as_str(), "Closed" | "Failure"),
        name if super::POOL_STATES.contains(&name) => pool.state == name,
        other => {
            return Err(ApiError::field(
                "state",
                format!(
                    "must be live, ended or a pool state ({}), got '{other}'",
                    super::POOL_STATES.join(", ")
                ),
            ));
        }
    };
    let tag = filter.tag.trim();
    Ok(by_state && (tag.is_empty() || tags_of(pool).iter().any(|t| t == tag)))
}

fn tags_of(pool: &crate::entities::pool::Model) -> Vec<String> {
    serde_json::from_value(pool.tags.clone()).unwrap_or_default()
}

/// What each pool cost since midnight UTC (open intervals up to now).
async fn costs_today(state: &AppState, tenant: Uuid) -> ApiResult<HashMap<Uuid, String>> {
    let now = state.clock.now();
    let from = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let report = billing::usage(
        &state.db,
        &UsageRequest {
            scope: Scope::Tenant(tenant),
            from,
            to: from + Duration::days(1),
            group_by: GroupBy::Pool,
            now,
            currency: state.settings.currency.clone(),
        },
    )
    .await?;
    Ok(report
        .items
        .into_iter()
        .filter_map(|l| l.pool_uuid.map(|p| (p, l.figures.cost)))
        .collect())
}

pub async fn list(state: &AppState, caller: &Caller, filter: &PoolFilter) -> ApiResult<PoolList> {
    let tenant = caller.tenant()?;
    let db = &state.db;
    let now = state.clock.now();
    let billed = caller.role.can_read_billing();
    let costs = if billed {
        costs_today(state, tenant).await?
    } else {
        HashMap::new()
    };
    let mut rows = Vec::new();
    for pool in pools::list(db, tenant).await? {
        if !keeps(filter, &pool)? {
            continue;
        }
        if rows.len() == ROWS {
            break;
        }
        let figures = pools::figures(db, &pool).await?;
        rows.push(PoolRow {
            id: pool.id.to_string(),
            tags: tags_of(&pool),
            active_policy: pools::active_policy_name(&pool, now),
            cost_today: billed.then(|| costs.get(&pool.id).cloned().unwrap_or_else(|| "0".into())),
            slots_busy: figures.running_instances.min(figures.total_slots),
            slots_total: figures.total_slots,
            queued_instances: figures
                .queued_or_running
                .saturating_sub(figures.running_instances),
            name: pool.name,
            profile: pool.profile_name,
            state: pool.state,
        });
    }
    let multi_slot = tenant::Entity::find_by_id(tenant)
        .one(db)
        .await?
        .is_some_and(|t| t.multi_slot_enabled);
    let profiles = profile::Entity::find()
        .order_by_asc(profile::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|p| ProfileChoice {
            name: p.name,
            max_slots_per_node: p.max_slots_per_node.max(1) as u32,
            multi_slot: multi_slot && p.max_slots_per_node > 1,
        })
        .collect();
    Ok(PoolList {
        rows,
        can_write: caller.writer().is_ok(),
        profiles,
        currency: state.settings.currency.clone(),
    })
}

/// The form as the API's `POST /pools` body: one policy, fixed or following the queue.
fn body_of(form: &NewPool) -> ApiResult<serde_json::Value> {
    let (policy, instance_count) = match form.scaling.as_str() {
        "" | "fixed" => (
            json!({"type": "Fixed", "name": "fixed", "slotsCount": form.slots}),
            form.slots,
        ),
        "queue" => (
            json!({
                "type": "ManagedTasksQueue",
                "name": "queue",
                "minTotalSlots": form.min_slots,
                "maxTotalSlots": form.max_slots,
                "minIdleSlots": form.min_idle,
                "minIdleTimeSeconds": form.idle_seconds,
                "scalingFactor": form.factor,
            }),
            form.min_slots,
        ),
        other => {
            return Err(ApiError::field(
                "scaling",
                format!("must be fixed or queue, got '{other}'"),
            ));
        }
    };
    let tags: Vec<&str> = form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    Ok(json!({
        "name": form.name.trim(),
        "profile": form.profile,
        "instanceCount": instance_count,
        "multiSlotsSettings": {"slotsPerNode": form.slots_per_node.max(1)},
        "tags": tags,
        "constants": [],
        "scaling": {"policies": [policy]},
    }))
}

pub async fn create(state: &AppState, caller: &Caller, form: &NewPool) -> ApiResult<String> {
    let tenant = caller.writer()?;
    let body = serde_json::from_value(body_of(form)?)
        .map_err(|e| ApiError::Validation(format!("the pool's form does not read: {e}")))?;
    let made = pools::create(state, tenant, body).await?;
    Ok(made.id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_one_policy() {
        let mut form = NewPool {
            name: " render ".into(),
            profile: "docker-batch".into(),
            slots_per_node: 4,
            scaling: "queue".into(),
            min_slots: 2,
            max_slots: 16,
            min_idle: 1,
            idle_seconds: 60,
            factor: 0.5,
            tags: "a, b,,".into(),
            ..NewPool::default()
        };
        let body = body_of(&form).unwrap();
        assert_eq!(body["name"], "render");
        assert_eq!(body["instanceCount"], 2);
        assert_eq!(body["tags"], json!(["a", "b"]));
        assert_eq!(body["scaling"]["policies"][0]["maxTotalSlots"], 16);
        form.scaling = "fixed".into();
        form.slots = 3;
        assert_eq!(
            body_of(&form).unwrap()["scaling"]["policies"][0]["slotsCount"],
            3
        );
        form.scaling = "magic".into();
        assert!(body_of(&form).is_err());
    }
}
