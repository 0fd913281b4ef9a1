//! `hearth pools …`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use futures_util::{StreamExt, TryStreamExt};
use hearth_client::{Client, HasUuid, Pool};

use super::output::{self, Column};
use super::spec::PoolSpec;
use super::{CliError, CliResult, Global, exit, key_value, pool_id};

#[derive(Subcommand, Debug)]
pub enum PoolsCommand {
    /// The tenant's pools.
    List,
    /// One pool (by name or uuid).
    Get { pool: String },
    /// Create a fixed pool.
    Create(CreateArgs),
    /// Create or change a pool to match a TOML file (idempotent).
    Apply {
        /// The pool's TOML file (`-` for standard input).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Show what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a pool as the TOML `apply` reads.
    Export {
        pool: String,
        /// Write to this file instead of standard output.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
    },
    /// Set a fixed pool's size (`--slots`), or have the scaler evaluate it now.
    Resize {
        pool: String,
        #[arg(long)]
        slots: Option<u32>,
    },
    /// Close a pool: its nodes stop, it stays readable.
    Close { pool: String },
    /// Delete a pool.
    Delete { pool: String },
    /// The pool's nodes.
    Nodes { pool: String },
    /// The pool's scaling decisions.
    Decisions { pool: String },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// The pool's profile, e.g. docker-batch.
    #[arg(long)]
    pub profile: String,
    /// Slots (fixed size).
    #[arg(long, default_value_t = 1)]
    pub slots: u32,
    #[arg(long)]
    pub slots_per_node: Option<u32>,
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// KEY=VALUE (repeatable).
    #[arg(long = "constant", value_parser = key_value)]
    pub constants: Vec<(String, String)>,
    /// KEY=VALUE (repeatable).
    #[arg(long = "label", value_parser = key_value)]
    pub labels: Vec<(String, String)>,
    /// Wait until the pool is ready (FullyExecuting).
    #[arg(long)]
    pub wait: bool,
    /// The longest `--wait` waits, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

pub const POOL_COLUMNS: &[Column] = &[
    ("UUID", "uuid"),
    ("NAME", "name"),
    ("PROFILE", "profile"),
    ("STATE", "state"),
    ("SLOTS", "instanceCount"),
    ("CAPACITY", "totalSlotCapacity"),
    ("RUNNING", "runningInstanceCount"),
    ("QUEUED+RUNNING", "queuedOrRunningTaskInstancesCount"),
];

const NODE_COLUMNS: &[Column] = &[
    ("UUID", "uuid"),
    ("STATE", "state"),
    ("SLOTS", "slots"),
    ("BUSY", "busySlots"),
    ("CREATED", "creationDate"),
    ("READY", "readyAt"),
    ("HEARTBEAT", "lastHeartbeat"),
];

const DECISION_COLUMNS: &[Column] = &[
    ("UUID", "uuid"),
    ("DATE", "lastEvaluationDate"),
    ("ACTION", "action"),
    ("WANTED", "wantedSlots"),
    ("TARGET", "targetSlots"),
    ("POLICY", "activePolicyName"),
    ("REASON", "reason"),
];

pub async fn run(command: PoolsCommand, global: &Global) -> CliResult {
    let client = super::client(global)?;
    let out = global.output;
    match command {
        PoolsCommand::List => {
            let pools: Vec<Pool> = client.pools().list().try_collect().await?;
            let items: Vec<_> = pools.iter().map(output::to_value).collect();
            output::list(out, &items, POOL_COLUMNS);
        }
        PoolsCommand::Get { pool } => {
            let id = pool_id(&client, &pool).await?;
            let pool = client.pools().get(id).await?;
            output::one(out, &output::to_value(&pool), POOL_COLUMNS);
        }
        PoolsCommand::Create(args) => {
            let mut builder = client
                .pools()
                .create(args.name.clone(), args.profile.clone())
                .slots(args.slots);
            if let Some(n) = args.slots_per_node {
                builder = builder.slots_per_node(n);
            }
            for tag in &args.tags {
                builder = builder.tag(tag.clone());
            }
            for (k, v) in &args.constants {
                builder = builder.constant(k.clone(), v.clone());
            }
            for (k, v) in &args.labels {
                builder = builder.label(k.clone(), v.clone());
            }
            let handle = builder.send().await?;
            let pool = if args.wait {
                wait_ready(&client, &handle, Duration::from_secs(args.timeout)).await?
            } else {
                handle.get().await?
            };
            output::one(out, &output::to_value(&pool), POOL_COLUMNS);
        }
        PoolsCommand::Apply { file, dry_run } => return apply(&client, &file, dry_run).await,
        PoolsCommand::Export { pool, file } => {
            let id = pool_id(&client, &pool).await?;
            let pool = client.pools().get(id).await?;
            let text = toml::to_string(&PoolSpec::from_pool(&pool))
                .map_err(|e| CliError::new(exit::CONFIG, format!("cannot write TOML: {e}")))?;
            match file {
                Some(path) => std::fs::write(&path, text).map_err(|e| {
                    CliError::new(
                        exit::CONFIG,
                        format!("cannot write {}: {e}", path.display()),
                    )
                })?,
                None => print!("{text}"),
            }
        }
        PoolsCommand::Resize { pool, slots } => {
            let id = pool_id(&client, &pool).await?;
            match slots {
                Some(slots) => {
                    let pool = client.pools().update(id).fixed(slots).send().await?;
                    output::one(out, &output::to_value(&pool), POOL_COLUMNS);
                }
                None => {
                    let decision = client.pools().resize(id).await?;
                    output::one(out, &output::to_value(&decision), DECISION_COLUMNS);
                }
            }
        }
        PoolsCommand::Close { pool } => {
            let id = pool_id(&client, &pool).await?;
            let pool = client.pools().close(id).await?;
            output::one(out, &output::to_value(&pool), POOL_COLUMNS);
        }
        PoolsCommand::Delete { pool } => {
            let id = pool_id(&client, &pool).await?;
            client.pools().delete(id).await?;
            eprintln!("deleted pool {id}");
        }
        PoolsCommand::Nodes { pool } => {
            let id = pool_id(&client, &pool).await?;
            let nodes: Vec<_> = client.pools().nodes(id).try_collect().await?;
            let items: Vec<_> = nodes.iter().map(output::to_value).collect();
            output::list(out, &items, NODE_COLUMNS);
        }
        PoolsCommand::Decisions { pool } => {
            let id = pool_id(&client, &pool).await?;
            let found: Vec<_> = client.pools().decisions(id).try_collect().await?;
            let items: Vec<_> = found.iter().map(output::to_value).collect();
            output::list(out, &items, DECISION_COLUMNS);
        }
    }
    Ok(exit::OK)
}

/// Waits until the pool is `FullyExecuting`, reading it again on each of its events (and
/// at the latest every 2 s, should the stream be quiet).
pub async fn wait_ready(client: &Client, pool: impl HasUuid, timeout: Duration) -> CliResult<Pool> {
    let id = pool.uuid();
    let deadline = Instant::now() + timeout;
    let mut events = client.events().pool(id).subscribe().await.ok();
    loop {
        let pool = client.pools().get(id).await?;
        match pool.state.as_str() {
            "FullyExecuting" => return Ok(pool),
            "Closing" | "Closed" | "Failure" => {
                return Err(CliError::new(
                    exit::API,
                    format!("pool {} is {} and will not be ready", pool.name, pool.state),
                ));
            }
            _ => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(CliError::new(
                exit::TIMEOUT,
                format!(
                    "pool {} is still {} after {timeout:?}",
                    pool.name, pool.state
                ),
            ));
        }
        let step = (deadline - now).min(Duration::from_secs(2));
        match events.as_mut() {
            Some(stream) => {
                if let Ok(None) = tokio::time::timeout(step, stream.next()).await {
                    events = None;
                }
            }
            None => tokio::time::sleep(step).await,
        }
    }
}

/// What differs between the live pool and the file: `(field, live, wanted)`. A
/// `resize_period` the file leaves out is left as it is.
fn changes(live: &PoolSpec, wanted: &PoolSpec) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let size = |s: &PoolSpec| match s.slots {
        Some(n) => n.to_string(),
        None => format!("scaled by {} policies", s.policies.len()),
    };
    if live.slots != wanted.slots || (wanted.slots.is_some() && !live.policies.is_empty()) {
        out.push(("slots", size(live), size(wanted)));
    }
    if wanted.slots.is_none() && live.policies != wanted.policies {
        out.push(("policies", policies_text(live), policies_text(wanted)));
    }
    if let Some(period) = wanted.resize_period
        && live.resize_period != Some(period)
    {
        out.push((
            "resize_period",
            show(&live.resize_period),
            period.to_string(),
        ));
    }
    if live.tags != wanted.tags {
        out.push(("tags", show(&live.tags), show(&wanted.tags)));
    }
    if live.constants != wanted.constants {
        out.push(("constants", show(&live.constants), show(&wanted.constants)));
    }
    if live.labels != wanted.labels {
        out.push(("labels", show(&live.labels), show(&wanted.labels)));
    }
    out
}

/// The policies in one line each way: `Fixed office-hours (4) [1 period] → …`.
fn policies_text(spec: &PoolSpec) -> String {
    if spec.policies.is_empty() {
        return "none".into();
    }
    spec.policies
        .iter()
        .map(|p| {
            let figures = match p.slots {
                Some(n) => format!("{n}"),
                None => format!(
                    "{}..{}, idle {} for {} s, ×{}",
                    p.min_total_slots.unwrap_or(0),
                    p.max_total_slots.unwrap_or(1),
                    p.min_idle_slots.unwrap_or(0),
                    p.min_idle_time_seconds.unwrap_or(0),
                    p.scaling_factor.unwrap_or(1.0)
                ),
            };
            let periods = match p.periods.len() {
                0 => "always".to_owned(),
                1 => "1 period".to_owned(),
                n => format!("{n} periods"),
            };
            format!(
                "{} {}({figures}) [{periods}]",
                p.kind,
                p.name
                    .as_deref()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn apply(client: &Client, file: &PathBuf, dry_run: bool) -> CliResult {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| CliError::new(exit::CONFIG, format!("cannot read {}: {e}", file.display())))?;
    let wanted = toml::from_str::<PoolSpec>(&text)
        .map_err(|e| e.to_string())
        .and_then(PoolSpec::normalized)
        .map_err(|e| {
            CliError::new(
                exit::CONFIG,
                format!("{} is not a pool file: {e}", file.display()),
            )
        })?;
    let live = match client.pools().find_by_name(&wanted.name).await {
        Ok(pool) => Some(pool),
        Err(hearth_client::Error::NameNotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(live) = live.filter(|p| !matches!(p.state.as_str(), "Closing" | "Closed")) else {
        println!("pool {}: create", wanted.name);
        if dry_run {
            return Ok(exit::OK);
        }
        let mut builder = client
            .pools()
            .create(wanted.name.clone(), wanted.profile.clone());
        match wanted.slots {
            Some(slots) => builder = builder.slots(slots),
            None => {
                for policy in wanted.wire_policies() {
                    builder = builder.policy(policy);
                }
            }
        }
        if let Some(seconds) = wanted.resize_period {
            builder = builder.resize_period(seconds);
        }
        if let Some(n) = wanted.slots_per_node {
            builder = builder.slots_per_node(n);
        }
        for tag in &wanted.tags {
            builder = builder.tag(tag.clone());
        }
        for (k, v) in &wanted.constants {
            builder = builder.constant(k.clone(), v.clone());
        }
        for (k, v) in &wanted.labels {
            builder = builder.label(k.clone(), v.clone());
        }
        let handle = builder.send().await?;
        println!("pool {}: created {}", wanted.name, handle.uuid());
        return Ok(exit::OK);
    };
    let current = PoolSpec::from_pool(&live);
    if current.profile != wanted.profile {
        return Err(CliError::new(
            exit::CONFIG,
            format!(
                "pool {}: the profile cannot change in place ({} → {}); close it and apply again",
                wanted.name, current.profile, wanted.profile
            ),
        ));
    }
    if let Some(n) = wanted.slots_per_node
        && Some(n) != current.slots_per_node
    {
        return Err(CliError::new(
            exit::CONFIG,
            format!(
                "pool {}: slots_per_node cannot change in place ({:?} → {n})",
                wanted.name, current.slots_per_node
            ),
        ));
    }
    let diff = changes(&current, &wanted);
    if diff.is_empty() {
        println!("pool {}: no change", wanted.name);
        return Ok(exit::OK);
    }
    for (field, from, to) in &diff {
        println!("pool {}: {field}: {from} → {to}", wanted.name);
    }
    if dry_run {
        return Ok(exit::OK);
    }
    // Tags, constants and labels are sent whole each time (a PUT replaces them).
    let mut update = client
        .pools()
        .update(&live)
        .tags(wanted.tags.clone())
        .constants(wanted.constants.clone())
        .labels(wanted.labels.clone());
    if diff
        .iter()
        .any(|(field, ..)| *field == "slots" || *field == "policies")
    {
        update = match wanted.slots {
            Some(slots) => update.fixed(slots),
            None => update.policies(wanted.wire_policies()),
        };
    }
    if let Some(seconds) = wanted.resize_period
        && current.resize_period != Some(seconds)
    {
        update = update.resize_period(seconds);
    }
    update.send().await?;
    println!("pool {}: changed", wanted.name);
    Ok(exit::OK)
}
