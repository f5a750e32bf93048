//! APIs protected by Logto access tokens, free of any framework: [`ProtectedApi`] says which API
//! resource a group of routes serves and verifies a request's `Authorization: Bearer` token and
//! scopes; [`ApiError`] is the refusal, with its RFC 6750 status, challenge and JSON body. No
//! session and no cookie: an API request is authorized by its token alone.

use std::sync::Arc;

use http::StatusCode;
use logto_client::{
    AccessTokenRequirements, LogtoClient, LogtoError, OrganizationRequirement, TokenError, TokenKind,
    VerifiedAccessToken,
};

use crate::error::chain;
use crate::web::LogtoWeb;

#[derive(Clone)]
enum ClientSource {
    Web(LogtoWeb),
    Own(Arc<LogtoClient>),
}

#[derive(Clone)]
struct ApiInner {
    client: ClientSource,
    resource: String,
    realm: String,
}

/// An API resource whose routes take bearer tokens: the resource indicator its tokens must be
/// for, the client that verifies them (Logto's keys, cached), and the realm named in
/// `WWW-Authenticate`. Cheap to clone.
#[derive(Clone)]
pub struct ProtectedApi(Arc<ApiInner>);

impl ProtectedApi {
    /// An API for `resource` (the API identifier in Logto's console), verified by `client`.
    pub fn new(client: Arc<LogtoClient>, resource: impl Into<String>) -> Self {
        Self::with_source(ClientSource::Own(client), resource.into())
    }

    /// An API for `resource`, verified by the client of a sign-in app's [`LogtoWeb`] (sharing
    /// its cache of Logto's keys).
    pub fn with_web(web: &LogtoWeb, resource: impl Into<String>) -> Self {
        Self::with_source(ClientSource::Web(web.clone()), resource.into())
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
            ClientSource::Web(web) => web.client(),
            ClientSource::Own(client) => client,
        }
    }

    /// Verifies the bearer token of a request whose `Authorization` header values are
    /// `authorization` (all of them, in order), against the scopes of `S` and of `route`.
    pub async fn verify<S: ScopeSet>(
        &self,
        authorization: &[&[u8]],
        route: &RequireScopes,
    ) -> Result<VerifiedAccessToken, ApiError> {
        let mut scopes: Vec<String> = S::SCOPES.iter().map(|s| (*s).to_owned()).collect();
        scopes.extend(
            route
                .scopes
                .iter()
                .filter(|s| !S::SCOPES.contains(&s.as_str()))
                .cloned(),
        );
        let refuse = |reason| ApiError::new(reason, &self.0.realm, scopes.clone());
        let token = presented_token(authorization).map_err(refuse)?;
        let required: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let requirements = AccessTokenRequirements {
            resource: self.resource(),
            scopes: &required,
            organization: match route.organizations {
                OrganizationPolicy::Refuse => OrganizationRequirement::NotAccepted,
                OrganizationPolicy::Accept | OrganizationPolicy::Require => OrganizationRequirement::AnyOrNone,
            },
        };
        let verified = self
            .client()
            .verify_access_token(&token, &requirements)
            .await
            .map_err(|e| refuse(ApiRefusal::Token(e)))?;
        // A valid token for the API itself, where only organization tokens will do: it lacks a
        // grant rather than being bad, as a missing scope is (RFC 6750 `insufficient_scope`).
        if route.organizations == OrganizationPolicy::Require && verified.organization_id.is_none() {
            return Err(refuse(ApiRefusal::OrganizationRequired));
        }
        Ok(verified)
    }
}

/// Scopes a route requires, fixed at compile time: e.g. `ReadMessages` with
/// `impl ScopeSet for ReadMessages { const SCOPES: &'static [&'static str] = &["read:messages"]; }`.
pub trait ScopeSet: Send + Sync + 'static {
    /// Every one of them is required.
    const SCOPES: &'static [&'static str];
}

/// No scope required (beyond those of a route's [`RequireScopes`]).
pub struct NoScopes;

impl ScopeSet for NoScopes {
    const SCOPES: &'static [&'static str] = &[];
}

/// What a route requires of a token, set at run time (e.g. from configuration). Adds to the
/// scopes of the route's [`ScopeSet`].
#[derive(Debug, Clone, Default)]
pub struct RequireScopes {
    scopes: Vec<String>,
    organizations: OrganizationPolicy,
}

/// What a route does with organization-scoped tokens: tokens for the API within an organization
/// (claim `organization_id`), whose scopes come from the user's roles in that organization.
/// Logto's organization tokens (audience `urn:logto:organization:<id>`, not the API) are refused
/// under every policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrganizationPolicy {
    /// Refused as invalid tokens (401 `invalid_token`): only tokens for the API itself pass.
    #[default]
    Refuse,
    /// Both kinds pass; the handler tells them apart by
    /// [`VerifiedAccessToken::organization_id`].
    Accept,
    /// Only organization-scoped tokens pass; a token for the API outside any organization gets 403
    /// `insufficient_scope`.
    Require,
}

impl OrganizationPolicy {
    /// The policy named `refuse`, `accept` or `require`, as configuration spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "refuse" => Some(OrganizationPolicy::Refuse),
            "accept" => Some(OrganizationPolicy::Accept),
            "require" => Some(OrganizationPolicy::Require),
            _ => None,
        }
    }

    /// The policy's name: `refuse`, `accept` or `require`.
    pub fn name(self) -> &'static str {
        match self {
            OrganizationPolicy::Refuse => "refuse",
            OrganizationPolicy::Accept => "accept",
            OrganizationPolicy::Require => "require",
        }
    }
}

impl RequireScopes {
    /// Requires every one of `scopes`.
    pub fn new<S: Into<String>>(scopes: impl IntoIterator<Item = S>) -> Self {
        RequireScopes {
            scopes: scopes.into_iter().map(Into::into).collect(),
            organizations: OrganizationPolicy::Refuse,
        }
    }

    /// Accepts organization tokens only (of any organization: the handler checks
    /// [`VerifiedAccessToken::organization_id`]): the same as
    /// `organizations(OrganizationPolicy::Require)`. Without either, they are refused.
    pub fn for_organizations(self) -> Self {
        self.organizations(OrganizationPolicy::Require)
    }

    /// What the route does with organization tokens (default [`OrganizationPolicy::Refuse`]).
    pub fn organizations(mut self, policy: OrganizationPolicy) -> Self {
        self.organizations = policy;
        self
    }

    /// The route's policy for organization tokens.
    pub fn organization_policy(&self) -> OrganizationPolicy {
        self.organizations
    }
}

/// The request's bearer token, from its one `Authorization` header.
fn presented_token(values: &[&[u8]]) -> Result<String, ApiRefusal> {
    let value = match values {
        [] => return Err(ApiRefusal::MissingToken),
        [value] => value,
        _ => return Err(ApiRefusal::InvalidRequest("more than one Authorization header")),
    };
    let value = std::str::from_utf8(value).unwrap_or_default();
    if let Some(token) = logto_client::util::bearer_token(value) {
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
    /// A valid token for the API itself on a route that requires an organization token.
    #[error("the token is for no organization, and this route requires an organization token")]
    OrganizationRequired,
    /// A bearer-token route without a [`ProtectedApi`].
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
    /// A refusal for `reason`, naming `realm` and the `scopes` the route requires.
    pub fn new(reason: ApiRefusal, realm: &str, scopes: Vec<String>) -> Self {
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
            ApiRefusal::OrganizationRequired => Some("insufficient_scope"),
            ApiRefusal::Token(LogtoError::InvalidToken { .. }) => Some("invalid_token"),
            ApiRefusal::Token(_) => Some("temporarily_unavailable"),
            ApiRefusal::NotConfigured => Some("server_error"),
        }
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        match &self.reason {
            ApiRefusal::MissingToken => StatusCode::UNAUTHORIZED,
            ApiRefusal::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiRefusal::Token(e) if e.is_insufficient_scope() => StatusCode::FORBIDDEN,
            ApiRefusal::OrganizationRequired => StatusCode::FORBIDDEN,
            ApiRefusal::Token(LogtoError::InvalidToken { .. }) => StatusCode::UNAUTHORIZED,
            // Logto's keys could not be read: no verdict on the token, try again later.
            ApiRefusal::Token(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiRefusal::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `WWW-Authenticate` value, for the answers that carry one (400, 401, 403).
    pub fn challenge(&self) -> Option<String> {
        let status = self.status();
        if !matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
        ) {
            return None;
        }
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
        Some(challenge)
    }

    /// The JSON body: `{"error": "<code>"}`.
    pub fn body(&self) -> String {
        let code = self.error_code().unwrap_or("unauthorized");
        serde_json::json!({ "error": code }).to_string()
    }

    /// Logs the refusal on one line; the reason names the failed check, never the token.
    pub fn report(&self) {
        let status = self.status();
        if status.is_server_error() {
            log::error!("API request refused ({status}): {}", chain(self));
        } else {
            log::info!("API request refused ({status}): {}", chain(self));
        }
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
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.challenge().as_deref(),
            Some("Bearer realm=\"https://api.example.com\"")
        );

        let bad = error(token_error(TokenError::BadSignature));
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            bad.challenge().as_deref(),
            Some("Bearer realm=\"https://api.example.com\", error=\"invalid_token\"")
        );

        let scope = error(token_error(TokenError::InsufficientScope(vec!["write:a".into()])));
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            scope.challenge().as_deref(),
            Some("Bearer realm=\"https://api.example.com\", error=\"insufficient_scope\", scope=\"read:a write:a\"")
        );

        let no_organization = error(ApiRefusal::OrganizationRequired);
        assert_eq!(no_organization.status(), StatusCode::FORBIDDEN);
        assert_eq!(no_organization.body(), "{\"error\":\"insufficient_scope\"}");
    }

    #[test]
    fn organization_policies_are_named_as_configured() {
        for policy in [
            OrganizationPolicy::Refuse,
            OrganizationPolicy::Accept,
            OrganizationPolicy::Require,
        ] {
            assert_eq!(OrganizationPolicy::from_name(policy.name()), Some(policy));
        }
        assert_eq!(OrganizationPolicy::from_name("yes"), None);
        assert_eq!(
            RequireScopes::default().organization_policy(),
            OrganizationPolicy::Refuse
        );
        assert_eq!(
            RequireScopes::new(["a"]).for_organizations().organization_policy(),
            OrganizationPolicy::Require
        );
    }

    #[test]
    fn quoted_strings_cannot_break_out() {
        assert_eq!(quoted("a\"b\\c\r\nd"), "a\\\"b\\\\cd");
    }

    #[test]
    fn one_authorization_header_with_a_bearer_token() {
        assert!(matches!(presented_token(&[]), Err(ApiRefusal::MissingToken)));
        assert!(matches!(
            presented_token(&[b"Bearer a", b"Bearer b"]),
            Err(ApiRefusal::InvalidRequest(_))
        ));
        assert!(matches!(
            presented_token(&[b"Basic abc"]),
            Err(ApiRefusal::MissingToken)
        ));
        assert!(matches!(presented_token(&[b"Bearer a\"b"]), Err(ApiRefusal::Token(_))));
        assert_eq!(presented_token(&[b"bearer abc.def"]).unwrap(), "abc.def");
    }
}
