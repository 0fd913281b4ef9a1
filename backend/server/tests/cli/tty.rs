//! `hearth run` on a real pseudo-terminal (util-linux `script`): the progress bar is drawn
//! (redrawn in place, with its counts), and the exit code is still the task's outcome.

use std::process::Stdio;

use crate::harness::*;

/// `hearth ARGS…` run by `script` on a new pseudo-terminal (stdin, stdout and stderr are
/// its tty), with this test's home and `TERM`; `script -e` exits with the command's code.
/// The pty's output (stdout and stderr mixed) is the run's `stdout`.
async fn on_a_terminal(app: &App, term: &str, args: &[&str]) -> Out {
    let mut line = shell_quote(env!("CARGO_BIN_EXE_hearth"));
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let child = tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_remove("HEARTH_URL")
        .env_remove("HEARTH_TOKEN")
        .env_remove("HEARTH_PROFILE")
        .env_remove("QARNOT_CLUSTER_URL")
        .env_remove("QARNOT_CLIENT_TOKEN")
        .env("HOME", app.home.path())
        .env("XDG_CONFIG_HOME", app.home.path().join("xdg"))
        .env("TERM", term)
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn script (util-linux)");
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("script {line} did not end within {WAIT:?}"))
        .expect("script ran");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_draws_its_progress_bar_on_a_terminal_and_keeps_its_exit_codes() {
    let app = app_with_pool("2").await;

    let out = on_a_terminal(
        &app,
        "xterm-256color",
        &["run", "--pool", "p", "-n", "4", "--", "echo", "hi"],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let screen = &out.stdout;
    // The bar: the instances ended over the total with the counts of the same read,
    // redrawn in place (`\r`, then the line cleared) on one line of the terminal's 79
    // columns (the pty has no size: the default), never moving the cursor up a line.
    assert!(
        screen.contains("4/4 succeeded 4 / failed 0 / running 0 / queued 0"),
        "{screen:?}"
    );
    assert!(screen.contains("\r\x1b[2K"), "redraws: {screen:?}");
    assert!(
        !screen.contains("\x1b[1A"),
        "a bar wider than the terminal: {screen:?}"
    );
    // No plain progress lines besides the bar.
    assert!(!screen.contains("Success: succeeded"), "{screen:?}");
    // The summary on a line of its own, below the bar.
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("task ") && l.contains("Success: 4 succeeded, 0 failed of 4")),
        "{screen:?}"
    );

    // A failed task is still exit 1 on a terminal.
    let out = on_a_terminal(
        &app,
        "xterm-256color",
        &["run", "--pool", "p", "-n", "2", "--", "false"],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("2/2 succeeded 0 / failed 2 / running 0 / queued 0"),
        "{out:?}"
    );

    // A terminal that cannot draw (`TERM=dumb`, where indicatif hides its bar): the plain
    // lines instead of nothing.
    let out = on_a_terminal(
        &app,
        "dumb",
        &["run", "--pool", "p", "-n", "2", "--", "true"],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("Success: succeeded 2 / failed 0 / running 0 / queued 0"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("\x1b["), "{out:?}");
    app.stop().await;
}
