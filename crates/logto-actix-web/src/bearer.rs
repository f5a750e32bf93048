//! APIs protected by Logto access tokens: [`ProtectedApi`] says which API resource a scope of
//! routes serves, [`BearerToken`] verifies the request's `Authorization: Bearer` token and its
//! scopes, and [`ApiError`] answers as RFC 6750 says, in JSON. No session and no cookie: an API
//! request is authorized by its token alone.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload};
use logto_client::{
    AccessTokenRequirements, LogtoClient, LogtoError, OrganizationRequirement, TokenError, TokenKind,
    VerifiedAccessToken, bearer_token,
};

use crate::auth::LogtoAuth;
use crate::error::chain;

/// A marker in a response's extensions: its body is an API's answer (JSON), which an app's error
/// pages must leave as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiResponse;

#[derive(Clone)]
enum ClientSource {
    Auth(LogtoAuth),
    Own(Arc<LogtoClient>),
}

#[derive(Clone)]
struct ApiInner {
    client: ClientSource,
    resource: String,
    realm: String,
}

/// An API resource whose routes take [`BearerToken`]: the resource indicator its tokens must be
/// for, the client that verifies them (Logto's keys, cached), and the realm named in
/// `WWW-Authenticate`. Put it on the app or the API's scope with `.app_data(api.clone())`.
#[derive(Clone)]
pub struct ProtectedApi(Arc<ApiInner>);

impl ProtectedApi {
    /// An API for `resource` (the API identifier in Logto's console), verified by `client`.
    pub fn new(client: Arc<LogtoClient>, resource: impl Into<String>) -> Self {
        Self::with_source(ClientSource::Own(client), resource.into())
    }

    /// An API for `resource`, verified by the client of a sign-in app's [`LogtoAuth`] (sharing
    /// its cache of Logto's keys).
    pub fn with_auth(auth: &LogtoAuth, resource: impl Into<String>) -> Self {
        Self::with_source(ClientSource::Auth(auth.clone()), resource.into())
    }

    fn with_source(client: ClientSource, resource: String) -> Self {
        ProtectedApi(Arc::new(ApiInner {
            client,
            realm: resource.clone(),
            resource,
        }))
    }

    /// The same API, naming `realm` in `WWW-Authenticate` (default: the resource indicator).
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.0);
        inner.realm = realm.into();
        ProtectedApi(Arc::new(inner))
    }

    /// The resource indicator tokens must be for.
    pub fn resource(&self) -> &str {
        &self.0.resource
    }

    fn client(&self) -> &LogtoClient {
        match &self.0.client {
            ClientSource::Auth(auth) => auth.client(),
            ClientSource::Own(client) => client,
        }
    }
}

/// Scopes a route requires, fixed at compile time: `BearerToken<ReadMessages>` with
/// `impl ScopeSet for ReadMessages { const SCOPES: &'static [&'static str] = &["read:messages"]; }`.
pub trait ScopeSet: 'static {
    /// Every one of them is required.
    const SCOPES: &'static [&'static str];
}

/// No scope required (beyond those of a route's [`RequireScopes`]).
pub struct NoScopes;

impl ScopeSet for NoScopes {
    const SCOPES: &'static [&'static str] = &[];
}

/// What a route requires of a token, set at run time (e.g. from configuration): put it on the
/// route with `.app_data(RequireScopes::new(["read:messages"]))`. Adds to the scopes of the
/// [`BearerToken`]'s [`ScopeSet`].
#[derive(Debug, Clone, Default)]
pub struct RequireScopes {
    scopes: Vec<String>,
    organizations: bool,
}

impl RequireScopes {
    /// Requires every one of `scopes`.
    pub fn new<S: Into<String>>(scopes: impl IntoIterator<Item = S>) -> Self {
        RequireScopes {
            scopes: scopes.into_iter().map(Into::into).collect(),
            organizations: false,
        }
    }

    /// Accepts organization tokens only (of any organization: the handler checks
    /// [`VerifiedAccessToken::organization_id`]); without it, they are refused.
    pub fn for_organizations(mut self) -> Self {
        self.organizations = true;
        self
    }
}

/// A verified access token for the route's [`ProtectedApi`], carrying every scope `S` and the
/// route's [`RequireScopes`] ask for. Extracting it refuses the request otherwise, as RFC 6750
/// says: 401 without a token or with a bad one, 403 when a scope is missing.
pub struct BearerToken<S: ScopeSet = NoScopes> {
    /// What the token says.
    pub token: VerifiedAccessToken,
    scopes: PhantomData<S>,
}

impl<S: ScopeSet> std::ops::Deref for BearerToken<S> {
    type Target = VerifiedAccessToken;

    fn deref(&self) -> &VerifiedAccessToken {
        &self.token
    }
}

impl<S: ScopeSet> FromRequest for BearerToken<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let route = req.app_data::<RequireScopes>().cloned().unwrap_or_default();
        let mut scopes: Vec<String> = S::SCOPES.iter().map(|s| (*s).to_owned()).collect();
        scopes.extend(
            route
                .scopes
                .iter()
                .filter(|s| !S::SCOPES.contains(&s.as_str()))
                .cloned(),
        );
        let Some(api) = req.app_data::<ProtectedApi>().cloned() else {
            return Box::pin(std::future::ready(Err(ApiError::new(
                ApiRefusal::NotConfigured,
                "api",
                scopes,
            ))));
        };
        let token = presented_token(req);
        Box::pin(async move {
            let refuse = |reason| ApiError::new(reason, &api.0.realm, scopes.clone());
            let token = token.map_err(refuse)?;
            let required: Vec<&str> = scopes.iter().map(String::as_str).collect();
            let requirements = AccessTokenRequirements {
                resource: api.resource(),
                scopes: &required,
                organization: if route.organizations {
                    OrganizationRequirement::Any
                } else {
                    OrganizationRequirement::NotAccepted
                },
            };
            match api.client().verify_access_token(&token, &requirements).await {
                Ok(token) => Ok(BearerToken {
                    token,
                    scopes: PhantomData,
                }),
                Err(e) => Err(refuse(ApiRefusal::Token(e))),
            }
        })
    }
}

/// The request's bearer token, from its one `Authorization` header.
fn presented_token(req: &HttpRequest) -> Result<String, ApiRefusal> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = headers.next() else {
        return Err(ApiRefusal::MissingToken);
    };
    if headers.next().is_some() {
        return Err(ApiRefusal::InvalidRequest("more than one Authorization header"));
    }
    let value = value.to_str().unwrap_or_default();
    if let Some(token) = bearer_token(value) {
        return Ok(token.to_owned());
    }
    let is_bearer = value
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "));
    if is_bearer {
        // Characters no JWT has: as bad as any other garbage.
        Err(ApiRefusal::Token(LogtoError::InvalidToken {
            kind: TokenKind::AccessToken,
            reason: TokenError::Malformed,
        }))
    } else {
        // Another scheme (Basic, ...) carries no access token.
        Err(ApiRefusal::MissingToken)
    }
}

/// Why an API request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiRefusal {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    MissingToken,
    /// The request carries its credentials in a way RFC 6750 calls invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The token did not verify, lacks a scope, or Logto's keys could not be read.
    #[error(transparent)]
    Token(LogtoError),
    /// A [`BearerToken`] on a route without a [`ProtectedApi`].
    #[error("ProtectedApi is not configured on this route")]
    NotConfigured,
}

/// A refused API request, answered as RFC 6750 says with a JSON body `{"error": "..."}` that
/// carries nothing beyond the RFC's error code; the reason goes to the log, on one line.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct ApiError {
    #[source]
    reason: ApiRefusal,
    realm: String,
    scopes: Vec<String>,
}

impl ApiError {
    fn new(reason: ApiRefusal, realm: &str, scopes: Vec<String>) -> Self {
        ApiError {
            reason,
            realm: realm.to_owned(),
            scopes,
        }
    }

    /// Why the request was refused.
    pub fn reason(&self) -> &ApiRefusal {
        &self.reason
    }

    /// The RFC 6750 error code, if the answer carries one.
    pub fn error_code(&self) -> Option<&'static str> {
        match &self.reason {
            ApiRefusal::MissingToken => None,
            ApiRefusal::InvalidRequest(_) => Some("invalid_request"),
            ApiRefusal::Token(e) if e.is_insufficient_scope() => Some("insufficient_scope"),
            ApiRefusal::Token(LogtoError::InvalidToken { .. }) => Some("invalid_token"),
            ApiRefusal::Token(_) => Some("temporarily_unavailable"),
            ApiRefusal::NotConfigured => Some("server_error"),
        }
    }

    fn challenge(&self) -> String {
        let mut challenge = format!("Bearer realm=\"{}\"", quoted(&self.realm));
        match self.error_code() {
            Some(code @ ("invalid_request" | "invalid_token")) => {
                challenge.push_str(&format!(", error=\"{code}\""));
            }
            Some(code @ "insufficient_scope") => {
                challenge.push_str(&format!(
                    ", error=\"{code}\", scope=\"{}\"",
                    quoted(&self.scopes.join(" "))
                ));
            }
            _ => {}
        }
        challenge
    }
}

/// `value` fit for a quoted-string in a header: printable ASCII, `"` and `\` escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().filter(|c| c.is_ascii_graphic() || *c == ' ') {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.reason {
            ApiRefusal::MissingToken => StatusCode::UNAUTHORIZED,
            ApiRefusal::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiRefusal::Token(e) if e.is_insufficient_scope() => StatusCode::FORBIDDEN,
            ApiRefusal::Token(LogtoError::InvalidToken { .. }) => StatusCode::UNAUTHORIZED,
            // Logto's keys could not be read: no verdict on the token, try again later.
            ApiRefusal::Token(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiRefusal::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // The reason names the failed check, never the token.
        if status.is_server_error() {
            log::error!("API request refused ({status}): {}", chain(self));
        } else {
            log::info!("API request refused ({status}): {}", chain(self));
        }
        let mut response = HttpResponse::build(status);
        if matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
        ) {
            response.insert_header((header::WWW_AUTHENTICATE, self.challenge()));
        }
        let code = self.error_code().unwrap_or("unauthorized");
        let mut response = response.json(serde_json::json!({ "error": code }));
        response.extensions_mut().insert(ApiResponse);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(reason: ApiRefusal) -> ApiError {
        ApiError::new(
            reason,
            "https://api.example.com",
            vec!["read:a".into(), "write:a".into()],
        )
    }

    fn token_error(reason: TokenError) -> ApiRefusal {
        ApiRefusal::Token(LogtoError::InvalidToken {
            kind: TokenKind::AccessToken,
            reason,
        })
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let missing = error(ApiRefusal::MissingToken);
        assert_eq!(missing.status_code(), StatusCode::UNAUTHORIZED);
        assert_eq!(missing.challenge(), "Bearer realm=\"https://api.example.com\"");

        let bad = error(token_error(TokenError::BadSignature));
        assert_eq!(bad.status_code(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            bad.challenge(),
            "Bearer realm=\"https://api.example.com\", error=\"invalid_token\""
        );

        let scope = error(token_error(TokenError::InsufficientScope(vec!["write:a".into()])));
        assert_eq!(scope.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(
            scope.challenge(),
            "Bearer realm=\"https://api.example.com\", error=\"insufficient_scope\", scope=\"read:a write:a\""
        );
    }

    #[test]
    fn quoted_strings_cannot_break_out() {
        assert_eq!(quoted("a\"b\\c\r\nd"), "a\\\"b\\\\cd");
    }
}
