//! What Logto says of the user, as the client's methods give it: an ID token's claims, verified
//! ([`LogtoClient::verify_id_token`]), and userinfo, fetched and checked to describe the same user
//! ([`LogtoClient::fetch_userinfo`]). The claims' types and checks are in `id_token.rs` and
//! `userinfo.rs`.

use crate::client::LogtoClient;
use crate::discovery::ProviderMetadata;
use crate::error::{Endpoint, LogtoError, TokenKind};
use crate::id_token::{Expected, IdTokenClaims, verify};
use crate::secret::{AccessToken, IdToken, Nonce};
use crate::userinfo::UserInfo;

impl LogtoClient {
    /// Verifies an ID token from Logto: allowed algorithm, key from the JWKS, signature, `iss`,
    /// `aud`, `azp`, `exp`, `iat`, and the `nonce` when one is given.
    pub async fn verify_id_token(&self, token: &IdToken, nonce: Option<&Nonce>) -> Result<IdTokenClaims, LogtoError> {
        let metadata = self.metadata().await?;
        self.verify_id_token_with(&metadata, token.secret(), nonce.map(Nonce::secret))
            .await
    }

    pub(crate) async fn verify_id_token_with(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<IdTokenClaims, LogtoError> {
        let kind = TokenKind::IdToken;
        let (header, key) = self.signing_key(metadata, token, kind).await?;
        let expected = Expected {
            issuer: &self.issuer,
            client_id: &self.config.app_id,
            nonce,
            now: self.now(),
        };
        verify(token, &header, &key, &expected).map_err(|reason| LogtoError::invalid_token(kind, reason))
    }
}

impl LogtoClient {
    /// Reads userinfo with an access token, and checks it describes `expected_sub`.
    pub async fn fetch_userinfo(&self, access_token: &AccessToken, expected_sub: &str) -> Result<UserInfo, LogtoError> {
        let metadata = self.metadata().await?;
        let body = self
            .get_json(Endpoint::Userinfo, &metadata.userinfo_endpoint, Some(access_token))
            .await?;
        let userinfo: UserInfo = serde_json::from_slice(&body).map_err(|e| LogtoError::InvalidResponse {
            endpoint: Endpoint::Userinfo,
            detail: format!("not a userinfo document: {e}"),
        })?;
        if userinfo.sub != expected_sub {
            return Err(LogtoError::SubjectMismatch);
        }
        Ok(userinfo)
    }
}
