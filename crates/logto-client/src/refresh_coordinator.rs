//! The single-flight refresh within one process. Logto rotates refresh tokens, and presenting an
//! already-rotated one revokes the whole grant. So all refreshes of one session go through one
//! slot, keyed by (a hash of) the refresh token the session holds: they run one at a time, a
//! result is shared with every request that was waiting for it, and it is remembered for
//! [`SHARE_WINDOW`] so that requests still carrying the old token use the rotated one instead of
//! replaying the old one. The window is only what concurrent requests need: past it, a request
//! still carrying the old token (a stale or stolen copy of a cookie) is refused as
//! `invalid_grant` here, and is never handed the rotated token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
// Windows are measured on tokio's clock (the system's monotonic clock, unless a test pauses it
// to move time on without waiting).
use tokio::time::Instant;

use crate::audience::Audience;
use crate::error::LogtoError;
use crate::secret::RefreshToken;
use crate::tokens::Refreshed;

/// How long a refresh result (and a rotated refresh token) is shared with requests of the same
/// session that still carry the old refresh token.
pub const SHARE_WINDOW: Duration = Duration::from_secs(5);

#[derive(Default)]
struct SlotState {
    /// The refresh token that replaced this slot's one, once Logto rotated it.
    rotated_to: Option<RefreshToken>,
    /// When Logto rotated it.
    rotated_at: Option<Instant>,
    /// Recent results by audience key.
    results: HashMap<String, (Refreshed, Instant)>,
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
pub(crate) struct RefreshCoordinator {
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
    /// `refresh` receives the refresh token to present (the rotated one, if rotation happened);
    /// `now` is the current time in seconds, to tell whether a shared result is still fresh.
    ///
    /// `refresh` is a closure returning a future rather than an async closure: the future of an
    /// async closure cannot be proven `Send` in a generic function, and then neither can this one.
    pub(crate) async fn refresh<F, Fut>(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        now: u64,
        refresh: F,
    ) -> Result<Refreshed, LogtoError>
    where
        F: FnOnce(RefreshToken) -> Fut,
        Fut: Future<Output = Result<Refreshed, LogtoError>>,
    {
        let arrived = Instant::now();
        let slot = self.slot(refresh_token);
        let mut state = slot.state.lock().await;
        let key = audience.key();
        if let Some((result, at)) = state.results.get(&key)
            && at.elapsed() < SHARE_WINDOW
            && !result.access_token.needs_refresh(now)
        {
            return Ok(result.clone());
        }
        if let Some((error, at)) = &state.failure
            && (*at >= arrived || error.is_invalid_grant())
        {
            return Err(error.clone());
        }
        if state.rotated_at.is_some_and(|at| at.elapsed() >= SHARE_WINDOW) {
            return Err(LogtoError::Rejected {
                endpoint: crate::error::Endpoint::Token,
                code: "invalid_grant".into(),
                description: Some("refresh token already rotated".into()),
            });
        }
        let current = state.rotated_to.clone().unwrap_or_else(|| refresh_token.clone());
        match refresh(current.clone()).await {
            Ok(result) => {
                if !result.refresh_token.matches(&current) || state.rotated_to.is_some() {
                    state.rotated_to = Some(result.refresh_token.clone());
                    state.rotated_at.get_or_insert_with(Instant::now);
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

    fn slot(&self, refresh_token: &RefreshToken) -> Arc<Slot> {
        let hash: [u8; 32] = Sha256::digest(refresh_token.secret().as_bytes()).into();
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
    use crate::secret::AccessToken;
    use crate::tokens::IssuedAccessToken;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const NOW: u64 = 1_800_000_000;

    fn token(refresh_token: &str) -> Refreshed {
        Refreshed {
            access_token: IssuedAccessToken {
                token: AccessToken::new("at"),
                obtained_at: NOW,
                expires_at: NOW + 3600,
            },
            refresh_token: RefreshToken::new(refresh_token),
            id_token: None,
            raw_id_token: None,
        }
    }

    fn rt(value: &str) -> RefreshToken {
        RefreshToken::new(value)
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
                        .refresh(&rt("rt-1"), &Audience::Userinfo, NOW, |_| async {
                            grants.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok(token("rt-2"))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().unwrap().refresh_token.matches(&rt("rt-2")));
        }
        assert_eq!(grants.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn after_rotation_the_new_refresh_token_is_presented_never_the_old_one() {
        let coordinator = RefreshCoordinator::default();
        let first = coordinator
            .refresh(&rt("rt-1"), &Audience::Userinfo, NOW, |_| async { Ok(token("rt-2")) })
            .await
            .unwrap();
        assert!(first.refresh_token.matches(&rt("rt-2")));
        // Another audience, still from a request carrying rt-1.
        let api = Audience::Resource("https://api.example.com".into());
        let presented = coordinator
            .refresh(&rt("rt-1"), &api, NOW, |presented| async move {
                assert!(presented.matches(&rt("rt-2")));
                Ok(token("rt-2"))
            })
            .await
            .unwrap();
        assert!(presented.refresh_token.matches(&rt("rt-2")));
    }

    #[tokio::test]
    async fn a_transient_failure_is_shared_with_waiters_but_retried_later() {
        let coordinator = Arc::new(RefreshCoordinator::default());
        let grants = Arc::new(AtomicUsize::new(0));
        let failing = |grants: Arc<AtomicUsize>| {
            move |_: RefreshToken| async move {
                grants.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err::<Refreshed, _>(LogtoError::HttpStatus {
                    endpoint: crate::error::Endpoint::Token,
                    url: "https://t.logto.app/oidc/token".into(),
                    status: 503,
                })
            }
        };
        let presented = rt("rt");
        let (a, b) = tokio::join!(
            coordinator.refresh(&presented, &Audience::Userinfo, NOW, failing(grants.clone())),
            coordinator.refresh(&presented, &Audience::Userinfo, NOW, failing(grants.clone()))
        );
        assert!(a.is_err() && b.is_err());
        assert_eq!(grants.load(Ordering::SeqCst), 1, "the waiter shared the failure");
        let later = coordinator
            .refresh(&rt("rt"), &Audience::Userinfo, NOW, |_| async { Ok(token("rt")) })
            .await;
        assert!(later.is_ok(), "a later request tries again");
    }

    #[tokio::test]
    async fn invalid_grant_is_shared_and_never_retried() {
        let coordinator = RefreshCoordinator::default();
        let invalid = || LogtoError::Rejected {
            endpoint: crate::error::Endpoint::Token,
            code: "invalid_grant".into(),
            description: None,
        };
        assert!(
            coordinator
                .refresh(&rt("rt"), &Audience::Userinfo, NOW, |_| async { Err(invalid()) })
                .await
                .is_err()
        );
        let again = coordinator
            .refresh(&rt("rt"), &Audience::Userinfo, NOW, |_| async {
                panic!("no second grant")
            })
            .await;
        assert!(again.unwrap_err().is_invalid_grant());
    }

    // Paused time: the sleep below moves tokio's clock on at once instead of waiting.
    #[tokio::test(start_paused = true)]
    async fn past_the_share_window_the_old_refresh_token_is_refused_without_a_grant() {
        let coordinator = RefreshCoordinator::default();
        coordinator
            .refresh(&rt("rt-1"), &Audience::Userinfo, NOW, |_| async { Ok(token("rt-2")) })
            .await
            .unwrap();
        tokio::time::sleep(SHARE_WINDOW + Duration::from_millis(200)).await;
        let stale = coordinator
            .refresh(&rt("rt-1"), &Audience::Userinfo, NOW + 60, |_| async {
                panic!("no grant for a rotated refresh token")
            })
            .await;
        assert!(stale.unwrap_err().is_invalid_grant());
    }
}
