//! Prometheus metrics, served on their own listener (`METRICS_ADDR`), never on the public port.
//!
//! The libraries count through the `metrics` facade (as they log through `log`); the app
//! installs the Prometheus recorder once per process, counts requests by matched route pattern
//! and status, and renders the text format on `/metrics`.

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests served on the public port, by route pattern and status.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time to answer requests on the public port, by route pattern, in seconds.
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";

/// Histogram buckets for durations, in seconds: from a cached page to a Logto call at its timeout.
const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// How often histograms are drained when nobody scrapes, so that they stay small.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder: installed on first use, shared by every app in the
/// process (a `metrics` recorder is global).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &DURATION_BUCKETS)
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours counts nothing,
            // which the operator sees as an empty `/metrics`, and the log says why.
            if let Err(e) = metrics::set_global_recorder(recorder) {
                log::error!("metrics: cannot install the Prometheus recorder: {e}");
            }
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| log::error!("metrics: cannot start the upkeep thread: {e}"))
                .ok();
            handle
        })
        .clone()
}

/// The metrics server on its own listener: `GET /metrics`, and 404 for anything else. It stops
/// when the app's server stops (signals are the app server's).
pub fn serve(listener: TcpListener, handle: PrometheusHandle) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        let handle = handle.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let body = handle.render();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4; charset=utf-8")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// Counts each request by its matched route pattern (never the raw path: that is the visitor's)
/// and its final status.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (res.request().match_pattern(), res.status()),
        Err(e) => (None, e.as_response_error().status_code()),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route.clone()).record(started.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => status.as_str().to_owned()).increment(1);
    result
}
