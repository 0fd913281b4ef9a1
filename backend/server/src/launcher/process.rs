//! The process launcher: every node is a `hearth agent` child process with its own directory
//! under `DATA_DIR/nodes/<node uuid>/`. Agents run in their own process group so a terminal's
//! Ctrl-C reaches the server (which then stops them) rather than each agent at once, and so a
//! crashed server leaves them running to be adopted by the next one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use super::{Launched, Launcher, NodeHandle, NodeLaunch};

pub struct ProcessLauncher {
    program: PathBuf,
    nodes_dir: PathBuf,
    /// Agents this server started, kept to reap them (no zombies).
    children: Mutex<HashMap<uuid::Uuid, Child>>,
}

impl ProcessLauncher {
    pub fn new(program: PathBuf, nodes_dir: PathBuf) -> Self {
        ProcessLauncher {
            program,
            nodes_dir,
            children: Mutex::new(HashMap::new()),
        }
    }
}

fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) with a pid we recorded; no memory is shared.
    unsafe { libc::kill(pid, sig) == 0 }
}

impl Launcher for ProcessLauncher {
    fn launch(&self, request: &NodeLaunch) -> anyhow::Result<Launched> {
        let dir = self.nodes_dir.join(request.node_id.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = std::fs::File::create(dir.join("agent.log"))?;
        let mut command = Command::new(&self.program);
        command
            .arg("agent")
            .arg("--server")
            .arg(&request.server_url)
            .arg("--node-dir")
            .arg(&dir)
            .arg("--give-up-after-seconds")
            .arg(request.give_up.as_secs().max(1).to_string())
            .arg("--boot-delay-ms")
            .arg(request.boot_delay.as_millis().to_string())
            .env("HEARTH_NODE_TOKEN", &request.token)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {} agent", self.program.display()))?;
        let pid = child.id() as i32;
        self.children
            .lock()
            .expect("children map")
            .insert(request.node_id, child);
        Ok(Launched {
            pid: Some(pid),
            dir: Some(dir),
        })
    }

    fn terminate(&self, node: &NodeHandle, grace: Duration) {
        let Some(pid) = node.pid else { return };
        let node_id = node.node_id;
        // The agent normally exits on its own when told to shut down; signals are the backstop.
        std::thread::spawn(move || {
            let step = Duration::from_millis(50);
            let mut waited = Duration::ZERO;
            while waited < grace && signal(pid, 0) {
                std::thread::sleep(step);
                waited += step;
            }
            if signal(pid, 0) {
                tracing::debug!(%node_id, pid, "agent still running after grace: SIGTERM");
                signal(pid, libc::SIGTERM);
                std::thread::sleep(grace);
                if signal(pid, 0) {
                    signal(pid, libc::SIGKILL);
                }
            }
        });
        self.reap_later(node_id, grace * 3);
    }

    fn kill_now(&self, node: &NodeHandle) {
        if let Some(pid) = node.pid
            && signal(pid, 0)
            && runs_node(pid, node.node_id)
        {
            signal(pid, libc::SIGKILL);
        }
        let killed = kill_instances_of(node.node_id);
        if killed > 0 {
            tracing::info!(node = %node.node_id, killed, "killed the processes of a lost node");
        }
        self.reap_later(node.node_id, Duration::from_millis(100));
    }

    fn is_alive(&self, node: &NodeHandle) -> bool {
        let mut children = self.children.lock().expect("children map");
        if let Some(child) = children.get_mut(&node.node_id) {
            return match child.try_wait() {
                Ok(None) => true,
                _ => {
                    children.remove(&node.node_id);
                    false
                }
            };
        }
        // Adopted from a previous server run: not our child, so no zombie to confuse kill(0).
        node.pid
            .is_some_and(|pid| signal(pid, 0) && runs_node(pid, node.node_id))
    }
}

/// Whether `pid` is still this node's agent and not a process that reused the pid: the
/// agent's `--node-dir` names the node. Where /proc is missing, the pid is trusted.
fn runs_node(pid: i32, node_id: uuid::Uuid) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains(&node_id.to_string()),
        Err(_) => !std::path::Path::new("/proc/self").exists(),
    }
}

/// SIGKILLs every process (and its process group) whose environment names this node: the
/// agent gives each instance `NODE_UUID`, and children inherit it, so this reaches the
/// instances of a node whose agent is already gone. Repeated until a scan finds none, so
/// a process forking during the scan is caught too. Answers how many were signalled.
pub fn kill_instances_of(node_id: uuid::Uuid) -> usize {
    let marker = format!("NODE_UUID={node_id}");
    // SAFETY: getpgrp(2) has no arguments and cannot fail.
    let own_group = unsafe { libc::getpgrp() };
    let mut killed = 0;
    for _ in 0..5 {
        let found = processes_with_env(&marker);
        if found.is_empty() {
            break;
        }
        for (pid, pgid) in found {
            if pgid > 1 && pgid != own_group {
                // SAFETY: killpg(2) on a group whose member carries this node's marker.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
            signal(pid, libc::SIGKILL);
            killed += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    killed
}

/// (pid, pgid) of the live processes whose environment holds `entry` exactly.
fn processes_with_env(entry: &str) -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id() as i32;
    let mut found = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|v| v == entry.as_bytes()) {
            continue;
        }
        // A zombie has an empty environ, so whatever matched is alive.
        let pgid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // Fields after the command name (which may hold spaces) in parentheses.
                let rest = &stat[stat.rfind(')')? + 2..];
                rest.split(' ').nth(2)?.parse::<i32>().ok()
            })
            .unwrap_or(0);
        found.push((pid, pgid));
    }
    found
}

impl ProcessLauncher {
    fn reap_later(&self, node_id: uuid::Uuid, after: Duration) {
        let child = self.children.lock().expect("children map").remove(&node_id);
        if let Some(mut child) = child {
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + after + Duration::from_secs(1);
                while std::time::Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = child.kill();
                let _ = child.wait();
            });
        }
    }
}
