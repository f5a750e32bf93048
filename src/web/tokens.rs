//! Access tokens for the pages that need them: from the session's cache while fresh, else from
//! a refresh (one per session at a time, see `logto::tokens`). A refused refresh token ends the
//! session cleanly; Logto failing keeps it.

use serde::Serialize;

use crate::logto::tokens::AccessTokenClaims;
use crate::logto::{Audience, LogtoClient, LogtoError, UserInfo};

use super::error::AppError;
use super::extract::SignedInUser;
use super::session::AppSession;

/// An access token for `audience`, refreshed when it is missing or about to expire.
pub async fn access_token(
    session: &AppSession,
    logto: &LogtoClient,
    signed_in: &SignedInUser,
    audience: &Audience,
) -> Result<String, AppError> {
    if let Some(token) = session.cached_access_token(audience) {
        return Ok(token);
    }
    let ended = || {
        session.purge();
        AppError::SignInRequired {
            return_to: signed_in.return_to.clone(),
        }
    };
    let Some(refresh_token) = session.refresh_token() else {
        return Err(ended());
    };
    match logto.refresh(&refresh_token, audience, &signed_in.user.sub).await {
        Ok(fresh) => {
            session.store_fresh_token(audience, &fresh)?;
            Ok(fresh.access_token)
        }
        // Expired, revoked or replayed: the grant is gone, and so is the session.
        Err(e) if e.is_invalid_grant() => {
            log::info!(
                "session of user {} ended: Logto refused its refresh token",
                signed_in.user.sub
            );
            Err(ended())
        }
        Err(e) => Err(e.into()),
    }
}

/// Userinfo read now, checked to describe the signed-in user. A cached token that Logto no
/// longer accepts is replaced once.
pub async fn fresh_userinfo(
    session: &AppSession,
    logto: &LogtoClient,
    signed_in: &SignedInUser,
) -> Result<UserInfo, AppError> {
    let token = access_token(session, logto, signed_in, &Audience::Userinfo).await?;
    match logto.fetch_userinfo(&token, &signed_in.user.sub).await {
        Err(LogtoError::Rejected { code, .. }) if code == "invalid_token" => {
            session.forget_access_token(&Audience::Userinfo)?;
            let token = access_token(session, logto, signed_in, &Audience::Userinfo).await?;
            Ok(logto.fetch_userinfo(&token, &signed_in.user.sub).await?)
        }
        other => Ok(other?),
    }
}

/// What the profile page shows of one access token: never the token itself.
#[derive(Debug, Serialize)]
pub struct TokenSummary {
    /// What the token was asked for (resource URI or organization id).
    pub name: String,
    /// Audiences in the token.
    pub audience: Vec<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Seconds until it expires.
    pub expires_in: Option<u64>,
}

impl TokenSummary {
    /// Summarizes `token`, obtained for `name`.
    pub fn of(name: &str, token: &str) -> Self {
        let claims = AccessTokenClaims::read(token);
        let now = crate::logto::now();
        TokenSummary {
            name: name.to_owned(),
            audience: claims.as_ref().map(|c| c.audience.clone()).unwrap_or_default(),
            scopes: claims.as_ref().map(|c| c.scopes.clone()).unwrap_or_default(),
            expires_in: claims.and_then(|c| c.expires_at).map(|exp| exp.saturating_sub(now)),
        }
    }
}
