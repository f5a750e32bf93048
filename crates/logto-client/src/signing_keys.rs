//! The keys a token signed by Logto is verified with: its header read against the algorithms
//! Logto announces, and the key it names found in the client's cache of Logto's key set
//! ([`JwksCache`](crate::jwks::JwksCache)), fetched when the cache says so.

use std::sync::Arc;

use crate::client::LogtoClient;
use crate::discovery::ProviderMetadata;
use crate::error::{Endpoint, LogtoError, TokenKind};
use crate::jwks::{JwkSet, KeyLookup};
use crate::jwt::{self, Jwk};

impl LogtoClient {
    /// Fetches Logto's signing keys afresh (the cache is left alone) and counts those a token
    /// could be verified with: a key type and algorithm this client accepts. For start-up checks.
    pub async fn load_keys(&self) -> Result<usize, LogtoError> {
        let metadata = self.metadata().await?;
        let set = self.fetch_jwks(&metadata.jwks_uri).await?;
        let algorithms = jwt::allowed_algorithms(&metadata.id_token_signing_alg_values_supported);
        let usable = set
            .keys
            .iter()
            .filter(|key| algorithms.iter().any(|alg| jwt::key_fits(key, *alg)))
            .count();
        Ok(usable)
    }

    /// The header of a token signed by Logto (its algorithm allowed) and the JWKS key it names.
    pub(crate) async fn signing_key(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
        kind: TokenKind,
    ) -> Result<(jwt::TokenHeader, Arc<Jwk>), LogtoError> {
        let algorithms = jwt::allowed_algorithms(&metadata.id_token_signing_alg_values_supported);
        let header = jwt::read_header(token, &algorithms).map_err(|reason| LogtoError::invalid_token(kind, reason))?;
        let lookup = match header.kid.as_deref() {
            Some(kid) => KeyLookup::Kid(kid),
            None => KeyLookup::OnlyKey,
        };
        let key = self
            .jwks
            .find(lookup, kind, self.fetch_jwks(&metadata.jwks_uri))
            .await?;
        Ok((header, key))
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<JwkSet, LogtoError> {
        let body = self.get_json(Endpoint::Jwks, jwks_uri, None).await?;
        JwkSet::parse(&body)
    }
}
