//! The names of the session's entries. Stores that look inside a session (the Redis store's
//! update script, its index) use these, and nothing else does.

/// The sign-ins this browser started and has not finished.
pub(crate) const PENDING: &str = "pending";
/// What the session keeps of the signed-in user.
pub(crate) const USER: &str = "user";
/// The refresh token and cached access tokens.
pub(crate) const TOKENS: &str = "tokens";
/// The CSRF token of the signed-in session.
pub(crate) const CSRF: &str = "csrf";
/// Set by a store that could not read the session (e.g. Redis down): the request must not go
/// on as if signed out, and the state must not be written back.
pub const UNAVAILABLE: &str = "logto.unavailable";
