//! actix-session under the web core: [`ActixSession`] gives the core a request's session
//! entries (and the ID token cookie of [`session_middleware`](crate::session_middleware)), and
//! [`ActixStore`] serves any [`logto_web::SessionStore`] as actix-session's store.

use std::cell::RefCell;
use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore as ActixSessionStore, UpdateError};
use actix_session::{Session, SessionExt};
use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use logto_web::{AuthError, DecodedSessions, SessionEntries, SessionState, SessionStore};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::LogtoAuth;
use crate::id_token_cookie::IdTokenCookie;

/// A request's actix-session `Session`, as the web core sees it.
#[derive(Clone)]
pub struct ActixSession {
    session: Session,
    /// The request, to read and change its ID token cookie, when
    /// [`session_middleware`](crate::session_middleware) and the routes
    /// ([`LogtoAuth::configure`]) are in place.
    id_token_cookie: Option<HttpRequest>,
}

impl ActixSession {
    /// The session of a request (the session middleware must be in place).
    pub fn of(req: &HttpRequest) -> Self {
        let id_token_cookie = (IdTokenCookie::is_on(req) && req.app_data::<LogtoAuth>().is_some()).then(|| req.clone());
        ActixSession {
            session: req.get_session(),
            id_token_cookie,
        }
    }
}

impl SessionEntries for ActixSession {
    fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.session.get::<T>(key).ok().flatten()
    }

    fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AuthError> {
        self.session
            .insert(key, value)
            .map_err(|e| AuthError::Session(e.into()))
    }

    fn remove(&self, key: &str) {
        self.session.remove(key);
    }

    fn renew(&self) {
        self.session.renew();
    }

    fn purge(&self) {
        self.session.purge();
    }

    fn serialized_size(&self) -> usize {
        serde_json::to_string(&*self.session.entries())
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
    }

    fn has_id_token_cookie(&self) -> bool {
        self.id_token_cookie.is_some()
    }

    fn id_token_cookie(&self) -> Option<String> {
        IdTokenCookie::read(self.id_token_cookie.as_ref()?)
    }

    fn set_id_token_cookie(&self, id_token: Option<&str>) {
        if let Some(req) = &self.id_token_cookie
            && let Some(auth) = req.app_data::<LogtoAuth>()
        {
            IdTokenCookie::change(req, auth, id_token);
        }
    }
}

/// Any [`SessionStore`] of the web core as actix-session's store: put it in
/// [`session_middleware`](crate::session_middleware), and the same store in
/// [`LogtoAuthBuilder::store`](crate::LogtoAuthBuilder::store).
#[derive(Clone)]
pub struct ActixStore {
    store: Arc<dyn SessionStore>,
    /// With a store that keeps the whole state in the cookie: the cookies already opened
    /// (given by [`session_middleware`](crate::session_middleware)).
    decoded: Option<Arc<DecodedSessions>>,
}

impl ActixStore {
    /// actix-session's view of `store`.
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        ActixStore { store, decoded: None }
    }

    /// The store's own view of whether the session cookie carries the whole state.
    pub(crate) fn state_in_cookie(&self) -> bool {
        self.store.state_in_cookie()
    }

    /// The same store, keeping the cookies it opens in `decoded`.
    pub(crate) fn with_decoded(mut self, decoded: Arc<DecodedSessions>) -> Self {
        self.decoded = Some(decoded);
        self
    }
}

/// The session cookie's value that the middleware puts in place of a cookie found in
/// [`DecodedSessions`], sealed with the key as any session cookie is: actix-session opens it and
/// gives this text to [`ActixStore::load`], which answers with the cached entries (see
/// [`Handoff`]). It never leaves the process: a session that changes is written as its entries,
/// and no state decodes to this text. Short, since actix-session percent-decodes, base64-decodes
/// and decrypts it on every request.
pub(crate) const DECODED_SESSION_HANDLE: &str = "h";

/// What the session middleware tells [`ActixStore::load`] about the request being loaded, on the
/// worker's own thread, for the duration of one poll of actix-session's middleware (which loads
/// the session in its first poll, before any handler runs): actix-session gives the store only
/// the opened cookie's text, not the request.
pub(crate) enum Handoff {
    /// The cookie was found in the cache and replaced by [`DECODED_SESSION_HANDLE`]: these are
    /// its entries.
    Hit(Arc<SessionState>),
    /// The cookie, as sent, was not in the cache: keep what it opens to.
    Miss(Box<str>),
}

thread_local! {
    static HANDOFF: RefCell<Option<Handoff>> = const { RefCell::new(None) };
}

impl Handoff {
    /// Runs `f` (a poll of actix-session's middleware) with this handoff in place, and removes
    /// it afterwards whether or not the store took it.
    pub(crate) fn during<T>(self, f: impl FnOnce() -> T) -> T {
        HANDOFF.with(|slot| *slot.borrow_mut() = Some(self));
        let result = f();
        HANDOFF.with(|slot| slot.borrow_mut().take());
        result
    }

    fn take() -> Option<Handoff> {
        HANDOFF.with(|slot| slot.borrow_mut().take())
    }
}

fn ttl(ttl: &CookieDuration) -> std::time::Duration {
    std::time::Duration::from_secs(ttl.whole_seconds().max(1) as u64)
}

impl ActixSessionStore for ActixStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        // A store's failure here would reach the browser as actix-session's empty 500; stores
        // answer with a state marked unavailable instead, which the extractors answer with 503.
        let Some(decoded) = &self.decoded else {
            return self
                .store
                .load(key.as_ref())
                .await
                .map_err(|e| LoadError::Other(anyhow::Error::new(e)));
        };
        let handoff = Handoff::take();
        if key.as_ref() == DECODED_SESSION_HANDLE {
            // Only the middleware puts the handle in place, and with it the entries; without
            // them (which it never does) the handle is no session.
            return Ok(match handoff {
                Some(Handoff::Hit(state)) => Some(SessionState::clone(&state)),
                _ => None,
            });
        }
        let state = self
            .store
            .load(key.as_ref())
            .await
            .map_err(|e| LoadError::Other(anyhow::Error::new(e)))?;
        if let (Some(Handoff::Miss(cookie)), Some(state)) = (handoff, &state) {
            decoded.insert(cookie.as_bytes(), state.clone());
        }
        Ok(state)
    }

    async fn save(&self, state: SessionState, time: &CookieDuration) -> Result<SessionKey, SaveError> {
        let id = self
            .store
            .save(&state, ttl(time))
            .await
            .map_err(|e| SaveError::Other(anyhow::Error::new(e)))?;
        SessionKey::try_from(id).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        key: SessionKey,
        state: SessionState,
        time: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let id = self
            .store
            .update(key.as_ref(), &state, ttl(time))
            .await
            .map_err(|e| UpdateError::Other(anyhow::Error::new(e)))?;
        SessionKey::try_from(id).map_err(|e| UpdateError::Other(e.into()))
    }

    async fn update_ttl(&self, key: &SessionKey, time: &CookieDuration) -> Result<(), anyhow::Error> {
        Ok(self.store.update_ttl(key.as_ref(), ttl(time)).await?)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        Ok(self.store.delete(key.as_ref()).await?)
    }
}
