use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub multi_slot_enabled: bool,
    pub created_at: DateTimeUtc,
    /// Quotas set by the operator; `None` is no limit.
    pub max_pools: Option<i32>,
    pub max_running_slots: Option<i32>,
    pub max_queued_instances: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
