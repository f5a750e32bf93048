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
//! - [`safe_return_to`]: same-site paths only; counters through the `metrics` facade
//!   ([`metric_names`]).
//!
//! What glue for another framework must do is in this crate's README.

#![deny(missing_docs)]

mod bearer;
mod error;
mod flows;
mod keys;
mod limits;
mod log_limit;
mod logout;
mod return_to;
mod session;
mod signed_in;
mod store;
mod telemetry;
mod user;
mod web;

pub use bearer::{ApiError, ApiRefusal, NoScopes, ProtectedApi, RequireScopes, ScopeSet};
pub use error::{AuthError, AuthErrorKind, FAILURE_LOG_INTERVAL, LogHint, StoreError, chain as error_chain};
pub use flows::Redirect;
pub use keys::UNAVAILABLE;
pub use limits::{DEFAULT_SESSION_MAX_AGE, DEFAULT_USERINFO_MAX_AGE, SESSION_BUDGET};
pub use log_limit::log_safe;
pub use return_to::{first_param, safe_return_to};
pub use session::{LogtoSession, SessionEntries};
pub use signed_in::SignedInUser;
pub use store::{CookieStore, SessionState, SessionStore, StoreFuture};
#[cfg(feature = "redis")]
pub use store::{DEFAULT_REDIS_TIMEOUT, RedisMode, RedisStore, RedisTarget};
pub use telemetry::names as metric_names;
pub use user::SessionUser;
pub use web::{LogtoWeb, LogtoWebBuilder};
