//! `Query<T>`: the query string parsed into `T`, refusing a bad parameter with a 400 that
//! names it (`limit: invalid digit found in string`) in the usual error body.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(pairs).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::Validation(format!("query: {inner}"))
        } else {
            ApiError::Validation(format!("{path}: {inner}"))
        }
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Q {
        limit: Option<u32>,
        page_token: Option<String>,
    }

    #[test]
    fn a_bad_parameter_is_named() {
        let q: Q = parse_query("limit=5&pageToken=a%2Fb").unwrap();
        assert_eq!((q.limit, q.page_token.as_deref()), (Some(5), Some("a/b")));
        let e = parse_query::<Q>("limit=x").unwrap_err().to_string();
        assert!(e.starts_with("limit: "), "{e}");
        let e = parse_query::<Q>("limit=-1").unwrap_err().to_string();
        assert!(e.starts_with("limit: "), "{e}");
        assert!(parse_query::<Q>("").unwrap().limit.is_none());
    }
}
