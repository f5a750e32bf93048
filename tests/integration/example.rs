//! The minimal examples in `examples/` (actix-web and axum) sign in and out against the provider,
//! as a newcomer who copies one would: one story, run against each.

use std::net::TcpListener;

use actix_web::cookie::Key;
use logto_client::{ClientSecret, LogtoConfig, Url};
use logto_test_provider::{TestClient, TestProvider, complete_authorization, http_client};
use reqwest::StatusCode;

use crate::helpers::app::{DEMO, hidden_input, location, text_at};

#[allow(dead_code)]
#[path = "../../examples/minimal.rs"]
mod minimal;

#[allow(dead_code)]
#[path = "../../examples/axum_minimal.rs"]
mod axum_minimal;

#[tokio::test]
async fn the_minimal_actix_example_signs_in_shows_the_profile_and_signs_out() {
    let provider = TestProvider::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let config = register(&provider, &base).await;
    tokio::spawn(minimal::serve(listener, config, Key::generate()).unwrap());
    signs_in_shows_the_profile_and_signs_out(&provider, &base).await;
}

#[tokio::test]
async fn the_minimal_axum_example_signs_in_shows_the_profile_and_signs_out() {
    let provider = TestProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let config = register(&provider, &base).await;
    let app = axum_minimal::app(config, logto_axum::Key::generate()).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    signs_in_shows_the_profile_and_signs_out(&provider, &base).await;
}

/// Registers the example at `base` with the provider; its configuration.
async fn register(provider: &TestProvider, base: &str) -> LogtoConfig {
    let app = TestClient {
        client_id: "example-app".into(),
        client_secret: "example-secret-0123456789".into(),
        redirect_uris: vec![format!("{base}/callback")],
        post_logout_redirect_uris: vec![format!("{base}/")],
        backchannel_logout_uri: None,
    };
    provider.register_client(&app).await;
    LogtoConfig::builder(
        Url::parse(&provider.endpoint()).unwrap(),
        app.client_id.clone(),
        ClientSecret::new(app.client_secret.clone()),
        Url::parse(&app.redirect_uris[0]).unwrap(),
    )
    .post_sign_out_redirect_uri(Url::parse(&app.post_logout_redirect_uris[0]).unwrap())
    .build()
}

async fn signs_in_shows_the_profile_and_signs_out(provider: &TestProvider, base: &str) {
    let browser = http_client();
    let profile = browser.get(format!("{base}/profile")).send().await.unwrap();
    assert_eq!(
        location(&profile),
        "/sign-in?return_to=%2Fprofile",
        "signed out: sign in first"
    );
    let start = browser
        .get(format!("{base}/sign-in?return_to=%2Fprofile"))
        .send()
        .await
        .unwrap();
    let callback = complete_authorization(&browser, &location(&start), DEMO).await;
    let finished = browser.get(callback).send().await.unwrap();
    assert_eq!(location(&finished), "/profile", "back where the visitor was going");
    let page = text_at(&browser, format!("{base}/profile")).await;
    assert!(page.contains("user-demo"), "{page}");
    let home = text_at(&browser, format!("{base}/")).await;
    assert!(home.contains("Signed in as Demo User"), "{home}");

    let csrf = hidden_input(&home, "csrf_token").expect("the sign-out form");
    let signed_out = browser
        .post(format!("{base}/sign-out"))
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&signed_out).starts_with(&provider.endpoint()),
        "on to Logto's end session"
    );
    let home = text_at(&browser, format!("{base}/")).await;
    assert!(home.contains("Sign in"), "{home}");
    assert_eq!(provider.stats().await.revocations, 1, "the refresh token was revoked");
}
