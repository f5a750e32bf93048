//! A tenant's custom JWT claims read as the app's own type, from the ID token and from access
//! tokens, without forking the claims structs; and bounded, as sessions keep them.

use logto_client::{AccessTokenRequirements, Audience, LogtoClient, LogtoError, SignInError, TokenError, TokenKind};
use logto_test_provider::{ForgedIdToken, ProviderOptions, SignWith, unix_now};
use serde::Deserialize;
use serde_json::json;

use crate::support::Fixture;

const API: &str = "https://api.example.com";

/// What the app's tenant adds to its tokens.
#[derive(Debug, Deserialize, PartialEq)]
struct Plan {
    plan: String,
    #[serde(default)]
    seats: u32,
    #[serde(default)]
    features: Vec<String>,
}

async fn fixture() -> Fixture {
    let options = ProviderOptions {
        resources: vec![(API.into(), vec!["read:items".into()])],
        ..Default::default()
    };
    Fixture::start_with(options, |config| config.resources([API]).scopes(["read:items"])).await
}

#[tokio::test]
async fn custom_claims_are_read_as_the_apps_type_from_id_and_access_tokens() {
    let fixture = fixture().await;
    let (params, pending) = fixture.authorize().await;
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(json!({ "plan": "pro", "seats": 5 })))
        .await;
    let signed_in = fixture.client.finish_sign_in(&params, &pending).await.unwrap();
    let plan: Plan = signed_in.id_token.custom().unwrap();
    assert_eq!(
        plan,
        Plan {
            plan: "pro".into(),
            seats: 5,
            features: vec![]
        }
    );
    // The standard claims stay in their fields, not among the custom ones.
    assert!(!signed_in.id_token.extra_claims.contains_key("sub"));

    // Logto's custom JWT: every access token gets the tenant's claims.
    fixture
        .provider
        .set_custom_jwt_claims(Some(json!({ "plan": "team", "features": ["export"] })))
        .await;
    let refreshed = fixture
        .client
        .refresh(
            signed_in.refresh_token.as_ref().unwrap(),
            &Audience::Resource(API.into()),
            "user-demo",
        )
        .await
        .unwrap();
    let verified = fixture
        .client
        .verify_access_token(
            refreshed.access_token.token.secret(),
            &AccessTokenRequirements::new(API, &[]),
        )
        .await
        .unwrap();
    let plan: Plan = verified.custom().unwrap();
    assert_eq!(plan.plan, "team");
    assert_eq!(plan.features, ["export"]);
    assert!(!verified.extra_claims.contains_key("iss") && !verified.extra_claims.contains_key("scope"));

    // A claim of the wrong type is the app's error, not a panic.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        plan: u32,
    }
    assert!(verified.custom::<Wrong>().is_err());
}

#[tokio::test]
async fn tokens_with_oversized_claims_are_refused() {
    let fixture = fixture().await;
    let (params, pending) = fixture.authorize().await;
    let padding = "x".repeat(LogtoClient::MAX_CLAIMS_BYTES);
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(json!({ "padding": padding })))
        .await;
    match fixture.client.finish_sign_in(&params, &pending).await {
        Err(SignInError::Logto(LogtoError::InvalidToken {
            kind: TokenKind::IdToken,
            reason: TokenError::TooLarge,
        })) => {}
        other => panic!("expected a refusal for size, got {other:?}"),
    }
    let now = unix_now();
    let claims = json!({
        "sub": "user-demo", "client_id": fixture.app.client_id, "iss": fixture.provider.issuer(),
        "aud": API, "iat": now, "exp": now + 3600, "padding": padding,
    });
    let token = fixture
        .provider
        .sign_jwt(json!({ "typ": "at+jwt" }), claims, SignWith::Provider)
        .await;
    let error = fixture
        .client
        .verify_access_token(&token, &AccessTokenRequirements::new(API, &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LogtoError::InvalidToken {
                reason: TokenError::TooLarge,
                ..
            }
        ),
        "{error}"
    );
}
