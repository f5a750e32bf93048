//! The client itself: its configuration, HTTP client, clock and the caches every job shares
//! (discovery, the OAuth client, keys, verified access tokens, refreshes in flight), and the
//! discovery document fetched into its cache. The jobs are the client's methods in the other
//! modules; what this one holds depends on none of them.

use std::sync::Arc;

use tokio::sync::RwLock;

use crate::clock::{Clock, SystemClock};
use crate::config::LogtoConfig;
use crate::discovery::ProviderMetadata;
use crate::error::{Endpoint, LogtoError};
use crate::jwks::JwksCache;
use crate::oauth::OAuthClient;
use crate::refresh_coordinator::RefreshCoordinator;
use crate::verified_cache::VerifiedCache;

/// The Logto client. Build it once per process and share it (it is `Send + Sync`).
pub struct LogtoClient {
    pub(crate) config: LogtoConfig,
    pub(crate) issuer: String,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metadata: RwLock<Option<Arc<ProviderMetadata>>>,
    /// The last failed discovery, answered until [`LogtoClient::RETRY_AFTER_FAILURE`] has passed.
    pub(crate) discovery_failure: std::sync::Mutex<Option<(tokio::time::Instant, LogtoError)>>,
    /// The OAuth client and the metadata it was built from: building one parses the
    /// authorization, token and redirect URLs, a fifth of a sign-in redirect's cost.
    pub(crate) oauth: std::sync::Mutex<Option<(Arc<ProviderMetadata>, Arc<OAuthClient>)>>,
    pub(crate) jwks: JwksCache,
    /// Access tokens whose signature checked out, so an API skips it for a token seen before.
    pub(crate) verified: VerifiedCache,
    pub(crate) refreshes: RefreshCoordinator,
}

impl LogtoClient {
    /// Builds a client with its own HTTP client (redirects off, the configured timeout, idle
    /// connections not reused after [`LogtoClient::IDLE_CONNECTION_REUSE`]) and the system clock. Nothing is fetched until it is needed.
    pub fn new(config: LogtoConfig) -> Result<Self, LogtoError> {
        let http = reqwest::Client::builder()
            // Token calls must never follow a redirect (the code or secret could be replayed elsewhere).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .pool_idle_timeout(Self::IDLE_CONNECTION_REUSE)
            .user_agent(concat!("logto-client-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LogtoError::HttpClient(Arc::new(e)))?;
        Ok(Self::with_http_client(config, http))
    }

    /// Builds a client on an HTTP client of the caller's. It must not follow redirects, and should
    /// have a timeout and reuse no connection idle for [`LogtoClient::IDLE_CONNECTION_REUSE`] or
    /// longer (`pool_idle_timeout`).
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
    /// The cache is set-associative: its room is sets of sixteen tokens (`capacity` is rounded
    /// down to a multiple of sixteen, or is one set under sixteen), a token is kept in the set its
    /// hash picks, and a full set replaces its oldest token. Give it room for well over the tokens
    /// in use at once: with half of it in use, 99.8 % of reused tokens are found. See [`LogtoClient::verify_access_token`].
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
}

impl LogtoClient {
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
                *self.discovery_failure() = Some((tokio::time::Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    fn discovery_failure(&self) -> std::sync::MutexGuard<'_, Option<(tokio::time::Instant, LogtoError)>> {
        self.discovery_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logto's metadata if it has been fetched already; never fetches (e.g. for a readiness probe).
    pub async fn cached_metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.metadata.read().await.clone()
    }
}
