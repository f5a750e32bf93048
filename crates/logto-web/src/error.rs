//! Every failure of sign-in, sign-out and the session, with its status decided in one place. The
//! operator gets the cause in the log ([`AuthError::report`]); a response carries no internals,
//! only an [`AuthErrorKind`] for the app's error page to put into words.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use http::StatusCode;
use logto_client::{CallbackError, LogtoError, SignInError};

use crate::log_limit::{Admit, LogLimiter, log_safe, suppressed_note};

/// How often a line is written per kind of failure: a flood of refused requests costs one line
/// per kind per interval, each saying how many were left out.
pub const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(1);

static FAILURE_LOG: LazyLock<LogLimiter> = LazyLock::new(|| LogLimiter::new(FAILURE_LOG_INTERVAL));

/// A hint for the operator added to the logged line of an error (never to the page): set once per
/// process with [`LogtoWebBuilder::log_hint`](crate::LogtoWebBuilder::log_hint).
pub type LogHint = fn(&AuthError) -> Option<String>;

pub(crate) static LOG_HINT: OnceLock<LogHint> = OnceLock::new();

/// Errors of the sign-in, callback, sign-out and back-channel logout flows and of reading the
/// signed-in user.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The callback was refused before Logto was asked.
    #[error("callback refused: {0}")]
    Callback(#[from] CallbackError),
    /// Logto failed, refused, or sent something that did not verify.
    #[error("Logto: {0}")]
    Logto(#[from] LogtoError),
    /// A page for signed-in users was asked for without a session.
    #[error("sign-in required")]
    SignInRequired {
        /// The sign-in URL, carrying the page to come back to.
        sign_in_url: String,
    },
    /// A back-channel logout request without a valid logout token.
    #[error("back-channel logout refused: {0}")]
    LogoutToken(#[source] LogtoError),
    /// A sign-out form came without the session's CSRF token.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// The session could not be written.
    #[error("session: {0}")]
    Session(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The session would not fit in a cookie, even after dropping what can be fetched again.
    #[error("session state of {0} bytes exceeds the cookie budget")]
    SessionTooLarge(usize),
    /// The session store (Redis) failed or did not answer in time.
    #[error(transparent)]
    SessionStore(#[from] StoreError),
    /// A handler or extractor ran in an app that sign-in was not set up on.
    #[error("Logto sign-in is not configured on this app")]
    NotConfigured,
    /// An organization was chosen that the signed-in user is not a member of (or none at all).
    #[error("the chosen organization is not one of the user's")]
    NotAMember,
    /// Logto refused a token for an organization the user is no longer a member of; the
    /// organization was dropped from the session, which stays signed in.
    #[error("organization token refused: {0}")]
    OrganizationDenied(#[source] LogtoError),
}

impl From<SignInError> for AuthError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::Callback(e) => AuthError::Callback(e),
            SignInError::Logto(e) => AuthError::Logto(e),
        }
    }
}

/// What kind of failure a response is, for the app's error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// Logto ended the sign-in with an error other than the person cancelling.
    Denied,
    /// The callback came after the sign-in's time was up.
    Expired,
    /// Unknown, missing or replayed state; wrong issuer; no code.
    InvalidCallback,
    /// Logto called the code or refresh token invalid (used or expired).
    InvalidGrant,
    /// Logto unreachable or untrustworthy.
    LogtoUnavailable,
    /// The app asked Logto for something it is not configured for.
    Misconfigured,
    /// A sign-out form without the session's CSRF token.
    Csrf,
    /// A page for signed-in users, without a session.
    SignInRequired,
    /// A back-channel logout without a valid logout token.
    BadLogoutToken,
    /// The session could not be kept.
    Session,
    /// The session store is down or does not answer: try again shortly.
    SessionUnavailable,
    /// An organization was chosen that the user is not a member of.
    NotAMember,
    /// Logto refused a token for an organization: the user is no longer a member.
    OrganizationDenied,
}

impl AuthErrorKind {
    /// A short snake_case name, fit for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            AuthErrorKind::Denied => "denied",
            AuthErrorKind::Expired => "expired",
            AuthErrorKind::InvalidCallback => "invalid_callback",
            AuthErrorKind::InvalidGrant => "invalid_grant",
            AuthErrorKind::LogtoUnavailable => "logto_unavailable",
            AuthErrorKind::Misconfigured => "misconfigured",
            AuthErrorKind::Csrf => "csrf",
            AuthErrorKind::SignInRequired => "sign_in_required",
            AuthErrorKind::BadLogoutToken => "bad_logout_token",
            AuthErrorKind::Session => "session",
            AuthErrorKind::SessionUnavailable => "session_unavailable",
            AuthErrorKind::NotAMember => "not_a_member",
            AuthErrorKind::OrganizationDenied => "organization_denied",
        }
    }
}

impl AuthError {
    /// The kind of failure, for the error page.
    pub fn kind(&self) -> AuthErrorKind {
        match self {
            // A cancelled sign-in never gets here: the callback sends it on with a notice.
            AuthError::Callback(CallbackError::Denied { .. }) => AuthErrorKind::Denied,
            AuthError::Callback(CallbackError::Expired) => AuthErrorKind::Expired,
            AuthError::Callback(_) => AuthErrorKind::InvalidCallback,
            AuthError::Logto(e) if e.is_invalid_grant() => AuthErrorKind::InvalidGrant,
            AuthError::Logto(LogtoError::NotRequested(_)) => AuthErrorKind::Misconfigured,
            AuthError::Logto(_) => AuthErrorKind::LogtoUnavailable,
            AuthError::Csrf => AuthErrorKind::Csrf,
            AuthError::SignInRequired { .. } => AuthErrorKind::SignInRequired,
            AuthError::LogoutToken(_) => AuthErrorKind::BadLogoutToken,
            AuthError::Session(_) | AuthError::SessionTooLarge(_) => AuthErrorKind::Session,
            AuthError::NotConfigured => AuthErrorKind::Misconfigured,
            AuthError::SessionStore(_) => AuthErrorKind::SessionUnavailable,
            AuthError::NotAMember => AuthErrorKind::NotAMember,
            AuthError::OrganizationDenied(_) => AuthErrorKind::OrganizationDenied,
        }
    }

    /// The status of the answer: the one place it is decided, whatever the framework.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Callback(_) => StatusCode::BAD_REQUEST,
            // A code Logto calls invalid was stale or replayed: the request, not Logto, was bad.
            AuthError::Logto(e) if e.is_invalid_grant() => StatusCode::BAD_REQUEST,
            // The app asked for a token it never requested: its configuration is wrong.
            AuthError::Logto(LogtoError::NotRequested(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::Logto(_) => StatusCode::BAD_GATEWAY,
            AuthError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            // Logto could not be asked for its keys: try again later. Anything else: a bad token.
            AuthError::LogoutToken(
                LogtoError::Unreachable { .. } | LogtoError::HttpStatus { .. } | LogtoError::InvalidResponse { .. },
            ) => StatusCode::BAD_GATEWAY,
            AuthError::LogoutToken(_) => StatusCode::BAD_REQUEST,
            AuthError::Csrf => StatusCode::FORBIDDEN,
            AuthError::NotAMember => StatusCode::BAD_REQUEST,
            AuthError::OrganizationDenied(_) => StatusCode::FORBIDDEN,
            AuthError::SessionStore(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Session(_) | AuthError::SessionTooLarge(_) | AuthError::NotConfigured => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Where the browser goes instead of a page, for the one error that is a redirect.
    pub fn redirect(&self) -> Option<&str> {
        match self {
            AuthError::SignInRequired { sign_in_url } => Some(sign_in_url),
            _ => None,
        }
    }

    /// Logs the error (rate-limited per kind, with the operator's hint) and counts it. Adapters
    /// call this once per answered error, before building the response.
    pub fn report(&self) {
        if self.redirect().is_some() {
            return;
        }
        let status = self.status();
        // The Display text names the failing step and reason, never a token or secret; `chain`
        // escapes control characters, so nothing from the request can start a line.
        if let Admit::Log { suppressed } = FAILURE_LOG.admit(self.log_kind()) {
            let hint = LOG_HINT
                .get()
                .and_then(|hint| hint(self))
                .map(|hint| format!("; hint: {}", log_safe(&hint)))
                .unwrap_or_default();
            let suppressed = suppressed_note(suppressed, FAILURE_LOG_INTERVAL);
            if status.is_server_error() {
                log::error!("{status}: {}{hint}{suppressed}", chain(self));
            } else {
                log::warn!("{status}: {}{hint}{suppressed}", chain(self));
            }
        }
        // Being sent to sign in is the normal way to a protected page, not a failure; it never
        // gets here (see above).
        crate::telemetry::failure(self.kind().name());
    }

    /// The kind of failure for the log's rate limit: from a fixed set, never from request data.
    fn log_kind(&self) -> &'static str {
        match self {
            AuthError::Callback(CallbackError::Denied { .. }) => "callback: denied",
            AuthError::Callback(CallbackError::Expired) => "callback: expired",
            AuthError::Callback(CallbackError::UnknownState) => "callback: unknown state",
            AuthError::Callback(CallbackError::IssuerMismatch) => "callback: issuer",
            AuthError::Callback(_) => "callback: malformed",
            AuthError::Logto(e) if e.is_invalid_grant() => "logto: invalid grant",
            AuthError::Logto(LogtoError::Rejected { .. }) => "logto: rejected",
            AuthError::Logto(LogtoError::InvalidToken { .. }) => "logto: invalid token",
            AuthError::Logto(_) => "logto: failed",
            AuthError::SignInRequired { .. } => "sign-in required",
            AuthError::LogoutToken(LogtoError::InvalidToken { .. }) => "logout token: invalid",
            AuthError::LogoutToken(_) => "logout token: logto failed",
            AuthError::Csrf => "csrf",
            AuthError::Session(_) | AuthError::SessionTooLarge(_) => "session",
            AuthError::SessionStore(_) => "session store",
            AuthError::NotConfigured => "not configured",
            AuthError::NotAMember => "organization: not a member",
            AuthError::OrganizationDenied(_) => "organization: denied",
        }
    }
}

/// An error with its causes, `: `-separated, on one line, with control characters escaped: fit
/// for a log line whatever the error carries.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    log_safe(&text).into_owned()
}

/// A failure of the shared session store: which store (its URL, without password) and why.
#[derive(Debug, thiserror::Error)]
#[error("session store {store}: {what}")]
pub struct StoreError {
    /// The store, e.g. `REDIS_URL redis://127.0.0.1:6379` (never a password).
    pub store: String,
    /// What failed, e.g. `no answer within 1s` or the store's own error.
    pub what: String,
}
