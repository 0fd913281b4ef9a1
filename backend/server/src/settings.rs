//! Runtime settings: where data lives, where to listen, which database, which clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hearth_core::clock::{Clock, SystemClock};

#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub bind: String,
    /// `None`: SQLite file `hearth.db` in the data directory.
    pub database_url: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How often agents heartbeat; a node silent for 3 intervals is Failed.
    pub heartbeat_interval: Duration,
    /// How long an agent's long poll is held when there is nothing for it.
    pub poll_wait: Duration,
    /// SIGTERM → SIGKILL grace for instances and agents.
    pub kill_grace: Duration,
    /// Agents exit when the server is unreachable this long.
    pub agent_give_up: Duration,
    /// A node that has not registered this long after its boot delay is Failed.
    pub boot_timeout: Duration,
    /// The program the process launcher starts as `PROGRAM agent ...` (default: this binary).
    pub agent_program: Option<PathBuf>,
    /// URL agents use to reach the server (default: http://127.0.0.1:<bound port>).
    pub public_url: Option<String>,
    /// Most nodes the launcher keeps alive at once, all tenants together; pools hold at it.
    pub max_live_nodes: u32,
    /// Scaling decisions kept per pool (older ones are deleted as new ones are written).
    pub decisions_kept_per_pool: u64,
    /// Instances that may wait behind the one running on a busy slot, in pools whose
    /// instances are short (see `AppState::queue_depth`); 0 turns queueing on slots off.
    pub queue_behind_slot: u32,
    /// Events kept per tenant for `GET /events` replays (`Last-Event-ID`).
    pub event_backlog: usize,
    /// How often an idle event stream gets a comment line, so proxies and clients see it
    /// alive.
    pub event_heartbeat: Duration,
    /// The currency of every price (ISO 4217 code), shown on billing reports.
    pub currency: String,
    /// How often (of the injected clock) each tenant's budgets are evaluated again: the
    /// budget check on new pools and tasks is at most this old (plus a second).
    pub budget_refresh: chrono::Duration,
    /// Days the raw usage (closed intervals, their day index, ended executions) is kept;
    /// older whole days are billed from the day rollups only (see `services::billing`).
    pub usage_retention_days: u32,
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Self {
        Settings {
            data_dir,
            bind: "127.0.0.1:0".into(),
            database_url: None,
            clock: Arc::new(SystemClock),
            max_body_bytes: 1024 * 1024,
            heartbeat_interval: Duration::from_secs(2),
            poll_wait: Duration::from_secs(25),
            kill_grace: Duration::from_secs(5),
            agent_give_up: Duration::from_secs(60),
            boot_timeout: Duration::from_secs(60),
            agent_program: None,
            public_url: None,
            decisions_kept_per_pool: 1000,
            max_live_nodes: default_max_live_nodes(),
            queue_behind_slot: 4,
            event_backlog: crate::events::DEFAULT_BACKLOG,
            event_heartbeat: Duration::from_secs(15),
            currency: "EUR".into(),
            budget_refresh: chrono::Duration::seconds(10),
            usage_retention_days: crate::services::billing::DEFAULT_RETENTION_DAYS,
        }
    }

    pub fn with_bind(mut self, bind: impl Into<String>) -> Self {
        self.bind = bind.into();
        self
    }

    pub fn with_database_url(mut self, url: Option<String>) -> Self {
        self.database_url = url.filter(|u| !u.trim().is_empty());
        self
    }

    pub fn with_agent_program(mut self, program: PathBuf) -> Self {
        self.agent_program = Some(program);
        self
    }

    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    pub fn with_agent_give_up(mut self, give_up: Duration) -> Self {
        self.agent_give_up = give_up;
        self
    }

    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    pub fn with_decisions_kept_per_pool(mut self, kept: u64) -> Self {
        self.decisions_kept_per_pool = kept.max(1);
        self
    }

    pub fn with_queue_behind_slot(mut self, depth: u32) -> Self {
        self.queue_behind_slot = depth;
        self
    }

    pub fn with_event_backlog(mut self, kept: usize) -> Self {
        self.event_backlog = kept;
        self
    }

    pub fn with_currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = currency.into();
        self
    }

    /// At least [`crate::services::billing::MIN_RETENTION_DAYS`] (a report or a budget
    /// period of the longest length ending now must still find its raw rows).
    pub fn with_usage_retention_days(mut self, days: u32) -> Self {
        self.usage_retention_days = days.max(crate::services::billing::MIN_RETENTION_DAYS);
        self
    }

    pub fn with_budget_refresh(mut self, every: chrono::Duration) -> Self {
        self.budget_refresh = every.max(chrono::Duration::seconds(1));
        self
    }

    pub fn with_event_heartbeat(mut self, every: Duration) -> Self {
        self.event_heartbeat = every;
        self
    }

    pub fn with_max_live_nodes(mut self, max: u32) -> Self {
        self.max_live_nodes = max.max(1);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("hearth.db").display()
            ),
        }
    }
}

/// The process launcher's default capacity, sized to the machine: 32 agents per core
/// (an idle agent costs a few MB and no CPU), at least 16.
pub fn default_max_live_nodes() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    (cores * 32).max(16)
}

impl std::fmt::Debug for Settings {
    // The database URL may carry a password: show only its scheme.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self
            .database_url()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("database", &scheme)
            .finish()
    }
}
