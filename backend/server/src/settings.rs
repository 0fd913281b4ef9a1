//! Runtime settings: where data lives, where to listen, which database, which clock.

use std::path::PathBuf;
use std::sync::Arc;

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
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Self {
        Settings {
            data_dir,
            bind: "127.0.0.1:0".into(),
            database_url: None,
            clock: Arc::new(SystemClock),
            max_body_bytes: 1024 * 1024,
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
