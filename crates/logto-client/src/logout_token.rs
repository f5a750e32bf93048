//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): signed like
//! ID tokens, naming a user (`sub`) and/or one Logto session (`sid`) that has signed out.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::client::LogtoClient;
use crate::error::{LogtoError, TokenError, TokenKind};
use crate::jwt::{self, AudClaim, CLOCK_LEEWAY_SECS, Jwk, TokenHeader};

/// The event that marks a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Oldest logout token accepted, by `iat`.
pub const MAX_LOGOUT_TOKEN_AGE_SECS: u64 = 300;

/// Who signed out, from a verified logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

impl Logout {
    /// A logout as a verified token names it: for stores and tests that keep or replay logouts.
    pub fn new(sub: Option<String>, sid: Option<String>, issued_at: u64, jti: impl Into<String>) -> Self {
        Self {
            sub,
            sid,
            issued_at,
            jti: jti.into(),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    #[allow(dead_code)]
    aud: AudClaim,
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

/// `logout+jwt`, or its full media type, compared as media types are (case-insensitively).
fn is_logout_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ == "logout+jwt" || typ == "application/logout+jwt"
}

/// Checks a logout token's header `typ`, signature and claims.
pub(crate) fn verify(
    token: &str,
    header: &TokenHeader,
    key: &Jwk,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<Logout, TokenError> {
    // BCL 2.4 and ASVS 5 10.5.5: explicitly typed, so no other JWT of Logto's (an ID token, an
    // access token) can be replayed as a logout token. An untyped token is refused too.
    if !header.typ.as_deref().is_some_and(is_logout_type) {
        return Err(TokenError::WrongType);
    }
    // The key must fit the header's algorithm before it is used.
    let claims = jwt::verify_signature(token, header, key)?;
    // Logout tokens need not carry `exp`; when they do, it is checked below.
    jwt::check_issuer(&claims, issuer, &["iss", "aud", "iat"])?;
    jwt::check_audience(&claims, client_id)?;
    if let Some(exp) = claims.get("exp") {
        // An `exp` that is not a whole number of seconds cannot be compared: refused.
        let exp = exp.as_u64().ok_or(TokenError::Malformed)?;
        if exp.saturating_add(CLOCK_LEEWAY_SECS) < now {
            return Err(TokenError::Expired);
        }
    }
    let claims: Claims = serde_json::from_value(Value::Object(claims)).map_err(|_| TokenError::Malformed)?;
    if !claims.events.contains_key(BACKCHANNEL_LOGOUT_EVENT) {
        return Err(TokenError::NotALogoutEvent);
    }
    if claims.nonce.is_some() {
        return Err(TokenError::UnexpectedNonce);
    }
    if claims.sub.is_none() && claims.sid.is_none() {
        return Err(TokenError::NoSubject);
    }
    if claims.iat > now + CLOCK_LEEWAY_SECS || claims.iat + MAX_LOGOUT_TOKEN_AGE_SECS < now {
        return Err(TokenError::UnlikelyIssueTime);
    }
    Ok(Logout {
        sub: claims.sub,
        sid: claims.sid,
        issued_at: claims.iat,
        jti: claims.jti,
    })
}

impl LogtoClient {
    /// Verifies a back-channel logout token from Logto and says who signed out.
    pub async fn verify_logout_token(&self, token: &str) -> Result<Logout, LogtoError> {
        let kind = TokenKind::LogoutToken;
        let metadata = self.metadata().await?;
        let (header, key) = self.signing_key(&metadata, token, kind).await?;
        verify(token, &header, &key, &self.issuer, &self.config.app_id, self.now())
            .map_err(|reason| LogtoError::invalid_token(kind, reason))
    }
}
