//! What every request handler and background loop shares.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use hearth_core::clock::Clock;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::keys::JwtKeys;
use crate::launcher::Launcher;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// How long a token row read from the database is trusted without reading it again.
const TOKEN_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Most token rows kept in memory.
const MAX_TOKENS: usize = 10_000;

/// How long a pool found without waiting tasks is believed so (see `known_without_waiting`).
const WAITING_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Most pools remembered without waiting tasks.
const MAX_POOLS_KNOWN: usize = 100_000;

/// Pools whose instance lengths are remembered (see `AppState::queue_depth`); past it the
/// memory starts over, which only delays queueing on slots until the next ends.
const MAX_QUICK_POOLS: usize = 100_000;
/// Weight of one report batch in a pool's share of quick ends.
const QUICK_WEIGHT: f32 = 0.3;

/// Most assignments kept for one node's poll; past it, the poll reads them back.
const MAX_HANDED: usize = 4096;

/// Constants as (key, value), in order of precedence applied.
pub type InheritedConstants = Arc<Vec<(String, String)>>;

#[derive(Default)]
struct Inherited {
    pools: HashMap<Uuid, InheritedConstants>,
    generation: u64,
}

pub struct AppState {
    /// Reads, and writes outside a transaction.
    pub db: DatabaseConnection,
    /// Write transactions (see `db::connect_pair`): `state.write()`, `db::in_write`.
    pub writer: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub keys: JwtKeys,
    pub settings: Settings,
    pub metrics: Metrics,
    pub launcher: Arc<dyn Launcher>,
    /// URL agents are given to reach this server.
    pub server_url: String,
    /// Wakes the resize loop early (a pool was created, changed or closed).
    pub resize_wake: Notify,
    node_signals: Mutex<HashMap<Uuid, Arc<Notify>>>,
    /// Assignments the dispatcher just placed on a node, for its woken poll to answer
    /// without reading them back (see `hand_over`).
    handed: Mutex<HashMap<Uuid, Vec<hearth_api::agent::Assignment>>>,
    dispatch_locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    evaluation_locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// When each live node was last heard from, in real time: liveness is about machines,
    /// not business time, so a test moving the injected clock cannot make a node look dead.
    pub liveness: Mutex<HashMap<Uuid, std::time::Instant>>,
    /// When each scaled pool is evaluated next, and what its last evaluation read (see
    /// `schedule`).
    pub schedule: crate::schedule::Schedule,
    /// Pools with a background dispatch asked for and not started yet: more work arriving
    /// meanwhile joins it instead of queueing another (one entry per pool at most).
    pending_dispatch: Mutex<std::collections::HashSet<Uuid>>,
    /// Committed changes, announced once each (see `feed`).
    pub feed: crate::feed::Feed,
    /// Wakes the readers following an instance's output (see `bells`).
    pub bells: crate::bells::Bells,
    /// Each tenant's budgets as last evaluated: whether new work is refused and pools
    /// wound down (see `services::budgets`).
    pub budgets: crate::services::verdicts::Verdicts,
    /// Set once the server begins to stop: long-lived answers (event streams, long polls)
    /// end at once instead of holding the shutdown.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Refused dashboard sign-ins, for the slowdown (see `services::sessions`).
    pub sign_ins: crate::throttle::Throttle,
    /// The constants each pool's tasks inherit (its profile's, then its own), so that
    /// handing out work reads neither row again (one entry per pool that ran work; dropped
    /// when the pool changes or ends, all dropped when a profile changes).
    inherited: Mutex<Inherited>,
    /// API token rows recently checked, by id, with when they were read (see
    /// `known_token`).
    tokens: Mutex<HashMap<Uuid, (crate::entities::api_token::Model, std::time::Instant)>>,
    /// Pools found without a task waiting on dependencies, with the generation of
    /// `waiting_generation` the finding read (see `known_without_waiting`).
    without_waiting: Mutex<HashMap<Uuid, (u64, std::time::Instant)>>,
    /// Bumped by every task submitted to wait on dependencies.
    waiting_generation: std::sync::atomic::AtomicU64,
    /// Per pool, a moving share of its recent instance ends that came soon after their
    /// start (see `queue_depth`); at most `MAX_QUICK_POOLS` entries.
    quick_ends: Mutex<HashMap<Uuid, f32>>,
    seq: AtomicI64,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        writer: DatabaseConnection,
        settings: Settings,
        keys: JwtKeys,
        launcher: Arc<dyn Launcher>,
        server_url: String,
        last_seq: i64,
    ) -> Self {
        let feed = crate::feed::Feed::new(settings.event_backlog);
        AppState {
            db,
            writer,
            clock: settings.clock.clone(),
            keys,
            settings,
            metrics: Metrics::new(),
            launcher,
            server_url,
            resize_wake: Notify::new(),
            node_signals: Mutex::new(HashMap::new()),
            handed: Mutex::new(HashMap::new()),
            dispatch_locks: Mutex::new(HashMap::new()),
            evaluation_locks: Mutex::new(HashMap::new()),
            liveness: Mutex::new(HashMap::new()),
            schedule: crate::schedule::Schedule::default(),
            pending_dispatch: Mutex::new(std::collections::HashSet::new()),
            feed,
            bells: Default::default(),
            budgets: Default::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            sign_ins: Default::default(),
            inherited: Mutex::new(Inherited::default()),
            tokens: Mutex::new(HashMap::new()),
            without_waiting: Mutex::new(HashMap::new()),
            waiting_generation: std::sync::atomic::AtomicU64::new(0),
            quick_ends: Mutex::new(HashMap::new()),
            seq: AtomicI64::new(last_seq),
        }
    }

    /// Notes the ends of one report batch of a pool: `quick` of its `ends` came within
    /// `engine::batch::QUICK` of their start.
    pub fn note_ends(&self, pool: Uuid, quick: usize, ends: usize) {
        if ends == 0 {
            return;
        }
        let share = quick as f32 / ends as f32;
        let mut map = self.quick_ends.lock().expect("quick ends map");
        if map.len() >= MAX_QUICK_POOLS && !map.contains_key(&pool) {
            map.clear();
        }
        let seen = map.entry(pool).or_insert(0.0);
        *seen += QUICK_WEIGHT * (share - *seen);
    }

    /// How many instances may wait behind the one running on each busy slot of a pool: the
    /// setting when most of the pool's recent instances were short, else none. A slot's
    /// waiting instance starts the moment it frees, without a round trip to the server;
    /// for long instances that gains nothing and would keep work from a node that boots
    /// meanwhile, so it is kept to pools where it pays.
    pub fn queue_depth(&self, pool: Uuid) -> u32 {
        if self.settings.queue_behind_slot == 0 {
            return 0;
        }
        let quick = self
            .quick_ends
            .lock()
            .expect("quick ends map")
            .get(&pool)
            .copied()
            .unwrap_or(0.0);
        if quick >= 0.5 {
            self.settings.queue_behind_slot
        } else {
            0
        }
    }

    /// Begins a write transaction on the writer connection (see `db::write`).
    pub async fn write(&self) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
        crate::db::write(&self.writer).await
    }

    /// Announces a committed change on the feed, stamped with the clock's now.
    pub fn announce(&self, tenant: Uuid, change: crate::feed::Change) {
        if let crate::feed::Change::InstanceEnded {
            task, instance_id, ..
        } = &change
        {
            self.bells.ring((*task, *instance_id));
        }
        self.feed.publish(tenant, self.clock.now(), change);
    }

    /// Announces a task's progress as its row says after a commit.
    pub fn announce_progress(&self, t: &crate::entities::task::Model) {
        self.announce(t.tenant_id, crate::feed::progress_of(t));
    }

    /// Asks the resize loop for an evaluation of a pool by `at` (now, for a new pool or new
    /// settings), and wakes it.
    pub fn evaluate_by(&self, pool: Uuid, at: chrono::DateTime<chrono::Utc>) {
        self.schedule.due_by(pool, at);
        self.resize_wake.notify_one();
    }

    /// Asks for a background dispatch of a pool; false when one is already waiting to start
    /// (it will see this work too, as it reads the queue after it starts).
    pub fn ask_dispatch(&self, pool: Uuid) -> bool {
        self.pending_dispatch
            .lock()
            .expect("pending dispatch set")
            .insert(pool)
    }

    /// The background dispatch of a pool starts: work arriving from now on asks again.
    pub fn dispatch_starts(&self, pool: Uuid) {
        self.pending_dispatch
            .lock()
            .expect("pending dispatch set")
            .remove(&pool);
    }

    /// The constants a pool's tasks inherit, if known, and the generation to hand back to
    /// `remember_inherited` with what was read otherwise.
    pub fn inherited_of(&self, pool: Uuid) -> (Option<InheritedConstants>, u64) {
        let inherited = self.inherited.lock().expect("inherited constants");
        (inherited.pools.get(&pool).cloned(), inherited.generation)
    }

    /// Keeps what was read for a pool, unless a change came since `generation` was handed
    /// out (what was read may predate it).
    pub fn remember_inherited(&self, pool: Uuid, constants: InheritedConstants, generation: u64) {
        let mut inherited = self.inherited.lock().expect("inherited constants");
        if inherited.generation == generation {
            inherited.pools.insert(pool, constants);
        }
    }

    /// A pool's constants (`Some`) or a profile's (`None`: every pool) may have changed.
    pub fn forget_inherited(&self, pool: Option<Uuid>) {
        let mut inherited = self.inherited.lock().expect("inherited constants");
        inherited.generation += 1;
        match pool {
            Some(pool) => {
                inherited.pools.remove(&pool);
            }
            None => inherited.pools.clear(),
        }
    }

    /// A token's row as read less than `TOKEN_FRESH` ago, so that a request costs no read
    /// of it. A revocation on this server drops it at once (`forget_token`); one made by
    /// another server on the same database counts here within `TOKEN_FRESH`.
    pub fn known_token(&self, id: Uuid) -> Option<crate::entities::api_token::Model> {
        let tokens = self.tokens.lock().expect("token cache");
        tokens
            .get(&id)
            .filter(|(_, read)| read.elapsed() < TOKEN_FRESH)
            .map(|(row, _)| row.clone())
    }

    /// Keeps a token row just read; at most `MAX_TOKENS` are kept (all are dropped when
    /// full, and read again as they are used).
    pub fn remember_token(&self, row: &crate::entities::api_token::Model) {
        let mut tokens = self.tokens.lock().expect("token cache");
        if tokens.len() >= MAX_TOKENS {
            tokens.clear();
        }
        tokens.insert(row.id, (row.clone(), std::time::Instant::now()));
    }

    pub fn forget_token(&self, id: Uuid) {
        self.tokens.lock().expect("token cache").remove(&id);
    }

    /// The generation to hand to `note_without_waiting` with what a read starting now finds.
    pub fn waiting_generation(&self) -> u64 {
        self.waiting_generation.load(Ordering::SeqCst)
    }

    /// A task waiting on dependencies was committed: every pool must be read again.
    pub fn task_waits(&self) {
        self.waiting_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A read begun at `generation` found no task of the pool waiting on dependencies.
    pub fn note_without_waiting(&self, pool: Uuid, generation: u64) {
        let mut known = self.without_waiting.lock().expect("waiting pools");
        if known.len() >= MAX_POOLS_KNOWN {
            known.clear();
        }
        known.insert(pool, (generation, std::time::Instant::now()));
    }

    /// The pool has no task waiting on dependencies: no waiting task was submitted here since
    /// it was last read (and that read is less than `WAITING_FRESH` old, for tasks another
    /// server on the same database submitted), so a dispatch need not read them.
    pub fn known_without_waiting(&self, pool: Uuid) -> bool {
        let generation = self.waiting_generation();
        self.without_waiting
            .lock()
            .expect("waiting pools")
            .get(&pool)
            .is_some_and(|(g, at)| *g == generation && at.elapsed() < WAITING_FRESH)
    }

    pub fn data_dir(&self) -> &PathBuf {
        &self.settings.data_dir
    }

    pub fn max_body_bytes(&self) -> usize {
        self.settings.max_body_bytes
    }

    /// The signal an agent's long poll waits on.
    pub fn node_signal(&self, node: Uuid) -> Arc<Notify> {
        let mut map = self.node_signals.lock().expect("node signal map");
        map.entry(node)
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Wakes a node's long poll: it has new work, a cancellation or a shutdown.
    pub fn wake_node(&self, node: Uuid) {
        self.node_signal(node).notify_one();
    }

    pub fn forget_node(&self, node: Uuid) {
        self.node_signals
            .lock()
            .expect("node signal map")
            .remove(&node);
        self.take_handed(node);
    }

    /// Leaves assignments just committed for a node's woken poll. Only a hint: every poll
    /// drops what is left before it reads the node's work from the database, so a poll
    /// that was not waiting loses nothing, and what is kept never exceeds one node's
    /// slots for long (at most `MAX_HANDED` per node).
    pub fn hand_over(&self, node: Uuid, assignments: Vec<hearth_api::agent::Assignment>) {
        if assignments.is_empty() {
            return;
        }
        let mut handed = self.handed.lock().expect("handed assignments");
        let list = handed.entry(node).or_default();
        if list.len() + assignments.len() <= MAX_HANDED {
            list.extend(assignments);
        }
    }

    /// What was handed over to a node since its poll last looked (and forgets it).
    pub fn take_handed(&self, node: Uuid) -> Vec<hearth_api::agent::Assignment> {
        self.handed
            .lock()
            .expect("handed assignments")
            .remove(&node)
            .unwrap_or_default()
    }

    /// Serializes dispatch within one pool in this process: an instance is placed once.
    pub fn dispatch_lock(&self, pool: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.dispatch_locks.lock().expect("dispatch lock map");
        map.entry(pool).or_default().clone()
    }

    /// Serializes scaling evaluations of one pool (the loop and `POST .../resize` may meet):
    /// two evaluations of the same snapshot would both grow it.
    pub fn evaluation_lock(&self, pool: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.evaluation_locks.lock().expect("evaluation lock map");
        map.entry(pool).or_default().clone()
    }

    /// A strictly increasing submission number: FIFO order of tasks. Seeded from the wall
    /// clock in microseconds so numbers keep growing across restarts and replicas.
    pub fn next_seq(&self) -> i64 {
        let floor = chrono::Utc::now().timestamp_micros();
        let mut current = self.seq.load(Ordering::Relaxed);
        loop {
            let next = (current + 1).max(floor);
            match self
                .seq
                .compare_exchange(current, next, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => current = seen,
            }
        }
    }
}
