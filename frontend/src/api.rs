//! Server functions: called in place during server rendering, over HTTP from the browser.
//! Their bodies only reach the server's [`crate::backend::Backend`]. (Each generates a
//! struct named after it, hence names unlike the model's types.) Each is answered at
//! `/ui/fn/{its name}`.
//!
//! A form's server function takes one argument per field (a plain HTML form posts them by
//! name), and the client code the macro writes for it cannot carry an attribute: hence the
//! allowance for long argument lists here, and only here.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::model::{
    Billing, JobList, JobPage, NewToken, Overview, PoolList, PoolPage, Settings, TaskList,
    TaskPage, Viewer,
};
#[cfg(feature = "ssr")]
use crate::model::{BillingQuery, HourRange, NewPool, PoolFilter, TaskFilter};

#[server(prefix = "/ui/fn", endpoint = "signed_in")]
pub async fn signed_in() -> Result<Viewer, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.viewer(&session).await)
}

#[server(prefix = "/ui/fn", endpoint = "overview_figures")]
pub async fn overview_figures() -> Result<Overview, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.overview(&session).await)
}

#[server(prefix = "/ui/fn", endpoint = "pool_rows")]
pub async fn pool_rows(state: String, tag: String) -> Result<PoolList, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.pools(&session, &PoolFilter { state, tag }).await)
}

/// The "New pool" form: creates the pool and goes to its page.
#[server(prefix = "/ui/fn", endpoint = "create_pool")]
pub async fn create_pool(
    name: String,
    profile: String,
    slots_per_node: u32,
    scaling: String,
    slots: u32,
    min_slots: u32,
    max_slots: u32,
    min_idle: u32,
    idle_seconds: u64,
    factor: f64,
    tags: String,
) -> Result<String, ServerFnError> {
    let (backend, session) = server::context()?;
    let pool = NewPool {
        name,
        profile,
        slots_per_node,
        scaling,
        slots,
        min_slots,
        max_slots,
        min_idle,
        idle_seconds,
        factor,
        tags,
    };
    let made = backend.create_pool(&session, &pool).await;
    if let Ok(id) = &made {
        leptos_actix::redirect(&format!("/ui/pools/{id}"));
    }
    server::answer(made)
}

#[server(prefix = "/ui/fn", endpoint = "pool_details")]
pub async fn pool_details(id: String) -> Result<PoolPage, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.pool_page(&session, &id).await)
}

/// "Resize now": the decision it reached, in words.
#[server(prefix = "/ui/fn", endpoint = "resize_pool")]
pub async fn resize_pool(id: String) -> Result<String, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.resize_pool(&session, &id).await)
}

#[server(prefix = "/ui/fn", endpoint = "close_pool")]
pub async fn close_pool(id: String) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.close_pool(&session, &id).await)
}

/// Switches hours `from_hour..to_hour` of `day` (0: Monday) of policy `policy` (its
/// position) on or off, and saves the pool's policies: the next evaluation follows them.
#[server(prefix = "/ui/fn", endpoint = "set_policy_hours")]
pub async fn set_policy_hours(
    id: String,
    policy: u32,
    day: u32,
    from_hour: u32,
    to_hour: u32,
    on: bool,
) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    let hours = HourRange {
        policy,
        day,
        from_hour,
        to_hour,
        on,
    };
    server::answer(backend.set_policy_hours(&session, &id, &hours).await)
}

#[server(prefix = "/ui/fn", endpoint = "billing_report")]
pub async fn billing_report(
    from: String,
    to: String,
    by: String,
) -> Result<Billing, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(
        backend
            .billing(&session, &BillingQuery { from, to, by })
            .await,
    )
}

#[server(prefix = "/ui/fn", endpoint = "task_rows")]
pub async fn task_rows(state: String, tag: String) -> Result<TaskList, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.tasks(&session, &TaskFilter { state, tag }).await)
}

#[server(prefix = "/ui/fn", endpoint = "task_details")]
pub async fn task_details(
    id: String,
    from: u32,
    instance: Option<i32>,
) -> Result<TaskPage, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.task_page(&session, &id, from, instance).await)
}

#[server(prefix = "/ui/fn", endpoint = "job_rows")]
pub async fn job_rows() -> Result<JobList, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.jobs(&session).await)
}

#[server(prefix = "/ui/fn", endpoint = "job_details")]
pub async fn job_details(id: String) -> Result<JobPage, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.job_page(&session, &id).await)
}

#[server(prefix = "/ui/fn", endpoint = "terminate_job")]
pub async fn terminate_job(id: String) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.terminate_job(&session, &id).await)
}

#[server(prefix = "/ui/fn", endpoint = "abort_task")]
pub async fn abort_task(id: String) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.abort_task(&session, &id).await)
}

#[server(prefix = "/ui/fn", endpoint = "settings_lists")]
pub async fn settings_lists() -> Result<Settings, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.settings(&session).await)
}

/// A new API token; its secret is in this answer only.
#[server(prefix = "/ui/fn", endpoint = "create_token")]
pub async fn create_token(
    name: String,
    role: String,
    expires_in_days: u32,
) -> Result<NewToken, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(
        backend
            .create_token(&session, &name, &role, expires_in_days)
            .await,
    )
}

#[server(prefix = "/ui/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.revoke_token(&session, &id).await)
}

#[server(prefix = "/ui/fn", endpoint = "add_user")]
pub async fn add_user(email: String, role: String) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.add_user(&session, &email, &role).await)
}

#[server(prefix = "/ui/fn", endpoint = "set_password")]
pub async fn set_password(id: String, password: String) -> Result<(), ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.set_password(&session, &id, &password).await)
}

#[cfg(feature = "ssr")]
mod server {
    use std::sync::Arc;

    use leptos::prelude::*;

    use crate::backend::{Backend, UiBackend, UiError, session_cookie};

    /// A signed-out reader is sent to the sign-in form: a redirect of the page while it is
    /// rendered on the server, a client-side navigation after a call from the browser.
    /// A refusal keeps its status (a viewer's forged write is a 403, as on the API).
    /// A signed-out call from the browser answers 401 (with the redirect header the client
    /// follows), never a 500: a page may still be reading when its session ends.
    pub fn answer<T>(result: Result<T, UiError>) -> Result<T, ServerFnError> {
        if let Err(e) = &result {
            let from_browser = use_context::<leptos_actix::Request>()
                .is_some_and(|r| r.path().starts_with(crate::SERVER_FN_PREFIX));
            if *e == UiError::SignedOut {
                leptos_actix::redirect("/ui/sign-in");
            }
            if (*e != UiError::SignedOut || from_browser)
                && let Some(response) = use_context::<leptos_actix::ResponseOptions>()
                && let Ok(status) = actix_web::http::StatusCode::from_u16(e.status())
            {
                response.set_status(status);
            }
        }
        result.map_err(ServerFnError::from)
    }

    /// The backend and the caller's session (empty when there is none: the backend then
    /// answers `SignedOut`).
    pub fn context() -> Result<(Arc<dyn Backend>, String), ServerFnError> {
        let backend = use_context::<UiBackend>()
            .ok_or_else(|| ServerFnError::new("the dashboard is not connected to a server"))?;
        let request = use_context::<leptos_actix::Request>()
            .ok_or_else(|| ServerFnError::new("no request"))?;
        let session = request
            .headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(session_cookie)
            .unwrap_or_default()
            .to_owned();
        Ok((backend.0, session))
    }
}
