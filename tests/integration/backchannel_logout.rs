//! Back-channel logout: when the user's Logto session ends elsewhere, Logto tells the app, and the
//! app's session ends too — even though it lives in a cookie the server cannot reach.

use reqwest::StatusCode;

use crate::helpers::app::{Adapter, AppOptions, TestApp};

for_each_adapter!(signing_out_at_logto_elsewhere_ends_the_app_session);
async fn signing_out_at_logto_elsewhere_ends_the_app_session(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    // The user ends their Logto session without going through this app.
    app.end_logto_session_elsewhere().await;

    assert!(app.is_signed_out().await, "Logto's logout token ended the app session");
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);
}

for_each_adapter!(with_the_session_required_logto_names_its_session_and_that_app_session_ends);
async fn with_the_session_required_logto_names_its_session_and_that_app_session_ends(adapter: Adapter) {
    // Logto's "is session required": the ID token carries `sid`, and the logout token names
    // that Logto session; the app must find its sessions by it (a logout by `sub` alone then
    // ends only sessions without a `sid`).
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        backchannel_logout: true,
        logout_sid_required: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    app.end_logto_session_elsewhere().await;

    assert!(app.is_signed_out().await, "the logout by sid ended the app session");
}

for_each_adapter!(a_forged_or_missing_logout_token_is_refused_and_ends_nothing);
async fn a_forged_or_missing_logout_token_is_refused_and_ends_nothing(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    let outsider = logto_test_provider::http_client();
    for body in [
        "",
        "logout_token=not-a-jwt",
        "logout_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLWRlbW8ifQ.",
    ] {
        let response = outsider
            .post(app.url("/backchannel-logout"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "body {body:?}");
    }
    assert!(app.page("/").await.contains("Signed in as Demo User"));
}

for_each_adapter!(a_logout_token_id_seen_before_changes_nothing_and_an_untyped_token_is_refused);
async fn a_logout_token_id_seen_before_changes_nothing_and_an_untyped_token_is_refused(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    let typed = serde_json::json!({ "typ": "logout+jwt" });

    // Valid in every way but its `typ`: refused, the session stays.
    let untyped = app
        .logout_token(serde_json::json!({}), "jti-untyped", "user-demo")
        .await;
    assert_eq!(app.post_logout_token(&untyped).await, StatusCode::BAD_REQUEST);
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    // A genuine logout of someone else, then its `jti` again on a token naming the demo user:
    // a replay, which changes nothing.
    let other = app.logout_token(typed.clone(), "jti-once", "user-someone-else").await;
    assert_eq!(app.post_logout_token(&other).await, StatusCode::OK);
    let replayed = app.logout_token(typed.clone(), "jti-once", "user-demo").await;
    assert_eq!(app.post_logout_token(&replayed).await, StatusCode::OK);
    assert!(
        app.page("/").await.contains("Signed in as Demo User"),
        "a token id seen before ended a session"
    );

    // The same token with a fresh `jti` is honoured.
    let fresh = app.logout_token(typed, "jti-fresh", "user-demo").await;
    assert_eq!(app.post_logout_token(&fresh).await, StatusCode::OK);
    assert!(app.is_signed_out().await);
}
