//! Pages of a tenant's tasks in submission order read from an index: `(tenant, seq)`, so a
//! page after a given task is a range scan, whatever the tenant's number of tasks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    TenantId,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("tasks_tenant_seq")
                    .table(Tasks::Table)
                    .col(Tasks::TenantId)
                    .col(Tasks::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("tasks_tenant_seq")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await
    }
}
