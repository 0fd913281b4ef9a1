//! Child processes of instances: environment, working directory, spawning in an own process
//! group, and signalling that group.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::process::{Child, ChildStderr, ChildStdout, Command};

use super::command;
use super::wire::Assignment;

/// Variables of the agent that instances must not see: the node token would let user code
/// speak for the node.
const HIDDEN_FROM_INSTANCES: &[&str] = &["HEARTH_NODE_TOKEN"];

pub struct Spawned {
    pub child: Child,
    pub pgid: i32,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// The shell instances run in.
const SHELL: &str = "/bin/sh";

/// Starts the command in `<node dir>/<workdir>`, stdin closed, as leader of a new process
/// group so that a kill reaches everything the command started: the program itself when the
/// command is plain words (see [`command`]), `sh -c command` otherwise or when that fails.
/// Called from the runtime (the child is registered with its reactor), on the thread that
/// read the assignment: no hop to another worker before the process exists.
pub fn spawn(assignment: &Assignment, node_dir: &Path) -> anyhow::Result<Spawned> {
    let dir = instance_dir(node_dir, &assignment.workdir)?;
    // On the runtime's thread: a directory that exists (every instance but a task's first
    // on this node) costs one stat, less than a hop to the blocking pool and back.
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    if let Some(words) = command::plain_words(&assignment.command) {
        let path = assignment
            .env
            .get("PATH")
            .map(OsStr::new)
            .or_else(|| agent_var("PATH"));
        if let Some(program) = command::resolve(words[0], path) {
            let mut direct = Command::new(program);
            direct.args(&words[1..]);
            // A program the kernel cannot execute (a script without `#!`, one just removed)
            // is the shell's to run or to explain.
            if let Ok(spawned) = launch(direct, assignment, &dir, true) {
                return Ok(spawned);
            }
        }
    }
    let mut shell = Command::new(SHELL);
    shell.arg("-c").arg(&assignment.command);
    launch(shell, assignment, &dir, false).map_err(|e| anyhow::anyhow!("cannot run sh: {e}"))
}

/// Spawns `command` with the instance's environment, directory, pipes and process group;
/// `set_pwd` exports `PWD` as the shell would have for its children.
fn launch(
    mut command: Command,
    assignment: &Assignment,
    dir: &Path,
    set_pwd: bool,
) -> std::io::Result<Spawned> {
    // An absolute program path: with the environment replaced and a bare program name, the
    // standard library must fork to search PATH; with a path it uses posix_spawn, which does
    // not copy the agent's page tables for every instance.
    command
        .env_clear()
        .envs(agent_env().iter().map(|(k, v)| (k, v)))
        .envs(&assignment.env);
    if set_pwd {
        command.env("PWD", dir);
    }
    let mut child = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Last resort should the agent's task be dropped; the group kill is the real path.
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().expect("a just-spawned child has a pid");
    let pgid = i32::try_from(pid).map_err(std::io::Error::other)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok(Spawned {
        child,
        pgid,
        stdout,
        stderr,
    })
}

/// One variable of [`agent_env`].
fn agent_var(name: &str) -> Option<&'static OsStr> {
    agent_env()
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_os_str())
}

/// The agent's environment without its secrets, read once: it never changes while the
/// agent runs. The assignment's variables are laid over it at each spawn.
fn agent_env() -> &'static [(OsString, OsString)] {
    static ENV: std::sync::OnceLock<Vec<(OsString, OsString)>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        instance_env(std::env::vars_os(), &BTreeMap::new())
            .into_iter()
            .collect()
    })
}

/// The agent's environment without its secrets, overlaid with the assignment's.
pub fn instance_env(
    agent_env: impl IntoIterator<Item = (OsString, OsString)>,
    assignment_env: &BTreeMap<String, String>,
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = agent_env
        .into_iter()
        .filter(|(k, _)| !HIDDEN_FROM_INSTANCES.iter().any(|h| k == h))
        .collect();
    env.extend(
        assignment_env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    env
}

/// `<node dir>/<workdir>`, refusing a workdir that would leave the node directory.
pub fn instance_dir(node_dir: &Path, workdir: &str) -> anyhow::Result<PathBuf> {
    let relative = Path::new(workdir);
    let stays_inside = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    anyhow::ensure!(
        stays_inside,
        "workdir {workdir:?} is not a relative path inside the node directory"
    );
    Ok(node_dir.join(relative))
}

/// Sends `signal` to every process of the group; a group already gone is not an error.
pub fn signal_group(pgid: i32, signal: libc::c_int) {
    if pgid <= 1 {
        // -1 and -0 would mean "every process we may signal" and "our own group".
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, signal, %err, "cannot signal process group");
        }
    }
}

/// `(exitCode, signal)` as `/finished` wants them: one of the two is set.
pub fn exit_report(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    (status.code(), status.signal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn instance_env_hides_the_token_and_lets_the_assignment_win() {
        let agent = [
            ("PATH", "/bin"),
            ("HEARTH_NODE_TOKEN", "secret"),
            ("INSTANCE_ID", "stale"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let assignment = BTreeMap::from([
            ("INSTANCE_ID".to_string(), "3".to_string()),
            ("TASK_UUID".to_string(), "t".to_string()),
        ]);
        let env = instance_env(agent, &assignment);
        assert_eq!(env.get(&OsString::from("PATH")).unwrap(), "/bin");
        assert_eq!(env.get(&OsString::from("INSTANCE_ID")).unwrap(), "3");
        assert_eq!(env.get(&OsString::from("TASK_UUID")).unwrap(), "t");
        assert!(!env.contains_key(&OsString::from("HEARTH_NODE_TOKEN")));
    }

    #[test]
    fn instance_dir_stays_inside_the_node_dir() {
        let node = Path::new("/nodes/n1");
        assert_eq!(
            instance_dir(node, "job/abc").unwrap(),
            PathBuf::from("/nodes/n1/job/abc")
        );
        assert!(instance_dir(node, "/etc").is_err());
        assert!(instance_dir(node, "job/../../x").is_err());
    }

    #[test]
    fn exit_report_tells_codes_from_signals() {
        assert_eq!(exit_report(ExitStatus::from_raw(3 << 8)), (Some(3), None));
        assert_eq!(
            exit_report(ExitStatus::from_raw(libc::SIGKILL)),
            (None, Some(9))
        );
    }

    #[tokio::test]
    async fn spawn_runs_in_its_own_group_and_workdir() {
        let node = tempfile::tempdir().unwrap();
        let assignment = Assignment {
            attempt: 1,
            instance_uuid: uuid::Uuid::new_v4(),
            task_uuid: None,
            instance_id: None,
            slot_index: None,
            command: "echo $X; pwd; ps -o pgid= -p $$ >&2".into(),
            env: BTreeMap::from([("X".to_string(), "hi".to_string())]),
            workdir: "job/t".into(),
        };
        let mut spawned = spawn(&assignment, node.path()).unwrap();
        let out = {
            use tokio::io::AsyncReadExt;
            let mut s = String::new();
            spawned.stdout.read_to_string(&mut s).await.unwrap();
            let mut e = String::new();
            spawned.stderr.read_to_string(&mut e).await.unwrap();
            (s, e)
        };
        let status = spawned.child.wait().await.unwrap();
        assert!(status.success());
        let dir = node.path().join("job/t").canonicalize().unwrap();
        assert_eq!(out.0, format!("hi\n{}\n", dir.display()));
        if !out.1.trim().is_empty() {
            assert_eq!(out.1.trim(), spawned.pgid.to_string());
        }
    }

    fn assignment(command: &str, env: &[(&str, String)]) -> Assignment {
        Assignment {
            attempt: 1,
            instance_uuid: uuid::Uuid::new_v4(),
            task_uuid: None,
            instance_id: None,
            slot_index: None,
            command: command.into(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            workdir: "job/t".into(),
        }
    }

    async fn run_to_end(mut spawned: Spawned) -> (String, String, ExitStatus) {
        use tokio::io::AsyncReadExt;
        let mut out = String::new();
        spawned.stdout.read_to_string(&mut out).await.unwrap();
        let mut err = String::new();
        spawned.stderr.read_to_string(&mut err).await.unwrap();
        (out, err, spawned.child.wait().await.unwrap())
    }

    #[tokio::test]
    async fn a_plain_command_runs_without_a_shell_as_the_shell_would_run_it() {
        let node = tempfile::tempdir().unwrap();
        let a = assignment("env", &[("X", "hi".into())]);
        // The child is the program itself, no shell in between: its parent is this process
        // and it leads its own group.
        let spawned = spawn(&assignment("cat /proc/self/stat", &[]), node.path()).unwrap();
        let pgid = spawned.pgid;
        let (stat, _, status) = run_to_end(spawned).await;
        assert!(status.success());
        let fields: Vec<&str> = stat.split_whitespace().collect();
        assert_eq!(fields[1], "(cat)");
        assert_eq!(fields[0], pgid.to_string(), "the program leads the group");
        assert_eq!(
            fields[3],
            std::process::id().to_string(),
            "no shell as parent"
        );
        assert_eq!(fields[4], pgid.to_string(), "its group");

        let (out, _, status) = run_to_end(spawn(&a, node.path()).unwrap()).await;
        assert!(status.success());
        let dir = node.path().join("job/t");
        assert!(out.lines().any(|l| l == "X=hi"), "{out}");
        assert!(
            out.lines().any(|l| l == format!("PWD={}", dir.display())),
            "PWD is the instance's directory: {out}"
        );
        assert!(!out.contains("HEARTH_NODE_TOKEN"));
    }

    #[tokio::test]
    async fn what_cannot_be_executed_directly_is_the_shells() {
        let node = tempfile::tempdir().unwrap();
        let bin = node.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // No `#!`: the kernel refuses it, the shell runs it as a script.
        let script = bin.join("no-shebang");
        std::fs::write(&script, "echo from-sh-$X\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:/usr/bin:/bin", bin.display());
        let env = [("X", "hi".to_string()), ("PATH", path)];

        let (out, _, status) =
            run_to_end(spawn(&assignment("no-shebang", &env), node.path()).unwrap()).await;
        assert!(status.success());
        assert_eq!(out, "from-sh-hi\n");

        let (_, err, status) =
            run_to_end(spawn(&assignment("no-such-program-here", &env), node.path()).unwrap())
                .await;
        assert_eq!(
            status.code(),
            Some(127),
            "the shell's answer for a missing program"
        );
        assert!(err.contains("not found"), "{err}");
    }
}
