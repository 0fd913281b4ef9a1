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

/// Where instances may queue behind the ones running on a node's slots, once the free
/// slots are taken: `occupied` lists, per node (in its placement order), how many instances
/// each of its slots holds (index = slot); a slot holding at least one and at most `depth`
/// takes one more. Shallower queues fill first (every slot gets one waiting instance before
/// any gets a second), then nodes in order, then slots in order. At most `instances`
/// (node, slot) pairs.
pub fn queue_behind(occupied: &[(Uuid, Vec<u32>)], depth: u32, instances: u32) -> Vec<(Uuid, u32)> {
    let mut held: Vec<Vec<u32>> = occupied.iter().map(|(_, slots)| slots.clone()).collect();
    let mut out = Vec::new();
    for level in 1..=depth {
        for (k, (node, _)) in occupied.iter().enumerate() {
            for (slot, n) in held[k].iter_mut().enumerate() {
                if out.len() as u64 >= u64::from(instances) {
                    return out;
                }
                if *n == level {
                    *n += 1;
                    out.push((*node, slot as u32));
                }
            }
        }
    }
    out
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

    #[test]
    fn queue_behind_table() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        // (occupancy per node, depth, instances, expected (node, slot) pairs)
        type Case = (Vec<(Uuid, Vec<u32>)>, u32, u32, Vec<(Uuid, u32)>);
        let table: Vec<Case> = vec![
            // No depth: nothing queues.
            (vec![(a, vec![1, 1])], 0, 5, vec![]),
            // Free slots (0) take nothing here; busy ones one each, nodes in order.
            (
                vec![(a, vec![1, 0, 1]), (b, vec![1])],
                1,
                5,
                vec![(a, 0), (a, 2), (b, 0)],
            ),
            // A slot already holding one waiting instance is full at depth 1.
            (vec![(a, vec![2, 1])], 1, 5, vec![(a, 1)]),
            // Depth 2: every slot gets a first waiting instance before any gets a second.
            (
                vec![(a, vec![1, 2]), (b, vec![1])],
                2,
                5,
                vec![(a, 0), (b, 0), (a, 0), (a, 1), (b, 0)],
            ),
            // Capped at the instances asked for.
            (vec![(a, vec![1, 1, 1])], 1, 2, vec![(a, 0), (a, 1)]),
        ];
        for (occupied, depth, instances, expected) in table {
            assert_eq!(
                queue_behind(&occupied, depth, instances),
                expected,
                "{occupied:?} depth {depth}"
            );
        }
    }
}
