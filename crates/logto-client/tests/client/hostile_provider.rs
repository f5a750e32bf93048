//! The client against a provider that lies: every ID token or userinfo answer the OpenID
//! Foundation's RP conformance tests would send to catch a careless client is refused with the
//! reason named; what an honest provider may do (rotate its key, omit `kid` with a single key)
//! is accepted.

use crate::support::Fixture;
use logto_client::{LogtoClient, LogtoError, SignInError, TokenError, TokenKind};
use logto_test_provider::{FailMode, ForgedIdToken, Kid, SignWith, unix_now};
use serde_json::json;

/// Signs in with the next ID token forged as `forged`; the ID token must be refused.
async fn refused(fixture: &Fixture, case: &str, forged: ForgedIdToken) -> TokenError {
    let (params, pending) = fixture.authorize().await;
    fixture.provider.forge_next_id_token(&forged).await;
    match fixture.client.finish_sign_in(&params, &pending).await {
        Err(SignInError::Logto(LogtoError::InvalidToken {
            kind: TokenKind::IdToken,
            reason,
        })) => reason,
        other => panic!("{case}: expected the ID token to be refused, got {other:?}"),
    }
}

/// Signs in with the next ID token forged as `forged`; sign-in must succeed.
async fn accepted(fixture: &Fixture, case: &str, forged: ForgedIdToken) {
    let (params, pending) = fixture.authorize().await;
    fixture.provider.forge_next_id_token(&forged).await;
    let signed_in = fixture.client.finish_sign_in(&params, &pending).await;
    assert!(signed_in.is_ok(), "{case}: {signed_in:?}");
}

fn untouched() -> ForgedIdToken {
    ForgedIdToken::default()
}

#[tokio::test]
async fn an_id_token_not_signed_with_logtos_published_key_is_refused() {
    let fixture = Fixture::start().await;
    // The same claims and kid, but signed by a key the JWKS does not publish.
    let reason = refused(&fixture, "bad signature", untouched().signed_with(SignWith::Foreign)).await;
    assert_eq!(reason, TokenError::BadSignature);
    refused(&fixture, "alg none", untouched().signed_with(SignWith::Unsigned)).await;
    // The client secret is known to the client: accepting HS256 would let anyone holding it mint tokens.
    let reason = refused(&fixture, "HS256", untouched().signed_with(SignWith::ClientSecret)).await;
    assert_eq!(reason, TokenError::AlgorithmNotAllowed("HS256".into()));
    // That forgery was the real attack: a token that verifies as HS256 under the client secret.
    let forged = fixture
        .provider
        .issued_secrets()
        .await
        .pop()
        .expect("the forged ID token");
    let mut hs256 = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    hs256.set_audience(&[&fixture.app.client_id]);
    let key = jsonwebtoken::DecodingKey::from_secret(fixture.app.client_secret.as_bytes());
    assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &hs256).is_ok());
    // The provider's key re-signing an untouched token is fine: the refusals above are the forgery's.
    accepted(&fixture, "re-signed by the provider", untouched()).await;
}

#[tokio::test]
async fn an_id_token_for_another_issuer_or_another_app_is_refused() {
    let fixture = Fixture::start().await;
    let me = fixture.app.client_id.clone();
    let cases = [
        (
            "wrong iss",
            ForgedIdToken::with_claims(json!({ "iss": "https://evil.example/oidc" })),
            TokenError::WrongIssuer,
        ),
        (
            "wrong aud",
            ForgedIdToken::with_claims(json!({ "aud": "another-app" })),
            TokenError::WrongAudience,
        ),
        (
            "several audiences, no azp",
            ForgedIdToken::with_claims(json!({ "aud": [me, "another-app"] })).without("azp"),
            TokenError::WrongAuthorizedParty,
        ),
        (
            "several audiences, azp of another app",
            ForgedIdToken::with_claims(json!({ "aud": [me, "another-app"], "azp": "another-app" })),
            TokenError::WrongAuthorizedParty,
        ),
    ];
    for (case, forged, expected) in cases {
        assert_eq!(refused(&fixture, case, forged).await, expected, "{case}");
    }
    // Several audiences are fine when azp says the token was issued to this app.
    accepted(
        &fixture,
        "several audiences, azp of this app",
        ForgedIdToken::with_claims(json!({ "aud": [me, "another-app"], "azp": me })),
    )
    .await;
}

#[tokio::test]
async fn an_expired_id_token_or_one_issued_in_the_future_is_refused() {
    let fixture = Fixture::start().await;
    let now = unix_now();
    let expired = ForgedIdToken::with_claims(json!({ "iat": now - 7200, "exp": now - 3600 }));
    assert_eq!(refused(&fixture, "expired", expired).await, TokenError::Expired);
    let future = ForgedIdToken::with_claims(json!({ "iat": now + 3600, "exp": now + 7200 }));
    assert_eq!(refused(&fixture, "future", future).await, TokenError::UnlikelyIssueTime);
}

#[tokio::test]
async fn an_id_token_without_this_sign_ins_nonce_is_refused() {
    let fixture = Fixture::start().await;
    let reason = refused(&fixture, "no nonce", untouched().without("nonce")).await;
    assert_eq!(reason, TokenError::WrongNonce);
    let other = ForgedIdToken::with_claims(json!({ "nonce": "nonce-of-another-sign-in" }));
    assert_eq!(refused(&fixture, "another nonce", other).await, TokenError::WrongNonce);
}

#[tokio::test]
async fn an_id_token_without_kid_is_refused_when_the_jwks_has_several_keys() {
    let fixture = Fixture::start().await;
    // Two keys published: which one signed a token without `kid` is a guess not to make.
    fixture.provider.rotate_keys("ES384", true).await;
    let reason = refused(&fixture, "no kid, two keys", untouched().kid(Kid::Drop)).await;
    assert_eq!(reason, TokenError::AmbiguousKey);
    accepted(&fixture, "kid, two keys", untouched()).await;
}

#[tokio::test]
async fn an_id_token_without_kid_is_accepted_when_the_jwks_has_one_key() {
    let fixture = Fixture::start().await;
    accepted(&fixture, "no kid, one key", untouched().kid(Kid::Drop)).await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused_after_one_jwks_refetch_and_cannot_make_the_client_hammer_logto() {
    let fixture = Fixture::start().await;
    fixture.sign_in().await.expect("a genuine sign-in");
    assert_eq!(fixture.provider.jwks_fetches().await, 1, "fetched once and cached");
    let unknown = || {
        untouched()
            .signed_with(SignWith::Foreign)
            .kid(Kid::Set("kid-the-jwks-does-not-have".into()))
    };
    assert_eq!(
        refused(&fixture, "unknown kid", unknown()).await,
        TokenError::UnknownKey
    );
    assert_eq!(
        fixture.provider.jwks_fetches().await,
        2,
        "one refetch for the unknown kid"
    );
    for attempt in 0..3 {
        refused(&fixture, &format!("unknown kid again ({attempt})"), unknown()).await;
    }
    assert_eq!(
        fixture.provider.jwks_fetches().await,
        2,
        "forged kids in a burst cause no further fetches"
    );
}

#[tokio::test]
async fn a_signing_key_rotation_is_followed_without_a_restart_and_with_one_jwks_fetch() {
    let fixture = Fixture::start().await;
    fixture.sign_in().await.expect("a genuine sign-in");
    assert_eq!(fixture.provider.jwks_fetches().await, 1);
    // Logto rotates its key and drops the old one: the next ID token names a kid the cache lacks.
    fixture.provider.rotate_keys("ES384", false).await;
    fixture.sign_in().await.expect("signed with the new key");
    assert_eq!(
        fixture.provider.jwks_fetches().await,
        2,
        "one refetch finds the new key"
    );
    fixture.sign_in().await.expect("again");
    assert_eq!(fixture.provider.jwks_fetches().await, 2, "the new key is cached");
}

#[tokio::test]
async fn userinfo_about_another_user_than_the_id_token_is_refused() {
    let fixture = Fixture::start().await;
    let (params, pending) = fixture.authorize().await;
    fixture.provider.forge_next_userinfo(json!({ "sub": "user-hf" })).await;
    let result = fixture.client.finish_sign_in(&params, &pending).await;
    assert!(
        matches!(result, Err(SignInError::Logto(LogtoError::SubjectMismatch))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_connection_left_idle_as_long_as_logto_keeps_it_is_not_reused() {
    // Logto (Node.js) closes a kept-alive connection after 5 s idle; a request sent on it as it
    // closes is reset. Here the provider resets every reused connection to userinfo.
    let fixture = Fixture::start().await;
    let signed_in = fixture.sign_in().await.expect("sign in");
    let userinfo = || {
        fixture
            .client
            .fetch_userinfo(&signed_in.access_token.token, &signed_in.id_token.sub)
    };
    userinfo().await.expect("userinfo, its connection then kept");

    // The trap is real: a connection reused at once is reset, and the call fails.
    fixture.provider.fail("/oidc/me", FailMode::ResetReused, None).await;
    assert!(
        matches!(userinfo().await, Err(LogtoError::Unreachable { .. })),
        "a reset connection fails the call"
    );
    fixture.provider.clear_failures().await;
    userinfo().await.expect("userinfo on a new connection, then kept");

    // Idle for the limit: the client connects anew instead of reusing it (the pool reads
    // tokio's clock, which is moved here rather than waited out).
    fixture.provider.fail("/oidc/me", FailMode::ResetReused, None).await;
    tokio::time::pause();
    tokio::time::advance(LogtoClient::IDLE_CONNECTION_REUSE).await;
    tokio::time::resume();
    userinfo().await.expect("a connection idle for 4 s is not reused");
}
