//! A pool's policies in their order, each with its weekly periods on a week grid
//! (7 days × 24 hours). A writer switches hours on and off by clicking them (or a day's
//! name, for the whole day); each click is saved at once, and the pool's next evaluation
//! follows the new policies without stopping running work.

use leptos::prelude::*;

use super::message_of;
use crate::api::SetPolicyHours;
use crate::chart::{WEEKDAYS, cell_label, toggle_turns_on};
use crate::model::{Cover, PolicyCard};

#[component]
pub fn PolicyEditor(
    pool: String,
    policies: Vec<PolicyCard>,
    can_write: bool,
    set: ServerAction<SetPolicyHours>,
) -> impl IntoView {
    let failed = move || {
        set.value().get().and_then(|r| r.err()).map(|e| {
            view! { <p class="problem" role="alert">{message_of(&e)}</p> }
        })
    };
    let empty = policies.is_empty();
    let cards = policies
        .into_iter()
        .map(|p| view! { <Card pool=pool.clone() policy=p can_write set /> })
        .collect_view();
    let how = if can_write {
        "The first policy enabled now is active. Click an hour to switch it on or off, or a day's name for the whole day: each change is saved at once and never stops running work. Times are UTC."
    } else {
        "The first policy enabled now is active. Times are UTC."
    };
    view! {
        <section aria-labelledby="policies" class="card">
            <h2 id="policies">"Scaling policies"</h2>
            <p class="muted">{how}</p>
            {failed}
            {if empty {
                view! { <p class="muted">"No policies: the pool keeps the size it was given."</p> }.into_any()
            } else {
                view! { <ol class="policies">{cards}</ol> }.into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Card(
    pool: String,
    policy: PolicyCard,
    can_write: bool,
    set: ServerAction<SetPolicyHours>,
) -> impl IntoView {
    let title = match &policy.name {
        Some(name) => format!("{}. {name}", policy.index + 1),
        None => format!("{}. (unnamed)", policy.index + 1),
    };
    let heading = format!("policy-{}", policy.index);
    let labelled_by = heading.clone();
    let index = policy.index;
    let week = policy.week.clone();
    let toggle = move |day: usize, from: usize, to: usize| {
        let on = toggle_turns_on(&week[day * 24 + from..day * 24 + to]);
        set.dispatch(SetPolicyHours {
            id: pool.clone(),
            policy: index,
            day: day as u32,
            from_hour: from as u32,
            to_hour: to as u32,
            on,
        });
    };
    let hours = (0..24)
        .map(|h| {
            let text = if h % 3 == 0 {
                format!("{h:02}")
            } else {
                String::new()
            };
            view! { <th scope="col" class="hour" abbr=format!("{h:02}:00")>{text}</th> }
        })
        .collect_view();
    let rows = WEEKDAYS
        .iter()
        .enumerate()
        .map(|(day, name)| {
            let short = name[..3].to_owned();
            let name = (*name).to_owned();
            let day_head = if can_write {
                let toggle = toggle.clone();
                let label = format!("{short}: switch all of {name}");
                view! {
                    <th scope="row">
                        <button type="button" class="day" aria-label=label on:click=move |_| toggle(day, 0, 24)>
                            {short}
                        </button>
                    </th>
                }
                .into_any()
            } else {
                view! { <th scope="row" abbr=name>{short}</th> }.into_any()
            };
            let cells = (0..24)
                .map(|hour| {
                    let cover = policy.week.get(day * 24 + hour).copied().unwrap_or(Cover::None);
                    let class = match cover {
                        Cover::Full => "cell cover-full",
                        Cover::Part => "cell cover-part",
                        Cover::None => "cell cover-none",
                    };
                    let label = cell_label(day, hour, cover);
                    if can_write {
                        let toggle = toggle.clone();
                        let pressed = if cover == Cover::Full { "true" } else { "false" };
                        view! {
                            <td>
                                <button type="button" class=class aria-pressed=pressed aria-label=label.clone() title=label
                                    on:click=move |_| toggle(day, hour, hour + 1)></button>
                            </td>
                        }
                        .into_any()
                    } else {
                        view! { <td><span class=class role="img" aria-label=label.clone() title=label></span></td> }
                            .into_any()
                    }
                })
                .collect_view();
            view! { <tr>{day_head}{cells}</tr> }
        })
        .collect_view();
    let one_off = (!policy.one_off.is_empty()).then(|| {
        let items = policy
            .one_off
            .iter()
            .map(|p| view! { <li>{p.clone()}</li> })
            .collect_view();
        view! { <p class="muted">"Also enabled:"</p><ul class="one-off">{items}</ul> }
    });
    view! {
        <li class=if policy.active { "policy active" } else { "policy" } aria-labelledby=labelled_by>
            <div class="card-head">
                <h3 id=heading>{title}</h3>
                {policy.active.then(|| view! { <span class="badge tone-ok">"active now"</span> })}
            </div>
            <p>{policy.kind.clone()}": "{policy.summary.clone()}</p>
            <div class="table-wrap">
                <table class="week">
                    <caption class="sr-only">{format!("Hours of the week policy {} is enabled (UTC)", index + 1)}</caption>
                    <thead><tr><td></td>{hours}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {one_off}
        </li>
    }
    .into_any()
}
