//! Pages of hearth's own lists (nodes, scaling decisions, billing lines, budgets, tokens,
//! users). Qarnot's lists keep their own shapes (see `pools` and the task routes).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The largest `limit` a page may ask for, and the size of a page that names none.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 100;

/// What a page token of hearth's own lists looks like: the position of the last item of the
/// previous page in the list's order (its creation instant in nanoseconds since 1970, or
/// its sequence number) and its uuid. Any token of this form names a place in the list.
pub const PAGE_TOKEN_PATTERN: &str = "^([0-8]?[0-9]{1,18}-[0-9a-f]{32})?$";

/// `?limit=&pageToken=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `nextPageToken` of the previous page; absent (or empty) for the first page.
    #[param(pattern = "^([0-8]?[0-9]{1,18}-[0-9a-f]{32})?$")]
    pub page_token: Option<String>,
}

/// One page of a list, in the list's order; `nextPageToken` is null on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}
