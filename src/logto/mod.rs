//! A Logto client for traditional (server-rendered) web apps. It knows nothing of any web
//! framework: it builds authorization requests, finishes sign-in from a callback, verifies
//! ID tokens, reads userinfo, and signs out.
//!
//! Discovery and the JWKS are fetched lazily and cached, so an app starts (and serves its
//! other pages) while Logto is unreachable.

pub mod callback;
pub mod discovery;
pub mod error;
pub mod id_token;
pub mod jwks;
pub mod logout_token;
pub mod tokens;
pub mod userinfo;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

pub use callback::CallbackParams;
pub use error::{CallbackError, LogtoError};
pub use id_token::IdTokenClaims;
pub use tokens::{Audience, FreshToken};
pub use userinfo::{HuggingFaceIdentity, UserInfo};

use discovery::ProviderMetadata;
use jwks::{JwksCache, KeyLookup};
use tokens::RefreshCoordinator;

/// How long a started sign-in may take before its callback is refused.
pub const PENDING_SIGN_IN_TTL: Duration = Duration::from_secs(10 * 60);

/// Scopes always requested: the ID token, a refresh token, and the basic profile.
pub const BASE_SCOPES: [&str; 3] = ["openid", "offline_access", "profile"];

/// The scope that lists the user's organizations and allows organization tokens.
pub const ORGANIZATIONS_SCOPE: &str = "urn:logto:scope:organizations";

/// The resource Logto requires at sign-in for organization tokens.
pub const ORGANIZATIONS_RESOURCE: &str = "urn:logto:resource:organizations";

/// What the client needs to know about the Logto application.
#[derive(Clone)]
pub struct ClientSettings {
    /// `{endpoint}/oidc`.
    pub issuer: String,
    /// App ID.
    pub client_id: String,
    /// App secret.
    pub client_secret: String,
    /// `{base}/callback`.
    pub redirect_uri: String,
    /// `{base}/`.
    pub post_logout_redirect_uri: String,
    /// Scopes requested besides [`BASE_SCOPES`].
    pub extra_scopes: Vec<String>,
    /// API resource indicators requested at sign-in.
    pub resources: Vec<String>,
    /// Timeout of every call to Logto.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// Which screen Logto opens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstScreen {
    /// The sign-in form.
    SignIn,
    /// The registration form (`first_screen=register`).
    Register,
    /// Straight to the Hugging Face connector (`direct_sign_in=social:huggingface`).
    HuggingFace,
}

/// A sign-in this client started, kept (server-side or in the encrypted cookie) until its
/// callback arrives. Holding the PKCE verifier and nonce, it must never reach the browser in clear.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The `state` sent to Logto.
    pub state: String,
    /// PKCE code verifier.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// When it started, seconds since the epoch.
    pub started_at: u64,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// An authorization request: where to send the browser, and what to keep until the callback.
pub struct AuthorizationRequest {
    /// Logto's authorization URL with every parameter.
    pub url: String,
    /// What the callback will be checked against.
    pub pending: PendingSignIn,
}

/// Tokens and verified identity from a finished sign-in.
pub struct SignedIn {
    /// The verified ID token claims.
    pub id_token: IdTokenClaims,
    /// Userinfo, whose `sub` equals the ID token's.
    pub userinfo: UserInfo,
    /// Opaque access token for userinfo.
    pub access_token: String,
    /// When the access token was obtained, seconds since the epoch.
    pub access_token_obtained_at: u64,
    /// When the access token expires, seconds since the epoch.
    pub access_token_expires_at: u64,
    /// Refresh token (present with `offline_access` and `prompt=consent`).
    pub refresh_token: Option<String>,
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
pub struct LogtoTokenFields {
    /// The ID token (present on the code exchange, and on refresh with `openid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
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

/// The Logto client. Cheap to share behind an `Arc`; build it once per process.
pub struct LogtoClient {
    settings: ClientSettings,
    http: reqwest::Client,
    metadata: RwLock<Option<Arc<ProviderMetadata>>>,
    jwks: JwksCache,
    refreshes: RefreshCoordinator,
}

impl LogtoClient {
    /// Builds a client. Nothing is fetched until it is needed.
    pub fn new(settings: ClientSettings) -> Result<Self, LogtoError> {
        let http = reqwest::Client::builder()
            // Token calls must never follow a redirect (the code or secret could be replayed elsewhere).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("logto-actix/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LogtoError::transport("HTTP client", &e))?;
        Ok(Self {
            settings,
            http,
            metadata: RwLock::new(None),
            jwks: JwksCache::default(),
            refreshes: RefreshCoordinator::default(),
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Logto's metadata, fetched on first use and cached. A failed fetch is not cached, so
    /// the client recovers by itself once Logto is back.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, LogtoError> {
        if let Some(metadata) = self.metadata.read().await.as_ref() {
            return Ok(metadata.clone());
        }
        let mut slot = self.metadata.write().await;
        if let Some(metadata) = slot.as_ref() {
            return Ok(metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer);
        let body = self.get_json_body("discovery", &url, None).await?;
        let metadata = Arc::new(ProviderMetadata::parse(&body, &self.settings.issuer)?);
        *slot = Some(metadata.clone());
        Ok(metadata)
    }

    /// Starts a sign-in: PKCE (S256), a random `state` and `nonce`, `prompt=consent` (for a
    /// refresh token), every scope and resource, and the screen Logto should open with.
    pub async fn authorization_request(&self, screen: FirstScreen) -> Result<AuthorizationRequest, LogtoError> {
        self.authorization_request_with_locale(screen, None).await
    }

    /// [`Self::authorization_request`], asking Logto to show its pages in `ui_locales`
    /// (space-separated BCP 47 tags, e.g. `es`).
    pub async fn authorization_request_with_locale(
        &self,
        screen: FirstScreen,
        ui_locales: Option<&str>,
    ) -> Result<AuthorizationRequest, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(pkce_challenge)
            .add_scopes(
                BASE_SCOPES
                    .iter()
                    .map(|s| s.to_string())
                    .chain(self.settings.extra_scopes.iter().cloned())
                    .map(Scope::new),
            )
            .add_extra_param("nonce", nonce.secret().clone())
            .add_extra_param("prompt", "consent");
        for resource in self.sign_in_resources() {
            request = request.add_extra_param("resource", resource);
        }
        // Only valid values are sent: one invalid Logto parameter makes Logto ignore them all.
        request = match screen {
            FirstScreen::SignIn => request,
            FirstScreen::Register => request.add_extra_param("first_screen", "register"),
            FirstScreen::HuggingFace => request.add_extra_param("direct_sign_in", "social:huggingface"),
        };
        if let Some(ui_locales) = ui_locales.filter(|l| !l.is_empty()) {
            request = request.add_extra_param("ui_locales", ui_locales.to_owned());
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            pending: PendingSignIn {
                state: state.secret().clone(),
                pkce_verifier: pkce_verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                started_at: now(),
            },
        })
    }

    /// Whether organizations were requested (`urn:logto:scope:organizations` in the scopes).
    pub fn organizations_enabled(&self) -> bool {
        self.settings.extra_scopes.iter().any(|s| s == ORGANIZATIONS_SCOPE)
    }

    /// The resources sent at sign-in: the configured ones, plus the organizations resource
    /// that Logto needs for organization tokens.
    fn sign_in_resources(&self) -> Vec<String> {
        let mut resources = self.settings.resources.clone();
        if self.organizations_enabled() && !resources.iter().any(|r| r == ORGANIZATIONS_RESOURCE) {
            resources.push(ORGANIZATIONS_RESOURCE.to_owned());
        }
        resources
    }

    /// Checks a callback against the sign-in it answers, before anything is sent to Logto:
    /// Logto's error, expiry, and the issuer (RFC 9207 mix-up defence). Returns the code.
    pub async fn check_callback(
        &self,
        params: &CallbackParams,
        pending: &PendingSignIn,
    ) -> Result<String, CallbackOutcome> {
        if now().saturating_sub(pending.started_at) > PENDING_SIGN_IN_TTL.as_secs() {
            return Err(CallbackError::Expired.into());
        }
        match &params.iss {
            Some(iss) if iss != &self.settings.issuer => return Err(CallbackError::IssuerMismatch.into()),
            Some(_) => {}
            // Without `iss`, trust the response only if Logto does not promise to send it.
            None => {
                let metadata = self.metadata().await.map_err(CallbackOutcome::Logto)?;
                if metadata.authorization_response_iss_parameter_supported {
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
        params.code.clone().ok_or(CallbackError::MissingCode.into())
    }

    /// Finishes sign-in: exchanges the code (client_secret_basic, PKCE), verifies the ID token,
    /// and reads userinfo, whose `sub` must match.
    pub async fn exchange_code(&self, code: &str, pending: &PendingSignIn) -> Result<SignedIn, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("code exchange", e))?;

        let id_token = response
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or_else(|| LogtoError::BadResponse {
                what: "code exchange",
                detail: "no ID token in the answer".into(),
            })?;
        let claims = self.verify_id_token(&metadata, id_token, Some(&pending.nonce)).await?;
        let access_token = response.access_token().secret().clone();
        let userinfo = self.fetch_userinfo(&access_token, &claims.sub).await?;
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600)).as_secs();
        let obtained_at = now();
        Ok(SignedIn {
            id_token: claims,
            userinfo,
            access_token,
            access_token_obtained_at: obtained_at,
            access_token_expires_at: obtained_at + lifetime,
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        })
    }

    /// Verifies an ID token: allowed algorithm, key from the JWKS, signature, and claims.
    pub async fn verify_id_token(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<IdTokenClaims, LogtoError> {
        let (header, key) = self.signing_key(metadata, token).await?;
        let expected = id_token::Expected {
            issuer: &self.settings.issuer,
            client_id: &self.settings.client_id,
            nonce,
            now: now(),
        };
        id_token::verify(token, &header, &key, &expected)
    }

    /// The header of a token signed by Logto (its algorithm allowed) and the JWKS key it names.
    async fn signing_key(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
    ) -> Result<(id_token::TokenHeader, jsonwebtoken::jwk::Jwk), LogtoError> {
        let algorithms = id_token::allowed_algorithms(&metadata.id_token_signing_alg_values_supported);
        let header = id_token::read_header(token, &algorithms)?;
        let lookup = match header.kid.as_deref() {
            Some(kid) => KeyLookup::Kid(kid),
            None => KeyLookup::OnlyKey,
        };
        let key = self
            .jwks
            .find(lookup, async || self.fetch_jwks(&metadata.jwks_uri).await)
            .await?;
        Ok((header, key))
    }

    /// Verifies a back-channel logout token from Logto and says who signed out.
    pub async fn verify_logout_token(&self, token: &str) -> Result<logout_token::Logout, LogtoError> {
        let metadata = self.metadata().await?;
        let (header, key) = self.signing_key(&metadata, token).await?;
        logout_token::verify(
            token,
            &header,
            &key,
            &self.settings.issuer,
            &self.settings.client_id,
            now(),
        )
    }

    /// Reads userinfo with an access token, and checks it describes `expected_sub`.
    pub async fn fetch_userinfo(&self, access_token: &str, expected_sub: &str) -> Result<UserInfo, LogtoError> {
        let metadata = self.metadata().await?;
        let body = self
            .get_json_body("userinfo", &metadata.userinfo_endpoint, Some(access_token))
            .await?;
        let userinfo: UserInfo = serde_json::from_slice(&body).map_err(|e| LogtoError::BadResponse {
            what: "userinfo",
            detail: format!("not a userinfo document: {e}"),
        })?;
        if userinfo.sub != expected_sub {
            return Err(LogtoError::SubjectMismatch);
        }
        Ok(userinfo)
    }

    /// A fresh access token for `audience` from the refresh token, with the rotated refresh
    /// token and the new ID token (verified; its `sub` must be `sub`). Concurrent calls for one
    /// session send one grant (see [`tokens`]). An audience not requested at sign-in is refused
    /// before any request.
    pub async fn refresh(&self, refresh_token: &str, audience: &Audience, sub: &str) -> Result<FreshToken, LogtoError> {
        match audience {
            Audience::Userinfo => {}
            Audience::Resource(resource) if self.settings.resources.contains(resource) => {}
            Audience::Organization(_) if self.organizations_enabled() => {}
            other => return Err(LogtoError::NotRequested(other.key())),
        }
        self.refreshes
            .refresh(refresh_token, audience, async |current| {
                self.refresh_grant(&current, audience, sub).await
            })
            .await
    }

    async fn refresh_grant(
        &self,
        refresh_token: &str,
        audience: &Audience,
        sub: &str,
    ) -> Result<FreshToken, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let presented = RefreshToken::new(refresh_token.to_owned());
        let mut request = client.exchange_refresh_token(&presented);
        request = match audience {
            Audience::Userinfo => request,
            Audience::Resource(resource) => request.add_extra_param("resource", resource.clone()),
            Audience::Organization(id) => request.add_extra_param("organization_id", id.clone()),
        };
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| token_error("refresh", e))?;
        let id_token = match response.extra_fields().id_token.as_deref() {
            Some(token) => {
                let claims = self.verify_id_token(&metadata, token, None).await?;
                if claims.sub != sub {
                    return Err(LogtoError::SubjectMismatch);
                }
                Some(claims)
            }
            None => None,
        };
        let obtained_at = now();
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600)).as_secs();
        Ok(FreshToken {
            access_token: response.access_token().secret().clone(),
            obtained_at,
            expires_at: obtained_at + lifetime,
            refresh_token: response
                .refresh_token()
                .map(|t| t.secret().clone())
                .unwrap_or_else(|| refresh_token.to_owned()),
            id_token,
        })
    }

    /// Revokes a refresh token (client authentication included), so ending the Logto session
    /// also ends what this app could do on the user's behalf.
    ///
    /// Sent directly rather than through the oauth2 crate, which refuses http endpoints here
    /// and so would fail against a self-hosted Logto on a private network.
    pub async fn revoke_refresh_token(&self, refresh_token: &str) -> Result<(), LogtoError> {
        let what = "revocation";
        let metadata = self.metadata().await?;
        let endpoint = metadata
            .revocation_endpoint
            .as_deref()
            .ok_or_else(|| LogtoError::BadResponse {
                what,
                detail: "Logto announces no revocation endpoint".into(),
            })?;
        // RFC 6749 2.3.1: the credentials are form-encoded before they go into Basic auth.
        let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let response = self
            .http
            .post(endpoint)
            .basic_auth(
                encode(&self.settings.client_id),
                Some(encode(&self.settings.client_secret)),
            )
            .form(&[("token", refresh_token), ("token_type_hint", "refresh_token")])
            .send()
            .await
            .map_err(|e| LogtoError::transport(what, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct OAuthError {
            error: String,
        }
        match response.json::<OAuthError>().await {
            Ok(body) => Err(LogtoError::Rejected { what, code: body.error }),
            Err(_) => Err(LogtoError::BadResponse {
                what,
                detail: format!("HTTP status {status}"),
            }),
        }
    }

    /// Where to send the browser to end the Logto session; it returns to the post sign-out URI.
    pub async fn end_session_url(&self) -> Result<Option<String>, LogtoError> {
        let metadata = self.metadata().await?;
        Ok(metadata.end_session_endpoint.as_deref().and_then(|endpoint| {
            let mut url = url::Url::parse(endpoint).ok()?;
            url.query_pairs_mut()
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("post_logout_redirect_uri", &self.settings.post_logout_redirect_uri);
            Some(url.to_string())
        }))
    }

    fn oauth_client(&self, metadata: &ProviderMetadata) -> Result<OAuthClient, LogtoError> {
        let bad = |what: &str| LogtoError::BadResponse {
            what: "discovery",
            detail: format!("unusable {what}"),
        };
        Ok(oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.settings.client_secret.clone()))
            .set_auth_type(AuthType::BasicAuth)
            .set_auth_uri(
                AuthUrl::new(metadata.authorization_endpoint.clone()).map_err(|_| bad("authorization endpoint"))?,
            )
            .set_token_uri(TokenUrl::new(metadata.token_endpoint.clone()).map_err(|_| bad("token endpoint"))?)
            .set_redirect_uri(RedirectUrl::new(self.settings.redirect_uri.clone()).map_err(|_| bad("redirect URI"))?))
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<jsonwebtoken::jwk::JwkSet, LogtoError> {
        let body = self.get_json_body("JWKS", jwks_uri, None).await?;
        serde_json::from_slice(&body).map_err(|e| LogtoError::BadResponse {
            what: "JWKS",
            detail: format!("not a JWK set: {e}"),
        })
    }

    /// GETs a JSON document, mapping every failure to a [`LogtoError`] free of secrets.
    async fn get_json_body(&self, what: &'static str, url: &str, bearer: Option<&str>) -> Result<Vec<u8>, LogtoError> {
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| LogtoError::transport(what, &e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED && bearer.is_some() {
            return Err(LogtoError::Rejected {
                what,
                code: "invalid_token".into(),
            });
        }
        if !status.is_success() {
            return Err(LogtoError::BadResponse {
                what,
                detail: format!("HTTP status {status}"),
            });
        }
        let body = response.bytes().await.map_err(|e| LogtoError::transport(what, &e))?;
        Ok(body.to_vec())
    }
}

/// What a refused callback means for the user: their own request was bad, or Logto failed.
#[derive(Debug, thiserror::Error)]
pub enum CallbackOutcome {
    /// The callback itself is refused (4xx).
    #[error(transparent)]
    Refused(#[from] CallbackError),
    /// Logto could not be asked (5xx).
    #[error(transparent)]
    Logto(#[from] LogtoError),
}

fn token_error(
    what: &'static str,
    error: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> LogtoError {
    match error {
        RequestTokenError::ServerResponse(err) => LogtoError::Rejected {
            what,
            code: err.error().to_string(),
        },
        RequestTokenError::Request(err) => transport_of(what, err),
        // The body may hold tokens: it is never quoted, only described.
        RequestTokenError::Parse(_, _) => LogtoError::BadResponse {
            what,
            detail: "the answer is not a token response".into(),
        },
        RequestTokenError::Other(_) => LogtoError::BadResponse {
            what,
            detail: "unexpected answer".into(),
        },
    }
}

fn transport_of(what: &'static str, error: oauth2::HttpClientError<reqwest::Error>) -> LogtoError {
    match error {
        oauth2::HttpClientError::Reqwest(e) => LogtoError::transport(what, &e),
        _ => LogtoError::Unreachable {
            what,
            reason: "request failed".into(),
        },
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
