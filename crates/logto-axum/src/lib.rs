//! Sign-in with [Logto](https://logto.io) for [axum](https://docs.rs/axum): thin glue over the
//! framework-free web core [`logto_web`] and the client [`logto_client`], both re-exported, so
//! this one dependency (and axum) is enough.
//!
//! - [`LogtoAxum::router`]: the sign-in, sign-up, Hugging Face, callback, sign-out and
//!   back-channel logout routes, as configured on the core's [`LogtoWeb`];
//! - [`LogtoAxum::session_layer`]: each request's session in an encrypted cookie (the whole
//!   state, or a Redis session's id), over the core's [`SessionStore`];
//! - extractors [`SignedInUser`], [`OptionalUser`] (also `Option<SignedInUser>`) and
//!   [`BearerToken`]; errors answered as [`AuthRejection`] and [`ApiRejection`].
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use logto_axum::{ClientSecret, Key, LogtoAxum, LogtoClient, LogtoConfig, LogtoWeb, SignedInUser, Url};
//!
//! async fn home(user: Option<SignedInUser>) -> String {
//!     match user {
//!         Some(signed_in) => format!("Hello, {}", signed_in.user.display_name()),
//!         None => "Hello, stranger: /sign-in".to_owned(),
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = LogtoConfig::builder(
//!     Url::parse("https://abc123.logto.app")?,
//!     "my-app-id",
//!     ClientSecret::new("my-app-secret"),
//!     Url::parse("http://localhost:3000/callback")?,
//! )
//! .post_sign_out_redirect_uri(Url::parse("http://localhost:3000/")?)
//! .build();
//! let web = LogtoWeb::builder(LogtoClient::new(config)?).build();
//! // In production: the same key on every instance, derived from a secret.
//! let logto = LogtoAxum::new(web, Key::generate(), false);
//! let app = Router::new()
//!     .route("/", get(home))
//!     .merge(logto.router())
//!     .layer(logto.session_layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml) to mark feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bearer;
mod error;
mod extract;
mod logto;
mod router;
mod session;

pub use bearer::BearerToken;
pub use error::{ApiRejection, ApiResponse, AuthRejection, see_other};
pub use extract::{OptionalUser, SignedInUser};
pub use logto::LogtoAxum;
pub use session::{AxumSession, SessionLayer, SessionService};

pub use cookie::Key;
pub use logto_client::{
    self, Audience, ClientSecret, DirectSignIn, LogtoClient, LogtoConfig, LogtoError, SignInOptions, Url,
};
pub use logto_web::{
    self, ApiError, AuthError, AuthErrorKind, CookieStore, LogtoWeb, LogtoWebBuilder, NoScopes, OrganizationPolicy,
    ProtectedApi, RequireScopes, ScopeSet, SessionStore, SessionUser, util,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use logto_web::{DEFAULT_REDIS_TIMEOUT, RedisMode, RedisStore, RedisTarget};

/// The README's example, compiled with the doc tests so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
