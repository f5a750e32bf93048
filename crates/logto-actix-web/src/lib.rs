//! Sign-in with [Logto](https://logto.io) for [actix-web](https://actix.rs): thin glue over the
//! framework-free web core [`logto_web`] and the client [`logto_client`], both re-exported, so
//! this one dependency is enough. Mount the sign-in, callback, sign-out and back-channel logout
//! routes with one `configure` call, then take [`SignedInUser`] (or [`OptionalUser`]) in your
//! handlers. An API takes Logto's access tokens instead: put a [`ProtectedApi`] on its scope
//! and take [`BearerToken`] in its handlers.
//!
//! The session lives in [actix-session](https://docs.rs/actix-session) over one of the core's
//! stores ([`CookieStore`], or `RedisStore` with the `redis` feature):
//! [`LogtoAuth::session_middleware`] builds the middleware with the settings sign-in needs.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web, cookie::Key};
//! use logto_actix_web::{ClientSecret, LogtoAuth, LogtoClient, LogtoConfig, OptionalUser, SignedInUser, Url};
//!
//! async fn home(user: OptionalUser) -> String {
//!     match user.0 {
//!         Some(signed_in) => format!("Hello, {}", signed_in.user.display_name()),
//!         None => "Hello, stranger: /sign-in".to_owned(),
//!     }
//! }
//!
//! async fn profile(user: SignedInUser) -> String {
//!     format!("You are {}", user.user.display_name())
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
//! let auth = LogtoAuth::builder(LogtoClient::new(config)?).build();
//! let key = Key::generate(); // in production: the same key on every instance, from a secret
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(auth.session_middleware(key.clone(), false))
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
// docs.rs builds with `--cfg docsrs` (Cargo.toml) to mark feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod bearer;
mod error;
mod extract;
mod handlers;
mod id_token_cookie;
mod middleware;
mod routes;
mod session;

pub use auth::{LogtoAuth, LogtoAuthBuilder};
pub use bearer::BearerToken;
pub use error::{ApiErrorResponse, ApiResponse, AuthErrorResponse};
pub use extract::{OptionalUser, SignedInUser};
pub use handlers::see_other;
pub use middleware::{
    IdTokenCookieFuture, IdTokenCookieService, LogtoSessionMiddleware, id_token_cookie_name, session_cookie_name,
    session_middleware,
};
pub use routes::get_or_head;
pub use session::{ActixSession, ActixStore};

pub use logto_client::{
    self, Audience, ClientSecret, DirectSignIn, LogtoClient, LogtoConfig, LogtoError, SignInOptions, Url,
};
pub use logto_web::{
    self, ApiError, AuthError, AuthErrorKind, CookieStore, NoScopes, OrganizationPolicy, ProtectedApi, RequireScopes,
    ScopeSet, SessionStore, SessionUser, util,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use logto_web::{DEFAULT_REDIS_TIMEOUT, RedisMode, RedisStore, RedisTarget};

/// The README's example, compiled with the doc tests so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
