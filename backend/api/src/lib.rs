//! hearth's REST API as Rust types: the bodies the server reads and answers, described for
//! `/openapi.json` (utoipa) and shared with the Rust SDK and the CLI so they cannot drift.
//!
//! Plain data only: serde and utoipa, no server, database or HTTP dependency. Checks that
//! need the database (a name taken, a pool closing) stay in the server; the types say
//! which fields exist and of what kind.

pub mod accounts;
pub mod agent;
pub mod billing;
pub mod budgets;
pub mod error;
pub mod events;
pub mod page;
pub mod platform;
pub mod pools;
pub mod profiles;
pub mod qarnot;
pub mod time;

pub use error::ErrorBody;
pub use page::{Page, PageQuery};
