//! Errors of the client. Messages name what failed and where (Logto's URLs are not secret),
//! never a token, code or secret; causes are kept as `source()` so an operator can tell a
//! timeout, a refused connection and a TLS failure apart.

use std::fmt;
use std::sync::Arc;

/// A Logto endpoint the client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// The signing keys.
    Jwks,
    /// The token endpoint (code exchange, refresh).
    Token,
    /// `/oidc/me`.
    Userinfo,
    /// Token revocation.
    Revocation,
}

impl Endpoint {
    /// A short lowercase name, fit for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Discovery => "discovery",
            Endpoint::Jwks => "jwks",
            Endpoint::Token => "token",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Revocation => "revocation",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kind of token failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An ID token from the token endpoint.
    IdToken,
    /// A back-channel logout token.
    LogoutToken,
    /// An access token presented to an API.
    AccessToken,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::IdToken => "ID token",
            TokenKind::LogoutToken => "logout token",
            TokenKind::AccessToken => "access token",
        })
    }
}

/// Why a signed token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWT, or its header or claims cannot be read.
    #[error("malformed")]
    Malformed,
    /// The header names an algorithm outside the allow-list (HMAC and `none` never pass).
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header's `typ` is not the one this kind of token must carry.
    #[error("wrong `typ`")]
    WrongType,
    /// The JWKS holds no key with the header's `kid`, also after refetching it.
    #[error("unknown signing key")]
    UnknownKey,
    /// No `kid`, and the JWKS does not hold exactly one key.
    #[error("no `kid` and not exactly one key in the JWKS")]
    AmbiguousKey,
    /// The key is for another algorithm than the header's.
    #[error("the key is not for this algorithm")]
    KeyAlgorithmMismatch,
    /// The JWKS key cannot be used.
    #[error("unusable signing key")]
    UnusableKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Past `exp`.
    #[error("expired")]
    Expired,
    /// Before `nbf`.
    #[error("not valid yet")]
    NotYetValid,
    /// `iat` in the future, or too far in the past for this kind of token.
    #[error("issued at an unlikely time")]
    UnlikelyIssueTime,
    /// `iss` is another issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not name who the token must be for.
    #[error("wrong audience")]
    WrongAudience,
    /// `azp` is another client, or several audiences and no `azp`.
    #[error("wrong authorized party")]
    WrongAuthorizedParty,
    /// A claim that must be there is not.
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// The ID token's `nonce` is missing or not the one sent.
    #[error("nonce missing or not the one sent")]
    WrongNonce,
    /// A logout token without the back-channel logout event.
    #[error("not a back-channel logout event")]
    NotALogoutEvent,
    /// A logout token that carries a `nonce`, which the specification forbids.
    #[error("carries a nonce")]
    UnexpectedNonce,
    /// A logout token naming neither `sub` nor `sid`.
    #[error("names neither sub nor sid")]
    NoSubject,
    /// A valid access token without every scope the route requires (these are missing). Not a
    /// bad token: RFC 6750 answers it 403, not 401.
    #[error("lacks the scopes `{}`", .0.join(" "))]
    InsufficientScope(Vec<String>),
    /// An organization access token where the route accepts none.
    #[error("is for an organization, where none is accepted")]
    OrganizationNotAccepted,
    /// An organization access token for another organization than the route's.
    #[error("is for another organization")]
    WrongOrganization,
    /// The token (its claims) is larger than [`LogtoClient::MAX_CLAIMS_BYTES`](crate::LogtoClient::MAX_CLAIMS_BYTES).
    #[error("is too large")]
    TooLarge,
    /// The sign-in asked for `max_age`, and the ID token's `auth_time` is older than that (with
    /// the clock leeway): Logto did not make the user sign in again.
    #[error("the authentication is older than the sign-in's max_age")]
    AuthenticationTooOld,
}

/// What went wrong while talking to Logto or checking what it sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LogtoError {
    /// Logto could not be reached or did not answer in time (DNS, connection, TLS, timeout:
    /// see the source).
    #[error("{endpoint} ({url}): Logto could not be reached")]
    Unreachable {
        /// The call that failed.
        endpoint: Endpoint,
        /// The URL tried.
        url: String,
        /// The transport's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// Logto answered with an HTTP status that is not success, and no OAuth error.
    #[error("{endpoint} ({url}): Logto answered HTTP {status}")]
    HttpStatus {
        /// The call that failed.
        endpoint: Endpoint,
        /// The URL tried.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Logto refused the request with an OAuth error code such as `invalid_grant`.
    #[error("{endpoint}: Logto refused the request with `{code}`{}", describe(.description))]
    Rejected {
        /// The call that failed.
        endpoint: Endpoint,
        /// The OAuth error code.
        code: String,
        /// Logto's `error_description`, if any.
        description: Option<String>,
    },
    /// Logto answered, but not as the protocol says.
    #[error("{endpoint}: unexpected answer from Logto: {detail}")]
    InvalidResponse {
        /// The call that failed.
        endpoint: Endpoint,
        /// What was wrong with the answer (never its content, which may hold tokens).
        detail: String,
    },
    /// A token failed verification.
    #[error("the {kind} is not valid: {reason}")]
    InvalidToken {
        /// Which token.
        kind: TokenKind,
        /// Why.
        #[source]
        reason: TokenError,
    },
    /// Userinfo describes another user than the ID token, or a refreshed ID token another user
    /// than the session's.
    #[error("Logto's answer describes another user than the signed-in one")]
    SubjectMismatch,
    /// A token was asked for an audience that was not requested at sign-in; Logto would answer
    /// `invalid_target`, so the request is not even sent.
    #[error("no token for `{0}`: it was not requested at sign-in")]
    NotRequested(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] Arc<reqwest::Error>),
    /// The options of a sign-in cannot be sent (nothing was sent).
    #[error("the sign-in options cannot be sent")]
    InvalidSignInOptions(#[from] SignInOptionError),
}

fn describe(description: &Option<String>) -> String {
    match description {
        Some(text) => format!(" ({})", text.escape_debug()),
        None => String::new(),
    }
}

impl LogtoError {
    /// Whether Logto refused a grant (code or refresh token) as `invalid_grant`: the request was
    /// stale or replayed rather than Logto being at fault.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, LogtoError::Rejected { code, .. } if code == "invalid_grant")
    }

    /// Whether this is a valid access token that lacks a required scope (RFC 6750
    /// `insufficient_scope`, answered 403) rather than a token to refuse.
    pub fn is_insufficient_scope(&self) -> bool {
        matches!(
            self,
            LogtoError::InvalidToken {
                reason: TokenError::InsufficientScope(_),
                ..
            }
        )
    }

    /// Whether Logto refused a token for an organization because the user may not have one: no
    /// longer a member (Logto answers `access_denied`, HTTP 403), or the organization requires
    /// MFA the user lacks. The user is still signed in: drop the organization, not the session.
    pub fn is_organization_denied(&self) -> bool {
        matches!(
            self,
            LogtoError::Rejected { endpoint: Endpoint::Token, code, .. } if code == "access_denied"
        )
    }

    pub(crate) fn invalid_token(kind: TokenKind, reason: TokenError) -> Self {
        LogtoError::InvalidToken { kind, reason }
    }
}

/// Why a callback from Logto is refused before anything is sent to Logto.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The query string is larger than any genuine callback.
    #[error("the callback query is too large")]
    TooLarge,
    /// A parameter appears twice.
    #[error("the callback query repeats a parameter")]
    RepeatedParameter,
    /// No `state` parameter.
    #[error("the callback has no state")]
    MissingState,
    /// The `state` matches no sign-in this browser started (or it was used already).
    #[error("the callback state matches no pending sign-in")]
    UnknownState,
    /// The pending sign-in is too old.
    #[error("the pending sign-in expired")]
    Expired,
    /// The `iss` parameter names another issuer (a mix-up attack), or is missing where Logto
    /// promises to send it.
    #[error("the callback issuer does not match")]
    IssuerMismatch,
    /// No `code` parameter.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// Logto (or the user) ended the sign-in with an OAuth error such as `access_denied`. Both
    /// values come from the request: the `Display` escapes them, so none can start a log line.
    #[error("sign-in ended with `{}`{}", .error.escape_debug(), describe(.description))]
    Denied {
        /// The OAuth error code.
        error: String,
        /// The human-readable description, if any.
        description: Option<String>,
    },
}

impl CallbackError {
    /// Whether the person chose to stop at Logto (`access_denied`): not a failure to show.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, CallbackError::Denied { error, .. } if error == "access_denied")
    }
}

/// Why a sign-in could not be finished: the callback itself was bad (the browser's request), or
/// Logto failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignInError {
    /// The callback is refused.
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// Logto failed, refused the code, or sent something that did not verify.
    #[error(transparent)]
    Logto(#[from] LogtoError),
}

/// Why sign-in options cannot be sent: Logto would refuse them or, worse, silently ignore every
/// one of its parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInOptionError {
    /// An extra parameter names one the client sets itself or a typed option covers.
    #[error("the extra parameter `{0}` is reserved (set by the client, or a typed option)")]
    ReservedParameter(String),
    /// An extra parameter's name is empty, too long, or not of letters, digits, `_`, `-`, `.`.
    #[error("`{}` is not a parameter name", .0.escape_debug())]
    InvalidParameterName(String),
    /// An extra parameter appears twice.
    #[error("the extra parameter `{0}` is given twice")]
    RepeatedParameter(String),
    /// A value is empty, longer than 2,048 bytes, or holds control characters.
    #[error("the value of `{0}` is empty, too long or has control characters")]
    InvalidValue(String),
    /// An organization id that is empty, longer than 128 bytes, or not of letters, digits, `_`, `-`.
    #[error("not an organization id")]
    InvalidOrganizationId,
}
