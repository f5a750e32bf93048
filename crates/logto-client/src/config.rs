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

/// The Logto application this client signs in with: a "Traditional web" application. Built with
/// [`LogtoConfig::builder`]; read through its getters.
///
/// ```
/// use logto_client::{ClientSecret, LogtoConfig, Url};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = LogtoConfig::builder(
///     Url::parse("https://abc123.logto.app")?,
///     "my-app-id",
///     ClientSecret::new("my-app-secret"),
///     Url::parse("https://app.example.com/callback")?,
/// )
/// .scopes(["email"])
/// .post_sign_out_redirect_uri(Url::parse("https://app.example.com/")?)
/// .build();
/// assert_eq!(config.issuer(), "https://abc123.logto.app/oidc");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct LogtoConfig {
    pub(crate) endpoint: Url,
    pub(crate) app_id: String,
    pub(crate) app_secret: ClientSecret,
    pub(crate) redirect_uri: Url,
    pub(crate) post_sign_out_redirect_uri: Option<Url>,
    pub(crate) scopes: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) timeout: Duration,
}

/// Builds a [`LogtoConfig`]: the required values first, each optional one by its method.
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the configuration"]
pub struct LogtoConfigBuilder {
    config: LogtoConfig,
}

impl LogtoConfigBuilder {
    /// Where Logto sends the browser back after sign-out; registered in Logto. None by default.
    pub fn post_sign_out_redirect_uri(mut self, uri: Url) -> Self {
        self.config.post_sign_out_redirect_uri = Some(uri);
        self
    }

    /// Scopes requested besides [`BASE_SCOPES`], e.g. `email`, `identities`, `roles`,
    /// [`ORGANIZATIONS_SCOPE`]. None by default.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.config.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// API resource indicators requested at sign-in. None by default.
    pub fn resources<S: Into<String>>(mut self, resources: impl IntoIterator<Item = S>) -> Self {
        self.config.resources = resources.into_iter().map(Into::into).collect();
        self
    }

    /// The `prompt` of every sign-in ([`Prompt::Consent`] by default, which a refresh token
    /// needs); `None` sends none.
    pub fn prompt(mut self, prompt: Option<Prompt>) -> Self {
        self.config.prompt = prompt;
        self
    }

    /// Timeout of each call to Logto (used when the client builds its own HTTP client); 10 s by
    /// default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// The configuration.
    pub fn build(self) -> LogtoConfig {
        self.config
    }
}

impl LogtoConfig {
    /// Starts a configuration with the required values: Logto's endpoint (e.g.
    /// `https://abc123.logto.app`; the issuer is `{endpoint}/oidc`), the application's App ID and
    /// App secret, and the redirect URI registered in Logto. Without more: no extra scopes or
    /// resources, `prompt=consent`, a 10 s timeout.
    pub fn builder(
        endpoint: Url,
        app_id: impl Into<String>,
        app_secret: ClientSecret,
        redirect_uri: Url,
    ) -> LogtoConfigBuilder {
        LogtoConfigBuilder {
            config: Self {
                endpoint,
                app_id: app_id.into(),
                app_secret,
                redirect_uri,
                post_sign_out_redirect_uri: None,
                scopes: Vec::new(),
                resources: Vec::new(),
                prompt: Some(Prompt::Consent),
                timeout: Duration::from_secs(10),
            },
        }
    }

    /// Logto's endpoint, e.g. `https://abc123.logto.app`.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The application's App ID.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The application's App secret.
    pub fn app_secret(&self) -> &ClientSecret {
        &self.app_secret
    }

    /// Where Logto sends the browser back after sign-in.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Where Logto sends the browser back after sign-out, if set.
    pub fn post_sign_out_redirect_uri(&self) -> Option<&Url> {
        self.post_sign_out_redirect_uri.as_ref()
    }

    /// The scopes configured besides [`BASE_SCOPES`] ([`LogtoConfig::all_scopes`] has them all).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The API resource indicators configured.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The `prompt` of every sign-in.
    pub fn prompt(&self) -> Option<Prompt> {
        self.prompt
    }

    /// Timeout of each call to Logto.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
