//! [`LogtoWeb`]: the Logto client, the sign-in routes' settings, the session store, and the
//! policy that decides who is signed in. Framework adapters hold one and call its flows.

use std::sync::Arc;
use std::time::Duration;

use logto_client::{Logout, LogtoClient, SignInOptions};

use crate::error::AuthError;
use crate::limits::{DEFAULT_SESSION_MAX_AGE, DEFAULT_USERINFO_MAX_AGE};
use crate::session::{LogtoSession, SessionEntries};
use crate::store::{CookieStore, SessionStore};
use crate::user::SessionUser;

pub(crate) struct Inner {
    pub(crate) client: LogtoClient,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) sign_in_path: String,
    pub(crate) sign_in_routes: Vec<(String, SignInOptions)>,
    pub(crate) sign_out_path: String,
    pub(crate) sign_out_page: bool,
    pub(crate) organization_path: Option<String>,
    pub(crate) backchannel_logout_path: Option<String>,
    pub(crate) cancelled_redirect: String,
    pub(crate) unreachable_sign_out_redirect: String,
    pub(crate) userinfo_max_age: Duration,
    pub(crate) session_max_age: Duration,
}

/// Sign-in with Logto for a web app, free of any framework: the client, the routes' settings,
/// the session store, and the flows. Cheap to clone; build it once.
#[derive(Clone)]
pub struct LogtoWeb(pub(crate) Arc<Inner>);

/// Builds a [`LogtoWeb`]; see [`LogtoWeb::builder`].
pub struct LogtoWebBuilder {
    inner: Inner,
    store_set: bool,
}

impl LogtoWeb {
    /// Starts building with the defaults: `GET /sign-in` (Logto's sign-in form), the callback at
    /// the path of the client's redirect URI, `POST /sign-out`, `POST /backchannel-logout`, a
    /// cancelled sign-in back to `/`, a sign-out that could not reach Logto back to `/`, and
    /// sessions in the cookie ([`CookieStore`]).
    pub fn builder(client: LogtoClient) -> LogtoWebBuilder {
        LogtoWebBuilder {
            inner: Inner {
                client,
                store: Arc::new(CookieStore::default()),
                sign_in_path: "/sign-in".to_owned(),
                sign_in_routes: Vec::new(),
                sign_out_path: "/sign-out".to_owned(),
                sign_out_page: false,
                organization_path: None,
                backchannel_logout_path: Some("/backchannel-logout".to_owned()),
                cancelled_redirect: "/".to_owned(),
                unreachable_sign_out_redirect: "/".to_owned(),
                userinfo_max_age: DEFAULT_USERINFO_MAX_AGE,
                session_max_age: DEFAULT_SESSION_MAX_AGE,
            },
            store_set: false,
        }
    }

    /// The Logto client.
    pub fn client(&self) -> &LogtoClient {
        &self.0.client
    }

    /// The session store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.0.store
    }

    /// The path of the default sign-in route.
    pub fn sign_in_path(&self) -> &str {
        &self.0.sign_in_path
    }

    /// Every route that starts a sign-in, with its options: the default one first.
    pub fn sign_in_routes(&self) -> Vec<(String, SignInOptions)> {
        std::iter::once((self.0.sign_in_path.clone(), SignInOptions::sign_in()))
            .chain(self.0.sign_in_routes.iter().cloned())
            .collect()
    }

    /// The callback's path: the path of the client's redirect URI.
    pub fn callback_path(&self) -> &str {
        self.0.client.config().redirect_uri().path()
    }

    /// The path of the sign-out form's `POST`.
    pub fn sign_out_path(&self) -> &str {
        &self.0.sign_out_path
    }

    /// The `Path` of the ID token cookie
    /// ([`SessionEntries::has_id_token_cookie`]): the sign-out path, so that the browser sends
    /// the ID token to sign-out (and its page) and to no other request.
    pub fn id_token_cookie_path(&self) -> &str {
        &self.0.sign_out_path
    }

    /// The sign-in state of a request's session (the 503 error when the store could not read
    /// it), with the ID token in the ID token cookie when the store keeps the whole state in the
    /// session cookie and the adapter has one.
    pub(crate) fn session<S: SessionEntries>(&self, entries: S) -> Result<LogtoSession<S>, AuthError> {
        Ok(LogtoSession::new(entries)?.with_id_token_cookie(self.0.store.state_in_cookie()))
    }

    /// The path of the organization switcher's `POST`
    /// ([`choose_organization`](LogtoWeb::choose_organization)), if the route is on.
    pub fn organization_path(&self) -> Option<&str> {
        self.0.organization_path.as_deref()
    }

    /// The path Logto posts back-channel logout tokens to, if the route is on.
    pub fn backchannel_logout_path(&self) -> Option<&str> {
        self.0.backchannel_logout_path.as_deref()
    }

    /// How long a session lasts from sign-in.
    pub fn session_max_age(&self) -> Duration {
        self.0.session_max_age
    }

    /// Ends every session a verified back-channel logout names (by `sid`, and every session of
    /// its `sub` that began before it): with a shared store at once, for every instance;
    /// otherwise in this process, the next time its cookie comes in. `false` when the same
    /// logout token was received before.
    pub async fn record_logout(&self, logout: &Logout) -> Result<bool, AuthError> {
        Ok(self.0.store.record_logout(logout, self.0.client.now()).await?)
    }

    /// The user of a session, unless it is past its maximum age or Logto ended it (then the
    /// session is ended here). The one place where being signed in is decided.
    pub(crate) fn current_user<S: SessionEntries>(&self, session: &LogtoSession<S>) -> Option<SessionUser> {
        let user = session.stored_user()?;
        let age = self.0.client.now().saturating_sub(user.signed_in_at);
        if age >= self.0.session_max_age.as_secs() {
            log::info!(
                "session of user {} ended: older than the session maximum age",
                crate::log_safe(&user.sub)
            );
            session.purge();
            return None;
        }
        if self.0.store.is_ended(&user) {
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
    pub fn sign_in_required(&self, here: &str) -> AuthError {
        let return_to: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        AuthError::SignInRequired {
            sign_in_url: format!("{}?return_to={return_to}", self.0.sign_in_path),
        }
    }

    /// Whether `path` is one of the routes that start a sign-in.
    pub(crate) fn is_sign_in_route(&self, path: &str) -> bool {
        self.0.sign_in_path == path || self.0.sign_in_routes.iter().any(|(p, _)| p == path)
    }
}

impl LogtoWebBuilder {
    /// Another route that starts a sign-in, e.g. `("/sign-up", SignInOptions::register())` or
    /// `("/sign-in/huggingface", SignInOptions::direct(DirectSignIn::hugging_face()))`.
    pub fn sign_in_route(mut self, path: impl Into<String>, options: SignInOptions) -> Self {
        self.inner.sign_in_routes.push((path.into(), options));
        self
    }

    /// Where signed-out visitors of a page for signed-in users are sent (default `/sign-in`).
    pub fn sign_in_path(mut self, path: impl Into<String>) -> Self {
        self.inner.sign_in_path = path.into();
        self
    }

    /// The path of the sign-out form's `POST` (default `/sign-out`).
    pub fn sign_out_path(mut self, path: impl Into<String>) -> Self {
        self.inner.sign_out_path = path.into();
        self
    }

    /// Whether the app serves a page at the sign-out path (`GET`): then a sign-out form whose CSRF
    /// token is stale (a tab older than the session) is sent to it for a fresh form instead of
    /// being refused.
    pub fn sign_out_page(mut self, has_page: bool) -> Self {
        self.inner.sign_out_page = has_page;
        self
    }

    /// The path of the organization switcher's `POST` (default `None`: no such route), e.g.
    /// `Some("/organization")`: a form there chooses the active organization
    /// ([`LogtoWeb::choose_organization`]).
    pub fn organization_path(mut self, path: Option<String>) -> Self {
        self.inner.organization_path = path;
        self
    }

    /// The path Logto posts back-channel logout tokens to (default `/backchannel-logout`), or
    /// `None` for no such route.
    pub fn backchannel_logout_path(mut self, path: Option<String>) -> Self {
        self.inner.backchannel_logout_path = path;
        self
    }

    /// Where a person who cancelled at Logto is sent (default `/`).
    pub fn cancelled_redirect(mut self, path: impl Into<String>) -> Self {
        self.inner.cancelled_redirect = path.into();
        self
    }

    /// Where a sign-out goes when Logto could not be reached to revoke the refresh token or to
    /// end its own session (default `/`): the local session has ended, Logto's may still be open,
    /// and the browser would otherwise be sent to an end-session page that does not answer.
    pub fn unreachable_sign_out_redirect(mut self, path: impl Into<String>) -> Self {
        self.inner.unreachable_sign_out_redirect = path.into();
        self
    }

    /// How old what the session holds of the user may get before
    /// [`SignedInUser::revalidate_user`](crate::SignedInUser::revalidate_user) reads userinfo
    /// again (default one minute; zero: every time).
    pub fn userinfo_max_age(mut self, max_age: Duration) -> Self {
        self.inner.userinfo_max_age = max_age;
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
        self.inner.session_max_age = max_age;
        self
    }

    /// Where sessions, logouts and refreshes are kept (default: [`CookieStore`]). The same store
    /// must be the one the adapter's session layer uses.
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.inner.store = store;
        self.store_set = true;
        self
    }

    /// The finished value.
    pub fn build(mut self) -> LogtoWeb {
        if !self.store_set {
            // The cookie store remembers logouts as long as a session can live.
            self.inner.store = Arc::new(CookieStore::new(self.inner.session_max_age));
        }
        LogtoWeb(Arc::new(self.inner))
    }
}
