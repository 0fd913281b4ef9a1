use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub shortname: Option<String>,
    pub profile_name: String,
    pub instance_count: i32,
    pub slots_per_node: i32,
    pub state: String,
    pub previous_state: Option<String>,
    pub state_transition_time: DateTimeUtc,
    pub previous_state_transition_time: Option<DateTimeUtc>,
    pub resize_period_seconds: i32,
    pub policies: Json,
    pub elastic: Json,
    pub scaling_source: String,
    pub constants: Json,
    pub tags: Json,
    pub labels: Json,
    pub spec: Json,
    pub next_evaluation_at: Option<DateTimeUtc>,
    /// When the pool last took a growth step (paces growth on demand).
    pub grown_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub end_date: Option<DateTimeUtc>,
    pub target_slots: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
