//! `SESSION_STORE=redis`: the cookie holds only a session id, sessions survive a restart and
//! are shared by every instance, and signing out deletes the session server-side.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE};

use crate::helpers::app::{
    Adapter, AppOptions, DEMO, TestApp, cookie_pair, location, session_set_cookie, text_at, unescape_html,
};
use crate::helpers::redis::TestRedis;

fn redis_options(adapter: Adapter, redis: &TestRedis) -> AppOptions {
    AppOptions {
        adapter,
        env: vec![("SESSION_STORE", "redis".into()), ("REDIS_URL", redis.url.clone())],
        ..Default::default()
    }
}

for_each_adapter!(with_redis_the_cookie_holds_only_an_id_and_the_session_survives_a_restart);
async fn with_redis_the_cookie_holds_only_an_id_and_the_session_survives_a_restart(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let first = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    let response = first.sign_in_as_demo().await;
    let cookie = session_set_cookie(&response).unwrap();
    let value = cookie_pair(&cookie);
    assert!(value.len() < 200, "only an id travels: {} bytes", value.len());

    // A second instance (or the same app after a restart) with the same secret and Redis.
    let second = TestApp::spawn_on(first.provider.clone(), redis_options(adapter, &redis)).await;
    let home = text_at(&first.http, second.url("/")).await;
    assert!(home.contains("Signed in as Demo User"), "{home}");
}

for_each_adapter!(with_redis_signing_out_kills_a_copied_cookie_too);
async fn with_redis_signing_out_kills_a_copied_cookie_too(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    let response = app.sign_in_as_demo().await;
    let stolen = session_set_cookie(&response).unwrap();
    let stolen = cookie_pair(&stolen).to_owned();

    let csrf = app.csrf_token().await;
    assert_eq!(
        app.post_sign_out(&format!("csrf_token={csrf}")).await.status(),
        StatusCode::SEE_OTHER
    );

    let other_browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let home = other_browser
        .get(app.url("/"))
        .header(COOKIE, stolen)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!home.contains("Demo User"), "the server-side session is gone");
}

#[tokio::test]
async fn with_redis_unreachable_the_app_refuses_to_start_with_a_clear_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_logto-actix"))
        .env_clear()
        .env("LOGTO_ENDPOINT", "http://127.0.0.1:9")
        .env("LOGTO_APP_ID", "app")
        .env("LOGTO_APP_SECRET", "secret")
        .env("PORT", "0")
        .env("SESSION_STORE", "redis")
        .env("REDIS_URL", &url)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("Redis session store") && stderr.contains("REDIS_URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

for_each_adapter!(signing_in_gives_the_session_a_new_id_so_a_planted_one_opens_nothing);
async fn signing_in_gives_the_session_a_new_id_so_a_planted_one_opens_nothing(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    // The session that exists before sign-in (it holds the pending sign-in): an attacker who
    // planted or read this id must not end up with the signed-in session.
    let response = app.get("/sign-in").await;
    let before = cookie_pair(&session_set_cookie(&response).expect("a session before sign-in")).to_owned();
    let callback = logto_test_provider::complete_authorization(&app.http, &location(&response), DEMO).await;
    let response = app.get_url(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = cookie_pair(&session_set_cookie(&response).expect("a session cookie at sign-in")).to_owned();
    assert_ne!(before, after, "a new session id at sign-in");
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    let planted = logto_test_provider::http_client()
        .get(app.url("/"))
        .header(COOKIE, before)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!planted.contains("Signed in as"), "the old id opens nothing");
}

for_each_adapter!(with_redis_hung_a_session_that_cannot_be_written_gets_the_503_page);
async fn with_redis_hung_a_session_that_cannot_be_written_gets_the_503_page(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    redis.hang();
    // No cookie, so nothing is read; starting a sign-in writes a new session, and that write is
    // what fails: the session middleware's own error, which must still become a page.
    let started = Instant::now();
    let response = app
        .http
        .get(app.url("/sign-in"))
        .header(ACCEPT_LANGUAGE, "es")
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    redis.wake();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    assert!(response.headers().contains_key("content-security-policy"));
    assert!(response.headers().get("set-cookie").is_none());
    let page = unescape_html(&response.text().await.unwrap());
    // The axum example's pages are in English only (CONTRACT, "The axum example").
    let words = match adapter {
        Adapter::Actix => "No disponible",
        Adapter::Axum => "Temporarily unavailable",
    };
    assert!(page.contains(words), "{page}");
}
