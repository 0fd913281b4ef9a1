//! Jobs: groups of tasks on one pool, with dependencies and a maximum wall time.

use std::time::Duration;

use hearth_api::platform::Created;
use hearth_api::qarnot::job::{Job, JobBody};
use hearth_api::qarnot::task::Task;
use uuid::Uuid;

use crate::client::{Call, Client};
use crate::error::Result;
use crate::listing::Listing;
use crate::paged::Paged;
use crate::{HasUuid, find_unique};

/// The jobs of the client's tenant.
///
/// ```no_run
/// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let job = client.jobs().create("pipeline").pool(pool).use_dependencies(true).send().await?;
/// let first = client.tasks().create("fetch").job(&job).command("fetch.sh").send().await?;
/// client.tasks().create("build").job(&job).depends_on(&first).command("build.sh").send().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Jobs {
    client: Client,
}

impl Client {
    /// The jobs of the tenant.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let jobs = client.jobs();
    /// # let _ = jobs;
    /// # Ok(())
    /// # }
    /// ```
    pub fn jobs(&self) -> Jobs {
        Jobs {
            client: self.clone(),
        }
    }

    /// A handle on the job `id`.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// client.job(id).terminate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn job(&self, id: impl HasUuid) -> JobHandle {
        JobHandle {
            client: self.clone(),
            uuid: id.uuid(),
        }
    }
}

fn path(id: Uuid) -> String {
    format!("/jobs/{id}")
}

/// `d.hh:mm:ss` (Qarnot's TimeSpan), whole seconds.
fn time_span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, rest) = (s / 86_400, s % 86_400);
    let hms = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}.{hms}")
    } else {
        hms
    }
}

impl Jobs {
    /// A job named `name`, to be set up and created with [`JobBuilder::send`].
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let job = client.jobs().create("nightly").send().await?;
    /// # let _ = job;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(&self, name: impl Into<String>) -> JobBuilder {
        JobBuilder {
            client: self.client.clone(),
            body: JobBody {
                name: Some(name.into()),
                ..JobBody::default()
            },
            idempotency_key: None,
        }
    }

    /// The job `id`.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// println!("{}", client.jobs().get(id).await?.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, id: impl HasUuid) -> Result<Job> {
        self.client.json(Call::get(path(id.uuid()))).await
    }

    /// Every job, in creation order, a page at a time (`POST /jobs/paginate`).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let jobs: Vec<_> = client.jobs().list().try_collect().await?;
    /// # let _ = jobs;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self) -> Paged<Job> {
        self.list_with(Listing::new())
    }

    /// The jobs `listing` selects, a page at a time.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use hearth_client::Listing;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let active: Vec<_> = client
    ///     .jobs()
    ///     .list_with(Listing::new().state("Active"))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = active;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_with(&self, listing: Listing) -> Paged<Job> {
        listing.stream(&self.client, "/jobs/paginate")
    }

    /// The one job named exactly `name` (see [`crate::Pools::find_by_name`]).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let job = client.jobs().find_by_name("nightly").await?;
    /// # let _ = job;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn find_by_name(&self, name: &str) -> Result<Job> {
        let found = self.list_with(Listing::new().name(name).page_size(1000));
        find_unique(found, "job", name, |j: &Job| (&j.name, j.uuid)).await
    }

    /// The job's tasks, in submission order.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// for t in client.jobs().tasks(id).await? {
    ///     println!("{} {}", t.name, t.state);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn tasks(&self, id: impl HasUuid) -> Result<Vec<Task>> {
        self.client
            .json(Call::get(format!("{}/tasks", path(id.uuid()))))
            .await
    }

    /// Terminates the job: its unfinished tasks are cancelled (`Terminating`, then
    /// `Completed`). Answers the job.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let job = client.jobs().terminate(id).await?;
    /// println!("{}", job.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn terminate(&self, id: impl HasUuid) -> Result<Job> {
        self.client
            .json(Call::post(format!("{}/terminate", path(id.uuid()))))
            .await
    }

    /// Deletes the job and its tasks. With unfinished tasks it is a 409 unless `force`,
    /// which aborts them first.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// client.jobs().delete(id, true).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, id: impl HasUuid, force: bool) -> Result<()> {
        let call =
            Call::delete(path(id.uuid())).query("force", if force { "True" } else { "False" });
        self.client.empty(call).await
    }
}

/// A job being set up; [`JobBuilder::send`] creates it.
///
/// ```no_run
/// # async fn run(pool: uuid::Uuid) -> hearth_client::Result<()> {
/// use std::time::Duration;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let job = client
///     .jobs()
///     .create("etl")
///     .pool(pool)
///     .use_dependencies(true)
///     .max_wall_time(Duration::from_secs(2 * 3600))
///     .tag("daily")
///     .send()
///     .await?;
/// # let _ = job;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a job is created by send()"]
pub struct JobBuilder {
    client: Client,
    body: JobBody,
    idempotency_key: Option<String>,
}

impl JobBuilder {
    /// The pool its tasks run in.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.jobs().create("j").pool(uuid::Uuid::nil());
    /// assert!(b.body().pool_uuid.is_some());
    /// ```
    pub fn pool(mut self, pool: impl HasUuid) -> JobBuilder {
        self.body.pool_uuid = Some(pool.uuid().to_string());
        self
    }

    /// Whether its tasks wait for their dependencies.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.jobs().create("j").use_dependencies(true);
    /// assert_eq!(b.body().use_dependencies, Some(true));
    /// ```
    pub fn use_dependencies(mut self, yes: bool) -> JobBuilder {
        self.body.use_dependencies = Some(yes);
        self
    }

    /// The job is terminated after this long (whole seconds).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.jobs().create("j").max_wall_time(std::time::Duration::from_secs(90_061));
    /// assert_eq!(b.body().max_wall_time.as_deref(), Some("1.01:01:01"));
    /// ```
    pub fn max_wall_time(mut self, wall_time: Duration) -> JobBuilder {
        self.body.max_wall_time = Some(time_span(wall_time));
        self
    }

    /// Adds a tag.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.jobs().create("j").tag("x");
    /// assert_eq!(b.body().tags.as_ref().unwrap(), &["x"]);
    /// ```
    pub fn tag(mut self, tag: impl Into<String>) -> JobBuilder {
        self.body.tags.get_or_insert_with(Vec::new).push(tag.into());
        self
    }

    /// A short name (default: the uuid).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.jobs().create("j").shortname("j1");
    /// assert_eq!(b.body().shortname.as_deref(), Some("j1"));
    /// ```
    pub fn shortname(mut self, shortname: impl Into<String>) -> JobBuilder {
        self.body.shortname = Some(shortname.into());
        self
    }

    /// The `Idempotency-Key` to send (default: a new random one per `send`).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.jobs().create("j").idempotency_key("etl-2026-03-01");
    /// # let _ = b;
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> JobBuilder {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The body that [`JobBuilder::send`] will post.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// assert_eq!(client.jobs().create("j").body().name.as_deref(), Some("j"));
    /// ```
    pub fn body(&self) -> &JobBody {
        &self.body
    }

    /// Creates the job (`POST /jobs`, with an `Idempotency-Key`) and answers a handle on it.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let job = client.jobs().create("j").send().await?;
    /// println!("{}", job.uuid());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(self) -> Result<JobHandle> {
        let call = Call::post("/jobs")
            .json(&self.body)?
            .idempotent(self.idempotency_key);
        let created: Created = self.client.json(call).await?;
        Ok(self.client.job(created.uuid))
    }
}

/// A job known by its uuid: the calls of [`Jobs`] on it.
///
/// ```no_run
/// # async fn run(job: hearth_client::JobHandle) -> hearth_client::Result<()> {
/// println!("{} tasks", job.tasks().await?.len());
/// job.terminate().await?;
/// job.delete(false).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct JobHandle {
    client: Client,
    uuid: Uuid,
}

impl JobHandle {
    /// The job's uuid.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// assert!(client.job(uuid::Uuid::nil()).uuid().is_nil());
    /// ```
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// [`Jobs::get`].
    ///
    /// ```no_run
    /// # async fn run(job: hearth_client::JobHandle) -> hearth_client::Result<()> {
    /// println!("{}", job.get().await?.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self) -> Result<Job> {
        self.client.jobs().get(self.uuid).await
    }

    /// [`Jobs::tasks`].
    ///
    /// ```no_run
    /// # async fn run(job: hearth_client::JobHandle) -> hearth_client::Result<()> {
    /// let tasks = job.tasks().await?;
    /// # let _ = tasks;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn tasks(&self) -> Result<Vec<Task>> {
        self.client.jobs().tasks(self.uuid).await
    }

    /// [`Jobs::terminate`].
    ///
    /// ```no_run
    /// # async fn run(job: hearth_client::JobHandle) -> hearth_client::Result<()> {
    /// job.terminate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn terminate(&self) -> Result<Job> {
        self.client.jobs().terminate(self.uuid).await
    }

    /// [`Jobs::delete`].
    ///
    /// ```no_run
    /// # async fn run(job: hearth_client::JobHandle) -> hearth_client::Result<()> {
    /// job.delete(true).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, force: bool) -> Result<()> {
        self.client.jobs().delete(self.uuid, force).await
    }
}

impl HasUuid for JobHandle {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl HasUuid for Job {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_spans_are_qarnot_ones() {
        use std::time::Duration;
        assert_eq!(super::time_span(Duration::from_secs(59)), "00:00:59");
        assert_eq!(
            super::time_span(Duration::from_secs(3 * 86_400 + 3661)),
            "3.01:01:01"
        );
    }
}
