//! The change feed: every committed change of a pool, a node, a task's progress, an
//! instance's end or a scaling decision is announced here once, after its transaction
//! committed. Whoever wants to follow the engine subscribes (the event stream, metrics,
//! tests) instead of polling the database.
//!
//! Bounded: a subscriber that falls more than [`CAPACITY`] changes behind loses the oldest
//! (its next receive says how many, `Lagged`) and must read the current state again; a slow
//! subscriber never holds up the engine. Each change carries its tenant, so that a
//! subscriber serving one tenant filters out the others.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
pub use hearth_api::events::Change;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::entities::{node, pool, task};
use crate::events;

/// Changes kept for subscribers that are behind (a power of two: the channel rounds up to one).
pub const CAPACITY: usize = 16_384;

/// A pool's change as its row says after a commit.
pub fn pool_change(p: &pool::Model) -> Change {
    Change::Pool {
        pool: p.id,
        state: p.state.clone(),
        target_slots: p.target_slots,
    }
}

/// A node's change as its row says after a commit.
pub fn node_change(n: &node::Model) -> Change {
    Change::Node {
        pool: n.pool_id,
        node: n.id,
        state: n.state.clone(),
    }
}

/// The end of an attempt: the instance's row fields, its outcome, and its exit code or
/// signal as the agent reported them (a signal is stored as 128 + it).
pub fn instance_ended(
    pool: Uuid,
    task: Uuid,
    instance_id: i32,
    outcome: &str,
    exit_code: Option<i32>,
    signal: Option<i32>,
) -> Change {
    Change::InstanceEnded {
        pool,
        task,
        instance_id,
        outcome: outcome.to_owned(),
        exit_code: exit_code.or(signal.map(|s| 128 + s)),
    }
}

/// A task's progress as its row says after a commit.
pub fn progress_of(t: &task::Model) -> Change {
    Change::TaskProgress {
        pool: t.pool_id,
        task: t.id,
        state: t.state.clone(),
        queued: t.queued_count,
        assigned: t.assigned_count,
        executing: t.executing_count,
        succeeded: t.succeeded_count,
        failed: t.failed_count,
        cancelled: t.cancelled_count,
    }
}

/// One announced change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event's id in its tenant's stream (see `events`): increasing, also across
    /// restarts.
    pub id: u64,
    /// Increasing for the life of the process, in announcement order.
    #[serde(skip)]
    pub seq: u64,
    #[serde(skip)]
    pub tenant: Uuid,
    #[serde(with = "hearth_api::time")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub change: Change,
    /// Its JSON, written once for every subscriber (on first use).
    #[serde(skip)]
    json: OnceLock<String>,
}

impl Event {
    pub fn new(id: u64, seq: u64, tenant: Uuid, at: DateTime<Utc>, change: Change) -> Event {
        Event {
            id,
            seq,
            tenant,
            at,
            change,
            json: OnceLock::new(),
        }
    }

    /// `{"id","at","type",...the change's fields}`.
    pub fn json(&self) -> &str {
        self.json
            .get_or_init(|| serde_json::to_string(self).expect("an event serializes"))
    }
}

impl events::Numbered for Event {
    fn id(&self) -> u64 {
        self.id
    }
}

pub struct Feed {
    tx: broadcast::Sender<Arc<Event>>,
    seq: AtomicU64,
    /// Each tenant's numbered, bounded backlog (the event stream's source).
    pub logs: events::Logs<Event>,
}

impl Default for Feed {
    fn default() -> Self {
        Self::new(events::DEFAULT_BACKLOG)
    }
}

impl Feed {
    /// A feed keeping `backlog` events per tenant.
    pub fn new(backlog: usize) -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Feed {
            tx,
            seq: AtomicU64::new(0),
            logs: events::Logs::new(backlog),
        }
    }

    /// Announces a committed change. Never waits: with no subscriber it is dropped.
    pub fn publish(&self, tenant: Uuid, at: DateTime<Utc>, change: Change) {
        self.logs.record(
            tenant,
            |id| {
                let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
                Event::new(id, seq, tenant, at, change)
            },
            |event| {
                let _ = self.tx.send(event.clone());
            },
        );
    }

    /// Changes announced from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_change(state: &str) -> Change {
        Change::Node {
            pool: Uuid::nil(),
            node: Uuid::nil(),
            state: state.into(),
        }
    }

    #[tokio::test]
    async fn subscribers_get_each_change_once_in_order() {
        let feed = Feed::default();
        let mut a = feed.subscribe();
        let mut b = feed.subscribe();
        let tenant = Uuid::new_v4();
        for s in ["Booting", "Ready", "Terminated"] {
            feed.publish(tenant, Utc::now(), node_change(s));
        }
        for rx in [&mut a, &mut b] {
            let got: Vec<(u64, Change)> = (0..3)
                .map(|_| {
                    let e = rx.try_recv().expect("an event");
                    (e.seq, e.change.clone())
                })
                .collect();
            assert_eq!(
                got,
                vec![
                    (1, node_change("Booting")),
                    (2, node_change("Ready")),
                    (3, node_change("Terminated"))
                ]
            );
            assert!(rx.try_recv().is_err(), "nothing more");
        }
    }

    #[tokio::test]
    async fn a_subscriber_behind_by_more_than_the_capacity_is_told_what_it_lost() {
        let feed = Feed::default();
        let mut slow = feed.subscribe();
        let tenant = Uuid::new_v4();
        for _ in 0..CAPACITY + 5 {
            feed.publish(tenant, Utc::now(), node_change("Ready"));
        }
        match slow.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(lost)) => assert_eq!(lost, 5),
            other => panic!("expected Lagged(5), got {other:?}"),
        }
        assert_eq!(slow.try_recv().expect("the oldest kept").seq, 6);
    }

    #[test]
    fn a_change_says_its_kind_and_serializes_with_it() {
        let c = node_change("Ready");
        assert_eq!(c.kind(), "node");
        let json = serde_json::to_value(&c).expect("json");
        assert_eq!(json["type"], "node");
        assert_eq!(json["state"], "Ready");
    }
}
