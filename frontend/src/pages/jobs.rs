//! Jobs: the newest jobs, and a job's page with its tasks in submission order, what each
//! waits for, their progress, and Terminate behind a confirmation. Both follow the events.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::tasks::Progress;
use super::{Current, Frame, Problem, message_of};
use crate::api::{self, TerminateJob};
use crate::format::{short_id, state_words, task_tone};
use crate::live::use_changes;
use crate::model::{JobList, JobPage};

/// The CSS class of a job state's badge.
fn job_tone(state: &str) -> &'static str {
    match state {
        "Active" => "tone-busy",
        "Completed" => "tone-ok",
        _ => "tone-quiet",
    }
}

#[component]
pub fn Jobs() -> impl IntoView {
    let changes = use_changes(|| "types=taskProgress".to_owned());
    let list = Resource::new(move || changes.get(), |_| api::job_rows());
    view! {
        <Title text="Jobs · hearth" />
        <Frame current=Current::Jobs>
            <h1>"Jobs"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) if list.rows.is_empty() => {
                            view! { <p class="muted">"No jobs yet: create one with POST /jobs."</p> }.into_any()
                        }
                        Ok(list) => view! { <JobTable list /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn JobTable(list: JobList) -> impl IntoView {
    let more = list.more.then(|| {
        view! { <p class="muted">{format!("The newest {} jobs are listed.", JobList::ROWS)}</p> }
    });
    let lines = list
        .rows
        .into_iter()
        .map(|j| {
            let pool = match (j.pool_id, j.pool_name) {
                (Some(id), name) => view! {
                    <a href=format!("/ui/pools/{id}")>{name.unwrap_or_else(|| short_id(&id).to_owned())}</a>
                }
                .into_any(),
                (None, _) => view! { <span class="muted">"each task's own"</span> }.into_any(),
            };
            view! {
                <tr>
                    <th scope="row"><a href=format!("/ui/jobs/{}", j.id)>{j.name}</a></th>
                    <td><span class=format!("badge {}", job_tone(&j.state))>{state_words(&j.state)}</span></td>
                    <td>{pool}</td>
                    <td class="num">{j.tasks}</td>
                    <td><time>{j.created}</time></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table>
                <caption class="sr-only">"Jobs of this tenant, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Pool"</th>
                        <th scope="col" class="num">"Tasks"</th>
                        <th scope="col">"Created (UTC)"</th>
                    </tr>
                </thead>
                <tbody>{lines}</tbody>
            </table>
        </div>
        {more}
    }
    .into_any()
}

#[component]
pub fn Job() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let changes = use_changes(|| "types=taskProgress".to_owned());
    let terminate = ServerAction::<TerminateJob>::new();
    let page = Resource::new(
        move || (id.get(), changes.get(), terminate.version().get()),
        |(id, ..)| api::job_details(id),
    );
    view! {
        <Title text="Job · hearth" />
        <Frame current=Current::Jobs>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => view! { <JobView page=p terminate /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn JobView(page: JobPage, terminate: ServerAction<TerminateJob>) -> impl IntoView {
    let failed = move || {
        terminate.value().get().and_then(|r| r.err()).map(|e| {
            view! { <p class="problem" role="alert">{message_of(&e)}</p> }
        })
    };
    let control = (page.can_write && page.terminable).then(|| {
        let id = page.id.clone();
        view! {
            <details class="confirm">
                <summary>"Terminate job…"</summary>
                <p>"Terminating cancels every unfinished task of the job. It cannot be undone."</p>
                <ActionForm action=terminate>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="danger">"Terminate job"</button>
                </ActionForm>
            </details>
        }
    });
    let pool = match (&page.pool_id, &page.pool_name) {
        (Some(id), name) => view! {
            <a href=format!("/ui/pools/{id}")>{name.clone().unwrap_or_else(|| short_id(id).to_owned())}</a>
        }
        .into_any(),
        (None, _) => view! { <span>"each task's own"</span> }.into_any(),
    };
    let more = page.more_tasks.then(|| {
        view! { <p class="muted">{format!("The first {} tasks are listed.", JobPage::TASKS)}</p> }
    });
    let rows = page
        .tasks
        .into_iter()
        .map(|t| {
            let waits = if t.depends_on.is_empty() {
                view! { <span class="muted">"nothing"</span> }.into_any()
            } else {
                t.depends_on
                    .into_iter()
                    .map(|(id, name)| {
                        let shown = if name.is_empty() { short_id(&id).to_owned() } else { name };
                        view! { <a class="dep" href=format!("/ui/tasks/{id}")>{shown}</a>" " }
                    })
                    .collect_view()
                    .into_any()
            };
            view! {
                <tr>
                    <th scope="row"><a href=format!("/ui/tasks/{}", t.id)>{t.name}</a></th>
                    <td><span class=format!("badge {}", task_tone(&t.state))>{state_words(&t.state)}</span></td>
                    <td><Progress tally=t.tally /></td>
                    <td>{waits}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="page-head">
            <h1>{page.name.clone()}</h1>
            <span class=format!("badge {}", job_tone(&page.state))>{state_words(&page.state)}</span>
        </div>
        <dl class="facts">
            <div><dt>"Pool"</dt><dd>{pool}</dd></div>
            <div><dt>"Dependencies"</dt><dd>{if page.use_dependencies { "used" } else { "not used" }}</dd></div>
            <div><dt>"Created (UTC)"</dt><dd>{page.created.clone()}</dd></div>
            <div><dt>"Instances"</dt><dd><Progress tally=page.tally /></dd></div>
        </dl>
        {control}
        {failed}
        <section aria-labelledby="job-tasks" class="card">
            <h2 id="job-tasks">"Tasks"</h2>
            <div class="table-wrap">
                <table>
                    <caption class="sr-only">"The job's tasks in submission order"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Task"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Progress"</th>
                            <th scope="col">"Waits for"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {more}
        </section>
    }
    .into_any()
}
