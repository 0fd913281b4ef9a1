//! The pools table (filtered by state and tag, live) and the "New pool" form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{Current, Frame, Problem, message_of};
use crate::api::{self, CreatePool};
use crate::format::{busy_percent, money, state_tone, state_words};
use crate::live::use_changes;
use crate::model::{PoolList, ProfileChoice};

/// The state filter's choices: (value, label).
const STATE_CHOICES: [(&str, &str); 5] = [
    ("", "All"),
    ("live", "Live"),
    ("ended", "Closed or failed"),
    ("FullyExecuting", "Fully executing"),
    ("Closing", "Closing"),
];

#[component]
pub fn Pools() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| query.with(|q| q.get("state").unwrap_or_default()));
    let tag = Memo::new(move |_| query.with(|q| q.get("tag").unwrap_or_default()));
    let changes = use_changes(|| "types=pool,node,taskProgress".to_owned());
    let create = ServerAction::<CreatePool>::new();
    let list = Resource::new(
        move || {
            (
                state.get(),
                tag.get(),
                changes.get(),
                create.version().get(),
            )
        },
        |(state, tag, ..)| api::pool_rows(state, tag),
    );
    view! {
        <Title text="Pools · hearth" />
        <Frame current=Current::Pools>
            <h1>"Pools"</h1>
            <form method="get" action="/ui/pools" class="filters" role="search" aria-label="Filter pools">
                <label>
                    "State "
                    <select name="state">
                        {move || {
                            let now = state.get();
                            STATE_CHOICES
                                .iter()
                                .map(|(value, label)| {
                                    view! { <option value=*value selected=now == *value>{*label}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label>"Tag " <input name="tag" value=move || tag.get() placeholder="any" /></label>
                <button type="submit">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) => view! { <PoolsView list create /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn PoolsView(list: PoolList, create: ServerAction<CreatePool>) -> impl IntoView {
    let form = list
        .can_write
        .then(|| view! { <NewPoolForm profiles=list.profiles.clone() create /> });
    let table = if list.rows.is_empty() {
        view! { <p class="muted">"No pools yet, or none matches the filter."</p> }.into_any()
    } else {
        view! { <PoolTable list /> }.into_any()
    };
    view! {
        {form}
        {table}
    }
    .into_any()
}

#[component]
fn PoolTable(list: PoolList) -> impl IntoView {
    let currency = list.currency.clone();
    let lines = list
        .rows
        .into_iter()
        .map(|p| {
            let percent = busy_percent(p.slots_busy, p.slots_total);
            let cost = p
                .cost_today
                .as_deref()
                .map(|c| view! { <data value=c.to_owned()>{money(c)}</data> });
            view! {
                <tr>
                    <th scope="row"><a href=format!("/ui/pools/{}", p.id)>{p.name}</a></th>
                    <td>{p.profile}</td>
                    <td><span class=format!("badge {}", state_tone(&p.state))>{state_words(&p.state)}</span></td>
                    <td class="num">
                        <span class="slots">{format!("{} / {}", p.slots_busy, p.slots_total)}</span>
                        <span class="bar" aria-hidden="true"><span style=format!("width: {percent}%")></span></span>
                    </td>
                    <td class="num">{p.queued_instances}</td>
                    <td>{p.active_policy.unwrap_or_default()}</td>
                    <td class="num">{cost}</td>
                    <td>{p.tags.join(", ")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table>
                <caption class="sr-only">"Pools of this tenant"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Profile"</th>
                        <th scope="col">"State"</th>
                        <th scope="col" class="num">"Slots busy / total"</th>
                        <th scope="col" class="num">"Queued"</th>
                        <th scope="col">"Active policy"</th>
                        <th scope="col" class="num">{format!("Cost today ({currency})")}</th>
                        <th scope="col">"Tags"</th>
                    </tr>
                </thead>
                <tbody>{lines}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// "New pool": a profile, slots per node, and one policy (fixed, or following the queue);
/// more policies and their periods are edited on the pool's page. A plain form too: without
/// JavaScript the server sends the browser to the new pool's page.
#[component]
fn NewPoolForm(profiles: Vec<ProfileChoice>, create: ServerAction<CreatePool>) -> impl IntoView {
    let failed = move || {
        create.value().get().and_then(|r| r.err()).map(|e| {
            view! { <p class="problem" role="alert">{message_of(&e)}</p> }
        })
    };
    let options = profiles
        .iter()
        .map(|p| {
            let note = if p.multi_slot {
                format!("{} (up to {} slots per node)", p.name, p.max_slots_per_node)
            } else {
                format!("{} (1 slot per node)", p.name)
            };
            view! { <option value=p.name.clone()>{note}</option> }
        })
        .collect_view();
    view! {
        <details class="confirm new-pool">
            <summary>"New pool…"</summary>
            <ActionForm action=create>
                <div class="form-grid">
                    <label>"Name" <input name="name" required maxlength="200" /></label>
                    <label>"Profile" <select name="profile">{options}</select></label>
                    <label>"Slots per node" <input name="slots_per_node" type="number" min="1" value="1" required /></label>
                    <label>"Tags" <input name="tags" placeholder="comma-separated" /></label>
                </div>
                <fieldset>
                    <legend>"Scaling"</legend>
                    <label class="choice"><input type="radio" name="scaling" value="fixed" checked />" Fixed: "</label>
                    <label>"slots" <input name="slots" type="number" min="0" value="1" /></label>
                    <br />
                    <label class="choice"><input type="radio" name="scaling" value="queue" />" Follow the queue: "</label>
                    <label>"min slots" <input name="min_slots" type="number" min="0" value="0" /></label>
                    <label>"max slots" <input name="max_slots" type="number" min="1" value="8" /></label>
                    <label>"kept idle" <input name="min_idle" type="number" min="0" value="0" /></label>
                    <label>"release after (s idle)" <input name="idle_seconds" type="number" min="0" value="120" /></label>
                    <label>"ramp" <input name="factor" type="number" min="0.01" max="1" step="0.01" value="0.5" /></label>
                </fieldset>
                <button type="submit">"Create pool"</button>
            </ActionForm>
            {failed}
        </details>
    }
    .into_any()
}
