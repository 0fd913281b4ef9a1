//! Scaling (DESIGN §3): periods say when a policy is enabled, policies say what size
//! the pool should be, and [`evaluate`] turns them and a pool snapshot into a
//! [`ScalingDecision`].

mod decision;
mod evaluate;
mod period;
mod policy;
mod week;

pub use decision::{
    Clamp, DecisionKey, NodeSnapshot, PoolSnapshot, RecordedDecision, ScalingAction,
    ScalingDecision, SlotCounts,
};
pub use evaluate::{active_policy, evaluate};
pub use period::{Period, parse_weekday, weekday_name};
pub use policy::{
    ELASTIC_POLICY_NAME, ElasticProperty, ManagedQueue, Policy, PolicyRule, effective_policies,
    validate_elastic_property, validate_policies,
};
pub use week::{WeekEditRefusal, WeekMinutes, edit_week};
