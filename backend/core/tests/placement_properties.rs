//! Packing placement over generated nodes: never past a node's capacity, always onto
//! a busiest node with a free slot (the first listed among equals), as many
//! instances as there are free slots.

use hearth_core::placement::{NodeSlots, place};
use proptest::prelude::*;
use uuid::Uuid;

fn arb_nodes() -> impl Strategy<Value = Vec<NodeSlots>> {
    proptest::collection::vec((1u32..=8, 0u32..=9), 0..=10).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (capacity, busy))| NodeSlots {
                node_id: Uuid::from_u128(i as u128 + 1),
                capacity,
                busy,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn places_by_packing(nodes in arb_nodes(), instances in 0u32..=50) {
        let placed = place(&nodes, instances);
        let free: u32 = nodes.iter().map(|n| n.capacity.saturating_sub(n.busy)).sum();
        prop_assert_eq!(placed.len() as u32, instances.min(free));

        let mut busy: Vec<u32> = nodes.iter().map(|n| n.busy).collect();
        for id in &placed {
            let i = nodes.iter().position(|n| n.node_id == *id).expect("a listed node");
            prop_assert!(busy[i] < nodes[i].capacity, "node {} was full", i);
            for (j, other) in nodes.iter().enumerate() {
                if busy[j] < other.capacity {
                    prop_assert!(busy[j] <= busy[i], "node {} was busier than chosen {}", j, i);
                    if j < i {
                        prop_assert!(busy[j] < busy[i], "node {} ties with {} and comes first", j, i);
                    }
                }
            }
            busy[i] += 1;
        }
        for (n, b) in nodes.iter().zip(&busy) {
            prop_assert!(*b <= n.capacity.max(n.busy));
        }
    }
}
