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
mod clock;
mod config;
mod discovery;
mod error;
mod http;
mod id_token;
mod jwks;
mod jwt;
mod limits;
mod logout_token;
mod refresh;
mod secret;
mod telemetry;
mod tokens;
mod userinfo;
mod verified_cache;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

pub use access_token::{AccessTokenRequirements, OrganizationRequirement, VerifiedAccessToken};
pub use audience::Audience;
pub use authorize::{
    AuthorizationRequest, DirectSignIn, FirstScreen, Identifier, PendingSignIn, PendingSignIns, SignInOptions,
};
pub use callback::CallbackParams;
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

use http::{BodyError, BoundedHttp, read_body};
use jwks::{JwksCache, KeyLookup};
use refresh::RefreshCoordinator;
use telemetry::SignatureSource;
use verified_cache::VerifiedCache;

/// Lifetime assumed for an access token whose response gives none.
const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Tokens and verified identity from a finished sign-in.
#[non_exhaustive]
pub struct SignedIn {
    /// The verified ID token claims.
    pub id_token: IdTokenClaims,
    /// The ID token as Logto signed it, for the session to keep: sign-out sends it as
    /// `id_token_hint` ([`LogtoClient::end_session_url_for`]) so that Logto ends the right session
    /// without asking.
    pub raw_id_token: IdToken,
    /// Userinfo, whose `sub` equals the ID token's.
    pub userinfo: UserInfo,
    /// The access token for userinfo.
    pub access_token: IssuedAccessToken,
    /// Refresh token (present with `offline_access` and `prompt=consent`).
    pub refresh_token: Option<RefreshToken>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("sub", &self.id_token.sub)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer: the standard fields plus the ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogtoTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for LogtoTokenFields {}

type LogtoTokenResponse = StandardTokenResponse<LogtoTokenFields, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    LogtoTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The Logto client. Build it once per process and share it (it is `Send + Sync`).
pub struct LogtoClient {
    config: LogtoConfig,
    issuer: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    metadata: RwLock<Option<Arc<ProviderMetadata>>>,
    /// The last failed discovery, answered until [`LogtoClient::RETRY_AFTER_FAILURE`] has passed.
    discovery_failure: std::sync::Mutex<Option<(std::time::Instant, LogtoError)>>,
    /// The OAuth client and the metadata it was built from: building one parses the
    /// authorization, token and redirect URLs, a fifth of a sign-in redirect's cost.
    oauth: std::sync::Mutex<Option<(Arc<ProviderMetadata>, Arc<OAuthClient>)>>,
    jwks: JwksCache,
    /// Access tokens whose signature checked out, so an API skips it for a token seen before.
    verified: VerifiedCache,
    refreshes: RefreshCoordinator,
}

impl LogtoClient {
    /// Builds a client with its own HTTP client (redirects off, the configured timeout) and the
    /// system clock. Nothing is fetched until it is needed.
    pub fn new(config: LogtoConfig) -> Result<Self, LogtoError> {
        let http = reqwest::Client::builder()
            // Token calls must never follow a redirect (the code or secret could be replayed elsewhere).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("logto-client-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LogtoError::HttpClient(Arc::new(e)))?;
        Ok(Self::with_http_client(config, http))
    }

    /// Builds a client on an HTTP client of the caller's. It must not follow redirects, and should
    /// have a timeout.
    pub fn with_http_client(config: LogtoConfig, http: reqwest::Client) -> Self {
        Self {
            issuer: config.issuer(),
            config,
            http,
            clock: Arc::new(SystemClock),
            metadata: RwLock::new(None),
            discovery_failure: std::sync::Mutex::new(None),
            oauth: std::sync::Mutex::new(None),
            jwks: JwksCache::default(),
            verified: VerifiedCache::new(Self::ACCESS_TOKEN_CACHE_CAPACITY),
            refreshes: RefreshCoordinator::default(),
        }
    }

    /// The same client, reading the time from `clock` (tests move it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.jwks = JwksCache::new(clock.clone());
        self.clock = clock;
        self
    }

    /// The same client, keeping at most `capacity` verified access tokens (default
    /// [`LogtoClient::ACCESS_TOKEN_CACHE_CAPACITY`]; 0 verifies every token's signature every time).
    /// See [`LogtoClient::verify_access_token`].
    pub fn with_access_token_cache(mut self, capacity: usize) -> Self {
        self.verified = VerifiedCache::new(capacity);
        self
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &LogtoConfig {
        &self.config
    }

    /// The issuer, `{endpoint}/oidc`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Now, by the client's clock, in seconds since the epoch.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Whether organizations were requested at sign-in.
    pub fn organizations_enabled(&self) -> bool {
        self.config.organizations_enabled()
    }

    /// Logto's metadata, fetched on first use and cached. One fetch at a time; a failed fetch
    /// is answered for [`LogtoClient::RETRY_AFTER_FAILURE`] without asking Logto again, then retried, so the
    /// client recovers by itself once Logto is back without a Logto that is down being asked on
    /// every request.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, LogtoError> {
        if let Some(metadata) = self.metadata.read().await.as_ref() {
            return Ok(metadata.clone());
        }
        let mut slot = self.metadata.write().await;
        if let Some(metadata) = slot.as_ref() {
            return Ok(metadata.clone());
        }
        if let Some((at, error)) = self.discovery_failure().as_ref()
            && at.elapsed() < Self::RETRY_AFTER_FAILURE
        {
            return Err(error.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let fetched = async {
            let body = self.get_json(Endpoint::Discovery, &url, None).await?;
            ProviderMetadata::parse(&body, &self.issuer)
                .map_err(|detail| LogtoError::InvalidResponse {
                    endpoint: Endpoint::Discovery,
                    detail: format!("{detail} (from {url})"),
                })
                .map(Arc::new)
        }
        .await;
        match fetched {
            Ok(metadata) => {
                *self.discovery_failure() = None;
                *slot = Some(metadata.clone());
                Ok(metadata)
            }
            Err(error) => {
                *self.discovery_failure() = Some((std::time::Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    fn discovery_failure(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, LogtoError)>> {
        self.discovery_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logto's metadata if it has been fetched already; never fetches (e.g. for a readiness probe).
    pub async fn cached_metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.metadata.read().await.clone()
    }

    /// Fetches Logto's signing keys afresh (the cache is left alone) and counts those a token
    /// could be verified with: a key type and algorithm this client accepts. For start-up checks.
    pub async fn load_keys(&self) -> Result<usize, LogtoError> {
        let metadata = self.metadata().await?;
        let set = self.fetch_jwks(&metadata.jwks_uri).await?;
        let algorithms = jwt::allowed_algorithms(&metadata.id_token_signing_alg_values_supported);
        let usable = set
            .keys
            .iter()
            .filter(|key| algorithms.iter().any(|alg| jwt::key_fits(key, *alg)))
            .count();
        Ok(usable)
    }

    /// Checks that Logto accepts this app's client credentials, without any user's token: it
    /// asks to revoke a token that does not exist, with client authentication. Logto answers
    /// success for an unknown token (RFC 7009) and `invalid_client` for a wrong id or secret.
    pub async fn check_credentials(&self) -> Result<(), LogtoError> {
        self.post_revocation("credentials-check-not-a-token", "refresh_token")
            .await
    }

    /// Starts a sign-in: PKCE (S256), a random `state` and `nonce`, the configured `prompt` (or
    /// this sign-in's), every scope and resource, and the options of this sign-in, checked first
    /// ([`SignInOptions::check`]: an unfit one is [`LogtoError::InvalidSignInOptions`], and
    /// nothing is sent). Send the browser to the URL; keep the pending sign-in (never in clear in
    /// the browser) until the callback.
    pub async fn sign_in(&self, options: &SignInOptions) -> Result<AuthorizationRequest, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(pkce_challenge)
            .add_scopes(self.config.all_scopes().into_iter().map(Scope::new))
            .add_extra_param("nonce", nonce.secret().clone());
        let prompt = if options.prompt.is_empty() {
            self.config.prompt.map(|prompt| prompt.as_str().to_owned())
        } else {
            Some(options.prompt.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" "))
        };
        if let Some(prompt) = prompt {
            request = request.add_extra_param("prompt", prompt);
        }
        for resource in self.config.sign_in_resources() {
            request = request.add_extra_param("resource", resource);
        }
        // Only valid values are sent (the types and `parameters` see to it): one invalid Logto
        // parameter makes Logto ignore them all.
        for (name, value) in options.parameters()? {
            request = request.add_extra_param(name, value);
        }
        for (name, value) in options.extra() {
            request = request.add_extra_param(name.to_owned(), value.to_owned());
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url,
            pending: PendingSignIn {
                state: State::new(state.secret().clone()),
                pkce_verifier: PkceVerifier::new(pkce_verifier.secret().clone()),
                nonce: Nonce::new(nonce.secret().clone()),
                started_at: self.now(),
                return_to: None,
                way_in: None,
                max_age: options.max_age,
            },
        })
    }

    /// Finishes a sign-in from its callback: the `state` must be this pending sign-in's, the
    /// sign-in not older than [`PendingSignIn::TTL`], `iss` Logto's (RFC 9207 mix-up defence),
    /// and no OAuth error; then the code is exchanged (client_secret_basic, PKCE), the ID token
    /// verified (nonce included; `auth_time` against `max_age` when the sign-in asked for one:
    /// [`TokenError::AuthenticationTooOld`], or [`TokenError::MissingClaim`]) and userinfo read,
    /// whose `sub` must match.
    pub async fn finish_sign_in(
        &self,
        params: &CallbackParams,
        pending: &PendingSignIn,
    ) -> Result<SignedIn, SignInError> {
        let code = self.check_callback(params, pending).await?;
        Ok(self.exchange_code(code, pending).await?)
    }

    /// The checks made before anything is sent to Logto; returns the code.
    async fn check_callback<'p>(
        &self,
        params: &'p CallbackParams,
        pending: &PendingSignIn,
    ) -> Result<&'p str, SignInError> {
        let state = params.state.as_deref().ok_or(CallbackError::MissingState)?;
        if !pending.state.matches_str(state) {
            return Err(CallbackError::UnknownState.into());
        }
        if self.now().saturating_sub(pending.started_at) > PendingSignIn::TTL.as_secs() {
            return Err(CallbackError::Expired.into());
        }
        match &params.iss {
            Some(iss) if iss != &self.issuer => return Err(CallbackError::IssuerMismatch.into()),
            Some(_) => {}
            // Without `iss`, trust the response only if Logto does not promise to send it.
            None => {
                if self.metadata().await?.authorization_response_iss_parameter_supported {
                    return Err(CallbackError::IssuerMismatch.into());
                }
            }
        }
        if let Some(error) = &params.error {
            return Err(CallbackError::Denied {
                error: error.clone(),
                description: params.error_description.clone(),
            }
            .into());
        }
        Ok(params.code.as_deref().ok_or(CallbackError::MissingCode)?)
    }

    async fn exchange_code(&self, code: &str, pending: &PendingSignIn) -> Result<SignedIn, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let started = Instant::now();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.secret().to_owned()))
            .request_async(&BoundedHttp(&self.http))
            .await;
        let response = token_answer(&metadata.token_endpoint, started, response)?;
        let id_token = response
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or_else(|| LogtoError::InvalidResponse {
                endpoint: Endpoint::Token,
                detail: "no ID token in the code exchange's answer".into(),
            })?;
        let claims = self
            .verify_id_token_with(&metadata, id_token, Some(pending.nonce.secret()))
            .await?;
        if let Some(max_age) = pending.max_age {
            check_auth_time(&claims, max_age, self.now())?;
        }
        let access_token = self.issued_access_token(&response);
        let userinfo = self.fetch_userinfo(&access_token.token, &claims.sub).await?;
        Ok(SignedIn {
            raw_id_token: IdToken::new(id_token),
            id_token: claims,
            userinfo,
            access_token,
            refresh_token: response.refresh_token().map(|t| RefreshToken::new(t.secret().clone())),
        })
    }

    /// Verifies an ID token from Logto: allowed algorithm, key from the JWKS, signature, `iss`,
    /// `aud`, `azp`, `exp`, `iat`, and the `nonce` when one is given.
    pub async fn verify_id_token(&self, token: &IdToken, nonce: Option<&Nonce>) -> Result<IdTokenClaims, LogtoError> {
        let metadata = self.metadata().await?;
        self.verify_id_token_with(&metadata, token.secret(), nonce.map(Nonce::secret))
            .await
    }

    async fn verify_id_token_with(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<IdTokenClaims, LogtoError> {
        let kind = TokenKind::IdToken;
        let (header, key) = self.signing_key(metadata, token, kind).await?;
        let expected = id_token::Expected {
            issuer: &self.issuer,
            client_id: &self.config.app_id,
            nonce,
            now: self.now(),
        };
        id_token::verify(token, &header, &key, &expected).map_err(|reason| LogtoError::invalid_token(kind, reason))
    }

    /// The header of a token signed by Logto (its algorithm allowed) and the JWKS key it names.
    async fn signing_key(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
        kind: TokenKind,
    ) -> Result<(jwt::TokenHeader, jwks::Jwk), LogtoError> {
        let algorithms = jwt::allowed_algorithms(&metadata.id_token_signing_alg_values_supported);
        let header = jwt::read_header(token, &algorithms).map_err(|reason| LogtoError::invalid_token(kind, reason))?;
        let lookup = match header.kid.as_deref() {
            Some(kid) => KeyLookup::Kid(kid),
            None => KeyLookup::OnlyKey,
        };
        let key = self
            .jwks
            .find(lookup, kind, self.fetch_jwks(&metadata.jwks_uri))
            .await?;
        Ok((header, key))
    }

    /// Verifies a back-channel logout token from Logto and says who signed out.
    pub async fn verify_logout_token(&self, token: &str) -> Result<Logout, LogtoError> {
        let kind = TokenKind::LogoutToken;
        let metadata = self.metadata().await?;
        let (header, key) = self.signing_key(&metadata, token, kind).await?;
        logout_token::verify(token, &header, &key, &self.issuer, &self.config.app_id, self.now())
            .map_err(|reason| LogtoError::invalid_token(kind, reason))
    }

    /// Verifies an access token presented to an API (a JWT, RFC 9068), for code outside any web
    /// framework: allowed algorithm and the key from the JWKS (the same cache as ID tokens),
    /// signature, `typ` `at+jwt` when present, `iss`, `aud` the required resource (or an
    /// organization, where `required` accepts one), `exp`, `nbf`, `iat`, `client_id`, `sub`,
    /// and every required scope. A token lacking a scope is refused with
    /// [`TokenError::InsufficientScope`] (see [`LogtoError::is_insufficient_scope`]).
    ///
    /// A token whose signature checked out is remembered (by its SHA-256, in a bounded cache, see
    /// [`LogtoClient::with_access_token_cache`]) until it expires or its key leaves Logto's key
    /// set, so the same token presented again skips the signature; every other check above runs
    /// on every call. A token with a bad signature is never remembered.
    pub async fn verify_access_token(
        &self,
        token: &str,
        required: &AccessTokenRequirements<'_>,
    ) -> Result<VerifiedAccessToken, LogtoError> {
        let kind = TokenKind::AccessToken;
        let refused = |reason| LogtoError::invalid_token(kind, reason);
        let now = self.now();
        let hash = self.verified.enabled().then(|| verified_cache::token_hash(token));
        if let Some(hash) = &hash
            && let Some(claims) = self.verified.get(hash, now, |kid| self.jwks.trusts_key(kid))
        {
            telemetry::record_access_token_signature(SignatureSource::Cache);
            return access_token::check(&claims, required, now).map_err(refused);
        }
        let metadata = self.metadata().await?;
        let (header, key) = self.signing_key(&metadata, token, kind).await?;
        let signed = access_token::verify_signature(token, &header, &key, &self.issuer);
        telemetry::record_access_token_signature(SignatureSource::Checked);
        let claims = Arc::new(signed.map_err(refused)?);
        // A token without `kid` was checked against the set's only key: there is no name to
        // find that key by later, so it is not kept.
        if let (Some(hash), Some(kid)) = (hash, header.kid.as_deref()) {
            self.verified.insert(hash, kid, claims.clone(), now);
        }
        access_token::check(&claims, required, now).map_err(refused)
    }

    /// Reads userinfo with an access token, and checks it describes `expected_sub`.
    pub async fn fetch_userinfo(&self, access_token: &AccessToken, expected_sub: &str) -> Result<UserInfo, LogtoError> {
        let metadata = self.metadata().await?;
        let body = self
            .get_json(Endpoint::Userinfo, &metadata.userinfo_endpoint, Some(access_token))
            .await?;
        let userinfo: UserInfo = serde_json::from_slice(&body).map_err(|e| LogtoError::InvalidResponse {
            endpoint: Endpoint::Userinfo,
            detail: format!("not a userinfo document: {e}"),
        })?;
        if userinfo.sub != expected_sub {
            return Err(LogtoError::SubjectMismatch);
        }
        Ok(userinfo)
    }

    /// A fresh access token for `audience` from the refresh token, with the rotated refresh token
    /// and the new ID token (verified; its `sub` must be `sub`). Concurrent calls for one session
    /// within this process send one grant and share its result, and a call still carrying a
    /// refresh token that was just rotated presents the new one. An audience not requested at
    /// sign-in is refused before any request.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        self.check_requested(audience)?;
        self.refreshes
            .refresh(refresh_token, audience, self.now(), |current| async move {
                self.grant(&current, audience, sub).await
            })
            .await
    }

    /// One refresh grant, without the in-process single flight of [`LogtoClient::refresh`]: for a
    /// coordinator outside this process (e.g. a lock in a store shared by several instances),
    /// which must then make sure that one session sends one grant at a time, and that a rotated
    /// refresh token is never presented again (Logto would revoke the whole grant). Checks like
    /// [`LogtoClient::refresh`]: the audience must have been requested at sign-in, the new ID
    /// token is verified and must be about `sub`.
    pub async fn refresh_grant(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        self.check_requested(audience)?;
        self.grant(refresh_token, audience, sub).await
    }

    fn check_requested(&self, audience: &Audience) -> Result<(), LogtoError> {
        match audience {
            Audience::Userinfo => Ok(()),
            Audience::Resource(resource) if self.config.resources.contains(resource) => Ok(()),
            Audience::Organization(_) if self.organizations_enabled() => Ok(()),
            Audience::OrganizationResource { resource, .. }
                if self.organizations_enabled() && self.config.resources.contains(resource) =>
            {
                Ok(())
            }
            other => Err(LogtoError::NotRequested(other.key())),
        }
    }

    async fn grant(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        let result = self.send_refresh_grant(refresh_token, audience, sub).await;
        telemetry::record_refresh(&result);
        result
    }

    async fn send_refresh_grant(
        &self,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let presented = oauth2::RefreshToken::new(refresh_token.secret().to_owned());
        let mut request = client.exchange_refresh_token(&presented);
        request = match audience {
            Audience::Userinfo => request,
            Audience::Resource(resource) => request.add_extra_param("resource", resource.clone()),
            Audience::Organization(id) => request.add_extra_param("organization_id", id.clone()),
            Audience::OrganizationResource {
                resource,
                organization_id,
            } => request
                .add_extra_param("resource", resource.clone())
                .add_extra_param("organization_id", organization_id.clone()),
        };
        let started = Instant::now();
        let response = request.request_async(&BoundedHttp(&self.http)).await;
        let response = token_answer(&metadata.token_endpoint, started, response)?;
        let (id_token, raw_id_token) = match response.extra_fields().id_token.as_deref() {
            Some(token) => {
                let claims = self.verify_id_token_with(&metadata, token, None).await?;
                if claims.sub != sub {
                    return Err(LogtoError::SubjectMismatch);
                }
                (Some(claims), Some(IdToken::new(token)))
            }
            None => (None, None),
        };
        Ok(Refreshed {
            access_token: self.issued_access_token(&response),
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone()))
                .unwrap_or_else(|| refresh_token.clone()),
            id_token,
            raw_id_token,
        })
    }

    fn issued_access_token(&self, response: &LogtoTokenResponse) -> IssuedAccessToken {
        let lifetime = response.expires_in().unwrap_or(DEFAULT_ACCESS_TOKEN_LIFETIME).as_secs();
        let obtained_at = self.now();
        IssuedAccessToken {
            token: AccessToken::new(response.access_token().secret().clone()),
            obtained_at,
            expires_at: obtained_at + lifetime,
        }
    }

    /// Revokes a refresh token (client authentication included), so ending the Logto session
    /// also ends what this app could do on the user's behalf.
    ///
    /// Sent directly rather than through the oauth2 crate, which refuses http endpoints here and
    /// so would fail against a self-hosted Logto on a private network.
    pub async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), LogtoError> {
        self.post_revocation(refresh_token.secret(), "refresh_token").await
    }

    async fn post_revocation(&self, token: &str, token_type_hint: &str) -> Result<(), LogtoError> {
        let started = Instant::now();
        let result = self.send_revocation(token, token_type_hint).await;
        telemetry::record_call(Endpoint::Revocation, started, &result);
        result
    }

    async fn send_revocation(&self, token: &str, token_type_hint: &str) -> Result<(), LogtoError> {
        let endpoint = Endpoint::Revocation;
        let metadata = self.metadata().await?;
        let url = metadata
            .revocation_endpoint
            .as_deref()
            .ok_or_else(|| LogtoError::InvalidResponse {
                endpoint,
                detail: "Logto announces no revocation endpoint".into(),
            })?;
        // RFC 6749 2.3.1: the credentials are form-encoded before they go into Basic auth.
        let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let response = self
            .http
            .post(url)
            .basic_auth(
                encode(&self.config.app_id),
                Some(encode(self.config.app_secret.secret())),
            )
            .form(&[("token", token), ("token_type_hint", token_type_hint)])
            .send()
            .await
            .map_err(|e| unreachable(endpoint, url, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = read_body(response).await.unwrap_or_default();
        match serde_json::from_slice::<OAuthErrorBody>(&body) {
            Ok(body) => Err(LogtoError::Rejected {
                endpoint,
                code: body.error,
                description: body.error_description,
            }),
            Err(_) => Err(LogtoError::HttpStatus {
                endpoint,
                url: url.to_owned(),
                status: status.as_u16(),
            }),
        }
    }

    /// Where to send the browser to end the Logto session; it returns to the configured post
    /// sign-out redirect URI. `None` when Logto announces no end-session endpoint.
    pub async fn end_session_url(&self) -> Result<Option<Url>, LogtoError> {
        let metadata = self.metadata().await?;
        Ok(metadata.end_session_endpoint.as_deref().and_then(|endpoint| {
            let mut url = Url::parse(endpoint).ok()?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("client_id", &self.config.app_id);
                if let Some(uri) = &self.config.post_sign_out_redirect_uri {
                    query.append_pair("post_logout_redirect_uri", uri.as_str());
                }
            }
            Some(url)
        }))
    }

    /// Where to send the browser to end the Logto session of the user this ID token was issued
    /// to: the end-session URL with `id_token_hint` (the raw ID token the sign-in gave, see
    /// [`SignedIn::raw_id_token`]), `client_id` and the configured post sign-out redirect URI.
    /// With the hint, Logto ends that session without asking the user. The sign-in's ID token
    /// serves for as long as the session lives: Logto takes an expired one as a hint. `None` when
    /// Logto announces no end-session endpoint.
    ///
    /// The URL carries the ID token: redirect the browser to it, and never log it.
    pub async fn end_session_url_for(&self, id_token: &IdToken) -> Result<Option<Url>, LogtoError> {
        let url = self.end_session_url().await?;
        Ok(url.map(|mut url| {
            url.query_pairs_mut().append_pair("id_token_hint", id_token.secret());
            url
        }))
    }

    /// The OAuth client for `metadata`, built on first use and kept while the metadata is the
    /// same (the same `Arc`: metadata fetched again builds a new one).
    fn oauth_client(&self, metadata: &Arc<ProviderMetadata>) -> Result<Arc<OAuthClient>, LogtoError> {
        // Never held across an await; a poisoned lock only means a build panicked elsewhere.
        let mut kept = self.oauth.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((built_from, client)) = kept.as_ref()
            && Arc::ptr_eq(built_from, metadata)
        {
            return Ok(client.clone());
        }
        let client = Arc::new(self.build_oauth_client(metadata)?);
        *kept = Some((metadata.clone(), client.clone()));
        Ok(client)
    }

    fn build_oauth_client(&self, metadata: &ProviderMetadata) -> Result<OAuthClient, LogtoError> {
        let bad = |what: &str| LogtoError::InvalidResponse {
            endpoint: Endpoint::Discovery,
            detail: format!("unusable {what}"),
        };
        Ok(oauth2::Client::new(ClientId::new(self.config.app_id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(self.config.app_secret.secret().to_owned()))
            .set_auth_type(AuthType::BasicAuth)
            .set_auth_uri(
                AuthUrl::new(metadata.authorization_endpoint.clone()).map_err(|_| bad("authorization endpoint"))?,
            )
            .set_token_uri(TokenUrl::new(metadata.token_endpoint.clone()).map_err(|_| bad("token endpoint"))?)
            .set_redirect_uri(RedirectUrl::from_url(self.config.redirect_uri.clone())))
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<jwks::JwkSet, LogtoError> {
        let body = self.get_json(Endpoint::Jwks, jwks_uri, None).await?;
        serde_json::from_slice(&body).map_err(|e| LogtoError::InvalidResponse {
            endpoint: Endpoint::Jwks,
            detail: format!("not a JWK set: {e}"),
        })
    }

    /// GETs a JSON document, mapping every failure to a [`LogtoError`] free of secrets.
    async fn get_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, LogtoError> {
        let started = Instant::now();
        let result = self.send_get_json(endpoint, url, bearer).await;
        telemetry::record_call(endpoint, started, &result);
        result
    }

    async fn send_get_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, LogtoError> {
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token.secret());
        }
        let response = request.send().await.map_err(|e| unreachable(endpoint, url, e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED && bearer.is_some() {
            return Err(LogtoError::Rejected {
                endpoint,
                code: "invalid_token".into(),
                description: None,
            });
        }
        if !status.is_success() {
            return Err(LogtoError::HttpStatus {
                endpoint,
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        match read_body(response).await {
            Ok(body) => Ok(body),
            Err(BodyError::Transport(e)) => Err(unreachable(endpoint, url, e)),
            Err(BodyError::TooLarge) => Err(LogtoError::InvalidResponse {
                endpoint,
                detail: format!("{} (from {url})", http::TOO_LARGE),
            }),
        }
    }
}

/// Refuses an ID token whose `auth_time` is missing, or older than `max_age` (and the clock
/// leeway) at `now`: the sign-in asked for a recent authentication.
fn check_auth_time(claims: &IdTokenClaims, max_age: u64, now: u64) -> Result<(), LogtoError> {
    let kind = TokenKind::IdToken;
    let auth_time = claims
        .auth_time
        .ok_or(LogtoError::invalid_token(kind, TokenError::MissingClaim("auth_time")))?;
    if auth_time.saturating_add(max_age).saturating_add(jwt::CLOCK_LEEWAY_SECS) < now {
        return Err(LogtoError::invalid_token(kind, TokenError::AuthenticationTooOld));
    }
    Ok(())
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

fn unreachable(endpoint: Endpoint, url: &str, error: reqwest::Error) -> LogtoError {
    LogtoError::Unreachable {
        endpoint,
        url: url.to_owned(),
        source: Arc::new(error.without_url()),
    }
}

/// Only bearer tokens are used (RFC 6750): a token of another type would be sent wrongly.
fn check_token_type(response: &LogtoTokenResponse) -> Result<(), LogtoError> {
    match response.token_type() {
        BasicTokenType::Bearer => Ok(()),
        _ => Err(LogtoError::InvalidResponse {
            endpoint: Endpoint::Token,
            detail: "the token type is not Bearer".into(),
        }),
    }
}

/// A token endpoint's answer, timed and checked: an OAuth error or a failure as a [`LogtoError`],
/// and a token type other than Bearer refused.
fn token_answer(
    url: &str,
    started: Instant,
    answer: Result<LogtoTokenResponse, TokenRequestError>,
) -> Result<LogtoTokenResponse, LogtoError> {
    let response = answer.map_err(|e| token_error(url, e));
    telemetry::record_call(Endpoint::Token, started, &response);
    let response = response?;
    check_token_type(&response)?;
    Ok(response)
}

/// How a call to the token endpoint through the oauth2 crate fails.
type TokenRequestError = RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>;

fn token_error(url: &str, error: TokenRequestError) -> LogtoError {
    let endpoint = Endpoint::Token;
    match error {
        RequestTokenError::ServerResponse(err) => LogtoError::Rejected {
            endpoint,
            code: err.error().to_string(),
            description: err.error_description().cloned(),
        },
        RequestTokenError::Request(oauth2::HttpClientError::Reqwest(e)) => unreachable(endpoint, url, *e),
        RequestTokenError::Request(oauth2::HttpClientError::Other(detail)) => {
            LogtoError::InvalidResponse { endpoint, detail }
        }
        RequestTokenError::Request(_) => LogtoError::InvalidResponse {
            endpoint,
            detail: "the request failed".into(),
        },
        // The body may hold tokens: it is never quoted, only described.
        RequestTokenError::Parse(_, _) => LogtoError::InvalidResponse {
            endpoint,
            detail: "the answer is not a token response".into(),
        },
        RequestTokenError::Other(_) => LogtoError::InvalidResponse {
            endpoint,
            detail: "unexpected answer".into(),
        },
    }
}

/// The README's example, compiled with the doc tests so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
