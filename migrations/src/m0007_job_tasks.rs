//! A job's tasks in submission order read from an index: `(job, seq)`, so the streamed
//! `GET /jobs/{uuid}/tasks` reads each chunk as a range scan, whatever the tenant's other
//! tasks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    JobId,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("tasks_job_seq")
                    .table(Tasks::Table)
                    .col(Tasks::JobId)
                    .col(Tasks::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("tasks_job_seq")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await
    }
}
