//! hearth's own list routes page with `?limit=&pageToken=` and answer
//! `{"items", "nextPageToken"}` (`hearth_api::Page`). A page is read from an index after
//! the last row of the previous page: its cost is its own rows, never the whole list.

use hearth_api::page::{DEFAULT_LIMIT, MAX_LIMIT};
use hearth_api::{Page, PageQuery};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

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

    /// The creation-order cursor the token names (`None`: first page).
    pub fn creation_cursor(&self) -> ApiResult<Option<Cursor>> {
        match &self.token {
            None => Ok(None),
            Some(t) => Cursor::parse(t)
                .map_err(|_| Self::bad_token())?
                .map(Some)
                .ok_or_else(Self::bad_token),
        }
    }

    /// The sequence number the token names, for lists read newest first by a sequence.
    pub fn seq_cursor(&self) -> ApiResult<Option<i64>> {
        match &self.token {
            None => Ok(None),
            Some(t) => t
                .strip_prefix("seq:")
                .and_then(|n| n.parse::<i64>().ok())
                .map(Some)
                .ok_or_else(Self::bad_token),
        }
    }

    /// The offset the token names, and the text after it (`off:<n>:<rest>`), for lists
    /// computed whole (a billing report).
    pub fn offset_cursor(&self) -> ApiResult<Option<(usize, String)>> {
        match &self.token {
            None => Ok(None),
            Some(t) => t
                .strip_prefix("off:")
                .and_then(|r| r.split_once(':'))
                .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest.to_owned())))
                .map(Some)
                .ok_or_else(Self::bad_token),
        }
    }
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
    if let Some(c) = paging.creation_cursor()? {
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
        rows.last().map(|r| key(r).token())
    } else {
        None
    };
    Ok((rows, next))
}

/// Rows of `base` newest first by `seq`, one page after the paging's cursor.
pub async fn newest_first_page<E>(
    db: &impl ConnectionTrait,
    base: Select<E>,
    seq: E::Column,
    key: impl Fn(&E::Model) -> i64,
    paging: &Paging,
) -> ApiResult<(Vec<E::Model>, Option<String>)>
where
    E: EntityTrait,
{
    let mut query = base;
    if let Some(after) = paging.seq_cursor()? {
        query = query.filter(seq.lt(after));
    }
    let mut rows = query
        .order_by_desc(seq)
        .limit(paging.limit as u64 + 1)
        .all(db)
        .await?;
    let next = if rows.len() > paging.limit {
        rows.truncate(paging.limit);
        rows.last().map(|r| format!("seq:{}", key(r)))
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
        let p = paging(None, Some("seq:41")).unwrap();
        assert_eq!(p.seq_cursor().unwrap(), Some(41));
        assert!(p.creation_cursor().is_err());
        let p = paging(None, Some("off:200:1796166419000")).unwrap();
        assert_eq!(
            p.offset_cursor().unwrap(),
            Some((200, "1796166419000".to_owned()))
        );
        for bad in ["seq:x", "nope", "off:1"] {
            let p = paging(None, Some(bad)).unwrap();
            assert!(
                p.seq_cursor().is_err() && p.offset_cursor().is_err(),
                "{bad}"
            );
        }
        assert_eq!(paging(None, Some("")).unwrap().seq_cursor().unwrap(), None);
    }
}
