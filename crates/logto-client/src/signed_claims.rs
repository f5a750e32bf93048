//! An access token's claims once its signature, type and issuer checked out: what the checks
//! that do not depend on the signature read on every request, and what the verified-token cache
//! keeps for as long as the token lives.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::jwt::AudClaim;

#[derive(Deserialize)]
struct Claims {
    sub: String,
    client_id: String,
    aud: AudClaim,
    exp: u64,
    iat: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Claims read by the checks but not kept in [`VerifiedAccessToken::extra_claims`](crate::VerifiedAccessToken::extra_claims).
const CHECKED_ONLY: [&str; 2] = ["iss", "jti"];

/// The claims of an access token whose signature, type and issuer checked out: what the checks
/// that do not depend on the signature read, on every request (`access_token::check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedClaims {
    pub(crate) sub: String,
    pub(crate) client_id: String,
    /// The `scope` claim as issued: space-separated.
    pub(crate) scope: String,
    /// The `organization_id` claim, not yet checked against the audience.
    pub(crate) organization_id: Option<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) exp: u64,
    pub(crate) iat: u64,
    pub(crate) nbf: Option<u64>,
    /// Every other claim but `iss` and `jti`: [`VerifiedAccessToken::extra_claims`](crate::VerifiedAccessToken::extra_claims).
    pub(crate) extra: Map<String, Value>,
}

impl SignedClaims {
    /// What the checks and [`VerifiedAccessToken`](crate::VerifiedAccessToken) read of a token's claims (whose signature and
    /// issuer checked out): kept by the verified-token cache for as long as the token lives.
    pub(crate) fn read(claims: Map<String, Value>) -> Result<SignedClaims, TokenError> {
        let claims: Claims = serde_json::from_value(Value::Object(claims)).map_err(|_| TokenError::Malformed)?;
        // A new map of what is left rather than removing from the one read: a map emptied by
        // removals keeps its node allocated (~640 bytes), kept as long as the cache keeps the
        // token, while an empty map built anew holds nothing. Most tokens have no other claims.
        let extra = claims
            .extra
            .into_iter()
            .filter(|(name, _)| !CHECKED_ONLY.contains(&name.as_str()))
            .collect();
        Ok(SignedClaims {
            sub: claims.sub,
            client_id: claims.client_id,
            scope: claims.scope.unwrap_or_default(),
            organization_id: claims.organization_id,
            audience: claims.aud.as_slice().to_vec(),
            exp: claims.exp,
            iat: claims.iat,
            nbf: claims.nbf,
            extra,
        })
    }
}
