//! Ending the Logto session: the end-session URL the browser is sent to at sign-out.

use url::Url;

use crate::client::LogtoClient;
use crate::error::LogtoError;
use crate::secret::IdToken;

impl LogtoClient {
    /// Where to send the browser to end the Logto session; it returns to the configured post
    /// sign-out redirect URI. `None` when Logto announces no end-session endpoint.
    pub async fn end_session_url(&self) -> Result<Option<Url>, LogtoError> {
        let metadata = self.metadata().await?;
        Ok(metadata.end_session_endpoint.as_deref().and_then(|endpoint| {
            let mut url = Url::parse(endpoint).ok()?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("client_id", &self.config.app_id);
                if let Some(uri) = &self.config.post_sign_out_redirect_uri {
                    query.append_pair("post_logout_redirect_uri", uri.as_str());
                }
            }
            Some(url)
        }))
    }

    /// Where to send the browser to end the Logto session of the user this ID token was issued
    /// to: the end-session URL with `id_token_hint` (the raw ID token the sign-in gave, see
    /// [`SignedIn::raw_id_token`](crate::SignedIn::raw_id_token)), `client_id` and the configured post sign-out redirect URI.
    /// With the hint, Logto ends that session without asking the user. The sign-in's ID token
    /// serves for as long as the session lives: Logto takes an expired one as a hint. `None` when
    /// Logto announces no end-session endpoint.
    ///
    /// The URL carries the ID token: redirect the browser to it, and never log it.
    pub async fn end_session_url_for(&self, id_token: &IdToken) -> Result<Option<Url>, LogtoError> {
        let url = self.end_session_url().await?;
        Ok(url.map(|mut url| {
            url.query_pairs_mut().append_pair("id_token_hint", id_token.secret());
            url
        }))
    }
}
