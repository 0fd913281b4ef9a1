//! The platform's profile catalogue (node types), managed by the operator.

use hearth_api::profiles::Profile;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::{json_of, required_name};
use crate::entities::profile;
use crate::error::{ApiError, ApiResult};

/// Profile constants use `name`/`value` on the wire (pools and tasks use `key`/`value`).
pub use hearth_api::profiles::{ProfileBody, ProfileConstant};

pub struct ProfileSpec {
    pub name: String,
    pub cores: i32,
    pub memory_mb: i32,
    pub price: Decimal,
    pub max_slots_per_node: i32,
    pub boot_delay_ms: i64,
    pub constants: Vec<ProfileConstant>,
}

fn bounded(
    v: Option<i64>,
    field: &str,
    default: Option<i64>,
    min: i64,
    max: i64,
) -> ApiResult<i32> {
    let v = v
        .or(default)
        .ok_or_else(|| ApiError::field(field, "is required"))?;
    if !(min..=max).contains(&v) {
        return Err(ApiError::field(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(v as i32)
}

fn price(v: &Option<Value>, default: Option<Decimal>) -> ApiResult<Decimal> {
    let field = "pricePerSlotHour";
    let d = match v {
        None | Some(Value::Null) => default.ok_or_else(|| ApiError::field(field, "is required"))?,
        Some(Value::String(s)) => s.trim().parse::<Decimal>().map_err(|_| {
            ApiError::field(
                field,
                format!("must be a decimal such as \"0.05\", got '{s}'"),
            )
        })?,
        Some(Value::Number(n)) => n
            .to_string()
            .parse::<Decimal>()
            .map_err(|_| ApiError::field(field, "must be a decimal such as \"0.05\""))?,
        Some(_) => return Err(ApiError::field(field, "must be a decimal such as \"0.05\"")),
    };
    if d.is_sign_negative() {
        return Err(ApiError::field(field, "must be >= 0"));
    }
    let d = d.normalize();
    if d.scale() > hearth_core::billing::PRICE_SCALE {
        return Err(ApiError::field(
            field,
            format!(
                "may have at most {} decimal places",
                hearth_core::billing::PRICE_SCALE
            ),
        ));
    }
    Ok(d)
}

/// Checks a profile body against the profile it changes (`None`: a new one).
pub fn check(body: &ProfileBody, current: Option<&profile::Model>) -> ApiResult<ProfileSpec> {
    let name = match current {
        Some(c) => c.name.clone(),
        None => {
            let n = required_name(&body.name, "name")?;
            if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(ApiError::field(
                    "name",
                    "may hold only letters, digits, '-', '_' and '.'",
                ));
            }
            n
        }
    };
    let boot_delay_ms = match body.boot_delay_seconds {
        None => current.map(|c| c.boot_delay_ms).unwrap_or(0),
        Some(s) if (0.0..=3600.0).contains(&s) => (s * 1000.0).round() as i64,
        Some(_) => {
            return Err(ApiError::field(
                "bootDelaySeconds",
                "must be between 0 and 3600",
            ));
        }
    };
    Ok(ProfileSpec {
        name,
        cores: bounded(
            body.cores,
            "cores",
            current.map(|c| i64::from(c.cores)).or(Some(1)),
            1,
            1024,
        )?,
        memory_mb: bounded(
            body.memory_mb,
            "memoryMB",
            current.map(|c| i64::from(c.memory_mb)).or(Some(1024)),
            1,
            16 * 1024 * 1024,
        )?,
        price: price(
            &body.price_per_slot_hour,
            current.and_then(|c| c.price_per_slot_hour.parse().ok()),
        )?,
        max_slots_per_node: bounded(
            body.max_slots_per_node,
            "maxSlotsPerNode",
            current.map(|c| i64::from(c.max_slots_per_node)).or(Some(1)),
            1,
            1024,
        )?,
        boot_delay_ms,
        constants: match (&body.constants, current) {
            (Some(c), _) => c.clone(),
            (None, Some(cur)) => serde_json::from_value(cur.constants.clone()).unwrap_or_default(),
            (None, None) => vec![],
        },
    })
}

pub async fn names(db: &impl ConnectionTrait) -> ApiResult<Vec<String>> {
    Ok(profile::Entity::find()
        .order_by_asc(profile::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect())
}

pub async fn find(db: &impl ConnectionTrait, name: &str) -> ApiResult<profile::Model> {
    profile::Entity::find()
        .filter(profile::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("profile '{name}' not found")))
}

/// `find`, holding the row against a concurrent update until the caller's transaction ends
/// (`FOR SHARE` on PostgreSQL; SQLite has one writer at a time). A node that becomes Ready
/// while an operator changes the price then either opens its interval before the change,
/// which the change's split then sees, or after it, at the new price: never an interval at
/// the old price that the split missed.
pub async fn find_for_share(db: &impl ConnectionTrait, name: &str) -> ApiResult<profile::Model> {
    profile::Entity::find()
        .filter(profile::Column::Name.eq(name))
        .lock_shared()
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("profile '{name}' not found")))
}

pub async fn create(
    db: &impl ConnectionTrait,
    spec: ProfileSpec,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<profile::Model> {
    if find(db, &spec.name).await.is_ok() {
        return Err(ApiError::Conflict(format!(
            "profile '{}' already exists",
            spec.name
        )));
    }
    Ok(profile::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(spec.name),
        cores: Set(spec.cores),
        memory_mb: Set(spec.memory_mb),
        price_per_slot_hour: Set(spec.price.to_string()),
        max_slots_per_node: Set(spec.max_slots_per_node),
        boot_delay_ms: Set(spec.boot_delay_ms),
        launcher: Set("process".into()),
        constants: Set(json_of(&spec.constants)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn update(
    db: &impl ConnectionTrait,
    current: profile::Model,
    spec: ProfileSpec,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<profile::Model> {
    let mut active = current.into_active_model();
    active.cores = Set(spec.cores);
    active.memory_mb = Set(spec.memory_mb);
    active.price_per_slot_hour = Set(spec.price.to_string());
    active.max_slots_per_node = Set(spec.max_slots_per_node);
    active.boot_delay_ms = Set(spec.boot_delay_ms);
    active.constants = Set(json_of(&spec.constants));
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

pub fn profile_view(p: &profile::Model) -> Profile {
    Profile {
        name: p.name.clone(),
        constants: serde_json::from_value(p.constants.clone()).unwrap_or_default(),
        cores: p.cores,
        memory_mb: p.memory_mb,
        price_per_slot_hour: p.price_per_slot_hour.clone(),
        max_slots_per_node: p.max_slots_per_node,
        boot_delay_seconds: p.boot_delay_ms as f64 / 1000.0,
        launcher: p.launcher.clone(),
    }
}

/// The catalogue a fresh installation starts with.
pub fn default_catalogue() -> Vec<ProfileSpec> {
    let docker_constants = vec![
        ProfileConstant {
            name: "DOCKER_CMD".into(),
            value: String::new(),
        },
        ProfileConstant {
            name: "DOCKER_REPO".into(),
            value: "library/ubuntu".into(),
        },
        ProfileConstant {
            name: "DOCKER_TAG".into(),
            value: "latest".into(),
        },
    ];
    vec![
        ProfileSpec {
            name: "docker-batch".into(),
            cores: 2,
            memory_mb: 4096,
            price: Decimal::new(5, 2),
            max_slots_per_node: 16,
            boot_delay_ms: 0,
            constants: docker_constants.clone(),
        },
        ProfileSpec {
            name: "docker-network".into(),
            cores: 2,
            memory_mb: 4096,
            price: Decimal::new(8, 2),
            max_slots_per_node: 1,
            boot_delay_ms: 0,
            constants: docker_constants,
        },
    ]
}
