//! A provider that lies: every ID token or userinfo answer the OpenID Foundation's RP conformance
//! tests would send to catch a careless app is refused, the visitor stays signed out and the app
//! keeps serving. What an honest provider may do (rotate its key, omit `kid` with a single key)
//! is accepted. Every call to Logto has a timeout, and the app serves other requests meanwhile.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::app::{AppOptions, DEMO, TestApp};
use crate::helpers::op::{FailMode, ForgedIdToken, Kid, SignWith, http_client, unix_now};

/// Signs in at the provider, has the next ID token forged, visits the callback, and checks
/// that the sign-in is refused with a 502 page while the app goes on serving.
async fn assert_forgery_refused(app: &TestApp, case: &str, forged: ForgedIdToken) {
    let callback = app.authorize("/sign-in", DEMO).await;
    app.provider.forge_next_id_token(&forged).await;
    let response = app.get_url(&callback).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{case}");
    let page = response.text().await.unwrap();
    assert!(page.contains("not answering"), "{case}: {page}");
    assert!(app.is_signed_out().await, "{case}: still signed out");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "{case}");
}

/// Signs in with the next ID token forged and checks that the sign-in succeeds.
async fn assert_forgery_accepted(app: &TestApp, case: &str, forged: ForgedIdToken) {
    let callback = app.authorize("/sign-in", DEMO).await;
    app.provider.forge_next_id_token(&forged).await;
    let response = app.get_url(&callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{case}");
    assert!(
        app.page("/").await.contains("Signed in as Demo User"),
        "{case}: signed in"
    );
}

fn untouched() -> ForgedIdToken {
    ForgedIdToken::default()
}

#[tokio::test]
async fn an_id_token_not_signed_with_logtos_published_key_is_refused() {
    let app = TestApp::spawn().await;
    // The same claims and kid, but signed by a key the JWKS does not publish.
    assert_forgery_refused(&app, "bad signature", untouched().signed_with(SignWith::Foreign)).await;
    assert_forgery_refused(&app, "alg none", untouched().signed_with(SignWith::Unsigned)).await;
    // The client secret is known to the app: accepting HS256 would let anyone holding it mint tokens.
    assert_forgery_refused(
        &app,
        "HS256 with the client secret",
        untouched().signed_with(SignWith::ClientSecret),
    )
    .await;
    // That forgery was the real attack: a token that verifies as HS256 under the client secret.
    let forged = app.provider.issued_secrets().await.pop().expect("the forged ID token");
    let mut hs256 = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    hs256.set_audience(&[&app.client_id]);
    let key = jsonwebtoken::DecodingKey::from_secret(app.client_secret.as_bytes());
    assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &hs256).is_ok());
    // The provider's key re-signing an untouched token is fine: the refusals above are the forgery's.
    assert_forgery_accepted(&app, "re-signed by the provider", untouched()).await;
}

#[tokio::test]
async fn an_id_token_for_another_issuer_or_another_app_is_refused() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "wrong iss",
            ForgedIdToken::with_claims(json!({ "iss": "https://evil.example/oidc" })),
        ),
        ("wrong aud", ForgedIdToken::with_claims(json!({ "aud": "another-app" }))),
        (
            "several audiences, no azp",
            ForgedIdToken::with_claims(json!({ "aud": [app.client_id, "another-app"] })).without("azp"),
        ),
        (
            "several audiences, azp of another app",
            ForgedIdToken::with_claims(json!({ "aud": [app.client_id, "another-app"], "azp": "another-app" })),
        ),
    ];
    for (case, forged) in cases {
        assert_forgery_refused(&app, case, forged).await;
    }
    // Several audiences are fine when azp says the token was issued to this app.
    assert_forgery_accepted(
        &app,
        "several audiences, azp of this app",
        ForgedIdToken::with_claims(json!({ "aud": [app.client_id, "another-app"], "azp": app.client_id })),
    )
    .await;
}

#[tokio::test]
async fn an_expired_id_token_or_one_issued_in_the_future_is_refused() {
    let app = TestApp::spawn().await;
    let now = unix_now();
    assert_forgery_refused(
        &app,
        "expired an hour ago",
        ForgedIdToken::with_claims(json!({ "iat": now - 7200, "exp": now - 3600 })),
    )
    .await;
    assert_forgery_refused(
        &app,
        "issued an hour from now",
        ForgedIdToken::with_claims(json!({ "iat": now + 3600, "exp": now + 7200 })),
    )
    .await;
}

#[tokio::test]
async fn an_id_token_without_this_sign_ins_nonce_is_refused() {
    let app = TestApp::spawn().await;
    assert_forgery_refused(&app, "no nonce", untouched().without("nonce")).await;
    assert_forgery_refused(
        &app,
        "another sign-in's nonce",
        ForgedIdToken::with_claims(json!({ "nonce": "nonce-of-another-sign-in" })),
    )
    .await;
}

#[tokio::test]
async fn an_id_token_without_kid_is_refused_when_the_jwks_has_several_keys() {
    let app = TestApp::spawn().await;
    // Two keys published: which one signed a token without `kid` is a guess the app must not make.
    app.provider.rotate_keys("ES384", true).await;
    assert_forgery_refused(&app, "no kid, two keys", untouched().kid(Kid::Drop)).await;
    // With its kid the same token is fine.
    assert_forgery_accepted(&app, "kid, two keys", untouched()).await;
}

#[tokio::test]
async fn an_id_token_without_kid_is_accepted_when_the_jwks_has_one_key() {
    let app = TestApp::spawn().await;
    assert_forgery_accepted(&app, "no kid, one key", untouched().kid(Kid::Drop)).await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused_after_one_jwks_refetch_and_cannot_make_the_app_hammer_logto() {
    let mut app = TestApp::spawn().await;
    app.sign_in_as_demo().await;
    assert_eq!(
        app.provider.jwks_fetches().await,
        1,
        "the JWKS is fetched once and cached"
    );
    // The forgeries come to a browser that is not signed in yet.
    app.http = http_client();

    let unknown = || {
        untouched()
            .signed_with(SignWith::Foreign)
            .kid(Kid::Set("kid-the-jwks-does-not-have".into()))
    };
    assert_forgery_refused(&app, "unknown kid", unknown()).await;
    assert_eq!(app.provider.jwks_fetches().await, 2, "one refetch for the unknown kid");
    for attempt in 0..3 {
        assert_forgery_refused(&app, &format!("unknown kid again ({attempt})"), unknown()).await;
    }
    assert_eq!(
        app.provider.jwks_fetches().await,
        2,
        "forged kids in a burst cause no further fetches"
    );
}

#[tokio::test]
async fn a_signing_key_rotation_is_followed_without_a_restart_and_with_one_jwks_fetch() {
    let app = TestApp::spawn().await;
    app.sign_in_as_demo().await;
    assert_eq!(app.provider.jwks_fetches().await, 1);

    // Logto rotates its key and drops the old one: the next ID token names a kid the cache lacks.
    app.provider.rotate_keys("ES384", false).await;
    app.sign_in_as_demo().await;
    assert_eq!(app.provider.jwks_fetches().await, 2, "one refetch finds the new key");
    app.sign_in_as_demo().await;
    assert_eq!(app.provider.jwks_fetches().await, 2, "the new key is cached");
}

#[tokio::test]
async fn userinfo_about_another_user_than_the_id_token_is_refused() {
    let app = TestApp::spawn().await;
    let callback = app.authorize("/sign-in", DEMO).await;
    app.provider.forge_next_userinfo(json!({ "sub": "user-hf" })).await;
    let response = app.get_url(&callback).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(app.is_signed_out().await);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

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

    // The JWKS or userinfo hangs while the callback is being finished.
    for path in ["/oidc/jwks", "/oidc/me"] {
        let callback = app.authorize("/sign-in", DEMO).await;
        app.provider.fail(path, FailMode::Hang, Some(1)).await;
        let (hung, health) = tokio::join!(app.get_url(&callback), served_meanwhile(&app));
        assert_eq!(health, StatusCode::OK, "{path} hangs");
        assert_eq!(hung.status(), StatusCode::BAD_GATEWAY, "{path} hangs");
        assert!(app.is_signed_out().await, "{path} hangs");
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
