//! Bells for readers following an instance's output: an output report (or the instance's
//! end) rings its bell after it is committed, and each follower then reads what is new.
//!
//! Only followed instances have a bell: ringing an instance nobody follows is one map
//! lookup, so the agents' hot path pays nothing for the feature. A bell goes when its last
//! follower does. Bounded: at most [`MAX_FOLLOWED`] instances followed at once per process
//! (a follower beyond that is refused with 429 rather than kept).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use uuid::Uuid;

/// Instances followed at once, at most.
pub const MAX_FOLLOWED: usize = 4_096;

/// An instance as its bell names it: its task and its number in the task.
pub type Followed = (Uuid, i32);

#[derive(Default)]
pub struct Bells {
    bells: Arc<Mutex<HashMap<Followed, watch::Sender<u64>>>>,
}

/// One follower's hold on a bell; dropping it lets the bell go with its last follower.
pub struct Listener {
    key: Followed,
    bells: Arc<Mutex<HashMap<Followed, watch::Sender<u64>>>>,
    pub rung: watch::Receiver<u64>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut bells = self.bells.lock().expect("output bells");
        // This receiver still counts while it is being dropped.
        if bells
            .get(&self.key)
            .is_some_and(|b| b.receiver_count() <= 1)
        {
            bells.remove(&self.key);
        }
    }
}

impl Bells {
    /// Follows an instance; `None` when too many are followed already.
    pub fn listen(&self, key: Followed) -> Option<Listener> {
        let mut bells = self.bells.lock().expect("output bells");
        if !bells.contains_key(&key) && bells.len() >= MAX_FOLLOWED {
            return None;
        }
        let rung = bells
            .entry(key)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Some(Listener {
            key,
            bells: self.bells.clone(),
            rung,
        })
    }

    /// Something about this instance changed (output, or its end): wakes its followers.
    pub fn ring(&self, key: Followed) {
        if let Some(bell) = self.bells.lock().expect("output bells").get(&key) {
            bell.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Instances followed now.
    pub fn followed(&self) -> usize {
        self.bells.lock().expect("output bells").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ring_wakes_followers_and_the_bell_goes_with_the_last() {
        let bells = Bells::default();
        let key = (Uuid::new_v4(), 3);
        bells.ring(key); // nobody follows: nothing kept
        assert_eq!(bells.followed(), 0);
        let mut a = bells.listen(key).unwrap();
        let b = bells.listen(key).unwrap();
        assert_eq!(bells.followed(), 1);
        bells.ring(key);
        a.rung.changed().await.unwrap();
        assert_eq!(*a.rung.borrow_and_update(), 1);
        drop(b);
        assert_eq!(bells.followed(), 1);
        drop(a);
        assert_eq!(bells.followed(), 0);
    }

    #[test]
    fn followers_are_bounded() {
        let bells = Bells::default();
        let task = Uuid::new_v4();
        let held: Vec<Listener> = (0..MAX_FOLLOWED as i32)
            .map(|i| bells.listen((task, i)).unwrap())
            .collect();
        assert!(bells.listen((task, -1)).is_none());
        // One more follower of an instance already followed is fine.
        assert!(bells.listen((task, 0)).is_some());
        drop(held);
        assert_eq!(bells.followed(), 0);
    }
}
