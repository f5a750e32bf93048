//! Access tokens for the pages that need them: from the session's cache while fresh, else from a
//! refresh (one per session at a time: see `LogtoClient::refresh`, and the Redis store). A refused refresh token ends
//! the session cleanly; Logto failing keeps it.

use logto_client::{AccessToken, Audience, LogtoError, UserInfo};

use crate::error::AuthError;
use crate::extract::SignedInUser;

impl SignedInUser {
    /// An access token for `audience`, refreshed when it is missing or about to expire. When
    /// Logto refuses the refresh token (expired, revoked, replayed), the session ends and the
    /// error sends the browser to sign in again.
    pub async fn access_token(&self, audience: &Audience) -> Result<AccessToken, AuthError> {
        let client = self.auth.client();
        if let Some(token) = self.session.cached_access_token(audience, client.now()) {
            return Ok(token);
        }
        let Some(refresh_token) = self.session.refresh_token() else {
            self.session.purge();
            return Err(self.sign_in_required());
        };
        match self.auth.refresh(&refresh_token, audience, &self.user.sub).await {
            Ok(refreshed) => {
                self.session.store_refreshed(audience, &refreshed)?;
                Ok(refreshed.access_token.token)
            }
            // Expired, revoked or replayed: the grant is gone, and so is the session.
            Err(AuthError::Logto(e)) if e.is_invalid_grant() => {
                log::info!(
                    "session of user {} ended: Logto refused its refresh token",
                    crate::log_safe(&self.user.sub)
                );
                self.session.purge();
                Err(self.sign_in_required())
            }
            Err(e) => Err(e),
        }
    }

    /// Userinfo read from Logto now, checked to describe the signed-in user. A cached token that
    /// Logto no longer accepts is replaced once.
    pub async fn fresh_userinfo(&self) -> Result<UserInfo, AuthError> {
        let client = self.auth.client();
        let token = self.access_token(&Audience::Userinfo).await?;
        match client.fetch_userinfo(&token, &self.user.sub).await {
            Err(LogtoError::Rejected { code, .. }) if code == "invalid_token" => {
                self.session.forget_access_token(&Audience::Userinfo)?;
                let token = self.access_token(&Audience::Userinfo).await?;
                Ok(client.fetch_userinfo(&token, &self.user.sub).await?)
            }
            other => Ok(other?),
        }
    }

    /// Reads userinfo again when what the session holds of the user is older than the
    /// configured maximum age ([`LogtoAuthBuilder::userinfo_max_age`](crate::LogtoAuthBuilder::userinfo_max_age)),
    /// and keeps it; `self.user` is then at most that old. Sign-in reads it too, so right after
    /// signing in nothing is asked.
    pub async fn revalidate_user(&mut self) -> Result<(), AuthError> {
        let max_age = self.auth.0.userinfo_max_age.as_secs();
        let age = self.auth.client().now().saturating_sub(self.user.userinfo_at);
        if max_age > 0 && age < max_age {
            return Ok(());
        }
        let userinfo = self.fresh_userinfo().await?;
        self.update_user(&userinfo)
    }

    /// Keeps what fresh userinfo says about the user in the session (and in `self.user`).
    ///
    /// With a maximum age of 0 the read time is never consulted, so when userinfo changed nothing
    /// the session is left as it is: a write re-encrypts the whole state and sends it back in a
    /// `Set-Cookie` (bench/PROFILE.md). With a maximum age, the write remembers when it was read.
    pub fn update_user(&mut self, userinfo: &UserInfo) -> Result<(), AuthError> {
        let user = self.user.updated_from(userinfo, self.auth.client().now());
        if self.auth.0.userinfo_max_age.is_zero() && user.same_apart_from_read_time(&self.user) {
            return Ok(());
        }
        self.session.set_user(&user)?;
        // What was kept: pictures go first when the session must shrink.
        self.user = self.session.stored_user().unwrap_or(user);
        Ok(())
    }
}
