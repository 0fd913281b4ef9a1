//! `hearth`: run the control plane, or only its migrations.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use hearth_server::startup::{Application, Settings};

mod cli;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Warm compute pools, Qarnot-compatible API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: cli::Global,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (creates the first tenant and tokens on first start).
    Serve {
        #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./hearth-data")]
        data_dir: PathBuf,
        #[arg(long, env = "HEARTH_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// postgres://… for PostgreSQL; default: SQLite in the data directory.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Agent heartbeat interval; a node silent for 3 intervals is Failed.
        #[arg(long, env = "HEARTH_HEARTBEAT_MS", default_value_t = 2000)]
        heartbeat_ms: u64,
        /// Agents exit when they cannot reach the server for this long.
        #[arg(long, env = "HEARTH_AGENT_GIVE_UP_SECONDS", default_value_t = 60)]
        agent_give_up_seconds: u64,
        /// SIGTERM → SIGKILL grace when stopping instances and agents.
        #[arg(long, env = "HEARTH_KILL_GRACE_MS", default_value_t = 5000)]
        kill_grace_ms: u64,
        /// Most live nodes at once, all tenants together (default: 32 per core, at least 16).
        #[arg(long, env = "HEARTH_MAX_NODES")]
        max_nodes: Option<u32>,
        /// Instances that may wait on a node behind the one running on a busy slot, so that
        /// the slot is refilled the moment it frees (only in pools whose instances are
        /// short, under 250 ms); 0 turns it off.
        #[arg(long, env = "HEARTH_QUEUE_BEHIND_SLOT", default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=8))]
        queue_behind_slot: u32,
        /// Events kept per tenant in memory for `GET /events` replays (`Last-Event-ID`).
        #[arg(long, env = "HEARTH_EVENT_BACKLOG", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        event_backlog: u64,
        /// The currency of every price (ISO 4217 code), shown on billing reports.
        #[arg(long, env = "HEARTH_CURRENCY", default_value = "EUR")]
        currency: String,
        /// Days raw usage (closed intervals, ended executions) is kept; older whole days
        /// stay billable from the day rollups.
        #[arg(long, env = "HEARTH_USAGE_RETENTION_DAYS", default_value_t = 400, value_parser = clap::value_parser!(u32).range(367..=36_500))]
        usage_retention_days: u32,
    },
    /// Run a node agent: register with the server, run the instances it assigns.
    Agent {
        #[arg(long, env = "HEARTH_SERVER")]
        server: String,
        #[arg(long, env = "HEARTH_NODE_TOKEN", hide_env_values = true)]
        node_token: String,
        #[arg(long, default_value = ".")]
        node_dir: PathBuf,
        #[arg(long, default_value_t = 60)]
        give_up_after_seconds: u64,
        #[arg(long, default_value_t = 0)]
        boot_delay_ms: u64,
    },
    /// Manage a tenant's users through the API (owner token).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Print a shell completion script (bash, zsh, fish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    #[command(flatten)]
    User(cli::UserCommand),
    /// Run database migrations and exit.
    Migrate {
        #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./hearth-data")]
        data_dir: PathBuf,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Set or reset a user's dashboard password; the password is read from standard input
    /// (one line), never from the command line.
    SetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
        #[arg(long, env = "HEARTH_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// An owner token of the user's tenant (default: `DATA_DIR/owner.token`).
        #[arg(long, env = "HEARTH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./hearth-data")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let parsed = Cli::parse();
    match parsed.command {
        Command::User(command) => {
            let code = cli::run(command, parsed.global).await;
            std::process::exit(code);
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "hearth", &mut std::io::stdout());
            return Ok(());
        }
        _ => hearth_server::telemetry::init_logging(),
    }
    match parsed.command {
        Command::User(_) | Command::Completions { .. } => unreachable!("handled above"),
        Command::Serve {
            data_dir,
            bind,
            database_url,
            heartbeat_ms,
            agent_give_up_seconds,
            kill_grace_ms,
            max_nodes,
            queue_behind_slot,
            event_backlog,
            currency,
            usage_retention_days,
        } => {
            let settings = Settings::new(data_dir)
                .with_bind(bind)
                .with_database_url(database_url)
                .with_heartbeat_interval(Duration::from_millis(heartbeat_ms.max(50)))
                .with_agent_give_up(Duration::from_secs(agent_give_up_seconds.max(1)))
                .with_kill_grace(Duration::from_millis(kill_grace_ms))
                .with_queue_behind_slot(queue_behind_slot)
                .with_event_backlog(event_backlog as usize)
                .with_currency(currency)
                .with_usage_retention_days(usage_retention_days);
            let settings = match max_nodes {
                Some(max) => settings.with_max_live_nodes(max),
                None => settings,
            };
            let app = Application::build(settings.clone()).await?;
            let host = settings
                .bind
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or("127.0.0.1");
            println!("hearth is serving on http://{host}:{}", app.port());
            println!("owner token (tenant 'default'): {}", app.owner_token());
            println!(
                "dashboard: http://{host}:{}/ui/ (sign in with the owner token)",
                app.port()
            );
            println!(
                "tokens are kept in {}/owner.token and {}/operator.token",
                settings.data_dir.display(),
                settings.data_dir.display()
            );
            app.run_until(shutdown_signal()).await?;
            Ok(())
        }
        Command::Agent {
            server,
            node_token,
            node_dir,
            give_up_after_seconds,
            boot_delay_ms,
        } => {
            hearth_server::agent::run(hearth_server::agent::AgentConfig {
                server,
                node_token,
                node_dir,
                give_up_after: std::time::Duration::from_secs(give_up_after_seconds),
                boot_delay: std::time::Duration::from_millis(boot_delay_ms),
            })
            .await
        }
        Command::Users {
            command:
                UsersCommand::SetPassword {
                    email,
                    server,
                    token,
                    data_dir,
                },
        } => {
            let token = match token {
                Some(t) => t,
                None => std::fs::read_to_string(data_dir.join("owner.token"))
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "no --token and no owner.token in {}: {e}",
                            data_dir.display()
                        )
                    })?
                    .trim()
                    .to_owned(),
            };
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            hearth_server::cli_users::set_password(hearth_server::cli_users::SetPassword {
                server,
                token,
                email: email.clone(),
                password,
            })
            .await?;
            println!("password set for {email}");
            Ok(())
        }
        Command::Migrate {
            data_dir,
            database_url,
        } => {
            let settings = Settings::new(data_dir).with_database_url(database_url);
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = hearth_server::db::connect(&settings.database_url()).await?;
            hearth_server::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
