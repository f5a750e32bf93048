//! The client's limits, as associated constants of the types they bound.

use std::time::Duration;

use crate::{CallbackParams, Logout, LogtoClient, PendingSignIn};

impl LogtoClient {
    /// Largest body read from Logto (discovery, keys, tokens, userinfo); a larger one is an error.
    pub const MAX_BODY_BYTES: usize = crate::http::MAX_BODY_BYTES;
    /// Largest claims part of a token (ID, access, logout) read; a larger token is refused.
    pub const MAX_CLAIMS_BYTES: usize = crate::jwt::MAX_CLAIMS_BYTES;
    /// How long Logto's keys are kept before they are fetched again.
    pub const KEYS_MAX_AGE: Duration = crate::jwks::KEYS_MAX_AGE;
    /// How long a failed discovery or key fetch is answered from memory before Logto is asked again.
    pub const RETRY_AFTER_FAILURE: Duration = crate::jwks::RETRY_AFTER_FAILURE;
    /// How long a refresh grant's result is shared with the requests of the same session that
    /// presented the same refresh token.
    pub const REFRESH_SHARE_WINDOW: Duration = crate::refresh_coordinator::SHARE_WINDOW;
    /// Longest a connection to Logto may sit idle and still be reused. Logto runs on Node.js,
    /// which closes a kept-alive connection after 5 s idle; a request sent on it as it closes is
    /// reset, and the visitor would get a 502. Under 5 s, as Node's own `fetch` does (4 s).
    pub const IDLE_CONNECTION_REUSE: Duration = Duration::from_secs(4);
    /// How many verified access tokens are remembered by default (see
    /// [`LogtoClient::with_access_token_cache`]).
    pub const ACCESS_TOKEN_CACHE_CAPACITY: usize = crate::verified_cache::DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY;
}

impl CallbackParams {
    /// Longest callback query string parsed.
    pub const MAX_QUERY_BYTES: usize = crate::callback::MAX_CALLBACK_QUERY;
}

impl PendingSignIn {
    /// How long a started sign-in may take before its callback is refused.
    pub const TTL: Duration = crate::authorize::PENDING_SIGN_IN_TTL;
}

impl Logout {
    /// Oldest logout token accepted (by its `iat`), in seconds.
    pub const MAX_TOKEN_AGE_SECS: u64 = crate::logout_token::MAX_LOGOUT_TOKEN_AGE_SECS;
}
