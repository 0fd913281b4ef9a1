//! hearth's own list routes page with `?limit=&pageToken=` and answer
//! `{"items", "nextPageToken"}` (`hearth_api::Page`). A page is read from an index after
//! the last row of the previous page: its cost is its own rows, never the whole list.

use hearth_api::page::{DEFAULT_LIMIT, MAX_LIMIT};
use hearth_api::{Page, PageQuery};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use chrono::DateTime;
use uuid::Uuid;

use super::keyset::Cursor;
use crate::error::{ApiError, ApiResult};

/// A checked `?limit=&pageToken=`.
#[derive(Debug, Clone)]
pub struct Paging {
    pub limit: usize,
    token: Option<String>,
}

impl Paging {
    pub fn of(q: &PageQuery) -> ApiResult<Paging> {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}, got {limit}"),
            ));
        }
        Ok(Paging {
            limit: limit as usize,
            token: q.page_token.clone().filter(|t| !t.is_empty()),
        })
    }

    fn bad_token() -> ApiError {
        ApiError::field("pageToken", "is not a token this list gave")
    }

    /// The cursor the token names (`None`: first page): `<nanos>-<uuid hex>`, see
    /// `hearth_api::page::PAGE_TOKEN_PATTERN`.
    pub fn cursor(&self) -> ApiResult<Option<Cursor>> {
        let Some(t) = &self.token else {
            return Ok(None);
        };
        let (nanos, id) = t.split_once('-').ok_or_else(Self::bad_token)?;
        let nanos = nanos.parse::<i64>().map_err(|_| Self::bad_token())?;
        if id.len() != 32 {
            return Err(Self::bad_token());
        }
        let id = Uuid::try_parse(id).map_err(|_| Self::bad_token())?;
        Ok(Some(Cursor {
            created_at: DateTime::from_timestamp_nanos(nanos),
            id,
        }))
    }

    /// The offset the token names and the instant after it (`<offset>-<ms>`), for lists
    /// computed whole (a billing report).
    pub fn offset_cursor(&self) -> ApiResult<Option<(usize, i64)>> {
        match &self.token {
            None => Ok(None),
            Some(t) => t
                .split_once('-')
                .and_then(|(n, ms)| Some((n.parse::<usize>().ok()?, ms.parse::<i64>().ok()?)))
                .map(Some)
                .ok_or_else(Self::bad_token),
        }
    }
}

/// The token of a page that ends with the row of this cursor.
pub fn token_of(c: &Cursor) -> String {
    // Nanoseconds fit in an i64 until 2262; later instants are not stored.
    let nanos = c.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
    format!("{nanos}-{}", c.id.simple())
}

/// Rows of `base` in creation order (`created_at`, then `id`), one page after the
/// paging's cursor; answers the rows and the next page's token.
pub async fn creation_page<E>(
    db: &impl ConnectionTrait,
    base: Select<E>,
    created_at: E::Column,
    id: E::Column,
    key: impl Fn(&E::Model) -> Cursor,
    paging: &Paging,
) -> ApiResult<(Vec<E::Model>, Option<String>)>
where
    E: EntityTrait,
{
    let mut query = base;
    if let Some(c) = paging.cursor()? {
        query = query.filter(
            Condition::any().add(created_at.gt(c.created_at)).add(
                Condition::all()
                    .add(created_at.eq(c.created_at))
                    .add(id.gt(c.id)),
            ),
        );
    }
    let mut rows = query
        .order_by_asc(created_at)
        .order_by_asc(id)
        .limit(paging.limit as u64 + 1)
        .all(db)
        .await?;
    let next = if rows.len() > paging.limit {
        rows.truncate(paging.limit);
        rows.last().map(|r| token_of(&key(r)))
    } else {
        None
    };
    Ok((rows, next))
}

/// Rows of `base` newest first by a unique sequence number, one page after the paging's
/// cursor (whose position is the sequence number).
pub async fn newest_first_page<E>(
    db: &impl ConnectionTrait,
    base: Select<E>,
    seq: E::Column,
    key: impl Fn(&E::Model) -> (i64, Uuid),
    paging: &Paging,
) -> ApiResult<(Vec<E::Model>, Option<String>)>
where
    E: EntityTrait,
{
    let mut query = base;
    if let Some(c) = paging.cursor()? {
        query = query.filter(seq.lt(c.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX)));
    }
    let mut rows = query
        .order_by_desc(seq)
        .limit(paging.limit as u64 + 1)
        .all(db)
        .await?;
    let next = if rows.len() > paging.limit {
        rows.truncate(paging.limit);
        rows.last().map(|r| {
            let (seq, id) = key(r);
            token_of(&Cursor {
                created_at: DateTime::from_timestamp_nanos(seq),
                id,
            })
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// A page of items, mapped from its rows.
pub fn page_of<R, T>(rows: &[R], next: Option<String>, map: impl Fn(&R) -> T) -> Page<T> {
    Page {
        items: rows.iter().map(map).collect(),
        next_page_token: next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(limit: Option<u32>, token: Option<&str>) -> ApiResult<Paging> {
        Paging::of(&PageQuery {
            limit,
            page_token: token.map(str::to_owned),
        })
    }

    #[test]
    fn limits_and_tokens_are_checked() {
        assert_eq!(paging(None, None).unwrap().limit, 100);
        assert_eq!(paging(Some(500), None).unwrap().limit, 500);
        for bad in [0, 501] {
            let e = paging(Some(bad), None).unwrap_err().to_string();
            assert!(e.starts_with("limit must be between 1 and 500"), "{e}");
        }
        let c = Cursor {
            created_at: DateTime::from_timestamp_nanos(1_796_166_419_123_456_789),
            id: Uuid::new_v4(),
        };
        let token = token_of(&c);
        assert_eq!(token.len(), 19 + 1 + 32, "{token}");
        assert_eq!(
            paging(None, Some(&token)).unwrap().cursor().unwrap(),
            Some(c)
        );
        let p = paging(None, Some("200-1796166419000")).unwrap();
        assert_eq!(p.offset_cursor().unwrap(), Some((200, 1_796_166_419_000)));
        for bad in ["x-y", "nope", "1", "12-0123"] {
            let e = paging(None, Some(bad)).unwrap().cursor().unwrap_err();
            assert!(e.to_string().starts_with("pageToken"), "{bad}: {e}");
        }
        assert!(paging(None, Some("x-1")).unwrap().offset_cursor().is_err());
        assert_eq!(paging(None, Some("")).unwrap().cursor().unwrap(), None);
    }
}
