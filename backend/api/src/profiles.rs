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
    pub name: Option<String>,
    pub cores: Option<i64>,
    #[serde(rename = "memoryMB")]
    pub memory_mb: Option<i64>,
    /// A decimal (text or number), at most 9 decimals.
    #[schema(value_type = Option<String>, example = "0.05")]
    pub price_per_slot_hour: Option<serde_json::Value>,
    pub max_slots_per_node: Option<i64>,
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
