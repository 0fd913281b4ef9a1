//! Qarnot's wire format (see `shared/reference/qarnot-wire.md`): request bodies as the public
//! SDK sends them, and the JSON it reads back. Bodies are lenient (unknown keys ignored, most
//! keys optional); responses never carry `null` where the SDK would crash.

pub mod budget;
pub mod filter;
pub mod job;
pub mod pool;
pub mod task;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: the SDK rejects 7 fractional digits and `+00:00`.
pub fn date(t: DateTime<Utc>) -> String {
    hearth_api::time::text(t)
}

pub fn opt_date(t: Option<DateTime<Utc>>) -> serde_json::Value {
    t.map(|t| serde_json::Value::String(date(t)))
        .unwrap_or(serde_json::Value::Null)
}

/// Pool and task constants: `{"key","value"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

pub fn constants_from(
    items: Option<Vec<KeyValue>>,
    field: &str,
) -> crate::error::ApiResult<Vec<KeyValue>> {
    let items = items.unwrap_or_default();
    for (i, kv) in items.iter().enumerate() {
        if kv.key.trim().is_empty() {
            return Err(crate::error::ApiError::field(
                &format!("{field}[{i}].key"),
                "must not be empty",
            ));
        }
    }
    Ok(items)
}

pub fn tags_from(tags: Option<Vec<String>>) -> Vec<String> {
    tags.unwrap_or_default()
}

/// The keys of `rest` listed in `keys`, with a value: stored as sent, to read back.
pub fn echoed(
    rest: &serde_json::Map<String, serde_json::Value>,
    keys: &[&str],
) -> serde_json::Value {
    let kept: serde_json::Map<String, serde_json::Value> = rest
        .iter()
        .filter(|(k, v)| keys.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::Value::Object(kept)
}

/// Lays a stored `spec.echo` over a response, keeping the response's default wherever the
/// stored value is not of the same kind (the SDK crashes on a wrong kind).
pub fn merge_echoed(
    out: &mut serde_json::Value,
    spec: &serde_json::Map<String, serde_json::Value>,
) {
    use serde_json::Value;
    let (Some(target), Some(extra)) = (
        out.as_object_mut(),
        spec.get("echo").and_then(Value::as_object),
    ) else {
        return;
    };
    for (k, v) in extra {
        let fits = match target.get(k) {
            Some(Value::Array(_)) => v.is_array(),
            Some(Value::Object(_)) => v.is_object(),
            _ => true,
        };
        if fits {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// The `status` object. The SDK needs both `...ByCpuModel` arrays whenever it is non-empty.
pub fn empty_status(instance_count: u32) -> serde_json::Value {
    serde_json::json!({
        "instanceCount": instance_count,
        "downloadProgress": 0.0,
        "executionProgress": 0.0,
        "uploadProgress": 0.0,
        "executionTimeSec": 0.0,
        "wallTimeSec": 0.0,
        "succeededRange": "",
        "executedRange": "",
        "failedRange": "",
        "executionTimeByCpuModel": [],
        "executionTimeGhzByCpuModel": [],
        "runningInstancesInfo": {
            "perRunningInstanceInfo": [],
            "snapshotResults": [],
            "runningCoreCountByCpuModel": []
        }
    })
}
