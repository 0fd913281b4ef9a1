//! One evaluation of a pool's scaling policies: a pure function of (policies, now,
//! snapshot) to a decision (DESIGN §3).
//!
//! Choices where the design is silent, all in the product's favour of "never lose
//! work, never overshoot the bill":
//! - Nodes come whole. A target in slots is rounded up to whole nodes, except that a
//!   `maxTotalSlots` ceiling is rounded down; the ceiling wins over everything.
//! - `Fixed` (and "no policy", which is `Fixed` at 0) resizes at once in both
//!   directions: no ramp, no idle-time wait. Only `ManagedTasksQueue` ramps growth
//!   by its factor and releases a Ready node only after `minIdleTimeSeconds` idle.
//! - Shrinking first cancels nodes still Requested (then Booting), newest first: they
//!   hold no work and are not billed yet. Then idle Ready nodes, longest-idle first.
//!   A node with a busy slot is never chosen.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::decision::{
    Clamp, NodeSnapshot, PoolSnapshot, ScalingAction, ScalingDecision, SlotCounts,
};
use super::period::Period;
use super::policy::{ManagedQueue, Policy, PolicyRule};
use crate::model::NodeState;

/// The first policy enabled at `now`, with the period that enabled it (`None` for a
/// policy without periods).
pub fn active_policy(
    policies: &[Policy],
    now: DateTime<Utc>,
) -> Option<(usize, &Policy, Option<&Period>)> {
    policies.iter().enumerate().find_map(|(i, policy)| {
        if policy.enabled_periods.is_empty() {
            return Some((i, policy, None));
        }
        let period = policy.enabled_periods.iter().find(|p| p.contains(now))?;
        Some((i, policy, Some(period)))
    })
}

pub fn evaluate(
    policies: &[Policy],
    now: DateTime<Utc>,
    snapshot: &PoolSnapshot,
) -> ScalingDecision {
    let spn = snapshot.slots_per_node.max(1);
    let counted: Vec<&NodeSnapshot> = snapshot
        .nodes
        .iter()
        .filter(|n| n.state.counts_toward_capacity())
        .collect();
    let inputs = count_slots(&counted, spn, snapshot.queued_instances);
    let current_nodes = counted.len() as u32;

    let active = active_policy(policies, now);
    let mut clamps = Vec::new();
    let plan = match active.map(|(_, p, _)| &p.rule) {
        None => Plan::immediate(
            0,
            spn,
            "target 0: the pool drains to zero, busy slots untouched".into(),
        ),
        Some(PolicyRule::Fixed { slots_count }) => {
            let why = if slots_count % spn == 0 {
                format!("slotsCount {slots_count} wanted")
            } else {
                format!(
                    "slotsCount {slots_count} wanted, rounded up to {} of {spn} slots",
                    plural(slots_count.div_ceil(spn), "node")
                )
            };
            Plan::immediate(*slots_count, spn, why)
        }
        Some(PolicyRule::ManagedTasksQueue(q)) => Plan::managed(q, &inputs, spn, &mut clamps),
    };

    let mut removed = 0;
    let (action, what) = if plan.desired_nodes > current_nodes {
        let (nodes, what) = grow(&plan, &inputs, current_nodes, spn, &mut clamps);
        (ScalingAction::Grow { nodes }, what)
    } else if plan.desired_nodes < current_nodes {
        let excess = current_nodes - plan.desired_nodes;
        let (chosen, what) = shrink(&plan, &counted, excess, now, &mut clamps);
        removed = chosen.len() as u32;
        if chosen.is_empty() {
            (ScalingAction::Hold, what)
        } else {
            (ScalingAction::Shrink { nodes: chosen }, what)
        }
    } else {
        (
            ScalingAction::Hold,
            format!("holding at {}", plural(current_nodes, "node")),
        )
    };
    let added = match action {
        ScalingAction::Grow { nodes } => nodes,
        _ => 0,
    };
    let target_slots = (current_nodes + added - removed).saturating_mul(spn);

    let who = match active {
        None => "no policy is enabled now".to_owned(),
        Some((i, policy, period)) => format!(
            "policy {} ({}, {})",
            policy.label(i),
            policy.rule.kind(),
            match period {
                None => "always enabled".to_owned(),
                Some(p) => format!("period {}", p.label()),
            }
        ),
    };
    let pool = format!(
        "the pool has {} slots ({} busy, {} idle, {} booting) on {} of {}",
        inputs.total,
        inputs.busy,
        inputs.idle,
        inputs.booting,
        plural(current_nodes, "node"),
        plural(spn, "slot"),
    );
    ScalingDecision {
        at: now,
        active_policy_index: active.map(|(i, _, _)| i),
        active_policy_name: active.and_then(|(_, p, _)| p.name.clone()),
        active_period_name: active
            .and_then(|(_, _, period)| period)
            .map(|p| p.name().map_or_else(|| p.label(), str::to_owned)),
        slots_per_node: spn,
        inputs,
        wanted_slots: plan.wanted_slots,
        clamps,
        target_slots,
        action,
        reason: format!("{who}: {}; {pool}; {what}", plan.why),
    }
}

/// What the active policy asks for and how fast the pool may get there.
struct Plan {
    wanted_slots: u32,
    desired_nodes: u32,
    /// Share of the missing slots added per evaluation; `None`: all at once.
    ramp: Option<f64>,
    /// How long a Ready node must have been idle to be released; `None`: at once.
    min_idle: Option<(Duration, u64)>,
    why: String,
}

impl Plan {
    fn immediate(wanted_slots: u32, spn: u32, why: String) -> Self {
        Plan {
            wanted_slots,
            desired_nodes: wanted_slots.div_ceil(spn),
            ramp: None,
            min_idle: None,
            why,
        }
    }

    fn managed(q: &ManagedQueue, inputs: &SlotCounts, spn: u32, clamps: &mut Vec<Clamp>) -> Self {
        let demand = inputs
            .busy
            .saturating_add(inputs.queued)
            .saturating_add(q.min_idle_slots);
        let mut why = format!(
            "{} busy + {} queued + {} min idle = {demand} wanted",
            inputs.busy, inputs.queued, q.min_idle_slots
        );
        let mut wanted = demand;
        if wanted < q.min_total_slots {
            wanted = q.min_total_slots;
            clamps.push(Clamp::Min {
                min_total_slots: q.min_total_slots,
            });
            why += &format!(", raised to minTotalSlots {wanted}");
        }
        // Checked after the floor so that an unvalidated min > max still never
        // overshoots the ceiling.
        if wanted > q.max_total_slots {
            wanted = q.max_total_slots;
            clamps.push(Clamp::Max {
                max_total_slots: q.max_total_slots,
            });
            why += &format!(", lowered to maxTotalSlots {wanted}");
        }
        let max_nodes = q.max_total_slots / spn;
        let mut desired_nodes = wanted.div_ceil(spn);
        if desired_nodes > max_nodes {
            desired_nodes = max_nodes;
            clamps.push(Clamp::MaxRoundedDown {
                max_total_slots: q.max_total_slots,
                slots_per_node: spn,
                max_nodes,
            });
            why += &format!(
                ", capped at {} ({} slots) by maxTotalSlots {}",
                plural(max_nodes, "whole node"),
                max_nodes * spn,
                q.max_total_slots
            );
        }
        // A factor outside (0, 1] is refused at validation; here it falls back to
        // "all at once" rather than stalling or overshooting.
        let factor = if q.scaling_factor.is_finite() && q.scaling_factor > 0.0 {
            q.scaling_factor.min(1.0)
        } else {
            1.0
        };
        // chrono cannot hold more than i64::MAX milliseconds; longer is "never" anyway.
        let idle_secs = q.min_idle_time_seconds.min(i64::MAX as u64 / 1000) as i64;
        Plan {
            wanted_slots: wanted,
            desired_nodes,
            ramp: Some(factor),
            min_idle: Some((Duration::seconds(idle_secs), q.min_idle_time_seconds)),
            why,
        }
    }
}

fn count_slots(counted: &[&NodeSnapshot], spn: u32, queued: u32) -> SlotCounts {
    let mut c = SlotCounts {
        queued,
        ..Default::default()
    };
    for node in counted {
        c.total += spn;
        if node.state == NodeState::Ready {
            let busy = node.busy_slots.min(spn);
            c.busy += busy;
            c.idle += spn - busy;
        } else {
            c.booting += spn;
        }
    }
    c
}

fn grow(
    plan: &Plan,
    inputs: &SlotCounts,
    current_nodes: u32,
    spn: u32,
    clamps: &mut Vec<Clamp>,
) -> (u32, String) {
    let room = plan.desired_nodes - current_nodes;
    let Some(factor) = plan.ramp else {
        return (room, format!("growing by {}", plural(room, "node")));
    };
    let missing = plan.wanted_slots.saturating_sub(inputs.total).max(1);
    // The small epsilon keeps float error (0.1 × 30 = 3.0000000000000004) from
    // asking for one slot more than the factor means.
    let step_slots = ((factor * f64::from(missing) - 1e-6).ceil().max(1.0)) as u32;
    let step_nodes = step_slots.div_ceil(spn).min(room);
    let mut what = format!(
        "growing by {} (ramp {factor} of {} = {})",
        plural(step_nodes, "node"),
        plural(missing, "missing slot"),
        plural(step_slots, "slot"),
    );
    if step_nodes < room {
        clamps.push(Clamp::RampLimited {
            missing_slots: missing,
            scaling_factor: factor,
            step_slots,
        });
    }
    if step_nodes * spn > step_slots {
        what += ", rounded up to whole nodes";
    }
    (step_nodes, what)
}

fn shrink(
    plan: &Plan,
    counted: &[&NodeSnapshot],
    excess: u32,
    now: DateTime<Utc>,
    clamps: &mut Vec<Clamp>,
) -> (Vec<Uuid>, String) {
    let idle_long_enough = |n: &NodeSnapshot| match plan.min_idle {
        None => true,
        Some((min_idle, _)) => match n.idle_since {
            Some(since) => now.signed_duration_since(since) >= min_idle,
            // Idle but with no start recorded: only a zero wait can be proven over.
            None => min_idle.is_zero(),
        },
    };

    let mut starting: Vec<&NodeSnapshot> = counted
        .iter()
        .copied()
        .filter(|n| n.state.is_starting() && n.busy_slots == 0)
        .collect();
    starting.sort_by(|a, b| {
        let rank = |n: &NodeSnapshot| (n.state == NodeState::Booting) as u8;
        rank(a)
            .cmp(&rank(b))
            .then(b.created_at.cmp(&a.created_at))
            .then(a.id.cmp(&b.id))
    });

    let idle_ready = || {
        counted
            .iter()
            .copied()
            .filter(|n| n.state == NodeState::Ready && n.busy_slots == 0)
    };
    let mut releasable: Vec<&NodeSnapshot> = idle_ready().filter(|n| idle_long_enough(n)).collect();
    // Longest idle first; an unknown idle start counts as the most recent.
    releasable.sort_by(|a, b| {
        let since = |n: &NodeSnapshot| (n.idle_since.is_none(), n.idle_since);
        since(a)
            .cmp(&since(b))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });

    let excess = excess as usize;
    let cancelled = starting.len().min(excess);
    let released = releasable.len().min(excess - cancelled);
    let chosen: Vec<Uuid> = starting[..cancelled]
        .iter()
        .chain(&releasable[..released])
        .map(|n| n.id)
        .collect();

    let mut parts = Vec::new();
    if cancelled > 0 {
        parts.push(format!(
            "{} not yet ready cancelled",
            plural(cancelled as u32, "node")
        ));
    }
    if released > 0 {
        parts.push(format!(
            "{} released, longest idle first",
            plural(released as u32, "idle node")
        ));
    }
    let mut what = if chosen.is_empty() {
        "holding".to_owned()
    } else {
        format!(
            "shrinking by {}: {}",
            plural(chosen.len() as u32, "node"),
            parts.join(", ")
        )
    };

    if chosen.len() < excess {
        let waiting = idle_ready().count() - releasable.len();
        if let (true, Some((_, seconds))) = (waiting > 0, plan.min_idle) {
            clamps.push(Clamp::IdleTimeNotElapsed {
                nodes: waiting as u32,
                min_idle_time_seconds: seconds,
            });
            what += &format!(
                "; {} not idle for {seconds} s yet",
                plural(waiting as u32, "idle node")
            );
        }
        let busy = counted.iter().filter(|n| n.busy_slots > 0).count() as u32;
        if busy > 0 {
            clamps.push(Clamp::BusyNodesKept { nodes: busy });
            let whose = if busy == 1 { "its" } else { "their" };
            what += &format!(
                "; {} kept until {whose} work ends",
                plural(busy, "busy node")
            );
        }
    }
    (chosen, what)
}

fn plural(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
