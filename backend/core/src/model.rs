//! The small vocabularies shared by every part of hearth: who may do what, and the
//! life cycle of nodes and task instances.

use crate::wire::wire_enum;

wire_enum! {
    /// A user's (or token's) role. `operator` is the platform-level admin and does not
    /// belong to a tenant's user list, but travels in tokens like the others.
    pub enum Role("role") {
        Operator => "operator",
        Owner => "owner",
        Member => "member",
        Viewer => "viewer",
        Billing => "billing",
    }
}

impl Role {
    /// May create, change and delete pools, tasks and jobs.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Operator | Role::Owner | Role::Member)
    }

    /// May manage users and tokens of a tenant.
    pub fn is_owner_or_operator(self) -> bool {
        matches!(self, Role::Operator | Role::Owner)
    }

    /// May read billing usage and reports. Viewers see workloads, not money.
    pub fn can_read_billing(self) -> bool {
        matches!(self, Role::Operator | Role::Owner | Role::Billing)
    }
}

wire_enum! {
    /// A node's life: `Requested → Booting → Ready → Draining → Terminated`, or `Failed`.
    pub enum NodeState("node state") {
        /// Asked of the launcher, nothing started yet.
        Requested => "Requested",
        /// Started, the agent has not registered yet.
        Booting => "Booting",
        /// Registered and heart-beating; takes work; billed.
        Ready => "Ready",
        /// Takes no new work; terminated once its running instances end.
        Draining => "Draining",
        Terminated => "Terminated",
        /// Lost (no heartbeat) or the launcher could not start it.
        Failed => "Failed",
    }
}

impl NodeState {
    /// Nodes the pool can count on now or soon: scaling sums their slots. A Draining
    /// node is leaving and so counts toward nothing.
    pub fn counts_toward_capacity(self) -> bool {
        matches!(
            self,
            NodeState::Requested | NodeState::Booting | NodeState::Ready
        )
    }

    /// Not yet Ready: the launcher is still bringing it up.
    pub fn is_starting(self) -> bool {
        matches!(self, NodeState::Requested | NodeState::Booting)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, NodeState::Terminated | NodeState::Failed)
    }
}

wire_enum! {
    /// One execution of a task: `Queued → Assigned → Executing → Succeeded / Failed / Cancelled`.
    pub enum InstanceState("instance state") {
        /// Waiting for a free slot (and for the task's dependencies).
        Queued => "Queued",
        /// Given to a node's slot; the agent has not reported the start yet.
        Assigned => "Assigned",
        Executing => "Executing",
        Succeeded => "Succeeded",
        Failed => "Failed",
        Cancelled => "Cancelled",
    }
}

impl InstanceState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            InstanceState::Succeeded | InstanceState::Failed | InstanceState::Cancelled
        )
    }

    /// Holds a slot on a node.
    pub fn occupies_slot(self) -> bool {
        matches!(self, InstanceState::Assigned | InstanceState::Executing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_lowercase_wire_names() {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["operator", "owner", "member", "viewer", "billing"]);
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
            let json = serde_json::to_string(role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), *role);
        }
        let err = "Owner".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "'Owner' is not a role (expected one of: operator, owner, member, viewer, billing)"
        );
        assert!(serde_json::from_str::<Role>("\"admin\"").is_err());
    }

    #[test]
    fn role_permissions() {
        // (role, can_write, is_owner_or_operator, can_read_billing)
        let table = [
            (Role::Operator, true, true, true),
            (Role::Owner, true, true, true),
            (Role::Member, true, false, false),
            (Role::Viewer, false, false, false),
            (Role::Billing, false, false, true),
        ];
        for (role, write, admin, billing) in table {
            assert_eq!(role.can_write(), write, "{role} can_write");
            assert_eq!(role.is_owner_or_operator(), admin, "{role} admin");
            assert_eq!(role.can_read_billing(), billing, "{role} billing");
        }
    }

    #[test]
    fn node_states() {
        // (state, wire, counts toward capacity, starting, terminal)
        let table = [
            (NodeState::Requested, "Requested", true, true, false),
            (NodeState::Booting, "Booting", true, true, false),
            (NodeState::Ready, "Ready", true, false, false),
            (NodeState::Draining, "Draining", false, false, false),
            (NodeState::Terminated, "Terminated", false, false, true),
            (NodeState::Failed, "Failed", false, false, true),
        ];
        assert_eq!(table.len(), NodeState::ALL.len());
        for (state, wire, capacity, starting, terminal) in table {
            assert_eq!(state.as_str(), wire);
            assert_eq!(wire.parse::<NodeState>().unwrap(), state);
            assert_eq!(state.counts_toward_capacity(), capacity, "{state}");
            assert_eq!(state.is_starting(), starting, "{state}");
            assert_eq!(state.is_terminal(), terminal, "{state}");
        }
        assert!("ready".parse::<NodeState>().is_err());
    }

    #[test]
    fn instance_states() {
        // (state, wire, finished, occupies a slot)
        let table = [
            (InstanceState::Queued, "Queued", false, false),
            (InstanceState::Assigned, "Assigned", false, true),
            (InstanceState::Executing, "Executing", false, true),
            (InstanceState::Succeeded, "Succeeded", true, false),
            (InstanceState::Failed, "Failed", true, false),
            (InstanceState::Cancelled, "Cancelled", true, false),
        ];
        assert_eq!(table.len(), InstanceState::ALL.len());
        for (state, wire, finished, occupies) in table {
            assert_eq!(state.to_string(), wire);
            assert_eq!(wire.parse::<InstanceState>().unwrap(), state);
            assert_eq!(state.is_finished(), finished, "{state}");
            assert_eq!(state.occupies_slot(), occupies, "{state}");
        }
    }
}
