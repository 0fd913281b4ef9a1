use leptos::prelude::*;
use leptos_meta::Title;

use super::{Current, Frame, Problem, message_of};
use crate::api;
use crate::format::{busy_percent, state_tone, state_words};
use crate::live::use_changes;
use crate::model::PoolRow;

#[component]
pub fn Pools() -> impl IntoView {
    let changes = use_changes(String::new);
    let rows = Resource::new(move || changes.get(), |_| api::pool_rows());
    view! {
        <Title text="Pools · hearth" />
        <Frame current=Current::Pools>
            <h1>"Pools"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Ok(rows) if rows.is_empty() => {
                            view! { <p class="muted">"No pools yet: create one with POST /pools."</p> }
                                .into_any()
                        }
                        Ok(rows) => view! { <PoolTable rows /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn PoolTable(rows: Vec<PoolRow>) -> impl IntoView {
    let lines = rows
        .into_iter()
        .map(|p| {
            let percent = busy_percent(p.slots_busy, p.slots_total);
            view! {
                <tr>
                    <th scope="row"><a href=format!("/ui/pools/{}", p.id)>{p.name}</a></th>
                    <td>{p.profile}</td>
                    <td><span class=format!("badge {}", state_tone(&p.state))>{state_words(&p.state)}</span></td>
                    <td class="num">
                        <span class="slots">{format!("{} / {}", p.slots_busy, p.slots_total)}</span>
                        <span class="bar" aria-hidden="true"><span style=format!("width: {percent}%")></span></span>
                    </td>
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
                    </tr>
                </thead>
                <tbody>{lines}</tbody>
            </table>
        </div>
    }
}
