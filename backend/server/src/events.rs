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

use crate::feed::Event;

/// Events kept per tenant by default (`--event-backlog`).
pub const DEFAULT_BACKLOG: usize = 10_000;
/// Events a live subscriber may be behind before it is disconnected.
pub const LIVE_LAG: usize = 1_024;

pub struct Logs {
    backlog: usize,
    /// Ids at or below this one were given by an earlier process (or never).
    boot_floor: u64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    last_id: u64,
    tenants: HashMap<Uuid, TenantLog>,
}

struct TenantLog {
    events: VecDeque<Arc<Event>>,
    /// The newest id this log no longer holds (dropped, or from before this process).
    dropped_through: u64,
    live: broadcast::Sender<Arc<Event>>,
}

impl TenantLog {
    fn new(boot_floor: u64) -> TenantLog {
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
pub struct Subscription {
    pub reset: bool,
    pub replay: Vec<Arc<Event>>,
    /// The newest id given when it subscribed: live events come after it.
    pub through: u64,
    pub live: broadcast::Receiver<Arc<Event>>,
}

fn now_id() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms.saturating_mul(1024)
}

impl Logs {
    pub fn new(backlog: usize) -> Logs {
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
    pub fn record(
        &self,
        tenant: Uuid,
        make: impl FnOnce(u64) -> Event,
        also: impl FnOnce(&Arc<Event>),
    ) {
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
            log.dropped_through = old.id;
        }
        log.events.push_back(event.clone());
        if log.live.receiver_count() > 0 {
            let _ = log.live.send(event.clone());
        }
        also(&event);
    }

    /// Follows a tenant's events: from now on when `after` is `None`, else from the first
    /// event after `after`.
    pub fn subscribe(&self, tenant: Uuid, after: Option<u64>) -> Subscription {
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
        let start = log.events.partition_point(|e| e.id <= after);
        Subscription {
            reset,
            replay: log.events.range(start..).cloned().collect(),
            through,
            live,
        }
    }

    /// The newest id given so far (the id a client "has" when it starts from now).
    pub fn last_id(&self) -> u64 {
        self.inner.lock().expect("event logs lock").last_id
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

/// Which events a subscriber wants (`GET /events?pool=&task=&types=`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub pool: Option<Uuid>,
    pub task: Option<Uuid>,
    /// Kinds (`Change::kind`); empty: every kind.
    pub types: Vec<&'static str>,
}

impl Filter {
    pub fn admits(&self, event: &Event) -> bool {
        (self.types.is_empty() || self.types.contains(&event.change.kind()))
            && self.pool.is_none_or(|p| event.change.pool_id() == p)
            && self.task.is_none_or(|t| event.change.task_id() == Some(t))
    }
}

/// One event as Server-Sent Events text: `id`, `event` (its kind) and `data` (its JSON).
pub fn sse_frame(event: &Event) -> String {
    format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.id,
        event.change.kind(),
        event.json()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Change;
    use chrono::Utc;

    fn node(state: &str) -> Change {
        Change::Node {
            pool: Uuid::nil(),
            node: Uuid::nil(),
            state: state.into(),
        }
    }

    fn record(logs: &Logs, tenant: Uuid, change: Change) -> u64 {
        let mut id = 0;
        logs.record(
            tenant,
            |i| {
                id = i;
                Event::new(i, 0, tenant, Utc::now(), change)
            },
            |_| {},
        );
        id
    }

    #[test]
    fn ids_increase_across_tenants_and_replay_starts_after_the_last_id() {
        let logs = Logs::new(100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let a1 = record(&logs, a, node("Booting"));
        let b1 = record(&logs, b, node("Booting"));
        let a2 = record(&logs, a, node("Ready"));
        assert!(a1 < b1 && b1 < a2);
        let sub = logs.subscribe(a, Some(a1));
        assert!(!sub.reset);
        assert_eq!(sub.replay.iter().map(|e| e.id).collect::<Vec<_>>(), [a2]);
        let sub = logs.subscribe(b, Some(a1));
        assert_eq!(sub.replay.iter().map(|e| e.id).collect::<Vec<_>>(), [b1]);
        assert!(logs.subscribe(a, Some(a2)).replay.is_empty());
    }

    #[test]
    fn the_backlog_is_bounded_and_a_client_behind_it_is_told_to_reset() {
        let logs = Logs::new(3);
        let t = Uuid::new_v4();
        let ids: Vec<u64> = (0..5).map(|_| record(&logs, t, node("Ready"))).collect();
        assert_eq!(logs.kept(t), 3);
        let behind = logs.subscribe(t, Some(ids[0]));
        assert!(behind.reset, "ids[1] was dropped");
        assert_eq!(behind.replay.len(), 3);
        let kept = logs.subscribe(t, Some(ids[1]));
        assert!(!kept.reset, "everything after ids[1] is kept");
        assert_eq!(
            kept.replay.iter().map(|e| e.id).collect::<Vec<_>>(),
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
        let first = record(&logs, t, node("Booting"));
        let mut sub = logs.subscribe(t, Some(first - 1));
        let second = record(&logs, t, node("Ready"));
        assert_eq!(sub.replay.iter().map(|e| e.id).collect::<Vec<_>>(), [first]);
        assert_eq!(sub.live.try_recv().expect("live").id, second);
        assert!(sub.live.try_recv().is_err());
        let other = logs.subscribe(Uuid::new_v4(), None);
        assert!(other.replay.is_empty() && !other.reset);
    }

    #[test]
    fn filters_select_by_pool_task_and_kind() {
        let (pool, task) = (Uuid::new_v4(), Uuid::new_v4());
        let ended = Event::new(
            1,
            1,
            Uuid::nil(),
            Utc::now(),
            Change::InstanceEnded {
                pool,
                task,
                instance_id: 0,
                outcome: "Succeeded".into(),
                exit_code: Some(0),
            },
        );
        assert!(Filter::default().admits(&ended));
        let by_task = Filter {
            task: Some(task),
            ..Filter::default()
        };
        assert!(by_task.admits(&ended));
        let other_task = Filter {
            task: Some(Uuid::new_v4()),
            ..Filter::default()
        };
        assert!(!other_task.admits(&ended));
        let by_pool_and_kind = Filter {
            pool: Some(pool),
            types: vec!["node", "instanceEnded"],
            ..Filter::default()
        };
        assert!(by_pool_and_kind.admits(&ended));
        let nodes_only = Filter {
            types: vec!["node"],
            ..Filter::default()
        };
        assert!(!nodes_only.admits(&ended));
        let frame = sse_frame(&ended);
        assert!(
            frame.starts_with("id: 1\nevent: instanceEnded\ndata: {"),
            "{frame}"
        );
        assert!(frame.ends_with("}\n\n"));
        let data: serde_json::Value = serde_json::from_str(
            frame
                .lines()
                .nth(2)
                .unwrap()
                .strip_prefix("data: ")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data["id"], 1);
        assert_eq!(data["type"], "instanceEnded");
        assert_eq!(data["task"], task.to_string());
    }
}
