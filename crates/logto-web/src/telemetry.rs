//! Counters of sign-ins, failures and back-channel logouts, through the `metrics` facade:
//! nothing is recorded unless the app installs a recorder. Label values come from fixed sets:
//! the configured sign-in routes and the error kinds' names, never from a request.

/// The names of the counters this crate records.
pub mod names {
    /// Sign-ins started, by way in (the sign-in route's path).
    pub const SIGN_INS_STARTED: &str = "logto_sign_ins_started_total";
    /// Sign-ins finished (the callback signed the person in), by way in.
    pub const SIGN_INS_FINISHED: &str = "logto_sign_ins_finished_total";
    /// Failures answered by the flows and extractors, by [`AuthErrorKind`](crate::AuthErrorKind) (`reason`).
    pub const AUTH_FAILURES: &str = "logto_auth_failures_total";
    /// Back-channel logouts accepted.
    pub const BACKCHANNEL_LOGOUTS: &str = "logto_backchannel_logouts_total";
    /// Calls to the session store that failed or timed out.
    pub const SESSION_STORE_ERRORS: &str = "logto_session_store_errors_total";
}

/// Counts a started sign-in; `way_in` is a configured route's path.
pub(crate) fn sign_in_started(way_in: &str) {
    metrics::counter!(names::SIGN_INS_STARTED, "way" => way_in.to_owned()).increment(1);
}

/// Counts a finished sign-in; `way_in` is a configured route's path or `unknown`.
pub(crate) fn sign_in_finished(way_in: &str) {
    metrics::counter!(names::SIGN_INS_FINISHED, "way" => way_in.to_owned()).increment(1);
}

/// Counts a failure of the kind named `reason` (an `AuthErrorKind` name).
pub(crate) fn failure(reason: &'static str) {
    metrics::counter!(names::AUTH_FAILURES, "reason" => reason).increment(1);
}

/// Counts an accepted back-channel logout.
pub(crate) fn backchannel_logout() {
    metrics::counter!(names::BACKCHANNEL_LOGOUTS).increment(1);
}

/// Counts a failed call to the session store.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn session_store_error() {
    metrics::counter!(names::SESSION_STORE_ERRORS).increment(1);
}
