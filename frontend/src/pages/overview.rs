use leptos::prelude::*;
use leptos_meta::Title;

use super::{Current, Frame, Problem, message_of};
use crate::api;
use crate::format::{busy_percent, state_tone, state_words};
use crate::live::use_changes;
use crate::model::Overview as Figures;

#[component]
pub fn Overview() -> impl IntoView {
    let changes = use_changes(String::new);
    let figures = Resource::new(move || changes.get(), |_| api::overview_figures());
    view! {
        <Title text="Overview · hearth" />
        <Frame current=Current::Overview>
            <h1>"Overview"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match figures.await {
                        Ok(f) => view! { <Tiles figures=f /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn Tiles(figures: Figures) -> impl IntoView {
    let total = figures.slots_busy + figures.slots_idle;
    let percent = busy_percent(figures.slots_busy, total);
    let tile = |label: &'static str, value: u32, id: &'static str| {
        view! {
            <div class="tile" role="group" aria-labelledby=id>
                <span class="label" id=id>{label}</span>
                <span class="value">{value}</span>
            </div>
        }
    };
    let states = figures
        .pools_by_state
        .into_iter()
        .map(|s| {
            view! {
                <li>
                    <span class=format!("badge {}", state_tone(&s.state))>{state_words(&s.state)}</span>
                    <span class="count">{s.count}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section aria-label="Slots" class="tiles">
            {tile("Busy slots", figures.slots_busy, "t-busy")}
            {tile("Idle slots", figures.slots_idle, "t-idle")}
            {tile("Booting slots", figures.slots_booting, "t-booting")}
            {tile("Queued instances", figures.queued_instances, "t-queued")}
            {tile("Running tasks", figures.running_tasks, "t-tasks")}
        </section>
        <section aria-labelledby="use" class="card">
            <h2 id="use">"Slots in use"</h2>
            <div class="meter" role="img" aria-label=format!("{percent}% of {total} ready slots busy")>
                <div class="meter-fill" style=format!("width: {percent}%")></div>
            </div>
            <p class="muted">{format!("{} of {} ready slots busy ({percent}%)", figures.slots_busy, total)}</p>
        </section>
        <section aria-labelledby="by-state" class="card">
            <h2 id="by-state">"Pools by state"</h2>
            {if states.is_empty() {
                view! { <p class="muted">"No pools yet."</p> }.into_any()
            } else {
                view! { <ul class="states">{states}</ul> }.into_any()
            }}
        </section>
    }
}
