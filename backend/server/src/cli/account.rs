//! `hearth billing usage`, `hearth budgets …`, `hearth events`.

use std::io::Write;

use clap::{Subcommand, ValueEnum};
use futures_util::{StreamExt, TryStreamExt};
use hearth_client::billing::GroupBy;
use hearth_client::budgets::{Budget, BudgetSpec, OverrunPolicy};
use hearth_client::events::EventItem;
use hearth_client::{Client, HasUuid};
use uuid::Uuid;

use super::output::{self, Column, Format};
use super::{CliError, CliResult, Global, exit, pool_id, task_id};

#[derive(Subcommand, Debug)]
pub enum BillingCommand {
    /// Usage and cost over a period.
    Usage {
        /// Start: RFC 3339 or YYYY-MM-DD (default: the first of this month).
        #[arg(long)]
        from: Option<String>,
        /// End, excluded (default: now).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = Group::Pool)]
        group_by: Group,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Group {
    Pool,
    Profile,
    Day,
    Task,
    Node,
}

impl From<Group> for GroupBy {
    fn from(g: Group) -> GroupBy {
        match g {
            Group::Pool => GroupBy::Pool,
            Group::Profile => GroupBy::Profile,
            Group::Day => GroupBy::Day,
            Group::Task => GroupBy::Task,
            Group::Node => GroupBy::Node,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum BudgetsCommand {
    /// The tenant's budgets.
    List,
    /// One budget (by name or uuid).
    Get { budget: String },
    /// Create a budget: monthly, or over `--from`..`--to`.
    Create {
        name: String,
        /// The amount, in the server's currency.
        #[arg(long)]
        amount: String,
        #[arg(long, requires = "to")]
        from: Option<String>,
        #[arg(long, requires = "from")]
        to: Option<String>,
        #[arg(long, value_enum)]
        overrun_policy: Option<Overrun>,
        /// Alert thresholds as fractions, e.g. 0.5 (repeatable).
        #[arg(long = "alert")]
        alerts: Vec<f64>,
    },
    /// Delete a budget.
    Delete { budget: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Overrun {
    AlertOnly,
    BlockNew,
    StopAndBlockAll,
}

const USAGE_COLUMNS: &[Column] = &[
    ("POOL", "poolName"),
    ("PROFILE", "profile"),
    ("DAY", "day"),
    ("TASK", "taskName"),
    ("NODE", "nodeUuid"),
    ("SLOT SECONDS", "figures.slotSeconds"),
    ("BUSY", "figures.busySlotSeconds"),
    ("IDLE", "figures.idleSlotSeconds"),
    ("COST", "figures.cost"),
    ("CURRENCY", "figures.currency"),
];

const BUDGET_COLUMNS: &[Column] = &[
    ("UUID", "uuid"),
    ("NAME", "name"),
    ("AMOUNT", "amount"),
    ("CURRENCY", "currency"),
    ("CONSUMED", "consumed"),
    ("REMAINING", "remaining"),
    ("FORECAST", "forecast"),
    ("POLICY", "overrunPolicy"),
    ("FROM", "periodFrom"),
    ("TO", "periodTo"),
];

pub async fn billing(command: BillingCommand, global: &Global) -> CliResult {
    let client = super::client(global)?;
    let BillingCommand::Usage { from, to, group_by } = command;
    let mut request = client.billing().usage().group_by(group_by.into());
    if let Some(from) = from {
        request = request.from(from);
    }
    if let Some(to) = to {
        request = request.to(to);
    }
    if global.output == Format::Csv {
        // The server's own CSV (all lines, its columns).
        print!("{}", request.csv().await?);
        return Ok(exit::OK);
    }
    let lines: Vec<_> = request.lines().try_collect().await?;
    let items: Vec<_> = lines.iter().map(output::to_value).collect();
    output::list(global.output, &items, USAGE_COLUMNS);
    Ok(exit::OK)
}

async fn budget_id(client: &Client, name: &str) -> CliResult<Uuid> {
    if let Ok(id) = Uuid::parse_str(name) {
        return Ok(id);
    }
    let all: Vec<Budget> = client.budgets().list().try_collect().await?;
    let found: Vec<&Budget> = all.iter().filter(|b| b.name == name).collect();
    match found.as_slice() {
        [one] => Ok(one.uuid()),
        [] => Err(CliError::new(
            exit::NOT_FOUND,
            format!("no budget is named '{name}'"),
        )),
        many => Err(CliError::new(
            exit::NOT_FOUND,
            format!("{} budgets are named '{name}': use a uuid", many.len()),
        )),
    }
}

pub async fn budgets(command: BudgetsCommand, global: &Global) -> CliResult {
    let client = super::client(global)?;
    let out = global.output;
    match command {
        BudgetsCommand::List => {
            let all: Vec<Budget> = client.budgets().list().try_collect().await?;
            let items: Vec<_> = all.iter().map(output::to_value).collect();
            output::list(out, &items, BUDGET_COLUMNS);
        }
        BudgetsCommand::Get { budget } => {
            let id = budget_id(&client, &budget).await?;
            let budget = client.budgets().get(id).await?;
            output::one(out, &output::to_value(&budget), BUDGET_COLUMNS);
        }
        BudgetsCommand::Create {
            name,
            amount,
            from,
            to,
            overrun_policy,
            alerts,
        } => {
            let mut spec = match (from, to) {
                (Some(from), Some(to)) => BudgetSpec::range(name, amount, from, to),
                _ => BudgetSpec::monthly(name, amount),
            };
            if let Some(policy) = overrun_policy {
                spec = spec.overrun_policy(match policy {
                    Overrun::AlertOnly => OverrunPolicy::AlertOnly,
                    Overrun::BlockNew => OverrunPolicy::BlockNew,
                    Overrun::StopAndBlockAll => OverrunPolicy::StopAndBlockAll,
                });
            }
            if !alerts.is_empty() {
                spec = spec.alert_thresholds(&alerts);
            }
            let budget = client.budgets().create(&spec).await?;
            output::one(out, &output::to_value(&budget), BUDGET_COLUMNS);
        }
        BudgetsCommand::Delete { budget } => {
            let id = budget_id(&client, &budget).await?;
            client.budgets().delete(id).await?;
            eprintln!("deleted budget {id}");
        }
    }
    Ok(exit::OK)
}

/// `hearth events`: follows the tenant's stream (one line per event) until interrupted,
/// or until `count` events were printed.
pub async fn events(
    pool: Option<String>,
    task: Option<String>,
    kinds: Vec<String>,
    count: Option<u64>,
    after: Option<u64>,
    global: &Global,
) -> CliResult {
    let client = super::client(global)?;
    let mut request = client.events();
    if let Some(pool) = pool {
        request = request.pool(pool_id(&client, &pool).await?);
    }
    if let Some(task) = task {
        request = request.task(task_id(&client, &task).await?);
    }
    if !kinds.is_empty() {
        request = request.types(kinds);
    }
    if let Some(after) = after {
        request = request.after(after);
    }
    let mut stream = request.subscribe().await?;
    let mut printed = 0u64;
    if count == Some(0) {
        return Ok(exit::OK);
    }
    while let Some(item) = stream.next().await {
        let item = item?;
        let value = match &item {
            EventItem::Event(e) => {
                let mut v = output::to_value(e);
                if let Some(map) = v.as_object_mut() {
                    map.insert("kind".into(), e.change.kind().into());
                }
                v
            }
            EventItem::Reset { reason, .. } => {
                // Not an event: a note that some were lost, on stderr.
                eprintln!("note: {reason}");
                continue;
            }
            EventItem::Other { id, kind, data } => {
                serde_json::json!({"id": id, "kind": kind, "data": data})
            }
            _ => continue,
        };
        let details = details(&value);
        match global.output {
            Format::Table => println!(
                "{}  {}  {:<14}  {details}",
                output::field(&value, "id"),
                output::field(&value, "at"),
                output::field(&value, "kind"),
            ),
            Format::Csv => {
                if printed == 0 {
                    println!("id,at,kind,details");
                }
                let row = serde_json::json!({
                    "id": value.get("id"),
                    "at": value.get("at"),
                    "kind": value.get("kind"),
                    "details": details,
                });
                let text = output::csv(
                    std::slice::from_ref(&row),
                    &[
                        ("id", "id"),
                        ("at", "at"),
                        ("kind", "kind"),
                        ("details", "details"),
                    ],
                );
                if let Some(line) = text.lines().nth(1) {
                    println!("{line}");
                }
            }
            Format::Json | Format::Jsonl => println!("{value}"),
        }
        let _ = std::io::stdout().flush();
        printed += 1;
        if count.is_some_and(|c| printed >= c) {
            break;
        }
    }
    Ok(exit::OK)
}

/// An event's fields other than its id, time and kind, as `key=value` words.
fn details(event: &serde_json::Value) -> String {
    let Some(map) = event.as_object() else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "id" | "at" | "kind" | "type"))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
