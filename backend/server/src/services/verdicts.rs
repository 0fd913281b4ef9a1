//! What a tenant's budgets say now (see `services::budgets`): held in memory, read by the
//! checks on new work and by the resize loop, written by the budget loop.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use hearth_core::scaling::{PoolSnapshot, ScalingAction, ScalingDecision, evaluate};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

// ---------------------------------------------------------------------------------------
// The verdicts: what the checks on new work read
// ---------------------------------------------------------------------------------------

/// What a tenant's budgets say now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Why new pools and tasks are refused (a spent `BlockNew` or `StopAndBlockAll`).
    pub block: Option<String>,
    /// Why the tenant's pools wind down to zero (a spent `StopAndBlockAll`), as their
    /// scaling decisions say it.
    pub stop: Option<String>,
}

/// Every tenant's verdict (tenants without a budget have none).
#[derive(Default)]
pub struct Verdicts {
    tenants: RwLock<HashMap<Uuid, Verdict>>,
}

impl Verdicts {
    /// Refuses new work of a tenant with a spent blocking budget: 402.
    pub fn check_new_work(&self, tenant: Uuid) -> ApiResult<()> {
        let tenants = self.tenants.read().expect("budget verdicts");
        match tenants.get(&tenant).and_then(|v| v.block.as_ref()) {
            Some(why) => Err(ApiError::PaymentRequired(why.clone())),
            None => Ok(()),
        }
    }

    /// Why the tenant's pools are wound down, if they are.
    pub fn stop_reason(&self, tenant: Uuid) -> Option<String> {
        let tenants = self.tenants.read().expect("budget verdicts");
        tenants.get(&tenant).and_then(|v| v.stop.clone())
    }

    /// Keeps a tenant's verdict; answers whether its stop changed.
    pub(super) fn set(&self, tenant: Uuid, verdict: Verdict) -> bool {
        let mut tenants = self.tenants.write().expect("budget verdicts");
        let before = tenants.get(&tenant).and_then(|v| v.stop.clone());
        let changed = before != verdict.stop;
        if verdict == Verdict::default() {
            tenants.remove(&tenant);
        } else {
            tenants.insert(tenant, verdict);
        }
        changed
    }

    pub(super) fn tenants(&self) -> Vec<Uuid> {
        let tenants = self.tenants.read().expect("budget verdicts");
        tenants.keys().copied().collect()
    }

    /// A pool's scaling decision: its policies', or a wind-down to zero while a spent
    /// `StopAndBlockAll` budget stops the tenant.
    pub fn decide(
        &self,
        tenant: Uuid,
        policies: &[hearth_core::scaling::Policy],
        now: DateTime<Utc>,
        snapshot: &PoolSnapshot,
    ) -> ScalingDecision {
        match self.stop_reason(tenant) {
            Some(reason) => stopped_decision(snapshot, now, &reason),
            None => evaluate(policies, now, snapshot),
        }
    }
}

/// The decision of a pool whose tenant is stopped by a budget: every node it counts on is
/// released (starting and idle ones end, busy ones drain: their instances finish, nothing
/// new starts on them), the target is zero, queued instances stay queued.
pub fn stopped_decision(
    snapshot: &PoolSnapshot,
    now: DateTime<Utc>,
    reason: &str,
) -> ScalingDecision {
    let mut decision = evaluate(&[], now, snapshot);
    let leaving: Vec<Uuid> = snapshot
        .nodes
        .iter()
        .filter(|n| n.state.counts_toward_capacity())
        .map(|n| n.id)
        .collect();
    decision.action = if leaving.is_empty() {
        ScalingAction::Hold
    } else {
        ScalingAction::Shrink { nodes: leaving }
    };
    decision.wanted_slots = 0;
    decision.target_slots = 0;
    decision.reason = reason.to_owned();
    decision
}
