//! `hearth tasks …` and `hearth run`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use futures_util::{StreamExt, TryStreamExt};
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

async fn logs(
    client: &Client,
    id: uuid::Uuid,
    stderr: bool,
    instance: Option<u32>,
    follow: bool,
) -> CliResult<()> {
    let read = || {
        let req = if stderr {
            client.tasks().stderr(id)
        } else {
            client.tasks().stdout(id)
        };
        match instance {
            Some(i) => req.instance(i),
            None => req,
        }
    };
    let mut printed = 0usize;
    loop {
        // Read the state before the output, so that output written just before the end
        // is read once more after it.
        let finished =
            !follow || hearth_client::tasks::is_finished(&client.tasks().get(id).await?.state);
        let text = read().await?;
        if text.len() > printed && text.is_char_boundary(printed) {
            print!("{}", &text[printed..]);
            let _ = std::io::stdout().flush();
            printed = text.len();
        } else if text.len() < printed {
            printed = 0;
        }
        if finished {
            return Ok(());
        }
        // The long poll returns at the task's end, else after this long.
        match client
            .tasks()
            .wait_until_done(id, Duration::from_secs(1))
            .await
        {
            Ok(_) | Err(hearth_client::Error::WaitTimeout { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
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
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(u64::from(args.submit.instances)),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ({per_sec}, ETA {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    });
    eprintln!("task {id} submitted ({} instances)", args.submit.instances);
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
                bar.set_position(c.succeeded + c.failed);
                bar.set_message(line);
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
    }
}
