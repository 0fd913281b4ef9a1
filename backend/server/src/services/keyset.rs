//! Pages of a tenant's pools or jobs in creation order, read after the last object of the
//! previous page (`(created_at, id)`, from an index), filtered while read: a page costs its
//! own rows and those its filter reads and drops, never the tenant's whole list, and memory
//! stays bounded whatever the number of objects.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::wire::filter::{Filter, Filterable};

/// Page tokens this server gives for pools and jobs: `at:<created_at>/<uuid>` of the last
/// object of the previous page.
const PREFIX: &str = "at:";

/// Rows read at a time while filling a filtered page.
const SCAN_CHUNK: u64 = 500;

/// Where a page starts: after this object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn token(&self) -> String {
        format!(
            "{PREFIX}{}/{}",
            self.created_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
            self.id
        )
    }

    /// `Ok(None)`: not one of these tokens (an offset token of an earlier version).
    pub fn parse(token: &str) -> ApiResult<Option<Cursor>> {
        let Some(rest) = token.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let bad = || ApiError::field("token", "is not a token this server gave");
        let (at, id) = rest.split_once('/').ok_or_else(bad)?;
        Ok(Some(Cursor {
            created_at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| bad())?
                .with_timezone(&Utc),
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        }))
    }
}

/// An object listed in creation order.
pub trait Keyed {
    fn cursor(&self) -> Cursor;
}

/// The columns of the fields a filter can narrow in SQL, as every listed kind (tasks, pools,
/// jobs) names them: `Tags`, `Name`, `State`.
pub fn narrowable<C: sea_orm::ColumnTrait>(
    tags: C,
    name: C,
    state: C,
) -> impl Fn(&str) -> Option<crate::wire::filter::FieldColumn> {
    use crate::wire::filter::FieldColumn;
    move |field: &str| {
        let col = |c: C| sea_orm::sea_query::Expr::col((c.entity_name(), c));
        Some(match field {
            "tags" => FieldColumn::JsonList(col(tags)),
            "name" => FieldColumn::Text(col(name)),
            "state" => FieldColumn::Text(col(state)),
            _ => return None,
        })
    }
}

/// The creation-order columns of a listed entity.
pub struct Columns<C> {
    pub created_at: C,
    pub id: C,
}

/// A page of `base` (the tenant's objects) after `after`, of those matching `filter`
/// (`narrowing`: its SQL superset, see `Filter::narrowing`). Answers the page and, when more
/// match, the cursor to continue after.
pub async fn page<E>(
    db: &impl sea_orm::ConnectionTrait,
    base: Select<E>,
    columns: Columns<E::Column>,
    filter: Option<&Filter>,
    narrowing: Option<Condition>,
    after: Option<Cursor>,
    size: usize,
) -> ApiResult<(Vec<E::Model>, Option<Cursor>)>
where
    E: EntityTrait,
    E::Model: Filterable + Keyed + Sync,
{
    let chunk = if filter.is_some() {
        SCAN_CHUNK
    } else {
        size as u64 + 1
    };
    let mut page: Vec<E::Model> = Vec::with_capacity(size + 1);
    let mut cursor = after;
    loop {
        let mut query = base.clone();
        if let Some(c) = cursor {
            query = query.filter(
                Condition::any()
                    .add(columns.created_at.gt(c.created_at))
                    .add(
                        Condition::all()
                            .add(columns.created_at.eq(c.created_at))
                            .add(columns.id.gt(c.id)),
                    ),
            );
        }
        if let Some(condition) = &narrowing {
            query = query.filter(condition.clone());
        }
        let rows = query
            .order_by_asc(columns.created_at)
            .order_by_asc(columns.id)
            .limit(chunk)
            .all(db)
            .await?;
        let exhausted = (rows.len() as u64) < chunk;
        for row in rows {
            cursor = Some(row.cursor());
            let keep = match filter {
                Some(f) => f.matches(&row)?,
                None => true,
            };
            if keep {
                page.push(row);
                if page.len() > size {
                    page.truncate(size);
                    let next = page.last().map(Keyed::cursor);
                    return Ok((page, next));
                }
            }
        }
        if exhausted {
            return Ok((page, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_cursor_exactly() {
        let c = Cursor {
            created_at: DateTime::parse_from_rfc3339("2026-12-01T14:00:00.123456789Z")
                .unwrap()
                .with_timezone(&Utc),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::parse(&c.token()).unwrap(), Some(c));
        assert_eq!(Cursor::parse("50").unwrap(), None);
        for bad in ["at:", "at:x/y", "at:2026-12-01T14:00:00Z/nope"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
