//! The pages and the frame around them.

mod billing;
mod jobs;
mod overview;
mod policies;
mod pool;
mod pools;
mod settings;
mod sign_in;
mod task;
mod tasks;

pub use billing::Billing;
pub use jobs::{Job, Jobs};
pub use overview::Overview;
pub use pool::Pool;
pub use pools::Pools;
pub use settings::Settings;
pub use sign_in::SignIn;
pub use task::Task;
pub use tasks::Tasks;

use leptos::prelude::*;

use crate::api;

/// Which page the navigation marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Current {
    Overview,
    Pools,
    Tasks,
    Jobs,
    Billing,
    Settings,
}

/// Header, navigation, who is signed in, sign-out; the page goes in `children`.
#[component]
pub fn Frame(current: Current, children: Children) -> impl IntoView {
    let viewer = Resource::new(|| (), |_| api::signed_in());
    let link = move |page: Current, href: &'static str, label: &'static str| {
        let aria = (page == current).then_some("page");
        view! { <a href=href aria-current=aria>{label}</a> }
    };
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <a class="brand" href="/ui">"hearth"</a>
            <nav aria-label="Main">
                {link(Current::Overview, "/ui", "Overview")}
                {link(Current::Pools, "/ui/pools", "Pools")}
                {link(Current::Tasks, "/ui/tasks", "Tasks")}
                {link(Current::Jobs, "/ui/jobs", "Jobs")}
                {link(Current::Billing, "/ui/billing", "Billing")}
                {link(Current::Settings, "/ui/settings", "Settings")}
            </nav>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    viewer.await.ok().map(|v| view! {
                        <div class="who">
                            <span>{v.email}" · "{v.role}" · "{v.tenant}</span>
                            <form method="post" action="/ui/session/end">
                                <button type="submit" class="quiet">"Sign out"</button>
                            </form>
                        </div>
                    })
                })}
            </Suspense>
        </header>
        <main id="main" class="page">{children()}</main>
    }
}

/// A refused or failed read, in words, with the way back in.
#[component]
pub fn Problem(message: String) -> impl IntoView {
    view! {
        <div class="problem" role="alert">
            <p>{message}</p>
            <p><a href="/ui/sign-in">"Sign in"</a></p>
        </div>
    }
}

/// What a server function's error says to the reader.
pub fn message_of(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}
