//! The profile catalogue: what a node of a pool is and costs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProfileConstant {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// `POST /profiles` and `PUT /profiles/{name}` (operator).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    /// Letters, digits, '-', '_' and '.'.
    #[schema(pattern = "^[A-Za-z0-9._-]+$")]
    pub name: Option<String>,
    #[schema(minimum = 1, maximum = 1024)]
    pub cores: Option<i64>,
    #[serde(rename = "memoryMB")]
    #[schema(minimum = 1, maximum = 16777216)]
    pub memory_mb: Option<i64>,
    /// A decimal (text or number), at most 9 decimals.
    #[schema(value_type = Option<String>, example = "0.05", pattern = "^[0-9]{1,12}([.][0-9]{1,9})?$")]
    pub price_per_slot_hour: Option<serde_json::Value>,
    #[schema(minimum = 1, maximum = 1024)]
    pub max_slots_per_node: Option<i64>,
    #[schema(minimum = 0, maximum = 3600)]
    pub boot_delay_seconds: Option<f64>,
    pub constants: Option<Vec<ProfileConstant>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub name: String,
    pub constants: Vec<ProfileConstant>,
    pub cores: i32,
    #[serde(rename = "memoryMB")]
    pub memory_mb: i32,
    /// Exact decimal text.
    pub price_per_slot_hour: String,
    pub max_slots_per_node: i32,
    pub boot_delay_seconds: f64,
    pub launcher: String,
}
