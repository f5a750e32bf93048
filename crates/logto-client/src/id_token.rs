//! ID token verification: signature, algorithm allow-list, and every claim check that OpenID
//! Connect Core 3.1.3.7 asks of a confidential client, `nonce` included (the client verifies
//! with [`LogtoClient::verify_id_token`](crate::LogtoClient::verify_id_token)).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::jwt::{self, AudClaim, CLOCK_LEEWAY_SECS, Jwk, TokenHeader};

/// The claims of a verified ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// When the user last authenticated at Logto, seconds since the epoch; checked against
    /// `max_age` when a sign-in asked for one (see [`crate::SignInOptions::with_max_age`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// Organization ids (scope `urn:logto:scope:organizations`), when the tenant puts them in
    /// the ID token; userinfo always has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
    /// Organization roles, `"<organization id>:<role name>"` (scope
    /// `urn:logto:scope:organization_roles`), when the tenant puts them in the ID token; read
    /// them with [`IdTokenClaims::organization_roles`].
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "organization_roles")]
    pub organization_role_claims: Vec<String>,
    /// Every other claim of the token, as sent: a tenant's custom JWT claims among them. Read
    /// them as a type of the app's with [`IdTokenClaims::custom`]. Bounded with the whole token
    /// ([`LogtoClient::MAX_CLAIMS_BYTES`](crate::LogtoClient::MAX_CLAIMS_BYTES)).
    #[serde(flatten)]
    pub extra_claims: Map<String, Value>,
}

impl IdTokenClaims {
    /// The token's other claims ([`IdTokenClaims::extra_claims`], e.g. a tenant's custom JWT
    /// claims) read as `T`: a struct of the claims the app expects, whose fields missing from the
    /// token must be `Option` or `#[serde(default)]`.
    ///
    /// ```
    /// # fn example(claims: &logto_client::IdTokenClaims) -> Result<(), serde_json::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Plan {
    ///     plan: Option<String>,
    ///     #[serde(default)]
    ///     seats: u32,
    /// }
    /// let plan: Plan = claims.custom()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn custom<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&Value::Object(self.extra_claims.clone()))
    }

    /// The organization roles of the token, parsed (see [`crate::OrganizationRole::parse`]);
    /// malformed entries are left out.
    pub fn organization_roles(&self) -> Vec<crate::OrganizationRole> {
        crate::userinfo::parse_roles(&self.organization_role_claims)
    }
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
    key: &Jwk,
    expected: &Expected<'_>,
) -> Result<IdTokenClaims, TokenError> {
    let claims = jwt::verify_signature(token, header, key)?;
    jwt::check_issuer(&claims, expected.issuer, &["exp", "iat", "iss", "aud", "sub"])?;
    jwt::check_audience(&claims, expected.client_id)?;
    let claims: IdTokenClaims = serde_json::from_value(Value::Object(claims)).map_err(|_| TokenError::Malformed)?;

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
