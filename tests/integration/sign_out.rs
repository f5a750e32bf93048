//! Signing out: the local session ends, the refresh token is revoked, and Logto's session ends.

use reqwest::StatusCode;

use crate::helpers::app::{Adapter, TestApp, location, query_of};
use logto_test_provider::complete_end_session;

for_each_adapter!(signing_out_revokes_the_refresh_token_and_ends_the_logto_session);
async fn signing_out_revokes_the_refresh_token_and_ends_the_logto_session(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    app.sign_in_as_demo().await;
    let csrf = app.csrf_token().await;
    let before = app.provider.stats().await;

    let response = app.post_sign_out(&format!("csrf_token={csrf}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = location(&response);
    assert!(
        end_session.starts_with(&format!("{}/session/end?", app.provider.issuer())),
        "{end_session}"
    );
    let params = query_of(&end_session);
    assert_eq!(params["client_id"], vec![app.client_id.clone()]);
    assert_eq!(params["post_logout_redirect_uri"], vec![app.url("/")]);

    // Signed out here at once, whatever happens at Logto next.
    assert!(app.is_signed_out().await);
    let after = app.provider.stats().await;
    assert_eq!(
        after.revocations,
        before.revocations + 1,
        "the refresh token was revoked"
    );

    let back = complete_end_session(&app.http, &end_session).await;
    assert_eq!(back.as_str(), app.url("/"));
    assert!(app.provider.stats().await.end_sessions >= 1);
    assert!(app.is_signed_out().await);
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);
}

for_each_adapter!(the_sign_out_page_asks_before_signing_out);
async fn the_sign_out_page_asks_before_signing_out(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    assert_eq!(location(&app.get("/sign-out").await), "/", "nothing to sign out of");

    app.sign_in_as_demo().await;
    let page = app.page("/sign-out").await;
    assert!(page.contains("Sign out?"));
    assert!(page.contains("method=\"post\""));
    // Showing the page changed nothing.
    assert!(app.page("/").await.contains("Signed in as Demo User"));
}

for_each_adapter!(a_sign_out_without_the_forms_csrf_token_is_refused_and_the_session_kept);
async fn a_sign_out_without_the_forms_csrf_token_is_refused_and_the_session_kept(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    app.sign_in_as_demo().await;

    for body in ["", "csrf_token=", "csrf_token=forged-token-value"] {
        let response = app.post_sign_out(body).await;
        // Asked again on the sign-out page (a stale tab looks the same), signed out of nothing.
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "body {body:?}");
        assert_eq!(location(&response), "/sign-out", "body {body:?}");
    }
    assert!(app.page("/").await.contains("Signed in as Demo User"));
    assert_eq!(app.provider.stats().await.revocations, 0);
}

for_each_adapter!(a_csrf_token_from_another_browsers_session_is_refused);
async fn a_csrf_token_from_another_browsers_session_is_refused(adapter: Adapter) {
    let mut app = TestApp::start(adapter).await;
    app.sign_in_as_demo().await;
    let attackers_token = app.csrf_token().await;

    // The victim signs in in another browser; a forged form carries the attacker's own valid token.
    app.http = logto_test_provider::http_client();
    app.sign_in_as_demo().await;
    let response = app.post_sign_out(&format!("csrf_token={attackers_token}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-out");
    assert!(app.page("/").await.contains("Signed in as Demo User"));
    assert_eq!(app.provider.stats().await.revocations, 0);
}
