//! The session middleware sign-in needs.

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::SessionStore;
use actix_web::cookie::{Key, SameSite, time::Duration as CookieDuration};

/// How long a session lasts without use: the lifetime of Logto's refresh tokens.
pub const SESSION_TTL_DAYS: i64 = 14;

/// The session cookie's name: `__Host-logto-session` behind https, `logto-session` otherwise.
pub fn session_cookie_name(secure: bool) -> &'static str {
    // `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
    if secure {
        "__Host-logto-session"
    } else {
        "logto-session"
    }
}

/// A session middleware with the settings sign-in needs: an encrypted (private) cookie,
/// `HttpOnly`, `SameSite=Lax` (the return from Logto is a cross-site navigation that must carry
/// it), `Path=/`, `Secure` and the `__Host-` prefix when `secure`, a [`SESSION_TTL_DAYS`] lifetime.
/// `key` must be the same on every instance and at every start, or sessions end.
pub fn session_middleware<S: SessionStore>(store: S, key: Key, secure: bool) -> SessionMiddleware<S> {
    SessionMiddleware::builder(store, key)
        .cookie_name(session_cookie_name(secure).to_owned())
        .cookie_secure(secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(CookieDuration::days(SESSION_TTL_DAYS)))
        .build()
}
