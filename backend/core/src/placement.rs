//! Where queued instances go (DESIGN §3): packing. Each instance takes a free slot on
//! the busiest Ready node, so work gathers on few nodes and the others empty out and
//! can be released ("it scales on this node before starting up a new one").

use uuid::Uuid;

/// A Ready node's slots at the moment of placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSlots {
    pub node_id: Uuid,
    pub capacity: u32,
    pub busy: u32,
}

impl NodeSlots {
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.busy)
    }
}

/// One node id per placed instance, in placement order. Ties between equally busy
/// nodes go to the one listed first, so callers that list nodes in a stable order
/// (oldest first) get stable placements. Fewer ids than `instances` means the free
/// slots ran out.
pub fn place(nodes: &[NodeSlots], instances: u32) -> Vec<Uuid> {
    let mut busy: Vec<u32> = nodes.iter().map(|n| n.busy).collect();
    let free_total: u64 = nodes.iter().map(|n| u64::from(n.free())).sum();
    let count = u64::from(instances).min(free_total) as usize;
    let mut placed = Vec::with_capacity(count);
    for _ in 0..count {
        let mut best: Option<usize> = None;
        for (i, node) in nodes.iter().enumerate() {
            let has_room = busy[i] < node.capacity;
            // Strictly greater keeps the first of equally busy nodes.
            if has_room && best.is_none_or(|b| busy[i] > busy[b]) {
                best = Some(i);
            }
        }
        let Some(i) = best else { break };
        busy[i] += 1;
        placed.push(nodes[i].node_id);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u128, capacity: u32, busy: u32) -> NodeSlots {
        NodeSlots {
            node_id: Uuid::from_u128(n),
            capacity,
            busy,
        }
    }

    #[test]
    fn packing_table() {
        // (nodes as (id, capacity, busy), instances, expected node ids in order)
        let table: Vec<(Vec<NodeSlots>, u32, Vec<u128>)> = vec![
            (vec![], 3, vec![]),
            (vec![node(1, 4, 0)], 0, vec![]),
            // The busier node fills up first.
            (vec![node(1, 4, 1), node(2, 4, 2)], 3, vec![2, 2, 1]),
            // Equal nodes: the first listed wins, then it is the busiest.
            (vec![node(1, 2, 0), node(2, 2, 0)], 3, vec![1, 1, 2]),
            // A full node is skipped even though it is the busiest.
            (
                vec![node(1, 4, 4), node(2, 4, 1), node(3, 4, 0)],
                4,
                vec![2, 2, 2, 3],
            ),
            // Running out of slots places fewer.
            (vec![node(1, 1, 0), node(2, 2, 1)], 5, vec![2, 1]),
            // A node reporting more busy slots than it has takes nothing.
            (vec![node(1, 2, 3), node(2, 1, 0)], 2, vec![2]),
        ];
        for (nodes, instances, expected) in table {
            let got = place(&nodes, instances);
            let expected: Vec<Uuid> = expected.into_iter().map(Uuid::from_u128).collect();
            assert_eq!(got, expected, "{nodes:?} × {instances}");
        }
    }
}
