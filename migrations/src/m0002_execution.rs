//! What running pools needs: the pool's current slot target (pool state is derived against
//! it), and one row per instance attempt so busy slot-seconds can be told from idle ones.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pools {
    Table,
    TargetSlots,
}

#[derive(DeriveIden)]
enum InstanceExecutions {
    Table,
    Id,
    TenantId,
    PoolId,
    NodeId,
    TaskId,
    InstanceRowId,
    InstanceId,
    Attempt,
    SlotIndex,
    StartedAt,
    EndedAt,
    ExitCode,
    Outcome,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Pools::Table)
                    .add_column(integer(Pools::TargetSlots).default(0))
                    .to_owned(),
            )
            .await?;
        // Kept apart from instances (no cascade): billing history outlives tasks.
        manager
            .create_table(
                Table::create()
                    .table(InstanceExecutions::Table)
                    .col(uuid(InstanceExecutions::Id).primary_key())
                    .col(uuid(InstanceExecutions::TenantId))
                    .col(uuid(InstanceExecutions::PoolId))
                    .col(uuid(InstanceExecutions::NodeId))
                    .col(uuid(InstanceExecutions::TaskId))
                    .col(uuid(InstanceExecutions::InstanceRowId))
                    .col(integer(InstanceExecutions::InstanceId))
                    .col(integer(InstanceExecutions::Attempt))
                    .col(integer(InstanceExecutions::SlotIndex))
                    .col(timestamp_with_time_zone(InstanceExecutions::StartedAt))
                    .col(timestamp_with_time_zone_null(InstanceExecutions::EndedAt))
                    .col(integer_null(InstanceExecutions::ExitCode))
                    .col(string_null(InstanceExecutions::Outcome))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_executions_node")
                    .table(InstanceExecutions::Table)
                    .col(InstanceExecutions::NodeId)
                    .col(InstanceExecutions::StartedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InstanceExecutions::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Pools::Table)
                    .drop_column(Pools::TargetSlots)
                    .to_owned(),
            )
            .await
    }
}
