//! The real application in-process on port 0 (nodes are real `hearth agent` processes), and
//! the built `hearth` binary run against it with its own `HOME`/`XDG_CONFIG_HOME`.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hearth_client::{Client, RetryPolicy};
use hearth_server::startup::{Application, Settings};
use tempfile::TempDir;

#[path = "../common/processes.rs"]
mod processes;
use processes::kill_leftovers;

/// The longest anything waits on real processes.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct App {
    pub port: u16,
    pub owner_token: String,
    /// `HOME` and `XDG_CONFIG_HOME` of the CLI runs.
    pub home: TempDir,
    data_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

pub async fn spawn_app() -> App {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings::new(dir.path().to_path_buf())
        .with_agent_program(PathBuf::from(env!("CARGO_BIN_EXE_hearth")))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_kill_grace(Duration::from_millis(500))
        .with_agent_give_up(Duration::from_secs(5))
        .with_bind("127.0.0.1:0");
    let app = Application::build(settings)
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
        home: tempfile::tempdir().expect("home dir"),
        data_dir: dir.path().to_path_buf(),
        stop: Some(tx),
        handle: Some(handle),
        _dir: dir,
    }
}

/// A logged-in app with a ready (FullyExecuting) fixed pool `p` of `slots` slots, made
/// with `hearth pools create … --wait`.
pub async fn app_with_pool(slots: &str) -> App {
    let app = spawn_app().await;
    app.login().await;
    let out = app
        .hearth(&[
            "pools",
            "create",
            "p",
            "--profile",
            "docker-batch",
            "--slots",
            slots,
            "--wait",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    app
}

/// What one run of the CLI did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl App {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        Client::builder(self.url(), &self.owner_token)
            .retry(RetryPolicy {
                max_retries: 4,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
            })
            .build()
            .expect("client")
    }

    /// `hearth ARGS…` with this test's home, no `HEARTH_*` from the outside.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hearth"));
        cmd.args(args);
        self.isolate(&mut cmd);
        cmd.env("COLUMNS", "200")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// This test's `HOME` and `XDG_CONFIG_HOME` for `cmd`, and none of the caller's
    /// `HEARTH_*`/`QARNOT_*` settings.
    pub fn isolate(&self, cmd: &mut tokio::process::Command) {
        cmd.env_remove("HEARTH_URL")
            .env_remove("HEARTH_TOKEN")
            .env_remove("HEARTH_PROFILE")
            .env_remove("QARNOT_CLUSTER_URL")
            .env_remove("QARNOT_CLIENT_TOKEN")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"));
    }

    /// Runs `hearth ARGS…` to its end (at most `WAIT`).
    pub async fn hearth(&self, args: &[&str]) -> Out {
        let child = self.command(args).spawn().expect("spawn hearth");
        let out = tokio::time::timeout(WAIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("hearth {args:?} did not end within {WAIT:?}"))
            .expect("hearth ran");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `hearth login` with the owner token, asserting it works.
    pub async fn login(&self) {
        let url = self.url();
        let out = self
            .hearth(&["login", "--url", &url, "--token", &self.owner_token])
            .await;
        assert_eq!(out.code, 0, "{out:?}");
    }

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
