//! Every algorithm Logto announces (RS256 PS256 ES256 ES384 ES512) for ID, logout and access
//! tokens, each from a provider whose key is of that kind; a key whose type or curve does not
//! fit the header's algorithm is refused, and so are `none` and HMAC.

use logto_client::{AccessTokenRequirements, Audience, LogtoError, TokenError, TokenKind};
use logto_test_provider::{ProviderOptions, SignWith, jwt_parts, unix_now};
use serde_json::{Value, json};

use crate::support::Fixture;

const RESOURCE: &str = "https://api.example.com";

async fn fixture(alg: &str) -> Fixture {
    let options = ProviderOptions {
        signing_alg: Some(alg.into()),
        resources: vec![(RESOURCE.into(), vec!["read:items".into()])],
        ..Default::default()
    };
    Fixture::start_with(options, |config| config.resources([RESOURCE]).scopes(["read:items"])).await
}

fn logout_claims(fixture: &Fixture) -> Value {
    json!({
        "iss": fixture.provider.issuer(),
        "aud": fixture.app.client_id,
        "iat": unix_now(),
        "jti": format!("jti-{}", unix_now()),
        "sub": "user-demo",
        "events": { logto_client::protocol::BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

fn refusal(error: LogtoError) -> (TokenKind, TokenError) {
    match error {
        LogtoError::InvalidToken { kind, reason } => (kind, reason),
        other => panic!("not a token refusal: {other}"),
    }
}

/// An ID token from a sign-in, a logout token and an access token from a refresh, all signed
/// with `alg` by the provider's key, are accepted.
async fn every_token_verifies_with(alg: &str) {
    let fixture = fixture(alg).await;
    let signed_in = fixture
        .sign_in()
        .await
        .unwrap_or_else(|e| panic!("{alg}: sign-in: {e}"));
    let (header, _) = jwt_parts(signed_in.raw_id_token.secret());
    assert_eq!(header["alg"], alg, "the ID token is signed {alg}");

    let logout = fixture
        .provider
        .sign_jwt(
            json!({ "typ": "logout+jwt" }),
            logout_claims(&fixture),
            SignWith::Provider,
        )
        .await;
    assert_eq!(jwt_parts(&logout).0["alg"], alg);
    let verified = fixture.client.verify_logout_token(&logout).await;
    assert_eq!(
        verified.unwrap_or_else(|e| panic!("{alg}: logout: {e}")).sub.as_deref(),
        Some("user-demo")
    );

    let refreshed = fixture
        .client
        .refresh(
            signed_in.refresh_token.as_ref().expect("a refresh token"),
            &Audience::Resource(RESOURCE.into()),
            "user-demo",
        )
        .await
        .unwrap_or_else(|e| panic!("{alg}: refresh: {e}"));
    let access = refreshed.access_token.token.secret();
    assert_eq!(jwt_parts(access).0["alg"], alg);
    let verified = fixture
        .client
        .verify_access_token(access, &AccessTokenRequirements::new(RESOURCE, &["read:items"]))
        .await
        .unwrap_or_else(|e| panic!("{alg}: access token: {e}"));
    assert_eq!(verified.sub, "user-demo");
    assert_eq!(fixture.client.load_keys().await.unwrap(), 1, "{alg}: the key is usable");

    // The same token with a flipped signature byte is refused: the check is real for this alg.
    let (signed, signature) = access.rsplit_once('.').unwrap();
    let mut bytes = signature.as_bytes().to_vec();
    bytes[4] = if bytes[4] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{signed}.{}", String::from_utf8(bytes).unwrap());
    let error = fixture
        .client
        .verify_access_token(&tampered, &AccessTokenRequirements::new(RESOURCE, &[]))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(error),
        (TokenKind::AccessToken, TokenError::BadSignature),
        "{alg}"
    );
}

#[tokio::test]
async fn rs256_tokens_verify() {
    every_token_verifies_with("RS256").await;
}

#[tokio::test]
async fn ps256_tokens_verify() {
    every_token_verifies_with("PS256").await;
}

#[tokio::test]
async fn es256_tokens_verify() {
    every_token_verifies_with("ES256").await;
}

#[tokio::test]
async fn es384_tokens_verify() {
    every_token_verifies_with("ES384").await;
}

#[tokio::test]
async fn es512_tokens_verify() {
    every_token_verifies_with("ES512").await;
}

/// Mints a logout token whose header claims `alg`, signed by the provider's current key.
async fn logout_claiming(fixture: &Fixture, alg: &str) -> Result<logto_client::Logout, LogtoError> {
    let token = fixture
        .provider
        .sign_jwt(
            json!({ "typ": "logout+jwt", "alg": alg }),
            logout_claims(fixture),
            SignWith::Provider,
        )
        .await;
    fixture.client.verify_logout_token(&token).await
}

#[tokio::test]
async fn a_key_whose_curve_or_type_does_not_fit_the_algorithm_is_refused() {
    let fixture = fixture("ES384").await;
    // Without `alg` in the JWKS, only the key's type and curve tell what it is for.
    fixture.provider.set_jwks_alg(false).await;
    let genuine = logout_claiming(&fixture, "ES384").await;
    assert!(
        genuine.is_ok(),
        "a P-384 key without alg still verifies ES384: {genuine:?}"
    );
    for alg in ["ES256", "ES512", "RS256", "PS256"] {
        let error = logout_claiming(&fixture, alg).await.unwrap_err();
        assert_eq!(
            refusal(error),
            (TokenKind::LogoutToken, TokenError::KeyAlgorithmMismatch),
            "a P-384 key for {alg}"
        );
    }

    let fixture = fixture_with_key("ES512").await;
    for alg in ["ES256", "ES384", "RS256"] {
        let error = logout_claiming(&fixture, alg).await.unwrap_err();
        assert_eq!(
            refusal(error),
            (TokenKind::LogoutToken, TokenError::KeyAlgorithmMismatch),
            "a P-521 key for {alg}"
        );
    }
    let fixture = fixture_with_key("RS256").await;
    for alg in ["ES256", "ES384", "ES512"] {
        let error = logout_claiming(&fixture, alg).await.unwrap_err();
        assert_eq!(
            refusal(error),
            (TokenKind::LogoutToken, TokenError::KeyAlgorithmMismatch),
            "an RSA key for {alg}"
        );
    }
}

/// A provider signing with `alg` whose JWKS leaves out `alg`.
async fn fixture_with_key(alg: &str) -> Fixture {
    let fixture = fixture(alg).await;
    fixture.provider.set_jwks_alg(false).await;
    fixture
}

#[tokio::test]
async fn none_and_hmac_are_refused_whatever_the_key() {
    let fixture = fixture("ES512").await;
    let unsigned = fixture
        .provider
        .sign_jwt(
            json!({ "typ": "logout+jwt" }),
            logout_claims(&fixture),
            SignWith::Unsigned,
        )
        .await;
    let error = fixture.client.verify_logout_token(&unsigned).await.unwrap_err();
    assert_eq!(
        refusal(error),
        (TokenKind::LogoutToken, TokenError::AlgorithmNotAllowed("none".into()))
    );
    let hs256 = fixture
        .provider
        .sign_jwt_hs256(
            json!({ "typ": "logout+jwt" }),
            logout_claims(&fixture),
            &fixture.app.client_secret,
        )
        .await;
    let error = fixture.client.verify_logout_token(&hs256).await.unwrap_err();
    assert_eq!(
        refusal(error),
        (TokenKind::LogoutToken, TokenError::AlgorithmNotAllowed("HS256".into()))
    );
    // An ES512 access token whose header says HS512 under the genuine kid: refused by name.
    let now = unix_now();
    let claims = json!({
        "sub": "user-demo", "client_id": fixture.app.client_id, "iss": fixture.provider.issuer(),
        "aud": RESOURCE, "iat": now, "exp": now + 3600,
    });
    let token = fixture
        .provider
        .sign_jwt(json!({ "typ": "at+jwt", "alg": "HS512" }), claims, SignWith::Provider)
        .await;
    let error = fixture
        .client
        .verify_access_token(&token, &AccessTokenRequirements::new(RESOURCE, &[]))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(error),
        (TokenKind::AccessToken, TokenError::AlgorithmNotAllowed("HS512".into()))
    );
}
