//! Signing in with the client alone: what it sends, what it checks, and what it hands back.

use logto_client::{Audience, CallbackError, LogtoError, SignInError, SignInOptions};
use logto_test_provider::ProviderOptions;

use crate::support::Fixture;

#[tokio::test]
async fn a_sign_in_gives_verified_claims_userinfo_and_tokens() {
    let fixture = Fixture::start_with(ProviderOptions::default(), |config| config.scopes(["email"])).await;
    let signed_in = fixture.sign_in().await.expect("signed in");
    assert_eq!(signed_in.id_token.sub, "user-demo");
    assert_eq!(signed_in.userinfo.sub, "user-demo");
    assert_eq!(signed_in.userinfo.email.as_deref(), Some("demo@example.com"));
    assert!(signed_in.refresh_token.is_some(), "offline_access with prompt=consent");
    assert!(signed_in.access_token.expires_at > signed_in.access_token.obtained_at);
    let debug = format!("{signed_in:?} {:?}", signed_in.refresh_token);
    assert!(!debug.contains(signed_in.access_token.token.secret()), "{debug}");
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_nonce_prompt_and_the_options() {
    let fixture = Fixture::start().await;
    let request = fixture
        .client
        .sign_in(&SignInOptions::register().with_ui_locales("es"))
        .await
        .unwrap();
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert!(get("nonce").is_some_and(|n| n.len() >= 20));
    assert_eq!(get("prompt"), Some("consent"));
    assert_eq!(get("first_screen"), Some("register"));
    assert_eq!(get("ui_locales"), Some("es"));
    assert_eq!(get("scope"), Some("openid offline_access profile"));
}

#[tokio::test]
async fn a_callback_is_refused_for_another_sign_in_after_ten_minutes_or_from_another_issuer() {
    let fixture = Fixture::start().await;
    let (params, _) = fixture.authorize().await;
    let (_, other_pending) = fixture.authorize().await;
    let result = fixture.client.finish_sign_in(&params, &other_pending).await;
    assert!(
        matches!(result, Err(SignInError::Callback(CallbackError::UnknownState))),
        "{result:?}"
    );

    let (params, pending) = fixture.authorize().await;
    fixture.clock.advance(10 * 60 + 1);
    let result = fixture.client.finish_sign_in(&params, &pending).await;
    assert!(
        matches!(result, Err(SignInError::Callback(CallbackError::Expired))),
        "{result:?}"
    );

    let fixture = Fixture::start().await;
    let (mut params, pending) = fixture.authorize().await;
    params.iss = Some("https://evil.example/oidc".into());
    let result = fixture.client.finish_sign_in(&params, &pending).await;
    assert!(
        matches!(result, Err(SignInError::Callback(CallbackError::IssuerMismatch))),
        "{result:?}"
    );
    // Logto promises `iss` (RFC 9207): a callback without it is refused too.
    params.iss = None;
    let result = fixture.client.finish_sign_in(&params, &pending).await;
    assert!(
        matches!(result, Err(SignInError::Callback(CallbackError::IssuerMismatch))),
        "{result:?}"
    );
    assert_eq!(
        fixture.provider.stats().await.grants["authorization_code"],
        0,
        "no code was sent"
    );
}

#[tokio::test]
async fn a_refresh_for_an_audience_not_requested_at_sign_in_is_refused_before_any_request() {
    let fixture = Fixture::start_with(ProviderOptions::default(), |config| {
        config.resources(["https://api.example.com"])
    })
    .await;
    let refresh_token = logto_client::RefreshToken::new("any-refresh-token");
    for audience in [
        Audience::Resource("https://other.example.com".into()),
        Audience::Organization("org-a".into()),
    ] {
        let error = fixture
            .client
            .refresh(&refresh_token, &audience, "user-demo")
            .await
            .unwrap_err();
        assert!(matches!(error, LogtoError::NotRequested(_)), "{error}");
        assert!(error.to_string().contains("not requested at sign-in"));
    }
    let stats = fixture.provider.stats().await;
    assert_eq!(stats.requests.get("/oidc/token"), None, "nothing was sent");
}

#[tokio::test]
async fn refresh_rotates_and_revocation_ends_the_grant() {
    let fixture = Fixture::start().await;
    fixture.provider.set_refresh_rotation(true).await;
    let signed_in = fixture.sign_in().await.unwrap();
    let first = signed_in.refresh_token.unwrap();
    let refreshed = fixture
        .client
        .refresh(&first, &Audience::Userinfo, "user-demo")
        .await
        .unwrap();
    assert!(!refreshed.refresh_token.matches(&first), "rotated");
    assert_eq!(refreshed.id_token.map(|c| c.sub).as_deref(), Some("user-demo"));
    let userinfo = fixture
        .client
        .fetch_userinfo(&refreshed.access_token.token, "user-demo")
        .await
        .unwrap();
    assert_eq!(userinfo.username.as_deref(), Some("demo"));

    fixture.client.revoke(&refreshed.refresh_token).await.unwrap();
    assert_eq!(fixture.provider.stats().await.revocations, 1);
    let end = fixture
        .client
        .end_session_url()
        .await
        .unwrap()
        .expect("an end-session URL");
    assert!(
        end.as_str()
            .contains("post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F"),
        "{end}"
    );
}
