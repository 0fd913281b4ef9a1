//! A task's page: its progress, its instances, one instance's output tailing live, and
//! Abort.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::tasks::Progress;
use super::{Current, Frame, Problem, message_of};
use crate::api::{self, AbortTask};
use crate::format::{duration_words, keep_tail, short_id, state_words, task_tone};
use crate::live::{follow_output, use_changes};
use crate::model::{InstanceRow, OutputTail, TaskPage};

/// Bytes of each stream the page keeps while it tails (the oldest are cut first).
const LIVE_BYTES: usize = 256 * 1024;

#[component]
pub fn Task() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let from = Memo::new(move |_| {
        query.with(|q| {
            q.get("from")
                .and_then(|f| f.parse::<u32>().ok())
                .unwrap_or(0)
        })
    });
    let instance =
        Memo::new(move |_| query.with(|q| q.get("instance").and_then(|i| i.parse::<i32>().ok())));
    let changes = use_changes(move || format!("task={}", id.get()));
    let abort = ServerAction::<AbortTask>::new();
    let page = Resource::new(
        move || {
            (
                id.get(),
                from.get(),
                instance.get(),
                changes.get(),
                abort.version().get(),
            )
        },
        |(id, from, instance, ..)| api::task_details(id, from, instance),
    );
    view! {
        <Title text="Task · hearth" />
        <Frame current=Current::Tasks>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => view! { <TaskView page=p abort /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn TaskView(page: TaskPage, abort: ServerAction<AbortTask>) -> impl IntoView {
    let controls = (page.can_write && page.abortable).then(|| {
        let id = page.id.clone();
        let refused = move || {
            abort
                .value()
                .get()
                .and_then(|r| r.err())
                .map(|e| view! { <p class="problem" role="alert">{message_of(&e)}</p> })
        };
        view! {
            <section aria-label="Task controls" class="controls">
                <details class="confirm">
                    <summary>"Abort task…"</summary>
                    <p>"Aborting cancels the queued instances and stops the running ones. It cannot be undone."</p>
                    <ActionForm action=abort>
                        <input type="hidden" name="id" value=id />
                        <button type="submit" class="danger">"Abort task"</button>
                    </ActionForm>
                </details>
            </section>
            {refused}
        }
    });
    let output = page.output.clone().map(|tail| {
        view! { <Output task=page.id.clone() tail /> }
    });
    view! {
        <div class="page-head">
            <h1>{page.name.clone()}</h1>
            <span class=format!("badge {}", task_tone(&page.state))>{state_words(&page.state)}</span>
        </div>
        <dl class="facts">
            <div><dt>"Pool"</dt><dd><a href=format!("/ui/pools/{}", page.pool_id)>{page.pool_name.clone()}</a></dd></div>
            <div><dt>"Instances"</dt><dd>{page.tally.total}</dd></div>
            <div><dt>"Submitted (UTC)"</dt><dd>{page.created.clone()}</dd></div>
            <div><dt>"Tags"</dt><dd>{if page.tags.is_empty() { "none".to_owned() } else { page.tags.join(", ") }}</dd></div>
        </dl>
        <section class="card" aria-labelledby="progress">
            <h2 id="progress">"Progress"</h2>
            <Progress tally=page.tally />
            <p class="muted">{crate::format::progress_words(&page.tally)}</p>
        </section>
        {controls}
        <Instances page=page.clone() />
        {output}
    }
}

/// A page of the task's instances; each links to its output.
#[component]
fn Instances(page: TaskPage) -> impl IntoView {
    let shown = page.output.as_ref().map(|o| o.instance_id);
    let from = page.instances_from;
    let base = format!("/ui/tasks/{}", page.id);
    let step = TaskPage::INSTANCES as u32;
    let earlier = (from > 0).then(|| {
        let href = format!("{base}?from={}", from.saturating_sub(step));
        view! { <a href=href>"← Earlier instances"</a> }
    });
    let later = (page.instances.len() == TaskPage::INSTANCES && from + step < page.tally.total)
        .then(|| {
            let href = format!("{base}?from={}", from + step);
            view! { <a href=href>"Later instances →"</a> }
        });
    let rows = page
        .instances
        .into_iter()
        .map(|i| {
            let current = (Some(i.instance_id) == shown).then_some("true");
            let href = format!("{base}?from={from}&instance={}", i.instance_id);
            view! {
                <tr aria-current=current>
                    <th scope="row"><a href=href aria-label=format!("output of instance {}", i.instance_id)>{i.instance_id}</a></th>
                    <td>{state_words(&i.state)}</td>
                    <td>{where_words(&i)}</td>
                    <td class="num">{i.attempts}</td>
                    <td class="num">{i.exit_code.map(|c| c.to_string()).unwrap_or_default()}</td>
                    <td><time>{i.started.clone().unwrap_or_default()}</time></td>
                    <td class="num">{i.seconds.map(duration_words).unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="instances">
            <h2 id="instances">"Instances"</h2>
            <div class="table-wrap">
                <table>
                    <caption class="sr-only">"The task's instances by number"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"#"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Node · slot"</th>
                            <th scope="col" class="num">"Attempts"</th>
                            <th scope="col" class="num">"Exit code"</th>
                            <th scope="col">"Started (UTC)"</th>
                            <th scope="col" class="num">"Duration"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <nav class="pager" aria-label="Instance pages">{earlier}{later}</nav>
        </section>
    }
}

/// `node 5f2c · slot 2` (slots count from 1 on screen).
fn where_words(i: &InstanceRow) -> String {
    match (&i.node, i.slot) {
        (Some(node), Some(slot)) => format!("node {} · slot {}", short_id(node), slot + 1),
        (Some(node), None) => format!("node {}", short_id(node)),
        _ => String::new(),
    }
}

/// One instance's stdout and stderr: the newest part as the page was read, then what it
/// writes, as it writes it (`GET /tasks/{uuid}/instances/{n}/output`), until it ends.
#[component]
fn Output(task: String, tail: OutputTail) -> impl IntoView {
    let texts = [
        RwSignal::new(tail.stdout.clone()),
        RwSignal::new(tail.stderr.clone()),
    ];
    let cut = RwSignal::new([tail.stdout_cut, tail.stderr_cut]);
    let ends = StoredValue::new([tail.stdout_end, tail.stderr_end]);
    let status = RwSignal::new(status_words(&tail.state, tail.exit_code, tail.finished));
    if !tail.finished {
        let url = format!(
            "/tasks/{task}/instances/{}/output?stdoutFrom={}&stderrFrom={}",
            tail.instance_id, tail.stdout_end, tail.stderr_end
        );
        follow_output(
            url,
            move |piece| {
                let i = usize::from(piece.stream == "stderr");
                let have = ends.get_value()[i];
                let end = piece.offset + piece.text.len() as i64;
                if end <= have {
                    return;
                }
                let mut skip = (have - piece.offset).max(0) as usize;
                while skip < piece.text.len() && !piece.text.is_char_boundary(skip) {
                    skip += 1;
                }
                let gap = piece.offset > have;
                texts[i].update(|t| {
                    t.push_str(&piece.text[skip..]);
                    if keep_tail(t, LIVE_BYTES) || gap {
                        cut.update(|c| c[i] = true);
                    }
                });
                ends.update_value(|e| e[i] = end);
            },
            move |end| status.set(status_words(&end.state, end.exit_code, true)),
        );
    }
    let stream = move |i: usize, name: &'static str| {
        let id = format!("out-{name}");
        view! {
            <div class="stream">
                <h3 id=id.clone()>{name}</h3>
                <Show when=move || cut.get()[i]>
                    <p class="muted">"Older output is not shown."</p>
                </Show>
                <pre class="output" tabindex="0" aria-labelledby=id data-stream=name>{move || texts[i].get()}</pre>
            </div>
        }
    };
    view! {
        <section class="card" aria-labelledby="output">
            <h2 id="output">{format!("Output of instance {}", tail.instance_id)}</h2>
            <p class="muted" role="status">{move || status.get()}</p>
            <div class="streams">{stream(0, "stdout")}{stream(1, "stderr")}</div>
        </section>
    }
}

/// `running: following its output` / `succeeded, exit code 0`.
fn status_words(state: &str, exit_code: Option<i32>, finished: bool) -> String {
    let state = state_words(state);
    match (finished, exit_code) {
        (false, _) => format!("{state}: following its output"),
        (true, Some(code)) => format!("{state}, exit code {code}"),
        (true, None) => state,
    }
}
