//! Table-driven tests of one scaling evaluation: which policy is active, what it
//! wants, and what the pool is told to do.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use hearth_core::model::NodeState;
use hearth_core::scaling::{
    Clamp, ElasticProperty, ManagedQueue, NodeSnapshot, Period, Policy, PolicyRule, PoolSnapshot,
    ScalingAction, evaluate,
};
use uuid::Uuid;

/// Monday 2024-01-01 10:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn ready(n: u128, busy: u32, idle_for_secs: Option<i64>) -> NodeSnapshot {
    NodeSnapshot {
        id: id(n),
        state: NodeState::Ready,
        busy_slots: busy,
        idle_since: idle_for_secs.map(|s| now() - Duration::seconds(s)),
        created_at: now() - Duration::hours(1) + Duration::seconds(n as i64),
    }
}

fn idle(n: u128, idle_for_secs: i64) -> NodeSnapshot {
    ready(n, 0, Some(idle_for_secs))
}

fn busy(n: u128, slots: u32) -> NodeSnapshot {
    ready(n, slots, None)
}

fn starting(n: u128, state: NodeState, age_secs: i64) -> NodeSnapshot {
    NodeSnapshot {
        id: id(n),
        state,
        busy_slots: 0,
        idle_since: None,
        created_at: now() - Duration::seconds(age_secs),
    }
}

fn pool(slots_per_node: u32, queued: u32, nodes: Vec<NodeSnapshot>) -> PoolSnapshot {
    PoolSnapshot {
        slots_per_node,
        nodes,
        queued_instances: queued,
    }
}

fn managed(min: u32, max: u32, min_idle: u32, idle_secs: u64, factor: f64) -> Policy {
    Policy {
        name: Some("default".into()),
        rule: PolicyRule::ManagedTasksQueue(ManagedQueue {
            min_total_slots: min,
            max_total_slots: max,
            min_idle_slots: min_idle,
            min_idle_time_seconds: idle_secs,
            scaling_factor: factor,
        }),
        enabled_periods: vec![],
    }
}

fn fixed(slots: u32) -> Policy {
    Policy {
        name: None,
        rule: PolicyRule::Fixed { slots_count: slots },
        enabled_periods: vec![],
    }
}

fn shrink(ids: &[u128]) -> ScalingAction {
    ScalingAction::Shrink {
        nodes: ids.iter().map(|n| id(*n)).collect(),
    }
}

struct Case {
    name: &'static str,
    policies: Vec<Policy>,
    snapshot: PoolSnapshot,
    wanted: u32,
    target: u32,
    action: ScalingAction,
    clamps: Vec<Clamp>,
}

#[test]
fn evaluation_table() {
    let cases = vec![
        Case {
            name: "managed queue grows by the ramp share of the missing slots",
            policies: vec![managed(0, 10, 0, 60, 0.5)],
            snapshot: pool(1, 4, vec![busy(1, 1), busy(2, 1), busy(3, 1)]),
            wanted: 7,
            target: 5,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![Clamp::RampLimited {
                missing_slots: 4,
                scaling_factor: 0.5,
                step_slots: 2,
            }],
        },
        Case {
            name: "a tiny ramp still adds one slot",
            policies: vec![managed(0, 10, 0, 60, 0.1)],
            snapshot: pool(1, 3, vec![]),
            wanted: 3,
            target: 1,
            action: ScalingAction::Grow { nodes: 1 },
            clamps: vec![Clamp::RampLimited {
                missing_slots: 3,
                scaling_factor: 0.1,
                step_slots: 1,
            }],
        },
        Case {
            name: "float error does not add a slot (0.1 of 30 is 3)",
            policies: vec![managed(0, 100, 0, 60, 0.1)],
            snapshot: pool(1, 30, vec![]),
            wanted: 30,
            target: 3,
            action: ScalingAction::Grow { nodes: 3 },
            clamps: vec![Clamp::RampLimited {
                missing_slots: 30,
                scaling_factor: 0.1,
                step_slots: 3,
            }],
        },
        Case {
            name: "min idle slots add to the demand",
            policies: vec![managed(0, 10, 2, 60, 1.0)],
            snapshot: pool(1, 0, vec![busy(1, 1), busy(2, 1)]),
            wanted: 4,
            target: 4,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![],
        },
        Case {
            name: "an empty pool is raised to its minimum",
            policies: vec![managed(2, 10, 0, 60, 1.0)],
            snapshot: pool(1, 0, vec![]),
            wanted: 2,
            target: 2,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![Clamp::Min { min_total_slots: 2 }],
        },
        Case {
            name: "multi-slot growth rounds up to whole nodes",
            policies: vec![managed(0, 16, 0, 60, 1.0)],
            snapshot: pool(4, 5, vec![]),
            wanted: 5,
            target: 8,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![],
        },
        Case {
            name: "multi-slot ramp rounds its step up to a whole node",
            policies: vec![managed(0, 16, 0, 60, 0.25)],
            snapshot: pool(4, 8, vec![]),
            wanted: 8,
            target: 4,
            action: ScalingAction::Grow { nodes: 1 },
            clamps: vec![Clamp::RampLimited {
                missing_slots: 8,
                scaling_factor: 0.25,
                step_slots: 2,
            }],
        },
        Case {
            name: "maxTotalSlots rounds down to whole nodes",
            policies: vec![managed(0, 10, 0, 60, 1.0)],
            snapshot: pool(4, 10, vec![]),
            wanted: 10,
            target: 8,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![Clamp::MaxRoundedDown {
                max_total_slots: 10,
                slots_per_node: 4,
                max_nodes: 2,
            }],
        },
        Case {
            name: "booting nodes count toward max",
            policies: vec![managed(0, 10, 0, 60, 1.0)],
            snapshot: pool(
                4,
                20,
                vec![
                    starting(1, NodeState::Booting, 30),
                    starting(2, NodeState::Requested, 5),
                ],
            ),
            wanted: 10,
            target: 8,
            action: ScalingAction::Hold,
            clamps: vec![
                Clamp::Max {
                    max_total_slots: 10,
                },
                Clamp::MaxRoundedDown {
                    max_total_slots: 10,
                    slots_per_node: 4,
                    max_nodes: 2,
                },
            ],
        },
        Case {
            name: "booting nodes are not requested twice",
            policies: vec![managed(0, 10, 0, 60, 1.0)],
            snapshot: pool(1, 3, vec![starting(1, NodeState::Booting, 30)]),
            wanted: 3,
            target: 3,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![],
        },
        Case {
            name: "only nodes idle for minIdleTimeSeconds go, longest idle first",
            policies: vec![managed(0, 10, 0, 100, 1.0)],
            snapshot: pool(
                1,
                0,
                vec![idle(1, 30), idle(2, 120), idle(3, 300), idle(4, 100)],
            ),
            wanted: 0,
            target: 1,
            action: shrink(&[3, 2, 4]),
            clamps: vec![Clamp::IdleTimeNotElapsed {
                nodes: 1,
                min_idle_time_seconds: 100,
            }],
        },
        Case {
            name: "nothing idle long enough: hold",
            policies: vec![managed(0, 10, 0, 100, 1.0)],
            snapshot: pool(1, 0, vec![idle(1, 99)]),
            wanted: 0,
            target: 1,
            action: ScalingAction::Hold,
            clamps: vec![Clamp::IdleTimeNotElapsed {
                nodes: 1,
                min_idle_time_seconds: 100,
            }],
        },
        Case {
            name: "a node with one busy slot is never removed",
            policies: vec![managed(0, 16, 0, 0, 1.0)],
            snapshot: pool(4, 0, vec![busy(1, 1), idle(2, 1000), busy(3, 4)]),
            wanted: 5,
            target: 8,
            action: shrink(&[2]),
            clamps: vec![],
        },
        Case {
            name: "shrinking never goes below wanted, in whole nodes",
            policies: vec![managed(5, 12, 0, 0, 1.0)],
            snapshot: pool(4, 0, vec![idle(1, 10), idle(2, 20), idle(3, 30)]),
            wanted: 5,
            target: 8,
            action: shrink(&[3]),
            clamps: vec![Clamp::Min { min_total_slots: 5 }],
        },
        Case {
            name: "nodes still starting are cancelled first, Requested before Booting",
            policies: vec![managed(1, 10, 0, 0, 1.0)],
            snapshot: pool(
                1,
                0,
                vec![
                    idle(1, 500),
                    starting(2, NodeState::Booting, 10),
                    starting(3, NodeState::Requested, 20),
                    starting(4, NodeState::Requested, 5),
                ],
            ),
            wanted: 1,
            target: 1,
            action: shrink(&[4, 3, 2]),
            clamps: vec![Clamp::Min { min_total_slots: 1 }],
        },
        Case {
            name: "draining, terminated and failed nodes count toward nothing",
            policies: vec![managed(0, 10, 0, 0, 1.0)],
            snapshot: pool(
                1,
                1,
                vec![
                    NodeSnapshot {
                        state: NodeState::Draining,
                        ..busy(1, 1)
                    },
                    NodeSnapshot {
                        state: NodeState::Terminated,
                        ..idle(2, 10)
                    },
                    NodeSnapshot {
                        state: NodeState::Failed,
                        ..idle(3, 10)
                    },
                ],
            ),
            wanted: 1,
            target: 1,
            action: ScalingAction::Grow { nodes: 1 },
            clamps: vec![],
        },
        Case {
            name: "fixed rounds up to whole nodes and grows at once",
            policies: vec![fixed(5)],
            snapshot: pool(4, 0, vec![]),
            wanted: 5,
            target: 8,
            action: ScalingAction::Grow { nodes: 2 },
            clamps: vec![],
        },
        Case {
            name: "fixed shrinks at once, longest idle first, but never a busy node",
            policies: vec![fixed(1)],
            snapshot: pool(1, 9, vec![busy(1, 1), idle(2, 1), idle(3, 2)]),
            wanted: 1,
            target: 1,
            action: shrink(&[3, 2]),
            clamps: vec![],
        },
        Case {
            name: "fixed at its size holds whatever the queue",
            policies: vec![fixed(2)],
            snapshot: pool(1, 50, vec![busy(1, 1), busy(2, 1)]),
            wanted: 2,
            target: 2,
            action: ScalingAction::Hold,
            clamps: vec![],
        },
        Case {
            name: "no policy enabled: drain to zero, busy nodes kept",
            policies: vec![],
            snapshot: pool(
                2,
                3,
                vec![busy(1, 1), idle(2, 1), starting(3, NodeState::Booting, 1)],
            ),
            wanted: 0,
            target: 2,
            action: shrink(&[3, 2]),
            clamps: vec![Clamp::BusyNodesKept { nodes: 1 }],
        },
        Case {
            name: "elasticProperty behaves as its managed queue policy",
            policies: vec![
                ElasticProperty {
                    is_elastic: true,
                    min_total_slots: 1,
                    max_total_slots: 3,
                    min_idle_slots: 0,
                    resize_period_seconds: 90,
                    ramp_resize_factor: 1.0,
                    min_idle_time_seconds: 0,
                }
                .to_policy(),
            ],
            snapshot: pool(1, 7, vec![]),
            wanted: 3,
            target: 3,
            action: ScalingAction::Grow { nodes: 3 },
            clamps: vec![Clamp::Max { max_total_slots: 3 }],
        },
    ];

    for case in cases {
        let d = evaluate(&case.policies, now(), &case.snapshot);
        assert_eq!(
            d.wanted_slots, case.wanted,
            "{}: wanted\n{}",
            case.name, d.reason
        );
        assert_eq!(
            d.target_slots, case.target,
            "{}: target\n{}",
            case.name, d.reason
        );
        assert_eq!(d.action, case.action, "{}: action\n{}", case.name, d.reason);
        assert_eq!(d.clamps, case.clamps, "{}: clamps\n{}", case.name, d.reason);
        assert_eq!(d.at, now());
    }
}

#[test]
fn idle_time_boundary_is_inclusive() {
    let policies = vec![managed(0, 4, 0, 100, 1.0)];
    let exactly = evaluate(&policies, now(), &pool(1, 0, vec![idle(1, 100)]));
    assert_eq!(exactly.action, shrink(&[1]));
    let just_short = NodeSnapshot {
        idle_since: Some(now() - Duration::seconds(100) + Duration::nanoseconds(1)),
        ..idle(1, 0)
    };
    let d = evaluate(&policies, now(), &pool(1, 0, vec![just_short]));
    assert_eq!(d.action, ScalingAction::Hold);
}

#[test]
fn idle_node_without_idle_start_waits_unless_no_wait_is_asked() {
    let unknown = ready(1, 0, None);
    let waits = evaluate(
        &[managed(0, 4, 0, 10, 1.0)],
        now(),
        &pool(1, 0, vec![unknown.clone()]),
    );
    assert_eq!(waits.action, ScalingAction::Hold);
    let no_wait = evaluate(
        &[managed(0, 4, 0, 0, 1.0)],
        now(),
        &pool(1, 0, vec![unknown]),
    );
    assert_eq!(no_wait.action, shrink(&[1]));
}

fn weekdays_office() -> Period {
    Period::Weekly {
        name: Some("weekdays".into()),
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(18, 30, 0).unwrap(),
    }
}

#[test]
fn first_enabled_policy_wins() {
    let office = Policy {
        name: Some("office-hours".into()),
        rule: PolicyRule::Fixed { slots_count: 2 },
        enabled_periods: vec![weekdays_office()],
    };
    let policies = vec![office, managed(0, 4, 0, 120, 0.5)];
    let empty = pool(1, 0, vec![]);
    let monday = |h, m| Utc.with_ymd_and_hms(2024, 1, 1, h, m, 0).unwrap();
    // (time, active index, period name, wanted)
    let table = [
        (monday(7, 59), Some(1), None, 0),
        (monday(8, 0), Some(0), Some("weekdays"), 2),
        (monday(18, 29), Some(0), Some("weekdays"), 2),
        (monday(18, 30), Some(1), None, 0),
        (
            Utc.with_ymd_and_hms(2024, 1, 6, 12, 0, 0).unwrap(),
            Some(1),
            None,
            0,
        ),
    ];
    for (at, index, period, wanted) in table {
        let d = evaluate(&policies, at, &empty);
        assert_eq!(d.active_policy_index, index, "{at}");
        assert_eq!(d.active_period_name.as_deref(), period, "{at}");
        assert_eq!(d.wanted_slots, wanted, "{at}");
        let name = if index == Some(0) {
            "office-hours"
        } else {
            "default"
        };
        assert_eq!(d.active_policy_name.as_deref(), Some(name));
    }
}

#[test]
fn a_later_policy_is_skipped_when_an_earlier_one_is_enabled_even_if_both_are() {
    let policies = vec![fixed(3), managed(0, 10, 0, 0, 1.0)];
    let d = evaluate(&policies, now(), &pool(1, 9, vec![]));
    assert_eq!(d.active_policy_index, Some(0));
    assert_eq!(d.action, ScalingAction::Grow { nodes: 3 });
}

#[test]
fn outside_every_period_the_pool_drains_and_says_why() {
    let only_office = vec![Policy {
        name: Some("office-hours".into()),
        rule: PolicyRule::Fixed { slots_count: 2 },
        enabled_periods: vec![weekdays_office()],
    }];
    let night = Utc.with_ymd_and_hms(2024, 1, 1, 23, 0, 0).unwrap();
    let d = evaluate(
        &only_office,
        night,
        &pool(1, 0, vec![busy(1, 1), idle(2, 5)]),
    );
    assert_eq!(d.active_policy_index, None);
    assert_eq!(d.active_policy_name, None);
    assert_eq!(d.active_period_name, None);
    assert_eq!(d.wanted_slots, 0);
    assert_eq!(d.action, shrink(&[2]));
    assert_eq!(
        d.reason,
        "no policy is enabled now: target 0: the pool drains to zero, busy slots untouched; \
         the pool has 2 slots (1 busy, 1 idle, 0 booting) on 2 nodes of 1 slot; \
         shrinking by 1 node: 1 idle node released, longest idle first; 1 busy node kept until its work ends"
    );
}

#[test]
fn reasons_read_as_sentences() {
    let d = evaluate(
        &[managed(0, 10, 0, 60, 0.5)],
        now(),
        &pool(1, 2, vec![busy(1, 1), busy(2, 1), busy(3, 1), idle(4, 1)]),
    );
    assert_eq!(
        d.reason,
        "policy 'default' (ManagedTasksQueue, always enabled): 3 busy + 2 queued + 0 min idle = 5 wanted; \
         the pool has 4 slots (3 busy, 1 idle, 0 booting) on 4 nodes of 1 slot; \
         growing by 1 node (ramp 0.5 of 1 missing slot = 1 slot)"
    );

    let d = evaluate(&[fixed(5)], now(), &pool(4, 0, vec![]));
    assert_eq!(
        d.reason,
        "policy #1 (Fixed, always enabled): slotsCount 5 wanted, rounded up to 2 nodes of 4 slots; \
         the pool has 0 slots (0 busy, 0 idle, 0 booting) on 0 nodes of 4 slots; growing by 2 nodes"
    );

    let d = evaluate(
        &[managed(0, 10, 0, 100, 1.0)],
        now(),
        &pool(1, 0, vec![idle(1, 30)]),
    );
    assert!(
        d.reason
            .ends_with("holding; 1 idle node not idle for 100 s yet"),
        "{}",
        d.reason
    );
}

#[test]
fn decision_serializes_for_storage() {
    let d = evaluate(&[managed(0, 10, 0, 60, 0.5)], now(), &pool(1, 4, vec![]));
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json["action"],
        serde_json::json!({"kind": "Grow", "nodes": 2})
    );
    assert_eq!(json["wantedSlots"], 4);
    assert_eq!(json["targetSlots"], 2);
    assert_eq!(json["inputs"]["queued"], 4);
    assert_eq!(json["clamps"][0]["kind"], "RampLimited");
    assert_eq!(json["clamps"][0]["missingSlots"], 4);
    assert_eq!(json["activePolicyName"], "default");
    let back: hearth_core::scaling::ScalingDecision = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
}
