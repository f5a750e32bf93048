//! Token revocation (RFC 7009): revoking a refresh token at sign-out, and checking the client's
//! credentials with a revocation that revokes nothing.

use std::time::Instant;

use serde::Deserialize;

use crate::client::LogtoClient;
use crate::error::{Endpoint, LogtoError};
use crate::http::{read_body, unreachable};
use crate::secret::RefreshToken;
use crate::telemetry;

impl LogtoClient {
    /// Checks that Logto accepts this app's client credentials, without any user's token: it
    /// asks to revoke a token that does not exist, with client authentication. Logto answers
    /// success for an unknown token (RFC 7009) and `invalid_client` for a wrong id or secret.
    pub async fn check_credentials(&self) -> Result<(), LogtoError> {
        self.post_revocation("credentials-check-not-a-token", "refresh_token")
            .await
    }

    /// Revokes a refresh token (client authentication included), so ending the Logto session
    /// also ends what this app could do on the user's behalf.
    ///
    /// Sent directly rather than through the oauth2 crate, which refuses http endpoints here and
    /// so would fail against a self-hosted Logto on a private network.
    pub async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), LogtoError> {
        self.post_revocation(refresh_token.secret(), "refresh_token").await
    }

    async fn post_revocation(&self, token: &str, token_type_hint: &str) -> Result<(), LogtoError> {
        let started = Instant::now();
        let result = self.send_revocation(token, token_type_hint).await;
        telemetry::record_call(Endpoint::Revocation, started, &result);
        result
    }

    async fn send_revocation(&self, token: &str, token_type_hint: &str) -> Result<(), LogtoError> {
        let endpoint = Endpoint::Revocation;
        let metadata = self.metadata().await?;
        let url = metadata
            .revocation_endpoint
            .as_deref()
            .ok_or_else(|| LogtoError::InvalidResponse {
                endpoint,
                detail: "Logto announces no revocation endpoint".into(),
            })?;
        // RFC 6749 2.3.1: the credentials are form-encoded before they go into Basic auth.
        let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let response = self
            .http
            .post(url)
            .basic_auth(
                encode(&self.config.app_id),
                Some(encode(self.config.app_secret.secret())),
            )
            .form(&[("token", token), ("token_type_hint", token_type_hint)])
            .send()
            .await
            .map_err(|e| unreachable(endpoint, url, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = read_body(response).await.unwrap_or_default();
        match serde_json::from_slice::<OAuthErrorBody>(&body) {
            Ok(body) => Err(LogtoError::Rejected {
                endpoint,
                code: body.error,
                description: body.error_description,
            }),
            Err(_) => Err(LogtoError::HttpStatus {
                endpoint,
                url: url.to_owned(),
                status: status.as_u16(),
            }),
        }
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}
