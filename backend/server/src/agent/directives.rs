//! Applying the server's answer (a poll's, a heartbeat's, a report batch's refill) to the
//! node: cancels first, then the assignments admitted and their processes started.

use std::sync::Arc;

use super::exit::Exit;
use super::instance;
use super::node::Node;
use super::wire::Directives;

/// What became of the assignments of one answer.
#[derive(Debug, Default)]
pub struct Applied {
    pub started: usize,
    /// No free slot for them.
    pub deferred: usize,
    /// Running or finished here already.
    pub duplicates: usize,
}

/// Applies a poll or heartbeat answer.
pub async fn apply(node: &Arc<Node>, directives: Directives) -> Applied {
    if directives.shutdown {
        node.exit.trigger(Exit::ShutdownRequested);
        return Applied::default();
    }
    // Cancels first: an instance both cancelled and assigned in one answer is not started.
    for uuid in &directives.cancel {
        tracing::info!(instance = %uuid, "cancel asked by the server");
    }
    node.kill_all_of(&directives.cancel).await;
    if directives.assignments.is_empty() {
        return Applied::default();
    }
    let admission = {
        let slots = node.registration.slots;
        let mut instances = node.instances.lock().await;
        let admission = instances.admit(directives.assignments, &directives.cancel, slots);
        node.client.set_linger(instances.has_waiting());
        admission
    };
    if admission.duplicates > 0 {
        tracing::debug!(
            count = admission.duplicates,
            "ignored duplicate assignments"
        );
    }
    if admission.deferred > 0 {
        tracing::debug!(count = admission.deferred, "no free slot, assignments wait");
    }
    if admission.waiting > 0 {
        tracing::debug!(
            count = admission.waiting,
            "queued behind the instances on their slots"
        );
    }
    let applied = Applied {
        started: admission.start.len(),
        deferred: admission.deferred,
        duplicates: admission.duplicates,
    };
    for assignment in admission.start {
        if node.exit.is_set() {
            break;
        }
        instance::start(node, assignment);
    }
    applied
}
