//! The ID token cookie (with the cookie store): sign-out's `id_token_hint`, kept out of the
//! session cookie and sent by the browser to the sign-out path only. The session middleware
//! puts one [`IdTokenCookie`] in each request's extensions and writes its change to the
//! response; the web core reads and changes it through [`ActixSession`](crate::ActixSession).

use std::rc::Rc;

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpMessage, HttpRequest};
use logto_web::id_token_cookie_name;

use crate::auth::LogtoAuth;

/// What opens and seals the ID token cookie.
pub(crate) struct IdTokenCookieKey {
    key: Key,
    secure: bool,
}

impl IdTokenCookieKey {
    /// Seals with the session's `key`; `secure` gives the `__Secure-` name and the `Secure` flag.
    pub(crate) fn new(key: Key, secure: bool) -> Self {
        Self { key, secure }
    }
}

/// One request's ID token cookie: put in the request's extensions by the middleware, read and
/// changed through [`ActixSession`](crate::ActixSession), written to the response by the middleware.
pub(crate) struct IdTokenCookie {
    sealing: Rc<IdTokenCookieKey>,
    change: Option<Cookie<'static>>,
}

impl IdTokenCookie {
    /// A request's cookie, unchanged so far.
    pub(crate) fn new(sealing: Rc<IdTokenCookieKey>) -> Self {
        Self { sealing, change: None }
    }

    /// The change to write to the response, if the request made one (taken once).
    pub(crate) fn take_change(&mut self) -> Option<Cookie<'static>> {
        self.change.take()
    }

    /// Whether the request has its ID token cookie (the middleware is in place).
    pub(crate) fn is_on(req: &HttpRequest) -> bool {
        req.extensions().contains::<IdTokenCookie>()
    }

    fn sealing(req: &HttpRequest) -> Option<Rc<IdTokenCookieKey>> {
        req.extensions().get::<IdTokenCookie>().map(|c| c.sealing.clone())
    }

    /// The ID token the request's cookie carries, if it opens with the key.
    pub(crate) fn read(req: &HttpRequest) -> Option<String> {
        let sealing = Self::sealing(req)?;
        let name = id_token_cookie_name(sealing.secure);
        let mut jar = CookieJar::new();
        jar.add_original(req.cookie(name)?);
        jar.private(&sealing.key).get(name).map(|c| c.value().to_owned())
    }

    /// Sets (`Some`) or removes the cookie in the response, with the path and lifetime `auth`
    /// gives it.
    pub(crate) fn change(req: &HttpRequest, auth: &LogtoAuth, id_token: Option<&str>) {
        let Some(sealing) = Self::sealing(req) else { return };
        let web = auth.web();
        let name = id_token_cookie_name(sealing.secure);
        let mut cookie = Cookie::build(name, id_token.unwrap_or_default().to_owned())
            .path(web.id_token_cookie_path().to_owned())
            .secure(sealing.secure)
            .http_only(true)
            .same_site(SameSite::Lax)
            .finish();
        let cookie = match id_token {
            Some(_) => {
                cookie.set_max_age(CookieDuration::seconds(
                    i64::try_from(web.session_max_age().as_secs()).unwrap_or(i64::MAX),
                ));
                let mut jar = CookieJar::new();
                jar.private_mut(&sealing.key).add(cookie);
                jar.delta().next().cloned()
            }
            None => {
                cookie.make_removal();
                Some(cookie)
            }
        };
        if let Some(this) = req.extensions_mut().get_mut::<IdTokenCookie>() {
            this.change = cookie;
        }
    }
}
