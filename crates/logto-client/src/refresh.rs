//! Refreshing access tokens: the refresh grant, sent through the client's single-flight
//! coordinator ([`RefreshCoordinator`](crate::refresh_coordinator::RefreshCoordinator)), so that
//! one session's concurrent refreshes send one grant and never replay a rotated refresh token.

use oauth2::TokenResponse;

use crate::audience::Audience;
use crate::client::LogtoClient;
use crate::error::LogtoError;
use crate::http::BoundedHttp;
use crate::secret::{IdToken, RefreshToken};
use crate::telemetry;
use crate::token_endpoint::token_answer;
use crate::tokens::Refreshed;

impl LogtoClient {
    /// A fresh access token for `audience` from the refresh token, with the rotated refresh token
    /// and the new ID token (verified; its `sub` must be `sub`). Concurrent calls for one session
    /// within this process send one grant and share its result, and a call still carrying a
    /// refresh token that was just rotated presents the new one. An audience not requested at
    /// sign-in is refused before any request.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        self.check_requested(audience)?;
        self.refreshes
            .refresh(refresh_token, audience, self.now(), |current| async move {
                self.grant(&current, audience, sub).await
            })
            .await
    }

    /// One refresh grant, without the in-process single flight of [`LogtoClient::refresh`]: for a
    /// coordinator outside this process (e.g. a lock in a store shared by several instances),
    /// which must then make sure that one session sends one grant at a time, and that a rotated
    /// refresh token is never presented again (Logto would revoke the whole grant). Checks like
    /// [`LogtoClient::refresh`]: the audience must have been requested at sign-in, the new ID
    /// token is verified and must be about `sub`.
    pub async fn refresh_grant(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        self.check_requested(audience)?;
        self.grant(refresh_token, audience, sub).await
    }

    fn check_requested(&self, audience: &Audience) -> Result<(), LogtoError> {
        match audience {
            Audience::Userinfo => Ok(()),
            Audience::Resource(resource) if self.config.resources.contains(resource) => Ok(()),
            Audience::Organization(_) if self.organizations_enabled() => Ok(()),
            Audience::OrganizationResource { resource, .. }
                if self.organizations_enabled() && self.config.resources.contains(resource) =>
            {
                Ok(())
            }
            other => Err(LogtoError::NotRequested(other.key())),
        }
    }

    async fn grant(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        let result = self.send_refresh_grant(refresh_token, audience, sub).await;
        telemetry::record_refresh(&result);
        result
    }

    async fn send_refresh_grant(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let presented = oauth2::RefreshToken::new(refresh_token.secret().to_owned());
        let mut request = client.exchange_refresh_token(&presented);
        request = match audience {
            Audience::Userinfo => request,
            Audience::Resource(resource) => request.add_extra_param("resource", resource.clone()),
            Audience::Organization(id) => request.add_extra_param("organization_id", id.clone()),
            Audience::OrganizationResource {
                resource,
                organization_id,
            } => request
                .add_extra_param("resource", resource.clone())
                .add_extra_param("organization_id", organization_id.clone()),
        };
        let started = std::time::Instant::now();
        let response = request.request_async(&BoundedHttp(&self.http)).await;
        let response = token_answer(&metadata.token_endpoint, started, response)?;
        let (id_token, raw_id_token) = match response.extra_fields().id_token.as_deref() {
            Some(token) => {
                let claims = self.verify_id_token_with(&metadata, token, None).await?;
                if claims.sub != sub {
                    return Err(LogtoError::SubjectMismatch);
                }
                (Some(claims), Some(IdToken::new(token)))
            }
            None => (None, None),
        };
        Ok(Refreshed {
            access_token: self.issued_access_token(&response),
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone()))
                .unwrap_or_else(|| refresh_token.clone()),
            id_token,
            raw_id_token,
        })
    }
}
