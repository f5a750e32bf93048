//! [`LogtoAuth`]: the web core's [`LogtoWeb`] and what only actix needs (a sign-out page route,
//! the request's languages).

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{FromRequest, HttpRequest, Route, dev::Payload};
use logto_client::{LogtoClient, SignInOptions};
use logto_web::{LogHint, LogtoWeb, LogtoWebBuilder, SessionStore};

use crate::error::AuthErrorResponse;

type UiLocales = Box<dyn Fn(&HttpRequest) -> Option<String> + Send + Sync>;
type RouteFactory = Box<dyn Fn() -> Route + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) web: LogtoWeb,
    pub(crate) sign_out_page: Option<RouteFactory>,
    pub(crate) ui_locales: Option<UiLocales>,
}

/// Sign-in with Logto for an actix-web app: the web core, the routes, and what the handlers
/// share. Cheap to clone; build it once, outside `HttpServer::new`.
#[derive(Clone)]
pub struct LogtoAuth(pub(crate) Arc<Inner>);

/// Builds a [`LogtoAuth`]; see [`LogtoAuth::builder`].
pub struct LogtoAuthBuilder {
    web: LogtoWebBuilder,
    sign_out_page: Option<RouteFactory>,
    ui_locales: Option<UiLocales>,
}

impl LogtoAuth {
    /// Starts building with the defaults of [`LogtoWeb::builder`]: `GET /sign-in`, the callback
    /// at the path of the client's redirect URI, `POST /sign-out`, `POST /backchannel-logout`,
    /// sessions in the cookie.
    pub fn builder(client: LogtoClient) -> LogtoAuthBuilder {
        LogtoAuthBuilder {
            web: LogtoWeb::builder(client),
            sign_out_page: None,
            ui_locales: None,
        }
    }

    /// The web core: flows, settings, the session store.
    pub fn web(&self) -> &LogtoWeb {
        &self.0.web
    }

    /// The Logto client.
    pub fn client(&self) -> &LogtoClient {
        self.0.web.client()
    }

    /// The [`LogtoAuth`] of a request: configured with [`LogtoAuth::configure`].
    pub(crate) fn of(req: &HttpRequest) -> Result<LogtoAuth, AuthErrorResponse> {
        req.app_data::<LogtoAuth>()
            .cloned()
            .ok_or_else(|| logto_web::AuthError::NotConfigured.into())
    }

    pub(crate) fn ui_locales(&self, req: &HttpRequest) -> Option<String> {
        self.0.ui_locales.as_ref().and_then(|f| f(req))
    }
}

impl FromRequest for LogtoAuth {
    type Error = AuthErrorResponse;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(LogtoAuth::of(req))
    }
}

impl LogtoAuthBuilder {
    /// Another route that starts a sign-in, e.g. `("/sign-up", SignInOptions::register())` or
    /// `("/sign-in/huggingface", SignInOptions::direct(DirectSignIn::hugging_face()))`.
    pub fn sign_in_route(mut self, path: impl Into<String>, options: SignInOptions) -> Self {
        self.web = self.web.sign_in_route(path, options);
        self
    }

    /// Where [`SignedInUser`](crate::SignedInUser) sends signed-out visitors (default `/sign-in`).
    pub fn sign_in_path(mut self, path: impl Into<String>) -> Self {
        self.web = self.web.sign_in_path(path);
        self
    }

    /// The path of the sign-out form's `POST` (default `/sign-out`).
    pub fn sign_out_path(mut self, path: impl Into<String>) -> Self {
        self.web = self.web.sign_out_path(path);
        self
    }

    /// Another route on the sign-out path, e.g. `|| web::route().to(sign_out_page)` for a page
    /// that asks before signing out; it is mounted for `GET` and `HEAD`. Called once per worker.
    /// With such a page, a sign-out form whose CSRF token is stale (a tab older than the
    /// session) is sent to it for a fresh form instead of being refused.
    pub fn sign_out_page(mut self, route: impl Fn() -> Route + Send + Sync + 'static) -> Self {
        self.sign_out_page = Some(Box::new(route));
        self.web = self.web.sign_out_page(true);
        self
    }

    /// The path of the organization switcher's `POST` (default `None`: no such route), e.g.
    /// `Some("/organization".into())`: a form there (`csrf_token`, `organization_id`, optional
    /// `return_to`) chooses the user's active organization.
    pub fn organization_path(mut self, path: Option<String>) -> Self {
        self.web = self.web.organization_path(path);
        self
    }

    /// The path Logto posts back-channel logout tokens to (default `/backchannel-logout`), or
    /// `None` for no such route.
    pub fn backchannel_logout_path(mut self, path: Option<String>) -> Self {
        self.web = self.web.backchannel_logout_path(path);
        self
    }

    /// Where a person who cancelled at Logto is sent (default `/`).
    pub fn cancelled_redirect(mut self, path: impl Into<String>) -> Self {
        self.web = self.web.cancelled_redirect(path);
        self
    }

    /// Where a sign-out goes when Logto could not be reached (default `/`); see
    /// [`LogtoWebBuilder::unreachable_sign_out_redirect`].
    pub fn unreachable_sign_out_redirect(mut self, path: impl Into<String>) -> Self {
        self.web = self.web.unreachable_sign_out_redirect(path);
        self
    }

    /// The languages of Logto's pages for a request (`ui_locales`), e.g. the app's own language.
    pub fn ui_locales(mut self, from_request: impl Fn(&HttpRequest) -> Option<String> + Send + Sync + 'static) -> Self {
        self.ui_locales = Some(Box::new(from_request));
        self
    }

    /// How old what the session holds of the user may get before
    /// [`SignedInUser::revalidate_user`](logto_web::SignedInUser::revalidate_user) reads userinfo
    /// again (default one minute; zero: every time).
    pub fn userinfo_max_age(mut self, max_age: Duration) -> Self {
        self.web = self.web.userinfo_max_age(max_age);
        self
    }

    /// A hint for the operator, added to the logged line of an error (never to the page).
    /// Process-wide: the first hint set in a process is the one used.
    pub fn log_hint(mut self, hint: LogHint) -> Self {
        self.web = self.web.log_hint(hint);
        self
    }

    /// How long a session lasts from sign-in, whatever its use (default 14 days).
    pub fn session_max_age(mut self, max_age: Duration) -> Self {
        self.web = self.web.session_max_age(max_age);
        self
    }

    /// Where sessions, logouts and refreshes are kept: the same store as the session
    /// middleware's ([`ActixStore`](crate::ActixStore)). Default: the cookie.
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.web = self.web.store(store);
        self
    }

    /// The finished value.
    pub fn build(self) -> LogtoAuth {
        LogtoAuth(Arc::new(Inner {
            web: self.web.build(),
            sign_out_page: self.sign_out_page,
            ui_locales: self.ui_locales,
        }))
    }
}
