//! What an evaluation reads (a pool snapshot) and what it writes (a scaling decision).
//! Decisions are stored as JSON and shown to users, so they carry their inputs and a
//! reason in words, not only the action.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::NodeState;

/// The pool as the evaluation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSnapshot {
    pub slots_per_node: u32,
    /// Every node of the pool; the evaluation itself ignores the ones that are leaving.
    pub nodes: Vec<NodeSnapshot>,
    /// Instances waiting for a slot whose dependencies are met.
    pub queued_instances: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSnapshot {
    pub id: Uuid,
    pub state: NodeState,
    /// Slots running an instance (Assigned or Executing).
    pub busy_slots: u32,
    /// When the node last became entirely idle; `None` while busy or not Ready.
    pub idle_since: Option<DateTime<Utc>>,
    /// When the node was requested; orders cancellations of nodes still starting.
    pub created_at: DateTime<Utc>,
}

/// Slots of nodes that are Requested, Booting or Ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotCounts {
    pub total: u32,
    /// Running an instance.
    pub busy: u32,
    /// Ready and free.
    pub idle: u32,
    /// On nodes still Requested or Booting.
    pub booting: u32,
    /// Instances waiting for a slot.
    pub queued: u32,
}

/// A limit that changed the outcome of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Clamp {
    /// Demand was below `minTotalSlots`: wanted raised to it.
    Min { min_total_slots: u32 },
    /// Demand was above `maxTotalSlots`: wanted lowered to it.
    Max { max_total_slots: u32 },
    /// Wanted needed a partial node above `maxTotalSlots`; the pool stops at
    /// `max_nodes` whole nodes.
    MaxRoundedDown {
        max_total_slots: u32,
        slots_per_node: u32,
        max_nodes: u32,
    },
    /// Growth this period was limited to `scalingFactor` of the missing slots.
    RampLimited {
        missing_slots: u32,
        scaling_factor: f64,
        step_slots: u32,
    },
    /// Idle nodes above target that have not been idle for `minIdleTimeSeconds` yet.
    IdleTimeNotElapsed {
        nodes: u32,
        min_idle_time_seconds: u64,
    },
    /// Nodes above target that run work and so stay until it ends.
    BusyNodesKept { nodes: u32 },
    /// Growth stopped at a limit outside the pool: the tenant's quota of running slots or
    /// the launcher's capacity. `granted_nodes` of the `wanted_nodes` were started.
    LimitReached {
        limit: String,
        wanted_nodes: u32,
        granted_nodes: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum ScalingAction {
    Hold,
    /// Request this many new nodes.
    Grow {
        nodes: u32,
    },
    /// Release these nodes: cancel them if still starting, else drain them.
    Shrink {
        nodes: Vec<Uuid>,
    },
}

/// The record of one evaluation of a pool's policies (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingDecision {
    pub at: DateTime<Utc>,
    /// Position of the active policy in the pool's list; `None` when none is enabled.
    pub active_policy_index: Option<usize>,
    pub active_policy_name: Option<String>,
    /// The period that enabled the policy: its name, or a description when it has
    /// none. `None` when the policy has no periods (always enabled) or none is active.
    pub active_period_name: Option<String>,
    pub slots_per_node: u32,
    pub inputs: SlotCounts,
    /// Slots the active policy asks for, after its min/max.
    pub wanted_slots: u32,
    pub clamps: Vec<Clamp>,
    /// Slots the pool holds once this decision's action is carried out.
    pub target_slots: u32,
    pub action: ScalingAction,
    pub reason: String,
}

impl ScalingAction {
    /// The action in one word and a count, as the decision log shows it: `hold`,
    /// `grow 2`, `shrink 1`.
    pub fn word(&self) -> String {
        match self {
            ScalingAction::Hold => "hold".to_owned(),
            ScalingAction::Grow { nodes } => format!("grow {nodes}"),
            ScalingAction::Shrink { nodes } => format!("shrink {}", nodes.len()),
        }
    }
}

/// A decision as recorded in the log, what an evaluation is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDecision {
    pub id: Uuid,
    pub action: String,
    pub target_slots: i32,
    pub wanted_slots: i32,
    pub reason: String,
    pub policy: Option<String>,
    pub period: Option<String>,
}

impl RecordedDecision {
    fn key(&self) -> DecisionKey<'_> {
        DecisionKey {
            action: &self.action,
            target_slots: self.target_slots,
            wanted_slots: self.wanted_slots,
            reason: &self.reason,
            policy: self.policy.as_deref(),
            period: self.period.as_deref(),
        }
    }

    /// Whether `decision` would be recorded as this one again (and so adds no row).
    pub fn same_as(&self, decision: &ScalingDecision) -> bool {
        self.key().same_as(&DecisionKey {
            action: &decision.action.word(),
            target_slots: decision.target_slots as i32,
            wanted_slots: decision.wanted_slots as i32,
            reason: &decision.reason,
            policy: decision.active_policy_name.as_deref(),
            period: decision.active_period_name.as_deref(),
        })
    }
}

/// What makes two decisions the same for the decision log: an evaluation that reaches the
/// same action, target, wanted size and reason under the same policy and period as the
/// latest recorded decision is counted on that one instead of adding a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionKey<'a> {
    pub action: &'a str,
    pub target_slots: i32,
    pub wanted_slots: i32,
    pub reason: &'a str,
    pub policy: Option<&'a str>,
    pub period: Option<&'a str>,
}

impl DecisionKey<'_> {
    pub fn same_as(&self, other: &DecisionKey<'_>) -> bool {
        self == other
    }
}

impl ScalingDecision {
    /// Holds a growth to at most `max_new_nodes` nodes because of a limit outside the pool
    /// (`limit` says which, in words). The decision keeps saying what the policy wanted;
    /// its action, target, clamps and reason say what was granted and why.
    pub fn cap_growth(&mut self, max_new_nodes: u32, limit: &str) {
        let ScalingAction::Grow { nodes } = self.action else {
            return;
        };
        if nodes <= max_new_nodes {
            return;
        }
        let spn = self.slots_per_node.max(1);
        let refused = nodes - max_new_nodes;
        self.target_slots = self.target_slots.saturating_sub(refused * spn);
        self.action = if max_new_nodes == 0 {
            ScalingAction::Hold
        } else {
            ScalingAction::Grow {
                nodes: max_new_nodes,
            }
        };
        self.clamps.push(Clamp::LimitReached {
            limit: limit.to_owned(),
            wanted_nodes: nodes,
            granted_nodes: max_new_nodes,
        });
        self.reason = format!(
            "{}; held at {} of the {nodes} wanted: {limit}",
            self.reason,
            if max_new_nodes == 0 {
                "no new node".to_owned()
            } else {
                format!("{max_new_nodes} new node(s)")
            }
        );
    }

    /// Whole nodes the pool holds once the action is carried out; what the pool state
    /// is derived against.
    pub fn target_nodes(&self) -> u32 {
        self.target_slots / self.slots_per_node.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::{Clamp, DecisionKey, ScalingAction, ScalingDecision, SlotCounts};

    fn growing(nodes: u32, spn: u32) -> ScalingDecision {
        ScalingDecision {
            at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            active_policy_index: Some(0),
            active_policy_name: Some("p".into()),
            active_period_name: None,
            slots_per_node: spn,
            inputs: SlotCounts::default(),
            wanted_slots: (2 + nodes) * spn,
            clamps: vec![],
            target_slots: (2 + nodes) * spn,
            action: ScalingAction::Grow { nodes },
            reason: "growing".into(),
        }
    }

    #[test]
    fn a_growth_under_the_limit_is_untouched() {
        let mut d = growing(3, 4);
        let before = d.clone();
        d.cap_growth(3, "quota");
        assert_eq!(d, before);
    }

    #[test]
    fn a_growth_over_the_limit_is_cut_and_says_why() {
        let mut d = growing(5, 4);
        d.cap_growth(2, "the tenant's quota of 16 running slots");
        assert_eq!(d.action, ScalingAction::Grow { nodes: 2 });
        assert_eq!(d.target_slots, 16, "2 nodes of 4 kept + 2 new of 4");
        assert_eq!(d.wanted_slots, 28, "what the policy wanted stays visible");
        assert!(
            d.reason.contains("the tenant's quota of 16 running slots"),
            "{}",
            d.reason
        );
        assert_eq!(
            d.clamps,
            vec![Clamp::LimitReached {
                limit: "the tenant's quota of 16 running slots".into(),
                wanted_nodes: 5,
                granted_nodes: 2
            }]
        );
    }

    #[test]
    fn no_headroom_turns_the_growth_into_a_hold() {
        let mut d = growing(1, 1);
        d.cap_growth(0, "the launcher's capacity of 64 nodes");
        assert_eq!(d.action, ScalingAction::Hold);
        assert_eq!(d.target_slots, 2);
        assert!(d.reason.contains("no new node"), "{}", d.reason);
    }

    fn key<'a>(action: &'a str, target: i32, reason: &'a str) -> DecisionKey<'a> {
        DecisionKey {
            action,
            target_slots: target,
            wanted_slots: target,
            reason,
            policy: Some("p"),
            period: None,
        }
    }

    #[test]
    fn a_recorded_decision_matches_the_same_evaluation_only() {
        let d = growing(2, 1);
        let recorded = super::RecordedDecision {
            id: uuid::Uuid::nil(),
            action: d.action.word(),
            target_slots: d.target_slots as i32,
            wanted_slots: d.wanted_slots as i32,
            reason: d.reason.clone(),
            policy: d.active_policy_name.clone(),
            period: None,
        };
        assert_eq!(recorded.action, "grow 2");
        assert!(recorded.same_as(&d));
        let mut held = d.clone();
        held.cap_growth(0, "capacity");
        assert!(!recorded.same_as(&held));
    }

    #[test]
    fn an_unchanged_evaluation_coalesces() {
        assert!(key("hold", 4, "at target").same_as(&key("hold", 4, "at target")));
    }

    #[test]
    fn any_change_of_action_target_reason_policy_or_period_is_a_new_decision() {
        let base = key("hold", 4, "at target");
        assert!(!base.same_as(&key("grow 1", 4, "at target")));
        assert!(!base.same_as(&key("hold", 5, "at target")));
        assert!(!base.same_as(&key("hold", 4, "quota")));
        assert!(!base.same_as(&DecisionKey {
            wanted_slots: 8,
            ..base
        }));
        assert!(!base.same_as(&DecisionKey {
            policy: Some("q"),
            ..base
        }));
        assert!(!base.same_as(&DecisionKey {
            period: Some("night"),
            ..base
        }));
    }
}
