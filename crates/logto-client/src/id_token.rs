//! ID token verification: signature, algorithm allow-list, and every claim check that OpenID
//! Connect Core 3.1.3.7 asks of a confidential client, `nonce` included.

use jsonwebtoken::{Validation, decode};
use serde::{Deserialize, Serialize};

use crate::error::TokenError;
use crate::jwt::{AudClaim, CLOCK_LEEWAY_SECS, TokenHeader, decoding_key, token_error};

/// The claims of a verified ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user's stable id at Logto.
    pub sub: String,
    /// Audience: this app's id (one, or several with `azp`).
    #[serde(with = "aud_serde")]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// The nonce sent with the authorization request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(default)]
    pub azp: Option<String>,
    /// Logto session id, when the app requires one (back-channel logout).
    #[serde(default)]
    pub sid: Option<String>,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Logto username.
    #[serde(default)]
    pub username: Option<String>,
}

mod aud_serde {
    use super::AudClaim;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(aud: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(aud)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        Ok(AudClaim::deserialize(deserializer)?.as_slice().to_vec())
    }
}

/// What a valid ID token must say.
pub(crate) struct Expected<'a> {
    /// Logto's issuer.
    pub issuer: &'a str,
    /// This app's id.
    pub client_id: &'a str,
    /// The nonce of the sign-in attempt; `None` for ID tokens from a refresh grant, which
    /// OpenID Connect Core 12.2 lets carry the original nonce or none (it is not kept).
    pub nonce: Option<&'a str>,
    /// Now, seconds since the epoch.
    pub now: u64,
}

/// Verifies the signature with `key` and checks every claim.
pub(crate) fn verify(
    token: &str,
    header: &TokenHeader,
    key: &jsonwebtoken::jwk::Jwk,
    expected: &Expected<'_>,
) -> Result<IdTokenClaims, TokenError> {
    let decoding_key = decoding_key(key, header)?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = CLOCK_LEEWAY_SECS;
    // Expiry is checked against the injected clock below, not the system's.
    validation.validate_exp = false;
    let claims = decode::<IdTokenClaims>(token, &decoding_key, &validation)
        .map_err(|e| token_error(&e))?
        .claims;

    if claims.exp + CLOCK_LEEWAY_SECS < expected.now {
        return Err(TokenError::Expired);
    }
    if claims.iat > expected.now + CLOCK_LEEWAY_SECS {
        return Err(TokenError::UnlikelyIssueTime);
    }
    if let Some(nonce) = expected.nonce
        && claims.nonce.as_deref() != Some(nonce)
    {
        return Err(TokenError::WrongNonce);
    }
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(TokenError::WrongAuthorizedParty),
        None if claims.aud.len() > 1 => return Err(TokenError::WrongAuthorizedParty),
        _ => {}
    }
    Ok(claims)
}
