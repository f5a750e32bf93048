//! The security review's checks, one test each: logout token rules, token responses, ID token
//! claims, refreshed ID tokens, and what a slow, failing or oversized Logto can do to the client.

use std::sync::Arc;
use std::time::Duration;

use crate::support::Fixture;
use logto_client::{Audience, Endpoint, LogtoClient, LogtoError, SignInError, SignInOptions, TokenError, TokenKind};
use logto_test_provider::{FailMode, ForgedIdToken, ProviderOptions, SignWith, unix_now};
use serde_json::{Value, json};

/// An edit of a logout token's header and claims.
type Change = Box<dyn FnOnce(&mut Value, &mut Value)>;

/// A genuine logout token's header and claims for the fixture's app.
fn logout_token(fixture: &Fixture) -> (Value, Value) {
    let header = json!({ "typ": "logout+jwt" });
    let claims = json!({
        "iss": fixture.provider.issuer(),
        "aud": fixture.app.client_id,
        "iat": unix_now(),
        "jti": format!("jti-{}", unix_now()),
        "sub": "user-demo",
        "sid": "sid-of-a-logto-session",
        "events": { logto_client::protocol::BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    (header, claims)
}

/// Verifies a logout token signed as asked, after `change` edited its header and claims.
async fn verify_logout(
    fixture: &Fixture,
    sign_with: SignWith,
    change: impl FnOnce(&mut Value, &mut Value),
) -> Result<logto_client::Logout, LogtoError> {
    let (mut header, mut claims) = logout_token(fixture);
    change(&mut header, &mut claims);
    let token = fixture.provider.sign_jwt(header, claims, sign_with).await;
    fixture.client.verify_logout_token(&token).await
}

async fn logout_refused(fixture: &Fixture, case: &str, change: impl FnOnce(&mut Value, &mut Value)) -> TokenError {
    match verify_logout(fixture, SignWith::Provider, change).await {
        Err(LogtoError::InvalidToken {
            kind: TokenKind::LogoutToken,
            reason,
        }) => reason,
        other => panic!("{case}: expected the logout token to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_logout_token_is_refused_unless_every_rule_holds() {
    let fixture = Fixture::start().await;
    let logout = verify_logout(&fixture, SignWith::Provider, |_, _| {})
        .await
        .expect("a genuine logout token");
    assert_eq!(logout.sub.as_deref(), Some("user-demo"));
    assert_eq!(logout.sid.as_deref(), Some("sid-of-a-logto-session"));

    let cases: Vec<(&str, TokenError, Change)> = vec![
        (
            "untyped",
            TokenError::WrongType,
            Box::new(|h, _| h["typ"] = Value::Null),
        ),
        (
            "typ JWT",
            TokenError::WrongType,
            Box::new(|h, _| h["typ"] = json!("JWT")),
        ),
        (
            "no events",
            TokenError::NotALogoutEvent,
            Box::new(|_, c| c["events"] = Value::Null),
        ),
        (
            "another event",
            TokenError::NotALogoutEvent,
            Box::new(|_, c| c["events"] = json!({ "http://schemas.openid.net/event/other": {} })),
        ),
        (
            "a nonce",
            TokenError::UnexpectedNonce,
            Box::new(|_, c| c["nonce"] = json!("n")),
        ),
        (
            "another audience",
            TokenError::WrongAudience,
            Box::new(|_, c| c["aud"] = json!("another-app")),
        ),
        (
            "another issuer",
            TokenError::WrongIssuer,
            Box::new(|_, c| c["iss"] = json!("https://other.logto.app/oidc")),
        ),
        (
            "neither sid nor sub",
            TokenError::NoSubject,
            Box::new(|_, c| {
                c["sid"] = Value::Null;
                c["sub"] = Value::Null;
            }),
        ),
        (
            "expired",
            TokenError::Expired,
            Box::new(|_, c| c["exp"] = json!(unix_now() - 600)),
        ),
        (
            "exp not an integer",
            TokenError::Malformed,
            Box::new(|_, c| c["exp"] = json!(format!("{}", unix_now() + 600))),
        ),
        (
            "exp a fraction",
            TokenError::Malformed,
            Box::new(|_, c| c["exp"] = json!(unix_now() as f64 + 600.5)),
        ),
        (
            "issued long ago",
            TokenError::UnlikelyIssueTime,
            Box::new(|_, c| c["iat"] = json!(unix_now() - 3600)),
        ),
    ];
    for (case, expected, change) in cases {
        let reason = logout_refused(&fixture, case, |h, c| {
            change(h, c);
            // The harness removes a field set to null.
            strip_nulls(h);
            strip_nulls(c);
        })
        .await;
        assert_eq!(reason, expected, "{case}");
    }
    // A future `exp` is fine.
    verify_logout(&fixture, SignWith::Provider, |_, c| c["exp"] = json!(unix_now() + 600))
        .await
        .expect("exp in the future");
    // The full media type is the same type.
    verify_logout(&fixture, SignWith::Provider, |h, _| {
        h["typ"] = json!("application/logout+jwt")
    })
    .await
    .expect("typ application/logout+jwt");

    let foreign = verify_logout(&fixture, SignWith::Foreign, |_, _| {}).await;
    assert!(
        matches!(
            foreign,
            Err(LogtoError::InvalidToken {
                reason: TokenError::BadSignature,
                ..
            })
        ),
        "foreign key: {foreign:?}"
    );
}

fn strip_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
    }
}

#[tokio::test]
async fn a_logout_token_signed_with_a_key_published_for_another_algorithm_is_refused() {
    // The JWKS publishes an RS256 key and an ES384 key (each with its `alg`): a token whose header
    // says ES384 but names the RS256 key's kid must not be checked with that key.
    let fixture = Fixture::start().await;
    fixture.provider.rotate_keys("RS256", true).await;
    let (header, claims) = logout_token(&fixture);
    // Signed RS256 by the provider with its current (RSA) key, header claiming ES384.
    let token = fixture
        .provider
        .sign_jwt(
            json!({ "typ": header["typ"], "alg": "ES384" }),
            claims,
            SignWith::Provider,
        )
        .await;
    let refused = fixture.client.verify_logout_token(&token).await;
    assert!(
        matches!(
            refused,
            Err(LogtoError::InvalidToken {
                reason: TokenError::KeyAlgorithmMismatch,
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_token_response_that_is_not_bearer_or_has_no_id_token_is_refused() {
    let fixture = Fixture::start().await;
    let (params, pending) = fixture.authorize().await;
    fixture
        .provider
        .forge_next_token_response(json!({ "token_type": "mac" }), &[])
        .await;
    match fixture.client.finish_sign_in(&params, &pending).await {
        Err(SignInError::Logto(LogtoError::InvalidResponse {
            endpoint: Endpoint::Token,
            detail,
        })) => assert!(detail.contains("Bearer"), "{detail}"),
        other => panic!("token_type mac: {other:?}"),
    }

    let (params, pending) = fixture.authorize().await;
    fixture
        .provider
        .forge_next_token_response(json!({}), &["id_token"])
        .await;
    match fixture.client.finish_sign_in(&params, &pending).await {
        Err(SignInError::Logto(LogtoError::InvalidResponse {
            endpoint: Endpoint::Token,
            detail,
        })) => assert!(detail.contains("no ID token"), "{detail}"),
        other => panic!("no id_token: {other:?}"),
    }
    fixture.sign_in().await.expect("an honest answer still works");
}

#[tokio::test]
async fn an_id_token_missing_sub_aud_or_iat_is_refused() {
    let fixture = Fixture::start().await;
    for claim in ["sub", "aud", "iat"] {
        let (params, pending) = fixture.authorize().await;
        fixture
            .provider
            .forge_next_id_token(&ForgedIdToken::default().without(claim))
            .await;
        match fixture.client.finish_sign_in(&params, &pending).await {
            Err(SignInError::Logto(LogtoError::InvalidToken {
                kind: TokenKind::IdToken,
                reason,
            })) => assert!(
                reason == TokenError::MissingClaim(claim) || reason == TokenError::Malformed,
                "without {claim}: {reason:?}"
            ),
            other => panic!("without {claim}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refreshed_id_token_about_another_user_or_from_another_issuer_is_refused() {
    let fixture = Fixture::start().await;
    let refresh_token = fixture.sign_in().await.unwrap().refresh_token.unwrap();
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(json!({ "sub": "user-someone-else" })))
        .await;
    let other_user = fixture
        .client
        .refresh(&refresh_token, &Audience::Userinfo, "user-demo")
        .await;
    assert!(matches!(other_user, Err(LogtoError::SubjectMismatch)), "{other_user:?}");

    let refresh_token = fixture.sign_in().await.unwrap().refresh_token.unwrap();
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(
            json!({ "iss": "https://other.logto.app/oidc" }),
        ))
        .await;
    let other_issuer = fixture
        .client
        .refresh(&refresh_token, &Audience::Userinfo, "user-demo")
        .await;
    assert!(
        matches!(
            other_issuer,
            Err(LogtoError::InvalidToken {
                kind: TokenKind::IdToken,
                reason: TokenError::WrongIssuer,
            })
        ),
        "{other_issuer:?}"
    );
}

#[tokio::test]
async fn an_oversized_answer_from_logto_is_refused() {
    let fixture = Fixture::start().await;
    let padding = "x".repeat(300 * 1024);
    let (params, pending) = fixture.authorize().await;
    fixture
        .provider
        .forge_next_userinfo(json!({ "padding": padding }))
        .await;
    match fixture.client.finish_sign_in(&params, &pending).await {
        Err(SignInError::Logto(LogtoError::InvalidResponse {
            endpoint: Endpoint::Userinfo,
            detail,
        })) => assert!(detail.contains("larger than"), "{detail}"),
        other => panic!("oversized userinfo: {other:?}"),
    }
    let (params, pending) = fixture.authorize().await;
    fixture
        .provider
        .forge_next_token_response(json!({ "padding": padding }), &[])
        .await;
    match fixture.client.finish_sign_in(&params, &pending).await {
        Err(SignInError::Logto(LogtoError::InvalidResponse {
            endpoint: Endpoint::Token,
            detail,
        })) => assert!(detail.contains("larger than"), "{detail}"),
        other => panic!("oversized token response: {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_jwks_refetch_does_not_hold_up_sign_ins_whose_key_is_known() {
    let fixture = Fixture::start_with(ProviderOptions::default(), |config| {
        config.timeout(Duration::from_secs(20))
    })
    .await;
    fixture.sign_in().await.expect("the keys are cached");
    let (params, pending) = fixture.authorize().await;

    // A logout token naming a kid the cache lacks makes the client refetch the JWKS, which hangs.
    fixture.provider.fail("/oidc/jwks", FailMode::Hang, Some(1)).await;
    let (header, claims) = logout_token(&fixture);
    let mut header = header;
    header["kid"] = json!("a-kid-the-jwks-does-not-have");
    let token = fixture.provider.sign_jwt(header, claims, SignWith::Foreign).await;
    let hung = fixture.client.verify_logout_token(&token);
    tokio::pin!(hung);
    let sign_in = async {
        // Once the refetch is under way.
        for _ in 0..200 {
            if fixture.provider.jwks_fetches().await >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(fixture.provider.jwks_fetches().await, 2, "the refetch started");
        fixture.client.finish_sign_in(&params, &pending).await
    };
    tokio::select! {
        biased;
        refetch = &mut hung => panic!("the sign-in waited for the hanging JWKS refetch: {refetch:?}"),
        signed_in = sign_in => {
            signed_in.expect("a sign-in with a known key finishes while the refetch hangs");
        }
    }
}

#[tokio::test]
async fn a_burst_of_sign_ins_while_discovery_fails_asks_logto_a_bounded_number_of_times() {
    let fixture = Fixture::start().await;
    let discovery = "/oidc/.well-known/openid-configuration";
    fixture.provider.fail(discovery, FailMode::Status500, None).await;
    let client = Arc::new(fixture);
    let burst: Vec<_> = (0..40)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.client.sign_in(&SignInOptions::sign_in()).await.is_err() })
        })
        .collect();
    for request in burst {
        assert!(request.await.unwrap(), "discovery fails: so does the sign-in");
    }
    for _ in 0..40 {
        assert!(client.client.sign_in(&SignInOptions::sign_in()).await.is_err());
    }
    let asked = client
        .provider
        .stats()
        .await
        .requests
        .get(discovery)
        .copied()
        .unwrap_or(0);
    // One per RETRY_AFTER_FAILURE at most: 80 sign-ins on a slow machine take a few seconds.
    assert!(
        (1..=10).contains(&asked),
        "discovery asked {asked} times for 80 sign-ins"
    );

    client.provider.clear_failures().await;
    // Moves tokio's clock (which the client's failure window reads) past the window instead of
    // waiting it out; the real clock runs again for the calls to the provider.
    tokio::time::pause();
    tokio::time::advance(LogtoClient::RETRY_AFTER_FAILURE + Duration::from_millis(200)).await;
    tokio::time::resume();
    client
        .client
        .sign_in(&SignInOptions::sign_in())
        .await
        .expect("recovers once Logto answers");
}

#[tokio::test]
async fn the_keys_are_fetched_again_once_older_than_their_maximum_age() {
    let fixture = Fixture::start().await;
    fixture.sign_in().await.expect("a sign-in");
    fixture.sign_in().await.expect("another");
    assert_eq!(fixture.provider.jwks_fetches().await, 1, "cached");
    // Past the maximum age the keys are fetched again (a key Logto removed stops being trusted),
    // though every `kid` is known.
    fixture.clock.advance(LogtoClient::KEYS_MAX_AGE.as_secs() + 1);
    fixture.sign_in().await.expect("a sign-in with fresh keys");
    assert_eq!(fixture.provider.jwks_fetches().await, 2, "fetched again");
    fixture.sign_in().await.expect("and again");
    assert_eq!(fixture.provider.jwks_fetches().await, 2, "cached again");
}
