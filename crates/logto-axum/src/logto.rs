//! [`LogtoAxum`]: the web core's [`LogtoWeb`] and the session cookie's settings: what the router,
//! the session layer and the extractors share.

use std::sync::Arc;

use cookie::Key;
use logto_web::{DecodedSessions, LogtoWeb};

pub(crate) struct Inner {
    pub(crate) web: LogtoWeb,
    pub(crate) key: Key,
    pub(crate) secure: bool,
    pub(crate) ui_locales: Option<UiLocales>,
    /// With a store that keeps the whole state in the cookie: the session cookies already
    /// opened, so that a signed-in browser's cookie is decrypted and decoded once, not on every
    /// request. `None` with a server-side store, whose cookie holds an id to look up each time.
    pub(crate) decoded: Option<Arc<DecodedSessions>>,
}

type UiLocales = Box<dyn Fn(&axum::http::request::Parts) -> Option<String> + Send + Sync>;

/// Sign-in with Logto for an axum app. Cheap to clone; build it once.
///
/// `key` encrypts and authenticates the session cookie: the same on every instance and at every
/// start (`Key::derive_from(secret)` of at least 32 random bytes), or sessions end. `secure`:
/// the app is served over https (the cookie is then `Secure` and named `__Host-logto-session`).
///
/// With a store that keeps the whole state in the cookie
/// ([`SessionStore::state_in_cookie`](logto_web::SessionStore::state_in_cookie), as the default
/// [`CookieStore`](logto_web::CookieStore)), each distinct session cookie is opened once: what it
/// opened to is kept in a bounded cache ([`DecodedSessions`]) keyed by the cookie's whole value as
/// sent, and the same cookie coming back is not decrypted and decoded again. Whether the session
/// is still signed in (maximum age, back-channel logout) is decided on every request as before.
#[derive(Clone)]
pub struct LogtoAxum(pub(crate) Arc<Inner>);

impl LogtoAxum {
    /// Sign-in through `web`, with sessions in a cookie encrypted with `key`.
    pub fn new(web: LogtoWeb, key: Key, secure: bool) -> Self {
        let decoded = web
            .store()
            .state_in_cookie()
            .then(|| Arc::new(DecodedSessions::default()));
        LogtoAxum(Arc::new(Inner {
            web,
            key,
            secure,
            ui_locales: None,
            decoded,
        }))
    }

    /// The same, with the languages of Logto's pages (`ui_locales`) read from each request.
    pub fn with_ui_locales(
        self,
        from_request: impl Fn(&axum::http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        let inner = Arc::try_unwrap(self.0).unwrap_or_else(|shared| Inner {
            web: shared.web.clone(),
            key: shared.key.clone(),
            secure: shared.secure,
            ui_locales: None,
            decoded: shared.decoded.clone(),
        });
        LogtoAxum(Arc::new(Inner {
            ui_locales: Some(Box::new(from_request)),
            ..inner
        }))
    }

    /// The web core: flows, settings, the session store.
    pub fn web(&self) -> &LogtoWeb {
        &self.0.web
    }

    /// The Logto client.
    pub fn client(&self) -> &logto_client::LogtoClient {
        self.0.web.client()
    }

    /// The session cookie's name: `__Host-logto-session` behind https, `logto-session` otherwise.
    pub fn cookie_name(&self) -> &'static str {
        logto_web::session_cookie_name(self.0.secure)
    }

    /// The ID token cookie's name: `__Secure-logto-id-token` behind https, `logto-id-token`
    /// otherwise. Its `Path` is the sign-out path (so not `__Host-`, which requires `Path=/`): the
    /// browser sends the ID token to sign-out only, not with every request.
    pub fn id_token_cookie_name(&self) -> &'static str {
        logto_web::id_token_cookie_name(self.0.secure)
    }

    pub(crate) fn ui_locales(&self, parts: &axum::http::request::Parts) -> Option<String> {
        self.0.ui_locales.as_ref().and_then(|f| f(parts))
    }
}
