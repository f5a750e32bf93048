//! Sign-in with [Logto](https://logto.io) for [actix-web](https://actix.rs), on
//! [`logto_client`]: mount the sign-in, callback, sign-out and back-channel logout routes with
//! one `configure` call, then take [`SignedInUser`] (or [`OptionalUser`]) in your handlers.
//! An API takes Logto's access tokens instead: put a [`ProtectedApi`] on its scope and take
//! [`BearerToken`] in its handlers.
//!
//! The session lives in [actix-session](https://docs.rs/actix-session): wrap the app in a
//! `SessionMiddleware` (cookie or Redis store) — [`session_middleware`] builds one with the
//! settings sign-in needs.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web, cookie::Key};
//! use actix_session::storage::CookieSessionStore;
//! use logto_actix_web::{LogtoAuth, OptionalUser, SignedInUser, session_middleware};
//! use logto_client::{ClientSecret, LogtoClient, LogtoConfig, Url};
//!
//! async fn home(user: OptionalUser) -> String {
//!     match user.0 {
//!         Some(signed_in) => format!("Hello, {}", signed_in.user.display_name()),
//!         None => "Hello, stranger: /sign-in".to_owned(),
//!     }
//! }
//!
//! async fn profile(user: SignedInUser) -> String {
//!     format!("You are {}", user.user.sub)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = LogtoConfig::new(
//!     Url::parse("https://abc123.logto.app")?,
//!     "my-app-id",
//!     ClientSecret::new("my-app-secret"),
//!     Url::parse("http://localhost:3000/callback")?,
//! );
//! config.post_sign_out_redirect_uri = Some(Url::parse("http://localhost:3000/")?);
//! let auth = LogtoAuth::builder(LogtoClient::new(config)?).build();
//! let key = Key::generate(); // in production: the same key on every instance, from a secret
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(session_middleware(CookieSessionStore::default(), key.clone(), false))
//!         .configure(auth.configure())
//!         .route("/", web::get().to(home))
//!         .route("/profile", web::get().to(profile))
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod access;
mod auth;
mod bearer;
mod error;
mod extract;
mod handlers;
mod log_limit;
mod logout;
mod middleware;
#[cfg(feature = "redis")]
mod redis_store;
mod return_to;
mod routes;
mod session;
mod telemetry;
mod user;

pub use auth::{DEFAULT_SESSION_MAX_AGE, LogtoAuth, LogtoAuthBuilder};
pub use bearer::{ApiError, ApiRefusal, ApiResponse, BearerToken, NoScopes, ProtectedApi, RequireScopes, ScopeSet};
pub use error::{AuthError, AuthErrorKind, FAILURE_LOG_INTERVAL, LogHint, StoreError, chain as error_chain};
pub use extract::{OptionalUser, SignedInUser};
pub use log_limit::{Admit, LogLimiter, log_safe, suppressed_note};
pub use middleware::{SESSION_TTL_DAYS, session_cookie_name, session_middleware};
#[cfg(feature = "redis")]
pub use redis_store::{DEFAULT_REDIS_TIMEOUT, RedisStore};
pub use return_to::{first_param, safe_return_to};
pub use session::SESSION_BUDGET;
pub use telemetry::{AUTH_FAILURES, BACKCHANNEL_LOGOUTS, SESSION_STORE_ERRORS, SIGN_INS_FINISHED, SIGN_INS_STARTED};
pub use user::SessionUser;

/// The README's example, compiled with the doc tests so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
