use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub pool_id: Uuid,
    pub job_id: Option<Uuid>,
    pub seq: i64,
    pub name: String,
    pub shortname: Option<String>,
    pub instance_count: i32,
    pub advanced_ranges: Option<String>,
    pub state: String,
    pub previous_state: Option<String>,
    pub state_transition_time: DateTimeUtc,
    pub previous_state_transition_time: Option<DateTimeUtc>,
    pub constants: Json,
    pub tags: Json,
    pub labels: Json,
    pub dependencies: Json,
    pub max_per_instance_retries: Option<i32>,
    pub max_total_retries: Option<i32>,
    pub spec: Json,
    pub errors: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub end_date: Option<DateTimeUtc>,
    /// Instances by state, kept in the same transaction as every instance change.
    pub queued_count: i32,
    pub assigned_count: i32,
    pub executing_count: i32,
    pub succeeded_count: i32,
    pub failed_count: i32,
    pub cancelled_count: i32,
    /// Σ max(attempts − 1, 0) over the task's instances: retries taken so far.
    pub retries_used: i32,
    /// Waiting for its dependencies: its instances are `held` out of dispatch.
    pub waiting: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
