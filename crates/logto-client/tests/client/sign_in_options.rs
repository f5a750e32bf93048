//! Sign-in options per call, as the official SDKs have them: what reaches Logto's authorization
//! endpoint, what is refused before anything is sent, and `max_age` with its `auth_time` check.

use std::time::Duration;

use logto_client::{
    FirstScreen, Identifier, LogtoError, Prompt, SignInError, SignInOptionError, SignInOptions, TokenError, TokenKind,
};
use logto_test_provider::{ForgedIdToken, Login, complete_authorization};
use serde_json::json;

use crate::support::{DEMO, Fixture};

#[tokio::test]
async fn every_option_reaches_logto_with_a_valid_value() {
    let fixture = Fixture::start().await;
    let options = SignInOptions::sign_in()
        .with_first_screen(FirstScreen::IdentifierSignIn)
        .with_identifiers([Identifier::Email, Identifier::Username])
        .with_login_hint("demo@example.com")
        .with_organization_id("org-acme")
        .with_prompt(Prompt::Login)
        .with_prompt(Prompt::Consent)
        .with_max_age(Duration::from_secs(600))
        .with_ui_locales("es")
        .with_extra_param("one_time_token", "abc123");
    let (params, pending) = fixture.authorize_with(&options, DEMO).await;
    let signed_in = fixture.client.finish_sign_in(&params, &pending).await;
    assert!(signed_in.is_ok(), "Logto took every option: {signed_in:?}");

    let stats = fixture.provider.stats().await;
    let sent = stats.authorize_params.last().expect("an authorization request");
    assert_eq!(sent["first_screen"], "identifier:sign_in");
    assert_eq!(sent["identifier"], "email username");
    assert_eq!(sent["login_hint"], "demo@example.com");
    assert_eq!(sent["organization_id"], "org-acme");
    assert_eq!(sent["prompt"], "login consent");
    assert_eq!(sent["max_age"], "600");
    assert_eq!(sent["ui_locales"], "es");
    assert_eq!(sent["one_time_token"], "abc123");
    assert_eq!(sent["response_type"], "code", "the protocol's own are untouched");
}

#[tokio::test]
async fn a_sign_in_with_max_age_is_finished_with_a_recent_auth_time() {
    let fixture = Fixture::start().await;
    let options = SignInOptions::sign_in().with_max_age(Duration::from_secs(300));
    let (params, pending) = fixture.authorize_with(&options, DEMO).await;
    assert_eq!(pending.max_age(), Some(300));
    let signed_in = fixture
        .client
        .finish_sign_in(&params, &pending)
        .await
        .expect("signed in");
    let auth_time = signed_in.id_token.auth_time.expect("auth_time, as max_age was asked");
    assert!(auth_time.abs_diff(fixture.client.now()) < 60, "{auth_time}");
}

fn id_token_refusal(result: Result<logto_client::SignedIn, SignInError>) -> TokenError {
    match result {
        Err(SignInError::Logto(LogtoError::InvalidToken {
            kind: TokenKind::IdToken,
            reason,
        })) => reason,
        other => panic!("expected the ID token to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn an_authentication_older_than_max_age_is_refused() {
    let fixture = Fixture::start().await;
    let options = SignInOptions::sign_in().with_max_age(Duration::from_secs(60));
    let (params, pending) = fixture.authorize_with(&options, DEMO).await;
    // The callback arrives two minutes after the user authenticated (a slow browser, or a
    // provider that ignored max_age): past max_age and the leeway.
    fixture.clock.advance(121 + 60);
    let reason = id_token_refusal(fixture.client.finish_sign_in(&params, &pending).await);
    assert_eq!(reason, TokenError::AuthenticationTooOld);
}

#[tokio::test]
async fn a_missing_auth_time_is_refused_when_max_age_was_asked() {
    let fixture = Fixture::start().await;
    let options = SignInOptions::sign_in().with_max_age(Duration::from_secs(600));
    let (params, pending) = fixture.authorize_with(&options, DEMO).await;
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::default().without("auth_time"))
        .await;
    let reason = id_token_refusal(fixture.client.finish_sign_in(&params, &pending).await);
    assert_eq!(reason, TokenError::MissingClaim("auth_time"));

    // Without max_age, an ID token without auth_time is fine.
    let (params, pending) = fixture.authorize_with(&SignInOptions::sign_in(), Login::Direct).await;
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(json!({})).without("auth_time"))
        .await;
    assert!(fixture.client.finish_sign_in(&params, &pending).await.is_ok());
}

#[tokio::test]
async fn logto_asks_again_when_the_session_is_older_than_max_age() {
    let fixture = Fixture::start().await;
    fixture.sign_in().await.expect("first sign-in");
    // Logto's session is alive: no form.
    let (params, pending) = fixture.authorize_with(&SignInOptions::sign_in(), Login::Direct).await;
    let first = fixture.client.finish_sign_in(&params, &pending).await.unwrap();
    // Two seconds on, for the provider and for the client alike: both clocks move, nothing waits.
    fixture.provider.advance_clock(Duration::from_secs(2)).await;
    fixture.clock.advance(2);
    // Older than max_age: the sign-in form again (DEMO fills it), and a fresh auth_time.
    let options = SignInOptions::sign_in().with_max_age(Duration::from_secs(1));
    let (params, pending) = fixture.authorize_with(&options, DEMO).await;
    let again = fixture.client.finish_sign_in(&params, &pending).await.unwrap();
    let (before, after) = (first.id_token.auth_time, again.id_token.auth_time.expect("auth_time"));
    assert!(before.is_none_or(|before| after > before), "{before:?} -> {after}");
}

#[tokio::test]
async fn options_logto_would_refuse_are_refused_before_anything_is_sent() {
    let fixture = Fixture::start().await;
    for (options, expected) in [
        (
            SignInOptions::sign_in().with_extra_param("state", "mine"),
            SignInOptionError::ReservedParameter("state".into()),
        ),
        (
            SignInOptions::sign_in().with_extra_param("redirect_uri", "https://evil.example"),
            SignInOptionError::ReservedParameter("redirect_uri".into()),
        ),
        (
            SignInOptions::sign_in().with_extra_param("first_screen", "nonsense"),
            SignInOptionError::ReservedParameter("first_screen".into()),
        ),
        (
            SignInOptions::sign_in().with_organization_id("org a&prompt=none"),
            SignInOptionError::InvalidOrganizationId,
        ),
    ] {
        match fixture.client.sign_in(&options).await {
            Err(LogtoError::InvalidSignInOptions(error)) => assert_eq!(error, expected),
            other => panic!("{options:?}: expected a refusal, got {other:?}"),
        }
    }
    // A valid sign-in still works afterwards; only discovery was fetched before it.
    let request = fixture.client.sign_in(&SignInOptions::sign_in()).await.unwrap();
    let callback = complete_authorization(&fixture.browser, request.url.as_str(), DEMO).await;
    assert!(callback.query().unwrap_or_default().contains("code="));
    let stats = fixture.provider.stats().await;
    assert_eq!(stats.authorize_params.len(), 1, "only the valid sign-in reached Logto");
}
