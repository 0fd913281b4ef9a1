//! `hearth login --email`: the password read from standard input, or asked for on a real
//! pseudo-terminal (util-linux `script`) with the echo off.

use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

const PASSWORD: &str = "correct horse battery staple";

/// A member of the app's tenant with a dashboard password; answers its email.
async fn member_with_password(app: &App) -> String {
    let email = format!("ada-{}@example.com", uuid::Uuid::new_v4().simple());
    let http = reqwest::Client::new();
    let user: serde_json::Value = http
        .post(format!("{}/users", app.url()))
        .bearer_auth(&app.owner_token)
        .json(&serde_json::json!({"email": email, "role": "member"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = user["uuid"].as_str().unwrap();
    http.put(format!("{}/users/{uuid}/password", app.url()))
        .bearer_auth(&app.owner_token)
        .json(&serde_json::json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    email
}

/// `hearth ARGS…` with `input` on its standard input (a pipe).
async fn with_input(app: &App, args: &[&str], input: &str) -> Out {
    let mut child = app
        .command(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn hearth");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("hearth login ended")
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_an_email_reads_the_password_and_stores_a_token_of_the_user() {
    let app = spawn_app().await;
    let email = member_with_password(&app).await;
    let url = app.url();
    let out = with_input(
        &app,
        &["login", "--url", &url, "--email", &email],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    let path = app.home.path().join("xdg/hearth/config.toml");
    let file = hearth_client::config::ProfileFile::load(&path)
        .unwrap()
        .unwrap();
    let token = file.profiles["default"].token.clone();
    assert!(!token.is_empty() && token != app.owner_token);
    let who = app.hearth(&["whoami", "-o", "json"]).await;
    assert_eq!(who.code, 0, "{who:?}");
    let v: serde_json::Value = serde_json::from_str(&who.stdout).unwrap();
    assert_eq!(v["email"], email, "{v}");
    // The token is the member's, named after this machine and profile.
    let tokens: Vec<_> =
        futures_util::TryStreamExt::try_collect::<Vec<_>>(app.client().tokens().list())
            .await
            .unwrap();
    let login = tokens
        .iter()
        .find(|t| t.name.starts_with("login: hearth CLI on "))
        .expect("the login token is listed");
    assert_eq!(login.role, "member");
    assert!(login.name.ends_with("(default)"), "{}", login.name);

    // Logging in again replaces that token (one per machine and profile).
    let again = with_input(
        &app,
        &["login", "--url", &url, "--email", &email],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert_eq!(again.code, 0, "{again:?}");
    let tokens: Vec<_> =
        futures_util::TryStreamExt::try_collect::<Vec<_>>(app.client().tokens().list())
            .await
            .unwrap();
    let logins = tokens
        .iter()
        .filter(|t| t.name.starts_with("login: "))
        .count();
    assert_eq!(logins, 1, "{tokens:?}");
    let old = hearth_client::Client::new(url.clone(), token).unwrap();
    assert!(
        old.info().await.is_err(),
        "the replaced token no longer works"
    );

    // A wrong password: the server's refusal on stderr, an API exit code, no profile change.
    let before = std::fs::read_to_string(&path).unwrap();
    let wrong = with_input(
        &app,
        &["login", "--url", &url, "--email", &email],
        "not the password\n",
    )
    .await;
    assert_eq!(wrong.code, 3, "{wrong:?}");
    assert!(wrong.stderr.contains("email or password"), "{wrong:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    // Nothing on standard input: refused before anything is sent.
    let empty = with_input(&app, &["login", "--url", &url, "--email", &email], "").await;
    assert_eq!(empty.code, 6, "{empty:?}");
    assert!(empty.stderr.contains("no password"), "{empty:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_password_is_asked_for_and_not_shown() {
    let app = spawn_app().await;
    let email = member_with_password(&app).await;
    let line = format!(
        "'{}' login --url '{}' --email '{email}'",
        env!("CARGO_BIN_EXE_hearth"),
        app.url()
    );
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
    app.isolate(&mut cmd);
    let mut child = cmd
        .env("TERM", "xterm")
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn script (util-linux)");
    let mut screen_out = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Type the password only once the prompt is shown, as a person would (typed before,
    // the terminal would echo it before the echo is switched off).
    let mut screen = Vec::new();
    let prompt = format!("Password for {email}: ");
    tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 512];
        while !String::from_utf8_lossy(&screen).contains(&prompt) {
            let n = screen_out.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "ended before the prompt: {:?}",
                String::from_utf8_lossy(&screen)
            );
            screen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the prompt within WAIT");
    stdin
        .write_all(format!("{PASSWORD}\r").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let mut rest = Vec::new();
    let status = tokio::time::timeout(WAIT, async {
        screen_out.read_to_end(&mut rest).await.unwrap();
        child.wait().await.unwrap()
    })
    .await
    .expect("login ended within WAIT");
    drop(stdin);
    screen.extend_from_slice(&rest);
    let screen = String::from_utf8_lossy(&screen).into_owned();
    assert_eq!(status.code(), Some(0), "{screen:?}");
    assert!(
        !screen.contains(PASSWORD),
        "the password was echoed: {screen:?}"
    );
    let who = app.hearth(&["whoami", "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&who.stdout).expect("json");
    assert_eq!(v["email"], email, "{v}");
    app.stop().await;
}
