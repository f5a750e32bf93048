//! The session middleware sign-in needs: actix-session's, and around it the ID token cookie.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{COOKIE, HeaderValue, SET_COOKIE};

use logto_web::limits::DEFAULT_SESSION_MAX_AGE;
use logto_web::{DecodedSessions, SentCookie, sent_cookie};

use crate::id_token_cookie::{IdTokenCookie, IdTokenCookieKey};
use crate::session::{ActixStore, DECODED_SESSION_HANDLE, Handoff};

pub use logto_web::{id_token_cookie_name, session_cookie_name};

/// A session middleware with the settings sign-in needs, over `store`: an encrypted (private)
/// cookie, `HttpOnly`, `SameSite=Lax` (the return from Logto is a cross-site navigation that must
/// carry it), `Path=/`, `Secure` and the `__Host-` prefix when `secure`, kept by the browser for
/// [`DEFAULT_SESSION_MAX_AGE`] (the web core ends sessions at their configured maximum age
/// whatever the cookie says). `key` must be the same on every instance and at every start, or
/// sessions end. With the cookie store, the ID token goes in a second cookie, encrypted with the
/// same key and sent by the browser to the sign-out path only ([`id_token_cookie_name`]).
///
/// With the cookie store, each distinct session cookie is opened once: what it opened to is kept
/// in a bounded cache ([`DecodedSessions`]) keyed by the cookie's whole value, and the same
/// cookie coming back is not decoded, decrypted and parsed again. Whether the session is still
/// signed in (maximum age, back-channel logout) is decided on every request as before.
pub fn session_middleware(store: ActixStore, key: Key, secure: bool) -> LogtoSessionMiddleware {
    let ttl = CookieDuration::seconds(DEFAULT_SESSION_MAX_AGE.as_secs() as i64);
    let decoded = store.state_in_cookie().then(|| Arc::new(DecodedSessions::default()));
    let store = match &decoded {
        Some(decoded) => store.with_decoded(decoded.clone()),
        None => store,
    };
    let name = session_cookie_name(secure);
    let decoded = decoded.map(|sessions| {
        Rc::new(DecodedCookies {
            sessions,
            name,
            handle: sealed_handle(&key, name),
        })
    });
    let session = SessionMiddleware::builder(store, key.clone())
        .cookie_name(session_cookie_name(secure).to_owned())
        .cookie_secure(secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(ttl))
        .build();
    LogtoSessionMiddleware {
        session,
        id_token_cookie: Rc::new(IdTokenCookieKey::new(key, secure)),
        decoded,
    }
}

/// [`DECODED_SESSION_HANDLE`] sealed as the session cookie's value (as actix-session seals it:
/// the private jar, the cookie's name as associated data), once per worker.
fn sealed_handle(key: &Key, name: &'static str) -> HeaderValue {
    let mut jar = CookieJar::new();
    jar.private_mut(key).add(Cookie::new(name, DECODED_SESSION_HANDLE));
    let sealed = jar.get(name).map(|c| c.value().to_owned()).unwrap_or_default();
    // Base64: nothing in it is percent-decoded, so it goes into the `Cookie` header as it is.
    HeaderValue::from_str(&format!("{name}={sealed}")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cache of opened session cookies, and what the middleware needs to use it.
struct DecodedCookies {
    sessions: Arc<DecodedSessions>,
    name: &'static str,
    /// `name=` and the sealed [`DECODED_SESSION_HANDLE`].
    handle: HeaderValue,
}

impl DecodedCookies {
    /// What to tell the store about this request, after putting the handle in place of a session
    /// cookie found in the cache.
    fn handoff(&self, req: &mut ServiceRequest) -> Option<Handoff> {
        // Anything unclear (the name twice, an encoded name): the cache is not used, and
        // actix-session finds what it finds as always. actix-web reads UTF-8 headers only.
        let texts = req
            .headers()
            .get_all(COOKIE)
            .map(|h| std::str::from_utf8(h.as_bytes()).ok());
        let SentCookie::One { header, value: range } = sent_cookie(texts, self.name) else {
            return None;
        };
        let text = std::str::from_utf8(req.headers().get_all(COOKIE).nth(header)?.as_bytes()).ok()?;
        let value = &text[range.clone()];
        let Some(state) = self.sessions.get(value) else {
            return Some(Handoff::Miss(value.into()));
        };
        let name_start = text[..range.start].rfind(self.name).unwrap_or(0);
        let mut replaced = Vec::with_capacity(text.len() - range.len() + self.handle.len());
        replaced.extend_from_slice(&text.as_bytes()[..name_start]);
        replaced.extend_from_slice(self.handle.as_bytes());
        replaced.extend_from_slice(&text.as_bytes()[range.end..]);
        let replaced = HeaderValue::from_bytes(&replaced).ok()?;
        // The other cookies stay as they came, in their order; this one becomes the handle.
        let rewritten: Vec<HeaderValue> = req
            .headers()
            .get_all(COOKIE)
            .enumerate()
            .map(|(at, original)| {
                if at == header {
                    replaced.clone()
                } else {
                    original.clone()
                }
            })
            .collect();
        let headers = req.headers_mut();
        headers.remove(COOKIE);
        for value in rewritten {
            headers.append(COOKIE, value);
        }
        Some(Handoff::Hit(state))
    }
}

impl crate::LogtoAuth {
    /// The session middleware over this sign-in's own store ([`LogtoAuthBuilder::store`](crate::LogtoAuthBuilder::store),
    /// the cookie by default), so that the two cannot differ. See [`session_middleware`].
    pub fn session_middleware(&self, key: Key, secure: bool) -> LogtoSessionMiddleware {
        session_middleware(ActixStore::new(self.web().store().clone()), key, secure)
    }
}

/// The session middleware of [`session_middleware`]: actix-session's, with the ID token cookie
/// around it. `.wrap()` it as any middleware.
pub struct LogtoSessionMiddleware {
    session: SessionMiddleware<ActixStore>,
    id_token_cookie: Rc<IdTokenCookieKey>,
    decoded: Option<Rc<DecodedCookies>>,
}

impl<S, B> Transform<S, ServiceRequest> for LogtoSessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = IdTokenCookieService<<SessionMiddleware<ActixStore> as Transform<S, ServiceRequest>>::Transform>;
    type InitError = ();
    type Future = Pin<Box<dyn Future<Output = Result<Self::Transform, ()>>>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let session = self.session.new_transform(service);
        let sealing = self.id_token_cookie.clone();
        let decoded = self.decoded.clone();
        Box::pin(async move {
            Ok(IdTokenCookieService {
                inner: session.await?,
                sealing,
                decoded,
            })
        })
    }
}

/// The service of [`LogtoSessionMiddleware`]: gives each request its ID token cookie, and writes
/// what the web core changed of it to the response; with the cookie store, answers a session
/// cookie opened before from the cache.
pub struct IdTokenCookieService<S> {
    inner: S,
    sealing: Rc<IdTokenCookieKey>,
    decoded: Option<Rc<DecodedCookies>>,
}

impl<S, B> Service<ServiceRequest> for IdTokenCookieService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: Unpin,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = IdTokenCookieFuture<S::Future>;

    forward_ready!(inner);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        req.extensions_mut().insert(IdTokenCookie::new(self.sealing.clone()));
        let handoff = self.decoded.as_ref().and_then(|decoded| decoded.handoff(&mut req));
        IdTokenCookieFuture {
            inner: self.inner.call(req),
            handoff,
        }
    }
}

/// The response of [`IdTokenCookieService`], with the ID token cookie's change added. A future
/// of its own rather than a boxed one: it runs for every request.
pub struct IdTokenCookieFuture<F> {
    inner: F,
    /// For the store, during the first poll (in which actix-session loads the session).
    handoff: Option<Handoff>,
}

impl<F, B> Future for IdTokenCookieFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = Pin::new(&mut this.inner);
        let polled = match this.handoff.take() {
            Some(handoff) => handoff.during(|| inner.poll(cx)),
            None => inner.poll(cx),
        };
        let mut response = ready!(polled)?;
        let change = response
            .request()
            .extensions_mut()
            .get_mut::<IdTokenCookie>()
            .and_then(IdTokenCookie::take_change);
        if let Some(change) = change
            && let Ok(value) = HeaderValue::from_str(&change.to_string())
        {
            response.headers_mut().append(SET_COOKIE, value);
        }
        Poll::Ready(Ok(response))
    }
}
