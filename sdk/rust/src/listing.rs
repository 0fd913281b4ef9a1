//! What to list of pools, tasks and jobs (Qarnot's paginate routes and their filters), and
//! the walk over hearth's own pages (`limit`, `pageToken`).

use hearth_api::Page;
use hearth_api::qarnot::{PaginateBody, QarnotPage};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::client::{Call, Client};
use crate::paged::Paged;

/// Which pools, tasks or jobs to list, and how many per page: tags (any of them, or all
/// of them), names, states, or a raw Qarnot filter, all of which must hold. The server
/// compares ASCII case-insensitively.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use futures_util::TryStreamExt;
/// use hearth_client::Listing;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let render: Vec<_> = client
///     .tasks()
///     .list_with(Listing::new().tag("render").state("Success").page_size(200))
///     .try_collect()
///     .await?;
/// # let _ = render;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    any_tags: Vec<String>,
    all_tags: Vec<String>,
    names: Vec<String>,
    states: Vec<String>,
    raw: Vec<Value>,
    page_size: Option<u32>,
}

impl Listing {
    /// Everything, in pages of the server's default size (50).
    ///
    /// ```
    /// let all = hearth_client::Listing::new();
    /// assert_eq!(all, hearth_client::Listing::default());
    /// ```
    pub fn new() -> Listing {
        Listing::default()
    }

    /// Objects carrying this tag (several `tag`s: any of them).
    ///
    /// ```
    /// let l = hearth_client::Listing::new().tag("nightly").tag("manual");
    /// # let _ = l;
    /// ```
    pub fn tag(mut self, tag: impl Into<String>) -> Listing {
        self.any_tags.push(tag.into());
        self
    }

    /// Objects carrying this tag, and every other `all_tag` too.
    ///
    /// ```
    /// let l = hearth_client::Listing::new().all_tag("gpu").all_tag("eu");
    /// # let _ = l;
    /// ```
    pub fn all_tag(mut self, tag: impl Into<String>) -> Listing {
        self.all_tags.push(tag.into());
        self
    }

    /// Objects of this name (several `name`s: any of them).
    ///
    /// ```
    /// let l = hearth_client::Listing::new().name("render");
    /// # let _ = l;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Listing {
        self.names.push(name.into());
        self
    }

    /// Objects in this state, e.g. `FullyExecuting` or `Success` (several: any of them).
    ///
    /// ```
    /// let l = hearth_client::Listing::new().state("Success").state("Failure");
    /// # let _ = l;
    /// ```
    pub fn state(mut self, state: impl Into<String>) -> Listing {
        self.states.push(state.into());
        self
    }

    /// A Qarnot filter as JSON (`{"operator","field","value"}` leaves under
    /// `{"operator":"And"|"Or","filters":[…]}`), which must hold as well.
    ///
    /// ```
    /// let l = hearth_client::Listing::new().filter(serde_json::json!(
    ///     {"operator": "Like", "field": "Name", "value": "render-%"}
    /// ));
    /// # let _ = l;
    /// ```
    pub fn filter(mut self, filter: Value) -> Listing {
        self.raw.push(filter);
        self
    }

    /// Items per page (1 to 1,000; the server's default is 50).
    ///
    /// ```
    /// let l = hearth_client::Listing::new().page_size(500);
    /// # let _ = l;
    /// ```
    pub fn page_size(mut self, size: u32) -> Listing {
        self.page_size = Some(size);
        self
    }

    /// The Qarnot filter these options make (`None`: no filter).
    ///
    /// ```
    /// let f = hearth_client::Listing::new().tag("a").to_filter().unwrap();
    /// assert_eq!(f["field"], "Tags");
    /// ```
    pub fn to_filter(&self) -> Option<Value> {
        let leaf =
            |field: &str, value: &str| json!({"operator": "Equal", "field": field, "value": value});
        let any = |field: &str, values: &[String]| -> Option<Value> {
            match values {
                [] => None,
                [one] => Some(leaf(field, one)),
                many => Some(json!({
                    "operator": "Or",
                    "filters": many.iter().map(|v| leaf(field, v)).collect::<Vec<_>>(),
                })),
            }
        };
        let mut all: Vec<Value> = Vec::new();
        all.extend(any("Tags", &self.any_tags));
        all.extend(self.all_tags.iter().map(|t| leaf("Tags", t)));
        all.extend(any("Name", &self.names));
        all.extend(any("State", &self.states));
        all.extend(self.raw.iter().cloned());
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(json!({"operator": "And", "filters": all})),
        }
    }

    /// The stream of a Qarnot paginate route (`/pools/paginate`, …).
    pub(crate) fn stream<T>(self, client: &Client, path: &'static str) -> Paged<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = client.clone();
        let filter = self.to_filter();
        let size = self.page_size;
        Paged::new(move |token: Option<String>| {
            let client = client.clone();
            let body = PaginateBody {
                filter: filter.clone(),
                token,
                maximum_results: size.map(i64::from),
            };
            async move {
                let call = Call::post(path).json(&body)?.repeatable();
                let page: QarnotPage<T> = client.json(call).await?;
                let next = if page.is_truncated {
                    page.next_token
                } else {
                    None
                };
                Ok((page.data, next.filter(|t| !t.is_empty())))
            }
        })
    }
}

/// The stream of one of hearth's own lists (`{"items","nextPageToken"}` pages).
pub(crate) fn pages<T>(
    client: &Client,
    path: String,
    extra: Vec<(String, String)>,
    limit: Option<u32>,
) -> Paged<T>
where
    T: DeserializeOwned + Send + 'static,
{
    let client = client.clone();
    Paged::new(move |token: Option<String>| {
        let client = client.clone();
        let mut call = Call::get(path.clone());
        call.query = extra.clone();
        let call = call.query_opt("limit", limit).query_opt("pageToken", token);
        async move {
            let page: Page<T> = client.json(call).await?;
            Ok((page.items, page.next_page_token.filter(|t| !t.is_empty())))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_combine_with_and_and_alternatives_with_or() {
        assert_eq!(Listing::new().to_filter(), None);
        assert_eq!(
            Listing::new().name("x").to_filter().unwrap(),
            json!({"operator": "Equal", "field": "Name", "value": "x"})
        );
        let f = Listing::new()
            .tag("a")
            .tag("b")
            .all_tag("c")
            .state("Success")
            .to_filter()
            .unwrap();
        assert_eq!(
            f,
            json!({"operator": "And", "filters": [
                {"operator": "Or", "filters": [
                    {"operator": "Equal", "field": "Tags", "value": "a"},
                    {"operator": "Equal", "field": "Tags", "value": "b"},
                ]},
                {"operator": "Equal", "field": "Tags", "value": "c"},
                {"operator": "Equal", "field": "State", "value": "Success"},
            ]})
        );
    }
}
