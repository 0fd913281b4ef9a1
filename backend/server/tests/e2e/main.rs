//! End-to-end execution tests: real pools of real `hearth agent` processes started by the
//! server's process launcher, tasks running real shell commands on their slots.
//!
//! `cargo nextest run -p hearth-server --test e2e`; set `HEARTH_TEST_DATABASE=postgres`
//! (and optionally `HEARTH_TEST_PG_URL`) to run every test on a fresh PostgreSQL database.
//! `HEARTH_LOG=debug` shows the server's logs; each agent logs to
//! `<data dir>/nodes/<node uuid>/agent.log`.
//!
//! Waiting for processes is done by polling with a deadline; time-based logic (idle time,
//! weekly periods, billing instants) is driven by a `ManualClock`, never by sleeping.

mod agent_kill;
mod billing;
mod budgets;
mod events;
mod execution;
mod failures;
mod feed;
mod helpers;
mod idempotency;
mod metering;
mod metrics;
mod output;
mod protocol;
mod restart;
mod scaling;
mod ui;
mod ui_pages;
