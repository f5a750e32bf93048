//! Logto's signing keys, cached. Lookups of a known key never wait for the network: a fetch runs
//! outside the state's lock, one at a time, and lookups that need it wait for that one fetch
//! (bounded by the HTTP client's timeout) instead of sending their own.
//!
//! Every fetch is rate-limited: an unknown `kid` (key rotation) refetches at most once per
//! [`UNKNOWN_KID_REFETCH_INTERVAL`], so forged `kid`s cannot make us hammer Logto; after a failed
//! fetch the next one waits [`RETRY_AFTER_FAILURE`] (the failure is answered meanwhile), so a
//! Logto that is down is not asked on every request; keys older than [`KEYS_MAX_AGE`] are
//! fetched again, so a key removed at Logto stops being trusted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
// Windows are measured on tokio's clock (the system's monotonic clock, unless a test pauses it
// to move time on without waiting).
use tokio::time::Instant;

use crate::clock::{Clock, SystemClock};
use crate::error::{Endpoint, LogtoError, TokenError, TokenKind};
use crate::jwt::Jwk;

/// Shortest time between two refetches caused by an unknown `kid`.
pub(crate) const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// How long fetched keys are trusted before they are fetched again.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(600);

/// How long after a failed call to Logto (discovery or keys) the failure is answered without
/// asking Logto again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// A JWKS document, as Logto serves it.
#[derive(Deserialize)]
struct JwkDocument {
    keys: Vec<Jwk>,
}

/// Logto's key set, each key shared (with the verified-token cache's entries, and with a request
/// verifying a token) instead of copied.
#[derive(Debug, Clone)]
pub(crate) struct JwkSet {
    /// The keys.
    pub keys: Vec<Arc<Jwk>>,
}

impl JwkSet {
    /// The key set in a JWKS document's `body`.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, LogtoError> {
        let document: JwkDocument = serde_json::from_slice(body).map_err(|e| LogtoError::InvalidResponse {
            endpoint: Endpoint::Jwks,
            detail: format!("not a JWK set: {e}"),
        })?;
        Ok(JwkSet {
            keys: document.keys.into_iter().map(Arc::new).collect(),
        })
    }

    fn find(&self, kid: &str) -> Option<&Arc<Jwk>> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }
}

#[derive(Default)]
struct State {
    keys: Option<Arc<JwkSet>>,
    /// When the keys were fetched, by the client's clock (seconds since the epoch).
    fetched_at: u64,
    /// When an unknown `kid` last caused a refetch (monotonic).
    last_kid_refetch: Option<Instant>,
    /// The last failed fetch, answered until [`RETRY_AFTER_FAILURE`] has passed.
    last_failure: Option<(Instant, LogtoError)>,
    /// Fetches attempted so far: a waiter that sees it move knows a fetch ended meanwhile.
    attempts: u64,
}

/// A cache of one JWKS document.
pub(crate) struct JwksCache {
    /// Held only to read or write the state, never across a fetch.
    state: Mutex<State>,
    /// Held across a fetch: the one fetch in flight.
    fetching: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

/// How the key for a token is chosen.
pub(crate) enum KeyLookup<'a> {
    /// The token's header names a key.
    Kid(&'a str),
    /// No `kid`: acceptable only when the set holds exactly one key.
    OnlyKey,
}

/// Why the cached keys alone cannot answer.
enum Need {
    /// Nothing cached yet.
    FirstFetch,
    /// Cached keys are past [`KEYS_MAX_AGE`].
    Stale,
    /// The `kid` is not in the (fresh) set.
    UnknownKid,
}

impl JwksCache {
    /// An empty cache whose keys age by `clock`.
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            clock,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Finds the key for a token of `kind`, fetching or refetching the JWKS as needed. `fetch`
    /// is awaited only when a fetch is due (a future does nothing until then). It is a future,
    /// not an async closure, so that the returned future is `Send` whenever `fetch` is: an
    /// async closure's future cannot be proven `Send` in a generic function.
    pub(crate) async fn find(
        &self,
        lookup: KeyLookup<'_>,
        kind: TokenKind,
        fetch: impl Future<Output = Result<JwkSet, LogtoError>>,
    ) -> Result<Arc<Jwk>, LogtoError> {
        let (keys, attempts) = {
            let state = self.state();
            (state.keys.clone(), state.attempts)
        };
        let need = match &keys {
            None => Need::FirstFetch,
            Some(_) if self.is_stale() => Need::Stale,
            Some(keys) => match pick(keys, &lookup, kind) {
                Some(found) => return found,
                None => Need::UnknownKid,
            },
        };
        // One fetch at a time; whoever waited here uses what the fetch before them brought.
        let _fetching = self.fetching.lock().await;
        let may_fetch = {
            let state = self.state();
            let failed_recently = state
                .last_failure
                .as_ref()
                .is_some_and(|(at, _)| at.elapsed() < RETRY_AFTER_FAILURE);
            let moved = state.attempts != attempts;
            !moved
                && !failed_recently
                && match need {
                    Need::FirstFetch | Need::Stale => true,
                    Need::UnknownKid => state
                        .last_kid_refetch
                        .is_none_or(|at| at.elapsed() >= UNKNOWN_KID_REFETCH_INTERVAL),
                }
        };
        if may_fetch {
            if let Need::UnknownKid = need {
                self.state().last_kid_refetch = Some(Instant::now());
            }
            let result = fetch.await;
            let mut state = self.state();
            state.attempts += 1;
            match result {
                Ok(fetched) => {
                    state.keys = Some(Arc::new(fetched));
                    state.fetched_at = self.clock.now();
                    state.last_failure = None;
                }
                Err(e) => state.last_failure = Some((Instant::now(), e)),
            }
        }
        let state = self.state();
        match &state.keys {
            // Stale keys still serve while Logto cannot be asked: better than refusing everyone.
            Some(keys) => pick(keys, &lookup, kind)
                .unwrap_or_else(|| Err(LogtoError::invalid_token(kind, TokenError::UnknownKey))),
            None => Err(match &state.last_failure {
                Some((_, e)) => e.clone(),
                None => LogtoError::invalid_token(kind, TokenError::UnknownKey),
            }),
        }
    }

    /// Whether a token already verified with the key `kid` may be trusted again: the cached keys
    /// hold it and are fresh (younger than [`KEYS_MAX_AGE`]), or are stale but served anyway
    /// because the last refetch failed less than [`RETRY_AFTER_FAILURE`] ago (as
    /// [`JwksCache::find`] serves them). Never fetches; a `false` sends the caller through
    /// [`JwksCache::find`], which refetches as it should.
    pub(crate) fn trusts_key(&self, kid: &str) -> bool {
        let now = self.clock.now();
        let state = self.state();
        let fresh = now.saturating_sub(state.fetched_at) < KEYS_MAX_AGE.as_secs();
        let refetch_failed = state
            .last_failure
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < RETRY_AFTER_FAILURE);
        (fresh || refetch_failed) && state.keys.as_ref().is_some_and(|keys| keys.find(kid).is_some())
    }

    fn is_stale(&self) -> bool {
        let fetched_at = self.state().fetched_at;
        self.clock.now().saturating_sub(fetched_at) >= KEYS_MAX_AGE.as_secs()
    }
}

/// The key `lookup` asks for in `keys`: `None` when the `kid` is not there (a refetch may find it).
fn pick(keys: &JwkSet, lookup: &KeyLookup<'_>, kind: TokenKind) -> Option<Result<Arc<Jwk>, LogtoError>> {
    match lookup {
        KeyLookup::OnlyKey => Some(match keys.keys.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(LogtoError::invalid_token(kind, TokenError::AmbiguousKey)),
        }),
        KeyLookup::Kid(kid) => keys.find(kid).cloned().map(Ok),
    }
}
