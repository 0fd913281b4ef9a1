//! Pages of a tenant's jobs in creation order read from an index: `(tenant, created_at,
//! id)`, so a page after a given job is a range scan, whatever the tenant's number of jobs.
//! (Pools have `pools_tenant` on `(tenant, created_at)` since the first migration.)

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    TenantId,
    CreatedAt,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("jobs_tenant_created")
                    .table(Jobs::Table)
                    .col(Jobs::TenantId)
                    .col(Jobs::CreatedAt)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("jobs_tenant_created")
                    .table(Jobs::Table)
                    .to_owned(),
            )
            .await
    }
}
