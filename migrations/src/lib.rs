//! hearth's database schema, one migration list for SQLite and PostgreSQL.
//!
//! Identifiers are UUIDs, times are UTC timestamps, structured settings (policies, constants,
//! tags) are JSON columns, money is a decimal string so both backends keep it exact.

pub use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_execution;
mod m0003_scale;
mod m0004_resize_indexes;
mod m0005_task_pages;
mod m0006_job_pages;
mod m0007_job_tasks;
mod m0008_billing_indexes;
mod m0009_idempotency;
mod m0010_budgets;
mod m0011_usage_rollups;
mod m0012_ui_sessions;
pub mod rollups;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_execution::Migration),
            Box::new(m0003_scale::Migration),
            Box::new(m0004_resize_indexes::Migration),
            Box::new(m0005_task_pages::Migration),
            Box::new(m0006_job_pages::Migration),
            Box::new(m0007_job_tasks::Migration),
            Box::new(m0008_billing_indexes::Migration),
            Box::new(m0009_idempotency::Migration),
            Box::new(m0010_budgets::Migration),
            Box::new(m0011_usage_rollups::Migration),
            Box::new(m0012_ui_sessions::Migration),
        ]
    }
}
