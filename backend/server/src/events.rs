//! Tenants' event logs: every change the feed announces, numbered and kept per tenant in a
//! bounded backlog, so that `GET /events` can stream it live and replay what a reconnecting
//! client missed (`Last-Event-ID`).
//!
//! Ids: `max(previous + 1, unix ms × 1024)`, one sequence for the process. They increase
//! for every tenant and across restarts (a new process starts above the ids of the last as
//! long as it averaged fewer than 1,024 events per ms), and stay below 2^53, so JavaScript
//! reads them exactly. The backlog is memory: a restart empties it, and a client whose last
//! id is older than what a tenant's backlog still holds gets a `reset` event first (re-read
//! the state, then follow), never a silent gap.
//!
//! Bounded: at most `backlog` events per tenant (oldest dropped first), and each live
//! subscriber may fall [`LIVE_LAG`] events behind before it is dropped (its stream ends; a
//! reconnect with its last id replays from the backlog). The engine never waits for anyone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use uuid::Uuid;

/// Events kept per tenant by default (`--event-backlog`).
pub const DEFAULT_BACKLOG: usize = 10_000;
/// Events a live subscriber may be behind before it is disconnected.
pub const LIVE_LAG: usize = 1_024;

/// What a log keeps: anything with its id.
pub trait Numbered {
    fn id(&self) -> u64;
}

pub struct Logs<E> {
    backlog: usize,
    /// Ids at or below this one were given by an earlier process (or never).
    boot_floor: u64,
    inner: Mutex<Inner<E>>,
}

struct Inner<E> {
    last_id: u64,
    tenants: HashMap<Uuid, TenantLog<E>>,
}

struct TenantLog<E> {
    events: VecDeque<Arc<E>>,
    /// The newest id this log no longer holds (dropped, or from before this process).
    dropped_through: u64,
    live: broadcast::Sender<Arc<E>>,
}

impl<E> TenantLog<E> {
    fn new(boot_floor: u64) -> TenantLog<E> {
        TenantLog {
            events: VecDeque::new(),
            dropped_through: boot_floor,
            live: broadcast::channel(LIVE_LAG).0,
        }
    }
}

/// What a new subscriber gets: whether it missed events no longer kept (`reset`), the kept
/// events after its last id, and the live events from there on, with neither gap nor
/// repeat between the two.
pub struct Subscription<E> {
    pub reset: bool,
    pub replay: Vec<Arc<E>>,
    /// The newest id given when it subscribed: live events come after it.
    pub through: u64,
    pub live: broadcast::Receiver<Arc<E>>,
}

fn now_id() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms.saturating_mul(1024)
}

impl<E: Numbered> Logs<E> {
    pub fn new(backlog: usize) -> Logs<E> {
        let boot_floor = now_id();
        Logs {
            backlog: backlog.max(1),
            boot_floor,
            inner: Mutex::new(Inner {
                last_id: boot_floor,
                tenants: HashMap::new(),
            }),
        }
    }

    /// Numbers an event (`make` gets its id), keeps it in its tenant's log and hands it to
    /// the tenant's live subscribers; `also` runs under the same lock, so that whatever
    /// else sees the event sees events in id order.
    pub fn record(&self, tenant: Uuid, make: impl FnOnce(u64) -> E, also: impl FnOnce(&Arc<E>)) {
        let mut guard = self.inner.lock().expect("event logs lock");
        let inner = &mut *guard;
        let id = (inner.last_id + 1).max(now_id());
        inner.last_id = id;
        let event = Arc::new(make(id));
        let boot_floor = self.boot_floor;
        let log = inner
            .tenants
            .entry(tenant)
            .or_insert_with(|| TenantLog::new(boot_floor));
        if log.events.len() >= self.backlog
            && let Some(old) = log.events.pop_front()
        {
            log.dropped_through = old.id();
        }
        log.events.push_back(event.clone());
        if log.live.receiver_count() > 0 {
            let _ = log.live.send(event.clone());
        }
        also(&event);
    }

    /// Follows a tenant's events: from now on when `after` is `None`, else from the first
    /// event after `after`.
    pub fn subscribe(&self, tenant: Uuid, after: Option<u64>) -> Subscription<E> {
        let mut inner = self.inner.lock().expect("event logs lock");
        let through = inner.last_id;
        let boot_floor = self.boot_floor;
        let log = inner
            .tenants
            .entry(tenant)
            .or_insert_with(|| TenantLog::new(boot_floor));
        let live = log.live.subscribe();
        let Some(after) = after else {
            return Subscription {
                reset: false,
                replay: Vec::new(),
                through,
                live,
            };
        };
        let reset = after < log.dropped_through;
        // Ids increase along the log: skip what the client has.
        let start = log.events.partition_point(|e| e.id() <= after);
        Subscription {
            reset,
            replay: log.events.range(start..).cloned().collect(),
            through,
            live,
        }
    }

    /// A tenant's newest kept events, newest first, at most `n`.
    pub fn newest(&self, tenant: Uuid, n: usize) -> Vec<Arc<E>> {
        self.inner
            .lock()
            .expect("event logs lock")
            .tenants
            .get(&tenant)
            .map(|l| l.events.iter().rev().take(n).cloned().collect())
            .unwrap_or_default()
    }

    /// Events kept for a tenant (for tests and `/metrics`).
    pub fn kept(&self, tenant: Uuid) -> usize {
        self.inner
            .lock()
            .expect("event logs lock")
            .tenants
            .get(&tenant)
            .map_or(0, |l| l.events.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event of the tests: its id.
    #[derive(Debug)]
    struct Ev(u64);

    impl Numbered for Ev {
        fn id(&self) -> u64 {
            self.0
        }
    }

    fn record(logs: &Logs<Ev>, tenant: Uuid) -> u64 {
        let mut id = 0;
        logs.record(
            tenant,
            |i| {
                id = i;
                Ev(i)
            },
            |_| {},
        );
        id
    }

    #[test]
    fn ids_increase_across_tenants_and_replay_starts_after_the_last_id() {
        let logs = Logs::new(100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let a1 = record(&logs, a);
        let b1 = record(&logs, b);
        let a2 = record(&logs, a);
        assert!(a1 < b1 && b1 < a2);
        let sub = logs.subscribe(a, Some(a1));
        assert!(!sub.reset);
        assert_eq!(sub.replay.iter().map(|e| e.0).collect::<Vec<_>>(), [a2]);
        let sub = logs.subscribe(b, Some(a1));
        assert_eq!(sub.replay.iter().map(|e| e.0).collect::<Vec<_>>(), [b1]);
        assert!(logs.subscribe(a, Some(a2)).replay.is_empty());
    }

    #[test]
    fn the_backlog_is_bounded_and_a_client_behind_it_is_told_to_reset() {
        let logs = Logs::new(3);
        let t = Uuid::new_v4();
        let ids: Vec<u64> = (0..5).map(|_| record(&logs, t)).collect();
        assert_eq!(logs.kept(t), 3);
        let behind = logs.subscribe(t, Some(ids[0]));
        assert!(behind.reset, "ids[1] was dropped");
        assert_eq!(behind.replay.len(), 3);
        let kept = logs.subscribe(t, Some(ids[1]));
        assert!(!kept.reset, "everything after ids[1] is kept");
        assert_eq!(
            kept.replay.iter().map(|e| e.0).collect::<Vec<_>>(),
            ids[2..]
        );
        // An id of an earlier process: before this one's floor.
        assert!(logs.subscribe(t, Some(1)).reset);
        assert!(logs.subscribe(Uuid::new_v4(), Some(1)).reset);
    }

    #[tokio::test]
    async fn live_follows_the_replay_without_gap_or_repeat() {
        let logs = Logs::new(100);
        let t = Uuid::new_v4();
        let first = record(&logs, t);
        let mut sub = logs.subscribe(t, Some(first - 1));
        let second = record(&logs, t);
        assert_eq!(sub.replay.iter().map(|e| e.0).collect::<Vec<_>>(), [first]);
        assert_eq!(sub.live.try_recv().expect("live").0, second);
        assert!(sub.live.try_recv().is_err());
        let other: Subscription<Ev> = logs.subscribe(Uuid::new_v4(), None);
        assert!(other.replay.is_empty() && !other.reset);
    }
}
