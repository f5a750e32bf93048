//! actix-session under the web core: [`ActixSession`] gives the core a request's session
//! entries (and the ID token cookie of [`session_middleware`](crate::session_middleware)), and
//! [`ActixStore`] serves any [`logto_web::SessionStore`] as actix-session's store.

use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore as ActixSessionStore, UpdateError};
use actix_session::{Session, SessionExt};
use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use logto_web::{AuthError, SessionEntries, SessionState, SessionStore};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::LogtoAuth;
use crate::middleware::IdTokenCookie;

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
pub struct ActixStore(Arc<dyn SessionStore>);

impl ActixStore {
    /// actix-session's view of `store`.
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        ActixStore(store)
    }
}

fn ttl(ttl: &CookieDuration) -> std::time::Duration {
    std::time::Duration::from_secs(ttl.whole_seconds().max(1) as u64)
}

impl ActixSessionStore for ActixStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        // A store's failure here would reach the browser as actix-session's empty 500; stores
        // answer with a state marked unavailable instead, which the extractors answer with 503.
        self.0
            .load(key.as_ref())
            .await
            .map_err(|e| LoadError::Other(anyhow::Error::new(e)))
    }

    async fn save(&self, state: SessionState, time: &CookieDuration) -> Result<SessionKey, SaveError> {
        let id = self
            .0
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
            .0
            .update(key.as_ref(), &state, ttl(time))
            .await
            .map_err(|e| UpdateError::Other(anyhow::Error::new(e)))?;
        SessionKey::try_from(id).map_err(|e| UpdateError::Other(e.into()))
    }

    async fn update_ttl(&self, key: &SessionKey, time: &CookieDuration) -> Result<(), anyhow::Error> {
        Ok(self.0.update_ttl(key.as_ref(), ttl(time)).await?)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        Ok(self.0.delete(key.as_ref()).await?)
    }
}
