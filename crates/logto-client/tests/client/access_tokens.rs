//! `LogtoClient::verify_access_token` on real tokens: a user's from a sign-in and a refresh for
//! the resource, organization tokens only where asked for, and expiry by the client's clock.

use logto_client::{AccessTokenRequirements, Audience, LogtoError, OrganizationRequirement, TokenError, TokenKind};
use logto_test_provider::{ProviderOptions, SignWith, unix_now};
use serde_json::json;

use crate::support::Fixture;

const RESOURCE: &str = "https://api.example.com";

async fn fixture() -> Fixture {
    let options = ProviderOptions {
        resources: vec![(RESOURCE.into(), vec!["read:messages".into(), "write:messages".into()])],
        ..Default::default()
    };
    Fixture::start_with(options, |config| config.resources([RESOURCE]).scopes(["read:messages"])).await
}

fn reason(error: LogtoError) -> TokenError {
    match error {
        LogtoError::InvalidToken {
            kind: TokenKind::AccessToken,
            reason,
        } => reason,
        other => panic!("not an access token refusal: {other}"),
    }
}

#[tokio::test]
async fn a_users_token_for_the_resource_verifies_and_expires_by_the_clients_clock() {
    let fixture = fixture().await;
    let signed_in = fixture.sign_in().await.expect("signed in");
    let refreshed = fixture
        .client
        .refresh(
            signed_in.refresh_token.as_ref().expect("a refresh token"),
            &Audience::Resource(RESOURCE.into()),
            "user-demo",
        )
        .await
        .expect("a token for the resource");
    let token = refreshed.access_token.token.secret();

    let verified = fixture
        .client
        .verify_access_token(token, &AccessTokenRequirements::new(RESOURCE, &["read:messages"]))
        .await
        .expect("the user's token verifies");
    assert_eq!(verified.sub, "user-demo");
    assert_eq!(verified.client_id, fixture.app.client_id);
    assert_eq!(verified.scopes, ["read:messages"]);
    assert_eq!(verified.organization_id, None);

    let error = fixture
        .client
        .verify_access_token(token, &AccessTokenRequirements::new(RESOURCE, &["write:messages"]))
        .await
        .unwrap_err();
    assert!(error.is_insufficient_scope(), "{error}");
    assert_eq!(
        reason(error),
        TokenError::InsufficientScope(vec!["write:messages".into()])
    );

    // One hour and some: past expiry and the leeway.
    fixture.clock.advance(3600 + 120);
    let error = fixture
        .client
        .verify_access_token(token, &AccessTokenRequirements::new(RESOURCE, &[]))
        .await
        .unwrap_err();
    assert_eq!(reason(error), TokenError::Expired);
}

#[tokio::test]
async fn organization_tokens_pass_only_where_the_route_asks_for_an_organization() {
    let fixture = fixture().await;
    let now = unix_now();
    let claims = json!({
        "jti": "j", "sub": "user-demo", "client_id": fixture.app.client_id, "iss": fixture.provider.issuer(),
        "aud": "urn:logto:organization:org-a", "iat": now, "exp": now + 3600, "scope": "read:messages",
    });
    let token = fixture
        .provider
        .sign_jwt(json!({ "typ": "at+jwt" }), claims, SignWith::Provider)
        .await;
    let mut required = AccessTokenRequirements::new(RESOURCE, &["read:messages"]);

    let error = fixture.client.verify_access_token(&token, &required).await.unwrap_err();
    assert_eq!(reason(error), TokenError::OrganizationNotAccepted);

    required.organization = OrganizationRequirement::Id("org-a");
    let verified = fixture.client.verify_access_token(&token, &required).await.unwrap();
    assert_eq!(verified.organization_id.as_deref(), Some("org-a"));

    required.organization = OrganizationRequirement::Id("org-b");
    let error = fixture.client.verify_access_token(&token, &required).await.unwrap_err();
    assert_eq!(reason(error), TokenError::WrongOrganization);
}
