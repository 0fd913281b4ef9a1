//! Prometheus metrics served at `/metrics`.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "hearth_http_requests_total",
                "HTTP requests by status class",
            ),
            &["class"],
        )
        .expect("static metric definition");
        registry
            .register(Box::new(http_requests.clone()))
            .expect("metric registered once");
        Metrics {
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

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
