//! Qarnot's wire format (see `shared/reference/qarnot-wire.md`): the types live in
//! `hearth_api::qarnot`; here is what turns them into hearth's domain and its rows into
//! them, with the checks that need more than a type (a field's path in each error).

pub mod filter;
pub mod job;
pub mod pool;
pub mod task;

use chrono::{DateTime, Utc};

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: the SDK rejects 7 fractional digits and `+00:00`.
pub fn date(t: DateTime<Utc>) -> String {
    hearth_api::time::text(t)
}

pub use hearth_api::qarnot::KeyValue;

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
