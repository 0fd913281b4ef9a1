//! Logging setup and a middleware that counts and times requests by route template, method
//! and status class.

use std::future::{Ready, ready};
use std::pin::Pin;

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::web;

use crate::metrics::UNMATCHED_ROUTE;

use crate::state::AppState;

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // stdout is for what the user asked for (the URL and token of `serve`).
        .with_writer(std::io::stderr)
        .try_init();
}

pub struct RequestMetrics;

impl<S, B> Transform<S, ServiceRequest> for RequestMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestMetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestMetricsService { service }))
    }
}

pub struct RequestMetricsService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestMetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let started = std::time::Instant::now();
        let fut = self.service.call(req);
        Box::pin(async move {
            let res = fut.await?;
            if let Some(state) = state {
                let class = match res.status().as_u16() {
                    100..=299 => "2xx",
                    300..=399 => "3xx",
                    400..=499 => "4xx",
                    _ => "5xx",
                };
                let request = res.request();
                // The template (`/pools/{uuid}`), never the path: one series per route.
                let route = request.match_pattern();
                let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
                let m = &state.metrics;
                m.http_requests.with_label_values(&[class]).inc();
                m.http_request_duration
                    .with_label_values(&[route, method_label(request.method()), class])
                    .observe(started.elapsed().as_secs_f64());
            }
            Ok(res)
        })
    }
}

/// A method's label: the standard ones by name, anything else as `other`, so that a client
/// inventing methods cannot add series.
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ]
    .iter()
    .zip(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    .find(|(m, _)| *m == method)
    .map_or("other", |(_, label)| label)
}
