//! The Rust SDK of hearth: pools of warm worker nodes, the
//! tasks that run on their slots, jobs, billing, budgets and the live event stream, over
//! hearth's REST API.
//!
//! Answers are the API's own types, shared with the server through the `hearth-api` crate
//! ([`Pool`], [`Task`], [`Job`], [`events::Event`], …), so they cannot drift from what the
//! server sends.
//!
//! ```no_run
//! use std::time::Duration;
//! use hearth_client::Client;
//!
//! # async fn run() -> hearth_client::Result<()> {
//! let client = Client::from_env()?; // HEARTH_URL + HEARTH_TOKEN, or the CLI's profile
//! let pool = client.pools().create("demo", "docker-batch").slots(2).send().await?;
//! let task = client
//!     .tasks()
//!     .create("hello")
//!     .pool(&pool)
//!     .instances(4)
//!     .command("echo hello from instance $INSTANCE_ID")
//!     .send()
//!     .await?;
//! let done = task.wait_until_done(Duration::from_secs(300)).await?;
//! println!("{}:\n{}", done.state, task.stdout().await?);
//! pool.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! - **Resources**: [`Client::pools`], [`Client::tasks`], [`Client::jobs`],
//!   [`Client::billing`], [`Client::budgets`], [`Client::events`], [`Client::tokens`], and
//!   [`Client::profiles`], [`Client::info`]. Objects are addressed by uuid, or by anything
//!   that has one ([`HasUuid`]: the objects, their handles); `find_by_name` finds one by
//!   its name.
//! - **Lists** are [`Paged`] streams, fetching a page only when the one before is used up.
//! - **Errors** are one [`Error`] enum: the server's status, `code`, `message` and raw body,
//!   or a transport or decoding failure.
//! - **Retries** ([`RetryPolicy`]): connection failures, 429 and 5xx are retried with
//!   exponential backoff; creating `POST`s carry one `Idempotency-Key` per call, reused by
//!   its retries, so a retry never creates twice.
//! - **Waiting** ([`TaskHandle::wait_until_done`]) long-polls the server, which answers the
//!   moment the task ends.
//! - **Events** ([`events::EventStream`]) reconnect with backoff and resume with
//!   `Last-Event-ID`, neither losing nor repeating events.
//! - **Output** of one instance, followed live ([`Tasks::instance_output`],
//!   [`output::OutputFollower`]), resumes the same way, neither losing nor repeating bytes.
//!
//! TLS: this crate's `reqwest` is built without TLS, like the rest of hearth's workspace.
//! To reach a server over `https://`, enable reqwest's `rustls` (or `native-tls`) feature
//! in your own `Cargo.toml` (cargo unifies the features), or hand a client of your own to
//! [`ClientBuilder::http_client`].

#![warn(missing_docs)]

mod account;
pub mod billing;
pub mod budgets;
mod client;
pub mod config;
mod error;
pub mod events;
mod jobs;
mod listing;
pub mod output;
mod paged;
mod pools;
pub mod scaling;
pub mod tasks;

pub use account::{TokenBuilder, Tokens};
pub use billing::Billing;
pub use budgets::Budgets;
pub use client::{Client, ClientBuilder, RetryPolicy};
pub use error::{Error, Result};
pub use hearth_api;
pub use hearth_api::pools::{Node, ScalingDecision};
pub use hearth_api::qarnot::job::Job;
pub use hearth_api::qarnot::pool::Pool;
pub use hearth_api::qarnot::task::Task;
pub use jobs::{JobBuilder, JobHandle, Jobs};
pub use listing::Listing;
pub use paged::Paged;
pub use pools::{PoolBuilder, PoolHandle, PoolUpdate, Pools};
pub use tasks::{OutputRequest, TaskBuilder, TaskHandle, Tasks};

use futures_util::TryStreamExt;
use uuid::Uuid;

/// Anything that names one object by its uuid: a [`Uuid`], the objects ([`Pool`],
/// [`Task`], [`Job`], …) and their handles ([`PoolHandle`], …), or a reference to one.
/// Methods that address an object take `impl HasUuid`.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let pool = client.pools().find_by_name("render").await?;
/// // The pool object, a handle on it, or its uuid all do.
/// client.tasks().create("a").pool(&pool).send().await?;
/// client.tasks().create("b").pool(pool.uuid).send().await?;
/// # Ok(())
/// # }
/// ```
pub trait HasUuid {
    /// The object's uuid.
    ///
    /// ```
    /// use hearth_client::HasUuid;
    /// assert!(uuid::Uuid::nil().uuid().is_nil());
    /// ```
    fn uuid(&self) -> Uuid;
}

impl HasUuid for Uuid {
    fn uuid(&self) -> Uuid {
        *self
    }
}

impl<T: HasUuid + ?Sized> HasUuid for &T {
    fn uuid(&self) -> Uuid {
        (**self).uuid()
    }
}

/// The only item of `found` whose name is exactly `name` (the server's name filter
/// ignores ASCII case).
async fn find_unique<T, F>(found: Paged<T>, kind: &'static str, name: &str, key: F) -> Result<T>
where
    F: Fn(&T) -> (&String, Uuid),
{
    let mut exact: Vec<T> = found
        .try_filter(|item| std::future::ready(key(item).0 == name))
        .try_collect()
        .await?;
    match exact.len() {
        0 => Err(Error::NameNotFound {
            kind,
            name: name.to_owned(),
        }),
        1 => Ok(exact.remove(0)),
        _ => Err(Error::AmbiguousName {
            kind,
            name: name.to_owned(),
            matches: exact.iter().map(|item| key(item).1).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    fn is_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_cross_threads() {
        is_send_sync::<crate::Client>();
        is_send_sync::<crate::Error>();
        is_send_sync::<crate::PoolHandle>();
        fn is_send<T: Send>() {}
        is_send::<crate::Paged<crate::Pool>>();
        is_send::<crate::events::EventStream>();
        is_send::<crate::output::OutputFollower>();
    }
}
