//! Errors of the Logto client. Messages name what failed, never a token or secret.

/// What went wrong while talking to Logto or checking what it sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogtoError {
    /// Logto could not be reached or did not answer in time.
    #[error("{what}: Logto could not be reached ({reason})")]
    Unreachable {
        /// The step that failed, e.g. "discovery".
        what: &'static str,
        /// Transport-level reason, free of URLs' secrets.
        reason: String,
    },
    /// Logto answered, but not as the protocol says.
    #[error("{what}: unexpected answer from Logto ({detail})")]
    BadResponse {
        /// The step that failed.
        what: &'static str,
        /// What was wrong with the answer.
        detail: String,
    },
    /// Logto refused the request with an OAuth error code such as `invalid_grant`.
    #[error("{what}: Logto refused the request with `{code}`")]
    Rejected {
        /// The step that failed.
        what: &'static str,
        /// The OAuth error code.
        code: String,
    },
    /// The ID token failed verification.
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    /// Userinfo describes another user than the ID token.
    #[error("userinfo describes another subject than the ID token")]
    SubjectMismatch,
    /// A token was asked for an audience that was not requested at sign-in; Logto would answer
    /// `invalid_target`, so the request is not even sent.
    #[error(
        "no token for `{0}`: it was not requested at sign-in (add it to LOGTO_RESOURCES, or the organizations scope to LOGTO_SCOPES)"
    )]
    NotRequested(String),
}

impl LogtoError {
    /// Whether Logto refused a grant (code or refresh token) as `invalid_grant`:
    /// the request was stale or replayed rather than Logto being at fault.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, LogtoError::Rejected { code, .. } if code == "invalid_grant")
    }

    pub(crate) fn transport(what: &'static str, error: &reqwest::Error) -> Self {
        let reason = if error.is_timeout() {
            "timed out".to_owned()
        } else if error.is_connect() {
            "connection failed".to_owned()
        } else {
            // reqwest's messages may carry the URL; keep only the kind of failure.
            "request failed".to_owned()
        };
        LogtoError::Unreachable { what, reason }
    }
}

/// Why a callback from Logto is refused before anything is sent to Logto.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The query string is larger than any genuine callback.
    #[error("the callback query is too large")]
    TooLarge,
    /// A parameter appears twice or is not valid form encoding.
    #[error("the callback query is malformed: {0}")]
    Malformed(&'static str),
    /// No `state` parameter.
    #[error("the callback has no state")]
    MissingState,
    /// The `state` matches no sign-in this browser started (or it was used already).
    #[error("the callback state matches no pending sign-in")]
    UnknownState,
    /// The pending sign-in is too old.
    #[error("the pending sign-in expired")]
    Expired,
    /// The `iss` parameter names another issuer (a mix-up attack), or is missing where required.
    #[error("the callback issuer does not match")]
    IssuerMismatch,
    /// No `code` parameter.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// Logto (or the user) ended the sign-in with an OAuth error such as `access_denied`.
    #[error("sign-in ended with `{error}`")]
    Denied {
        /// The OAuth error code.
        error: String,
        /// Logto's human-readable description, if any.
        description: Option<String>,
    },
}
