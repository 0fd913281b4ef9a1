use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The one message for any refused sign-in: it never says which part was wrong.
pub const REFUSED: &str = "Sign-in refused: check the email and password, or the token.";

/// A plain form posted to `/ui/session` (answered by the server, with or without
/// JavaScript): email and password, or an API token.
#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let refused = move || query.with(|q| q.get("refused").is_some());
    view! {
        <Title text="Sign in · hearth" />
        <main id="main" class="sign-in">
            <h1>"Sign in to hearth"</h1>
            {move || refused().then(|| view! { <p class="problem" role="alert">{REFUSED}</p> })}
            <form method="post" action="/ui/session" class="card">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" />
                <p class="or">"or"</p>
                <label for="token">"API token"</label>
                <input id="token" name="token" type="password" autocomplete="off" />
                <button type="submit">"Sign in"</button>
            </form>
        </main>
    }
}
