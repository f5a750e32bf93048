//! What the adapters' glue tests share, one copy for both (`crates/logto-actix-web/tests/glue.rs`
//! and `crates/logto-axum/tests/glue.rs` include it with `#[path]`): the client registered with
//! the test provider, a clock the test moves, and a session store that counts the sessions it is
//! asked to load, which is how those tests see the cache of opened cookies at work.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use logto_client::{
    Audience, ClientSecret, Clock, Logout, LogtoClient, LogtoConfig, RefreshToken, Refreshed, SystemClock, Url,
};
use logto_test_provider::{TestClient, TestProvider};
use logto_web::{AuthError, CookieStore, SessionState, SessionStore, SessionUser, StoreError, StoreFuture};

/// Where the app would be served: the tests call it in process, and the provider only needs the
/// URIs.
pub const BASE: &str = "http://app.test";

/// A client of `provider` named `client_id`, registered there with `BASE`'s redirect URIs, that
/// reaches the provider at `endpoint` (another one to see it unreachable).
pub async fn registered_client(provider: &TestProvider, endpoint: &str, client_id: &str) -> LogtoClient {
    let client_secret = format!("{client_id}-secret-0123456789");
    provider
        .register_client(&TestClient {
            client_id: client_id.into(),
            client_secret: client_secret.clone(),
            redirect_uris: vec![format!("{BASE}/callback")],
            post_logout_redirect_uris: vec![format!("{BASE}/")],
            backchannel_logout_uri: None,
        })
        .await;
    let config = LogtoConfig::builder(
        Url::parse(endpoint).unwrap(),
        client_id,
        ClientSecret::new(client_secret),
        Url::parse(&format!("{BASE}/callback")).unwrap(),
    )
    .post_sign_out_redirect_uri(Url::parse(&format!("{BASE}/")).unwrap())
    .timeout(Duration::from_secs(5))
    .build();
    LogtoClient::new(config).unwrap()
}

/// The system clock moved forward by the seconds the test stores in it.
#[derive(Default)]
pub struct MovedClock(pub AtomicU64);

impl Clock for MovedClock {
    fn now(&self) -> u64 {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

/// The cookie store, counting the sessions it is asked to load; `state_in_cookie` as the test
/// says (`false`: answering as a server-side store such as Redis does).
#[derive(Clone)]
pub struct CountingStore {
    inner: CookieStore,
    loads: Arc<AtomicUsize>,
    state_in_cookie: bool,
}

impl CountingStore {
    pub fn new(state_in_cookie: bool) -> Self {
        CountingStore {
            inner: CookieStore::new(Duration::from_secs(3600)),
            loads: Arc::default(),
            state_in_cookie,
        }
    }

    /// How many times a session was loaded.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

impl SessionStore for CountingStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<SessionState>, StoreError>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id)
    }
    fn save<'a>(&'a self, state: &'a SessionState, ttl: Duration) -> StoreFuture<'a, Result<String, StoreError>> {
        self.inner.save(state, ttl)
    }
    fn update<'a>(
        &'a self,
        id: &'a str,
        state: &'a SessionState,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<String, StoreError>> {
        self.inner.update(id, state, ttl)
    }
    fn update_ttl<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, Result<(), StoreError>> {
        self.inner.update_ttl(id, ttl)
    }
    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        self.inner.delete(id)
    }
    fn record_logout<'a>(&'a self, logout: &'a Logout, now: u64) -> StoreFuture<'a, Result<bool, StoreError>> {
        self.inner.record_logout(logout, now)
    }
    fn is_ended(&self, user: &SessionUser) -> bool {
        self.inner.is_ended(user)
    }
    fn refresh<'a>(
        &'a self,
        client: &'a LogtoClient,
        refresh_token: &'a RefreshToken,
        audience: &'a Audience,
        sub: &'a str,
    ) -> StoreFuture<'a, Result<Refreshed, AuthError>> {
        self.inner.refresh(client, refresh_token, audience, sub)
    }
    fn ping(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        self.inner.ping()
    }
    fn state_in_cookie(&self) -> bool {
        self.state_in_cookie
    }
}
