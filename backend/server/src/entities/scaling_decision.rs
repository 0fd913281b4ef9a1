use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scaling_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pool_id: Uuid,
    pub created_at: DateTimeUtc,
    pub active_policy_name: Option<String>,
    pub active_period_name: Option<String>,
    pub wanted_slots: i32,
    pub target_slots: i32,
    pub action: String,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub detail: Json,
    /// Evaluations that reached this same decision (an unchanged one adds no row).
    pub evaluations: i32,
    /// Order within the pool (newest highest).
    pub seq: i64,
    pub last_evaluated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
