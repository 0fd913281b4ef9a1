//! `hearth tasks …` and `hearth run`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use futures_util::{StreamExt, TryStreamExt};
use hearth_client::output::{OutputEvent, OutputStream};
use hearth_client::{Client, Task};

use super::output::{self, Column};
use super::{CliError, CliResult, Global, exit, key_value, pool_id, task_id};

#[derive(Subcommand, Debug)]
pub enum TasksCommand {
    /// Submit a task; prints it (use `run` to follow it).
    Submit(SubmitArgs),
    /// The tenant's tasks.
    List,
    /// One task (by name or uuid).
    Get { task: String },
    /// Abort a task.
    Abort { task: String },
    /// A task's output (all instances), optionally followed until it ends.
    Logs {
        task: String,
        /// Standard error instead of standard output.
        #[arg(long)]
        stderr: bool,
        /// Only this instance.
        #[arg(long)]
        instance: Option<u32>,
        /// Keep printing new output until the task ends.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Wait for a task to end; exit 0 on Success, 1 on Failure, 2 when cancelled.
    Wait {
        task: String,
        /// The longest wait, in seconds (then exit 7).
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The pool (name or uuid).
    #[arg(long)]
    pub pool: String,
    /// Instances.
    #[arg(short = 'n', long = "instances", default_value_t = 1)]
    pub instances: u32,
    /// The task's name (default: the command's first word).
    #[arg(long)]
    pub name: Option<String>,
    /// KEY=VALUE constants (repeatable).
    #[arg(long = "constant", value_parser = key_value)]
    pub constants: Vec<(String, String)>,
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// The command, run by a shell on the node (`$INSTANCE_ID` expands per instance).
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub submit: SubmitArgs,
    /// The longest wait, in seconds (then exit 7; the task goes on).
    #[arg(long, default_value_t = 86_400)]
    pub timeout: u64,
    /// Print the task's standard output when it ends.
    #[arg(long)]
    pub show_output: bool,
}

pub const TASK_COLUMNS: &[Column] = &[
    ("UUID", "uuid"),
    ("NAME", "name"),
    ("STATE", "state"),
    ("INSTANCES", "instanceCount"),
    ("RUNNING", "runningInstanceCount"),
    ("SUCCEEDED", "status.succeededRange"),
    ("FAILED", "status.failedRange"),
    ("POOL", "poolUuid"),
    ("CREATED", "creationDate"),
];

pub async fn run(command: TasksCommand, global: &Global) -> CliResult {
    let client = super::client(global)?;
    let out = global.output;
    match command {
        TasksCommand::Submit(args) => {
            let task = submit(&client, &args).await?.get().await?;
            output::one(out, &output::to_value(&task), TASK_COLUMNS);
        }
        TasksCommand::List => {
            let tasks: Vec<Task> = client.tasks().list().try_collect().await?;
            let items: Vec<_> = tasks.iter().map(output::to_value).collect();
            output::list(out, &items, TASK_COLUMNS);
        }
        TasksCommand::Get { task } => {
            let id = task_id(&client, &task).await?;
            let task = client.tasks().get(id).await?;
            output::one(out, &output::to_value(&task), TASK_COLUMNS);
        }
        TasksCommand::Abort { task } => {
            let id = task_id(&client, &task).await?;
            let task = client.tasks().abort(id).await?;
            output::one(out, &output::to_value(&task), TASK_COLUMNS);
        }
        TasksCommand::Logs {
            task,
            stderr,
            instance,
            follow,
        } => {
            let id = task_id(&client, &task).await?;
            logs(&client, id, stderr, instance, follow).await?;
        }
        TasksCommand::Wait { task, timeout } => {
            let id = task_id(&client, &task).await?;
            let task = wait(&client, id, Duration::from_secs(timeout)).await?;
            output::one(out, &output::to_value(&task), TASK_COLUMNS);
            return Ok(outcome(&task.state));
        }
    }
    Ok(exit::OK)
}

/// The exit code of a task's final state.
pub fn outcome(state: &str) -> i32 {
    match state {
        "Success" => exit::OK,
        "Cancelled" => exit::TASK_CANCELLED,
        _ => exit::TASK_FAILED,
    }
}

async fn submit(client: &Client, args: &SubmitArgs) -> CliResult<hearth_client::TaskHandle> {
    let pool = pool_id(client, &args.pool).await?;
    let command = args.command.join(" ");
    let name = args.name.clone().unwrap_or_else(|| {
        args.command
            .first()
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("task")
            .to_owned()
    });
    let mut builder = client
        .tasks()
        .create(name)
        .pool(pool)
        .instances(args.instances)
        .command(command);
    for (k, v) in &args.constants {
        builder = builder.constant(k.clone(), v.clone());
    }
    for tag in &args.tags {
        builder = builder.tag(tag.clone());
    }
    Ok(builder.send().await?)
}

/// Long-polls until the task ends or `timeout` runs out.
async fn wait(client: &Client, id: uuid::Uuid, timeout: Duration) -> CliResult<Task> {
    match client.tasks().wait_until_done(id, timeout).await {
        Ok(task) => Ok(task),
        Err(hearth_client::Error::WaitTimeout { task, .. }) => Err(CliError::new(
            exit::TIMEOUT,
            format!(
                "task {} is still {} after {timeout:?}",
                task.uuid, task.state
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// How many instances `tasks logs -f` follows at once (the others wait for a free place:
/// their output is kept by the server, so none is lost meanwhile).
const MAX_FOLLOWED: usize = 32;

async fn logs(
    client: &Client,
    id: uuid::Uuid,
    stderr: bool,
    instance: Option<u32>,
    follow: bool,
) -> CliResult<()> {
    let pipe = if stderr {
        OutputStream::Stderr
    } else {
        OutputStream::Stdout
    };
    if follow {
        return match instance {
            Some(i) => follow_one(client, id, i, pipe, false).await,
            None => follow_task(client, id, pipe).await,
        };
    }
    let req = client.tasks().output(id, pipe);
    let req = match instance {
        Some(i) => req.instance(i),
        None => req,
    };
    print!("{}", req.await?);
    let _ = std::io::stdout().flush();
    Ok(())
}

/// `tasks logs T -f`: every instance followed (at most `MAX_FOLLOWED` at once, in id
/// order), each complete line printed as `[i] line`; a task of one instance is printed
/// as it comes, without the prefix.
async fn follow_task(client: &Client, id: uuid::Uuid, pipe: OutputStream) -> CliResult<()> {
    let task = client.tasks().get(id).await?;
    let ids = match task
        .advanced_ranges
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        Some(ranges) => range_ids(ranges),
        None => (0..task.instance_count.max(0) as u32).collect(),
    };
    // One instance: its text as it comes, as with `--instance` (nothing to tell apart).
    if let [only] = ids[..] {
        return follow_one(client, id, only, pipe, false).await;
    }
    futures_util::stream::iter(ids.into_iter().map(Ok::<u32, CliError>))
        .try_for_each_concurrent(MAX_FOLLOWED, |i| follow_one(client, id, i, pipe, true))
        .await
}

/// One instance's text of `pipe`, until its end: as it comes, or (`prefixed`, when several
/// instances share the terminal) in whole lines prefixed `[i] `, a partial line held until
/// its newline or the end.
async fn follow_one(
    client: &Client,
    id: uuid::Uuid,
    instance: u32,
    pipe: OutputStream,
    prefixed: bool,
) -> CliResult<()> {
    let mut output = client
        .tasks()
        .instance_output(id, instance)
        .follow()
        .await?;
    let mut partial = String::new();
    while let Some(event) = output.try_next().await? {
        match event {
            OutputEvent::Chunk { stream, text, .. } if stream == pipe && !prefixed => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            OutputEvent::Chunk { stream, text, .. } if stream == pipe => {
                partial.push_str(&text);
                if let Some(cut) = partial.rfind('\n') {
                    let rest = partial.split_off(cut + 1);
                    print_lines(instance, &partial);
                    partial = rest;
                }
            }
            OutputEvent::End { .. } => {
                if !partial.is_empty() {
                    partial.push('\n');
                    print_lines(instance, &partial);
                }
                return Ok(());
            }
            _ => {}
        }
    }
    Err(ended_early(id, instance))
}

/// Prints `text` (whole lines) with each line prefixed `[instance] `, in one write.
fn print_lines(instance: u32, text: &str) {
    let mut block = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        block.push_str(&format!("[{instance}] {line}"));
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(block.as_bytes());
    let _ = out.flush();
}

fn ended_early(id: uuid::Uuid, instance: u32) -> CliError {
    CliError::new(
        exit::UNREACHABLE,
        format!("the output stream of task {id} instance {instance} ended before its end"),
    )
}

/// The ids a range list (`0-3,7`) names, in order.
pub fn range_ids(ranges: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = ranges
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .flat_map(|r| match r.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => (a..=b).collect::<Vec<_>>(),
                _ => Vec::new(),
            },
            None => r.parse::<u32>().into_iter().collect(),
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Counts of a task's instances.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub succeeded: u64,
    pub failed: u64,
    pub running: u64,
    pub queued: u64,
    pub total: u64,
}

/// How many ids a range list (`0-3,7`) names.
pub fn range_len(ranges: &str) -> u64 {
    ranges
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| match r.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => u64::from(r.parse::<u64>().is_ok()),
        })
        .sum()
}

pub fn counts(task: &Task) -> Counts {
    let total = task.instance_count.max(0) as u64;
    let succeeded = range_len(&task.status.succeeded_range);
    let failed = range_len(&task.status.failed_range);
    let running = u64::from(task.running_instance_count);
    let queued = total.saturating_sub(succeeded + failed + running);
    Counts {
        succeeded,
        failed,
        running,
        queued,
        total,
    }
}

/// `hearth run`: submit, follow, exit with the task's outcome.
pub async fn run_command(args: RunArgs, global: &Global) -> CliResult {
    let client = super::client(global)?;
    let handle = submit(&client, &args.submit).await?;
    let id = handle.uuid();
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    eprintln!("task {id} submitted ({} instances)", args.submit.instances);
    let tty = std::io::stderr().is_terminal();
    let bar = tty
        .then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(u64::from(args.submit.instances)),
                indicatif::ProgressDrawTarget::stderr(),
            );
            // The counts (with "ended/total") are one message, so that a redraw never
            // shows them from two different reads; the fixed parts fit 80 columns.
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {msg} {wide_bar} {elapsed_precise} {rate} ETA {eta}",
            ) {
                bar.set_style(style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", state.per_sec());
                    },
                ));
            }
            bar
        })
        // indicatif hides its bar on a terminal whose `TERM` is unset or `dumb`: the plain
        // lines then, not nothing.
        .filter(|bar| !bar.is_hidden());
    let mut events = client.events().task(id).subscribe().await.ok();
    let mut last: Option<Counts> = None;
    let task = loop {
        let task = client.tasks().get(id).await?;
        let c = counts(&task);
        let line = format!(
            "succeeded {} / failed {} / running {} / queued {}",
            c.succeeded, c.failed, c.running, c.queued
        );
        match &bar {
            Some(bar) => {
                bar.set_message(format!("{}/{} {line}", c.succeeded + c.failed, c.total));
                bar.set_position(c.succeeded + c.failed);
            }
            None if last != Some(c) => eprintln!("{}: {line}", task.state),
            None => {}
        }
        last = Some(c);
        if hearth_client::tasks::is_finished(&task.state) {
            break task;
        }
        let now = Instant::now();
        if now >= deadline {
            if let Some(bar) = &bar {
                bar.abandon();
                // indicatif leaves the cursor at the end of the bar's line.
                eprintln!();
            }
            return Err(CliError::new(
                exit::TIMEOUT,
                format!("task {id} is still {} after {}s", task.state, args.timeout),
            ));
        }
        let step = (deadline - now).min(Duration::from_secs(1));
        match events.as_mut() {
            Some(stream) => {
                if let Ok(None) = tokio::time::timeout(step, stream.next()).await {
                    events = None;
                }
            }
            // No event stream: the long poll answers at the end, else after `step`.
            None => match client.tasks().wait_until_done(id, step).await {
                Ok(_) | Err(hearth_client::Error::WaitTimeout { .. }) => {}
                Err(e) => return Err(e.into()),
            },
        }
    };
    if let Some(bar) = &bar {
        bar.finish();
        // indicatif leaves the cursor at the end of the bar's line: the summary goes below.
        eprintln!();
    }
    let c = counts(&task);
    eprintln!(
        "task {id} {}: {} succeeded, {} failed of {}",
        task.state, c.succeeded, c.failed, c.total
    );
    if args.show_output {
        print!("{}", client.tasks().stdout(id).await?);
    }
    if global.output != output::Format::Table {
        output::one(global.output, &output::to_value(&task), TASK_COLUMNS);
    }
    Ok(outcome(&task.state))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_count() {
        assert_eq!(super::range_len("0-3,7"), 5);
        assert_eq!(super::range_len(""), 0);
        assert_eq!(super::range_ids("7, 0-3,2"), [0, 1, 2, 3, 7]);
        assert!(super::range_ids("").is_empty());
    }
}
