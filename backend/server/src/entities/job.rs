use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pool_id: Option<Uuid>,
    pub name: String,
    pub shortname: Option<String>,
    pub state: String,
    pub previous_state: Option<String>,
    pub state_transition_time: DateTimeUtc,
    pub previous_state_transition_time: Option<DateTimeUtc>,
    pub use_dependencies: bool,
    pub max_wall_time_seconds: Option<i64>,
    pub tags: Json,
    pub spec: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
