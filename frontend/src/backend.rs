//! What the server functions need from the server (only in the `ssr` build). hearth-server
//! implements [`Backend`] over its services and provides it as context, so this crate never
//! depends on hearth-server (no cycle) and the browser build carries none of it.

use std::sync::Arc;

use crate::model::{
    Billing, BillingQuery, HourRange, JobList, JobPage, NewPool, NewToken, Overview, PoolFilter,
    PoolList, PoolPage, Settings, TaskFilter, TaskList, TaskPage, Viewer,
};

/// Why a read was refused; the message is shown as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UiError {
    /// No session, or it ended or expired.
    SignedOut,
    /// The session's role or tenant may not read this.
    Forbidden(String),
    /// No such object for this tenant (another tenant's objects are not found either).
    NotFound(String),
    /// A write the rules refuse (a state conflict, a bad value): its HTTP status and why.
    Refused(u16, String),
    /// Anything else (the server logged it).
    Failed(String),
}

impl UiError {
    /// The status a server function answers with when it fails this way.
    pub fn status(&self) -> u16 {
        match self {
            UiError::SignedOut => 401,
            UiError::Forbidden(_) => 403,
            UiError::NotFound(_) => 404,
            UiError::Refused(status, _) => *status,
            UiError::Failed(_) => 500,
        }
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::SignedOut => f.write_str("signed out: sign in again"),
            UiError::Forbidden(m)
            | UiError::NotFound(m)
            | UiError::Refused(_, m)
            | UiError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<UiError> for leptos::prelude::ServerFnError {
    fn from(e: UiError) -> Self {
        leptos::prelude::ServerFnError::new(e.to_string())
    }
}

/// The session-scoped reads of the dashboard. `session` is the raw cookie value; the
/// implementation resolves it to a user, a tenant and a role, and applies the API's rules.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn viewer(&self, session: &str) -> Result<Viewer, UiError>;
    async fn overview(&self, session: &str) -> Result<Overview, UiError>;
    async fn pools(&self, session: &str, filter: &PoolFilter) -> Result<PoolList, UiError>;
    /// `POST /pools` from the "New pool" form: the new pool's uuid.
    async fn create_pool(&self, session: &str, pool: &NewPool) -> Result<String, UiError>;
    /// `pool` is the pool's uuid as the page's path has it.
    async fn pool_page(&self, session: &str, pool: &str) -> Result<PoolPage, UiError>;
    /// Evaluates the pool's scaling now (`POST /pools/{uuid}/resize`): the decision's
    /// headline and reason.
    async fn resize_pool(&self, session: &str, pool: &str) -> Result<String, UiError>;
    /// Edits one policy's weekly periods (`PUT /pools/{uuid}` with the new policies).
    async fn set_policy_hours(
        &self,
        session: &str,
        pool: &str,
        hours: &HourRange,
    ) -> Result<(), UiError>;
    /// The usage report of a period (`GET /billing/usage`, by day and by `query.by`) and
    /// the budgets.
    async fn billing(&self, session: &str, query: &BillingQuery) -> Result<Billing, UiError>;
    /// `POST /pools/{uuid}/close`.
    async fn close_pool(&self, session: &str, pool: &str) -> Result<(), UiError>;
    /// The newest tasks matching `filter`.
    async fn tasks(&self, session: &str, filter: &TaskFilter) -> Result<TaskList, UiError>;
    /// `task` as the path has it; its instances from `from` on, and the output of
    /// `instance` (else of the first that started).
    async fn task_page(
        &self,
        session: &str,
        task: &str,
        from: u32,
        instance: Option<i32>,
    ) -> Result<TaskPage, UiError>;
    /// The tenant's newest jobs.
    async fn jobs(&self, session: &str) -> Result<JobList, UiError>;
    /// `job` as the path has it.
    async fn job_page(&self, session: &str, job: &str) -> Result<JobPage, UiError>;
    /// `POST /jobs/{uuid}/terminate`.
    async fn terminate_job(&self, session: &str, job: &str) -> Result<(), UiError>;
    /// `POST /tasks/{uuid}/abort`.
    async fn abort_task(&self, session: &str, task: &str) -> Result<(), UiError>;
    /// The tenant's tokens and users (owners only, as `GET /tokens` and `GET /users`).
    async fn settings(&self, session: &str) -> Result<Settings, UiError>;
    /// `POST /tokens`; `expires_in_days` 0: never.
    async fn create_token(
        &self,
        session: &str,
        name: &str,
        role: &str,
        expires_in_days: u32,
    ) -> Result<NewToken, UiError>;
    /// `DELETE /tokens/{uuid}`.
    async fn revoke_token(&self, session: &str, token: &str) -> Result<(), UiError>;
    /// `POST /users`.
    async fn add_user(&self, session: &str, email: &str, role: &str) -> Result<(), UiError>;
    /// `PUT /users/{uuid}/password`.
    async fn set_password(&self, session: &str, user: &str, password: &str) -> Result<(), UiError>;
}

/// The context value the server provides to every render and server-function call.
#[derive(Clone)]
pub struct UiBackend(pub Arc<dyn Backend>);

/// The session cookie's value in a `Cookie` header, if any.
pub fn session_cookie(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == crate::SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::session_cookie;

    #[test]
    fn finds_the_session_among_other_cookies() {
        assert_eq!(session_cookie("a=1; hearth_session=abc; b=2"), Some("abc"));
        assert_eq!(session_cookie("hearth_session="), None);
        assert_eq!(session_cookie("other=1"), None);
        assert_eq!(session_cookie("xhearth_session=1"), None);
    }
}
