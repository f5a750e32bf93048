//! Back-channel logout: when the user's Logto session ends elsewhere, Logto tells the app, and the
//! app's session ends too — even though it lives in a cookie the server cannot reach.

use reqwest::StatusCode;

use crate::helpers::app::{AppOptions, TestApp};
use logto_test_provider::complete_end_session;

#[tokio::test]
async fn signing_out_at_logto_elsewhere_ends_the_app_session() {
    let app = TestApp::spawn_with(AppOptions {
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    // The user ends their Logto session without going through this app.
    let end_session = format!(
        "{}/session/end?client_id={}&post_logout_redirect_uri={}",
        app.provider.issuer(),
        app.client_id,
        url::form_urlencoded::byte_serialize(app.url("/").as_bytes()).collect::<String>()
    );
    complete_end_session(&app.http, &end_session).await;

    assert!(app.is_signed_out().await, "Logto's logout token ended the app session");
    assert_eq!(app.get("/profile").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_forged_or_missing_logout_token_is_refused_and_ends_nothing() {
    let app = TestApp::spawn_with(AppOptions {
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
