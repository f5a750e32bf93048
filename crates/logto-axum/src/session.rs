//! The session layer: the session id (for the cookie store, the whole state) in a private
//! cookie — encrypted and authenticated with the app's key — loaded from the web core's store
//! before the handler and written back after it, only when it changed. Built here rather than on
//! a session crate so that the cookie has exactly the settings sign-in needs (`SameSite=Lax`,
//! `HttpOnly`, `__Host-` behind https), the store is the core's own [`SessionStore`] (one for
//! both frameworks), and a session the store could not read is never written back. With the
//! cookie store the ID token travels apart, in a private cookie whose `Path` is the sign-out path
//! ([`LogtoAxum::id_token_cookie_name`]), set and removed when the web core says so.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, CookieJar, SameSite};
use logto_web::{AuthError, SentCookie, SessionEntries, SessionState, StoreError, UNAVAILABLE, sent_cookie};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::AuthRejection;
use crate::logto::LogtoAxum;

/// What happened to a session during a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Unchanged,
    Changed,
    Renewed,
    Purged,
}

struct State {
    id: Option<String>,
    entries: SessionState,
    status: Status,
    /// The ID token this request's ID token cookie carried, opened.
    id_token: Option<String>,
    /// What to do with the ID token cookie in the response: set it (`Some(Some)`) or remove it.
    id_token_change: Option<Option<String>>,
}

/// One request's session, as the web core sees it ([`SessionEntries`]). Taken by the extractors
/// from the request's extensions, where the session layer puts it; clones share the state.
#[derive(Clone)]
pub struct AxumSession(Arc<Mutex<State>>);

impl AxumSession {
    fn new(id: Option<String>, entries: SessionState, id_token: Option<String>) -> Self {
        AxumSession(Arc::new(Mutex::new(State {
            id,
            entries,
            status: Status::Unchanged,
            id_token,
            id_token_change: None,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SessionEntries for AxumSession {
    fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let state = self.state();
        state.entries.get(key).and_then(|json| serde_json::from_str(json).ok())
    }

    fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AuthError> {
        let json = serde_json::to_string(value).map_err(|e| AuthError::Session(e.into()))?;
        let mut state = self.state();
        state.entries.insert(key.to_owned(), json);
        if state.status == Status::Unchanged {
            state.status = Status::Changed;
        }
        Ok(())
    }

    fn remove(&self, key: &str) {
        let mut state = self.state();
        if state.entries.remove(key).is_some() && state.status == Status::Unchanged {
            state.status = Status::Changed;
        }
    }

    fn renew(&self) {
        let mut state = self.state();
        if state.status != Status::Purged {
            state.status = Status::Renewed;
        }
    }

    fn purge(&self) {
        let mut state = self.state();
        state.entries.clear();
        state.status = Status::Purged;
    }

    fn serialized_size(&self) -> usize {
        serde_json::to_string(&self.state().entries)
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
    }

    fn has_id_token_cookie(&self) -> bool {
        true
    }

    fn id_token_cookie(&self) -> Option<String> {
        self.state().id_token.clone()
    }

    fn set_id_token_cookie(&self, id_token: Option<&str>) {
        self.state().id_token_change = Some(id_token.map(str::to_owned));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AxumSession {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AxumSession>()
            .cloned()
            .ok_or(AuthRejection(AuthError::NotConfigured))
    }
}

/// The layer that gives every request its session: `router.layer(logto.session_layer())`.
#[derive(Clone)]
pub struct SessionLayer(pub(crate) LogtoAxum);

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            logto: self.0.clone(),
        }
    }
}

/// The service of [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    logto: LogtoAxum,
}

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone that was made ready goes into the future; a fresh clone stays for next time.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let logto = self.logto.clone();
        Box::pin(async move {
            let session = logto.load_session(req.headers()).await;
            req.extensions_mut().insert(session.clone());
            req.extensions_mut().insert(logto.clone());
            let mut response = inner.call(req).await?;
            if let Err(error) = logto.save_session(&session, response.headers_mut()).await {
                // The session could not be kept: the page must not pretend it was.
                return Ok(AuthRejection(AuthError::SessionStore(error)).into_response());
            }
            Ok(response)
        })
    }
}

/// The id of a session answered from [`DecodedSessions`](logto_web::DecodedSessions) (its
/// [`State`] has no other): only stores that keep the whole state in the cookie are cached, and
/// their `update` does not depend on the id
/// ([`SessionStore::state_in_cookie`](logto_web::SessionStore::state_in_cookie)) and their
/// `delete` has nothing to delete (the cookie is removed).
const KNOWN_SESSION_ID: &str = "";

/// A request's session cookie.
enum SessionCookie<'h> {
    /// None, or none that this key opens.
    None,
    /// Opened before: the entries it opened to then.
    Known(Arc<SessionState>),
    /// Opened now: the session's id for the store, and (with
    /// [`DecodedSessions`](logto_web::DecodedSessions)) the cookie's value as sent, under which
    /// to keep what the store loads from it.
    Opened { id: String, sent: Option<&'h str> },
}

impl LogtoAxum {
    /// The layer that loads and saves each request's session: put it around every route that
    /// uses sign-in (`router.layer(logto.session_layer())`).
    pub fn session_layer(&self) -> SessionLayer {
        SessionLayer(self.clone())
    }

    /// The session of a request with these headers: empty when it has no (valid) cookie, marked
    /// unavailable when the store could not read it.
    async fn load_session(&self, headers: &HeaderMap) -> AxumSession {
        let (session, id_token) = self.session_cookies(headers);
        let (id, sent) = match session {
            SessionCookie::None => return AxumSession::new(None, HashMap::new(), id_token),
            SessionCookie::Known(entries) => {
                let entries = SessionState::clone(&entries);
                return AxumSession::new(Some(KNOWN_SESSION_ID.to_owned()), entries, id_token);
            }
            SessionCookie::Opened { id, sent } => (id, sent),
        };
        match self.web().store().load(&id).await {
            Ok(Some(entries)) => {
                if let (Some(decoded), Some(sent)) = (&self.0.decoded, sent) {
                    decoded.insert(sent, entries.clone());
                }
                AxumSession::new(Some(id), entries, id_token)
            }
            Ok(None) => AxumSession::new(None, HashMap::new(), id_token),
            // The store logged the cause; the flows answer 503, and nothing is written back.
            Err(_) => AxumSession::new(
                Some(id),
                HashMap::from([(UNAVAILABLE.to_owned(), "true".to_owned())]),
                None,
            ),
        }
    }

    /// The session cookie of a request (answered from
    /// [`DecodedSessions`](logto_web::DecodedSessions) when it was opened before) and its ID
    /// token cookie, opened, if it has one that this key opens (the browser sends the second to
    /// the sign-out path only).
    fn session_cookies<'h>(&self, headers: &'h HeaderMap) -> (SessionCookie<'h>, Option<String>) {
        // The `Cookie` headers as the jar reads them (`open_cookies`): visible ASCII only.
        let texts: Vec<Option<&str>> = match self.0.decoded {
            Some(_) => headers
                .get_all(header::COOKIE)
                .iter()
                .map(|h| h.to_str().ok())
                .collect(),
            None => Vec::new(),
        };
        // The session cookie's value as sent, when it alone is named so: the cache's key.
        let sent = self.0.decoded.as_deref().and_then(|decoded| {
            let SentCookie::One { header, value } = sent_cookie(texts.iter().copied(), self.cookie_name()) else {
                return None;
            };
            Some((decoded, texts[header]?.get(value)?))
        });
        if let Some((decoded, value)) = sent
            && let Some(entries) = decoded.get(value)
        {
            // The cache does not hold the ID token cookie: opened only when one is sent.
            let id_token = match sent_cookie(texts.iter().copied(), self.id_token_cookie_name()) {
                SentCookie::Absent => None,
                _ => self.open_cookies(headers, false).1,
            };
            return (SessionCookie::Known(entries), id_token);
        }
        let (id, id_token) = self.open_cookies(headers, true);
        let session = match id {
            Some(id) => SessionCookie::Opened {
                id,
                sent: sent.map(|(_, value)| value),
            },
            None => SessionCookie::None,
        };
        (session, id_token)
    }

    /// The decrypted session cookie (when `session`) and ID token cookie of a request, each if
    /// it has one that this key opens.
    fn open_cookies(&self, headers: &HeaderMap, session: bool) -> (Option<String>, Option<String>) {
        let name = self.cookie_name();
        let id_token_name = self.id_token_cookie_name();
        let mut jar = CookieJar::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            // Percent-decoded, as actix-web sends it: a session cookie of the actix adapter with
            // the same key opens here too (base64 has no `%`, so this crate's own are unchanged).
            for cookie in Cookie::split_parse_encoded(value).flatten() {
                if (session && cookie.name() == name) || cookie.name() == id_token_name {
                    jar.add_original(cookie.into_owned());
                }
            }
        }
        let private = jar.private(&self.0.key);
        let open = |name| private.get(name).map(|c| c.value().to_owned());
        (if session { open(name) } else { None }, open(id_token_name))
    }

    /// Writes the session back when it changed, and sets or clears the cookie.
    async fn save_session(&self, session: &AxumSession, headers: &mut HeaderMap) -> Result<(), StoreError> {
        let (id, entries, status, id_token_change) = {
            let mut state = session.state();
            if state.entries.contains_key(UNAVAILABLE) {
                return Ok(());
            }
            let change = state.id_token_change.take();
            // Copied out of the lock (the store's calls are awaited) only when they are written:
            // most requests change nothing, and the cookie store's id is the whole state.
            let (id, entries) = match state.status {
                Status::Unchanged => (None, SessionState::new()),
                Status::Purged => (state.id.clone(), SessionState::new()),
                Status::Changed | Status::Renewed => (state.id.clone(), state.entries.clone()),
            };
            (id, entries, state.status, change)
        };
        if let Some(id_token) = id_token_change {
            self.set_id_token_cookie(headers, id_token);
        }
        let store = self.web().store();
        let ttl = self.web().session_max_age();
        let new_id = match (status, id) {
            (Status::Unchanged, _) => return Ok(()),
            (Status::Purged, id) => {
                if let Some(id) = id {
                    store.delete(&id).await?;
                }
                self.set_cookie(headers, None, ttl);
                return Ok(());
            }
            (_, None) if entries.is_empty() => return Ok(()),
            (Status::Renewed, Some(old)) => {
                store.delete(&old).await?;
                store.save(&entries, ttl).await?
            }
            (Status::Changed, Some(id)) => store.update(&id, &entries, ttl).await?,
            (_, None) => store.save(&entries, ttl).await?,
        };
        self.set_cookie(headers, Some(new_id), ttl);
        Ok(())
    }

    /// Adds the `Set-Cookie` of the encrypted session id (or its removal).
    fn set_cookie(&self, headers: &mut HeaderMap, id: Option<String>, ttl: Duration) {
        self.set_private_cookie(headers, self.cookie_name(), "/", id, ttl);
    }

    /// Adds the `Set-Cookie` of the encrypted ID token, sent by the browser to the sign-out path
    /// only (or its removal).
    fn set_id_token_cookie(&self, headers: &mut HeaderMap, id_token: Option<String>) {
        let web = self.web();
        let path = web.id_token_cookie_path().to_owned();
        self.set_private_cookie(
            headers,
            self.id_token_cookie_name(),
            path,
            id_token,
            web.session_max_age(),
        );
    }

    /// Adds the `Set-Cookie` of an encrypted cookie with sign-in's settings (or its removal).
    fn set_private_cookie(
        &self,
        headers: &mut HeaderMap,
        name: &'static str,
        path: impl Into<std::borrow::Cow<'static, str>>,
        value: Option<String>,
        ttl: Duration,
    ) {
        let mut builder = Cookie::build((name, value.clone().unwrap_or_default()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path(path)
            .secure(self.0.secure);
        builder = match value {
            Some(_) => builder.max_age(cookie::time::Duration::seconds(
                i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            )),
            None => builder.max_age(cookie::time::Duration::ZERO),
        };
        let mut jar = CookieJar::new();
        jar.private_mut(&self.0.key).add(builder.build());
        for cookie in jar.delta() {
            if let Ok(value) = HeaderValue::try_from(cookie.to_string()) {
                headers.append(header::SET_COOKIE, value);
            }
        }
    }
}
