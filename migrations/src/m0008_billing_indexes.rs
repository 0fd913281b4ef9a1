//! Indexes for billing reports: a node's intervals (to price each execution by the interval
//! it ran in), and intervals and executions by when they ended (a report reads what ended
//! after its start, not the whole history before its end).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageIntervals {
    Table,
    TenantId,
    NodeId,
    StartedAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum InstanceExecutions {
    Table,
    TenantId,
    EndedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("usage_intervals_node")
                    .table(UsageIntervals::Table)
                    .col(UsageIntervals::NodeId)
                    .col(UsageIntervals::StartedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("usage_intervals_tenant_end")
                    .table(UsageIntervals::Table)
                    .col(UsageIntervals::TenantId)
                    .col(UsageIntervals::EndedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_executions_tenant_end")
                    .table(InstanceExecutions::Table)
                    .col(InstanceExecutions::TenantId)
                    .col(InstanceExecutions::EndedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            (
                "instance_executions_tenant_end",
                InstanceExecutions::Table.into_iden(),
            ),
            (
                "usage_intervals_tenant_end",
                UsageIntervals::Table.into_iden(),
            ),
            ("usage_intervals_node", UsageIntervals::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
