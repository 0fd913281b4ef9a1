//! Settings (owners): the tenant's API tokens (create, shown once, revoke) and its users
//! (add, set a password).

use leptos::prelude::*;
use leptos_meta::Title;

use super::{Current, Frame, Problem, message_of};
use crate::api::{self, AddUser, CreateToken, RevokeToken, SetPassword};
use crate::model::{NewToken, Settings as Lists, TokenLine, UserLine};

/// The roles a token or user may have in a tenant.
const ROLES: [&str; 4] = ["member", "viewer", "billing", "owner"];
/// Expiry choices for a new token: (days, label); 0 never expires.
const EXPIRIES: [(u32, &str); 5] = [
    (30, "30 days"),
    (1, "1 day"),
    (90, "90 days"),
    (365, "1 year"),
    (0, "never"),
];

#[component]
pub fn Settings() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let add = ServerAction::<AddUser>::new();
    let password = ServerAction::<SetPassword>::new();
    let lists = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                add.version().get(),
            )
        },
        |_| api::settings_lists(),
    );
    view! {
        <Title text="Settings · hearth" />
        <Frame current=Current::Settings>
            <h1>"Settings"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match lists.await {
                        Ok(lists) => view! { <Sections lists create revoke add password /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn Sections(
    lists: Lists,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
    add: ServerAction<AddUser>,
    password: ServerAction<SetPassword>,
) -> impl IntoView {
    view! {
        {view! { <Tokens tokens=lists.tokens create revoke /> }.into_any()}
        {view! { <Users users=lists.users add password /> }.into_any()}
    }
}

/// A refusal of an action, in words, or nothing.
fn refusal<T: Clone + Send + Sync + 'static>(
    value: MappedSignal<Option<Result<T, ServerFnError>>>,
) -> impl Fn() -> Option<AnyView> {
    move || {
        value
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="problem" role="alert">{message_of(&e)}</p> }.into_any())
    }
}

#[component]
fn Tokens(
    tokens: Vec<TokenLine>,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    // The form works once the page is live: the secret is shown on this page only, which a
    // plain form's redirect would lose.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let shown = move || {
        create.value().get().and_then(|r| r.ok()).map(|t: NewToken| {
            view! {
                <div class="said" role="status">
                    <p>{format!("Token “{}” created. Copy it now: it is not shown again.", t.name)}</p>
                    <p class="secret">
                        <code id="new-token">{t.secret.clone()}</code>
                        <button
                            type="button"
                            class="quiet"
                            data-secret=t.secret
                            onclick="navigator.clipboard.writeText(this.dataset.secret).then(() => this.textContent = 'Copied')"
                        >
                            "Copy"
                        </button>
                    </p>
                </div>
            }
        })
    };
    let rows = tokens
        .into_iter()
        .map(|t| {
            let control = (t.status == "active").then(|| {
                let id = t.id.clone();
                let name = t.name.clone();
                view! {
                    <details class="confirm small">
                        <summary aria-label=format!("Revoke… ({name})")>"Revoke…"</summary>
                        <ActionForm action=revoke>
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="danger" aria-label=format!("Revoke {name}")>
                                "Revoke"
                            </button>
                        </ActionForm>
                    </details>
                }
            });
            view! {
                <tr>
                    <th scope="row">{t.name.clone()}</th>
                    <td>{t.role}</td>
                    <td>{t.user}</td>
                    <td><time>{t.created}</time></td>
                    <td>{t.expires.unwrap_or_else(|| "never".into())}</td>
                    <td>{t.status}</td>
                    <td>{control}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="tokens">
            <h2 id="tokens">"API tokens"</h2>
            <div class="table-wrap">
                <table>
                    <caption class="sr-only">"The tenant's API tokens, oldest first"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"Acts for"</th>
                            <th scope="col">"Created (UTC)"</th>
                            <th scope="col">"Expires (UTC)"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col"><span class="sr-only">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {refusal(revoke.value())}
            <h3>"New token"</h3>
            <noscript><p class="muted">"Creating a token needs JavaScript: its secret is shown once, on this page."</p></noscript>
            <ActionForm action=create attr:class="inline-form">
                <label>"Name " <input name="name" required maxlength="256" /></label>
                <label>
                    "Role "
                    <select name="role">
                        {ROLES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Expires in "
                    <select name="expires_in_days">
                        {EXPIRIES
                            .iter()
                            .map(|(days, label)| view! { <option value=days.to_string()>{*label}</option> })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit" disabled=move || !live.get()>"Create token"</button>
            </ActionForm>
            {refusal(create.value())}
            {shown}
        </section>
    }
    .into_any()
}

#[component]
fn Users(
    users: Vec<UserLine>,
    add: ServerAction<AddUser>,
    password: ServerAction<SetPassword>,
) -> impl IntoView {
    let set = move || {
        password
            .value()
            .get()
            .and_then(|r| r.ok())
            .map(|_| view! { <p class="said" role="status">"Password set; the user's password sessions ended."</p> })
    };
    let rows = users
        .into_iter()
        .map(|u| {
            let id = u.id.clone();
            let email = u.email.clone();
            view! {
                <tr>
                    <th scope="row">{u.email}</th>
                    <td>{u.role}</td>
                    <td><time>{u.created}</time></td>
                    <td>
                        <details class="confirm small neutral">
                            <summary aria-label=format!("Set password… ({email})")>"Set password…"</summary>
                            <ActionForm action=password>
                                <input type="hidden" name="id" value=id />
                                <label>
                                    "New password (12 to 256 characters) "
                                    <input type="password" name="password" required minlength="12" maxlength="256" autocomplete="new-password" />
                                </label>
                                <button type="submit">"Set password"</button>
                            </ActionForm>
                        </details>
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="users">
            <h2 id="users">"Users"</h2>
            <div class="table-wrap">
                <table>
                    <caption class="sr-only">"The tenant's users, oldest first"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"Added (UTC)"</th>
                            <th scope="col"><span class="sr-only">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {refusal(password.value())}
            {set}
            <h3>"Add a user"</h3>
            <ActionForm action=add attr:class="inline-form">
                <label>"Email " <input type="email" name="email" required maxlength="256" /></label>
                <label>
                    "Role "
                    <select name="role">
                        {ROLES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit">"Add user"</button>
            </ActionForm>
            {refusal(add.value())}
        </section>
    }
    .into_any()
}
