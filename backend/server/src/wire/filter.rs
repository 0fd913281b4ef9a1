//! Qarnot listing filters: leaves `{"operator","field","value"}` under `And`/`Or` nodes.

use sea_orm::Condition;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginateBody {
    pub filter: Option<Value>,
    pub token: Option<String>,
    #[schema(minimum = 1)]
    pub maximum_results: Option<i64>,
}

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 1000;

#[derive(Debug)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Leaf {
        op: LeafOp,
        field: String,
        value: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LeafOp {
    Equal,
    NotEqual,
    In,
    NotIn,
    Like,
}

/// A listed object exposes its filterable fields: each as the strings it holds.
pub trait Filterable {
    fn field(&self, name: &str) -> Option<Vec<String>>;
}

impl Filter {
    pub fn parse(v: &Value, path: &str) -> ApiResult<Filter> {
        let op = v
            .get("operator")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::field(&format!("{path}.operator"), "is required"))?;
        match op {
            "And" | "Or" => {
                let filters = v
                    .get("filters")
                    .and_then(Value::as_array)
                    .ok_or_else(|| ApiError::field(&format!("{path}.filters"), "must be an array"))?
                    .iter()
                    .enumerate()
                    .map(|(i, f)| Filter::parse(f, &format!("{path}.filters[{i}]")))
                    .collect::<ApiResult<Vec<_>>>()?;
                Ok(if op == "And" {
                    Filter::And(filters)
                } else {
                    Filter::Or(filters)
                })
            }
            leaf => {
                let op = match leaf {
                    "Equal" => LeafOp::Equal,
                    "NotEqual" => LeafOp::NotEqual,
                    "In" => LeafOp::In,
                    "NotIn" => LeafOp::NotIn,
                    "Like" => LeafOp::Like,
                    other => {
                        return Err(ApiError::field(
                            &format!("{path}.operator"),
                            format!(
                                "'{other}' is not supported (And, Or, Equal, NotEqual, In, NotIn, Like)"
                            ),
                        ));
                    }
                };
                let field = v
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::field(&format!("{path}.field"), "is required"))?
                    .to_owned();
                Ok(Filter::Leaf {
                    op,
                    field,
                    value: v.get("value").cloned().unwrap_or(Value::Null),
                })
            }
        }
    }

    pub fn matches(&self, item: &dyn Filterable) -> ApiResult<bool> {
        match self {
            Filter::And(fs) => {
                for f in fs {
                    if !f.matches(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Filter::Or(fs) => {
                for f in fs {
                    if f.matches(item)? {
                        return Ok(true);
                    }
                }
                Ok(fs.is_empty())
            }
            Filter::Leaf { op, field, value } => {
                let held = item.field(field).ok_or_else(|| {
                    ApiError::field("filter.field", format!("'{field}' cannot be filtered on"))
                })?;
                let wanted: Vec<String> = match value {
                    Value::Array(items) => items.iter().map(value_text).collect(),
                    v => vec![value_text(v)],
                };
                let any_equal = held
                    .iter()
                    .any(|h| wanted.iter().any(|w| h.eq_ignore_ascii_case(w)));
                Ok(match op {
                    LeafOp::Equal | LeafOp::In => any_equal,
                    LeafOp::NotEqual | LeafOp::NotIn => !any_equal,
                    LeafOp::Like => held.iter().any(|h| {
                        wanted.iter().any(|w| {
                            h.to_lowercase()
                                .contains(&w.trim_matches('%').to_lowercase())
                        })
                    }),
                })
            }
        }
    }
}

/// How a filterable field is stored, for `Filter::narrowing`.
pub enum FieldColumn {
    /// One text value.
    Text(SimpleExpr),
    /// A JSON array of strings, stored as its serialized text.
    JsonList(SimpleExpr),
}

impl Filter {
    /// A SQL condition every row this filter keeps satisfies, so that a listing reads only
    /// the rows that may match (each is still checked with `matches`). A superset: `None`
    /// where it cannot narrow (operators other than `Equal`/`In`, fields without a column,
    /// values other than plain ASCII), and `Or` narrows only when all its branches do.
    pub fn narrowing(&self, column: &dyn Fn(&str) -> Option<FieldColumn>) -> Option<Condition> {
        match self {
            Filter::And(fs) => {
                let parts: Vec<Condition> = fs.iter().filter_map(|f| f.narrowing(column)).collect();
                (!parts.is_empty())
                    .then(|| parts.into_iter().fold(Condition::all(), Condition::add))
            }
            Filter::Or(fs) if !fs.is_empty() => {
                let parts: Option<Vec<Condition>> =
                    fs.iter().map(|f| f.narrowing(column)).collect();
                parts.map(|ps| ps.into_iter().fold(Condition::any(), Condition::add))
            }
            Filter::Leaf {
                op: LeafOp::Equal | LeafOp::In,
                field,
                value,
            } => {
                let col = column(&field.to_ascii_lowercase())?;
                let wanted: Vec<String> = match value {
                    Value::Array(items) => items.iter().map(value_text).collect(),
                    v => vec![value_text(v)],
                };
                if wanted.is_empty() || !wanted.iter().all(|w| plain(w)) {
                    return None;
                }
                // `matches` compares ignoring ASCII case: both sides lowered here.
                let mut any = Condition::any();
                for w in wanted {
                    let w = w.to_ascii_lowercase();
                    any = any.add(match &col {
                        FieldColumn::Text(e) => Expr::expr(Func::lower(e.clone())).eq(w),
                        FieldColumn::JsonList(e) => {
                            Expr::expr(Func::lower(Func::cast_as(e.clone(), Alias::new("TEXT"))))
                                .like(format!("%\"{w}\"%"))
                        }
                    });
                }
                Some(any)
            }
            _ => None,
        }
    }
}

/// A value whose text is the same in JSON, in SQL and in a `LIKE` pattern: printable ASCII
/// without quotes, backslashes or `LIKE` wildcards.
fn plain(w: &str) -> bool {
    !w.is_empty()
        && w.bytes()
            .all(|b| (b.is_ascii_graphic() || b == b' ') && !b"\"\\%_".contains(&b))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a page starts and how long it is. The token is the offset of the page.
pub fn page_bounds(body: &PaginateBody) -> ApiResult<(usize, usize)> {
    let size = match body.maximum_results {
        None => DEFAULT_PAGE,
        Some(n) if n >= 1 => (n as usize).min(MAX_PAGE),
        Some(_) => return Err(ApiError::field("maximumResults", "must be >= 1")),
    };
    let start = match body.token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::field("token", "is not a token this server gave"))?,
    };
    Ok((start, size))
}

/// Whether the body asks for a filter (else a page can be read straight from the database).
pub fn has_filter(body: &PaginateBody) -> bool {
    body.filter.as_ref().is_some_and(|f| !f.is_null())
}

/// One page of an already filtered, ordered list. The token is the offset of the next page.
pub fn page<T>(items: Vec<T>, body: &PaginateBody) -> ApiResult<(Vec<T>, Option<String>)> {
    let (start, size) = page_bounds(body)?;
    let total = items.len();
    let data: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = (start + size < total).then(|| (start + size).to_string());
    Ok((data, next))
}

/// The body's filter, parsed (`None` when it asks for none).
pub fn filter_of(body: &PaginateBody) -> ApiResult<Option<Filter>> {
    body.filter
        .as_ref()
        .filter(|f| !f.is_null())
        .map(|f| Filter::parse(f, "filter"))
        .transpose()
}

/// Filters (in order) and pages a listing as the body asks.
pub fn select<T: Filterable>(
    items: Vec<T>,
    body: &PaginateBody,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let filter = filter_of(body)?;
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        if filter
            .as_ref()
            .map(|f| f.matches(&item))
            .transpose()?
            .unwrap_or(true)
        {
            kept.push(item);
        }
    }
    page(kept, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn narrows(filter: Value) -> bool {
        let column = |field: &str| {
            (field == "tags").then(|| FieldColumn::JsonList(Expr::col(Alias::new("tags"))))
        };
        Filter::parse(&filter, "filter")
            .expect("valid filter")
            .narrowing(&column)
            .is_some()
    }

    #[test]
    fn narrowing_is_only_given_where_it_keeps_every_match() {
        let tag = |v: &str| json!({"operator": "Equal", "field": "Tags", "value": v});
        let not = json!({"operator": "NotEqual", "field": "Tags", "value": "a"});
        let unknown = json!({"operator": "Equal", "field": "Shortname", "value": "a"});
        assert!(narrows(tag("rare")));
        assert!(narrows(
            json!({"operator": "In", "field": "tags", "value": ["a", "b"]})
        ));
        assert!(!narrows(tag("50%")), "a LIKE wildcard");
        assert!(!narrows(tag("say \"hi\"")), "a quote JSON escapes");
        assert!(!narrows(tag("é")), "not ASCII");
        assert!(!narrows(not.clone()));
        assert!(!narrows(unknown.clone()));
        assert!(!narrows(
            json!({"operator": "Or", "filters": [tag("a"), not.clone()]})
        ));
        assert!(narrows(
            json!({"operator": "Or", "filters": [tag("a"), tag("b")]})
        ));
        assert!(narrows(
            json!({"operator": "And", "filters": [tag("a"), not, unknown]})
        ));
        assert!(!narrows(json!({"operator": "Or", "filters": []})));
    }
}
