//! Billing and budgets through the SDK: usage lines a page at a time adding up to the
//! totals, the whole report, CSV, and budgets created, listed, replaced and deleted.

use futures_util::{StreamExt, TryStreamExt};
use hearth_client::billing::{GroupBy, IDLE_LINE};
use hearth_client::budgets::{BudgetPeriod, BudgetSpec, DecimalInput, OverrunPolicy};

use crate::harness::*;

/// A decimal text (`"2.160000"`) in units of 10^-`places`, exactly.
fn fixed(text: &str, places: usize) -> i128 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac = format!("{frac:0<places$}");
    assert_eq!(frac.len(), places, "{text}");
    whole.parse::<i128>().unwrap() * 10i128.pow(places as u32) + frac.parse::<i128>().unwrap()
}

fn micros(text: &str) -> i128 {
    fixed(text, 6)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_lines_add_up_to_the_totals_as_json_and_csv() {
    let app = spawn_app().await;
    let client = app.client();
    let pool = client
        .pools()
        .create("billed", "docker-batch")
        .slots(1)
        .send()
        .await
        .unwrap();
    let task = client
        .tasks()
        .create("busy")
        .pool(&pool)
        .command("sleep 0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(task.wait_until_done(WAIT).await.unwrap().state, "Success");

    // By task, a line a page: the task's busy line and the pool's idle line.
    let mut lines = client
        .billing()
        .usage()
        .group_by(GroupBy::Task)
        .page_size(1)
        .lines();
    let first = lines.next().await.unwrap().unwrap();
    assert_eq!(lines.pages_fetched(), 1);
    let mut all = vec![first];
    all.extend((&mut lines).try_collect::<Vec<_>>().await.unwrap());
    assert_eq!(lines.pages_fetched(), all.len());
    assert_eq!(all.len(), 2, "{all:?}");
    let busy = all
        .iter()
        .find(|l| l.task_uuid == Some(task.uuid()))
        .expect("the task's line");
    assert_eq!(busy.task_name.as_deref(), Some("busy"));
    let busy_ms = fixed(&busy.figures.busy_slot_seconds, 3);
    // The instance slept 0.3 s; the server counts from the start report it received.
    assert!(busy_ms >= 200, "the task slept 0.3 s: {:?}", busy.figures);
    assert_eq!(busy.figures.idle_slot_seconds, "0.000");
    let idle = all
        .iter()
        .find(|l| l.task_name.as_deref() == Some(IDLE_LINE))
        .expect("the pool's idle line");
    assert_eq!((idle.pool_uuid, idle.task_uuid), (Some(pool.uuid()), None));

    // The whole report in one call: totals add up line by line.
    let report = client
        .billing()
        .usage()
        .group_by(GroupBy::Pool)
        .report()
        .await
        .unwrap();
    assert_eq!(report.group_by, "pool");
    assert_eq!(report.items.len(), 1);
    assert_eq!(report.items[0].pool_uuid, Some(pool.uuid()));
    assert_eq!(report.items[0].pool_name.as_deref(), Some("billed"));
    let sum: i128 = report.items.iter().map(|l| micros(&l.figures.cost)).sum();
    assert_eq!(sum, micros(&report.totals.cost));
    assert!(
        micros(&report.totals.cost) > 0,
        "a Ready node costs: {:?}",
        report.totals
    );
    assert!(report.next_page_token.is_none());

    let csv = client
        .billing()
        .usage()
        .group_by(GroupBy::Day)
        .from("2000-01-01")
        .to("2000-12-31")
        .csv()
        .await
        .unwrap();
    assert!(csv.starts_with("day,"), "{csv:?}");
    assert!(
        csv.contains("slotSeconds") && csv.contains("\r\n"),
        "{csv:?}"
    );
    let csv = client.billing().usage().csv().await.unwrap();
    assert_eq!(
        csv.trim_end().split("\r\n").count(),
        2,
        "a header and the pool: {csv:?}"
    );
    assert!(csv.contains(&pool.uuid().to_string()));

    let message = refusal(
        client
            .billing()
            .usage()
            .from("2026-02-01")
            .to("2026-01-01")
            .report()
            .await,
        400,
        "validation",
    );
    assert!(message.starts_with("to "), "{message}");
    pool.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_created_listed_replaced_and_deleted() {
    let app = spawn_app().await;
    let client = app.client();
    let budgets = client.budgets();

    let march = budgets
        .create(
            &BudgetSpec::monthly("monthly", "1000.50")
                .overrun_policy(OverrunPolicy::BlockNew)
                .alert_thresholds(&[0.9, 0.5]),
        )
        .await
        .expect("create");
    assert_eq!(march.amount, "1000.500000");
    assert_eq!(march.period, BudgetPeriod::Named("monthly".into()));
    assert_eq!(march.overrun_policy, OverrunPolicy::BlockNew);
    assert_eq!(march.alert_thresholds, [0.5, 0.9], "sorted by the server");
    assert!(!march.spent);
    let range = budgets
        .create(&BudgetSpec::range("q2", "10", "2026-04-01", "2026-07-01"))
        .await
        .unwrap();
    assert_eq!(
        range.overrun_policy,
        OverrunPolicy::AlertOnly,
        "the default"
    );
    let third = budgets
        .create(&BudgetSpec::monthly("third", "5").alert_thresholds(&[]))
        .await
        .unwrap();
    assert!(third.alert_thresholds.is_empty());

    let mut listed = budgets.list_paged(Some(2));
    let all: Vec<_> = (&mut listed).try_collect().await.unwrap();
    assert_eq!(
        all.iter().map(|b| b.uuid).collect::<Vec<_>>(),
        [march.uuid, range.uuid, third.uuid]
    );
    assert_eq!(listed.pages_fetched(), 2);
    assert_eq!(budgets.get(march.uuid).await.unwrap().name, "monthly");

    let mut spec = BudgetSpec::from(&march);
    spec.amount = DecimalInput::Text("2000".into());
    let replaced = budgets.replace(&march, &spec).await.unwrap();
    assert_eq!(replaced.amount, "2000.000000");
    assert_eq!(
        replaced.alert_thresholds,
        [0.5, 0.9],
        "kept by the round trip"
    );
    assert_eq!(replaced.overrun_policy, OverrunPolicy::BlockNew);

    let message = refusal(
        budgets.create(&BudgetSpec::monthly("bad", "-3")).await,
        400,
        "validation",
    );
    assert!(message.starts_with("amount"), "{message}");

    budgets.delete(&range).await.unwrap();
    assert!(budgets.get(range.uuid).await.unwrap_err().is_not_found());
    app.stop().await;
}
