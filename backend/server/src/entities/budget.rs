use sea_orm::entity::prelude::*;

/// A tenant's spending limit over a period (see `services::budgets`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "budgets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// Exact decimal text, at most 6 places, in the server's currency.
    pub amount: String,
    /// `monthly` (the calendar month, UTC) or `range` (`period_from`..`period_to`).
    pub period_kind: String,
    pub period_from: Option<DateTimeUtc>,
    pub period_to: Option<DateTimeUtc>,
    /// `AlertOnly`, `BlockNew` or `StopAndBlockAll`.
    pub overrun_policy: String,
    /// Fractions of the amount, as decimal texts, ascending.
    pub alert_thresholds: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
