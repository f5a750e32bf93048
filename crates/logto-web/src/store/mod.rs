//! Where sessions live, behind one trait: [`SessionStore`]. Two come with the crate:
//! [`CookieStore`] (the whole state in the encrypted cookie, logouts remembered in this process)
//! and, with the `redis` feature, [`RedisStore`] (the cookie holds an id; sessions, logouts and
//! refreshes shared by every instance). An app can bring its own backend by implementing the
//! trait; the framework adapters turn any of them into their framework's session store.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use logto_client::{Audience, Logout, LogtoClient, RefreshToken, Refreshed};

use crate::error::{AuthError, StoreError};
use crate::user::SessionUser;

mod cookie;
#[cfg(feature = "redis")]
mod redis;

pub use cookie::CookieStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{DEFAULT_REDIS_TIMEOUT, RedisMode, RedisStore, RedisTarget};

/// A session's entries: name → JSON text.
pub type SessionState = HashMap<String, String>;

/// A boxed future that can cross threads: what every [`SessionStore`] call returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A place for sessions, and for what every instance using it must agree on: which sessions
/// Logto ended (back-channel logout) and which refresh is in flight (one grant per session).
///
/// A session id is what the cookie carries: an opaque key for a server-side store, or the
/// serialized state itself for [`CookieStore`] (the adapter's cookie layer encrypts it).
pub trait SessionStore: Send + Sync + 'static {
    /// The state of session `id`; `None` when there is no such session (expired, deleted).
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<SessionState>, StoreError>>;
    /// Keeps a new session for `ttl`; returns its id.
    fn save<'a>(&'a self, state: &'a SessionState, ttl: Duration) -> StoreFuture<'a, Result<String, StoreError>>;
    /// Replaces the state of session `id` for `ttl`; returns the id to send (the same for a
    /// server-side store).
    fn update<'a>(
        &'a self,
        id: &'a str,
        state: &'a SessionState,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<String, StoreError>>;
    /// Keeps session `id` for `ttl` more, never past what was set when it was written.
    fn update_ttl<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, Result<(), StoreError>>;
    /// Forgets session `id`.
    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<(), StoreError>>;
    /// Ends the sessions a verified back-channel logout names; `false` when the same logout token
    /// was received before. `now` is the client's clock.
    fn record_logout<'a>(&'a self, logout: &'a Logout, now: u64) -> StoreFuture<'a, Result<bool, StoreError>>;
    /// Whether a recorded logout covers this signed-in session, for stores that cannot delete
    /// sessions themselves (the cookie store); `false` for stores that do.
    fn is_ended(&self, user: &SessionUser) -> bool;
    /// A refresh for `audience`, one grant per session at a time among everyone using this store.
    fn refresh<'a>(
        &'a self,
        client: &'a LogtoClient,
        refresh_token: &'a RefreshToken,
        audience: &'a Audience,
        sub: &'a str,
    ) -> StoreFuture<'a, Result<Refreshed, AuthError>>;
    /// Whether the store answers now (readiness); `Ok` for stores with nothing to ask.
    fn ping(&self) -> StoreFuture<'_, Result<(), StoreError>>;
    /// Whether the whole state travels in the session cookie (read on every request), as with
    /// [`CookieStore`]: the ID token, which only sign-out needs, then goes in a cookie of its
    /// own ([`SessionEntries::has_id_token_cookie`](crate::SessionEntries::has_id_token_cookie)).
    /// Such a store's `load` must depend on the cookie's text alone, and its `update` must not
    /// depend on the id it is given: adapters then keep cookies already opened
    /// ([`DecodedSessions`](crate::DecodedSessions)) and may hand `update` a stand-in id.
    /// Default: `false` (a server-side store: the cookie holds an id).
    fn state_in_cookie(&self) -> bool {
        false
    }
}
