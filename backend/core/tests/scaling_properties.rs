//! Invariants of scaling evaluation over generated pools and policies (DESIGN §3):
//! never above max, never a busy node removed, same input → same decision, and a
//! pool whose launcher keeps up settles within [min, max].

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use hearth_core::model::NodeState;
use hearth_core::scaling::{
    ManagedQueue, NodeSnapshot, Period, Policy, PolicyRule, PoolSnapshot, ScalingAction,
    ScalingDecision, active_policy, evaluate, validate_policies,
};
use proptest::prelude::*;
use uuid::Uuid;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// A queue policy that passes validation for `spn` slots per node.
fn arb_queue(spn: u32) -> impl Strategy<Value = ManagedQueue> {
    (
        0u32..=6,
        0..spn,
        0.0f64..=1.0,
        0u32..=6,
        0u64..=600,
        1u32..=100,
    )
        .prop_map(
            move |(max_nodes, extra, min_share, min_idle, idle_secs, factor_pct)| {
                let max = if max_nodes == 0 {
                    0
                } else {
                    max_nodes * spn + extra
                };
                ManagedQueue {
                    min_total_slots: (min_share * f64::from(max_nodes * spn)) as u32,
                    max_total_slots: max,
                    min_idle_slots: min_idle,
                    min_idle_time_seconds: idle_secs,
                    scaling_factor: f64::from(factor_pct) / 100.0,
                }
            },
        )
}

fn arb_period() -> impl Strategy<Value = Period> {
    prop_oneof![
        Just(Period::Always { name: None }),
        (
            proptest::sample::subsequence(
                vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun
                ],
                1..=7
            ),
            0u32..24,
            0u32..24,
        )
            .prop_map(|(days, start, end)| Period::Weekly {
                name: None,
                days,
                start: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(end, 0, 0).unwrap(),
            }),
        (0i64..14 * 24, 1i64..5 * 24).prop_map(|(from_h, len_h)| Period::DateRange {
            name: None,
            from: base() + Duration::hours(from_h),
            to: base() + Duration::hours(from_h + len_h),
        }),
    ]
}

fn arb_policy(spn: u32) -> impl Strategy<Value = Policy> {
    let rule = prop_oneof![
        (0u32..=20).prop_map(|n| PolicyRule::Fixed { slots_count: n }),
        arb_queue(spn).prop_map(PolicyRule::ManagedTasksQueue),
    ];
    (rule, proptest::collection::vec(arb_period(), 0..=2)).prop_map(|(rule, periods)| Policy {
        name: None,
        rule,
        enabled_periods: periods,
    })
}

const STATES: [NodeState; 6] = [
    NodeState::Requested,
    NodeState::Booting,
    NodeState::Ready,
    NodeState::Draining,
    NodeState::Terminated,
    NodeState::Failed,
];

#[derive(Debug, Clone)]
struct Input {
    policies: Vec<Policy>,
    now: DateTime<Utc>,
    snapshot: PoolSnapshot,
}

fn arb_input() -> impl Strategy<Value = Input> {
    (1u32..=6).prop_flat_map(|spn| {
        let node = (0usize..6, 0..=spn, 0i64..=1000, 0i64..=10_000);
        (
            proptest::collection::vec(arb_policy(spn), 0..=3),
            0i64..14 * 86_400,
            proptest::collection::vec(node, 0..=10),
            0u32..=40,
        )
            .prop_map(move |(policies, now_secs, raw_nodes, queued)| {
                let now = base() + Duration::seconds(now_secs);
                let nodes = raw_nodes
                    .into_iter()
                    .enumerate()
                    .map(|(i, (s, busy, idle_secs, age_secs))| {
                        let state = STATES[s];
                        // Only nodes that run work can have busy slots.
                        let busy = if matches!(state, NodeState::Ready | NodeState::Draining) {
                            busy
                        } else {
                            0
                        };
                        NodeSnapshot {
                            id: Uuid::from_u128(i as u128 + 1),
                            state,
                            busy_slots: busy,
                            idle_since: (state == NodeState::Ready && busy == 0)
                                .then(|| now - Duration::seconds(idle_secs)),
                            created_at: now - Duration::seconds(age_secs),
                        }
                    })
                    .collect();
                Input {
                    policies,
                    now,
                    snapshot: PoolSnapshot {
                        slots_per_node: spn,
                        nodes,
                        queued_instances: queued,
                    },
                }
            })
    })
}

fn counted_nodes(s: &PoolSnapshot) -> u32 {
    s.nodes
        .iter()
        .filter(|n| n.state.counts_toward_capacity())
        .count() as u32
}

fn target_after_action(s: &PoolSnapshot, d: &ScalingDecision) -> u32 {
    let nodes = counted_nodes(s);
    let nodes = match &d.action {
        ScalingAction::Hold => nodes,
        ScalingAction::Grow { nodes: n } => nodes + n,
        ScalingAction::Shrink { nodes: ids } => nodes - ids.len() as u32,
    };
    nodes * s.slots_per_node
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_policies_are_valid(input in arb_input()) {
        prop_assert_eq!(validate_policies(&input.policies, input.snapshot.slots_per_node), Ok(()));
    }

    #[test]
    fn same_input_same_decision_whatever_the_node_order(input in arb_input()) {
        let first = evaluate(&input.policies, input.now, &input.snapshot);
        let again = evaluate(&input.policies, input.now, &input.snapshot);
        prop_assert_eq!(&first, &again);
        let mut reversed = input.snapshot.clone();
        reversed.nodes.reverse();
        prop_assert_eq!(&first, &evaluate(&input.policies, input.now, &reversed));
    }

    #[test]
    fn never_removes_a_busy_or_absent_node(input in arb_input()) {
        let d = evaluate(&input.policies, input.now, &input.snapshot);
        if let ScalingAction::Shrink { nodes } = &d.action {
            prop_assert!(!nodes.is_empty());
            let mut unique = nodes.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), nodes.len(), "a node chosen twice");
            for id in nodes {
                let node = input.snapshot.nodes.iter().find(|n| n.id == *id);
                let node = node.expect("shrink names a node of the pool");
                prop_assert!(node.state.counts_toward_capacity(), "{:?} is already leaving", node);
                prop_assert_eq!(node.busy_slots, 0, "busy node {} chosen", id);
            }
        }
    }

    #[test]
    fn target_matches_the_action(input in arb_input()) {
        let d = evaluate(&input.policies, input.now, &input.snapshot);
        prop_assert_eq!(d.target_slots, target_after_action(&input.snapshot, &d));
        prop_assert_eq!(d.inputs.total, counted_nodes(&input.snapshot) * input.snapshot.slots_per_node);
        prop_assert_eq!(d.inputs.total, d.inputs.busy + d.inputs.idle + d.inputs.booting);
        if let ScalingAction::Grow { nodes } = d.action {
            prop_assert!(nodes > 0);
        }
    }

    #[test]
    fn never_above_max_and_never_below_wanted(input in arb_input()) {
        let spn = input.snapshot.slots_per_node;
        let d = evaluate(&input.policies, input.now, &input.snapshot);
        let before = d.inputs.total;
        let active = active_policy(&input.policies, input.now);
        prop_assert_eq!(d.active_policy_index, active.map(|(i, _, _)| i));
        match active.map(|(_, p, _)| &p.rule) {
            Some(PolicyRule::ManagedTasksQueue(q)) => {
                let max_floor = q.max_total_slots / spn * spn;
                prop_assert!(q.min_total_slots <= d.wanted_slots && d.wanted_slots <= q.max_total_slots);
                prop_assert!(d.target_slots <= before.max(max_floor), "{}", d.reason);
                if matches!(d.action, ScalingAction::Grow { .. }) {
                    prop_assert!(d.target_slots <= max_floor, "grew past max: {}", d.reason);
                }
                if matches!(d.action, ScalingAction::Shrink { .. }) {
                    let floor = (d.wanted_slots.div_ceil(spn) * spn).min(max_floor);
                    prop_assert!(d.target_slots >= floor, "shrank below wanted: {}", d.reason);
                }
            }
            Some(PolicyRule::Fixed { slots_count }) => {
                let whole = slots_count.div_ceil(spn) * spn;
                match d.action {
                    ScalingAction::Grow { .. } => prop_assert_eq!(d.target_slots, whole),
                    ScalingAction::Shrink { .. } => prop_assert!(d.target_slots >= whole),
                    ScalingAction::Hold => {}
                }
            }
            None => {
                prop_assert_eq!(d.wanted_slots, 0);
                prop_assert!(!matches!(d.action, ScalingAction::Grow { .. }), "grew with no policy");
                prop_assert!(d.reason.starts_with("no policy is enabled now"));
                // Drain to zero: only busy nodes may stay.
                let busy_nodes = input.snapshot.nodes.iter()
                    .filter(|n| n.state.counts_toward_capacity() && n.busy_slots > 0)
                    .count() as u32;
                prop_assert_eq!(d.target_slots, busy_nodes * spn);
            }
        }
    }
}

/// A pool whose launcher keeps up: every requested node is Ready by the next
/// evaluation, work neither starts nor ends, and time moves past the idle time.
#[derive(Debug, Clone)]
struct Steady {
    spn: u32,
    queue: ManagedQueue,
    busy_nodes: Vec<u32>,
    idle_nodes: usize,
    queued: u32,
}

fn arb_steady() -> impl Strategy<Value = Steady> {
    (1u32..=4)
        .prop_flat_map(|spn| (Just(spn), arb_queue(spn)))
        .prop_flat_map(|(spn, queue)| {
            let max_nodes = (queue.max_total_slots / spn) as usize;
            (
                Just(spn),
                Just(queue),
                // More busy nodes than max allows could never fit under it.
                proptest::collection::vec(1..=spn, 0..=max_nodes),
                0usize..=8,
                0u32..=20,
            )
        })
        .prop_map(|(spn, queue, busy_nodes, idle_nodes, queued)| Steady {
            spn,
            queue,
            busy_nodes,
            idle_nodes,
            queued,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn a_pool_that_applies_its_decisions_settles_within_min_and_max(s in arb_steady()) {
        let policy = Policy {
            name: None,
            rule: PolicyRule::ManagedTasksQueue(s.queue.clone()),
            enabled_periods: vec![],
        };
        let policies = [policy];
        let mut now = base();
        let mut next_id = 0u128;
        let mut new_node = |busy: u32, now: DateTime<Utc>| {
            next_id += 1;
            NodeSnapshot {
                id: Uuid::from_u128(next_id),
                state: NodeState::Ready,
                busy_slots: busy,
                idle_since: (busy == 0).then_some(now),
                created_at: now,
            }
        };
        let mut nodes: Vec<NodeSnapshot> = s.busy_nodes.iter().map(|b| new_node(*b, now)).collect();
        nodes.extend((0..s.idle_nodes).map(|_| new_node(0, now)));
        let step = Duration::seconds(s.queue.min_idle_time_seconds as i64 + 1);

        let mut last = None;
        for _ in 0..30 {
            let snapshot = PoolSnapshot { slots_per_node: s.spn, nodes: nodes.clone(), queued_instances: s.queued };
            let d = evaluate(&policies, now, &snapshot);
            match &d.action {
                ScalingAction::Hold => {}
                ScalingAction::Grow { nodes: n } => nodes.extend((0..*n).map(|_| new_node(0, now))),
                ScalingAction::Shrink { nodes: ids } => nodes.retain(|n| !ids.contains(&n.id)),
            }
            now += step;
            last = Some(d);
        }
        let d = last.unwrap();
        let total = nodes.len() as u32 * s.spn;
        let max_floor = s.queue.max_total_slots / s.spn * s.spn;
        prop_assert!(s.queue.min_total_slots <= total, "below min: {}", d.reason);
        prop_assert!(total <= max_floor, "above max: {}", d.reason);
        prop_assert!(total >= d.wanted_slots.min(max_floor), "below wanted: {}", d.reason);
        prop_assert_eq!(d.action, ScalingAction::Hold, "not settled: {}", d.reason);
        prop_assert_eq!(d.target_slots, total);
    }
}
