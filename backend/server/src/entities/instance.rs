use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pool_id: Uuid,
    pub task_id: Uuid,
    pub instance_id: i32,
    pub state: String,
    pub attempts: i32,
    pub node_id: Option<Uuid>,
    pub slot_index: Option<i32>,
    pub exit_code: Option<i32>,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub stdout: String,
    #[sea_orm(column_type = "Text")]
    pub stderr: String,
    pub stdout_read_offset: i64,
    pub stderr_read_offset: i64,
    pub stdout_dropped: i64,
    pub stderr_dropped: i64,
    /// Its task waits for dependencies: not dispatchable yet.
    pub held: bool,
    /// Its task's submission order, copied so dispatch is one index range scan.
    pub task_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
