//! Typed configuration, read once from the environment and validated at start-up.
//!
//! Every problem is collected, so an operator sees all of them in one run, one line each.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use logto_client::{BASE_SCOPES, ClientSecret, LogtoConfig};

/// A secret value that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where session state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionStoreKind {
    /// Everything in the encrypted, signed cookie.
    Cookie,
    /// The cookie holds only a session id; the state lives in Redis.
    Redis {
        /// Connection URL, e.g. `redis://127.0.0.1:6379`.
        url: Secret,
    },
}

/// The whole application configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Logto endpoint without trailing slash, e.g. `https://abc123.logto.app`.
    pub logto_endpoint: Url,
    /// App ID of the Logto "Traditional web" application.
    pub app_id: String,
    /// App secret of that application.
    pub app_secret: ClientSecret,
    /// Public URL of this app, without trailing slash.
    pub app_base_url: Url,
    /// Listen address.
    pub host: IpAddr,
    /// Listen port.
    pub port: u16,
    /// Key material for the session cookie; `None` means a random key per start.
    pub session_secret: Option<Secret>,
    /// Extra scopes requested besides `openid offline_access profile`.
    pub scopes: Vec<String>,
    /// API resource indicators requested at sign-in.
    pub resources: Vec<String>,
    /// Where session state lives.
    pub session_store: SessionStoreKind,
    /// Timeout of every call to Logto.
    pub http_timeout: Duration,
}

/// Timeout of each call to Logto when `LOGTO_HTTP_TIMEOUT_SECS` is not set.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest accepted `LOGTO_HTTP_TIMEOUT_SECS`.
pub const MAX_HTTP_TIMEOUT_SECS: u64 = 300;

/// Minimum length of `SESSION_SECRET`: the cookie key needs 64 bytes.
pub const SESSION_SECRET_MIN_LEN: usize = 64;

/// One configuration problem, naming the variable and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong and how to fix it.
    pub problem: String,
}

/// All configuration problems found in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let mut fail = |variable: &'static str, problem: String| errors.push(ConfigError { variable, problem });
        // Blank values count as unset: `.env` files often carry `NAME=`.
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let logto_endpoint = match get("LOGTO_ENDPOINT") {
            None => {
                fail(
                    "LOGTO_ENDPOINT",
                    "is not set; set it to your Logto endpoint, e.g. https://abc123.logto.app".into(),
                );
                None
            }
            Some(raw) => match parse_base_url(&raw) {
                Ok(url) => Some(url),
                Err(why) => {
                    fail(
                        "LOGTO_ENDPOINT",
                        format!("{why}; use the endpoint shown in the Logto Console, e.g. https://abc123.logto.app"),
                    );
                    None
                }
            },
        };

        let app_id = get("LOGTO_APP_ID");
        if app_id.is_none() {
            fail(
                "LOGTO_APP_ID",
                "is not set; copy the App ID of your Traditional web application from the Logto Console".into(),
            );
        }
        let app_secret = get("LOGTO_APP_SECRET").map(ClientSecret::new);
        if app_secret.is_none() {
            fail(
                "LOGTO_APP_SECRET",
                "is not set; copy the App secret of your Traditional web application from the Logto Console".into(),
            );
        }

        let app_base_url = match get("APP_BASE_URL") {
            None => parse_base_url("http://localhost:3000").ok(),
            Some(raw) => match parse_base_url(&raw) {
                Ok(url) => Some(url),
                Err(why) => {
                    fail(
                        "APP_BASE_URL",
                        format!("{why}; set it to the public URL of this app, e.g. https://app.example.com"),
                    );
                    None
                }
            },
        };

        let host = match get("HOST") {
            None => Some(IpAddr::from([127, 0, 0, 1])),
            Some(raw) => match raw.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    fail(
                        "HOST",
                        format!("`{raw}` is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0"),
                    );
                    None
                }
            },
        };

        let port = match get("PORT") {
            None => Some(3000),
            Some(raw) => match raw.parse::<u16>() {
                Ok(port) => Some(port),
                Err(_) => {
                    fail(
                        "PORT",
                        format!("`{raw}` is not a port number; use a number from 0 to 65535"),
                    );
                    None
                }
            },
        };

        let session_secret = match get("SESSION_SECRET") {
            None => None,
            Some(raw) if raw.len() < SESSION_SECRET_MIN_LEN => {
                fail(
                    "SESSION_SECRET",
                    format!(
                        "is {} characters long; it needs at least {SESSION_SECRET_MIN_LEN} (e.g. the output of `openssl rand -hex 32`)",
                        raw.len()
                    ),
                );
                None
            }
            Some(raw) => Some(Secret::new(raw)),
        };

        let scopes = get("LOGTO_SCOPES")
            .map(|raw| split_words(&raw))
            .unwrap_or_else(|| vec!["email".into(), "identities".into()]);
        for scope in &scopes {
            if !scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
                fail(
                    "LOGTO_SCOPES",
                    format!("`{scope}` is not a valid scope; separate scopes with spaces"),
                );
            }
        }
        let scopes = dedup(
            scopes
                .into_iter()
                .filter(|s| !BASE_SCOPES.contains(&s.as_str()))
                .collect(),
        );

        let resources = get("LOGTO_RESOURCES").map(|raw| split_words(&raw)).unwrap_or_default();
        for resource in &resources {
            if Url::parse(resource).is_err() {
                fail(
                    "LOGTO_RESOURCES",
                    format!(
                        "`{resource}` is not an absolute URI; use the API identifier from the Logto Console, e.g. https://api.example.com"
                    ),
                );
            }
        }
        let resources = dedup(resources);

        let session_store = match get("SESSION_STORE").as_deref() {
            None | Some("cookie") => Some(SessionStoreKind::Cookie),
            Some("redis") => match get("REDIS_URL") {
                Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                    Some(SessionStoreKind::Redis { url: Secret::new(url) })
                }
                Some(_) => {
                    fail(
                        "REDIS_URL",
                        "must start with redis:// or rediss://, e.g. redis://127.0.0.1:6379".into(),
                    );
                    None
                }
                None => {
                    fail(
                        "REDIS_URL",
                        "is not set but SESSION_STORE=redis needs it, e.g. redis://127.0.0.1:6379".into(),
                    );
                    None
                }
            },
            Some(other) => {
                fail(
                    "SESSION_STORE",
                    format!("`{other}` is not a session store; use `cookie` or `redis`"),
                );
                None
            }
        };

        // Bounded both ways: 0 would fail every call, and a timeout of minutes lets a hanging Logto
        // hold a worker's connections for that long.
        let http_timeout = match get("LOGTO_HTTP_TIMEOUT_SECS") {
            None => Some(DEFAULT_HTTP_TIMEOUT),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if (1..=MAX_HTTP_TIMEOUT_SECS).contains(&secs) => Some(Duration::from_secs(secs)),
                _ => {
                    fail(
                        "LOGTO_HTTP_TIMEOUT_SECS",
                        format!(
                            "`{raw}` is not a number of seconds from 1 to {MAX_HTTP_TIMEOUT_SECS}; leave it unset for {}",
                            DEFAULT_HTTP_TIMEOUT.as_secs()
                        ),
                    );
                    None
                }
            },
        };

        match (
            logto_endpoint,
            app_id,
            app_secret,
            app_base_url,
            host,
            port,
            session_store,
            http_timeout,
        ) {
            (
                Some(logto_endpoint),
                Some(app_id),
                Some(app_secret),
                Some(app_base_url),
                Some(host),
                Some(port),
                Some(session_store),
                Some(http_timeout),
            ) if errors.is_empty() => Ok(Config {
                logto_endpoint,
                app_id,
                app_secret,
                app_base_url,
                host,
                port,
                session_secret,
                scopes,
                resources,
                session_store,
                http_timeout,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }

    /// The OpenID issuer: `{LOGTO_ENDPOINT}/oidc`.
    pub fn issuer(&self) -> String {
        format!("{}/oidc", base(&self.logto_endpoint))
    }

    /// Where Logto sends the browser back after sign-in: `{APP_BASE_URL}/callback`.
    pub fn redirect_uri(&self) -> Url {
        below(&self.app_base_url, "callback")
    }

    /// Where Logto sends the browser back after sign-out: `{APP_BASE_URL}/`.
    pub fn post_logout_redirect_uri(&self) -> Url {
        below(&self.app_base_url, "")
    }

    /// Whether the app is served over https (so cookies must be `Secure`).
    pub fn is_https(&self) -> bool {
        self.app_base_url.scheme() == "https"
    }

    /// What the Logto client needs: the application, its redirect URIs, scopes and resources.
    pub fn logto(&self) -> LogtoConfig {
        let mut config = LogtoConfig::new(
            self.logto_endpoint.clone(),
            self.app_id.clone(),
            self.app_secret.clone(),
            self.redirect_uri(),
        );
        config.post_sign_out_redirect_uri = Some(self.post_logout_redirect_uri());
        config.scopes = self.scopes.clone();
        config.resources = self.resources.clone();
        config.timeout = self.http_timeout;
        config
    }
}

/// A URL without its trailing slash, as a string.
fn base(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// `{base}/{path}`, whether or not `base` ends with a slash.
fn below(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    url
}

/// Parses an http(s) origin-with-optional-path, tolerating one trailing `/`.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| format!("`{raw}` is not a URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{raw}` must start with http:// or https://"));
    }
    if url.host_str().is_none() {
        return Err(format!("`{raw}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{raw}` must not carry credentials, a query or a fragment"));
    }
    Ok(url)
}

fn split_words(raw: &str) -> Vec<String> {
    raw.split_whitespace().map(str::to_owned).collect()
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const REQUIRED: [(&str, &str); 3] = [
        ("LOGTO_ENDPOINT", "https://abc123.logto.app/"),
        ("LOGTO_APP_ID", "app-id"),
        ("LOGTO_APP_SECRET", "app-secret"),
    ];

    #[test]
    fn defaults_follow_the_contract() {
        let config = config(&REQUIRED).unwrap();
        assert_eq!(config.issuer(), "https://abc123.logto.app/oidc");
        assert_eq!(config.redirect_uri().as_str(), "http://localhost:3000/callback");
        assert_eq!(config.post_logout_redirect_uri().as_str(), "http://localhost:3000/");
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.port, 3000);
        assert_eq!(config.scopes, vec!["email", "identities"]);
        assert!(config.resources.is_empty());
        assert_eq!(config.session_store, SessionStoreKind::Cookie);
        assert!(config.session_secret.is_none());
        assert!(!config.is_https());
        assert_eq!(config.http_timeout, Duration::from_secs(10));
    }

    #[test]
    fn the_timeout_of_calls_to_logto_is_configurable_within_bounds() {
        let with = |value: &'static str| {
            let mut vars = REQUIRED.to_vec();
            vars.push(("LOGTO_HTTP_TIMEOUT_SECS", value));
            config(&vars)
        };
        assert_eq!(with("3").unwrap().http_timeout, Duration::from_secs(3));
        assert_eq!(with(" 300 ").unwrap().http_timeout, Duration::from_secs(300));
        assert_eq!(with("").unwrap().http_timeout, DEFAULT_HTTP_TIMEOUT, "blank is unset");
        for bad in ["0", "301", "-1", "1.5", "10s", "ten"] {
            let errors = with(bad).unwrap_err();
            assert_eq!(errors.0.len(), 1, "{bad}");
            assert_eq!(errors.0[0].variable, "LOGTO_HTTP_TIMEOUT_SECS", "{bad}");
            assert!(errors.0[0].problem.contains("from 1 to 300"), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_once_with_its_variable() {
        let errors = config(&[
            ("PORT", "eighty"),
            ("SESSION_SECRET", "short"),
            ("SESSION_STORE", "disk"),
        ])
        .unwrap_err();
        let variables: Vec<_> = errors.0.iter().map(|e| e.variable).collect();
        assert_eq!(
            variables,
            [
                "LOGTO_ENDPOINT",
                "LOGTO_APP_ID",
                "LOGTO_APP_SECRET",
                "PORT",
                "SESSION_SECRET",
                "SESSION_STORE"
            ]
        );
        assert_eq!(errors.to_string().lines().count(), 6);
    }

    #[test]
    fn redis_store_needs_a_redis_url() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("SESSION_STORE", "redis"));
        assert_eq!(config(&vars).unwrap_err().0[0].variable, "REDIS_URL");
        vars.push(("REDIS_URL", "redis://127.0.0.1:6379"));
        assert!(matches!(
            config(&vars).unwrap().session_store,
            SessionStoreKind::Redis { .. }
        ));
    }

    #[test]
    fn base_scopes_are_not_repeated_and_https_is_detected() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("LOGTO_SCOPES", "openid email email roles"));
        vars.push(("APP_BASE_URL", "https://app.example.com/"));
        let config = config(&vars).unwrap();
        assert_eq!(config.scopes, vec!["email", "roles"]);
        assert!(config.is_https());
        assert_eq!(config.redirect_uri().as_str(), "https://app.example.com/callback");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = config(&REQUIRED).unwrap();
        assert!(!format!("{config:?}").contains("app-secret"));
    }
}
