//! Server functions: called in place during server rendering, over HTTP from the browser.
//! Their bodies only reach the server's [`crate::backend::Backend`]. (Each generates a
//! struct named after it, hence names unlike the model's types.)

use leptos::prelude::*;

use crate::model::{Overview, PoolRow, Viewer};

#[server(prefix = "/ui/fn")]
pub async fn signed_in() -> Result<Viewer, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.viewer(&session).await)
}

#[server(prefix = "/ui/fn")]
pub async fn overview_figures() -> Result<Overview, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.overview(&session).await)
}

#[server(prefix = "/ui/fn")]
pub async fn pool_rows() -> Result<Vec<PoolRow>, ServerFnError> {
    let (backend, session) = server::context()?;
    server::answer(backend.pools(&session).await)
}

#[cfg(feature = "ssr")]
mod server {
    use std::sync::Arc;

    use leptos::prelude::*;

    use crate::backend::{Backend, UiBackend, UiError, session_cookie};

    /// A signed-out reader is sent to the sign-in form: a redirect of the page while it is
    /// rendered on the server, a client-side navigation after a call from the browser.
    pub fn answer<T>(result: Result<T, UiError>) -> Result<T, ServerFnError> {
        if result.as_ref().err() == Some(&UiError::SignedOut) {
            leptos_actix::redirect("/ui/sign-in");
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
