//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.6): signed like ID
//! tokens, naming a user (`sub`) or one Logto session (`sid`) that has signed out.

use std::collections::HashMap;

use jsonwebtoken::{DecodingKey, Validation, decode};
use serde::Deserialize;
use serde_json::Value;

use super::error::LogtoError;
use super::id_token::{Audience, CLOCK_LEEWAY_SECS, TokenHeader};

/// The event that marks a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Oldest logout token accepted, by `iat`.
pub const MAX_LOGOUT_TOKEN_AGE_SECS: u64 = 300;

/// Who signed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The user, when named.
    pub sub: Option<String>,
    /// The Logto session, when named.
    pub sid: Option<String>,
    /// When Logto issued the token, seconds since the epoch.
    pub issued_at: u64,
    /// The token's unique id, for replay detection.
    pub jti: String,
}

#[derive(Deserialize)]
struct Claims {
    #[allow(dead_code)]
    aud: Audience,
    iat: u64,
    jti: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    events: HashMap<String, Value>,
    #[serde(default)]
    nonce: Option<Value>,
}

/// Checks a logout token's signature and claims.
pub fn verify(
    token: &str,
    header: &TokenHeader,
    key: &jsonwebtoken::jwk::Jwk,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<Logout, LogtoError> {
    let invalid = |reason: &str| LogtoError::InvalidIdToken(format!("logout token: {reason}"));
    let decoding_key = DecodingKey::from_jwk(key).map_err(|_| invalid("unusable signing key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    // Logout tokens need not carry `exp`; when they do, it is checked.
    validation.validate_exp = false;
    validation.leeway = CLOCK_LEEWAY_SECS;
    let data = decode::<Value>(token, &decoding_key, &validation).map_err(|_| invalid("signature or claims"))?;
    if let Some(exp) = data.claims.get("exp").and_then(Value::as_u64)
        && exp + CLOCK_LEEWAY_SECS < now
    {
        return Err(invalid("expired"));
    }
    let claims: Claims = serde_json::from_value(data.claims).map_err(|_| invalid("malformed claims"))?;
    if !claims.events.contains_key(BACKCHANNEL_LOGOUT_EVENT) {
        return Err(invalid("not a back-channel logout event"));
    }
    if claims.nonce.is_some() {
        return Err(invalid("carries a nonce"));
    }
    if claims.sub.is_none() && claims.sid.is_none() {
        return Err(invalid("names neither sub nor sid"));
    }
    if claims.iat > now + CLOCK_LEEWAY_SECS || claims.iat + MAX_LOGOUT_TOKEN_AGE_SECS < now {
        return Err(invalid("issued at an unlikely time"));
    }
    Ok(Logout {
        sub: claims.sub,
        sid: claims.sid,
        issued_at: claims.iat,
        jti: claims.jti,
    })
}
