//! Prometheus metrics served at `/metrics`.
//!
//! No metric is labelled by pool, task, node or tenant: every label takes one of a fixed set
//! of values (a state, an outcome, a route template), so the number of series stays the same
//! however many pools and tasks there are. Figures of what exists right now (pools, nodes and
//! slots by state, the queue) are read from the database when scraped (`engine::census`),
//! so every replica answers the same; the others count what this process did, and Prometheus
//! sums them over replicas.

use hearth_core::model::{InstanceState, NodeState};
use hearth_core::pool_state::PoolState;
use prometheus::{
    Counter, Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Upper bounds of the submit→start histogram, in seconds: from a warm slot (milliseconds)
/// to a pool that had to boot a node, or a long queue (minutes).
const START_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0,
];

/// Upper bounds of the resize tick histogram, in seconds.
const TICK_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the HTTP request histogram, in seconds (long polls of agents and event
/// streams end in the last ones).
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The `route` label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    /// Seconds per request, by route template, method and status class.
    pub http_request_duration: HistogramVec,
    pub instances_dispatched: IntCounter,
    pub instances_queued_behind: IntCounter,
    /// Assignments a woken poll answered as the dispatcher built them (not read back).
    pub assignments_handed: IntCounter,
    pub scaling_decisions: IntCounter,
    pub nodes_launched: IntCounter,
    /// Wall time of the resize loop's latest tick, and how many pools it evaluated.
    pub resize_last_tick_seconds: Gauge,
    pub resize_last_tick_pools: IntGauge,
    /// Wall time of every tick together: with `scaling_decisions`, the cost of one
    /// evaluation.
    pub resize_tick_seconds: Counter,
    /// Wall time of each tick.
    pub resize_tick_duration: Histogram,
    /// Changes announced on the feed, by kind; and those a lagging follower lost.
    pub changes: IntCounterVec,
    pub changes_lost: IntCounter,
    /// Seconds from a task's submission to the first start of each of its instances.
    pub submit_to_start: Histogram,
    /// Instances that ended after being placed on a slot, by end state.
    finished: [IntCounter; 3],
    /// Slot-seconds billed for nodes that ended (Ready until their end, times their slots).
    pub billed_slot_seconds: Counter,
    pools: IntGaugeVec,
    nodes: IntGaugeVec,
    slots: IntGaugeVec,
    instances_queued: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let counter = |name: &str, help: &str| registered(r, IntCounter::new(name, help));
        let gauges = |name: &str, help: &str, label: &str| {
            registered(r, IntGaugeVec::new(Opts::new(name, help), &[label]))
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            registered(
                r,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())),
            )
        };
        let finished = registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "hearth_instances_finished_total",
                    "Instances that ended after being placed on a slot, by end state",
                ),
                &["outcome"],
            ),
        );
        Metrics {
            http_requests: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "hearth_http_requests_total",
                        "HTTP requests by status class",
                    ),
                    &["class"],
                ),
            ),
            http_request_duration: registered(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "hearth_http_request_duration_seconds",
                        "HTTP request duration by route template, method and status class",
                    )
                    .buckets(HTTP_BUCKETS.to_vec()),
                    &["route", "method", "class"],
                ),
            ),
            resize_tick_seconds: registered(
                r,
                Counter::new(
                    "hearth_resize_tick_seconds_total",
                    "Wall time spent in the resize loop's ticks",
                ),
            ),
            resize_tick_duration: histogram(
                "hearth_resize_tick_duration_seconds",
                "Wall time of each tick of the resize loop",
                TICK_BUCKETS,
            ),
            changes: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "hearth_changes_total",
                        "Committed changes announced on the change feed, by kind",
                    ),
                    &["kind"],
                ),
            ),
            changes_lost: counter(
                "hearth_changes_lost_total",
                "Changes the metrics follower of the feed fell too far behind to count",
            ),
            resize_last_tick_seconds: registered(
                r,
                Gauge::new(
                    "hearth_resize_last_tick_seconds",
                    "Wall time of the resize loop's latest tick",
                ),
            ),
            resize_last_tick_pools: registered(
                r,
                IntGauge::new(
                    "hearth_resize_last_tick_pools",
                    "Pools evaluated by the resize loop's latest tick",
                ),
            ),
            instances_dispatched: counter(
                "hearth_instances_dispatched_total",
                "Instances placed on slots",
            ),
            instances_queued_behind: counter(
                "hearth_instances_queued_behind_total",
                "Instances placed on a busy slot, to start on the node the moment it frees",
            ),
            assignments_handed: counter(
                "hearth_assignments_handed_total",
                "Assignments a woken agent poll answered as the dispatcher built them, \
                 without reading them back from the database",
            ),
            scaling_decisions: counter(
                "hearth_scaling_decisions_total",
                "Pool evaluations (an unchanged one counted on its latest decision)",
            ),
            nodes_launched: counter(
                "hearth_nodes_launched_total",
                "Nodes requested from launchers",
            ),
            submit_to_start: histogram(
                "hearth_instance_submit_to_start_seconds",
                "Seconds from a task's submission to the first start of each of its instances",
                START_BUCKETS,
            ),
            finished: [
                InstanceState::Succeeded,
                InstanceState::Failed,
                InstanceState::Cancelled,
            ]
            .map(|s| finished.with_label_values(&[&outcome_label(s)])),
            billed_slot_seconds: registered(
                r,
                Counter::new(
                    "hearth_billed_slot_seconds_total",
                    "Slot-seconds billed for nodes that ended: from Ready to their end, \
                     times their slots",
                ),
            ),
            pools: gauges("hearth_pools", "Pools by state", "state"),
            nodes: gauges("hearth_nodes", "Nodes by state", "state"),
            slots: gauges(
                "hearth_slots",
                "Slots of live nodes: busy (holding an instance), idle (free on a Ready \
                 node) or booting (of a node not Ready yet)",
                "state",
            ),
            instances_queued: registered(
                r,
                IntGauge::new(
                    "hearth_instances_queued",
                    "Instances waiting for a slot, their dependencies met",
                ),
            ),
            registry,
        }
    }

    /// Counts an instance's end; a requeue (for a retry, or from a lost node) is not one.
    pub fn instance_ended(&self, outcome: InstanceState) {
        let slot = match outcome {
            InstanceState::Succeeded => 0,
            InstanceState::Failed => 1,
            InstanceState::Cancelled => 2,
            _ => return,
        };
        self.finished[slot].inc();
    }

    /// The figures of what exists now, as a census read them; every known state is shown,
    /// so a state nothing is in reads 0 rather than its last value.
    pub fn show(&self, census: &Census) {
        let count_of = |rows: &[(String, i64)], state: &str| {
            rows.iter()
                .filter(|(s, _)| s == state)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        for s in PoolState::ALL {
            self.pools
                .with_label_values(&[s.as_str()])
                .set(count_of(&census.pools, s.as_str()));
        }
        for s in NodeState::ALL {
            self.nodes
                .with_label_values(&[s.as_str()])
                .set(count_of(&census.nodes, s.as_str()));
        }
        for (state, n) in [
            ("busy", census.slots.busy),
            ("idle", census.slots.idle),
            ("booting", census.slots.booting),
        ] {
            self.slots.with_label_values(&[state]).set(n);
        }
        self.instances_queued.set(census.queued);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics");
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The `outcome` label of an end state: its wire name in lower case.
fn outcome_label(s: InstanceState) -> String {
    s.as_str().to_ascii_lowercase()
}

/// A metric of a static definition, registered once.
fn registered<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("static metric definition");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric registered once");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What exists now, as `engine::census` reads it from the database at a scrape.
/// Slots of live nodes by use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SlotCounts {
    /// Holding an instance (assigned or executing), on a Ready or Draining node.
    pub busy: i64,
    /// Free on a Ready node: work placed now starts at once.
    pub idle: i64,
    /// Of a node Requested or Booting.
    pub booting: i64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Census {
    /// (state, pools in it); states with none are absent.
    pub pools: Vec<(String, i64)>,
    /// (state, nodes in it); states with none are absent.
    pub nodes: Vec<(String, i64)>,
    pub slots: SlotCounts,
    /// Instances waiting for a slot with their dependencies met (not held), in pools that
    /// are not Closed (a closed pool has no queue).
    pub queued: i64,
}
