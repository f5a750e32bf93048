//! Access tokens per audience, and the single-flight refresh that keeps them fresh.
//!
//! Logto rotates refresh tokens, and presenting an already-rotated one revokes the whole grant.
//! So all refreshes of one session go through one slot, keyed by (a hash of) the refresh token
//! the session holds: they run one at a time, a result is shared with every request that was
//! waiting for it, and it is remembered for [`SHARE_WINDOW`] so that requests still carrying the
//! old cookie use the rotated token instead of replaying the old one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::IdTokenClaims;
use super::error::LogtoError;

/// How long a refresh result is shared with requests of the same session.
pub const SHARE_WINDOW: Duration = Duration::from_secs(30);

/// Logto's audience prefix for organization tokens.
pub const ORGANIZATION_AUDIENCE_PREFIX: &str = "urn:logto:organization:";

/// What an access token is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Audience {
    /// Logto's userinfo endpoint (an opaque token).
    Userinfo,
    /// An API resource indicator requested at sign-in.
    Resource(String),
    /// A Logto organization, by id.
    Organization(String),
}

impl Audience {
    /// A short, unique key for caches: `""`, the resource URI, or `urn:logto:organization:<id>`.
    pub fn key(&self) -> String {
        match self {
            Audience::Userinfo => String::new(),
            Audience::Resource(resource) => resource.clone(),
            Audience::Organization(id) => format!("{ORGANIZATION_AUDIENCE_PREFIX}{id}"),
        }
    }
}

/// The result of a refresh grant.
#[derive(Clone)]
pub struct FreshToken {
    /// The access token for the audience asked for.
    pub access_token: String,
    /// When it was obtained, seconds since the epoch.
    pub obtained_at: u64,
    /// When it expires, seconds since the epoch.
    pub expires_at: u64,
    /// The refresh token the session must keep from now on (rotated or not).
    pub refresh_token: String,
    /// The new ID token's claims, verified, when Logto sent one.
    pub id_token: Option<IdTokenClaims>,
}

impl std::fmt::Debug for FreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Whether a token obtained at `obtained_at` and expiring at `expires_at` should be refreshed
/// now: 60 s ahead of expiry, or halfway through a lifetime shorter than two minutes.
pub fn needs_refresh(obtained_at: u64, expires_at: u64, now: u64) -> bool {
    let lifetime = expires_at.saturating_sub(obtained_at);
    let ahead = (lifetime / 2).min(60);
    now + ahead >= expires_at
}

/// What an access token says about itself, for display. Read without verifying the signature:
/// the token came straight from Logto's token endpoint, and the API it is for verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessTokenClaims {
    /// Audiences.
    pub audience: Vec<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: Option<u64>,
}

impl AccessTokenClaims {
    /// Reads the claims of a JWT access token; `None` for an opaque one.
    pub fn read(token: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            aud: Option<super::id_token::Audience>,
            #[serde(default)]
            scope: Option<String>,
            #[serde(default)]
            exp: Option<u64>,
        }
        let raw: Raw = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        Some(AccessTokenClaims {
            audience: match raw.aud {
                Some(super::id_token::Audience::One(one)) => vec![one],
                Some(super::id_token::Audience::Many(many)) => many,
                None => Vec::new(),
            },
            scopes: raw
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_at: raw.exp,
        })
    }
}

#[derive(Default)]
struct SlotState {
    /// The refresh token that replaced this slot's one, once Logto rotated it.
    rotated_to: Option<String>,
    /// Recent results by audience key.
    results: HashMap<String, (FreshToken, Instant)>,
    /// The last failure and when it happened. Requests that were already waiting share it (eight
    /// requests must not wait out eight timeouts in turn); later ones try again, except after
    /// `invalid_grant`, which is final.
    failure: Option<(LogtoError, Instant)>,
}

struct Slot {
    state: Mutex<SlotState>,
    created: Instant,
}

/// Serializes and shares refreshes per refresh token, within this process.
#[derive(Default)]
pub struct RefreshCoordinator {
    slots: StdMutex<Slots>,
}

#[derive(Default)]
struct Slots {
    by_token: HashMap<[u8; 32], Arc<Slot>>,
    /// When old slots were last forgotten: at most once per window, not on every refresh.
    last_pruned: Option<Instant>,
}

impl RefreshCoordinator {
    /// Runs `refresh` for `audience` unless a recent result for this session can be shared.
    /// `refresh` receives the refresh token to present (the rotated one, if rotation happened).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        audience: &Audience,
        refresh: impl AsyncFnOnce(String) -> Result<FreshToken, LogtoError>,
    ) -> Result<FreshToken, LogtoError> {
        let arrived = Instant::now();
        let slot = self.slot(refresh_token);
        let mut state = slot.state.lock().await;
        let key = audience.key();
        if let Some((result, at)) = state.results.get(&key)
            && at.elapsed() < SHARE_WINDOW
            && !needs_refresh(result.obtained_at, result.expires_at, super::now())
        {
            return Ok(result.clone());
        }
        if let Some((error, at)) = &state.failure
            && (*at >= arrived || error.is_invalid_grant())
        {
            return Err(error.clone());
        }
        let current = state.rotated_to.clone().unwrap_or_else(|| refresh_token.to_owned());
        match refresh(current.clone()).await {
            Ok(result) => {
                if result.refresh_token != current || state.rotated_to.is_some() {
                    state.rotated_to = Some(result.refresh_token.clone());
                }
                state.failure = None;
                state.results.insert(key, (result.clone(), Instant::now()));
                Ok(result)
            }
            Err(error) => {
                state.failure = Some((error.clone(), Instant::now()));
                Err(error)
            }
        }
    }

    fn slot(&self, refresh_token: &str) -> Arc<Slot> {
        let hash: [u8; 32] = Sha256::digest(refresh_token.as_bytes()).into();
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget slots past their window, so memory follows the number of active sessions; the
        // scan is over every session, so it runs once per window rather than on every refresh.
        if slots.last_pruned.is_none_or(|at| at.elapsed() >= SHARE_WINDOW) {
            slots
                .by_token
                .retain(|_, slot| slot.created.elapsed() < SHARE_WINDOW * 4 || Arc::strong_count(slot) > 1);
            slots.last_pruned = Some(Instant::now());
        }
        slots
            .by_token
            .entry(hash)
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: Mutex::default(),
                    created: Instant::now(),
                })
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn token(refresh_token: &str) -> FreshToken {
        let now = crate::logto::now();
        FreshToken {
            access_token: "at".into(),
            obtained_at: now,
            expires_at: now + 3600,
            refresh_token: refresh_token.into(),
            id_token: None,
        }
    }

    #[test]
    fn refreshes_a_minute_ahead_or_halfway_through_short_lifetimes() {
        assert!(!needs_refresh(0, 3600, 3539));
        assert!(needs_refresh(0, 3600, 3540));
        assert!(!needs_refresh(100, 102, 100));
        assert!(needs_refresh(100, 102, 101));
    }

    #[tokio::test]
    async fn concurrent_refreshes_of_one_session_send_one_grant() {
        let coordinator = Arc::new(RefreshCoordinator::default());
        let grants = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (coordinator, grants) = (coordinator.clone(), grants.clone());
                tokio::spawn(async move {
                    coordinator
                        .refresh("rt-1", &Audience::Userinfo, async |_| {
                            grants.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok(token("rt-2"))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().refresh_token, "rt-2");
        }
        assert_eq!(grants.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn after_rotation_the_new_refresh_token_is_presented_never_the_old_one() {
        let coordinator = RefreshCoordinator::default();
        let first = coordinator
            .refresh("rt-1", &Audience::Userinfo, async |_| Ok(token("rt-2")))
            .await
            .unwrap();
        assert_eq!(first.refresh_token, "rt-2");
        // Another audience, still from a request carrying rt-1.
        let api = Audience::Resource("https://api.example.com".into());
        let presented = coordinator
            .refresh("rt-1", &api, async |presented| {
                assert_eq!(presented, "rt-2");
                Ok(token("rt-2"))
            })
            .await
            .unwrap();
        assert_eq!(presented.refresh_token, "rt-2");
    }

    #[tokio::test]
    async fn a_transient_failure_is_shared_with_waiters_but_retried_later() {
        let coordinator = Arc::new(RefreshCoordinator::default());
        let grants = Arc::new(AtomicUsize::new(0));
        let failing = |grants: Arc<AtomicUsize>| {
            async move |_: String| {
                grants.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err::<FreshToken, _>(LogtoError::Unreachable {
                    what: "refresh",
                    reason: "timed out".into(),
                })
            }
        };
        let (a, b) = tokio::join!(
            coordinator.refresh("rt", &Audience::Userinfo, failing(grants.clone())),
            coordinator.refresh("rt", &Audience::Userinfo, failing(grants.clone()))
        );
        assert!(a.is_err() && b.is_err());
        assert_eq!(grants.load(Ordering::SeqCst), 1, "the waiter shared the failure");
        let later = coordinator
            .refresh("rt", &Audience::Userinfo, async |_| Ok(token("rt")))
            .await;
        assert!(later.is_ok(), "a later request tries again");
    }

    #[tokio::test]
    async fn invalid_grant_is_shared_and_never_retried() {
        let coordinator = RefreshCoordinator::default();
        let invalid = || LogtoError::Rejected {
            what: "refresh",
            code: "invalid_grant".into(),
        };
        assert!(
            coordinator
                .refresh("rt", &Audience::Userinfo, async |_| Err(invalid()))
                .await
                .is_err()
        );
        let again = coordinator
            .refresh("rt", &Audience::Userinfo, async |_| panic!("no second grant"))
            .await;
        assert!(again.unwrap_err().is_invalid_grant());
    }
}
