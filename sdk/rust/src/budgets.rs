//! Budgets: limits on what the tenant's nodes cost over a period, with what happens once
//! one is spent.
//!
//! ```no_run
//! # async fn run() -> hearth_client::Result<()> {
//! use hearth_client::budgets::{BudgetSpec, OverrunPolicy};
//!
//! let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
//! let budget = client
//!     .budgets()
//!     .create(&BudgetSpec::monthly("ops", "500").overrun_policy(OverrunPolicy::BlockNew))
//!     .await?;
//! println!("{} of {} {} used", budget.consumed, budget.amount, budget.currency);
//! # Ok(())
//! # }
//! ```

pub use hearth_api::budgets::{Budget, BudgetPeriod, DecimalInput, OverrunPolicy};
use serde::Serialize;
use uuid::Uuid;

use crate::HasUuid;
use crate::client::{Call, Client};
use crate::error::Result;
use crate::listing::pages;
use crate::paged::Paged;

/// A budget's settings: what `POST /budgets` creates and `PUT /budgets/{uuid}` puts
/// (every field replaced).
///
/// (`hearth-api`'s `BudgetBody` only deserializes, so this crate writes the same fields
/// with its own type.)
///
/// ```
/// use hearth_client::budgets::{BudgetSpec, OverrunPolicy};
///
/// let spec = BudgetSpec::monthly("march", "100.00")
///     .overrun_policy(OverrunPolicy::BlockNew)
///     .alert_thresholds(&[0.5, 0.9]);
/// assert_eq!(serde_json::to_value(&spec).unwrap()["period"], "monthly");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetSpec {
    /// 1 to 256 characters.
    pub name: String,
    /// Positive, at most 6 decimal places (text keeps it exact).
    pub amount: DecimalInput,
    /// `"monthly"` or `{"from","to"}`.
    pub period: BudgetPeriod,
    /// Default `AlertOnly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrun_policy: Option<OverrunPolicy>,
    /// Default `[0.5, 0.8, 1.0]`; empty for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_thresholds: Option<Vec<DecimalInput>>,
}

impl BudgetSpec {
    /// A budget of `amount` (decimal text, e.g. `"100.00"`) per calendar month (UTC).
    ///
    /// ```
    /// let spec = hearth_client::budgets::BudgetSpec::monthly("ops", "250");
    /// assert_eq!(spec.name, "ops");
    /// ```
    pub fn monthly(name: impl Into<String>, amount: impl Into<String>) -> BudgetSpec {
        BudgetSpec {
            name: name.into(),
            amount: DecimalInput::Text(amount.into()),
            period: BudgetPeriod::Named("monthly".into()),
            overrun_policy: None,
            alert_thresholds: None,
        }
    }

    /// A budget of `amount` over `[from, to)` (RFC 3339 or `YYYY-MM-DD`, at most 366
    /// days).
    ///
    /// ```
    /// let spec = hearth_client::budgets::BudgetSpec::range("q2", "900", "2026-04-01", "2026-07-01");
    /// # let _ = spec;
    /// ```
    pub fn range(
        name: impl Into<String>,
        amount: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> BudgetSpec {
        BudgetSpec {
            period: BudgetPeriod::Range {
                from: from.into(),
                to: to.into(),
            },
            ..BudgetSpec::monthly(name, amount)
        }
    }

    /// What happens once it is spent.
    ///
    /// ```
    /// use hearth_client::budgets::{BudgetSpec, OverrunPolicy};
    /// let spec = BudgetSpec::monthly("b", "1").overrun_policy(OverrunPolicy::StopAndBlockAll);
    /// # let _ = spec;
    /// ```
    pub fn overrun_policy(mut self, policy: OverrunPolicy) -> BudgetSpec {
        self.overrun_policy = Some(policy);
        self
    }

    /// The fractions of the amount that raise an alert when crossed (`&[]`: none).
    ///
    /// ```
    /// let spec = hearth_client::budgets::BudgetSpec::monthly("b", "1").alert_thresholds(&[]);
    /// # let _ = spec;
    /// ```
    pub fn alert_thresholds(mut self, thresholds: &[f64]) -> BudgetSpec {
        self.alert_thresholds = Some(
            thresholds
                .iter()
                .map(|t| DecimalInput::Number(*t))
                .collect(),
        );
        self
    }
}

impl From<&Budget> for BudgetSpec {
    /// The settings of an existing budget, to change some and put them back.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// use hearth_client::budgets::BudgetSpec;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let budget = client.budgets().get(id).await?;
    /// let mut spec = BudgetSpec::from(&budget);
    /// spec.amount = hearth_client::budgets::DecimalInput::Text("150.00".into());
    /// client.budgets().replace(id, &spec).await?;
    /// # Ok(())
    /// # }
    /// ```
    fn from(b: &Budget) -> BudgetSpec {
        BudgetSpec {
            name: b.name.clone(),
            amount: DecimalInput::Text(b.amount.clone()),
            period: b.period.clone(),
            overrun_policy: Some(b.overrun_policy),
            alert_thresholds: Some(
                b.alert_thresholds
                    .iter()
                    .map(|t| DecimalInput::Number(*t))
                    .collect(),
            ),
        }
    }
}

/// The tenant's budgets (owner and billing roles; others get 403).
///
/// ```no_run
/// # async fn run() -> hearth_client::Result<()> {
/// use hearth_client::budgets::{BudgetSpec, OverrunPolicy};
///
/// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
/// let spec = BudgetSpec::monthly("march", "100.00").overrun_policy(OverrunPolicy::BlockNew);
/// let budget = client.budgets().create(&spec).await?;
/// println!("{} of {} used", budget.consumed, budget.amount);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Budgets {
    client: Client,
}

impl Client {
    /// The tenant's budgets.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let budgets = client.budgets();
    /// # let _ = budgets;
    /// # Ok(())
    /// # }
    /// ```
    pub fn budgets(&self) -> Budgets {
        Budgets {
            client: self.clone(),
        }
    }
}

fn path(id: Uuid) -> String {
    format!("/budgets/{id}")
}

impl Budgets {
    /// Creates a budget (with an `Idempotency-Key`, so a retry never creates two).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let spec = hearth_client::budgets::BudgetSpec::monthly("ops", "50");
    /// let budget = client.budgets().create(&spec).await?;
    /// # let _ = budget;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(&self, spec: &BudgetSpec) -> Result<Budget> {
        let call = Call::post("/budgets").json(spec)?.idempotent(None);
        self.client.json(call).await
    }

    /// The budget `id`, with consumed, remaining and forecast computed now.
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let b = client.budgets().get(id).await?;
    /// println!("{} left", b.remaining);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, id: impl HasUuid) -> Result<Budget> {
        self.client.json(Call::get(path(id.uuid()))).await
    }

    /// Every budget, in creation order, a page at a time.
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// use futures_util::TryStreamExt;
    ///
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let all: Vec<_> = client.budgets().list().try_collect().await?;
    /// # let _ = all;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(&self) -> Paged<Budget> {
        self.list_paged(None)
    }

    /// [`Budgets::list`] in pages of `page_size` (1 to 500; default 100).
    ///
    /// ```no_run
    /// # async fn run() -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let budgets = client.budgets().list_paged(Some(10));
    /// # let _ = budgets;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_paged(&self, page_size: Option<u32>) -> Paged<Budget> {
        pages(&self.client, "/budgets".into(), Vec::new(), page_size)
    }

    /// Replaces every setting of the budget `id` (see [`BudgetSpec::from`] to start from
    /// the current ones).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// let spec = hearth_client::budgets::BudgetSpec::monthly("ops", "75");
    /// client.budgets().replace(id, &spec).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn replace(&self, id: impl HasUuid, spec: &BudgetSpec) -> Result<Budget> {
        self.client
            .json(Call::put(path(id.uuid())).json(spec)?)
            .await
    }

    /// Deletes the budget `id` (what it blocked is unblocked at once).
    ///
    /// ```no_run
    /// # async fn run(id: uuid::Uuid) -> hearth_client::Result<()> {
    /// let client = hearth_client::Client::new("http://127.0.0.1:8080", "TOKEN")?;
    /// client.budgets().delete(id).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, id: impl HasUuid) -> Result<()> {
        self.client.empty(Call::delete(path(id.uuid()))).await
    }
}

impl HasUuid for Budget {
    fn uuid(&self) -> Uuid {
        self.uuid
    }
}
