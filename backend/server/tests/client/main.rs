//! `hearth-client` (the Rust SDK, `sdk/rust`) against the real application on port 0,
//! whose nodes are real `hearth agent` processes running real shell commands; a small
//! proxy in front of it loses answers, cuts streams and counts requests on purpose.
//!
//! `cargo nextest run -p hearth-server --test client`; `HEARTH_TEST_DATABASE=postgres` runs
//! it on a fresh PostgreSQL database per test. Waiting for processes polls with a deadline;
//! no assertion is about time except generous deadlines.

mod billing;
mod errors;
mod events;
mod harness;
mod jobs;
mod output;
mod pools;
mod proxy;
mod retries;
mod tasks;
