//! hearth's dashboard: Leptos components and the server functions they read through.
//!
//! One crate, two builds: `ssr` (linked into hearth-server, which renders the pages and
//! answers the server functions through the [`backend::Backend`] it provides) and `hydrate`
//! (the browser bundle, built by `scripts/build-ui.sh`; no actix, database or tokio code).

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod chart;
pub mod format;
pub mod live;
pub mod model;
mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The cookie naming the browser's server-side session.
pub const SESSION_COOKIE: &str = "hearth_session";
/// The name wasm-bindgen gives the bundle: `/pkg/hearth_ui.js` and `/pkg/hearth_ui_bg.wasm`.
pub const BUNDLE_NAME: &str = "hearth_ui";
/// Where server functions are answered (the API owns every other path).
pub const SERVER_FN_PREFIX: &str = "/ui/fn";

const STYLE: &str = include_str!("../style/hearth.css");

/// The whole document, rendered on the server. Without a bundle (`hydrate_with` false) the
/// pages are plain HTML and forms: everything reads and signs in without JavaScript.
pub fn shell(options: LeptosOptions, hydrate_with: bool) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // No icon to fetch: the API answers /favicon.ico with 404.
                <link rel="icon" href="data:," />
                <style inner_html=STYLE></style>
                {hydrate_with.then(|| view! { <HydrationScripts options /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="hearth" />
        <Router>
            <Routes fallback=|| view! { <main class="page"><p>"No such page."</p></main> }>
                // Async: the answer waits for the data, so a browser without JavaScript
                // gets complete pages (no out-of-order fragments to swap in).
                <Route path=path!("/ui") view=pages::Overview ssr=SsrMode::Async />
                <Route path=path!("/ui/pools") view=pages::Pools ssr=SsrMode::Async />
                <Route path=path!("/ui/pools/:id") view=pages::Pool ssr=SsrMode::Async />
                <Route path=path!("/ui/tasks") view=pages::Tasks ssr=SsrMode::Async />
                <Route path=path!("/ui/tasks/:id") view=pages::Task ssr=SsrMode::Async />
                <Route path=path!("/ui/jobs") view=pages::Jobs ssr=SsrMode::Async />
                <Route path=path!("/ui/jobs/:id") view=pages::Job ssr=SsrMode::Async />
                <Route path=path!("/ui/billing") view=pages::Billing ssr=SsrMode::Async />
                <Route path=path!("/ui/settings") view=pages::Settings ssr=SsrMode::Async />
                <Route path=path!("/ui/sign-in") view=pages::SignIn ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

/// The browser entry point: attaches the components to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
