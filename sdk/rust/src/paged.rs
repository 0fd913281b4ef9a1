//! Lists as streams: pages are fetched one at a time, when the items of the page before
//! have all been taken.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::stream::{self, BoxStream, StreamExt};

use crate::error::Result;

/// One fetched page: its items and the token of the next (`None`: it was the last).
pub(crate) type Fetched<T> = (Vec<T>, Option<String>);

/// The items of a list, as a [`Stream`] that asks the server for the next page only when
/// the items already fetched have been taken (a `take(3)` of pages of 2 costs 2 requests,
/// whatever the list's length). An error ends the stream after it is handed out.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use futures_util::{StreamExt, TryStreamExt};
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let mut pools = client.pools().list();
/// while let Some(pool) = pools.try_next().await? {
///     println!("{} {}", pool.name, pool.state);
/// }
/// println!("{} pages", pools.pages_fetched());
/// let first_two: Vec<_> = client.tasks().list().take(2).try_collect().await?;
/// # let _ = first_two;
/// # Ok(())
/// # }
/// ```
pub struct Paged<T> {
    inner: BoxStream<'static, Result<T>>,
    pages: Arc<AtomicUsize>,
}

impl<T: Send + 'static> Paged<T> {
    /// A stream that calls `fetch(token)` for each page, starting with `None`.
    pub(crate) fn new<F, Fut>(fetch: F) -> Paged<T>
    where
        F: FnMut(Option<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Fetched<T>>> + Send + 'static,
    {
        struct State<F, T> {
            fetch: F,
            buffered: VecDeque<T>,
            /// `Some(None)`: the first page; `Some(Some(t))`: the page of `t`; `None`: done.
            next: Option<Option<String>>,
            pages: Arc<AtomicUsize>,
        }
        let pages = Arc::new(AtomicUsize::new(0));
        let state = State {
            fetch,
            buffered: VecDeque::new(),
            next: Some(None),
            pages: pages.clone(),
        };
        let inner = stream::unfold(state, |mut s| async move {
            loop {
                if let Some(item) = s.buffered.pop_front() {
                    return Some((Ok(item), s));
                }
                let token = s.next.take()?;
                match (s.fetch)(token.clone()).await {
                    Ok((items, next)) => {
                        s.pages.fetch_add(1, Ordering::Relaxed);
                        // An empty page pointing at itself would be asked for ever.
                        let stuck = items.is_empty() && next.is_some() && next == token;
                        s.buffered.extend(items);
                        s.next = if stuck { None } else { next.map(Some) };
                    }
                    Err(e) => return Some((Err(e), s)),
                }
            }
        })
        .boxed();
        Paged { inner, pages }
    }
}

impl<T> Paged<T> {
    /// How many pages have been fetched so far.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::StreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let mut pools = client.pools().list();
    /// assert_eq!(pools.pages_fetched(), 0); // nothing is asked before the first item
    /// let _first = pools.next().await;
    /// assert_eq!(pools.pages_fetched(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pages_fetched(&self) -> usize {
        self.pages.load(Ordering::Relaxed)
    }
}

impl<T> Stream for Paged<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> std::fmt::Debug for Paged<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paged")
            .field("pages_fetched", &self.pages_fetched())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    fn numbers(total: usize, per_page: usize) -> Paged<usize> {
        Paged::new(move |token: Option<String>| async move {
            let start: usize = token.map_or(0, |t| t.parse().unwrap());
            let end = (start + per_page).min(total);
            let next = (end < total).then(|| end.to_string());
            Ok(((start..end).collect(), next))
        })
    }

    #[tokio::test]
    async fn pages_are_fetched_only_as_items_are_taken() {
        let mut s = numbers(7, 2);
        assert_eq!(s.pages_fetched(), 0);
        let first: Vec<usize> = (&mut s).take(3).try_collect().await.unwrap();
        assert_eq!(first, vec![0, 1, 2]);
        assert_eq!(s.pages_fetched(), 2);
        let rest: Vec<usize> = (&mut s).try_collect().await.unwrap();
        assert_eq!(rest, vec![3, 4, 5, 6]);
        assert_eq!(s.pages_fetched(), 4);
    }

    #[tokio::test]
    async fn empty_pages_with_a_token_are_skipped() {
        let s = Paged::new(|token: Option<String>| async move {
            Ok(match token.as_deref() {
                None => (vec![], Some("a".to_owned())),
                Some("a") => (vec![1], Some("b".to_owned())),
                _ => (vec![], None),
            })
        });
        let all: Vec<i32> = s.try_collect().await.unwrap();
        assert_eq!(all, vec![1]);
    }

    #[tokio::test]
    async fn an_error_is_handed_out_then_the_stream_ends() {
        let mut s: Paged<i32> =
            Paged::new(|_| async { Err(crate::Error::InvalidArgument("boom".into())) });
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
    }
}
