//! What the agent knows about its instances, shared by the poll loop, the heartbeat and the
//! instance tasks (behind one `tokio::sync::Mutex`, held only for short, non-IO sections).
//!
//! An instance is *running* from the moment it is admitted until its `/finished` is
//! delivered, even after its process exited: the protocol's `running` list means "started
//! and not yet reported finished". Only live processes take a slot.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

use super::output::OutputBuffer;
use super::wire::Assignment;

/// Finished uuids remembered so that a late duplicate assignment is never run again. Bounded
/// so that a node living for months does not grow without end; a duplicate older than this
/// many instances is not a realistic race.
const REMEMBERED_FINISHED: usize = 100_000;

#[derive(Debug, Default)]
pub struct Instances {
    running: HashMap<Uuid, RunningInstance>,
    /// Assignments queued behind the instance running on their slot, in arrival order; each
    /// is also in `running` (the server counts it as this node's).
    waiting: VecDeque<Assignment>,
    /// (instance, attempt) pairs already run here.
    finished: Recent<(Uuid, u32)>,
}

#[derive(Debug, Default)]
pub struct RunningInstance {
    /// The attempt being run (see `Assignment::attempt`).
    pub attempt: u32,
    /// Process group of the child; `None` until spawned (or if spawning failed).
    pub pgid: Option<i32>,
    /// The process exited; only reports are left to deliver.
    pub exited: bool,
    /// A kill was asked for (cancel, `/started` answered 409, agent shutdown).
    pub killing: bool,
    /// Queued behind the instance running on its slot: no process yet, no slot taken.
    pub waiting: bool,
    /// The slot the server placed it on, when it said.
    pub slot: Option<i64>,
    pub output: OutputBuffer,
}

/// Assignments of one poll answer, sorted out.
#[derive(Debug, Default, PartialEq)]
pub struct Admission {
    /// To start now; already recorded as running.
    pub start: Vec<Assignment>,
    /// New, but no slot is free: left to a later poll (they stay assigned to this node).
    /// Only assignments without a slot: one placed on a busy slot waits behind it.
    pub deferred: usize,
    /// Queued behind the instance running on their slot (see `next_to_start`).
    pub waiting: usize,
    /// Already running, already finished, or repeated in the answer.
    pub duplicates: usize,
}

/// What a `cancel` of one uuid asks the caller to do.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelAction {
    /// Signal this process group.
    Kill(i32),
    /// Nothing to signal now: not spawned yet (its task kills it once spawned), already
    /// exited, already being killed, or unknown (remembered so it is never started).
    Nothing,
}

impl Instances {
    pub fn slots_in_use(&self) -> usize {
        self.running.values().filter(|i| i.holds_slot()).count()
    }

    /// Whether assignments wait behind busy slots: the node has work for its next free slots
    /// without asking the server.
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether a live process holds `slot`.
    fn slot_taken(&self, slot: i64) -> bool {
        self.running
            .values()
            .any(|i| i.holds_slot() && i.slot == Some(slot))
    }

    /// The `running` list of `/heartbeat` and `/poll`.
    pub fn running_uuids(&self) -> Vec<Uuid> {
        self.running.keys().copied().collect()
    }

    pub fn get_mut(&mut self, uuid: &Uuid) -> Option<&mut RunningInstance> {
        self.running.get_mut(uuid)
    }

    /// Sorts out a poll answer: never the same uuid twice, never more than `slots` live,
    /// never one the same answer cancels (`cancelled`). A cancel is not remembered past its
    /// answer: the server cancels what the agent said it runs, so a later assignment of the
    /// same uuid is a new attempt (a retry placed here again), which must run.
    ///
    /// An assignment on a slot a live process holds (the server queues a short instance
    /// behind the running one, so that the slot is refilled without a round trip) waits for
    /// that slot: `next_to_start` hands it out once the slot frees.
    pub fn admit(
        &mut self,
        assignments: Vec<Assignment>,
        cancelled: &[Uuid],
        slots: usize,
    ) -> Admission {
        let mut admission = Admission::default();
        let mut free = slots.saturating_sub(self.slots_in_use());
        for assignment in assignments {
            let uuid = assignment.instance_uuid;
            let slot = assignment.slot_index;
            if self.running.contains_key(&uuid)
                || self.finished.contains(&(uuid, assignment.attempt))
                || cancelled.contains(&uuid)
            {
                admission.duplicates += 1;
            } else if free > 0 && !slot.is_some_and(|s| self.slot_taken(s)) {
                free -= 1;
                self.running.insert(
                    uuid,
                    RunningInstance {
                        attempt: assignment.attempt,
                        slot,
                        ..RunningInstance::default()
                    },
                );
                admission.start.push(assignment);
            } else if slot.is_some() {
                self.running.insert(
                    uuid,
                    RunningInstance {
                        attempt: assignment.attempt,
                        slot,
                        waiting: true,
                        ..RunningInstance::default()
                    },
                );
                self.waiting.push_back(assignment);
                admission.waiting += 1;
            } else {
                admission.deferred += 1;
            }
        }
        admission
    }

    /// The waiting assignments that may start now, oldest first: each on a slot no live
    /// process holds, within the node's `slots`. Each comes with whether it was cancelled
    /// while it waited (then it must not start; it is marked exited).
    pub fn next_to_start(&mut self, slots: usize) -> Vec<(Assignment, bool)> {
        let mut free = slots.saturating_sub(self.slots_in_use());
        let mut out = Vec::new();
        let mut k = 0;
        while k < self.waiting.len() {
            let assignment = &self.waiting[k];
            let uuid = assignment.instance_uuid;
            let Some(instance) = self.running.get(&uuid).filter(|i| i.waiting) else {
                // Gone meanwhile (reported, or the agent stopped it): forget it.
                self.waiting.remove(k);
                continue;
            };
            if instance.killing {
                let assignment = self.waiting.remove(k).expect("index checked");
                let instance = self.running.get_mut(&uuid).expect("checked above");
                instance.waiting = false;
                instance.exited = true;
                out.push((assignment, true));
                continue;
            }
            if free == 0 || assignment.slot_index.is_some_and(|s| self.slot_taken(s)) {
                k += 1;
                continue;
            }
            let assignment = self.waiting.remove(k).expect("index checked");
            self.running.get_mut(&uuid).expect("checked above").waiting = false;
            free -= 1;
            out.push((assignment, false));
        }
        out
    }

    pub fn cancel(&mut self, uuid: Uuid) -> CancelAction {
        match self.running.get_mut(&uuid) {
            Some(instance) => instance.request_kill(),
            // Not running here (already reported finished): nothing to stop.
            None => CancelAction::Nothing,
        }
    }

    /// Marks every live instance for killing; the process groups to signal.
    pub fn kill_all(&mut self) -> Vec<i32> {
        self.running
            .values_mut()
            .filter_map(|i| match i.request_kill() {
                CancelAction::Kill(pgid) => Some(pgid),
                CancelAction::Nothing => None,
            })
            .collect()
    }

    /// Process groups still alive, for the SIGKILL after the grace.
    pub fn live_groups(&self) -> Vec<i32> {
        self.running
            .values()
            .filter(|i| i.holds_slot())
            .filter_map(|i| i.pgid)
            .collect()
    }

    /// `/finished` was delivered (or the server no longer wants it).
    pub fn complete(&mut self, uuid: Uuid) {
        if let Some(done) = self.running.remove(&uuid) {
            self.finished.insert((uuid, done.attempt));
        }
    }
}

impl RunningInstance {
    /// Spawned (or being spawned) and not yet exited.
    fn holds_slot(&self) -> bool {
        !self.exited && !self.waiting
    }

    fn request_kill(&mut self) -> CancelAction {
        if self.exited || self.killing {
            return CancelAction::Nothing;
        }
        self.killing = true;
        match self.pgid {
            Some(pgid) => CancelAction::Kill(pgid),
            None => CancelAction::Nothing,
        }
    }
}

/// A set that forgets its oldest members beyond a bound.
#[derive(Debug)]
struct Recent<K> {
    set: HashSet<K>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Copy> Default for Recent<K> {
    fn default() -> Self {
        Self::with_cap(REMEMBERED_FINISHED)
    }
}

impl<K: std::hash::Hash + Eq + Copy> Recent<K> {
    fn with_cap(cap: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn contains(&self, key: &K) -> bool {
        self.set.contains(key)
    }

    fn insert(&mut self, key: K) {
        if !self.set.insert(key) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > self.cap
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(uuid: Uuid) -> Assignment {
        Assignment {
            instance_uuid: uuid,
            attempt: 1,
            task_uuid: None,
            instance_id: None,
            slot_index: None,
            command: "true".into(),
            env: Default::default(),
            workdir: "job/x".into(),
        }
    }

    fn uuids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn admits_up_to_the_free_slots() {
        let mut s = Instances::default();
        let ids = uuids(3);
        let a = s.admit(ids.iter().copied().map(assignment).collect(), &[], 2);
        assert_eq!(a.start.len(), 2);
        assert_eq!(a.deferred, 1);
        assert_eq!(s.slots_in_use(), 2);
        assert_eq!(s.running_uuids().len(), 2);
    }

    #[test]
    fn ignores_running_finished_and_repeated_uuids() {
        let mut s = Instances::default();
        let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        s.admit(vec![assignment(a), assignment(b)], &[], 4);
        s.complete(b);
        let second = s.admit(
            vec![assignment(a), assignment(b), assignment(c), assignment(c)],
            &[],
            4,
        );
        assert_eq!(second.start, vec![assignment(c)]);
        assert_eq!(second.duplicates, 3);
    }

    #[test]
    fn an_exited_instance_frees_its_slot_but_stays_running_until_reported() {
        let mut s = Instances::default();
        let [a, b] = [Uuid::new_v4(), Uuid::new_v4()];
        s.admit(vec![assignment(a)], &[], 1);
        assert_eq!(s.admit(vec![assignment(b)], &[], 1).deferred, 1);
        s.get_mut(&a).unwrap().exited = true;
        assert_eq!(s.admit(vec![assignment(b)], &[], 1).start.len(), 1);
        assert_eq!(s.running_uuids().len(), 2);
    }

    #[test]
    fn an_assignment_its_own_answer_cancels_is_not_started() {
        let mut s = Instances::default();
        let a = Uuid::new_v4();
        assert_eq!(s.cancel(a), CancelAction::Nothing);
        assert_eq!(s.admit(vec![assignment(a)], &[a], 1).duplicates, 1);
    }

    #[test]
    fn a_cancel_of_a_finished_uuid_does_not_refuse_its_retry() {
        let mut s = Instances::default();
        let a = Uuid::new_v4();
        assert_eq!(s.admit(vec![assignment(a)], &[], 1).start.len(), 1);
        s.get_mut(&a).unwrap().exited = true;
        s.complete(a);
        // The server, reading a stale `running` list, cancels what already finished here;
        // later the instance's retry is placed on this node again.
        assert_eq!(s.cancel(a), CancelAction::Nothing);
        let mut retry = assignment(a);
        retry.attempt = 2;
        assert_eq!(s.admit(vec![retry], &[], 1).start.len(), 1);
        // The attempt that ran is still never run twice.
        assert_eq!(s.admit(vec![assignment(a)], &[], 1).duplicates, 1);
    }

    #[test]
    fn cancel_signals_a_spawned_group_once() {
        let mut s = Instances::default();
        let [a, b] = [Uuid::new_v4(), Uuid::new_v4()];
        s.admit(vec![assignment(a), assignment(b)], &[], 2);
        s.get_mut(&a).unwrap().pgid = Some(42);
        assert_eq!(s.cancel(a), CancelAction::Kill(42));
        assert_eq!(s.cancel(a), CancelAction::Nothing);
        // Not spawned yet: flagged, its task kills it once it has a pgid.
        assert_eq!(s.cancel(b), CancelAction::Nothing);
        assert!(s.get_mut(&b).unwrap().killing);
        assert_eq!(s.live_groups(), vec![42]);
    }

    fn on_slot(uuid: Uuid, slot: i64) -> Assignment {
        Assignment {
            slot_index: Some(slot),
            ..assignment(uuid)
        }
    }

    #[test]
    fn an_assignment_on_a_busy_slot_waits_for_that_slot() {
        let mut s = Instances::default();
        let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        let first = s.admit(vec![on_slot(a, 0), on_slot(b, 1)], &[], 2);
        assert_eq!(first.start.len(), 2);
        // c is queued behind a on slot 0: known as this node's, not started, no slot taken.
        let second = s.admit(vec![on_slot(c, 0)], &[], 2);
        assert_eq!((second.start.len(), second.waiting), (0, 1));
        assert_eq!(s.slots_in_use(), 2);
        assert!(s.running_uuids().contains(&c));
        // A repeat of it is a duplicate, not a second place in the queue.
        assert_eq!(s.admit(vec![on_slot(c, 0)], &[], 2).duplicates, 1);
        // b's slot frees: c still waits for slot 0.
        s.get_mut(&b).unwrap().exited = true;
        assert!(s.next_to_start(2).is_empty());
        s.get_mut(&a).unwrap().exited = true;
        let next = s.next_to_start(2);
        assert_eq!(next, vec![(on_slot(c, 0), false)]);
        assert_eq!(s.slots_in_use(), 1);
        assert!(s.next_to_start(2).is_empty());
    }

    #[test]
    fn a_waiting_assignment_never_exceeds_the_slots() {
        let mut s = Instances::default();
        let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        s.admit(vec![on_slot(a, 0)], &[], 1);
        // Slot 1 is free but the node has one slot: b waits until a exits.
        let admitted = s.admit(vec![on_slot(b, 1), on_slot(c, 0)], &[], 1);
        assert_eq!((admitted.start.len(), admitted.waiting), (0, 2));
        s.get_mut(&a).unwrap().exited = true;
        assert_eq!(s.next_to_start(1), vec![(on_slot(b, 1), false)]);
        assert!(s.next_to_start(1).is_empty());
    }

    #[test]
    fn a_waiting_assignment_cancelled_comes_out_as_cancelled_without_a_slot() {
        let mut s = Instances::default();
        let [a, b] = [Uuid::new_v4(), Uuid::new_v4()];
        s.admit(vec![on_slot(a, 0), on_slot(b, 0)], &[], 1);
        assert_eq!(s.cancel(b), CancelAction::Nothing);
        // It comes out at once, though its slot is still busy, and never holds one.
        assert_eq!(s.next_to_start(1), vec![(on_slot(b, 0), true)]);
        assert_eq!(s.slots_in_use(), 1);
        assert_eq!(s.live_groups(), Vec::<i32>::new());
        // Stopping the node marks the rest too.
        let c = Uuid::new_v4();
        s.admit(vec![on_slot(c, 0)], &[], 1);
        s.kill_all();
        s.get_mut(&a).unwrap().exited = true;
        assert_eq!(s.next_to_start(1), vec![(on_slot(c, 0), true)]);
    }

    #[test]
    fn remembered_uuids_are_bounded() {
        let mut r = Recent::with_cap(2);
        let ids = uuids(3);
        ids.iter().for_each(|u| r.insert(*u));
        assert!(!r.contains(&ids[0]));
        assert!(r.contains(&ids[1]) && r.contains(&ids[2]));
    }
}
