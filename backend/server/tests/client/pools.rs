//! Pools through the SDK: every call of `client.pools()`, names, and lists fetched a page at
//! a time, only as far as they are read.

use futures_util::{StreamExt, TryStreamExt};
use hearth_client::scaling::{self, PolicyExt};
use hearth_client::{Error, Listing};

use crate::harness::*;
use crate::proxy::Proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_is_created_read_listed_changed_evaluated_closed_and_deleted() {
    let app = spawn_app().await;
    let client = app.client();
    let pools = client.pools();

    let handle = pools
        .create("render", "docker-batch")
        .slots(1)
        .tag("sdk")
        .tag("render")
        .constant("MODE", "fast")
        .label("team", "vfx")
        .retries(1, 3)
        .resize_period(5)
        .send()
        .await
        .expect("create");
    let pool = handle.get().await.expect("get");
    assert_eq!(pool.uuid, handle.uuid());
    assert_eq!(
        (pool.name.as_str(), pool.profile.as_str()),
        ("render", "docker-batch")
    );
    assert_eq!(pool.instance_count, 1);
    assert_eq!(pool.tags, ["sdk", "render"]);
    assert!(
        pool.constants
            .iter()
            .any(|c| c.key == "MODE" && c.value.as_deref() == Some("fast"))
    );
    assert_eq!(pool.labels["team"], "vfx");
    assert_eq!(pool.default_retry_settings.max_total_retries, Some(3));
    assert_eq!(pool.resize_period, 5);
    assert!(pool.scaling.is_none(), "a fixed pool has no policy list");

    ready_nodes(&client, pool.uuid, 1).await;
    let nodes: Vec<_> = handle.nodes().try_collect().await.expect("nodes");
    assert_eq!(nodes.len(), 1);
    assert_eq!((nodes[0].pool_uuid, nodes[0].slots), (pool.uuid, 1));

    let listed: Vec<_> = pools
        .list_with(Listing::new().tag("render"))
        .try_collect()
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|p| p.uuid).collect::<Vec<_>>(),
        [pool.uuid]
    );
    assert_eq!(
        pools.find_by_name("render").await.expect("by name").uuid,
        pool.uuid
    );

    // New policies: the first applies now; the name changes, what was not named stays.
    let changed = handle
        .update()
        .name("render-eu")
        .policies(vec![
            scaling::managed_tasks_queue(0, 2)
                .named("queue")
                .min_idle_slots(1)
                .during(scaling::always()),
            scaling::fixed(1).named("never"),
        ])
        .send()
        .await
        .expect("update");
    assert_eq!(changed.name, "render-eu");
    assert_eq!(changed.tags, ["sdk", "render"], "tags not named are kept");
    assert_eq!(changed.resize_period, 5, "the resize period is kept");
    assert_eq!(changed.default_retry_settings.max_total_retries, Some(3));
    let scaling = changed.scaling.expect("a policy list");
    assert_eq!(scaling.policies.len(), 2);
    assert_eq!(scaling.policies[0].name.as_deref(), Some("queue"));

    let decision = handle.resize().await.expect("resize");
    assert_eq!(decision.pool_uuid, pool.uuid);
    assert_eq!(decision.active_policy_name.as_deref(), Some("queue"));
    let decisions: Vec<_> = handle.decisions().try_collect().await.expect("decisions");
    assert!(
        decisions.iter().any(|d| d.uuid == decision.uuid),
        "{decisions:?}"
    );

    let fixed = pools
        .update_scaling(handle.uuid(), vec![scaling::fixed(2)])
        .await
        .expect("update_scaling");
    assert_eq!(
        fixed.scaling.expect("policies").policies[0].slots_count,
        Some(2)
    );
    let back = handle
        .update()
        .fixed(1)
        .send()
        .await
        .expect("back to fixed");
    assert!(back.scaling.is_none());
    assert_eq!(back.instance_count, 1);

    let closing = handle.close().await.expect("close");
    assert!(
        matches!(closing.state.as_str(), "Closing" | "Closed"),
        "{}",
        closing.state
    );
    handle.delete().await.expect("delete");
    assert!(handle.get().await.unwrap_err().is_not_found());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_by_name_tells_one_from_none_and_from_several() {
    let app = spawn_app().await;
    let client = app.client();
    let pools = client.pools();
    let mut twins = Vec::new();
    for _ in 0..2 {
        twins.push(
            pools
                .create("twin", "docker-batch")
                .slots(0)
                .send()
                .await
                .unwrap()
                .uuid(),
        );
    }
    let solo = pools
        .create("solo", "docker-batch")
        .slots(0)
        .send()
        .await
        .unwrap();
    // The server's name filter ignores case: the SDK keeps exact names only.
    pools
        .create("SOLO", "docker-batch")
        .slots(0)
        .send()
        .await
        .unwrap();

    assert_eq!(pools.find_by_name("solo").await.unwrap().uuid, solo.uuid());
    match pools.find_by_name("twin").await {
        Err(Error::AmbiguousName {
            kind,
            name,
            matches,
        }) => {
            assert_eq!((kind, name.as_str()), ("pool", "twin"));
            assert_eq!(matches, twins, "both, in creation order");
        }
        other => panic!("expected AmbiguousName, got {other:?}"),
    }
    match pools.find_by_name("nobody").await {
        Err(e @ Error::NameNotFound { .. }) => {
            assert_eq!(e.to_string(), "no pool is named 'nobody'")
        }
        other => panic!("expected NameNotFound, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_fetched_a_page_at_a_time_only_as_far_as_read() {
    let app = spawn_app().await;
    let proxy = Proxy::start(app.port).await;
    let client = app.client_at(&proxy.url(), &app.owner_token);

    let mut created = Vec::new();
    for i in 0..5 {
        let pool = client
            .pools()
            .create(format!("paged-{i}"), "docker-batch")
            .slots(0)
            .tag("paged")
            .send()
            .await
            .unwrap();
        created.push(pool.uuid());
    }
    client
        .pools()
        .create("other", "docker-batch")
        .slots(0)
        .send()
        .await
        .unwrap();

    // Pools (Qarnot's paginate route), 2 a page.
    let mut listed = client
        .pools()
        .list_with(Listing::new().tag("paged").page_size(2));
    assert_eq!(
        listed.pages_fetched(),
        0,
        "nothing is asked before the first item"
    );
    assert!(proxy.seen_of("POST", "/pools/paginate").is_empty());
    let first: Vec<_> = (&mut listed).take(3).try_collect().await.unwrap();
    assert_eq!(listed.pages_fetched(), 2, "3 items of pages of 2: 2 pages");
    assert_eq!(proxy.seen_of("POST", "/pools/paginate").len(), 2);
    let rest: Vec<_> = (&mut listed).try_collect().await.unwrap();
    let all: Vec<_> = first.iter().chain(&rest).map(|p| p.uuid).collect();
    assert_eq!(all, created, "every tagged pool once, in creation order");
    assert_eq!(listed.pages_fetched(), 3);
    let asked = proxy.seen_of("POST", "/pools/paginate");
    assert_eq!(asked.len(), 3);
    let tokens: Vec<serde_json::Value> = asked
        .iter()
        .map(|s| serde_json::from_slice::<serde_json::Value>(&s.body).unwrap()["token"].clone())
        .collect();
    assert!(
        tokens[0].is_null()
            && tokens[1].is_string()
            && tokens[2].is_string()
            && tokens[1] != tokens[2]
    );

    // Tasks: 3 queued on a pool without slots, 2 a page.
    let tasks: Vec<_> = {
        let mut out = Vec::new();
        for i in 0..3 {
            let t = client
                .tasks()
                .create(format!("queued-{i}"))
                .pool(created[0])
                .command("true")
                .tag("paged")
                .send()
                .await
                .unwrap();
            out.push(t.uuid());
        }
        out
    };
    let mut listed = client
        .tasks()
        .list_with(Listing::new().tag("paged").page_size(2));
    let first = listed.next().await.unwrap().unwrap();
    assert_eq!(first.uuid, tasks[0]);
    assert_eq!(listed.pages_fetched(), 1);
    let rest: Vec<_> = (&mut listed).try_collect().await.unwrap();
    assert_eq!(
        std::iter::once(first.uuid)
            .chain(rest.iter().map(|t| t.uuid))
            .collect::<Vec<_>>(),
        tasks
    );
    assert!(listed.pages_fetched() >= 2);

    // Nodes (hearth's own pages: limit and pageToken), 2 a page of 3.
    let pool = client
        .pools()
        .create("three", "docker-batch")
        .slots(3)
        .send()
        .await
        .unwrap();
    ready_nodes(&client, pool.uuid(), 3).await;
    let before = proxy
        .seen_of("GET", &format!("/pools/{}/nodes", pool.uuid()))
        .len();
    let mut nodes = client.pools().nodes_paged(pool.uuid(), Some(2));
    let one = nodes.next().await.unwrap().unwrap();
    assert_eq!(nodes.pages_fetched(), 1);
    let rest: Vec<_> = (&mut nodes).try_collect().await.unwrap();
    assert_eq!(1 + rest.len(), 3);
    assert!(rest.iter().all(|n| n.uuid != one.uuid));
    assert_eq!(nodes.pages_fetched(), 2);
    let asked = proxy.seen_of("GET", &format!("/pools/{}/nodes", pool.uuid()));
    assert_eq!(asked.len() - before, 2);
    assert!(
        asked.last().unwrap().target.contains("pageToken="),
        "{:?}",
        asked.last()
    );
    pool.close().await.unwrap();
    app.stop().await;
}
