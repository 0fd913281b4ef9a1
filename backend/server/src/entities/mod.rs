//! sea-orm models, one per table of `hearth-migrations`.

pub mod api_token;
pub mod budget;
pub mod budget_alert;
pub mod idempotency_key;
pub mod instance;
pub mod instance_execution;
pub mod job;
pub mod node;
pub mod pool;
pub mod profile;
pub mod scaling_decision;
pub mod task;
pub mod tenant;
pub mod ui_session;
pub mod usage_interval;
pub mod user;
pub mod user_password;
