//! What a session keeps goes through serde and comes back the same: userinfo, ID token claims
//! (custom ones included), issued access tokens and a refresh's result, from a real sign-in.

use logto_client::{
    AccessToken, AccessTokenClaims, AccessTokenRequirements, Audience, IdTokenClaims, IssuedAccessToken, Refreshed,
    UserInfo, VerifiedAccessToken,
};
use logto_test_provider::{ForgedIdToken, ProviderOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::support::Fixture;

const API: &str = "https://api.example.com";

/// Serializes, reads back, and checks that the JSON is the same both times.
fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    back
}

#[tokio::test]
async fn session_values_round_trip_through_serde() {
    let options = ProviderOptions {
        resources: vec![(API.into(), vec!["read:items".into()])],
        ..Default::default()
    };
    let fixture = Fixture::start_with(options, |config| {
        config
            .resources([API])
            .scopes(["email", "custom_data", "identities", "roles", "read:items"])
    })
    .await;
    let (params, pending) = fixture.authorize().await;
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(json!({ "plan": "pro", "seats": 5 })))
        .await;
    let signed_in = fixture.client.finish_sign_in(&params, &pending).await.unwrap();

    let userinfo: UserInfo = round_trip(&signed_in.userinfo);
    assert_eq!(userinfo.email.as_deref(), Some("demo@example.com"));
    assert_eq!(userinfo.roles, ["member"]);
    assert_eq!(userinfo.custom_data, Some(json!({ "plan": "free" })));

    let claims: IdTokenClaims = round_trip(&signed_in.id_token);
    assert_eq!(claims.sub, "user-demo");
    assert_eq!(claims.extra_claims["plan"], "pro", "custom claims survive the trip");
    assert_eq!(claims.aud, std::slice::from_ref(&fixture.app.client_id));

    let issued: IssuedAccessToken = round_trip(&signed_in.access_token);
    assert!(issued.token.matches(&signed_in.access_token.token));
    assert_eq!(issued.expires_at, signed_in.access_token.expires_at);
    let token: AccessToken = round_trip(&issued.token);
    assert!(token.matches(&signed_in.access_token.token));

    let refreshed = fixture
        .client
        .refresh(
            signed_in.refresh_token.as_ref().unwrap(),
            &Audience::Resource(API.into()),
            "user-demo",
        )
        .await
        .unwrap();
    let back: Refreshed = round_trip(&refreshed);
    assert!(back.refresh_token.matches(&refreshed.refresh_token));
    let claims = AccessTokenClaims::read_unverified(&refreshed.access_token.token).expect("a JWT");
    assert_eq!(round_trip(&claims), claims);
    let verified = fixture
        .client
        .verify_access_token(
            refreshed.access_token.token.secret(),
            &AccessTokenRequirements::new(API, &[]),
        )
        .await
        .unwrap();
    let back: VerifiedAccessToken = round_trip(&verified);
    assert_eq!(back, verified);
}
