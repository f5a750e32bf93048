//! The web side of [Logto](https://logto.io) sign-in, free of any web framework, on
//! [`logto_client`]. Framework adapters (`logto-actix-web`, `logto-axum`) are thin glue over it:
//!
//! - [`LogtoWeb`]: the client, the routes' settings, the session store, and the flows —
//!   [`start_sign_in`](LogtoWeb::start_sign_in), [`finish_sign_in`](LogtoWeb::finish_sign_in),
//!   [`sign_out`](LogtoWeb::sign_out), [`backchannel_logout`](LogtoWeb::backchannel_logout) —
//!   each returning a plain decision: a [`Redirect`] or an [`AuthError`] with its status;
//! - [`SignedInUser`]: who is signed in on a request, with their cached and refreshed tokens;
//! - [`SessionEntries`]: what an adapter implements over its framework's session;
//! - [`SessionStore`]: where sessions live ([`CookieStore`], [`RedisStore`] with the `redis`
//!   feature, or a backend of your own), and what every instance must share (back-channel
//!   logouts, one refresh grant per session at a time);
//! - [`ProtectedApi`]: bearer-token checks for APIs, answered as RFC 6750 says ([`ApiError`]);
//! - [`util::safe_return_to`]: same-site paths only; counters through the `metrics` facade
//!   (their names in [`metrics`]); the limits every part agrees on in [`limits`].
//!
//! What glue for another framework must do is in this crate's README.

#![deny(missing_docs)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml) to mark feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bearer;
mod error;
mod flows;
mod keys;
pub mod limits;
mod log_limit;
mod logout;
mod return_to;
mod session;
mod session_cache;
mod signed_in;
mod store;
mod telemetry;
mod user;
mod web;

pub use bearer::{ApiError, ApiRefusal, NoScopes, OrganizationPolicy, ProtectedApi, RequireScopes, ScopeSet};
pub use error::{AuthError, AuthErrorKind, LogHint, StoreError};
pub use flows::Redirect;
pub use keys::UNAVAILABLE;
// The crate's own log lines name users through it.
pub(crate) use log_limit::log_safe;
pub use session::{LogtoSession, SessionEntries, id_token_cookie_name, session_cookie_name};
pub use session_cache::{DecodedSessions, SentCookie, sent_cookie};
pub use signed_in::SignedInUser;
pub use store::{CookieStore, SessionState, SessionStore, StoreFuture};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::{DEFAULT_REDIS_TIMEOUT, RedisMode, RedisStore, RedisTarget};
pub use telemetry::names as metrics;
pub use user::SessionUser;
pub use web::{LogtoWeb, LogtoWebBuilder};

/// Small helpers the framework glue and apps share: return paths, parameters, log-safe text and
/// error chains.
pub mod util {
    pub use crate::error::chain as error_chain;
    pub use crate::log_limit::log_safe;
    pub use crate::return_to::{first_param, safe_return_to};
}
