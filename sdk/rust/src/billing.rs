//! Billing: what the tenant's nodes cost over a period, as lines (JSON, a page at a time)
//! or as CSV.
//!
//! ```no_run
//! # async fn run() -> hearth_client::Result<()> {
//! use hearth_client::billing::GroupBy;
//!
//! let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
//! let usage = client.billing().usage().from("2026-03-01").group_by(GroupBy::Pool);
//! let report = usage.clone().report().await?;
//! println!("{} {} in all", report.totals.cost, report.currency);
//! std::fs::write("march.csv", usage.csv().await?).unwrap();
//! # Ok(())
//! # }
//! ```

use chrono::{DateTime, Utc};
pub use hearth_api::billing::{IDLE_LINE, UsageFigures, UsageLine, UsageReport};

use crate::client::{Call, Client};
use crate::error::Result;
use crate::paged::Paged;

/// How the lines of a usage report are grouped (`groupBy`).
///
/// ```
/// assert_eq!(hearth_client::billing::GroupBy::Task.as_str(), "task");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// One line per pool (`poolUuid`, `poolName`).
    #[default]
    Pool,
    /// One line per profile.
    Profile,
    /// One line per UTC day (`day`).
    Day,
    /// One line per task (its busy slot-seconds) and per pool an `__idle__` line.
    Task,
    /// One line per node (`nodeUuid`, `poolUuid`, `poolName`).
    Node,
}

impl GroupBy {
    /// The wire name.
    ///
    /// ```
    /// assert_eq!(hearth_client::billing::GroupBy::Day.as_str(), "day");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Pool => "pool",
            GroupBy::Profile => "profile",
            GroupBy::Day => "day",
            GroupBy::Task => "task",
            GroupBy::Node => "node",
        }
    }
}

/// The tenant's billing.
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use hearth_client::billing::GroupBy;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let report = client.billing().usage().group_by(GroupBy::Profile).report().await?;
/// println!("{} {}", report.totals.cost, report.currency);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Billing {
    client: Client,
}

impl Client {
    /// The tenant's billing (owner and billing roles; others get 403).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let csv = client.billing().usage().from("2026-03-01").csv().await?;
    /// # let _ = csv;
    /// # Ok(())
    /// # }
    /// ```
    pub fn billing(&self) -> Billing {
        Billing {
            client: self.clone(),
        }
    }
}

impl Billing {
    /// A usage report to set up (period, grouping), then read as lines, whole, or CSV.
    /// By default: this month so far, by pool.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use hearth_client::billing::GroupBy;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let mut lines = client.billing().usage().group_by(GroupBy::Day).lines();
    /// while let Some(line) = lines.try_next().await? {
    ///     println!("{:?} {}", line.day, line.figures.cost);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn usage(&self) -> UsageRequest {
        UsageRequest {
            client: self.client.clone(),
            from: None,
            to: None,
            group_by: GroupBy::default(),
            tenant: None,
            page_size: None,
        }
    }
}

/// One usage report's settings; read it with [`lines`](UsageRequest::lines),
/// [`report`](UsageRequest::report) or [`csv`](UsageRequest::csv).
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use hearth_client::billing::GroupBy;
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let report = client
///     .billing()
///     .usage()
///     .from("2026-03-01")
///     .to("2026-04-01")
///     .group_by(GroupBy::Task)
///     .report()
///     .await?;
/// # let _ = report;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is read before lines(), report() or csv()"]
pub struct UsageRequest {
    client: Client,
    from: Option<String>,
    to: Option<String>,
    group_by: GroupBy,
    tenant: Option<String>,
    page_size: Option<u32>,
}

impl UsageRequest {
    /// The start of the period: RFC 3339, or `YYYY-MM-DD` for its UTC midnight (default:
    /// the first of the current month).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.billing().usage().from("2026-03-01");
    /// # let _ = r;
    /// ```
    pub fn from(mut self, from: impl Into<String>) -> UsageRequest {
        self.from = Some(from.into());
        self
    }

    /// The end of the period, excluded (default: now; at most 366 days after `from`).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.billing().usage().to("2026-03-15T12:00:00Z");
    /// # let _ = r;
    /// ```
    pub fn to(mut self, to: impl Into<String>) -> UsageRequest {
        self.to = Some(to.into());
        self
    }

    /// The period `[from, to)` as instants.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let now = chrono::Utc::now();
    /// let r = client.billing().usage().between(now - chrono::Duration::days(7), now);
    /// # let _ = r;
    /// ```
    pub fn between(self, from: DateTime<Utc>, to: DateTime<Utc>) -> UsageRequest {
        self.from(hearth_api::time::text(from))
            .to(hearth_api::time::text(to))
    }

    /// How lines are grouped (default by pool).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.billing().usage().group_by(hearth_client::billing::GroupBy::Node);
    /// # let _ = r;
    /// ```
    pub fn group_by(mut self, group_by: GroupBy) -> UsageRequest {
        self.group_by = group_by;
        self
    }

    /// Operator tokens only: `all` (every tenant, lines carry `tenantUuid`) or a tenant's
    /// uuid.
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "OPERATOR").unwrap();
    /// let r = client.billing().usage().tenant("all");
    /// # let _ = r;
    /// ```
    pub fn tenant(mut self, tenant: impl Into<String>) -> UsageRequest {
        self.tenant = Some(tenant.into());
        self
    }

    /// Lines per page of [`lines`](UsageRequest::lines) (1 to 500; default 100).
    ///
    /// ```
    /// let client = hearth_client::Client::new("http://h:8080", "T").unwrap();
    /// let r = client.billing().usage().page_size(500);
    /// # let _ = r;
    /// ```
    pub fn page_size(mut self, size: u32) -> UsageRequest {
        self.page_size = Some(size);
        self
    }

    fn call(&self, format: &str, token: Option<String>) -> Call {
        Call::get("/billing/usage")
            .query_opt("from", self.from.as_deref())
            .query_opt("to", self.to.as_deref())
            .query("groupBy", self.group_by.as_str())
            .query("format", format)
            .query_opt("tenant", self.tenant.as_deref())
            .query_opt(
                "limit",
                (format == "json").then_some(self.page_size).flatten(),
            )
            .query_opt("pageToken", token)
    }

    /// One page of the report: its slice of the lines and the whole report's totals.
    async fn page(&self, token: Option<String>) -> Result<UsageReport> {
        self.client.json(self.call("json", token)).await
    }

    /// The report's lines, a page at a time. All pages price the report as of the first
    /// page's instant, so their lines add up to the totals.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let lines: Vec<_> = client.billing().usage().lines().try_collect().await?;
    /// # let _ = lines;
    /// # Ok(())
    /// # }
    /// ```
    pub fn lines(self) -> Paged<UsageLine> {
        Paged::new(move |token| {
            let request = self.clone();
            async move {
                let page = request.page(token).await?;
                Ok((page.items, page.next_page_token.filter(|t| !t.is_empty())))
            }
        })
    }

    /// The whole report: every line (all pages read) with the totals.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let report = client.billing().usage().report().await?;
    /// for line in &report.items {
    ///     println!("{:?} {}", line.pool_name, line.figures.cost);
    /// }
    /// println!("total {} {}", report.totals.cost, report.currency);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn report(self) -> Result<UsageReport> {
        let mut report = self.page(None).await?;
        while let Some(token) = report.next_page_token.take().filter(|t| !t.is_empty()) {
            let page = self.page(Some(token)).await?;
            report.items.extend(page.items);
            report.next_page_token = page.next_page_token;
        }
        Ok(report)
    }

    /// The report as CSV text (`text/csv`, every line, a header row, CRLF), as the API and
    /// the dashboard export it.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// std::fs::write("usage.csv", client.billing().usage().csv().await?).unwrap();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn csv(self) -> Result<String> {
        self.client.text(self.call("csv", None)).await
    }
}
