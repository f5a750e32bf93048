//! Tokens the token endpoint hands out, and when to renew them.

use serde::{Deserialize, Serialize};

use crate::id_token::IdTokenClaims;
use crate::jwt::AudClaim;
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// An access token with its lifetime.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssuedAccessToken {
    /// The token.
    pub token: AccessToken,
    /// When it was obtained, seconds since the epoch.
    pub obtained_at: u64,
    /// When it expires, seconds since the epoch.
    pub expires_at: u64,
}

impl IssuedAccessToken {
    /// Whether it should be renewed at `now`: 60 s ahead of expiry, or halfway through a
    /// lifetime shorter than two minutes.
    pub fn needs_refresh(&self, now: u64) -> bool {
        needs_refresh(self.obtained_at, self.expires_at, now)
    }
}

/// Whether a token obtained at `obtained_at` and expiring at `expires_at` should be refreshed at
/// `now`: 60 s ahead of expiry, or halfway through a lifetime shorter than two minutes.
pub fn needs_refresh(obtained_at: u64, expires_at: u64, now: u64) -> bool {
    let lifetime = expires_at.saturating_sub(obtained_at);
    let ahead = (lifetime / 2).min(60);
    now + ahead >= expires_at
}

/// The result of a refresh grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refreshed {
    /// The access token for the audience asked for.
    pub access_token: IssuedAccessToken,
    /// The refresh token to keep from now on (rotated or not).
    pub refresh_token: RefreshToken,
    /// The new ID token's claims, verified, when Logto sent one.
    pub id_token: Option<IdTokenClaims>,
    /// The new ID token as Logto signed it, when Logto sent one: the session keeps the newest
    /// for sign-out's `id_token_hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_id_token: Option<IdToken>,
}

impl Refreshed {
    /// A refresh grant's result, for stores that share one grant's result with other instances.
    pub fn new(access_token: IssuedAccessToken, refresh_token: RefreshToken, id_token: Option<IdTokenClaims>) -> Self {
        Self {
            access_token,
            refresh_token,
            id_token,
            raw_id_token: None,
        }
    }
}

/// What an access token says about itself, for display. Read without verifying the signature:
/// use it only on a token that came straight from Logto's token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Audiences.
    pub audience: Vec<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: Option<u64>,
}

impl AccessTokenClaims {
    /// Reads the claims of a JWT access token without verifying it; `None` for an opaque one.
    pub fn read_unverified(token: &AccessToken) -> Option<Self> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            aud: Option<AudClaim>,
            #[serde(default)]
            scope: Option<String>,
            #[serde(default)]
            exp: Option<u64>,
        }
        let raw: Raw = serde_json::from_value(crate::jwt::unverified_claims(token.secret())?.into()).ok()?;
        Some(AccessTokenClaims {
            audience: raw.aud.map(|aud| aud.as_slice().to_vec()).unwrap_or_default(),
            scopes: raw
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_at: raw.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_a_minute_ahead_or_halfway_through_short_lifetimes() {
        assert!(!needs_refresh(0, 3600, 3539));
        assert!(needs_refresh(0, 3600, 3540));
        assert!(!needs_refresh(100, 102, 100));
        assert!(needs_refresh(100, 102, 101));
    }
}
