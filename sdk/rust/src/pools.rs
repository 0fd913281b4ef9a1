//! Pools: create, read, list, change their scaling, evaluate them now, close, delete; their
//! nodes and scaling decisions.

use std::collections::BTreeMap;

use hearth_api::platform::Created;
use hearth_api::pools::{Node, ScalingDecision};
use hearth_api::qarnot::pool::{Elastic, MultiSlots, Pool, PoolBody, Scaling, ScalingPolicy};
use hearth_api::qarnot::{KeyValue, RetrySettings};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::client::{Call, Client};
use crate::error::Result;
use crate::listing::{Listing, pages};
use crate::paged::Paged;
use crate::{HasUuid, find_unique};

/// The pools of the client's tenant.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let pool = client.pools().find_by_name("render").await?;
/// println!("{} slots, {}", pool.total_slot_capacity, pool.state);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Pools {
    client: Client,
}

impl Client {
    /// The pools of the tenant.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let pools = client.pools();
    /// # let _ = pools;
    /// # Ok(())
    /// # }
    /// ```
    pub fn pools(&self) -> Pools {
        Pools {
            client: self.clone(),
        }
    }

    /// A handle on the pool `id`, to call its methods without reading it first.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let id: uuid::Uuid = "0190a8a4-0000-7000-8000-000000000000".parse().unwrap();
    /// client.pool(id).close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool(&self, id: impl HasUuid) -> PoolHandle {
        PoolHandle {
            client: self.clone(),
            uuid: id.uuid(),
        }
    }
}

fn path(id: Uuid) -> String {
    format!("/pools/{id}")
}

impl Pools {
    /// A pool named `name` of the profile `profile` (e.g. `docker-batch`), to be set up
    /// and then created with [`PoolBuilder::send`]. Without any scaling setting it is a
    /// fixed pool of one slot.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let pool = client.pools().create("render", "docker-batch").slots(4).send().await?;
    /// println!("created {}", pool.uuid());
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(&self, name: impl Into<String>, profile: impl Into<String>) -> PoolBuilder {
        PoolBuilder {
            client: self.client.clone(),
            body: PoolBody {
                name: Some(name.into()),
                profile: Some(profile.into()),
                ..PoolBody::default()
            },
            idempotency_key: None,
        }
    }

    /// The pool `id`.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let pool = client.pools().get(id).await?;
    /// println!("{}", pool.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, id: impl HasUuid) -> Result<Pool> {
        self.client.json(Call::get(path(id.uuid()))).await
    }

    /// Every pool, in creation order, a page at a time (`POST /pools/paginate`).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let all: Vec<_> = client.pools().list().try_collect().await?;
    /// # let _ = all;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self) -> Paged<Pool> {
        self.list_with(Listing::new())
    }

    /// The pools `listing` selects, in creation order, a page at a time.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use hearth_client::Listing;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let gpu: Vec<_> = client.pools().list_with(Listing::new().tag("gpu")).try_collect().await?;
    /// # let _ = gpu;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_with(&self, listing: Listing) -> Paged<Pool> {
        listing.stream(&self.client, "/pools/paginate")
    }

    /// The one pool named exactly `name`: [`Error::NameNotFound`](crate::Error::NameNotFound) when there is none,
    /// [`Error::AmbiguousName`](crate::Error::AmbiguousName) (with their uuids) when there are several.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// match client.pools().find_by_name("render").await {
    ///     Ok(pool) => println!("{}", pool.uuid),
    ///     Err(hearth_client::Error::AmbiguousName { matches, .. }) => println!("{matches:?}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn find_by_name(&self, name: &str) -> Result<Pool> {
        let found = self.list_with(Listing::new().name(name).page_size(1000));
        find_unique(found, "pool", name, |p: &Pool| (&p.name, p.uuid)).await
    }

    /// Changes the pool `id`'s name, tags, constants or scaling: set what changes on the
    /// [`PoolUpdate`], then [`PoolUpdate::send`]. Running work is never touched.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let pool = client.pools().update(id).fixed(8).tags(["big"]).send().await?;
    /// assert_eq!(pool.instance_count, 8);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update(&self, id: impl HasUuid) -> PoolUpdate {
        PoolUpdate {
            client: self.client.clone(),
            uuid: id.uuid(),
            name: None,
            tags: None,
            constants: None,
            labels: None,
            scaling: None,
            resize_period: None,
        }
    }

    /// Replaces the pool `id`'s scaling policies (see [`crate::scaling`]); the same as
    /// `update(id).policies(policies).send()`.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// use hearth_client::scaling;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// client.pools().update_scaling(id, vec![scaling::managed_tasks_queue(0, 8)]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn update_scaling(
        &self,
        id: impl HasUuid,
        policies: Vec<ScalingPolicy>,
    ) -> Result<Pool> {
        self.update(id).policies(policies).send().await
    }

    /// Evaluates the pool's scaling now (`POST /pools/{uuid}/resize`) rather than at the
    /// end of its resize period, carries it out, and answers the decision.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let decision = client.pools().resize(id).await?;
    /// println!("{} to {} slots: {}", decision.action, decision.target_slots, decision.reason);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resize(&self, id: impl HasUuid) -> Result<ScalingDecision> {
        let call = Call::post(format!("{}/resize", path(id.uuid()))).repeatable();
        self.client.json(call).await
    }

    /// Closes the pool: no new tasks, queued work cancelled, nodes terminated. The pool
    /// answers `Closing` (or `Closed` at once without live nodes); closing it again is a
    /// 409. Not retried once it may have reached the server (a retry would be that 409).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let pool = client.pools().close(id).await?;
    /// println!("{}", pool.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&self, id: impl HasUuid) -> Result<Pool> {
        self.client
            .json(Call::post(format!("{}/close", path(id.uuid()))))
            .await
    }

    /// Deletes the pool: its tasks are cancelled (and stay readable), its nodes end in the
    /// background; the pool is 404 from then on.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// client.pools().delete(id).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, id: impl HasUuid) -> Result<()> {
        self.client.empty(Call::delete(path(id.uuid()))).await
    }

    /// The pool's nodes in creation order, a page at a time.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let nodes: Vec<_> = client.pools().nodes(id).try_collect().await?;
    /// for n in nodes {
    ///     println!("{} {} {}/{}", n.uuid, n.state, n.busy_slots, n.slots);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn nodes(&self, id: impl HasUuid) -> Paged<Node> {
        self.nodes_paged(id, None)
    }

    /// [`Pools::nodes`] in pages of `page_size` (1 to 500; the server's default is 100).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let nodes = client.pools().nodes_paged(id, Some(500));
    /// # let _ = nodes;
    /// # Ok(())
    /// # }
    /// ```
    pub fn nodes_paged(&self, id: impl HasUuid, page_size: Option<u32>) -> Paged<Node> {
        pages(
            &self.client,
            format!("{}/nodes", path(id.uuid())),
            Vec::new(),
            page_size,
        )
    }

    /// The pool's scaling decisions, newest first, a page at a time.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// use futures_util::{StreamExt, TryStreamExt};
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let latest: Vec<_> = client.pools().decisions(id).take(5).try_collect().await?;
    /// # let _ = latest;
    /// # Ok(())
    /// # }
    /// ```
    pub fn decisions(&self, id: impl HasUuid) -> Paged<ScalingDecision> {
        self.decisions_paged(id, None)
    }

    /// [`Pools::decisions`] in pages of `page_size` (1 to 500).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let decisions = client.pools().decisions_paged(id, Some(20));
    /// # let _ = decisions;
    /// # Ok(())
    /// # }
    /// ```
    pub fn decisions_paged(
        &self,
        id: impl HasUuid,
        page_size: Option<u32>,
    ) -> Paged<ScalingDecision> {
        pages(
            &self.client,
            format!("{}/scaling-decisions", path(id.uuid())),
            Vec::new(),
            page_size,
        )
    }
}

/// A pool being set up; [`PoolBuilder::send`] creates it. Scaling: a fixed number of
/// [`slots`](PoolBuilder::slots), or [`policies`](PoolBuilder::policy) (which win).
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use hearth_client::scaling::{self, PolicyExt};
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let pool = client
///     .pools()
///     .create("batch", "docker-batch")
///     .slots_per_node(4)
///     .policy(scaling::fixed(8).named("day").during(scaling::weekly(
///         &["monday", "friday"], "08:00:00", "18:00:00")))
///     .policy(scaling::managed_tasks_queue(0, 16).named("night"))
///     .resize_period(30)
///     .tag("nightly")
///     .constant("DOCKER_REPO", "library/ubuntu")
///     .retries(2, 10)
///     .send()
///     .await?;
/// # let _ = pool;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a pool is created by send()"]
pub struct PoolBuilder {
    client: Client,
    body: PoolBody,
    idempotency_key: Option<String>,
}

impl PoolBuilder {
    /// A fixed pool of `slots` slots (Qarnot's `instanceCount`; 0 is allowed). Ignored when
    /// policies are given.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").slots(3);
    /// assert_eq!(b.body().instance_count, Some(3));
    /// ```
    pub fn slots(mut self, slots: u32) -> PoolBuilder {
        self.body.instance_count = Some(i64::from(slots));
        self
    }

    /// Slots on each node (more than 1 needs the tenant's multi-slot entitlement, and at
    /// most the profile's `maxSlotsPerNode`).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").slots_per_node(4);
    /// assert_eq!(b.body().multi_slots_settings.as_ref().unwrap().slots_per_node, Some(4));
    /// ```
    pub fn slots_per_node(mut self, slots: u32) -> PoolBuilder {
        self.body.multi_slots_settings = Some(MultiSlots {
            slots_per_node: Some(i64::from(slots)),
        });
        self
    }

    /// Adds a scaling policy (see [`crate::scaling`]); the first whose periods contain now
    /// applies.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client
    ///     .pools()
    ///     .create("p", "docker-batch")
    ///     .policy(hearth_client::scaling::managed_tasks_queue(0, 4));
    /// assert_eq!(b.body().scaling.as_ref().unwrap().policies.as_ref().unwrap().len(), 1);
    /// ```
    pub fn policy(mut self, policy: ScalingPolicy) -> PoolBuilder {
        self.body
            .scaling
            .get_or_insert_with(Scaling::default)
            .policies
            .get_or_insert_with(Vec::new)
            .push(policy);
        self
    }

    /// Qarnot's elastic settings (one `ManagedTasksQueue` policy); policies win over them.
    ///
    /// ```
    /// use hearth_api::qarnot::pool::Elastic;
    ///
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").elastic(Elastic {
    ///     is_elastic: Some(true),
    ///     min_total_slots: Some(0),
    ///     max_total_slots: Some(4),
    ///     ..Elastic::default()
    /// });
    /// # let _ = b;
    /// ```
    pub fn elastic(mut self, elastic: Elastic) -> PoolBuilder {
        let period = self
            .body
            .elastic_property
            .as_ref()
            .and_then(|e| e.resize_period);
        self.body.elastic_property = Some(Elastic {
            resize_period: elastic.resize_period.or(period),
            ..elastic
        });
        self
    }

    /// Seconds between two evaluations of the pool's scaling (default 90, at least 1).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").resize_period(10);
    /// assert_eq!(b.body().elastic_property.as_ref().unwrap().resize_period, Some(10));
    /// ```
    pub fn resize_period(mut self, seconds: u32) -> PoolBuilder {
        self.body
            .elastic_property
            .get_or_insert_with(Elastic::default)
            .resize_period = Some(i64::from(seconds));
        self
    }

    /// Adds a tag.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").tag("a").tag("b");
    /// assert_eq!(b.body().tags.as_ref().unwrap().len(), 2);
    /// ```
    pub fn tag(mut self, tag: impl Into<String>) -> PoolBuilder {
        self.body.tags.get_or_insert_with(Vec::new).push(tag.into());
        self
    }

    /// Adds a constant: an environment variable of every instance run in the pool.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").constant("MODE", "fast");
    /// assert_eq!(b.body().constants.as_ref().unwrap()[0].key, "MODE");
    /// ```
    pub fn constant(mut self, key: impl Into<String>, value: impl Into<String>) -> PoolBuilder {
        self.body
            .constants
            .get_or_insert_with(Vec::new)
            .push(KeyValue {
                key: key.into(),
                value: Some(value.into()),
            });
        self
    }

    /// Adds a label (a key and a value shown with the pool).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").label("team", "vfx");
    /// assert_eq!(b.body().labels.as_ref().unwrap()["team"], "vfx");
    /// ```
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> PoolBuilder {
        self.body
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// The default retries of the pool's tasks: per instance, and over a whole task.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").retries(1, 5);
    /// assert_eq!(b.body().default_retry_settings.as_ref().unwrap().max_total_retries, Some(5));
    /// ```
    pub fn retries(mut self, per_instance: u32, total: u32) -> PoolBuilder {
        self.body.default_retry_settings = Some(RetrySettings {
            max_per_instance_retries: Some(i64::from(per_instance)),
            max_total_retries: Some(i64::from(total)),
        });
        self
    }

    /// A short name (default: the uuid).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").shortname("p1");
    /// assert_eq!(b.body().shortname.as_deref(), Some("p1"));
    /// ```
    pub fn shortname(mut self, shortname: impl Into<String>) -> PoolBuilder {
        self.body.shortname = Some(shortname.into());
        self
    }

    /// The `Idempotency-Key` to send (default: a new random one per `send`). Give your own
    /// to make a create safe to repeat across processes, e.g. a CI job's id.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch").idempotency_key("nightly-2026-03-01");
    /// # let _ = b;
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> PoolBuilder {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The body that [`PoolBuilder::send`] will post.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let b = client.pools().create("p", "docker-batch");
    /// assert_eq!(b.body().profile.as_deref(), Some("docker-batch"));
    /// ```
    pub fn body(&self) -> &PoolBody {
        &self.body
    }

    /// Creates the pool (`POST /pools`, with an `Idempotency-Key` so that a retry never
    /// creates a second one) and answers a handle on it.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let handle = client.pools().create("p", "docker-batch").send().await?;
    /// let pool = handle.get().await?;
    /// # let _ = pool;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(self) -> Result<PoolHandle> {
        let call = Call::post("/pools")
            .json(&self.body)?
            .idempotent(self.idempotency_key);
        let created: Created = self.client.json(call).await?;
        Ok(self.client.pool(created.uuid))
    }
}

/// Changes to a pool; [`PoolUpdate::send`] reads the pool and puts it back with them
/// (`PUT /pools/{uuid}` replaces the scaling settings, so what is not changed is sent as
/// it is).
///
/// ```no_run
/// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
/// use hearth_client::scaling;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let pool = client
///     .pools()
///     .update(id)
///     .name("render-eu")
///     .policies(vec![scaling::managed_tasks_queue(1, 12)])
///     .resize_period(30)
///     .send()
///     .await?;
/// # let _ = pool;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing changes before send()"]
pub struct PoolUpdate {
    client: Client,
    uuid: Uuid,
    name: Option<String>,
    tags: Option<Vec<String>>,
    constants: Option<Vec<KeyValue>>,
    labels: Option<BTreeMap<String, String>>,
    scaling: Option<NewScaling>,
    resize_period: Option<u32>,
}

#[derive(Debug, Clone)]
enum NewScaling {
    Fixed(u32),
    Policies(Vec<ScalingPolicy>),
    Elastic(Elastic),
}

impl PoolUpdate {
    /// A new name.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).name("new");
    /// # let _ = u;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> PoolUpdate {
        self.name = Some(name.into());
        self
    }

    /// New tags (replacing the old ones).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).tags(["a", "b"]);
    /// # let _ = u;
    /// ```
    pub fn tags<I, S>(mut self, tags: I) -> PoolUpdate
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// New constants (replacing the old ones), as `(key, value)` pairs.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).constants([("MODE", "slow")]);
    /// # let _ = u;
    /// ```
    pub fn constants<I, K, V>(mut self, constants: I) -> PoolUpdate
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.constants = Some(
            constants
                .into_iter()
                .map(|(k, v)| KeyValue {
                    key: k.into(),
                    value: Some(v.into()),
                })
                .collect(),
        );
        self
    }

    /// New labels (replacing the old ones).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).labels([("team", "vfx")]);
    /// # let _ = u;
    /// ```
    pub fn labels<I, K, V>(mut self, labels: I) -> PoolUpdate
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.labels = Some(
            labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Makes it a fixed pool of `slots` slots (dropping its policies).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).fixed(0);
    /// # let _ = u;
    /// ```
    pub fn fixed(mut self, slots: u32) -> PoolUpdate {
        self.scaling = Some(NewScaling::Fixed(slots));
        self
    }

    /// New scaling policies, in order (see [`crate::scaling`]).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client
    ///     .pools()
    ///     .update(uuid::Uuid::nil())
    ///     .policies(vec![hearth_client::scaling::fixed(2)]);
    /// # let _ = u;
    /// ```
    pub fn policies(mut self, policies: Vec<ScalingPolicy>) -> PoolUpdate {
        self.scaling = Some(NewScaling::Policies(policies));
        self
    }

    /// New Qarnot elastic settings (dropping its policies).
    ///
    /// ```
    /// use hearth_api::qarnot::pool::Elastic;
    ///
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).elastic(Elastic {
    ///     is_elastic: Some(true),
    ///     max_total_slots: Some(4),
    ///     ..Elastic::default()
    /// });
    /// # let _ = u;
    /// ```
    pub fn elastic(mut self, elastic: Elastic) -> PoolUpdate {
        self.scaling = Some(NewScaling::Elastic(elastic));
        self
    }

    /// A new resize period, in seconds.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let u = client.pools().update(uuid::Uuid::nil()).resize_period(5);
    /// # let _ = u;
    /// ```
    pub fn resize_period(mut self, seconds: u32) -> PoolUpdate {
        self.resize_period = Some(seconds);
        self
    }

    /// The body to put, from the pool as it is and the changes.
    fn body_over(&self, current: &Pool) -> Result<PoolBody> {
        let mut elastic = current.elastic_property.clone();
        let mut instance_count = i64::from(current.instance_count);
        let mut scaling = current.scaling.as_ref().map(|s| Scaling {
            policies: Some(s.policies.clone()),
        });
        match &self.scaling {
            None => {}
            Some(NewScaling::Fixed(slots)) => {
                instance_count = i64::from(*slots);
                elastic.is_elastic = Some(false);
                scaling = None;
            }
            Some(NewScaling::Policies(policies)) => {
                scaling = Some(Scaling {
                    policies: Some(policies.clone()),
                });
            }
            Some(NewScaling::Elastic(e)) => {
                let period = elastic.resize_period;
                elastic = e.clone();
                elastic.is_elastic = Some(e.is_elastic.unwrap_or(true));
                elastic.resize_period = e.resize_period.or(period);
                scaling = None;
            }
        }
        if let Some(seconds) = self.resize_period {
            elastic.resize_period = Some(i64::from(seconds));
        }
        // What the pool echoes (hardware constraints, scheduling type, …) is stored from
        // the body of each PUT: send it back as it is.
        let rest = match serde_json::to_value(&current.echoed) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Ok(PoolBody {
            name: Some(self.name.clone().unwrap_or_else(|| current.name.clone())),
            shortname: Some(current.shortname.clone()),
            profile: Some(current.profile.clone()),
            constants: self.constants.clone(),
            instance_count: Some(instance_count),
            tags: self.tags.clone(),
            labels: self.labels.clone(),
            elastic_property: Some(elastic),
            scaling,
            multi_slots_settings: Some(MultiSlots {
                slots_per_node: Some(i64::from(current.multi_slots_settings.slots_per_node)),
            }),
            default_retry_settings: Some(current.default_retry_settings.clone()),
            rest,
        })
    }

    /// Reads the pool, then puts it back with the changes (`PUT /pools/{uuid}`); answers
    /// the pool as changed. A pool closing or closed is a 409.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let pool = client.pools().update(id).fixed(2).send().await?;
    /// assert_eq!(pool.instance_count, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(self) -> Result<Pool> {
        let current: Pool = self.client.json(Call::get(path(self.uuid))).await?;
        let body = self.body_over(&current)?;
        self.client
            .json(Call::put(path(self.uuid)).json(&body)?)
            .await
    }
}

/// A pool known by its uuid: the calls of [`Pools`] on it.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let pool = client.pools().create("p", "docker-batch").send().await?;
/// println!("{}", pool.get().await?.state);
/// pool.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PoolHandle {
    client: Client,
    uuid: Uuid,
}

impl PoolHandle {
    /// The pool's uuid.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// assert!(client.pool(uuid::Uuid::nil()).uuid().is_nil());
    /// ```
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// [`Pools::get`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// println!("{}", pool.get().await?.state);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self) -> Result<Pool> {
        self.client.pools().get(self.uuid).await
    }

    /// [`Pools::update`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// pool.update().fixed(3).send().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn update(&self) -> PoolUpdate {
        self.client.pools().update(self.uuid)
    }

    /// [`Pools::resize`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// println!("{}", pool.resize().await?.reason);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resize(&self) -> Result<ScalingDecision> {
        self.client.pools().resize(self.uuid).await
    }

    /// [`Pools::close`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// pool.close().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&self) -> Result<Pool> {
        self.client.pools().close(self.uuid).await
    }

    /// [`Pools::delete`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// pool.delete().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self) -> Result<()> {
        self.client.pools().delete(self.uuid).await
    }

    /// [`Pools::nodes`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let nodes: Vec<_> = pool.nodes().try_collect().await?;
    /// # let _ = nodes;
    /// # Ok(())
    /// # }
    /// ```
    pub fn nodes(&self) -> Paged<Node> {
        self.client.pools().nodes(self.uuid)
    }

    /// [`Pools::decisions`].
    ///
    /// ```no_run
    /// # async fn run(pool: hearth_client::PoolHandle) -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let decisions: Vec<_> = pool.decisions().try_collect().await?;
    /// # let _ = decisions;
    /// # Ok(())
    /// # }
    /// ```
    pub fn decisions(&self) -> Paged<ScalingDecision> {
        self.client.pools().decisions(self.uuid)
    }
}

impl HasUuid for PoolHandle {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl HasUuid for Pool {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}
