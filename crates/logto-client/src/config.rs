//! What the client needs to know about the Logto application.

use std::time::Duration;

use url::Url;

use crate::secret::ClientSecret;

/// Scopes always requested: the ID token, a refresh token, and the basic profile.
pub const BASE_SCOPES: [&str; 3] = ["openid", "offline_access", "profile"];

/// The scope that lists the user's organizations and allows organization tokens.
pub const ORGANIZATIONS_SCOPE: &str = "urn:logto:scope:organizations";

/// The resource Logto requires at sign-in for organization tokens.
pub const ORGANIZATIONS_RESOURCE: &str = "urn:logto:resource:organizations";

/// The `prompt` sent with every sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `consent`: Logto issues a refresh token only with it (and `offline_access`).
    Consent,
    /// `login`: the user signs in again even when Logto's session is alive.
    Login,
}

impl Prompt {
    /// The value Logto expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::Consent => "consent",
            Prompt::Login => "login",
        }
    }
}

/// The Logto application this client signs in with: a "Traditional web" application.
#[derive(Clone)]
#[non_exhaustive]
pub struct LogtoConfig {
    /// Logto's endpoint, e.g. `https://abc123.logto.app`; the issuer is `{endpoint}/oidc`.
    pub endpoint: Url,
    /// The application's App ID.
    pub app_id: String,
    /// The application's App secret.
    pub app_secret: ClientSecret,
    /// Where Logto sends the browser back after sign-in; registered in Logto.
    pub redirect_uri: Url,
    /// Where Logto sends the browser back after sign-out; registered in Logto.
    pub post_sign_out_redirect_uri: Option<Url>,
    /// Scopes requested besides [`BASE_SCOPES`], e.g. `email`, `identities`, `roles`.
    pub scopes: Vec<String>,
    /// API resource indicators requested at sign-in.
    pub resources: Vec<String>,
    /// The `prompt` of every sign-in; [`Prompt::Consent`] by default, which a refresh token needs.
    pub prompt: Option<Prompt>,
    /// Timeout of each call to Logto (used when the client builds its own HTTP client).
    pub timeout: Duration,
}

impl LogtoConfig {
    /// A configuration with the required values; no extra scopes or resources, `prompt=consent`,
    /// a 10 s timeout.
    pub fn new(endpoint: Url, app_id: impl Into<String>, app_secret: ClientSecret, redirect_uri: Url) -> Self {
        Self {
            endpoint,
            app_id: app_id.into(),
            app_secret,
            redirect_uri,
            post_sign_out_redirect_uri: None,
            scopes: Vec::new(),
            resources: Vec::new(),
            prompt: Some(Prompt::Consent),
            timeout: Duration::from_secs(10),
        }
    }

    /// The OpenID issuer: `{endpoint}/oidc`.
    pub fn issuer(&self) -> String {
        format!("{}/oidc", self.endpoint.as_str().trim_end_matches('/'))
    }

    /// Whether organizations were requested ([`ORGANIZATIONS_SCOPE`] in the scopes).
    pub fn organizations_enabled(&self) -> bool {
        self.scopes.iter().any(|s| s == ORGANIZATIONS_SCOPE)
    }

    /// Every scope of a sign-in: [`BASE_SCOPES`], then the configured ones, without repeats.
    pub fn all_scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = BASE_SCOPES.iter().map(|s| s.to_string()).collect();
        for scope in &self.scopes {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        scopes
    }

    /// The resources sent at sign-in: the configured ones, plus the organizations resource that
    /// Logto needs for organization tokens.
    pub fn sign_in_resources(&self) -> Vec<String> {
        let mut resources = self.resources.clone();
        if self.organizations_enabled() && !resources.iter().any(|r| r == ORGANIZATIONS_RESOURCE) {
            resources.push(ORGANIZATIONS_RESOURCE.to_owned());
        }
        resources
    }
}

impl std::fmt::Debug for LogtoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogtoConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("scopes", &self.scopes)
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}
