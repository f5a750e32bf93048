//! The token endpoint through the oauth2 crate: the OAuth client built from discovery (its types
//! in `oauth.rs`), the access token an answer issues, and its failures as [`LogtoError`]s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicErrorResponse, BasicTokenType};
use oauth2::{AuthType, AuthUrl, ClientId, RedirectUrl, RequestTokenError, TokenResponse, TokenUrl};

use crate::client::LogtoClient;
use crate::discovery::ProviderMetadata;
use crate::error::{Endpoint, LogtoError};
use crate::http::unreachable;
use crate::oauth::{LogtoTokenResponse, OAuthClient};
use crate::secret::AccessToken;
use crate::telemetry;
use crate::tokens::IssuedAccessToken;

/// Lifetime assumed for an access token whose response gives none.
const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl LogtoClient {
    /// The OAuth client for `metadata`, built on first use and kept while the metadata is the
    /// same (the same `Arc`: metadata fetched again builds a new one).
    pub(crate) fn oauth_client(&self, metadata: &Arc<ProviderMetadata>) -> Result<Arc<OAuthClient>, LogtoError> {
        // Never held across an await; a poisoned lock only means a build panicked elsewhere.
        let mut kept = self.oauth.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((built_from, client)) = kept.as_ref()
            && Arc::ptr_eq(built_from, metadata)
        {
            return Ok(client.clone());
        }
        let client = Arc::new(self.build_oauth_client(metadata)?);
        *kept = Some((metadata.clone(), client.clone()));
        Ok(client)
    }

    fn build_oauth_client(&self, metadata: &ProviderMetadata) -> Result<OAuthClient, LogtoError> {
        let bad = |what: &str| LogtoError::InvalidResponse {
            endpoint: Endpoint::Discovery,
            detail: format!("unusable {what}"),
        };
        Ok(oauth2::Client::new(ClientId::new(self.config.app_id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(self.config.app_secret.secret().to_owned()))
            .set_auth_type(AuthType::BasicAuth)
            .set_auth_uri(
                AuthUrl::new(metadata.authorization_endpoint.clone()).map_err(|_| bad("authorization endpoint"))?,
            )
            .set_token_uri(TokenUrl::new(metadata.token_endpoint.clone()).map_err(|_| bad("token endpoint"))?)
            .set_redirect_uri(RedirectUrl::from_url(self.config.redirect_uri.clone())))
    }

    pub(crate) fn issued_access_token(&self, response: &LogtoTokenResponse) -> IssuedAccessToken {
        let lifetime = response.expires_in().unwrap_or(DEFAULT_ACCESS_TOKEN_LIFETIME).as_secs();
        let obtained_at = self.now();
        IssuedAccessToken {
            token: AccessToken::new(response.access_token().secret().clone()),
            obtained_at,
            expires_at: obtained_at + lifetime,
        }
    }
}

/// Only bearer tokens are used (RFC 6750): a token of another type would be sent wrongly.
fn check_token_type(response: &LogtoTokenResponse) -> Result<(), LogtoError> {
    match response.token_type() {
        BasicTokenType::Bearer => Ok(()),
        _ => Err(LogtoError::InvalidResponse {
            endpoint: Endpoint::Token,
            detail: "the token type is not Bearer".into(),
        }),
    }
}

/// A token endpoint's answer, timed and checked: an OAuth error or a failure as a [`LogtoError`],
/// and a token type other than Bearer refused.
pub(crate) fn token_answer(
    url: &str,
    started: Instant,
    answer: Result<LogtoTokenResponse, TokenRequestError>,
) -> Result<LogtoTokenResponse, LogtoError> {
    let response = answer.map_err(|e| token_error(url, e));
    telemetry::record_call(Endpoint::Token, started, &response);
    let response = response?;
    check_token_type(&response)?;
    Ok(response)
}

/// How a call to the token endpoint through the oauth2 crate fails.
pub(crate) type TokenRequestError = RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>;

fn token_error(url: &str, error: TokenRequestError) -> LogtoError {
    let endpoint = Endpoint::Token;
    match error {
        RequestTokenError::ServerResponse(err) => LogtoError::Rejected {
            endpoint,
            code: err.error().to_string(),
            description: err.error_description().cloned(),
        },
        RequestTokenError::Request(oauth2::HttpClientError::Reqwest(e)) => unreachable(endpoint, url, *e),
        RequestTokenError::Request(oauth2::HttpClientError::Other(detail)) => {
            LogtoError::InvalidResponse { endpoint, detail }
        }
        RequestTokenError::Request(_) => LogtoError::InvalidResponse {
            endpoint,
            detail: "the request failed".into(),
        },
        // The body may hold tokens: it is never quoted, only described.
        RequestTokenError::Parse(_, _) => LogtoError::InvalidResponse {
            endpoint,
            detail: "the answer is not a token response".into(),
        },
        RequestTokenError::Other(_) => LogtoError::InvalidResponse {
            endpoint,
            detail: "unexpected answer".into(),
        },
    }
}
