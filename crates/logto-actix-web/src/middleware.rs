//! The session middleware sign-in needs.

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};

use logto_web::limits::DEFAULT_SESSION_MAX_AGE;

use crate::session::ActixStore;

/// The session cookie's name: `__Host-logto-session` behind https, `logto-session` otherwise.
pub fn session_cookie_name(secure: bool) -> &'static str {
    // `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
    if secure {
        "__Host-logto-session"
    } else {
        "logto-session"
    }
}

/// A session middleware with the settings sign-in needs, over `store`: an encrypted (private)
/// cookie, `HttpOnly`, `SameSite=Lax` (the return from Logto is a cross-site navigation that must
/// carry it), `Path=/`, `Secure` and the `__Host-` prefix when `secure`, kept by the browser for
/// [`DEFAULT_SESSION_MAX_AGE`] (the web core ends sessions at their configured maximum age
/// whatever the cookie says). `key` must be the same on every instance and at every start, or
/// sessions end.
pub fn session_middleware(store: ActixStore, key: Key, secure: bool) -> SessionMiddleware<ActixStore> {
    let ttl = CookieDuration::seconds(DEFAULT_SESSION_MAX_AGE.as_secs() as i64);
    SessionMiddleware::builder(store, key)
        .cookie_name(session_cookie_name(secure).to_owned())
        .cookie_secure(secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(ttl))
        .build()
}

impl crate::LogtoAuth {
    /// The session middleware over this sign-in's own store ([`LogtoAuthBuilder::store`](crate::LogtoAuthBuilder::store),
    /// the cookie by default), so that the two cannot differ. See [`session_middleware`].
    pub fn session_middleware(&self, key: Key, secure: bool) -> SessionMiddleware<ActixStore> {
        session_middleware(ActixStore::new(self.web().store().clone()), key, secure)
    }
}
