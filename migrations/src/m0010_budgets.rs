//! Budgets (issue 7): a tenant's spending limit over a period with an overrun policy, and
//! the alert thresholds that already fired in a period, so a restart does not fire them
//! again. Bounded: at most 100 budgets per tenant (the service refuses more), at most 10
//! thresholds each, and only the current period's fired thresholds are kept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Budgets {
    Table,
    Id,
    TenantId,
    Name,
    Amount,
    /// `monthly` or `range`.
    PeriodKind,
    PeriodFrom,
    PeriodTo,
    OverrunPolicy,
    AlertThresholds,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BudgetAlerts {
    Table,
    Id,
    BudgetId,
    TenantId,
    PeriodFrom,
    Threshold,
    Consumed,
    FiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Budgets::Table)
                    .col(uuid(Budgets::Id).primary_key())
                    .col(uuid(Budgets::TenantId))
                    .col(string(Budgets::Name))
                    .col(string(Budgets::Amount))
                    .col(string(Budgets::PeriodKind))
                    .col(timestamp_with_time_zone_null(Budgets::PeriodFrom))
                    .col(timestamp_with_time_zone_null(Budgets::PeriodTo))
                    .col(string(Budgets::OverrunPolicy))
                    .col(json(Budgets::AlertThresholds))
                    .col(timestamp_with_time_zone(Budgets::CreatedAt))
                    .col(timestamp_with_time_zone(Budgets::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("budgets_tenant_created")
                    .table(Budgets::Table)
                    .col(Budgets::TenantId)
                    .col(Budgets::CreatedAt)
                    .col(Budgets::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BudgetAlerts::Table)
                    .col(uuid(BudgetAlerts::Id).primary_key())
                    .col(uuid(BudgetAlerts::BudgetId))
                    .col(uuid(BudgetAlerts::TenantId))
                    .col(timestamp_with_time_zone(BudgetAlerts::PeriodFrom))
                    .col(string(BudgetAlerts::Threshold))
                    .col(string(BudgetAlerts::Consumed))
                    .col(timestamp_with_time_zone(BudgetAlerts::FiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("budget_alerts_once")
                    .table(BudgetAlerts::Table)
                    .col(BudgetAlerts::BudgetId)
                    .col(BudgetAlerts::PeriodFrom)
                    .col(BudgetAlerts::Threshold)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BudgetAlerts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Budgets::Table).to_owned())
            .await
    }
}
