//! Pages of a tenant's tasks (in submission order, `seq`), pools and jobs (in creation
//! order, `(created_at, id)`), read from an index after the last object of the previous
//! page and filtered while read: a page costs its own rows and those its filter reads and
//! drops, never the tenant's whole list, and memory stays bounded whatever the number of
//! objects.

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

/// An object listed in key order: tasks by `seq`, pools and jobs by creation (`Cursor`).
pub trait Keyed {
    type Key: Copy;
    fn key(&self) -> Self::Key;
}

/// The columns of a kind listed in creation order: its order, and the fields a filter can
/// narrow in SQL.
pub struct Listed<C> {
    pub created_at: C,
    pub id: C,
    pub tags: C,
    pub name: C,
    pub state: C,
}

/// A page of `base` in creation order after `after` (see `page`), for pools and jobs.
pub async fn creation_page<E>(
    db: &impl sea_orm::ConnectionTrait,
    base: Select<E>,
    columns: Listed<E::Column>,
    filter: Option<&Filter>,
    after: Option<Cursor>,
    size: usize,
) -> ApiResult<(Vec<E::Model>, Option<Cursor>)>
where
    E: EntityTrait,
    E::Model: Filterable + Keyed<Key = Cursor> + Sync,
{
    let Listed {
        created_at,
        id,
        tags,
        name,
        state,
    } = columns;
    let narrowing = filter.and_then(|f| f.narrowing(&narrowable(tags, name, state)));
    let after_key = move |c: Cursor| {
        Condition::any().add(created_at.gt(c.created_at)).add(
            Condition::all()
                .add(created_at.eq(c.created_at))
                .add(id.gt(c.id)),
        )
    };
    let order = [created_at, id];
    page(db, base, &order, after_key, filter, narrowing, after, size).await
}

/// A page of `base` in the order of `order` (the columns of `Keyed::key`), after the object
/// of key `after` (`after_key` says which rows come after a key), of those matching
/// `filter` (`narrowing`: its SQL superset, see `Filter::narrowing`): read in chunks of
/// `SCAN_CHUNK` until the page is full, so memory stays bounded. Answers the page and, when
/// more match, the key to continue after. Without a filter this is one query of `size + 1`
/// rows.
#[allow(clippy::too_many_arguments)]
pub async fn page<E, K>(
    db: &impl sea_orm::ConnectionTrait,
    base: Select<E>,
    order: &[E::Column],
    after_key: impl Fn(K) -> Condition,
    filter: Option<&Filter>,
    narrowing: Option<Condition>,
    after: Option<K>,
    size: usize,
) -> ApiResult<(Vec<E::Model>, Option<K>)>
where
    E: EntityTrait,
    E::Model: Filterable + Keyed<Key = K> + Sync,
    K: Copy,
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
        if let Some(key) = cursor {
            query = query.filter(after_key(key));
        }
        if let Some(condition) = &narrowing {
            query = query.filter(condition.clone());
        }
        for column in order {
            query = query.order_by_asc(*column);
        }
        let rows = query.limit(chunk).all(db).await?;
        let exhausted = (rows.len() as u64) < chunk;
        for row in rows {
            cursor = Some(row.key());
            let keep = match filter {
                Some(f) => f.matches(&row)?,
                None => true,
            };
            if keep {
                page.push(row);
                if page.len() > size {
                    page.truncate(size);
                    let next = page.last().map(Keyed::key);
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
