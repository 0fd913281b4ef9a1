//! The resize loop's schedule, in memory: when each scaled pool is due next, what its last
//! evaluation read (kept until a change of the pool is announced on the feed), its latest
//! decision, and the unchanged evaluations not written to that decision yet.
//!
//! The database stays the source of truth: a due time is written with every recorded
//! decision and by whoever asks for an evaluation (a new pool, a settings change), and the
//! schedule is loaded from those on start. What only lives here is cheap to lose: an
//! unchanged evaluation moves the pool's due time here and counts on its decision here;
//! the counts are written every [`WRITE_EVERY`] (and before the pool's next recorded
//! decision, and on a clean stop), so a crash loses at most that much of the counting and
//! never a decision. A restarted loop evaluates every pool once at start.
//!
//! Bounded: one entry per scaled pool.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hearth_core::scaling::{Policy, PoolSnapshot, RecordedDecision};
use uuid::Uuid;

/// How often unchanged evaluations are written to their decisions.
pub const WRITE_EVERY: chrono::Duration = chrono::Duration::seconds(5);

/// What an evaluation of a pool reads, as of its last read: valid until a change of the
/// pool (its row, a node, a task's progress) is announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub tenant: Uuid,
    pub policies: Vec<Policy>,
    pub period_seconds: i32,
    pub target_slots: i32,
    pub snapshot: PoolSnapshot,
}

/// A due pool, as the schedule knows it.
#[derive(Debug, Clone)]
pub struct Due {
    pub pool: Uuid,
    pub at: DateTime<Utc>,
    /// `None`: read the pool again.
    pub inputs: Option<Arc<Inputs>>,
    /// `None`: not known here (read it).
    pub latest: Option<Arc<RecordedDecision>>,
}

/// Unchanged evaluations of a decision not written yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unwritten {
    pub decision: Uuid,
    pub evaluations: i64,
    pub last_evaluated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Entry {
    due: Option<DateTime<Utc>>,
    inputs: Option<Arc<Inputs>>,
    latest: Option<Arc<RecordedDecision>>,
    unwritten: Option<Unwritten>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    queue: BTreeSet<(DateTime<Utc>, Uuid)>,
}

impl Inner {
    fn set_due(&mut self, pool: Uuid, at: Option<DateTime<Utc>>) {
        let entry = self.entries.entry(pool).or_default();
        if let Some(old) = entry.due.take() {
            self.queue.remove(&(old, pool));
        }
        entry.due = at;
        if let Some(at) = at {
            self.queue.insert((at, pool));
        }
    }
}

#[derive(Debug, Default)]
pub struct Schedule {
    inner: Mutex<Inner>,
}

impl Schedule {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("resize schedule")
    }

    /// Due times as stored (on start, and for pools the schedule does not know yet): a
    /// pool already known keeps what it has.
    pub fn load(&self, pools: impl IntoIterator<Item = (Uuid, DateTime<Utc>)>) {
        let mut inner = self.lock();
        for (pool, at) in pools {
            if inner.entries.get(&pool).is_none_or(|e| e.due.is_none()) {
                inner.set_due(pool, Some(at));
            }
        }
    }

    /// An evaluation is wanted at `at` or before: an earlier due time is kept.
    pub fn due_by(&self, pool: Uuid, at: DateTime<Utc>) {
        let mut inner = self.lock();
        let current = inner.entries.get(&pool).and_then(|e| e.due);
        if current.is_none_or(|due| at < due) {
            inner.set_due(pool, Some(at));
        }
    }

    /// The pool was evaluated and its decision recorded: next due at `next` (`None`: no
    /// longer scaled, forgotten), its inputs read again next time.
    pub fn evaluated(&self, pool: Uuid, next: Option<DateTime<Utc>>, latest: RecordedDecision) {
        let mut inner = self.lock();
        inner.set_due(pool, next);
        if next.is_none() {
            inner.entries.remove(&pool);
            return;
        }
        let entry = inner.entries.entry(pool).or_default();
        entry.inputs = None;
        if entry.unwritten.is_some_and(|u| u.decision != latest.id) {
            entry.unwritten = None;
        }
        entry.latest = Some(Arc::new(latest));
    }

    /// The pool is no longer scaled.
    pub fn forget(&self, pool: Uuid) {
        let mut inner = self.lock();
        inner.set_due(pool, None);
        inner.entries.remove(&pool);
    }

    /// Something the evaluation reads changed: the next one reads the pool again.
    pub fn changed(&self, pool: Uuid) {
        if let Some(entry) = self.lock().entries.get_mut(&pool) {
            entry.inputs = None;
        }
    }

    /// Changes were lost (the feed was behind): every pool is read again.
    pub fn changed_all(&self) {
        for entry in self.lock().entries.values_mut() {
            entry.inputs = None;
        }
    }

    /// What the evaluation read, kept for the next one unless a change comes first.
    pub fn remember_inputs(&self, pool: Uuid, inputs: Arc<Inputs>) {
        if let Some(entry) = self.lock().entries.get_mut(&pool) {
            entry.inputs = Some(inputs);
        }
    }

    /// The latest decision as read from the database.
    pub fn remember_latest(&self, pool: Uuid, latest: RecordedDecision) {
        if let Some(entry) = self.lock().entries.get_mut(&pool) {
            entry.latest = Some(Arc::new(latest));
        }
    }

    /// The pools due at `now`, earliest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<Due> {
        let inner = self.lock();
        inner
            .queue
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(at, pool)| {
                let entry = &inner.entries[pool];
                Due {
                    pool: *pool,
                    at: *at,
                    inputs: entry.inputs.clone(),
                    latest: entry.latest.clone(),
                }
            })
            .collect()
    }

    /// When the pool is due, if it is scheduled.
    pub fn due_at(&self, pool: Uuid) -> Option<DateTime<Utc>> {
        self.lock().entries.get(&pool).and_then(|e| e.due)
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.lock().queue.first().map(|(at, _)| *at)
    }

    /// An evaluation at `now` repeated the latest decision `decision` and held: counted
    /// here, and the pool is next due at `next`, unless its due time moved since it was
    /// read as due at `was_due` (then that is kept). False when the latest decision is no
    /// longer `decision` (nothing counted).
    pub fn held(
        &self,
        pool: Uuid,
        decision: Uuid,
        was_due: DateTime<Utc>,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(&pool) else {
            return false;
        };
        if entry.latest.as_ref().is_none_or(|l| l.id != decision) {
            return false;
        }
        let count = match entry.unwritten {
            Some(u) if u.decision == decision => u.evaluations + 1,
            _ => 1,
        };
        entry.unwritten = Some(Unwritten {
            decision,
            evaluations: count,
            last_evaluated_at: now,
        });
        if entry.due == Some(was_due) {
            inner.set_due(pool, Some(next));
        }
        true
    }

    /// Takes the unwritten counts of every pool (to write them).
    pub fn take_unwritten(&self) -> Vec<Unwritten> {
        self.lock()
            .entries
            .values_mut()
            .filter_map(|e| e.unwritten.take())
            .collect()
    }

    /// Takes the unwritten count of one pool (before its decision is recorded).
    pub fn take_unwritten_of(&self, pool: Uuid) -> Option<Unwritten> {
        self.lock()
            .entries
            .get_mut(&pool)
            .and_then(|e| e.unwritten.take())
    }

    /// The unwritten count of one pool, to show beside its stored decision.
    pub fn unwritten_of(&self, pool: Uuid) -> Option<Unwritten> {
        self.lock().entries.get(&pool).and_then(|e| e.unwritten)
    }

    /// Pools scheduled.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).expect("a time")
    }

    fn decision(id: Uuid) -> RecordedDecision {
        RecordedDecision {
            id,
            action: "hold".into(),
            target_slots: 0,
            wanted_slots: 0,
            reason: "nothing to do".into(),
            policy: None,
            period: None,
        }
    }

    fn inputs() -> Arc<Inputs> {
        Arc::new(Inputs {
            tenant: Uuid::nil(),
            policies: Vec::new(),
            period_seconds: 1,
            target_slots: 0,
            snapshot: PoolSnapshot {
                slots_per_node: 1,
                nodes: Vec::new(),
                queued_instances: 0,
            },
        })
    }

    #[test]
    fn pools_come_due_in_order_and_an_earlier_ask_wins() {
        let s = Schedule::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        s.load([(a, at(5)), (b, at(3))]);
        assert!(s.due(at(2)).is_empty());
        let due: Vec<Uuid> = s.due(at(5)).iter().map(|d| d.pool).collect();
        assert_eq!(due, vec![b, a]);
        s.due_by(a, at(1));
        s.due_by(a, at(4)); // later: ignored
        assert_eq!(s.due_at(a), Some(at(1)));
        assert_eq!(s.next_due(), Some(at(1)));
        // Loading again does not move a known pool.
        s.load([(a, at(9))]);
        assert_eq!(s.due_at(a), Some(at(1)));
        s.forget(a);
        assert_eq!(s.due_at(a), None);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn inputs_are_kept_until_a_change_is_announced() {
        let s = Schedule::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        s.load([(a, at(0)), (b, at(0))]);
        s.remember_inputs(a, inputs());
        s.remember_inputs(b, inputs());
        assert!(s.due(at(0)).iter().all(|d| d.inputs.is_some()));
        s.changed(a);
        let due = s.due(at(0));
        assert!(due.iter().find(|d| d.pool == a).unwrap().inputs.is_none());
        assert!(due.iter().find(|d| d.pool == b).unwrap().inputs.is_some());
        s.changed_all();
        assert!(s.due(at(0)).iter().all(|d| d.inputs.is_none()));
        // An unknown pool's change is nothing to keep.
        s.changed(Uuid::new_v4());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn unchanged_evaluations_are_counted_until_taken() {
        let s = Schedule::default();
        let pool = Uuid::new_v4();
        let d = Uuid::new_v4();
        s.load([(pool, at(0))]);
        // Not counted before the latest decision is known.
        assert!(!s.held(pool, d, at(0), at(1), at(0)));
        s.remember_latest(pool, decision(d));
        assert!(s.held(pool, d, at(0), at(1), at(0)));
        assert!(s.held(pool, d, at(1), at(2), at(1)));
        assert_eq!(s.due_at(pool), Some(at(2)));
        assert_eq!(
            s.unwritten_of(pool),
            Some(Unwritten {
                decision: d,
                evaluations: 2,
                last_evaluated_at: at(1)
            })
        );
        assert_eq!(s.take_unwritten().len(), 1);
        assert!(s.take_unwritten().is_empty());
        // A due time moved meanwhile (someone asked for an evaluation) is kept.
        s.due_by(pool, at(1));
        assert!(s.held(pool, d, at(2), at(3), at(2)));
        assert_eq!(s.due_at(pool), Some(at(1)));
        assert_eq!(s.take_unwritten_of(pool).map(|u| u.evaluations), Some(1));
        // A new decision: counts of the old one are not carried over.
        assert!(s.held(pool, d, at(1), at(3), at(2)));
        let e = Uuid::new_v4();
        s.evaluated(pool, Some(at(9)), decision(e));
        assert_eq!(s.unwritten_of(pool), None);
        assert!(!s.held(pool, d, at(9), at(10), at(9)));
        assert_eq!(s.due_at(pool), Some(at(9)));
        s.evaluated(pool, None, decision(e));
        assert_eq!(s.due_at(pool), None);
        assert!(s.is_empty());
    }
}
