//! What operators rely on: `logto-actix check`, `/readyz`, the metrics listener, and a graceful
//! stop on SIGTERM. The binary runs as a real process where it matters (its exit status, its
//! signals, its process-wide metrics recorder).

use std::time::{Duration, Instant};

use logto_test_provider::{FailMode, TestProvider, complete_authorization, http_client};
use reqwest::StatusCode;

use crate::helpers::app::{Adapter, AppOptions, DEMO, TestApp, location};
use crate::helpers::binary::{BinaryEnv, closed_endpoint, free_port};
use crate::helpers::redis::TestRedis;

const DISCOVERY: &str = "/oidc/.well-known/openid-configuration";

/// The `FAIL` lines of `check`'s output.
fn failures(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.starts_with("FAIL")).collect()
}

#[tokio::test]
async fn check_passes_with_a_correct_configuration_and_prints_the_uris_to_register() {
    let provider = TestProvider::start().await;
    let redis = TestRedis::start().await;
    let mut env = BinaryEnv::register(&provider, "check").await;
    env.set("SESSION_STORE", "redis").set("REDIS_URL", &redis.url);
    let (status, output, _) = env.check().await;
    assert!(status.success(), "{output}");
    assert!(failures(&output).is_empty(), "{output}");
    for expected in [
        "ok    LOGTO_ENDPOINT: discovery answers with the issuer",
        "usable signing key",
        "ok    LOGTO_APP_ID and LOGTO_APP_SECRET",
        "ok    REDIS_URL",
        "ok    APP_BASE_URL",
    ] {
        assert!(output.contains(expected), "`{expected}` in:\n{output}");
    }
    let base = &env.base_url;
    for uri in [
        format!("Redirect URI:                  {base}/callback\n"),
        format!("Post sign-out redirect URI:    {base}/\n"),
        format!("Back-channel logout URI:       {base}/backchannel-logout\n"),
    ] {
        assert!(output.contains(&uri), "`{uri}` in:\n{output}");
    }
}

#[tokio::test]
async fn check_names_logto_app_secret_when_the_secret_is_wrong() {
    let provider = TestProvider::start().await;
    let mut env = BinaryEnv::register(&provider, "wrong-secret").await;
    env.set("LOGTO_APP_SECRET", "not-the-secret-0123456789");
    let (status, output, _) = env.check().await;
    assert!(!status.success(), "{output}");
    let failed = failures(&output);
    assert_eq!(failed.len(), 1, "{output}");
    assert!(
        failed[0].contains("LOGTO_APP_SECRET") && failed[0].contains("invalid_client"),
        "{output}"
    );
    assert!(
        !output.contains("not-the-secret"),
        "the secret is never printed:\n{output}"
    );
}

#[tokio::test]
async fn check_names_logto_endpoint_when_logto_is_down_and_answers_in_time() {
    let provider = TestProvider::start().await;
    let mut env = BinaryEnv::register(&provider, "logto-down").await;
    env.set("LOGTO_ENDPOINT", closed_endpoint());
    let (status, output, _) = env.check().await;
    assert!(!status.success(), "{output}");
    let failed = failures(&output);
    assert_eq!(failed.len(), 1, "{output}");
    assert!(failed[0].contains("LOGTO_ENDPOINT"), "{output}");
    assert!(
        output.contains("Redirect URI:"),
        "the URIs are printed anyway:\n{output}"
    );

    // A Logto that never answers: the check still ends within the contract's bound.
    provider.fail(DISCOVERY, FailMode::Hang, None).await;
    env.set("LOGTO_ENDPOINT", provider.endpoint())
        .set("LOGTO_HTTP_TIMEOUT_SECS", "2");
    let (status, output, took) = env.check().await;
    assert!(!status.success(), "{output}");
    assert!(
        failures(&output).iter().any(|l| l.contains("LOGTO_ENDPOINT")),
        "{output}"
    );
    assert!(took < Duration::from_secs(2 + 5), "check took {took:?}");
}

#[tokio::test]
async fn check_names_redis_url_when_redis_is_down() {
    let provider = TestProvider::start().await;
    let mut env = BinaryEnv::register(&provider, "redis-down").await;
    env.set("SESSION_STORE", "redis")
        .set("REDIS_URL", format!("redis://127.0.0.1:{}", free_port()));
    let (status, output, _) = env.check().await;
    assert!(!status.success(), "{output}");
    let failed = failures(&output);
    assert_eq!(failed.len(), 1, "{output}");
    assert!(failed[0].contains("REDIS_URL"), "{output}");
}

for_each_adapter!(readyz_is_503_while_logto_is_down_and_200_once_it_is_back);
async fn readyz_is_503_while_logto_is_down_and_200_once_it_is_back(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    app.provider.fail(DISCOVERY, FailMode::Status500, None).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reason = response.text().await.unwrap();
    assert!(reason.contains("discovery"), "{reason}");
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "liveness is not readiness"
    );
    // A load balancer polling a broken instance does not turn into a stream of requests to Logto.
    for _ in 0..10 {
        assert_eq!(app.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let fetches = app.provider.stats().await.requests.get(DISCOVERY).copied().unwrap_or(0);
    assert!((1..=3).contains(&fetches), "{fetches} discovery fetches for 11 probes");

    app.provider.clear_failures().await;
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/readyz").await.status() == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "/readyz answers 200 once Logto is back, without a restart");
}

for_each_adapter!(readyz_is_503_while_redis_is_down);
async fn readyz_is_503_while_redis_is_down(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![("SESSION_STORE", "redis".into()), ("REDIS_URL", redis.url.clone())],
        ..Default::default()
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    drop(redis);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("Redis"));
}

/// A sample's value in Prometheus's text format (0 when absent).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only_and_count_sign_ins() {
    let provider = TestProvider::start().await;
    let mut env = BinaryEnv::register(&provider, "metrics").await;
    let metrics_url = format!("http://127.0.0.1:{}/metrics", free_port());
    env.set(
        "METRICS_ADDR",
        metrics_url.trim_start_matches("http://").trim_end_matches("/metrics"),
    );
    let app = env.serve().await;
    let http = http_client();

    assert_eq!(
        http.get(app.url("/metrics")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "never on the public port"
    );
    let read = async || {
        let response = http.get(&metrics_url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    let finished = r#"logto_sign_ins_finished_total{way="/sign-in"}"#;
    let started = r#"logto_sign_ins_started_total{way="/sign-in"}"#;
    let before = read().await;

    let start = http.get(app.url("/sign-in?return_to=/profile")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let callback = complete_authorization(&http, &location(&start), DEMO).await;
    assert_eq!(http.get(callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);

    let after = read().await;
    assert_eq!(sample(&after, finished), sample(&before, finished) + 1.0, "{after}");
    assert_eq!(sample(&after, started), sample(&before, started) + 1.0, "{after}");
    assert!(
        after.contains(r#"logto_client_request_duration_seconds_bucket{endpoint="token","#),
        "{after}"
    );
    assert!(
        after.contains(r#"http_requests_total{route="/callback",status="303"}"#),
        "{after}"
    );
    // Raw paths never become labels.
    assert!(!after.contains("return_to"), "{after}");
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_and_the_process_exits_0() {
    stop_with_a_request_in_flight("TERM").await;
}

#[tokio::test]
async fn sigint_too_lets_a_request_in_flight_finish_and_the_process_exits_0() {
    stop_with_a_request_in_flight("INT").await;
}

async fn stop_with_a_request_in_flight(signal: &str) {
    let provider = TestProvider::start().await;
    let mut env = BinaryEnv::register(&provider, "sigterm").await;
    env.set("LOGTO_HTTP_TIMEOUT_SECS", "3");
    let mut app = env.serve().await;
    provider.fail(DISCOVERY, FailMode::Hang, None).await;

    // A slow request: sign-in waits for discovery until the 3 s timeout, then answers 502.
    let http = http_client();
    let url = app.url("/sign-in");
    let slow = tokio::spawn(async move { http.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let signalled = Instant::now();
    app.signal(signal);

    let status = slow.await.unwrap().expect("the request in flight gets its answer");
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (exit, stderr) = app.wait(Duration::from_secs(20)).await;
    assert!(exit.success(), "exit {exit}:\n{stderr}");
    assert!(signalled.elapsed() < Duration::from_secs(20));
    assert!(stderr.contains("logto-actix stopped"), "{stderr}");
    assert!(stderr.contains("started: store cookie, issuer"), "{stderr}");
    assert!(stderr.contains(&format!("SIG{signal} received")), "{stderr}");
}

#[tokio::test]
async fn with_redis_down_every_failure_is_counted_and_the_log_stays_a_few_lines() {
    let provider = TestProvider::start().await;
    let mut redis = TestRedis::start().await;
    let mut env = BinaryEnv::register(&provider, "redis-down").await;
    let metrics_url = format!("http://127.0.0.1:{}/metrics", free_port());
    env.set("SESSION_STORE", "redis").set("REDIS_URL", &redis.url).set(
        "METRICS_ADDR",
        metrics_url.trim_start_matches("http://").trim_end_matches("/metrics"),
    );
    let mut app = env.serve().await;
    let http = http_client();
    let start = http.get(app.url("/sign-in")).send().await.unwrap();
    let callback = complete_authorization(&http, &location(&start), DEMO).await;
    assert_eq!(http.get(callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let read = async || http.get(&metrics_url).send().await.unwrap().text().await.unwrap();
    let errors = "logto_session_store_errors_total";
    let before = sample(&read().await, errors);

    redis.stop().await;
    // An outage of a few seconds: forty signed-in pages and four readiness probes, each answered
    // 503. Unthrottled, each would write a line (over 40); throttled, one a second per kind.
    const PAGES: usize = 40;
    let outage = Instant::now();
    for i in 0..PAGES {
        let response = http.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        if i % 10 == 0 {
            assert_eq!(
                http.get(app.url("/readyz")).send().await.unwrap().status(),
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lasted = outage.elapsed();
    let after = sample(&read().await, errors);
    assert!(
        after - before >= (PAGES + 4) as f64,
        "each failed call is counted: {before} then {after}"
    );

    app.signal("TERM");
    let (_, stderr) = app.wait(Duration::from_secs(20)).await;
    // The store's failures name it by its setting; at most one line per kind each second.
    let lines = stderr.lines().filter(|line| line.contains("REDIS_URL")).count();
    let bound = 2 * (lasted.as_secs() as usize + 2);
    eprintln!(
        "{} store errors counted, {lines} log lines in {lasted:?}",
        after - before
    );
    assert!(
        (1..=bound).contains(&lines),
        "{lines} log lines about Redis for {} failed requests in {lasted:?}:\n{stderr}",
        PAGES + 4
    );
    assert!(
        stderr.contains("more like it in the last 1 s not logged"),
        "a line says how many were left out: {stderr}"
    );
}
