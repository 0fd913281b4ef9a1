//! The real application in-process on port 0 (nodes are real `hearth agent` processes),
//! and `hearth-client` clients of it. Stopped cleanly by `stop()`, or on drop when a test
//! fails, and then any process left in its data directory is killed.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hearth_client::{Client, RetryPolicy};
use hearth_server::startup::{Application, Settings};
use tempfile::TempDir;

#[path = "../common/processes.rs"]
mod processes;
use processes::kill_leftovers;
#[path = "../common/pg_database.rs"]
mod pg_database;
use pg_database::PgDatabase;

/// The longest anything waits on real processes.
pub const WAIT: Duration = Duration::from_secs(30);

/// Retries quick enough for tests (the default waits up to seconds between tries).
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

pub struct App {
    pub port: u16,
    pub owner_token: String,
    data_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // Dropped after the app has stopped: the database, then the directory.
    _pg: Option<PgDatabase>,
    _dir: TempDir,
}

pub async fn spawn_app() -> App {
    spawn_app_with(|s| s).await
}

/// [`spawn_app`] with settings of the test's own (`adjust` gets the usual ones).
pub async fn spawn_app_with(adjust: impl FnOnce(Settings) -> Settings) -> App {
    if std::env::var_os("HEARTH_LOG").is_some() {
        hearth_server::telemetry::init_logging();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = PgDatabase::maybe("hearth_client").await;
    let settings = Settings::new(dir.path().to_path_buf())
        .with_database_url(pg.as_ref().map(|p| p.url.clone()))
        .with_agent_program(PathBuf::from(env!("CARGO_BIN_EXE_hearth")))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_kill_grace(Duration::from_millis(500))
        .with_agent_give_up(Duration::from_secs(5))
        .with_bind("127.0.0.1:0");
    let app = Application::build(adjust(settings))
        .await
        .expect("Application::build failed");
    let port = app.port();
    let owner_token = app.owner_token().to_owned();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    App {
        port,
        owner_token,
        data_dir: dir.path().to_path_buf(),
        stop: Some(tx),
        handle: Some(handle),
        _pg: pg,
        _dir: dir,
    }
}

impl App {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The owner's client, straight to the server.
    pub fn client(&self) -> Client {
        self.client_at(&self.url(), &self.owner_token)
    }

    /// A client of `url` (a proxy in front of the server) with `token`.
    pub fn client_at(&self, url: &str, token: &str) -> Client {
        Client::builder(url, token)
            .retry(quick_retries())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    /// Stops the application cleanly: nodes terminated, server drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            match tokio::time::timeout(Duration::from_secs(20), handle).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("the application did not stop cleanly: {other:?}"),
            }
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // A failed test: stop from here (the runtime is multi-threaded, its workers carry
        // the shutdown while this thread waits), then kill what is left.
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let deadline = Instant::now() + Duration::from_secs(15);
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        kill_leftovers(&self.data_dir);
    }
}

/// Polls `probe` until it answers `Ok`, or panics after `WAIT` with the last `Err`.
pub async fn wait_for<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    processes::poll_until(what, WAIT, probe).await
}

/// Waits until the pool has `count` Ready nodes.
pub async fn ready_nodes(client: &Client, pool: uuid::Uuid, count: usize) {
    use futures_util::TryStreamExt;
    wait_for(&format!("{count} Ready nodes in pool {pool}"), || async {
        let nodes: Vec<_> = client
            .pools()
            .nodes(pool)
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        let ready = nodes.iter().filter(|n| n.state == "Ready").count();
        if ready == count {
            Ok(())
        } else {
            Err(format!(
                "{:?}",
                nodes.iter().map(|n| &n.state).collect::<Vec<_>>()
            ))
        }
    })
    .await
}

/// Asserts that `result` is the server's refusal with `status` and `code`, and answers its
/// message.
#[track_caller]
pub fn refusal<T: std::fmt::Debug>(
    result: hearth_client::Result<T>,
    status: u16,
    code: &str,
) -> String {
    match result {
        Err(hearth_client::Error::Api {
            status: s,
            code: c,
            message,
            body,
        }) => {
            assert_eq!((s, c.as_str()), (status, code), "{message}");
            let parsed: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("the raw body is not kept as JSON ({e}): {body}"));
            assert_eq!(parsed["code"], code, "{body}");
            assert_eq!(parsed["message"], message.as_str(), "{body}");
            message
        }
        other => panic!("expected HTTP {status} {code}, got {other:?}"),
    }
}
