use sea_orm::entity::prelude::*;

/// A threshold of a budget that fired in one period (once per threshold and period).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "budget_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub budget_id: Uuid,
    pub tenant_id: Uuid,
    pub period_from: DateTimeUtc,
    /// The threshold as the budget stores it (decimal text).
    pub threshold: String,
    /// What was consumed when it fired (decimal text).
    pub consumed: String,
    pub fired_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
