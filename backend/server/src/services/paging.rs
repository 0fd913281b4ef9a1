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

    /// Where the token says the previous page ended (`None`: first page):
    /// `<position>-<uuid hex>`, see `hearth_api::page::PAGE_TOKEN_PATTERN`.
    pub fn position(&self) -> ApiResult<Option<Position>> {
        let Some(t) = &self.token else {
            return Ok(None);
        };
        let (at, id) = t.split_once('-').ok_or_else(Self::bad_token)?;
        let at = at.parse::<i64>().map_err(|_| Self::bad_token())?;
        if id.len() != 32 {
            return Err(Self::bad_token());
        }
        let id = Uuid::try_parse(id).map_err(|_| Self::bad_token())?;
        Ok(Some(Position { at, id }))
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

/// The last item of a page: its place in the list's order (a creation instant in
/// nanoseconds, or a sequence number) and its uuid. Its token is `<at>-<uuid hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub at: i64,
    pub id: Uuid,
}

impl Position {
    pub fn token(&self) -> String {
        format!("{}-{}", self.at, self.id.simple())
    }

    /// A creation cursor's position (nanoseconds fit in an i64 until 2262; later instants
    /// are not stored).
    fn of_creation(c: &Cursor) -> Position {
        Position {
            at: c.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX),
            id: c.id,
        }
    }
}

/// Rows read one more than a page: the page, and the token of the next one if there is one.
fn page_end<R>(
    mut rows: Vec<R>,
    limit: usize,
    position: impl Fn(&R) -> Position,
) -> (Vec<R>, Option<String>) {
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|r| position(r).token());
    (rows, next)
}

/// Rows of `base` in creation order (`created_at`, then `id`), one page after the
/// paging's position; answers the rows and the next page's token.
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
    if let Some(p) = paging.position()? {
        let after = DateTime::from_timestamp_nanos(p.at);
        query = query.filter(
            Condition::any()
                .add(created_at.gt(after))
                .add(Condition::all().add(created_at.eq(after)).add(id.gt(p.id))),
        );
    }
    let rows = query
        .order_by_asc(created_at)
        .order_by_asc(id)
        .limit(paging.limit as u64 + 1)
        .all(db)
        .await?;
    Ok(page_end(rows, paging.limit, |r| {
        Position::of_creation(&key(r))
    }))
}

/// Rows of `base` newest first by a unique sequence number, one page after the paging's
/// position (a sequence number).
pub async fn newest_first_page<E>(
    db: &impl ConnectionTrait,
    base: Select<E>,
    seq: E::Column,
    key: impl Fn(&E::Model) -> Position,
    paging: &Paging,
) -> ApiResult<(Vec<E::Model>, Option<String>)>
where
    E: EntityTrait,
{
    let mut query = base;
    if let Some(p) = paging.position()? {
        query = query.filter(seq.lt(p.at));
    }
    let rows = query
        .order_by_desc(seq)
        .limit(paging.limit as u64 + 1)
        .all(db)
        .await?;
    Ok(page_end(rows, paging.limit, key))
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
        let p = Position::of_creation(&c);
        assert_eq!(p.at, 1_796_166_419_123_456_789);
        let token = p.token();
        assert_eq!(token.len(), 19 + 1 + 32, "{token}");
        assert_eq!(
            paging(None, Some(&token)).unwrap().position().unwrap(),
            Some(p)
        );
        let p = paging(None, Some("200-1796166419000")).unwrap();
        assert_eq!(p.offset_cursor().unwrap(), Some((200, 1_796_166_419_000)));
        for bad in ["x-y", "nope", "1", "12-0123"] {
            let e = paging(None, Some(bad)).unwrap().position().unwrap_err();
            assert!(e.to_string().starts_with("pageToken"), "{bad}: {e}");
        }
        assert!(paging(None, Some("x-1")).unwrap().offset_cursor().is_err());
        assert_eq!(paging(None, Some("")).unwrap().position().unwrap(), None);
    }
}
