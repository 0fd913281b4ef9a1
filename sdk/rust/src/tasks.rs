//! Tasks: submit, read, list, wait for, abort, delete; their output.
//!
//! ```no_run
//! # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
//! use std::time::Duration;
//!
//! let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
//! let task = client.tasks().create("t").pool(pool).instances(2).command("date").send().await?;
//! let done = task.wait_until_done(Duration::from_secs(120)).await?;
//! if hearth_client::tasks::is_finished(&done.state) {
//!     print!("{}", task.stdout().await?);
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use hearth_api::events::OutputStream;
use hearth_api::platform::Created;
use hearth_api::qarnot::task::{AdvancedDependency, Dependencies, Task, TaskBody};
use hearth_api::qarnot::{BulkResult, KeyValue, RetrySettings};
use tokio::time::Instant;
use uuid::Uuid;

use crate::client::{Call, Client};
use crate::error::{Error, Result};
use crate::listing::Listing;
use crate::paged::Paged;
use crate::{HasUuid, find_unique};

/// The constant a task's instances run as a shell command ([`TaskBuilder::command`] sets
/// it).
///
/// ```
/// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
/// let b = client.tasks().create("t").command("true");
/// let cmd = b.body().constants.as_ref().unwrap().iter().find(|c| c.key == hearth_client::tasks::COMMAND_CONSTANT);
/// assert_eq!(cmd.unwrap().value.as_deref(), Some("true"));
/// ```
pub const COMMAND_CONSTANT: &str = "DOCKER_CMD";

/// The longest one long poll of `GET /tasks/{uuid}/wait` may be asked to hold.
const MAX_POLL: Duration = Duration::from_secs(60);

/// Whether a task state is an end: `Success`, `Failure` or `Cancelled`.
///
/// ```
/// assert!(hearth_client::tasks::is_finished("Success"));
/// assert!(!hearth_client::tasks::is_finished("FullyExecuting"));
/// ```
pub fn is_finished(state: &str) -> bool {
    matches!(state, "Success" | "Failure" | "Cancelled")
}

/// The tasks of the client's tenant.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let task = client.tasks().find_by_name("nightly-render").await?;
/// println!("{}", task.state);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Tasks {
    pub(crate) client: Client,
}

impl Client {
    /// The tasks of the tenant.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let tasks = client.tasks();
    /// # let _ = tasks;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tasks(&self) -> Tasks {
        Tasks {
            client: self.clone(),
        }
    }

    /// A handle on the task `id`, to call its methods without reading it first.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let done = client.task(id).wait_until_done(std::time::Duration::from_secs(600)).await?;
    /// println!("{}", done.state);
    /// # Ok(())
    /// # }
    /// ```
    pub fn task(&self, id: impl HasUuid) -> TaskHandle {
        TaskHandle {
            client: self.clone(),
            uuid: id.uuid(),
        }
    }
}

fn path(id: Uuid) -> String {
    format!("/tasks/{id}")
}

impl Tasks {
    /// Follows the output of the instance `instance` of the task `task`: set up, then
    /// opened with [`OutputFollowRequest::follow`](crate::output::OutputFollowRequest::follow). (The whole output, read at once, is
    /// [`Tasks::stdout`].)
    ///
    /// ```no_run
    /// # async fn run(task: uuid::Uuid) -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let output = client.tasks().instance_output(task, 3).follow().await?;
    /// let events: Vec<_> = output.try_collect().await?; // up to and with the end
    /// println!("{events:?}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn instance_output(
        &self,
        task: impl HasUuid,
        instance: u32,
    ) -> crate::output::OutputFollowRequest {
        crate::output::OutputFollowRequest::new(self.client.clone(), task.uuid(), instance)
    }

    /// A task named `name`, to be set up (its pool or job, instances, command) and then
    /// submitted with [`TaskBuilder::send`].
    ///
    /// ```no_run
    /// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let task = client
    ///     .tasks()
    ///     .create("frames")
    ///     .pool(pool)
    ///     .instances(100)
    ///     .command("render --frame $INSTANCE_ID")
    ///     .send()
    ///     .await?;
    /// # let _ = task;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(&self, name: impl Into<String>) -> TaskBuilder {
        TaskBuilder {
            client: self.client.clone(),
            body: TaskBody {
                name: Some(name.into()),
                instance_count: Some(1),
                ..TaskBody::default()
            },
            idempotency_key: None,
        }
    }

    /// Submits several tasks in one request (Qarnot's bulk `POST /tasks`): one result per
    /// task, in order, each created (`statusCode` 201, its `uuid`) or refused alone (its
    /// status and `message`). The request carries one `Idempotency-Key`.
    ///
    /// ```no_run
    /// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let tasks = client.tasks();
    /// let results = tasks
    ///     .submit_all(vec![
    ///         tasks.create("a").pool(pool).command("echo a"),
    ///         tasks.create("b").pool(pool).command("echo b"),
    ///     ])
    ///     .await?;
    /// for r in results {
    ///     println!("{} {:?} {:?}", r.status_code, r.uuid, r.message);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn submit_all(&self, tasks: Vec<TaskBuilder>) -> Result<Vec<BulkResult>> {
        let bodies: Vec<&TaskBody> = tasks.iter().map(|t| &t.body).collect();
        let call = Call::post("/tasks").json(&bodies)?.idempotent(None);
        self.client.json(call).await
    }

    /// The task `id`.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let task = client.tasks().get(id).await?;
    /// println!("{} {}", task.state, task.status.execution_progress);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, id: impl HasUuid) -> Result<Task> {
        self.client.json(Call::get(path(id.uuid()))).await
    }

    /// Every task, in submission order, a page at a time (`POST /tasks/paginate`).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let mut tasks = client.tasks().list();
    /// while let Some(t) = tasks.try_next().await? {
    ///     println!("{} {}", t.name, t.state);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self) -> Paged<Task> {
        self.list_with(Listing::new())
    }

    /// The tasks `listing` selects, in submission order, a page at a time.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use hearth_client::Listing;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let failed: Vec<_> = client
    ///     .tasks()
    ///     .list_with(Listing::new().state("Failure"))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = failed;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_with(&self, listing: Listing) -> Paged<Task> {
        listing.stream(&self.client, "/tasks/paginate")
    }

    /// The one task named exactly `name`: [`Error::NameNotFound`] when there is none,
    /// [`Error::AmbiguousName`] (with their uuids) when there are several.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let task = client.tasks().find_by_name("nightly").await?;
    /// # let _ = task;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn find_by_name(&self, name: &str) -> Result<Task> {
        let found = self.list_with(Listing::new().name(name).page_size(1000));
        find_unique(found, "task", name, |t: &Task| (&t.name, t.uuid)).await
    }

    /// Waits for the task `id` to end (`Success`, `Failure` or `Cancelled`) and answers
    /// it, at most `timeout` ([`Error::WaitTimeout`] then, with the task as last read).
    ///
    /// It long-polls `GET /tasks/{uuid}/wait` (up to 60 s per request): the server answers
    /// the moment the task ends, so this returns right after the end, and it never sleeps
    /// a fixed interval.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// use std::time::Duration;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// match client.tasks().wait_until_done(id, Duration::from_secs(3600)).await {
    ///     Ok(task) => println!("ended {}", task.state),
    ///     Err(hearth_client::Error::WaitTimeout { task, .. }) => println!("still {}", task.state),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_until_done(&self, id: impl HasUuid, timeout: Duration) -> Result<Task> {
        let id = id.uuid();
        let deadline = Instant::now() + timeout;
        let mut early = 0u32;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let asked = left.min(MAX_POLL);
            let call = Call::get(format!("{}/wait", path(id)))
                .query("timeout", format!("{:.3}", asked.as_secs_f64()))
                .extra_timeout(asked);
            let sent = Instant::now();
            let task: Task = self.client.json(call).await?;
            if is_finished(&task.state) {
                return Ok(task);
            }
            if Instant::now() >= deadline {
                return Err(Error::WaitTimeout {
                    task: Box::new(task),
                    timeout,
                });
            }
            // The server holds the poll until the end or the time asked; one that answers
            // much sooner without an end (it is stopping) is not asked again at once.
            if sent.elapsed() < asked / 2 {
                let pause = self.client.inner.retry.backoff(early, None);
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                early += 1;
            } else {
                early = 0;
            }
        }
    }

    /// Aborts the task: queued instances are cancelled, running ones stopped. A finished
    /// task is left as it is. Answers the task.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let task = client.tasks().abort(id).await?;
    /// println!("{}", task.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn abort(&self, id: impl HasUuid) -> Result<Task> {
        let call = Call::post(format!("{}/abort", path(id.uuid()))).repeatable();
        self.client.json(call).await
    }

    /// Deletes the task (aborting it first if it runs); it is 404 from then on.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// client.tasks().delete(id).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, id: impl HasUuid) -> Result<()> {
        self.client.empty(Call::delete(path(id.uuid()))).await
    }

    /// The task's standard output, all instances' (see [`OutputRequest`] for one
    /// instance's, or only what is new).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// print!("{}", client.tasks().stdout(id).await?);
    /// print!("{}", client.tasks().stdout(id).instance(3).await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stdout(&self, id: impl HasUuid) -> OutputRequest {
        self.output(id, OutputStream::Stdout)
    }

    /// The task's standard error (see [`Tasks::stdout`]).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// eprint!("{}", client.tasks().stderr(id).fresh().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stderr(&self, id: impl HasUuid) -> OutputRequest {
        self.output(id, OutputStream::Stderr)
    }

    /// The task's output of `stream` (see [`Tasks::stdout`]; to follow one instance's
    /// output as it is written, [`Tasks::instance_output`]).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// use hearth_api::events::OutputStream;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let text = client.tasks().output(id, OutputStream::Stderr).instance(0).await?;
    /// # let _ = text;
    /// # Ok(())
    /// # }
    /// ```
    pub fn output(&self, id: impl HasUuid, stream: OutputStream) -> OutputRequest {
        OutputRequest {
            client: self.client.clone(),
            uuid: id.uuid(),
            stream,
            instance: None,
            fresh: false,
        }
    }
}

/// One read of a task's output: all of it by default, or one instance's
/// ([`instance`](OutputRequest::instance)), or only what was written since the previous
/// fresh read ([`fresh`](OutputRequest::fresh)). `.await` it.
///
/// ```no_run
/// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let new_lines = client.tasks().stdout(id).instance(0).fresh().await?;
/// # let _ = new_lines;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is read before it is awaited"]
pub struct OutputRequest {
    client: Client,
    uuid: Uuid,
    stream: OutputStream,
    instance: Option<u32>,
    fresh: bool,
}

impl OutputRequest {
    /// Only this instance's output (an id outside the task is a 404).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.tasks().stdout(uuid::Uuid::nil()).instance(2);
    /// # let _ = r;
    /// ```
    pub fn instance(mut self, instance_id: u32) -> OutputRequest {
        self.instance = Some(instance_id);
        self
    }

    /// Only what was written since the previous fresh read (Qarnot's `fresh_stdout`). Such
    /// a read moves the mark, so it is not retried once it may have reached the server.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.tasks().stdout(uuid::Uuid::nil()).fresh();
    /// # let _ = r;
    /// ```
    pub fn fresh(mut self) -> OutputRequest {
        self.fresh = true;
        self
    }

    async fn send(self) -> Result<String> {
        let pipe = match self.stream {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        };
        let mut route = format!("{}/{pipe}", path(self.uuid));
        if let Some(i) = self.instance {
            route.push_str(&format!("/{i}"));
        }
        let call = if self.fresh {
            Call::post(route)
        } else {
            Call::get(route)
        };
        self.client.text(call).await
    }
}

impl IntoFuture for OutputRequest {
    type Output = Result<String>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<String>> + Send>>;

    /// Reads the output.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A task being set up; [`TaskBuilder::send`] submits it. It needs a
/// [`pool`](TaskBuilder::pool) or a [`job`](TaskBuilder::job) bound to a pool.
///
/// ```no_run
/// # async fn run(pool: uuid::Uuid, before: uuid::Uuid) -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let task = client
///     .tasks()
///     .create("encode")
///     .pool(pool)
///     .ranges("0-9,20")
///     .command("encode --part $INSTANCE_ID")
///     .constant("QUALITY", "high")
///     .retries(2, 5)
///     .depends_on(before)
///     .tag("video")
///     .send()
///     .await?;
/// # let _ = task;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a task is submitted by send()"]
pub struct TaskBuilder {
    client: Client,
    body: TaskBody,
    idempotency_key: Option<String>,
}

impl TaskBuilder {
    /// The pool to run in.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").pool(uuid::Uuid::nil());
    /// assert!(b.body().pool_uuid.is_some());
    /// ```
    pub fn pool(mut self, pool: impl HasUuid) -> TaskBuilder {
        self.body.pool_uuid = Some(pool.uuid().to_string());
        self
    }

    /// The job to belong to (the task runs in the job's pool).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").job(uuid::Uuid::nil());
    /// assert!(b.body().job_uuid.is_some());
    /// ```
    pub fn job(mut self, job: impl HasUuid) -> TaskBuilder {
        self.body.job_uuid = Some(job.uuid().to_string());
        self
    }

    /// Instances `0 … count-1` (default 1).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").instances(8);
    /// assert_eq!(b.body().instance_count, Some(8));
    /// ```
    pub fn instances(mut self, count: u32) -> TaskBuilder {
        self.body.instance_count = Some(i64::from(count));
        self.body.advanced_ranges = None;
        self
    }

    /// Instance ids as ranges, e.g. `0-9,20` (instead of a count).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").ranges("0-3,7");
    /// assert_eq!(b.body().advanced_ranges.as_deref(), Some("0-3,7"));
    /// ```
    pub fn ranges(mut self, ranges: impl Into<String>) -> TaskBuilder {
        self.body.advanced_ranges = Some(ranges.into());
        self.body.instance_count = None;
        self
    }

    /// What each instance runs, as a shell command (the `DOCKER_CMD` constant). It sees
    /// `INSTANCE_ID`, `TASK_UUID`, `POOL_UUID`, `INSTANCE_COUNT`, … and every constant.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").command("echo $INSTANCE_ID");
    /// assert_eq!(b.body().constants.as_ref().unwrap()[0].key, "DOCKER_CMD");
    /// ```
    pub fn command(self, command: impl Into<String>) -> TaskBuilder {
        self.constant(COMMAND_CONSTANT, command)
    }

    /// Adds (or replaces) a constant: an environment variable of each instance.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").constant("A", "1").constant("A", "2");
    /// assert_eq!(b.body().constants.as_ref().unwrap().len(), 1);
    /// ```
    pub fn constant(mut self, key: impl Into<String>, value: impl Into<String>) -> TaskBuilder {
        let key = key.into();
        let constants = self.body.constants.get_or_insert_with(Vec::new);
        constants.retain(|kv| kv.key != key);
        constants.push(KeyValue {
            key,
            value: Some(value.into()),
        });
        self
    }

    /// How often failed instances run again: per instance, and over the whole task
    /// (default: the pool's).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").retries(3, 10);
    /// assert_eq!(b.body().retry_settings.as_ref().unwrap().max_per_instance_retries, Some(3));
    /// ```
    pub fn retries(mut self, per_instance: u32, total: u32) -> TaskBuilder {
        self.body.retry_settings = Some(RetrySettings {
            max_per_instance_retries: Some(i64::from(per_instance)),
            max_total_retries: Some(i64::from(total)),
        });
        self
    }

    /// Waits for `task` to succeed before starting (if it fails, this task is cancelled).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").depends_on(uuid::Uuid::nil());
    /// assert_eq!(b.body().dependencies.as_ref().unwrap().depends_on.as_ref().unwrap().len(), 1);
    /// ```
    pub fn depends_on(mut self, task: impl HasUuid) -> TaskBuilder {
        self.body
            .dependencies
            .get_or_insert_with(Dependencies::default)
            .depends_on
            .get_or_insert_with(Vec::new)
            .push(task.uuid().to_string());
        self
    }

    /// Waits for `task` to end in one of `states` (`success`, `failure`, `cancelled`; none:
    /// any end) before starting.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client
    ///     .tasks()
    ///     .create("cleanup")
    ///     .depends_on_states(uuid::Uuid::nil(), &["success", "failure"]);
    /// # let _ = b;
    /// ```
    pub fn depends_on_states(mut self, task: impl HasUuid, states: &[&str]) -> TaskBuilder {
        self.body
            .dependencies
            .get_or_insert_with(Dependencies::default)
            .advanced_depends_on
            .get_or_insert_with(Vec::new)
            .push(AdvancedDependency {
                task_uuid: task.uuid().to_string(),
                task_final_state_condition: (!states.is_empty())
                    .then(|| states.iter().map(|s| s.to_string()).collect()),
            });
        self
    }

    /// Adds a tag.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").tag("x");
    /// assert_eq!(b.body().tags.as_ref().unwrap(), &["x"]);
    /// ```
    pub fn tag(mut self, tag: impl Into<String>) -> TaskBuilder {
        self.body.tags.get_or_insert_with(Vec::new).push(tag.into());
        self
    }

    /// Adds a label.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").label("owner", "ana");
    /// assert_eq!(b.body().labels.as_ref().unwrap()["owner"], "ana");
    /// ```
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> TaskBuilder {
        self.body
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// A short name (default: the uuid).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").shortname("t1");
    /// assert_eq!(b.body().shortname.as_deref(), Some("t1"));
    /// ```
    pub fn shortname(mut self, shortname: impl Into<String>) -> TaskBuilder {
        self.body.shortname = Some(shortname.into());
        self
    }

    /// The `Idempotency-Key` to send (default: a new random one per `send`).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.tasks().create("t").idempotency_key("build-4711-tests");
    /// # let _ = b;
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> TaskBuilder {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The body that [`TaskBuilder::send`] will post.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// assert_eq!(client.tasks().create("t").body().name.as_deref(), Some("t"));
    /// ```
    pub fn body(&self) -> &TaskBody {
        &self.body
    }

    /// Submits the task (`POST /tasks`, with an `Idempotency-Key` so that a retry never
    /// submits it twice) and answers a handle on it.
    ///
    /// ```no_run
    /// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let task = client.tasks().create("t").pool(pool).command("true").send().await?;
    /// println!("{}", task.uuid());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(self) -> Result<TaskHandle> {
        let call = Call::post("/tasks")
            .json(&self.body)?
            .idempotent(self.idempotency_key);
        let created: Created = self.client.json(call).await?;
        Ok(self.client.task(created.uuid))
    }
}

/// A task known by its uuid: the calls of [`Tasks`] on it.
///
/// ```no_run
/// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
/// use std::time::Duration;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let task = client.tasks().create("t").pool(pool).command("echo hi").send().await?;
/// let done = task.wait_until_done(Duration::from_secs(300)).await?;
/// println!("{}: {}", done.state, task.stdout().await?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TaskHandle {
    client: Client,
    uuid: Uuid,
}

impl TaskHandle {
    /// The task's uuid.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// assert!(client.task(uuid::Uuid::nil()).uuid().is_nil());
    /// ```
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// [`Tasks::get`].
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// println!("{}", task.get().await?.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self) -> Result<Task> {
        self.client.tasks().get(self.uuid).await
    }

    /// [`Tasks::wait_until_done`]: the task once it ended, returning right after the end.
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// let done = task.wait_until_done(std::time::Duration::from_secs(60)).await?;
    /// println!("{}", done.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_until_done(&self, timeout: Duration) -> Result<Task> {
        self.client
            .tasks()
            .wait_until_done(self.uuid, timeout)
            .await
    }

    /// [`Tasks::abort`].
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// task.abort().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn abort(&self) -> Result<Task> {
        self.client.tasks().abort(self.uuid).await
    }

    /// [`Tasks::delete`].
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// task.delete().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self) -> Result<()> {
        self.client.tasks().delete(self.uuid).await
    }

    /// [`Tasks::stdout`].
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// print!("{}", task.stdout().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stdout(&self) -> OutputRequest {
        self.client.tasks().stdout(self.uuid)
    }

    /// [`Tasks::stderr`].
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// eprint!("{}", task.stderr().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stderr(&self) -> OutputRequest {
        self.client.tasks().stderr(self.uuid)
    }

    /// [`Tasks::instance_output`]: one instance's output, followed live.
    ///
    /// ```no_run
    /// # async fn run(task: hearth_client::TaskHandle) -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use hearth_client::output::OutputEvent;
    ///
    /// let mut output = task.instance_output(0).follow().await?;
    /// while let Some(event) = output.try_next().await? {
    ///     if let OutputEvent::Chunk { text, .. } = event {
    ///         print!("{text}");
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn instance_output(&self, instance: u32) -> crate::output::OutputFollowRequest {
        self.client.tasks().instance_output(self.uuid, instance)
    }
}

impl HasUuid for TaskHandle {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl HasUuid for Task {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}
