//! Budgets on the wire (`/budgets`): plain serde + utoipa types, no database or HTTP types.
//! Money is exact decimal text, like the billing report's `cost`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What happens once a budget is spent (consumed ≥ amount) in its current period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum OverrunPolicy {
    /// Only alerts at the thresholds.
    AlertOnly,
    /// New pools and tasks answer 402.
    BlockNew,
    /// New pools and tasks answer 402, and the tenant's pools wind down to zero slots
    /// (running instances finish, queued ones stay queued).
    StopAndBlockAll,
}

impl OverrunPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OverrunPolicy::AlertOnly => "AlertOnly",
            OverrunPolicy::BlockNew => "BlockNew",
            OverrunPolicy::StopAndBlockAll => "StopAndBlockAll",
        }
    }

    pub fn parse(text: &str) -> Option<OverrunPolicy> {
        [
            OverrunPolicy::AlertOnly,
            OverrunPolicy::BlockNew,
            OverrunPolicy::StopAndBlockAll,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

/// `"monthly"` (the calendar month, UTC, renewed every month) or `{"from","to"}` (one
/// period, `to` excluded; RFC 3339 instants or `YYYY-MM-DD` for a UTC midnight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BudgetPeriod {
    #[schema(example = "monthly")]
    Named(String),
    Range {
        from: String,
        to: String,
    },
}

/// A decimal given as text (`"100.50"`, exact) or as a JSON number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DecimalInput {
    Text(String),
    Number(f64),
}

impl DecimalInput {
    /// The decimal as text: a number in its shortest form (`0.8`, not `0.800000011920929`).
    pub fn text(&self) -> String {
        match self {
            DecimalInput::Text(t) => t.trim().to_owned(),
            DecimalInput::Number(n) => n.to_string(),
        }
    }
}

/// `POST /budgets` and `PUT /budgets/{uuid}` (a PUT replaces every field).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetBody {
    /// Not blank, at most 256 characters.
    #[schema(required = true, nullable = false, pattern = "\\S", max_length = 256)]
    pub name: Option<String>,
    /// Positive, at most 6 decimal places, at most 1,000,000,000,000, in the server's
    /// currency.
    pub amount: Option<DecimalInput>,
    pub period: Option<BudgetPeriod>,
    /// Default `AlertOnly`.
    pub overrun_policy: Option<OverrunPolicy>,
    /// Fractions of the amount in (0, 10], at most 4 decimal places and 10 of them; kept
    /// sorted, duplicates dropped. Default `[0.5, 0.8, 1.0]`; `[]` for none.
    pub alert_thresholds: Option<Vec<DecimalInput>>,
}

/// A budget and where it stands in its current period, as `GET /budgets/{uuid}` answers.
///
/// ```
/// let b: hearth_api::budgets::Budget = serde_json::from_value(serde_json::json!({
///     "uuid": "0190a8a4-0000-7000-8000-000000000000", "name": "march",
///     "amount": "100.000000", "currency": "EUR", "period": "monthly",
///     "overrunPolicy": "BlockNew", "alertThresholds": [0.5, 1.0],
///     "periodFrom": "2026-03-01T00:00:00.000000Z", "periodTo": "2026-04-01T00:00:00.000000Z",
///     "consumed": "42.000000", "remaining": "58.000000", "forecast": "130.200000",
///     "spent": false, "firedThresholds": [], "creationDate": "2026-03-01T00:00:00.000000Z",
///     "lastModified": "2026-03-01T00:00:00.000000Z"
/// })).unwrap();
/// assert_eq!(b.remaining, "58.000000");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    pub uuid: Uuid,
    pub name: String,
    /// The limit: exact decimal text with 6 places, in `currency`.
    pub amount: String,
    /// The server's currency.
    pub currency: String,
    pub period: BudgetPeriod,
    /// What happens once it is spent.
    pub overrun_policy: OverrunPolicy,
    /// Fractions of the amount that raise a `budgetAlert` event when crossed.
    pub alert_thresholds: Vec<f64>,
    /// The current period's start: the calendar month of now (monthly), or the budget's
    /// range.
    #[schema(format = DateTime)]
    pub period_from: String,
    /// The current period's end (excluded).
    #[schema(format = DateTime)]
    pub period_to: String,
    /// What the tenant's nodes cost in the current period up to now (the billing report's
    /// `totals.cost` over the same period).
    pub consumed: String,
    /// `amount − consumed`, never below zero.
    pub remaining: String,
    /// Linear forecast for the whole period: consumed / elapsed × period length.
    pub forecast: String,
    /// Consumed ≥ amount in the current period (the overrun policy applies).
    pub spent: bool,
    /// Thresholds that fired in the current period.
    pub fired_thresholds: Vec<f64>,
    #[schema(format = DateTime)]
    pub creation_date: String,
    #[schema(format = DateTime)]
    pub last_modified: String,
}
