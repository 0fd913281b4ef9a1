use leptos::prelude::*;
use leptos_meta::Title;

use super::{Current, Frame, Problem, message_of};
use crate::api;
use crate::format::{busy_percent, consumed_percent, money, state_tone, state_words};
use crate::live::use_changes;
use crate::model::{FeedLine, Overview as Figures, Spend};

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
        {figures.spend.map(|spend| view! { <SpendCard spend /> })}
        <Feed lines=figures.feed />
    }
    .into_any()
}

/// Spend today and this month, against the month's budget.
#[component]
fn SpendCard(spend: Spend) -> impl IntoView {
    let budget = spend.budget.map(|b| {
        let percent = consumed_percent(&b.consumed, &b.amount);
        let words = format!(
            "Budget {}: {percent}% of {} {} consumed ({} – {} UTC), forecast {}",
            b.name,
            money(&b.amount),
            b.currency,
            b.period_from,
            b.period_to,
            money(&b.forecast)
        );
        let class = if b.spent {
            "meter-fill over"
        } else {
            "meter-fill"
        };
        view! {
            <div class="meter" role="img" aria-label=words.clone()>
                <div class=class style=format!("width: {}%", percent.min(100))></div>
            </div>
            <p class="muted">{words}</p>
        }
    });
    view! {
        <section aria-labelledby="spend" class="card">
            <div class="card-head">
                <h2 id="spend">"Spend"</h2>
                <a href="/ui/billing">"Billing"</a>
            </div>
            <dl class="facts">
                <div><dt>"Today"</dt><dd><data value=spend.today.clone()>{money(&spend.today)}</data>" "{spend.currency.clone()}</dd></div>
                <div><dt>"This month"</dt><dd><data value=spend.month.clone()>{money(&spend.month)}</data>" "{spend.currency.clone()}</dd></div>
            </dl>
            {budget}
        </section>
    }
    .into_any()
}

/// The tenant's newest events, newest first, following the event stream.
#[component]
fn Feed(lines: Vec<FeedLine>) -> impl IntoView {
    let empty = lines.is_empty();
    let items = lines
        .into_iter()
        .map(|l| {
            let text = match l.href {
                Some(href) => view! { <a href=href>{l.text}</a> }.into_any(),
                None => view! { <span>{l.text}</span> }.into_any(),
            };
            view! {
                <li class=format!("feed-{}", l.kind)>
                    <time>{l.at}</time>" "{text}
                </li>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="feed" class="card">
            <h2 id="feed">"Recent events"</h2>
            {if empty {
                view! { <p class="muted">"Nothing happened since the server started."</p> }.into_any()
            } else {
                view! { <ol class="feed" aria-live="polite">{items}</ol> }.into_any()
            }}
        </section>
    }
    .into_any()
}
