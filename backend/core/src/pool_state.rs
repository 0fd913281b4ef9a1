//! The pool state machine (DESIGN §2). One function, [`pool_transition`], says which
//! events each state accepts; the dispatch/execute states are derived from node
//! counts by [`derive_pool_execution_state`].

use serde::{Deserialize, Serialize};

use crate::model::NodeState;
use crate::transition::TransitionError;
use crate::wire::wire_enum;

wire_enum! {
    pub enum PoolState("pool state") {
        /// Accepted; no node requested yet.
        Submitted => "Submitted",
        /// Some target nodes requested, none Ready, not all requested.
        PartiallyDispatched => "PartiallyDispatched",
        /// All target nodes requested, none Ready yet.
        FullyDispatched => "FullyDispatched",
        /// At least one node Ready, fewer Ready than the target.
        PartiallyExecuting => "PartiallyExecuting",
        /// Every target node Ready (also a pool whose target is 0).
        FullyExecuting => "FullyExecuting",
        /// Close requested: no new tasks, work stopped, nodes terminated.
        Closing => "Closing",
        /// Every node terminated; metering stopped.
        Closed => "Closed",
        /// The pool cannot run (launcher keeps failing, profile removed).
        Failure => "Failure",
        /// Delete requested; removed in the background.
        PendingDelete => "PendingDelete",
    }
}

impl PoolState {
    /// New tasks may be submitted to the pool.
    pub fn accepts_tasks(self) -> bool {
        !matches!(
            self,
            PoolState::Closing | PoolState::Closed | PoolState::Failure | PoolState::PendingDelete
        )
    }

    /// Nothing more will happen to the pool apart from its removal.
    pub fn is_terminal(self) -> bool {
        matches!(self, PoolState::Closed | PoolState::PendingDelete)
    }

    /// The states scaling moves a pool between (plus `Submitted`, which it only leaves).
    pub fn follows_nodes(self) -> bool {
        matches!(
            self,
            PoolState::Submitted
                | PoolState::PartiallyDispatched
                | PoolState::FullyDispatched
                | PoolState::PartiallyExecuting
                | PoolState::FullyExecuting
        )
    }
}

/// How many of the pool's nodes are where, against the current target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCounts {
    pub target_nodes: u32,
    pub requested_or_booting: u32,
    pub ready: u32,
}

impl NodeCounts {
    pub fn from_states(target_nodes: u32, states: impl IntoIterator<Item = NodeState>) -> Self {
        let mut counts = NodeCounts {
            target_nodes,
            ..Default::default()
        };
        for state in states {
            match state {
                NodeState::Requested | NodeState::Booting => counts.requested_or_booting += 1,
                NodeState::Ready => counts.ready += 1,
                NodeState::Draining | NodeState::Terminated | NodeState::Failed => {}
            }
        }
        counts
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    /// Nodes changed (a scaling decision, a node became Ready, a node was lost).
    Scaled(NodeCounts),
    /// The user asked to close the pool.
    Close,
    /// The last node of a closing pool is terminated.
    AllNodesTerminated,
    /// The launcher cannot start nodes for this pool (or its profile is gone).
    LauncherFailed,
    /// The user asked to delete the pool.
    Delete,
}

impl PoolEvent {
    fn attempted(&self) -> &'static str {
        match self {
            PoolEvent::Scaled(_) => "scale",
            PoolEvent::Close => "close",
            PoolEvent::AllNodesTerminated => "finish closing",
            PoolEvent::LauncherFailed => "fail",
            PoolEvent::Delete => "delete",
        }
    }
}

/// The dispatch/execute state for the given node counts (DESIGN §2). A target of 0
/// is `FullyExecuting`: an elastic pool scaled to zero is ready to take work.
pub fn derive_pool_execution_state(
    target_nodes: u32,
    requested_or_booting: u32,
    ready: u32,
) -> PoolState {
    if ready >= target_nodes {
        PoolState::FullyExecuting
    } else if ready > 0 {
        PoolState::PartiallyExecuting
    } else if requested_or_booting == 0 {
        PoolState::Submitted
    } else if requested_or_booting >= target_nodes {
        PoolState::FullyDispatched
    } else {
        PoolState::PartiallyDispatched
    }
}

/// The pool's next state after `event`, or why the event is refused.
///
/// Only user requests (close, delete) are ever refused. Internal events that arrive
/// in a state where they mean nothing leave the state as it is: node counts keep
/// changing while a pool winds down, and that is no conflict.
pub fn pool_transition(state: PoolState, event: &PoolEvent) -> Result<PoolState, TransitionError> {
    use PoolState::*;
    let refuse = |why: &str| {
        Err(TransitionError::new(
            "pool",
            state.as_str(),
            event.attempted(),
            why,
        ))
    };
    match (event, state) {
        (
            PoolEvent::Scaled(counts),
            Submitted | PartiallyDispatched | FullyDispatched | PartiallyExecuting | FullyExecuting,
        ) => {
            let derived = derive_pool_execution_state(
                counts.target_nodes,
                counts.requested_or_booting,
                counts.ready,
            );
            // Submitted means "never requested a node". Once a pool has left it, losing
            // every node makes it dispatch again rather than look brand new.
            Ok(if derived == Submitted && state != Submitted {
                PartiallyDispatched
            } else {
                derived
            })
        }
        (PoolEvent::Scaled(_), Closing | Closed | Failure | PendingDelete) => Ok(state),

        (
            PoolEvent::Close,
            Submitted | PartiallyDispatched | FullyDispatched | PartiallyExecuting | FullyExecuting
            | Failure,
        ) => Ok(Closing),
        (PoolEvent::Close, Closing) => refuse("it is already closing"),
        (PoolEvent::Close, Closed) => refuse("it cannot be closed again"),
        (PoolEvent::Close, PendingDelete) => refuse("it is being deleted"),

        (PoolEvent::AllNodesTerminated, Closing) => Ok(Closed),
        (PoolEvent::AllNodesTerminated, _) => Ok(state),

        (
            PoolEvent::LauncherFailed,
            Submitted | PartiallyDispatched | FullyDispatched | PartiallyExecuting | FullyExecuting,
        ) => Ok(Failure),
        (PoolEvent::LauncherFailed, Closing | Closed | Failure | PendingDelete) => Ok(state),

        (PoolEvent::Delete, PendingDelete) => refuse("it is already being deleted"),
        (PoolEvent::Delete, _) => Ok(PendingDelete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PoolState::*;

    fn scaled(target: u32, starting: u32, ready: u32) -> PoolEvent {
        PoolEvent::Scaled(NodeCounts {
            target_nodes: target,
            requested_or_booting: starting,
            ready,
        })
    }

    #[test]
    fn wire_names_are_exact() {
        let names: Vec<&str> = PoolState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "Submitted",
                "PartiallyDispatched",
                "FullyDispatched",
                "PartiallyExecuting",
                "FullyExecuting",
                "Closing",
                "Closed",
                "Failure",
                "PendingDelete"
            ]
        );
        for s in PoolState::ALL {
            assert_eq!(s.as_str().parse::<PoolState>().unwrap(), *s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert!("Deleted".parse::<PoolState>().is_err());
    }

    #[test]
    fn state_predicates() {
        // (state, accepts tasks, terminal)
        let table = [
            (Submitted, true, false),
            (PartiallyDispatched, true, false),
            (FullyDispatched, true, false),
            (PartiallyExecuting, true, false),
            (FullyExecuting, true, false),
            (Closing, false, false),
            (Closed, false, true),
            (Failure, false, false),
            (PendingDelete, false, true),
        ];
        assert_eq!(table.len(), PoolState::ALL.len());
        for (s, accepts, terminal) in table {
            assert_eq!(s.accepts_tasks(), accepts, "{s}");
            assert_eq!(s.is_terminal(), terminal, "{s}");
        }
    }

    #[test]
    fn execution_state_from_node_counts() {
        // (target, requested or booting, ready, expected)
        let table = [
            (0, 0, 0, FullyExecuting),
            (0, 2, 0, FullyExecuting),
            (0, 0, 1, FullyExecuting),
            (3, 0, 0, Submitted),
            (3, 1, 0, PartiallyDispatched),
            (3, 2, 0, PartiallyDispatched),
            (3, 3, 0, FullyDispatched),
            (3, 4, 0, FullyDispatched),
            (3, 2, 1, PartiallyExecuting),
            (3, 0, 2, PartiallyExecuting),
            (3, 0, 3, FullyExecuting),
            (3, 1, 3, FullyExecuting),
            (3, 0, 5, FullyExecuting),
            (1, 0, 1, FullyExecuting),
        ];
        for (target, starting, ready, expected) in table {
            assert_eq!(
                derive_pool_execution_state(target, starting, ready),
                expected,
                "target {target}, starting {starting}, ready {ready}"
            );
        }
    }

    /// Every state × every event kind. `Ok` holds the expected next state, `Err`
    /// the expected message.
    #[test]
    fn transition_table_is_exhaustive() {
        let all_ready = scaled(2, 0, 2);
        let partly = scaled(2, 1, 1);
        let nothing = scaled(2, 0, 0);
        type Row = (PoolState, PoolEvent, Result<PoolState, &'static str>);
        let mut table: Vec<Row> = Vec::new();
        for s in [
            Submitted,
            PartiallyDispatched,
            FullyDispatched,
            PartiallyExecuting,
            FullyExecuting,
        ] {
            table.push((s, all_ready.clone(), Ok(FullyExecuting)));
            table.push((s, partly.clone(), Ok(PartiallyExecuting)));
            let after_losing_all = if s == Submitted {
                Submitted
            } else {
                PartiallyDispatched
            };
            table.push((s, nothing.clone(), Ok(after_losing_all)));
            table.push((s, PoolEvent::Close, Ok(Closing)));
            table.push((s, PoolEvent::AllNodesTerminated, Ok(s)));
            table.push((s, PoolEvent::LauncherFailed, Ok(Failure)));
            table.push((s, PoolEvent::Delete, Ok(PendingDelete)));
        }
        table.extend([
            (Closing, all_ready.clone(), Ok(Closing)),
            (
                Closing,
                PoolEvent::Close,
                Err("pool is Closing: it is already closing"),
            ),
            (Closing, PoolEvent::AllNodesTerminated, Ok(Closed)),
            (Closing, PoolEvent::LauncherFailed, Ok(Closing)),
            (Closing, PoolEvent::Delete, Ok(PendingDelete)),
            (Closed, all_ready.clone(), Ok(Closed)),
            (
                Closed,
                PoolEvent::Close,
                Err("pool is Closed: it cannot be closed again"),
            ),
            (Closed, PoolEvent::AllNodesTerminated, Ok(Closed)),
            (Closed, PoolEvent::LauncherFailed, Ok(Closed)),
            (Closed, PoolEvent::Delete, Ok(PendingDelete)),
            (Failure, all_ready.clone(), Ok(Failure)),
            (Failure, PoolEvent::Close, Ok(Closing)),
            (Failure, PoolEvent::AllNodesTerminated, Ok(Failure)),
            (Failure, PoolEvent::LauncherFailed, Ok(Failure)),
            (Failure, PoolEvent::Delete, Ok(PendingDelete)),
            (PendingDelete, all_ready.clone(), Ok(PendingDelete)),
            (
                PendingDelete,
                PoolEvent::Close,
                Err("pool is PendingDelete: it is being deleted"),
            ),
            (
                PendingDelete,
                PoolEvent::AllNodesTerminated,
                Ok(PendingDelete),
            ),
            (PendingDelete, PoolEvent::LauncherFailed, Ok(PendingDelete)),
            (
                PendingDelete,
                PoolEvent::Delete,
                Err("pool is PendingDelete: it is already being deleted"),
            ),
        ]);

        // The table must name every (state, event kind) pair.
        for s in PoolState::ALL {
            for kind in ["scale", "close", "finish closing", "fail", "delete"] {
                assert!(
                    table
                        .iter()
                        .any(|(ts, e, _)| ts == s && e.attempted() == kind),
                    "no row for {s} × {kind}"
                );
            }
        }
        for (state, event, expected) in table {
            let got = pool_transition(state, &event);
            match expected {
                Ok(next) => assert_eq!(got, Ok(next), "{state} × {event:?}"),
                Err(message) => {
                    let err = got.expect_err("expected a refusal");
                    assert_eq!(err.message, message, "{state} × {event:?}");
                    assert_eq!(err.to_string(), message);
                    assert_eq!(err.state, state.as_str());
                }
            }
        }
    }

    #[test]
    fn node_counts_ignore_nodes_that_are_leaving() {
        use NodeState as N;
        let counts = NodeCounts::from_states(
            4,
            [
                N::Requested,
                N::Booting,
                N::Ready,
                N::Draining,
                N::Terminated,
                N::Failed,
                N::Ready,
            ],
        );
        assert_eq!(
            counts,
            NodeCounts {
                target_nodes: 4,
                requested_or_booting: 2,
                ready: 2
            }
        );
    }
}
