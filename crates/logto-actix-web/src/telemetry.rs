//! Counters of sign-ins, failures and back-channel logouts, through the `metrics` facade:
//! nothing is recorded unless the app installs a recorder. Label values come from fixed sets:
//! the configured sign-in routes and [`AuthErrorKind`], never from a request.

use crate::auth::LogtoAuth;
use crate::error::AuthErrorKind;

/// Sign-ins started, by way in (the sign-in route's path).
pub const SIGN_INS_STARTED: &str = "logto_sign_ins_started_total";
/// Sign-ins finished (the callback signed the person in), by way in.
pub const SIGN_INS_FINISHED: &str = "logto_sign_ins_finished_total";
/// Failures answered by the handlers and extractors, by [`AuthErrorKind`] (`reason`).
pub const AUTH_FAILURES: &str = "logto_auth_failures_total";
/// Back-channel logouts accepted.
pub const BACKCHANNEL_LOGOUTS: &str = "logto_backchannel_logouts_total";
/// Calls to the Redis session store that failed or timed out.
pub const SESSION_STORE_ERRORS: &str = "logto_session_store_errors_total";

/// Counts a started sign-in.
pub(crate) fn sign_in_started(way_in: &str) {
    metrics::counter!(SIGN_INS_STARTED, "way" => way_in.to_owned()).increment(1);
}

/// Counts a finished sign-in. The way in comes back from the session: only a configured sign-in
/// route is used as a label.
pub(crate) fn sign_in_finished(auth: &LogtoAuth, way_in: Option<&str>) {
    let way = way_in
        .filter(|way| auth.is_sign_in_route(way))
        .unwrap_or("unknown")
        .to_owned();
    metrics::counter!(SIGN_INS_FINISHED, "way" => way).increment(1);
}

/// Counts a failure; being sent to sign in is the normal way to a protected page, not one.
pub(crate) fn failure(kind: AuthErrorKind) {
    if kind != AuthErrorKind::SignInRequired {
        metrics::counter!(AUTH_FAILURES, "reason" => kind.name()).increment(1);
    }
}

/// Counts an accepted back-channel logout.
pub(crate) fn backchannel_logout() {
    metrics::counter!(BACKCHANNEL_LOGOUTS).increment(1);
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
        }
    }
}

/// Counts a failed call to the session store.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn session_store_error() {
    metrics::counter!(SESSION_STORE_ERRORS).increment(1);
}
