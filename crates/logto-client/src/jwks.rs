//! Logto's signing keys, cached; refetched once when an unknown `kid` appears (key rotation), at
//! most once per [`UNKNOWN_KID_REFETCH_INTERVAL`] so forged `kid`s cannot make us hammer Logto.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::Mutex;

use crate::error::{LogtoError, TokenError, TokenKind};

/// Shortest time between two refetches caused by an unknown `kid`.
pub(crate) const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    keys: Option<Arc<JwkSet>>,
    last_refetch: Option<Instant>,
}

/// A cache of one JWKS document.
#[derive(Default)]
pub(crate) struct JwksCache {
    // One lock for reads and fetches: fetches are rare, and holding it while fetching makes
    // concurrent sign-ins share one fetch instead of each sending their own.
    state: Mutex<State>,
}

/// How the key for a token is chosen.
pub(crate) enum KeyLookup<'a> {
    /// The token's header names a key.
    Kid(&'a str),
    /// No `kid`: acceptable only when the set holds exactly one key.
    OnlyKey,
}

impl JwksCache {
    /// Finds the key for a token of `kind`, fetching or refetching the JWKS as needed.
    pub(crate) async fn find(
        &self,
        lookup: KeyLookup<'_>,
        kind: TokenKind,
        fetch: impl AsyncFn() -> Result<JwkSet, LogtoError>,
    ) -> Result<Jwk, LogtoError> {
        let refused = |reason| LogtoError::invalid_token(kind, reason);
        let mut state = self.state.lock().await;
        let keys = match &state.keys {
            Some(keys) => keys.clone(),
            None => {
                let keys = Arc::new(fetch().await?);
                state.keys = Some(keys.clone());
                keys
            }
        };
        match lookup {
            KeyLookup::OnlyKey => match keys.keys.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(refused(TokenError::AmbiguousKey)),
            },
            KeyLookup::Kid(kid) => {
                if let Some(key) = keys.find(kid) {
                    return Ok(key.clone());
                }
                let may_refetch = state
                    .last_refetch
                    .is_none_or(|at| at.elapsed() >= UNKNOWN_KID_REFETCH_INTERVAL);
                if !may_refetch {
                    return Err(refused(TokenError::UnknownKey));
                }
                state.last_refetch = Some(Instant::now());
                let keys = Arc::new(fetch().await?);
                state.keys = Some(keys.clone());
                keys.find(kid).cloned().ok_or_else(|| refused(TokenError::UnknownKey))
            }
        }
    }
}
