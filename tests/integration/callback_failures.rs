//! Every way a callback can be wrong ends signed out, with the right status and a page a
//! person understands.

use reqwest::StatusCode;

use crate::helpers::app::{Adapter, DEMO, TestApp, query_of, text_at, with_param};
use logto_test_provider::FailMode;

/// Visits `callback` and checks the refusal: status, a readable page, still signed out.
async fn assert_refused(app: &TestApp, callback: &str, status: StatusCode, says: &str) {
    let response = app.get_url(callback).await;
    assert_eq!(response.status(), status, "{callback}");
    let page = response.text().await.unwrap();
    assert!(page.contains(says), "the page says {says:?}: {page}");
    assert!(page.contains("href=\"/\""), "the page offers a way back");
    assert!(app.is_signed_out().await, "still signed out after {callback}");
}

for_each_adapter!(a_callback_with_a_wrong_or_missing_state_is_refused);
async fn a_callback_with_a_wrong_or_missing_state_is_refused(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let callback = app.authorize("/sign-in", DEMO).await;
    assert_refused(
        &app,
        &with_param(&callback, "state", Some("not-the-state")),
        StatusCode::BAD_REQUEST,
        "not valid",
    )
    .await;
    assert_refused(
        &app,
        &with_param(&callback, "state", None),
        StatusCode::BAD_REQUEST,
        "not valid",
    )
    .await;
}

for_each_adapter!(a_callback_naming_another_issuer_is_refused);
async fn a_callback_naming_another_issuer_is_refused(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let callback = app.authorize("/sign-in", DEMO).await;
    assert!(
        query_of(&callback).contains_key("iss"),
        "the provider sends iss (RFC 9207)"
    );
    let mixed_up = with_param(&callback, "iss", Some("https://evil.example/oidc"));
    assert_refused(&app, &mixed_up, StatusCode::BAD_REQUEST, "not valid").await;
    // The state was spent by the refused attempt: the genuine callback cannot be used after it.
    assert_refused(&app, &callback, StatusCode::BAD_REQUEST, "not valid").await;
    assert_eq!(
        app.provider
            .stats()
            .await
            .grants
            .get("authorization_code")
            .copied()
            .unwrap_or(0),
        0
    );
}

for_each_adapter!(a_cancelled_sign_in_says_so);
async fn a_cancelled_sign_in_says_so(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let authorize = app.start_sign_in("/sign-in").await;
    let state = &query_of(&authorize)["state"][0];
    let cancelled = format!(
        "{}?error=access_denied&error_description=End-User+aborted+interaction&state={state}&iss={}",
        app.url("/callback"),
        urlencode(&app.provider.issuer())
    );
    // Cancelling is the visitor's choice, not an error: back home, signed out, told so in words.
    let response = app.get_url(&cancelled).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::app::location(&response), "/?notice=cancelled");
    let home = app.page("/?notice=cancelled").await;
    assert!(home.contains("Sign-in cancelled"), "{home}");
    assert!(home.contains("You cancelled signing in, so you are still signed out."));
    assert!(app.is_signed_out().await);
    // The state was spent: the same cancellation cannot be replayed into anything else.
    assert_refused(&app, &cancelled, StatusCode::BAD_REQUEST, "not valid").await;
}

for_each_adapter!(a_replayed_callback_is_refused_in_the_same_and_in_another_browser);
async fn a_replayed_callback_is_refused_in_the_same_and_in_another_browser(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let callback = app.authorize("/sign-in", DEMO).await;
    assert_eq!(app.get_url(&callback).await.status(), StatusCode::SEE_OTHER);

    // The same browser, now signed in (a reload, a second tab): home, and nothing redeemed again.
    let replay = app.get_url(&callback).await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::app::location(&replay), "/");

    // An attacker who captured the URL has no pending sign-in in their browser.
    let attacker = logto_test_provider::http_client();
    let response = attacker.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let home = text_at(&attacker, app.url("/")).await;
    assert!(!home.contains("Demo User"));
    assert_eq!(
        app.provider.stats().await.grants.get("authorization_code").copied(),
        Some(1),
        "the code was redeemed once"
    );
}

for_each_adapter!(a_callback_without_a_code_or_without_a_started_sign_in_is_refused);
async fn a_callback_without_a_code_or_without_a_started_sign_in_is_refused(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let callback = app.authorize("/sign-in", DEMO).await;
    assert_refused(
        &app,
        &with_param(&callback, "code", None),
        StatusCode::BAD_REQUEST,
        "not valid",
    )
    .await;
    assert_refused(&app, &app.url("/callback"), StatusCode::BAD_REQUEST, "not valid").await;
    assert_refused(
        &app,
        &app.url("/callback?code=x&state=y&state=z"),
        StatusCode::BAD_REQUEST,
        "not valid",
    )
    .await;
    let huge = app.url(&format!("/callback?code={}&state=s", "a".repeat(9000)));
    let response = app.get_url(&huge).await;
    assert!(response.status().is_client_error(), "{}", response.status());
}

for_each_adapter!(a_failing_token_endpoint_gives_a_502_page_and_leaves_the_visitor_signed_out);
async fn a_failing_token_endpoint_gives_a_502_page_and_leaves_the_visitor_signed_out(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    for mode in [FailMode::Status500, FailMode::Garbage, FailMode::ErrorJson] {
        let callback = app.authorize("/sign-in", DEMO).await;
        app.provider.fail("/oidc/token", mode, Some(1)).await;
        assert_refused(&app, &callback, StatusCode::BAD_GATEWAY, "not answering").await;
    }
}

for_each_adapter!(a_hanging_token_endpoint_times_out_with_a_502_while_other_pages_still_serve);
async fn a_hanging_token_endpoint_times_out_with_a_502_while_other_pages_still_serve(adapter: Adapter) {
    let app = TestApp::spawn_with(crate::helpers::app::AppOptions {
        adapter,
        http_timeout: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    })
    .await;
    let callback = app.authorize("/sign-in", DEMO).await;
    app.provider.fail("/oidc/token", FailMode::Hang, Some(1)).await;
    let (hung, health) = tokio::join!(app.get_url(&callback), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        app.get("/healthz").await
    });
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(hung.status(), StatusCode::BAD_GATEWAY);
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
