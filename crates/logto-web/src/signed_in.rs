//! [`SignedInUser`]: who is signed in on this request, and the tokens their session holds: from
//! the session's cache while fresh, else from a refresh (one grant per session at a time, through
//! the store). A refused refresh token ends the session cleanly; Logto failing keeps it.

use logto_client::{AccessToken, Audience, LogtoClient, LogtoError, UserInfo};

use crate::error::AuthError;
use crate::return_to::safe_return_to;
use crate::session::{LogtoSession, SessionEntries};
use crate::user::SessionUser;
use crate::web::LogtoWeb;

/// A signed-in user of one request, over the framework's session `S`.
pub struct SignedInUser<S: SessionEntries> {
    /// Who is signed in.
    pub user: SessionUser,
    /// The session's CSRF token, for the sign-out form.
    pub csrf_token: String,
    /// This page's path and query, to come back to after signing in again.
    pub here: String,
    session: LogtoSession<S>,
    web: LogtoWeb,
}

impl LogtoWeb {
    /// The signed-in user of a request's session, or `None` (after ending a session that is past
    /// its maximum age or that Logto ended). `here` is the request's path and query. A session
    /// the store could not read is the 503 error, never "signed out".
    pub fn signed_in_user<S: SessionEntries>(
        &self,
        entries: S,
        here: Option<&str>,
    ) -> Result<Option<SignedInUser<S>>, AuthError> {
        let session = self.session(entries)?;
        let Some(user) = self.current_user(&session) else {
            return Ok(None);
        };
        Ok(Some(SignedInUser {
            user,
            csrf_token: session.csrf_token().unwrap_or_default(),
            here: safe_return_to(here),
            session,
            web: self.clone(),
        }))
    }
}

impl<S: SessionEntries> SignedInUser<S> {
    /// The Logto client, for calls of the app's own.
    pub fn client(&self) -> &LogtoClient {
        self.web.client()
    }

    /// The error that sends the browser to sign in and back to this page.
    pub fn sign_in_required(&self) -> AuthError {
        self.web.sign_in_required(&self.here)
    }

    /// An access token for `audience`, refreshed when it is missing or about to expire: for an
    /// organization ([`Audience::Organization`]) or an API resource within one
    /// ([`Audience::OrganizationResource`]) too. When Logto refuses the refresh token (expired,
    /// revoked, replayed), the session ends and the error sends the browser to sign in again.
    /// When Logto refuses a token for an organization (the user is no longer a member), that
    /// organization leaves the session (and the active choice with it), the user stays signed in,
    /// and the error is [`AuthError::OrganizationDenied`]; `self.user` still lists it until
    /// [`SignedInUser::reload_user`].
    pub async fn access_token(&self, audience: &Audience) -> Result<AccessToken, AuthError> {
        let client = self.web.client();
        if let Some(token) = self.session.cached_access_token(audience, client.now()) {
            return Ok(token);
        }
        let Some(refresh_token) = self.session.refresh_token() else {
            self.session.purge();
            return Err(self.sign_in_required());
        };
        let refreshed = self
            .web
            .store()
            .refresh(client, &refresh_token, audience, &self.user.sub)
            .await;
        match refreshed {
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
            Err(AuthError::Logto(e)) if e.is_organization_denied() && audience.organization_id().is_some() => {
                let organization = audience.organization_id().unwrap_or_default();
                log::info!(
                    "user {} no longer in organization {}: dropped from the session",
                    crate::log_safe(&self.user.sub),
                    crate::log_safe(organization)
                );
                if let Some(user) = self.session.stored_user() {
                    self.session.forget_organization_tokens(&[organization.to_owned()])?;
                    self.session.set_user(&user.without_organization(organization))?;
                }
                Err(AuthError::OrganizationDenied(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the user again from the session: after [`SignedInUser::access_token`] dropped an
    /// organization Logto refused.
    pub fn reload_user(&mut self) {
        if let Some(user) = self.session.stored_user() {
            self.user = user;
        }
    }

    /// Userinfo read from Logto now, checked to describe the signed-in user. A cached token that
    /// Logto no longer accepts is replaced once.
    pub async fn fresh_userinfo(&self) -> Result<UserInfo, AuthError> {
        let client = self.web.client();
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
    /// configured maximum age ([`LogtoWebBuilder::userinfo_max_age`](crate::LogtoWebBuilder::userinfo_max_age)),
    /// and keeps it; `self.user` is then at most that old. Sign-in reads it too, so right after
    /// signing in nothing is asked.
    pub async fn revalidate_user(&mut self) -> Result<(), AuthError> {
        let max_age = self.web.0.userinfo_max_age.as_secs();
        let age = self.web.client().now().saturating_sub(self.user.userinfo_at);
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
        let user = self.user.updated_from(userinfo, self.web.client().now());
        if self.web.0.userinfo_max_age.is_zero() && user.same_apart_from_read_time(&self.user) {
            return Ok(());
        }
        // A token cached before a membership or role change carries the old permissions.
        self.session
            .forget_organization_tokens(&self.user.organizations_changed_in(&user))?;
        self.session.set_user(&user)?;
        // What was kept: pictures go first when the session must shrink.
        self.user = self.session.stored_user().unwrap_or(user);
        Ok(())
    }
}
