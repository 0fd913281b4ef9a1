//! The user-facing `hearth` subcommands (`login`, `pools`, `tasks`, `run`, `billing`, …),
//! built on the Rust SDK `hearth-client`. See `docs/cli.md`.

mod account;
pub mod output;
mod pools;
mod spec;
mod tasks;

use std::io::Write;

use clap::{Args, Subcommand};
use hearth_client::config::{Credentials, Profile, ProfileFile};
use hearth_client::{Client, HasUuid};
use uuid::Uuid;

pub use output::Format;

/// Exit codes (documented in `docs/cli.md`).
pub mod exit {
    /// Done; for `run`/`tasks wait`: the task ended in `Success`.
    pub const OK: i32 = 0;
    /// `run`/`tasks wait`: the task ended in `Failure`.
    pub const TASK_FAILED: i32 = 1;
    /// `run`/`tasks wait`: the task was cancelled; also a command line clap refused.
    pub const TASK_CANCELLED: i32 = 2;
    /// The server answered with an error (4xx/5xx other than 404).
    pub const API: i32 = 3;
    /// What was named does not exist (404, no such name) or the name is ambiguous.
    pub const NOT_FOUND: i32 = 4;
    /// No answer from the server (connection, timeout).
    pub const UNREACHABLE: i32 = 5;
    /// No usable profile or a bad local file/argument.
    pub const CONFIG: i32 = 6;
    /// `--wait`/`--timeout` ran out before the wanted state.
    pub const TIMEOUT: i32 = 7;
}

/// Options every user command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Output format.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// The profile of the profile file to use (default: `default_profile`, else `default`).
    #[arg(long = "config-profile", env = "HEARTH_PROFILE", global = true)]
    pub config_profile: Option<String>,
}

/// The user-facing subcommands.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Save a server URL and token as a profile (`~/.config/hearth/config.toml`, mode 0600).
    Login(LoginArgs),
    /// Who the current profile's token is, and the tenant's counts.
    Whoami,
    /// Pools of warm nodes.
    Pools {
        #[command(subcommand)]
        command: pools::PoolsCommand,
    },
    /// Tasks.
    Tasks {
        #[command(subcommand)]
        command: tasks::TasksCommand,
    },
    /// Submit a task, follow it with a progress bar, exit with its outcome (0/1/2).
    Run(tasks::RunArgs),
    /// Usage and cost reports.
    Billing {
        #[command(subcommand)]
        command: account::BillingCommand,
    },
    /// Budgets.
    Budgets {
        #[command(subcommand)]
        command: account::BudgetsCommand,
    },
    /// Follow the tenant's event stream (one line per event).
    Events {
        /// Only this pool's events (name or uuid).
        #[arg(long)]
        pool: Option<String>,
        /// Only this task's events (name or uuid).
        #[arg(long)]
        task: Option<String>,
        /// Only events of this kind (`pool`, `node`, `taskProgress`, …; repeatable).
        #[arg(long = "type")]
        kinds: Vec<String>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Replay the events after this id first (those the server still keeps).
        #[arg(long)]
        after: Option<u64>,
    },
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "HEARTH_URL")]
    pub url: String,
    /// An API token (e.g. the content of hearth-data/owner.token).
    #[arg(long, conflicts_with = "email")]
    pub token: Option<String>,
    /// Sign in with a user's email and dashboard password instead: the password is asked
    /// for on the terminal (not shown), or read as one line from standard input when that
    /// is not a terminal; a token named `login: hearth CLI on HOST (PROFILE)` is issued.
    #[arg(long)]
    pub email: Option<String>,
    /// The profile to write (default: `default`).
    #[arg(long, default_value = hearth_client::config::DEFAULT_PROFILE)]
    pub profile: String,
    /// Do not make this profile the file's `default_profile`.
    #[arg(long)]
    pub no_default: bool,
}

/// The password for `email`: asked on the terminal with echo off, or the first line of
/// standard input when it is not a terminal.
fn read_password(email: &str) -> CliResult<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let local = |what: &str, e: std::io::Error| CliError::new(exit::CONFIG, format!("{what}: {e}"));
    let mut line = String::new();
    if std::io::stdin().is_terminal() {
        let mut tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|e| local("cannot open the terminal", e))?;
        // Echo off before the prompt, so that what is typed once it shows is not echoed.
        let echo = EchoOff::on(&tty);
        write!(tty, "Password for {email}: ").map_err(|e| local("cannot prompt", e))?;
        tty.flush().map_err(|e| local("cannot prompt", e))?;
        let read = std::io::BufReader::new(&tty).read_line(&mut line);
        drop(echo);
        let _ = writeln!(tty);
        read.map_err(|e| local("cannot read the password", e))?;
    } else {
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| local("cannot read the password from standard input", e))?;
    }
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::new(exit::CONFIG, "no password given"));
    }
    Ok(password)
}

/// The terminal's echo switched off while this lives (restored on drop).
struct EchoOff {
    fd: std::os::fd::RawFd,
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn on(tty: &std::fs::File) -> EchoOff {
        use std::os::fd::AsRawFd;
        let fd = tty.as_raw_fd();
        // SAFETY: `fd` is an open terminal for the guard's life; `termios` is plain data
        // that tcgetattr fills before it is read.
        let saved = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(fd, &mut t) == 0).then_some(t)
        };
        if let Some(mut quiet) = saved {
            quiet.c_lflag &= !libc::ECHO;
            quiet.c_lflag |= libc::ECHONL;
            // SAFETY: as above; a failure leaves echo on, which only shows the password.
            unsafe {
                libc::tcsetattr(fd, libc::TCSANOW, &quiet);
            }
        }
        EchoOff { fd, saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            // SAFETY: restores the settings read in `on` on the same open terminal.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, &saved);
            }
        }
    }
}

/// A failure of a user command: its message (for stderr) and exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }
}

impl From<hearth_client::Error> for CliError {
    fn from(e: hearth_client::Error) -> CliError {
        use hearth_client::Error as E;
        let code = match &e {
            E::Api { status: 404, .. } | E::NameNotFound { .. } | E::AmbiguousName { .. } => {
                exit::NOT_FOUND
            }
            E::Api { .. } => exit::API,
            E::Transport { .. } | E::Timeout { .. } => exit::UNREACHABLE,
            E::WaitTimeout { .. } => exit::TIMEOUT,
            E::Config(_) | E::InvalidArgument(_) => exit::CONFIG,
            _ => exit::API,
        };
        let message = match &e {
            E::Api {
                status,
                code,
                message,
                ..
            } => format!("{message} (HTTP {status}, {code})"),
            other => other.to_string(),
        };
        CliError { code, message }
    }
}

pub type CliResult<T = i32> = std::result::Result<T, CliError>;

/// Runs a user command; the process's exit code. Errors are printed on stderr.
pub async fn run(command: UserCommand, global: Global) -> i32 {
    let code = match dispatch(command, &global).await {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {}", e.message);
            e.code
        }
    };
    let _ = std::io::stdout().flush();
    code
}

async fn dispatch(command: UserCommand, global: &Global) -> CliResult {
    match command {
        UserCommand::Login(args) => login(args, global).await,
        UserCommand::Whoami => whoami(global).await,
        UserCommand::Pools { command } => pools::run(command, global).await,
        UserCommand::Tasks { command } => tasks::run(command, global).await,
        UserCommand::Run(args) => tasks::run_command(args, global).await,
        UserCommand::Billing { command } => account::billing(command, global).await,
        UserCommand::Budgets { command } => account::budgets(command, global).await,
        UserCommand::Events {
            pool,
            task,
            kinds,
            count,
            after,
        } => account::events(pool, task, kinds, count, after, global).await,
    }
}

/// The client of the selected profile (or `HEARTH_URL`/`HEARTH_TOKEN`).
pub fn client(global: &Global) -> CliResult<Client> {
    let asked = global.config_profile.clone();
    let creds = Credentials::resolve(
        |name| {
            if name == "HEARTH_PROFILE" {
                asked.clone()
            } else {
                std::env::var(name).ok()
            }
        },
        None,
    )
    .map_err(|e| {
        CliError::new(
            exit::CONFIG,
            format!("{e} (run `hearth login --url URL --token TOKEN` first)"),
        )
    })?;
    Ok(Client::new(creds.url, creds.token)?)
}

async fn login(args: LoginArgs, global: &Global) -> CliResult {
    let url = args.url.trim_end_matches('/').to_owned();
    let token = match (args.token, &args.email) {
        (Some(token), _) => token.trim().to_owned(),
        (None, Some(email)) => {
            let password = read_password(email)?;
            let name = format!(
                "hearth CLI on {} ({})",
                hearth_server::agent::hostname(),
                args.profile
            );
            hearth_client::Client::login(url.clone(), email, &password, &name)
                .await?
                .token
        }
        (None, None) => {
            return Err(CliError::new(
                exit::CONFIG,
                "give --token TOKEN, or --email EMAIL (the password is asked for)",
            ));
        }
    };
    let client = Client::new(url.clone(), token.clone())?;
    let info = client.info().await?;
    let path = ProfileFile::default_path()?;
    let mut file = ProfileFile::load(&path)?.unwrap_or_default();
    let profile = file
        .profiles
        .entry(args.profile.clone())
        .or_insert_with(|| Profile::new("", ""));
    profile.url = url.clone();
    profile.token = token;
    if !args.no_default
        && (file.default_profile.is_some()
            || args.profile != hearth_client::config::DEFAULT_PROFILE)
    {
        file.default_profile = Some(args.profile.clone());
    }
    file.save(&path)?;
    let value = serde_json::json!({
        "profile": args.profile,
        "url": url,
        "email": info.email,
        "path": path.display().to_string(),
    });
    output::one(
        global.output,
        &value,
        &[
            ("PROFILE", "profile"),
            ("URL", "url"),
            ("EMAIL", "email"),
            ("FILE", "path"),
        ],
    );
    Ok(exit::OK)
}

async fn whoami(global: &Global) -> CliResult {
    let client = client(global)?;
    let info = client.info().await?;
    let mut value = output::to_value(&info);
    if let Some(map) = value.as_object_mut() {
        map.insert("url".into(), client.url().into());
    }
    output::one(
        global.output,
        &value,
        &[
            ("EMAIL", "email"),
            ("URL", "url"),
            ("POOLS", "poolCount"),
            ("TASKS", "taskCount"),
            ("RUNNING TASKS", "runningTaskCount"),
            ("QUEUED INSTANCES", "queuedInstanceCount"),
        ],
    );
    Ok(exit::OK)
}

/// A pool named by uuid, or by its name when unique.
pub async fn pool_id(client: &Client, name: &str) -> CliResult<Uuid> {
    if let Ok(id) = Uuid::parse_str(name) {
        return Ok(id);
    }
    Ok(client.pools().find_by_name(name).await?.uuid())
}

/// A task named by uuid, or by its name when unique.
pub async fn task_id(client: &Client, name: &str) -> CliResult<Uuid> {
    if let Ok(id) = Uuid::parse_str(name) {
        return Ok(id);
    }
    Ok(client.tasks().find_by_name(name).await?.uuid())
}

/// `KEY=VALUE` arguments.
pub fn key_value(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))
}
