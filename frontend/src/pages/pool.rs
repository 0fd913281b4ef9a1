//! A pool's page: its slot map, its scaling decisions and its controls, following the
//! pool's events.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::policies::PolicyEditor;
use super::{Current, Frame, Problem, message_of};
use crate::api::{self, ClosePool, ResizePool, SetPolicyHours};
use crate::chart::{Scale, step_path};
use crate::format::{SlotKind, decision_headline, short_id, slot_label, state_tone, state_words};
use crate::live::use_changes;
use crate::model::{DecisionLine, NodeTile, PoolPage, SizeHistory};

#[component]
pub fn Pool() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let changes_only = Memo::new(move |_| query.with(|q| q.get("changes").as_deref() == Some("1")));
    let changes = use_changes(move || format!("pool={}", id.get()));
    let resize = ServerAction::<ResizePool>::new();
    let close = ServerAction::<ClosePool>::new();
    let set = ServerAction::<SetPolicyHours>::new();
    let page = Resource::new(
        move || {
            (
                id.get(),
                changes.get(),
                resize.version().get(),
                close.version().get(),
                set.version().get(),
            )
        },
        |(id, ..)| api::pool_details(id),
    );
    view! {
        <Title text="Pool · hearth" />
        <Frame current=Current::Pools>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let only_changes = changes_only.get();
                    Suspend::new(async move {
                        match page.await {
                            Ok(p) => view! { <PoolView page=p only_changes resize close set /> }.into_any(),
                            Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </Frame>
    }
}

#[component]
fn PoolView(
    page: PoolPage,
    only_changes: bool,
    resize: ServerAction<ResizePool>,
    close: ServerAction<ClosePool>,
    set: ServerAction<SetPolicyHours>,
) -> impl IntoView {
    let busy: usize = page
        .nodes
        .iter()
        .map(|n| n.slots.iter().filter(|s| s.work.is_some()).count())
        .sum();
    let target = page
        .target_slots
        .map_or_else(|| "no decision yet".to_owned(), |t| t.to_string());
    let controls = page.can_write.then(|| {
        view! { <Controls id=page.id.clone() closable=page.closable resize close /> }
    });
    view! {
        <div class="page-head">
            <h1>{page.name.clone()}</h1>
            <span class=format!("badge {}", state_tone(&page.state))>{state_words(&page.state)}</span>
        </div>
        <dl class="facts">
            <div><dt>"Profile"</dt><dd>{page.profile.clone()}</dd></div>
            <div><dt>"Slots per node"</dt><dd>{page.slots_per_node}</dd></div>
            <div><dt>"Slots busy / total"</dt><dd>{format!("{busy} / {}", page.slots_total)}</dd></div>
            <div><dt>"Target slots"</dt><dd>{target}</dd></div>
            <div><dt>"Queued instances"</dt><dd>{page.queued_instances}</dd></div>
            <div><dt>"Active policy"</dt><dd>{page.active_policy.clone().unwrap_or_else(|| "none named".into())}</dd></div>
        </dl>
        {controls}
        <SlotMap nodes=page.nodes />
        <SizeChart history=page.history />
        <Decisions pool=page.id.clone() lines=page.decisions only_changes />
        <PolicyEditor pool=page.id.clone() policies=page.policies can_write=page.can_write set />
    }
}

/// "Resize now" and "Close pool" (behind a confirmation). Plain forms: they work without
/// JavaScript too (the server sends the browser back to this page).
#[component]
fn Controls(
    id: String,
    closable: bool,
    resize: ServerAction<ResizePool>,
    close: ServerAction<ClosePool>,
) -> impl IntoView {
    let outcome = move || {
        let said = resize.value().get().map(|r| r.map_err(|e| message_of(&e)));
        let closed = close
            .value()
            .get()
            .and_then(|r| r.err().map(|e| message_of(&e)));
        match (said, closed) {
            (_, Some(why)) | (Some(Err(why)), _) => {
                Some(view! { <p class="problem" role="alert">{why}</p> }.into_any())
            }
            (Some(Ok(decision)), None) => {
                Some(view! { <p class="said" role="status">{decision}</p> }.into_any())
            }
            (None, None) => None,
        }
    };
    let close_form = closable.then(|| {
        let id = id.clone();
        view! {
            <details class="confirm">
                <summary>"Close pool…"</summary>
                <p>"Closing cancels the pool's queued work and stops its nodes. It cannot be undone."</p>
                <ActionForm action=close>
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="danger">"Close pool"</button>
                </ActionForm>
            </details>
        }
    });
    view! {
        <section aria-label="Pool controls" class="controls">
            <ActionForm action=resize>
                <input type="hidden" name="id" value=id.clone() />
                <button type="submit">"Resize now"</button>
            </ActionForm>
            {close_form}
        </section>
        {outcome}
    }
}

/// One tile per node, split into its slots; every slot is focusable and says its state in
/// words (its accessible name is also its tooltip). A busy slot links to its task.
#[component]
fn SlotMap(nodes: Vec<NodeTile>) -> impl IntoView {
    let count = nodes.len();
    let tiles = nodes
        .into_iter()
        .map(|node| {
            let busy = node.slots.iter().filter(|s| s.work.is_some()).count();
            let name = format!(
                "node {}: {}, {busy} of {} slots busy",
                short_id(&node.id),
                state_words(&node.state),
                node.slots.len()
            );
            let slots = node
                .slots
                .iter()
                .map(|slot| {
                    let label = slot_label(slot.index, &node.id, &node.state, slot.work.as_ref());
                    let kind = SlotKind::of(&node.state, slot.work.is_some());
                    let class = format!("slot slot-{}", kind.word());
                    match &slot.work {
                        Some(w) => {
                            let href = format!("/ui/tasks/{}?instance={}", w.task_id, w.instance_id);
                            view! { <a class=class href=href aria-label=label.clone() data-tip=label></a> }
                                .into_any()
                        }
                        None => view! {
                            <span class=class tabindex="0" role="img" aria-label=label.clone() data-tip=label></span>
                        }
                        .into_any(),
                    }
                })
                .collect_view();
            view! {
                <li class=format!("node node-{}", node.state.to_ascii_lowercase()) aria-label=name>
                    <div class="node-head">
                        <span class="node-id">{short_id(&node.id).to_owned()}</span>
                        <span class="muted">{state_words(&node.state)}</span>
                    </div>
                    <div class="slots">{slots}</div>
                </li>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="slot-map" class="card">
            <h2 id="slot-map">"Slot map"</h2>
            <p class="legend muted">
                <span class="slot slot-busy" aria-hidden="true"></span>" busy "
                <span class="slot slot-idle" aria-hidden="true"></span>" idle "
                <span class="slot slot-booting" aria-hidden="true"></span>" booting "
                <span class="slot slot-draining" aria-hidden="true"></span>" draining "
                <span class="slot slot-failed" aria-hidden="true"></span>" failed"
            </p>
            {if count == 0 {
                view! { <p class="muted">"No nodes: the pool holds no slots now."</p> }.into_any()
            } else {
                view! { <ul class="nodes">{tiles}</ul> }.into_any()
            }}
        </section>
    }
}

/// The scaling decisions, newest first, each with its reason: why the pool has the size it
/// has. "Changes only" hides the holds.
#[component]
fn Decisions(pool: String, lines: Vec<DecisionLine>, only_changes: bool) -> impl IntoView {
    let shown: Vec<DecisionLine> = lines
        .into_iter()
        .filter(|d| !only_changes || d.is_change())
        .collect();
    let empty = shown.is_empty();
    let items = shown
        .into_iter()
        .map(|d| {
            let class = if d.is_change() { "change" } else { "hold" };
            let headline = decision_headline(&d.action, d.from_slots, d.target_slots);
            let times = (d.evaluations > 1).then(|| format!(" · reached {} times", d.evaluations));
            let policy = d.policy.map(|p| format!(" · policy {p}"));
            view! {
                <li class=class>
                    <time>{d.at}</time>
                    <p><strong>{headline}</strong>": "{d.reason}</p>
                    <p class="muted">{policy}{times}</p>
                </li>
            }
        })
        .collect_view();
    let filter = move |on: bool, label: &'static str| {
        let current = (on == only_changes).then_some("true");
        let href = format!("/ui/pools/{pool}{}", if on { "?changes=1" } else { "" });
        view! { <a href=href aria-current=current>{label}</a> }
    };
    view! {
        <section aria-labelledby="decisions" class="card">
            <div class="card-head">
                <h2 id="decisions">"Scaling decisions"</h2>
                <nav aria-label="Which decisions" class="toggle">
                    {filter(false, "All")}
                    {filter(true, "Changes only")}
                </nav>
            </div>
            {if empty {
                view! { <p class="muted">"No decisions to show."</p> }.into_any()
            } else {
                view! { <ol class="timeline">{items}</ol> }.into_any()
            }}
        </section>
    }
}

/// Target and actual slots over the last hour: two step lines drawn here.
#[component]
fn SizeChart(history: SizeHistory) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 120.0;
    let max = history
        .target
        .iter()
        .chain(history.actual.iter())
        .map(|(_, v)| *v)
        .max()
        .unwrap_or(0);
    let scale = Scale::nice(f64::from(max), 4);
    let grid = scale
        .ticks()
        .into_iter()
        .map(|t| {
            let y = scale.y(t, H);
            view! {
                <line x1="0" x2=W y1=y y2=y class="grid" />
                <text x="-6" y=y + 4.0 class="axis" text-anchor="end">{format!("{t}")}</text>
            }
        })
        .collect_view();
    let span = history.span_seconds;
    let target = step_path(&history.target, span, scale, W, H);
    let actual = step_path(&history.actual, span, scale, W, H);
    let now = |points: &[(u32, u32)]| points.last().map_or(0, |p| p.1);
    let summary = format!(
        "Target and actual slots over the last {} minutes: now target {}, actual {}, at most {max}",
        span / 60,
        now(&history.target),
        now(&history.actual)
    );
    view! {
        <section aria-labelledby="size" class="card">
            <h2 id="size">"Target and actual slots"</h2>
            <p class="legend muted">
                <span class="swatch line-target" aria-hidden="true"></span>" target "
                <span class="swatch line-actual" aria-hidden="true"></span>" actual (booting and ready)"
            </p>
            <svg class="chart" viewBox=format!("-40 -8 {} {}", W + 48.0, H + 32.0) role="img" aria-label=summary>
                {grid}
                <path d=target class="line-target" />
                <path d=actual class="line-actual" />
                <text x="0" y=H + 20.0 class="axis">{format!("{} min ago", span / 60)}</text>
                <text x=W y=H + 20.0 class="axis" text-anchor="end">"now"</text>
            </svg>
        </section>
    }
    .into_any()
}
