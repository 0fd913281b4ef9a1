//! The tasks list: the newest tasks with their progress, filtered by state and tag.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{Current, Frame, Problem, message_of};
use crate::api;
use crate::format::{progress_parts, progress_words, state_words, task_tone};
use crate::live::use_changes;
use crate::model::{Tally, TaskList};

/// The state filter's choices: (value, label).
const STATE_CHOICES: [(&str, &str); 6] = [
    ("", "All"),
    ("active", "Active"),
    ("finished", "Finished"),
    ("Success", "Succeeded"),
    ("Failure", "Failed"),
    ("Cancelled", "Cancelled"),
];

#[component]
pub fn Tasks() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| query.with(|q| q.get("state").unwrap_or_default()));
    let tag = Memo::new(move |_| query.with(|q| q.get("tag").unwrap_or_default()));
    let changes = use_changes(|| "types=taskProgress".to_owned());
    let list = Resource::new(
        move || (state.get(), tag.get(), changes.get()),
        |(state, tag, _)| api::task_rows(state, tag),
    );
    view! {
        <Title text="Tasks · hearth" />
        <Frame current=Current::Tasks>
            <h1>"Tasks"</h1>
            <form method="get" action="/ui/tasks" class="filters" role="search" aria-label="Filter tasks">
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
                        Ok(list) if list.rows.is_empty() => {
                            view! { <p class="muted">"No tasks match."</p> }.into_any()
                        }
                        Ok(list) => view! { <TaskTable list /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn TaskTable(list: TaskList) -> impl IntoView {
    let more = list.more.then(|| {
        view! {
            <p class="muted">
                {format!("The newest {} are listed; narrow the filter to see others.", TaskList::ROWS)}
            </p>
        }
    });
    let lines = list
        .rows
        .into_iter()
        .map(|t| {
            view! {
                <tr>
                    <th scope="row"><a href=format!("/ui/tasks/{}", t.id)>{t.name}</a></th>
                    <td><a href=format!("/ui/pools/{}", t.pool_id)>{t.pool_name}</a></td>
                    <td><span class=format!("badge {}", task_tone(&t.state))>{state_words(&t.state)}</span></td>
                    <td><Progress tally=t.tally /></td>
                    <td>{t.tags.join(", ")}</td>
                    <td><time>{t.created}</time></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table>
                <caption class="sr-only">"Tasks of this tenant, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Pool"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col">"Tags"</th>
                        <th scope="col">"Submitted (UTC)"</th>
                    </tr>
                </thead>
                <tbody>{lines}</tbody>
            </table>
        </div>
        {more}
    }
}

/// A task's instances as one bar: succeeded, failed, cancelled, running, queued. Its
/// accessible name says the counts in words.
#[component]
pub fn Progress(tally: Tally) -> impl IntoView {
    let words = progress_words(&tally);
    let parts = progress_parts(&tally)
        .into_iter()
        .map(|(class, _, width)| {
            let style = format!("width: {}.{}%", width / 10, width % 10);
            view! { <span class=format!("part-{class}") style=style></span> }
        })
        .collect_view();
    view! {
        <span class="progress" role="img" aria-label=words.clone() title=words>
            {parts}
        </span>
    }
}
