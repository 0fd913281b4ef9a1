//! Billing: a period's cost, busy against idle by day and line by line, the downloads of
//! the same report, and the budgets.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{Current, Frame, Problem, message_of};
use crate::api;
use crate::chart::{Scale, stacked_bars};
use crate::format::{amount, consumed_percent, money, slot_hours};
use crate::model::{Billing as Report, BudgetLine, CostLine, DayCost};

/// The table's groupings: (value, label).
const GROUPINGS: [(&str, &str); 3] = [("pool", "Pool"), ("profile", "Profile"), ("task", "Task")];

#[component]
pub fn Billing() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| {
        query.with(|q| {
            (
                q.get("from").unwrap_or_default(),
                q.get("to").unwrap_or_default(),
                q.get("by").unwrap_or_default(),
            )
        })
    });
    let report = Resource::new(
        move || asked.get(),
        |(from, to, by)| api::billing_report(from, to, by),
    );
    view! {
        <Title text="Billing · hearth" />
        <Frame current=Current::Billing>
            <h1>"Billing"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(r) => view! { <ReportView report=r /> }.into_any(),
                        Err(e) => view! { <Problem message=message_of(&e) /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
    .into_any()
}

#[component]
fn ReportView(report: Report) -> impl IntoView {
    let download = |format: &str| {
        let mut href = format!(
            "/ui/billing/usage?from={}&to={}&groupBy={}&format={format}",
            report.from, report.to, report.by
        );
        if report.every_tenant {
            href.push_str("&tenant=all");
        }
        href
    };
    let presets = report
        .presets
        .iter()
        .map(|(label, from, to)| {
            let current = (*from == report.from && *to == report.to).then_some("true");
            let href = format!("/ui/billing?from={from}&to={to}&by={}", report.by);
            view! { <a href=href aria-current=current>{label.clone()}</a> }
        })
        .collect_view();
    let by = report.by.clone();
    let choices = GROUPINGS
        .iter()
        .map(
            |(value, label)| view! { <option value=*value selected=by == *value>{*label}</option> },
        )
        .collect_view();
    let total = &report.totals;
    view! {
        <form method="get" action="/ui/billing" class="filters" aria-label="Billing period">
            <label>"From " <input type="date" name="from" value=report.from.clone() required /></label>
            <label>"To " <input type="date" name="to" value=report.to.clone() required /></label>
            <label>"By " <select name="by">{choices}</select></label>
            <button type="submit">"Show"</button>
            <nav aria-label="Periods" class="toggle">{presets}</nav>
        </form>
        <section aria-label="Totals" class="tiles">
            <Figure label="Cost" text=total.cost.clone() currency=report.currency.clone() />
            <Figure label="Busy" text=total.busy_cost.clone() currency=report.currency.clone() />
            <Figure label="Idle" text=total.idle_cost.clone() currency=report.currency.clone() />
            <div class="tile" role="group" aria-labelledby="t-hours">
                <span class="label" id="t-hours">"Slot-hours"</span>
                <span class="value">{slot_hours(&total.slot_seconds)}</span>
            </div>
        </section>
        <CostBars days=report.days currency=report.currency.clone() />
        <section aria-labelledby="lines" class="card">
            <div class="card-head">
                <h2 id="lines">"Cost by "{report.by.clone()}</h2>
                <p class="downloads">
                    <a href=download("csv") download="">"Download CSV"</a>
                    " · "
                    <a href=download("json")>"JSON"</a>
                </p>
            </div>
            <LineTable lines=report.lines totals=report.totals.clone() by=report.by.clone() every_tenant=report.every_tenant />
            {report.more.then(|| view! {
                <p class="muted">{format!("The first {} lines are listed; the downloads have them all.", Report::LINES)}</p>
            })}
            <p class="muted">{format!("Figures as of {} UTC; running nodes count until then.", report.read_at)}</p>
        </section>
        {(!report.every_tenant).then(|| view! { <Budgets budgets=report.budgets /> })}
    }
    .into_any()
}

#[component]
fn Figure(label: &'static str, text: String, currency: String) -> impl IntoView {
    let id = format!("t-{}", label.to_ascii_lowercase());
    let labelled_by = id.clone();
    view! {
        <div class="tile" role="group" aria-labelledby=labelled_by>
            <span class="label" id=id>{label}</span>
            <span class="value"><data value=text.clone()>{money(&text)}</data>" "<small>{currency}</small></span>
        </div>
    }
    .into_any()
}

/// Busy and idle cost per day, stacked bars drawn here (no chart script).
#[component]
fn CostBars(days: Vec<DayCost>, currency: String) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 160.0;
    let values: Vec<(f64, f64)> = days
        .iter()
        .map(|d| (amount(&d.busy), amount(&d.idle)))
        .collect();
    let max = values.iter().map(|(b, i)| b + i).fold(0.0, f64::max);
    let scale = Scale::nice(max, 4);
    let grid = scale
        .ticks()
        .into_iter()
        .map(|t| {
            let y = scale.y(t, H);
            view! {
                <line x1="0" x2=W y1=y y2=y class="grid" />
                <text x="-6" y=y + 4.0 class="axis" text-anchor="end">{money(&t.to_string())}</text>
            }
        })
        .collect_view();
    let bars = stacked_bars(&values, scale, W, H)
        .into_iter()
        .zip(days.iter())
        .map(|(b, d)| {
            let title = format!(
                "{}: busy {} {currency}, idle {} {currency}",
                d.day,
                money(&d.busy),
                money(&d.idle)
            );
            view! {
                <g>
                    <title>{title}</title>
                    <rect x=b.x width=b.width y=b.busy_y height=b.busy_height class="bar-busy" />
                    <rect x=b.x width=b.width y=b.idle_y height=b.idle_height class="bar-idle" />
                </g>
            }
        })
        .collect_view();
    let first = days.first().map(|d| d.day.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.day.clone()).unwrap_or_default();
    let summary = format!(
        "Busy and idle cost per day from {first} to {last}; the tallest day cost {} {currency}",
        money(&max.to_string())
    );
    view! {
        <section aria-labelledby="by-day" class="card">
            <h2 id="by-day">"Busy and idle cost per day"</h2>
            <p class="legend muted">
                <span class="swatch bar-busy" aria-hidden="true"></span>" busy "
                <span class="swatch bar-idle" aria-hidden="true"></span>" idle"
            </p>
            <svg class="chart" viewBox=format!("-64 -8 {} {}", W + 72.0, H + 32.0) role="img" aria-label=summary>
                {grid}
                {bars}
                <text x="0" y=H + 20.0 class="axis">{first}</text>
                <text x=W y=H + 20.0 class="axis" text-anchor="end">{last}</text>
            </svg>
        </section>
    }
    .into_any()
}

#[component]
fn LineTable(
    lines: Vec<CostLine>,
    totals: CostLine,
    by: String,
    every_tenant: bool,
) -> impl IntoView {
    let by_task = by == "task";
    let cells = move |l: &CostLine| {
        view! {
            <td class="num"><data value=l.slot_seconds.clone()>{slot_hours(&l.slot_seconds)}</data></td>
            <td class="num"><data value=l.busy_cost.clone()>{money(&l.busy_cost)}</data></td>
            <td class="num"><data value=l.idle_cost.clone()>{money(&l.idle_cost)}</data></td>
            <td class="num"><data value=l.cost.clone()>{money(&l.cost)}</data></td>
        }
    };
    let rows = lines
        .iter()
        .map(|l| {
            let class = l.idle_line.then_some("idle-line");
            view! {
                <tr class=class>
                    {every_tenant.then(|| view! { <td>{l.tenant.clone().unwrap_or_default()}</td> })}
                    <th scope="row">{l.name.clone()}</th>
                    {by_task.then(|| view! { <td>{l.pool.clone().unwrap_or_default()}</td> })}
                    {cells(l)}
                </tr>
            }
        })
        .collect_view();
    let empty = lines.is_empty();
    let head = if by_task {
        "Task"
    } else if by == "profile" {
        "Profile"
    } else {
        "Pool"
    };
    view! {
        <div class="table-wrap">
            <table class="lines">
                <caption class="sr-only">{format!("Cost by {by}")}</caption>
                <thead>
                    <tr>
                        {every_tenant.then(|| view! { <th scope="col">"Tenant"</th> })}
                        <th scope="col">{head}</th>
                        {by_task.then(|| view! { <th scope="col">"Pool"</th> })}
                        <th scope="col" class="num">"Slot-hours"</th>
                        <th scope="col" class="num">"Busy"</th>
                        <th scope="col" class="num">"Idle"</th>
                        <th scope="col" class="num">"Cost"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows}
                    {empty.then(|| view! { <tr><td colspan="7" class="muted">"No usage in this period."</td></tr> })}
                </tbody>
                <tfoot>
                    <tr>
                        {every_tenant.then(|| view! { <td></td> })}
                        <th scope="row">"Total"</th>
                        {by_task.then(|| view! { <td></td> })}
                        {cells(&totals)}
                    </tr>
                </tfoot>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Budgets(budgets: Vec<BudgetLine>) -> impl IntoView {
    let empty = budgets.is_empty();
    let items = budgets
        .into_iter()
        .map(|b| {
            let percent = consumed_percent(&b.consumed, &b.amount);
            let words = format!(
                "{}: {} of {} {} consumed ({percent}%), {} remaining, forecast {}",
                b.name,
                money(&b.consumed),
                money(&b.amount),
                b.currency,
                money(&b.remaining),
                money(&b.forecast)
            );
            let class = if b.spent { "meter-fill over" } else { "meter-fill" };
            view! {
                <li>
                    <p><strong>{b.name.clone()}</strong>" · "{format!("{} – {} UTC", b.period_from, b.period_to)}</p>
                    <div class="meter" role="img" aria-label=words>
                        <div class=class style=format!("width: {}%", percent.min(100))></div>
                    </div>
                    <dl class="facts">
                        <div><dt>"Amount"</dt><dd>{money(&b.amount)}" "{b.currency.clone()}</dd></div>
                        <div><dt>"Consumed"</dt><dd>{money(&b.consumed)}</dd></div>
                        <div><dt>"Remaining"</dt><dd>{money(&b.remaining)}</dd></div>
                        <div><dt>"Forecast"</dt><dd>{money(&b.forecast)}</dd></div>
                    </dl>
                </li>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="budgets" class="card">
            <h2 id="budgets">"Budgets"</h2>
            {if empty {
                view! { <p class="muted">"No budgets: create one with POST /budgets."</p> }.into_any()
            } else {
                view! { <ul class="budgets">{items}</ul> }.into_any()
            }}
        </section>
    }
    .into_any()
}
