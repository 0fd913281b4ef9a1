//! Black-box HTTP tests of the hearth API (docs/api.md). One test binary.
//!
//! `cargo nextest run -p hearth-server --test api`; set `HEARTH_TEST_DATABASE=postgres`
//! (and optionally `HEARTH_TEST_PG_URL`) to run every test on a fresh PostgreSQL database.

mod accounts;
mod auth;
mod billing;
mod bootstrap;
mod budgets;
mod errors;
mod events;
mod helpers;
mod idempotency;
mod isolation;
mod jobs;
mod listing;
mod platform;
mod pools;
mod profiles;
mod quotas;
mod roles;
mod tasks;
mod types;
