//! What the client and CLI harnesses share (included with `#[path]`): ending a test's
//! leftover processes, and polling real processes with a deadline.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

/// SIGKILLs the processes whose command line names `dir` or whose working directory is in
/// it (agents and their instances).
pub fn kill_leftovers(dir: &Path) {
    let dir_text = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let names_dir = String::from_utf8_lossy(&cmd)
            .split('\0')
            .any(|arg| arg == dir_text || arg.starts_with(&format!("{dir_text}/")));
        let in_dir =
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
        if (names_dir || in_dir) && pid != std::process::id() as i32 {
            // SAFETY: kill(2) on a process this test's server started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Polls `probe` until it answers `Ok` (real processes take their time), or panics after
/// `limit` with the last `Err`.
pub async fn poll_until<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if start.elapsed() > limit => {
                panic!("timed out after {limit:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(75)).await,
        }
    }
}
