//! Prometheus metrics served at `/metrics`.

use prometheus::{
    Counter, Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
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
    /// Changes announced on the feed, by kind; and those a lagging follower lost.
    pub changes: IntCounterVec,
    pub changes_lost: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "hearth_http_requests_total",
                    "HTTP requests by status class",
                ),
                &["class"],
            ),
        );
        let counter = |name: &str, help: &str| registered(&registry, IntCounter::new(name, help));
        let resize_last_tick_seconds = registered(
            &registry,
            Gauge::new(
                "hearth_resize_last_tick_seconds",
                "Wall time of the resize loop's latest tick",
            ),
        );
        let resize_last_tick_pools = registered(
            &registry,
            IntGauge::new(
                "hearth_resize_last_tick_pools",
                "Pools evaluated by the resize loop's latest tick",
            ),
        );
        let changes = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "hearth_changes_total",
                    "Committed changes announced on the change feed, by kind",
                ),
                &["kind"],
            ),
        );
        let resize_tick_seconds = registered(
            &registry,
            Counter::new(
                "hearth_resize_tick_seconds_total",
                "Wall time spent in the resize loop's ticks",
            ),
        );
        Metrics {
            resize_tick_seconds,
            changes,
            changes_lost: counter(
                "hearth_changes_lost_total",
                "Changes the metrics follower of the feed fell too far behind to count",
            ),
            resize_last_tick_seconds,
            resize_last_tick_pools,
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
            registry,
            http_requests,
        }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics");
        String::from_utf8(out).unwrap_or_default()
    }
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
