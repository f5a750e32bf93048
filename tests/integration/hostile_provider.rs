//! A provider that hangs: every call to Logto has a timeout, the visitor gets a 502 page, and the
//! app serves other requests meanwhile. (The provider that lies — forged ID tokens, userinfo
//! about someone else — is refused by logto-client: see its tests.)

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::app::{AppOptions, DEMO, TestApp};
use logto_test_provider::FailMode;

#[tokio::test]
async fn every_call_to_logto_that_hangs_gives_up_with_a_502_while_other_pages_serve() {
    let app = TestApp::spawn_with(AppOptions {
        http_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    })
    .await;
    // Discovery hangs: starting a sign-in fails, and the next one works.
    app.provider
        .fail("/oidc/.well-known/openid-configuration", FailMode::Hang, Some(1))
        .await;
    let (hung, health) = tokio::join!(app.get("/sign-in"), served_meanwhile(&app));
    assert_eq!(health, StatusCode::OK, "discovery hangs");
    assert_eq!(hung.status(), StatusCode::BAD_GATEWAY, "discovery hangs");
    // A failed call to discovery or the keys is answered for a moment without asking again.
    let retry = logto_client::LogtoClient::RETRY_AFTER_FAILURE + Duration::from_millis(300);
    tokio::time::sleep(retry).await;

    // The JWKS or userinfo hangs while the callback is being finished.
    for path in ["/oidc/jwks", "/oidc/me"] {
        let callback = app.authorize("/sign-in", DEMO).await;
        app.provider.fail(path, FailMode::Hang, Some(1)).await;
        let (hung, health) = tokio::join!(app.get_url(&callback), served_meanwhile(&app));
        assert_eq!(health, StatusCode::OK, "{path} hangs");
        assert_eq!(hung.status(), StatusCode::BAD_GATEWAY, "{path} hangs");
        assert!(app.is_signed_out().await, "{path} hangs");
        tokio::time::sleep(retry).await;
    }

    // Revocation hangs at sign-out: the local session ends anyway.
    app.sign_in_as_demo().await;
    let csrf = app.csrf_token().await;
    app.provider
        .fail("/oidc/token/revocation", FailMode::Hang, Some(1))
        .await;
    let response = app.post_sign_out(&format!("csrf_token={csrf}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(app.is_signed_out().await);
}

/// The status of /healthz, asked while another request is under way.
async fn served_meanwhile(app: &TestApp) -> StatusCode {
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.get("/healthz").await.status()
}
