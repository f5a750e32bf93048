//! [`LogtoAuth`]: the client, the routes' settings, and what handlers and extractors share.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{FromRequest, HttpRequest, Route, dev::Payload};
use logto_client::{Audience, Logout, LogtoClient, RefreshToken, Refreshed, SignInOptions};

use crate::error::AuthError;
use crate::logout::LogoutRegistry;
use crate::session::LogtoSession;
use crate::user::SessionUser;

/// How old the user's userinfo may get, unless configured otherwise.
pub const DEFAULT_USERINFO_MAX_AGE: Duration = Duration::from_secs(60);

/// How long a session lasts from sign-in, unless configured otherwise: 14 days, the lifetime of
/// Logto's refresh tokens.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

type UiLocales = Box<dyn Fn(&HttpRequest) -> Option<String> + Send + Sync>;
type RouteFactory = Box<dyn Fn() -> Route + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) client: LogtoClient,
    pub(crate) logouts: LogoutRegistry,
    pub(crate) sign_in_path: String,
    pub(crate) sign_in_routes: Vec<(String, SignInOptions)>,
    pub(crate) sign_out_path: String,
    pub(crate) sign_out_page: Option<RouteFactory>,
    pub(crate) backchannel_logout_path: Option<String>,
    pub(crate) cancelled_redirect: String,
    pub(crate) unreachable_sign_out_redirect: String,
    pub(crate) ui_locales: Option<UiLocales>,
    pub(crate) userinfo_max_age: Duration,
    pub(crate) session_max_age: Duration,
    /// The shared store, when sessions live in Redis: logouts and refreshes go through it.
    #[cfg(feature = "redis")]
    pub(crate) redis: Option<crate::redis_store::RedisStore>,
}

/// Sign-in with Logto for an actix-web app: the client, the routes, and what the handlers share.
/// Cheap to clone; build it once, outside `HttpServer::new`.
#[derive(Clone)]
pub struct LogtoAuth(pub(crate) Arc<Inner>);

/// Builds a [`LogtoAuth`]; see [`LogtoAuth::builder`].
pub struct LogtoAuthBuilder(Inner);

impl LogtoAuth {
    /// Starts building with the defaults: `GET /sign-in` (Logto's sign-in form), the callback at
    /// the path of the client's redirect URI, `POST /sign-out`, `POST /backchannel-logout`, and
    /// a cancelled sign-in back to `/`, and a sign-out that could not reach Logto back to `/`.
    pub fn builder(client: LogtoClient) -> LogtoAuthBuilder {
        LogtoAuthBuilder(Inner {
            client,
            logouts: LogoutRegistry::default(),
            sign_in_path: "/sign-in".to_owned(),
            sign_in_routes: Vec::new(),
            sign_out_path: "/sign-out".to_owned(),
            sign_out_page: None,
            backchannel_logout_path: Some("/backchannel-logout".to_owned()),
            cancelled_redirect: "/".to_owned(),
            unreachable_sign_out_redirect: "/".to_owned(),
            ui_locales: None,
            userinfo_max_age: DEFAULT_USERINFO_MAX_AGE,
            session_max_age: DEFAULT_SESSION_MAX_AGE,
            #[cfg(feature = "redis")]
            redis: None,
        })
    }

    /// The Logto client.
    pub fn client(&self) -> &LogtoClient {
        &self.0.client
    }

    /// Ends every session a verified back-channel logout names (by `sid`, and every session of
    /// its `sub` that began before it): with a Redis store at once, for every instance; otherwise
    /// in this process, the next time its cookie comes in. `false` when the same logout token
    /// was received before.
    pub async fn record_logout(&self, logout: &Logout) -> Result<bool, AuthError> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.0.redis {
            return Ok(redis.end_sessions(logout).await?);
        }
        Ok(self.0.logouts.record(logout, self.0.client.now()))
    }

    /// A refresh for `audience`, one grant per session at a time: across every instance through
    /// Redis when sessions live there, else within this process.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, AuthError> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.0.redis {
            return redis.refresh(&self.0.client, refresh_token, audience, sub).await;
        }
        Ok(self.0.client.refresh(refresh_token, audience, sub).await?)
    }

    /// The [`LogtoAuth`] of a request: configured with [`LogtoAuth::configure`].
    pub(crate) fn of(req: &HttpRequest) -> Result<LogtoAuth, AuthError> {
        req.app_data::<LogtoAuth>().cloned().ok_or(AuthError::NotConfigured)
    }

    /// The user of a session, unless it is past its maximum age or Logto ended it (then the
    /// session is ended here). The one place where being signed in is decided.
    pub(crate) fn current_user(&self, session: &LogtoSession) -> Option<SessionUser> {
        let user = session.stored_user()?;
        let age = self.0.client.now().saturating_sub(user.signed_in_at);
        if age >= self.0.session_max_age.as_secs() {
            log::info!("session of user {} ended: older than the session maximum age", user.sub);
            session.purge();
            return None;
        }
        if !self.0.logouts.is_empty() && self.0.logouts.has_ended(&user) {
            log::info!(
                "session of user {} ended by back-channel logout",
                crate::log_safe(&user.sub)
            );
            session.purge();
            return None;
        }
        Some(user)
    }

    /// The error that sends the browser to sign in, and back to `here` afterwards.
    pub(crate) fn sign_in_required(&self, here: &str) -> AuthError {
        let return_to: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        AuthError::SignInRequired {
            sign_in_url: format!("{}?return_to={return_to}", self.0.sign_in_path),
        }
    }

    pub(crate) fn ui_locales(&self, req: &HttpRequest) -> Option<String> {
        self.0.ui_locales.as_ref().and_then(|f| f(req))
    }

    /// Whether `path` is one of the routes that start a sign-in.
    pub(crate) fn is_sign_in_route(&self, path: &str) -> bool {
        self.0.sign_in_path == path || self.0.sign_in_routes.iter().any(|(p, _)| p == path)
    }

    pub(crate) fn cancelled_redirect(&self) -> &str {
        &self.0.cancelled_redirect
    }

    pub(crate) fn unreachable_sign_out_redirect(&self) -> &str {
        &self.0.unreachable_sign_out_redirect
    }

    /// Where a sign-out form with a stale CSRF token is asked again, if the app has that page.
    pub(crate) fn sign_out_page_path(&self) -> Option<&str> {
        self.0.sign_out_page.as_ref().map(|_| self.0.sign_out_path.as_str())
    }
}

impl FromRequest for LogtoAuth {
    type Error = AuthError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(LogtoAuth::of(req))
    }
}

impl LogtoAuthBuilder {
    /// Another route that starts a sign-in, e.g. `("/sign-up", SignInOptions::register())` or
    /// `("/sign-in/huggingface", SignInOptions::direct(DirectSignIn::hugging_face()))`.
    pub fn sign_in_route(mut self, path: impl Into<String>, options: SignInOptions) -> Self {
        self.0.sign_in_routes.push((path.into(), options));
        self
    }

    /// Where [`SignedInUser`](crate::SignedInUser) sends signed-out visitors (default `/sign-in`).
    pub fn sign_in_path(mut self, path: impl Into<String>) -> Self {
        self.0.sign_in_path = path.into();
        self
    }

    /// The path of the sign-out form's `POST` (default `/sign-out`).
    pub fn sign_out_path(mut self, path: impl Into<String>) -> Self {
        self.0.sign_out_path = path.into();
        self
    }

    /// Another route on the sign-out path, e.g. `|| web::route().to(sign_out_page)` for a page
    /// that asks before signing out; it is mounted for `GET` and `HEAD`. Called once per worker.
    /// With such a page, a sign-out form whose CSRF token is stale (a tab older than the
    /// session) is sent to it for a fresh form instead of being refused.
    pub fn sign_out_page(mut self, route: impl Fn() -> Route + Send + Sync + 'static) -> Self {
        self.0.sign_out_page = Some(Box::new(route));
        self
    }

    /// The path Logto posts back-channel logout tokens to (default `/backchannel-logout`), or
    /// `None` for no such route.
    pub fn backchannel_logout_path(mut self, path: Option<String>) -> Self {
        self.0.backchannel_logout_path = path;
        self
    }

    /// Where a person who cancelled at Logto is sent (default `/`).
    pub fn cancelled_redirect(mut self, path: impl Into<String>) -> Self {
        self.0.cancelled_redirect = path.into();
        self
    }

    /// Where a sign-out goes when Logto could not be reached to revoke the refresh token or to
    /// end its own session (default `/`): the local session has ended, Logto's may still be open,
    /// and the browser would otherwise be sent to an end-session page that does not answer.
    pub fn unreachable_sign_out_redirect(mut self, path: impl Into<String>) -> Self {
        self.0.unreachable_sign_out_redirect = path.into();
        self
    }

    /// The languages of Logto's pages for a request (`ui_locales`), e.g. the app's own language.
    pub fn ui_locales(mut self, from_request: impl Fn(&HttpRequest) -> Option<String> + Send + Sync + 'static) -> Self {
        self.0.ui_locales = Some(Box::new(from_request));
        self
    }

    /// How old what the session holds of the user may get before
    /// [`SignedInUser::revalidate_user`](crate::SignedInUser::revalidate_user) reads userinfo
    /// again (default one minute; zero: every time).
    pub fn userinfo_max_age(mut self, max_age: Duration) -> Self {
        self.0.userinfo_max_age = max_age;
        self
    }

    /// A hint for the operator, added to the logged line of an error (never to the page): e.g.
    /// which of the app's settings is most likely at fault. Process-wide: the first hint set in
    /// a process is the one used.
    pub fn log_hint(self, hint: crate::LogHint) -> Self {
        let _ = crate::error::LOG_HINT.set(hint);
        self
    }

    /// How long a session lasts from sign-in, whatever its use (default 14 days): past it, the
    /// session and any copy of its cookie are signed out.
    pub fn session_max_age(mut self, max_age: Duration) -> Self {
        self.0.session_max_age = max_age;
        self
    }

    /// Keeps back-channel logouts and refreshes in this Redis store, the one the session
    /// middleware uses, so that they hold for every instance and across restarts.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, store: crate::redis_store::RedisStore) -> Self {
        self.0.redis = Some(store);
        self
    }

    /// The finished value.
    pub fn build(self) -> LogtoAuth {
        LogtoAuth(Arc::new(self.0))
    }
}
