//! [`CookieStore`]: the whole session in the cookie. The adapter's cookie layer encrypts and
//! authenticates it; this store only turns the state into the cookie's text and back, and keeps
//! in this process what a cookie cannot carry: back-channel logouts, and the single-flight
//! refresh.

use std::sync::Arc;
use std::time::Duration;

use logto_client::{Audience, Logout, LogtoClient, RefreshToken, Refreshed};

use super::{SessionState, SessionStore, StoreFuture};
use crate::error::{AuthError, StoreError};
use crate::logout::LogoutRegistry;
use crate::user::SessionUser;

/// Sessions kept whole in the (encrypted) cookie. Logouts are remembered in this process, for as
/// long as a session can live: for one instance. Cheap to clone.
#[derive(Clone)]
pub struct CookieStore {
    logouts: Arc<LogoutRegistry>,
}

impl CookieStore {
    /// A store remembering logouts for `max_age`, the sessions' maximum age.
    pub fn new(max_age: Duration) -> Self {
        CookieStore {
            logouts: Arc::new(LogoutRegistry::new(max_age)),
        }
    }
}

impl Default for CookieStore {
    fn default() -> Self {
        Self::new(crate::limits::DEFAULT_SESSION_MAX_AGE)
    }
}

fn unreadable(what: String) -> StoreError {
    StoreError {
        store: "cookie".to_owned(),
        what,
    }
}

impl SessionStore for CookieStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<SessionState>, StoreError>> {
        // A cookie that decrypted but does not parse is a session of another version: signed out.
        Box::pin(async move { Ok(serde_json::from_str(id).ok()) })
    }

    fn save<'a>(&'a self, state: &'a SessionState, _: Duration) -> StoreFuture<'a, Result<String, StoreError>> {
        Box::pin(async move { serde_json::to_string(state).map_err(|e| unreadable(e.to_string())) })
    }

    fn update<'a>(
        &'a self,
        _: &'a str,
        state: &'a SessionState,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<String, StoreError>> {
        self.save(state, ttl)
    }

    fn update_ttl<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn record_logout<'a>(&'a self, logout: &'a Logout, now: u64) -> StoreFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(self.logouts.record(logout, now)) })
    }

    fn is_ended(&self, user: &SessionUser) -> bool {
        self.logouts.has_ended(user)
    }

    fn refresh<'a>(
        &'a self,
        client: &'a LogtoClient,
        refresh_token: &'a RefreshToken,
        audience: &'a Audience,
        sub: &'a str,
    ) -> StoreFuture<'a, Result<Refreshed, AuthError>> {
        Box::pin(async move { Ok(client.refresh(refresh_token, audience, sub).await?) })
    }

    fn ping(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}
