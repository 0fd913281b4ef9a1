use sea_orm::entity::prelude::*;

/// One attempt of one instance on one slot: the busy part of a node's billed time.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "instance_executions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pool_id: Uuid,
    pub node_id: Uuid,
    pub task_id: Uuid,
    pub instance_row_id: Uuid,
    pub instance_id: i32,
    pub attempt: i32,
    pub slot_index: i32,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub exit_code: Option<i32>,
    pub outcome: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
