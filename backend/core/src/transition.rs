//! The refusal shared by the pool and task state machines.

/// A request the current state does not allow. The API answers it with `409` and
/// this message, which names the state so the user knows why nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransitionError {
    /// Wire name of the state the object is in.
    pub state: &'static str,
    /// What was attempted, in words ("close", "delete").
    pub attempted: &'static str,
    pub message: String,
}

impl TransitionError {
    pub(crate) fn new(kind: &str, state: &'static str, attempted: &'static str, why: &str) -> Self {
        Self {
            state,
            attempted,
            message: format!("{kind} is {state}: {why}"),
        }
    }
}
