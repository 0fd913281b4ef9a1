//! `JsonBody<T>`: reads a request body up to the configured limit (413 beyond it) and parses
//! it with the failing field's path in the message ("instanceCount: invalid type ..."). The
//! Qarnot SDK sends JSON without asking for a content type check, so none is made.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// The parsed body and the bytes it came from (for `Idempotency-Key` checks).
pub struct JsonBody<T>(pub T, pub web::Bytes);

/// JSON has one kind of number: `3.0` is the integer 3 to JSON Schema (and to the document
/// at `/openapi.json`), so a float without fraction becomes that integer before the body
/// is read into integer fields. Other floats stay as they are.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: broken JSON is a 400 whatever shape the route expects.
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Validation(format!("body is not valid JSON: {e}")))?;
    integral_floats_as_integers(&mut value);
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                Err(ApiError::Unprocessable(format!("body: {inner}")))
            } else {
                Err(ApiError::Unprocessable(format!("{path}: {inner}")))
            }
        }
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.max_body_bytes())
            .unwrap_or(1024 * 1024);
        let declared = req
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::Validation(format!("body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::Validation("body is required (JSON)".into()));
            }
            let bytes = body.freeze();
            parse_json(&bytes).map(|v| JsonBody(v, bytes))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct B {
        n: i64,
        x: f64,
        list: Vec<u32>,
    }

    #[test]
    fn a_float_without_fraction_is_an_integer() {
        let b: B = parse_json(br#"{"n": -743.0, "x": 2.0, "list": [1.0, 2]}"#).unwrap();
        assert_eq!(
            b,
            B {
                n: -743,
                x: 2.0,
                list: vec![1, 2]
            }
        );
        let e = parse_json::<B>(br#"{"n": 1.5, "x": 1, "list": []}"#).unwrap_err();
        assert!(e.to_string().starts_with("n: invalid type"), "{e}");
    }
}
