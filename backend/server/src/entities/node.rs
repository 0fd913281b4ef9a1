use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pool_id: Uuid,
    pub state: String,
    pub slots: i32,
    pub token_id: Option<Uuid>,
    pub pid: Option<i32>,
    pub dir: Option<String>,
    pub created_at: DateTimeUtc,
    pub ready_at: Option<DateTimeUtc>,
    pub last_heartbeat: Option<DateTimeUtc>,
    pub idle_since: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
