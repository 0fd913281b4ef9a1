//! Usage rolled up by UTC day (issue 7): a report reads whole days from `usage_rollups`
//! (rows per tenant, day, pool, profile, price and task: a few per pool and day, however
//! many intervals there were) and only the raw rows of its partial edge days, found through
//! `usage_interval_days`, and of the intervals still open. The server adds to both in the
//! transaction that closes an interval; this migration rolls up the history already there
//! (see `crate::rollups`).

use sea_orm_migration::{prelude::*, schema::*};

use crate::rollups::{self, Closed};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageRollups {
    Table,
    TenantId,
    /// Days since 1970-01-01 (UTC).
    Day,
    PoolId,
    ProfileName,
    PricePerSlotHour,
    /// The nil UUID on a node-time row.
    TaskId,
    SlotMs,
    BusyMs,
}

#[derive(DeriveIden)]
enum UsageIntervalDays {
    Table,
    IntervalId,
    TenantId,
    Day,
}

#[derive(DeriveIden)]
enum UsageIntervals {
    Table,
    EndedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageRollups::Table)
                    .col(uuid(UsageRollups::TenantId))
                    .col(big_integer(UsageRollups::Day))
                    .col(uuid(UsageRollups::PoolId))
                    .col(string(UsageRollups::ProfileName))
                    .col(string(UsageRollups::PricePerSlotHour))
                    .col(uuid(UsageRollups::TaskId))
                    .col(big_integer(UsageRollups::SlotMs))
                    .col(big_integer(UsageRollups::BusyMs))
                    .primary_key(
                        Index::create()
                            .col(UsageRollups::TenantId)
                            .col(UsageRollups::Day)
                            .col(UsageRollups::PoolId)
                            .col(UsageRollups::ProfileName)
                            .col(UsageRollups::PricePerSlotHour)
                            .col(UsageRollups::TaskId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("usage_rollups_day")
                    .table(UsageRollups::Table)
                    .col(UsageRollups::Day)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageIntervalDays::Table)
                    .col(uuid(UsageIntervalDays::IntervalId))
                    .col(uuid(UsageIntervalDays::TenantId))
                    .col(big_integer(UsageIntervalDays::Day))
                    .primary_key(
                        Index::create()
                            .col(UsageIntervalDays::IntervalId)
                            .col(UsageIntervalDays::Day),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("usage_interval_days_day")
                    .table(UsageIntervalDays::Table)
                    .col(UsageIntervalDays::Day)
                    .col(UsageIntervalDays::TenantId)
                    .to_owned(),
            )
            .await?;
        // The open intervals of every tenant (an operator's report), by their null end.
        manager
            .create_index(
                Index::create()
                    .name("usage_intervals_end")
                    .table(UsageIntervals::Table)
                    .col(UsageIntervals::EndedAt)
                    .to_owned(),
            )
            .await?;
        rollups::roll_up(manager.get_connection(), Closed::All).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("usage_intervals_end")
                    .table(UsageIntervals::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UsageIntervalDays::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UsageRollups::Table).to_owned())
            .await
    }
}
