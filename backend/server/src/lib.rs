//! hearth's server: the Qarnot-compatible REST API, persistence and (later) the agent.

pub mod agent;
pub mod auth;
pub mod body;
pub mod bootstrap;
pub mod cli_users;
pub mod contract;
pub mod db;
pub mod engine;
pub mod entities;
pub mod error;
pub mod events;
pub mod feed;
pub mod keys;
pub mod launcher;
pub mod metrics;
pub mod query;
pub mod routes;
pub mod schedule;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod ui;
pub mod wire;
