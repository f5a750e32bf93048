//! A [Logto](https://logto.io) client for server-side ("traditional") web apps, free of any web
//! framework: it starts sign-ins (PKCE S256, `state`, `nonce`), finishes them from the callback
//! (every check, `state` and `iss` included), verifies ID and back-channel logout tokens against
//! Logto's keys, reads userinfo, refreshes access tokens per audience (one refresh grant at a
//! time per session), revokes refresh tokens and builds the end-session URL. For an API, it
//! verifies the access tokens Logto issues for it ([`LogtoClient::verify_access_token`]).
//!
//! Discovery and the keys are fetched lazily and cached, so an app starts (and serves its other
//! pages) while Logto is unreachable, and recovers by itself when Logto is back.
//!
//! ```no_run
//! use logto_client::{CallbackParams, ClientSecret, LogtoClient, LogtoConfig, SignInOptions, Url};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = LogtoConfig::builder(
//!     Url::parse("https://abc123.logto.app")?,
//!     "my-app-id",
//!     ClientSecret::new("my-app-secret"),
//!     Url::parse("https://app.example.com/callback")?,
//! )
//! .build();
//! let client = LogtoClient::new(config)?;
//!
//! // Sign-in: send the browser to `request.url`; keep `request.pending` in the session.
//! let request = client.sign_in(&SignInOptions::sign_in()).await?;
//! let pending = request.pending;
//!
//! // Callback: the query string Logto sent the browser back with.
//! let params = CallbackParams::parse("code=...&state=...&iss=...")?;
//! let signed_in = client.finish_sign_in(&params, &pending).await?;
//! println!("signed in: {}", signed_in.id_token.sub);
//! # Ok(())
//! # }
//! ```
//!
//! Every future the client returns is `Send`, so its calls work in axum handlers and in spawned
//! tasks (the client itself is `Send + Sync`; share it in an `Arc`):
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use logto_client::{Audience, LogtoClient, RefreshToken};
//!
//! # async fn example(client: Arc<LogtoClient>, refresh_token: RefreshToken) -> Result<(), Box<dyn std::error::Error>> {
//! let task = tokio::spawn({
//!     let client = client.clone();
//!     async move { client.refresh(&refresh_token, &Audience::Userinfo, "user-id").await }
//! });
//! let refreshed = task.await??;
//! println!("valid until {}", refreshed.access_token.expires_at);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml) to mark feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod access_token;
mod audience;
mod authorize;
mod callback;
mod client;
mod clock;
mod config;
mod discovery;
mod end_session;
mod error;
mod http;
mod id_token;
mod jwks;
mod jwt;
mod limits;
mod logout_token;
mod oauth;
mod refresh;
mod refresh_coordinator;
mod revocation;
mod secret;
mod signed_claims;
mod signing_keys;
mod telemetry;
mod token_endpoint;
mod tokens;
mod user_claims;
mod userinfo;
mod verified_cache;

pub use access_token::{AccessTokenRequirements, OrganizationRequirement, VerifiedAccessToken};
pub use audience::Audience;
pub use authorize::{AuthorizationRequest, DirectSignIn, FirstScreen, Identifier, PendingSignIn, SignInOptions};
pub use callback::{CallbackParams, PendingSignIns, SignedIn};
pub use client::LogtoClient;
pub use clock::{Clock, SystemClock};
pub use config::{LogtoConfig, LogtoConfigBuilder, Prompt};
pub use discovery::ProviderMetadata;
pub use error::{CallbackError, Endpoint, LogtoError, SignInError, SignInOptionError, TokenError, TokenKind};
pub use id_token::IdTokenClaims;
pub use logout_token::Logout;
pub use secret::{AccessToken, ClientSecret, IdToken, Nonce, PkceVerifier, RefreshToken, State};
pub use tokens::{AccessTokenClaims, IssuedAccessToken, Refreshed};
pub use url::Url;
pub use userinfo::{
    Identity, IdentityDetails, OrganizationData, OrganizationMembership, OrganizationRole, SocialIdentity, UserInfo,
};

/// Names of the metrics the client records through the `metrics` facade (nothing is recorded
/// unless the app installs a recorder).
pub mod metrics {
    pub use crate::telemetry::{ACCESS_TOKEN_SIGNATURES, LOGTO_REQUEST_DURATION, LOGTO_REQUESTS, REFRESH_GRANTS};
}

/// Logto's protocol values: scopes, resources, audiences, parameters and events it defines.
pub mod protocol {
    pub use crate::audience::ORGANIZATION_AUDIENCE_PREFIX;
    pub use crate::authorize::RESERVED_PARAMETERS;
    pub use crate::config::{BASE_SCOPES, ORGANIZATIONS_RESOURCE, ORGANIZATIONS_SCOPE};
    pub use crate::logout_token::BACKCHANNEL_LOGOUT_EVENT;
    pub use crate::userinfo::HUGGING_FACE;
}

/// Small helpers the web crates share: header parsing, comparisons, URL and expiry checks.
pub mod util {
    pub use crate::access_token::bearer_token;
    pub use crate::secret::constant_time_eq;
    pub use crate::tokens::needs_refresh;
    pub use crate::userinfo::is_https_url;
}

/// The README's example, compiled with the doc tests so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
