//! What every request handler and background loop shares.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hearth_core::clock::Clock;
use sea_orm::DatabaseConnection;

use crate::auth::JwtKeys;
use crate::metrics::Metrics;

pub struct AppState {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub keys: JwtKeys,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    pub metrics: Metrics,
    seq: AtomicI64,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        keys: JwtKeys,
        data_dir: PathBuf,
        max_body_bytes: usize,
        last_seq: i64,
    ) -> Self {
        AppState {
            db,
            clock,
            keys,
            data_dir,
            max_body_bytes,
            metrics: Metrics::new(),
            seq: AtomicI64::new(last_seq),
        }
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
