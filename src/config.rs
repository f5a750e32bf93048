//! Typed configuration, read once from the environment and validated at start-up.
//!
//! Every problem is collected, so an operator sees all of them in one run, one line each, naming
//! the variable and how to fix it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use url::{Host, Url};

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

/// This app's own JSON API (`/api/…`), protected by Logto access tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// The API resource indicator its access tokens must be for (`LOGTO_API_RESOURCE`).
    pub resource: String,
    /// Scopes an access token must carry for `/api/me` (`LOGTO_API_REQUIRED_SCOPES`).
    pub required_scopes: Vec<String>,
}

/// The whole application configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Logto endpoint, e.g. `https://abc123.logto.app`.
    pub logto_endpoint: Url,
    /// App ID of the Logto "Traditional web" application.
    pub app_id: String,
    /// App secret of that application.
    pub app_secret: ClientSecret,
    /// Public URL of this app: an origin, without a path.
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
    /// Absolute lifetime of a session from sign-in.
    pub session_max_age: Duration,
    /// How old the userinfo shown on `/profile` may be (zero: read on every view).
    pub userinfo_max_age: Duration,
    /// This app's own API, when `LOGTO_API_RESOURCE` is set.
    pub api: Option<ApiConfig>,
    /// Where Prometheus metrics are served, when `METRICS_ADDR` is set.
    pub metrics_addr: Option<SocketAddr>,
}

/// Timeout of each call to Logto when `LOGTO_HTTP_TIMEOUT_SECS` is not set.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepted `LOGTO_HTTP_TIMEOUT_SECS`: 0 would fail every call, and a timeout of minutes lets a
/// hanging Logto hold a worker's connections for that long.
pub const HTTP_TIMEOUT_SECS: RangeInclusive<u64> = 1..=300;

/// Minimum length of `SESSION_SECRET`, in characters. The whole secret is used: the cookie key
/// is derived from all of it.
pub const SESSION_SECRET_MIN_LEN: usize = 64;

/// `SESSION_MAX_AGE_SECS` when not set: 14 days, the lifetime of Logto's refresh tokens.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// Accepted `SESSION_MAX_AGE_SECS`: up to a year.
pub const SESSION_MAX_AGE_SECS: RangeInclusive<u64> = 1..=365 * 24 * 3600;

/// `LOGTO_USERINFO_MAX_AGE_SECS` when not set.
pub const DEFAULT_USERINFO_MAX_AGE: Duration = Duration::from_secs(60);

/// Accepted `LOGTO_USERINFO_MAX_AGE_SECS`: up to a day.
pub const USERINFO_MAX_AGE_SECS: RangeInclusive<u64> = 0..=24 * 3600;

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

/// Reads variables and collects every problem.
struct Reader<F> {
    lookup: F,
    errors: Vec<ConfigError>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    /// A variable's value; blank counts as unset (`.env` files often carry `NAME=`).
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn fail<T>(&mut self, variable: &'static str, problem: impl Into<String>) -> Option<T> {
        self.errors.push(ConfigError {
            variable,
            problem: problem.into(),
        });
        None
    }

    fn required(&mut self, name: &'static str, how: &str) -> Option<String> {
        match self.get(name) {
            Some(value) => Some(value),
            None => self.fail(name, format!("is not set; {how}")),
        }
    }

    /// A value parsed as `T`, or `default` when unset.
    fn parsed<T: FromStr>(&mut self, name: &'static str, default: T, expected: &str) -> Option<T> {
        match self.get(name) {
            None => Some(default),
            Some(raw) => match raw.parse() {
                Ok(value) => Some(value),
                Err(_) => self.fail(name, format!("`{}` is not {expected}", raw.escape_debug())),
            },
        }
    }

    /// A number of seconds within `range`, or `default` when unset.
    fn seconds(&mut self, name: &'static str, default: Duration, range: RangeInclusive<u64>) -> Option<Duration> {
        match self.get(name) {
            None => Some(default),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if range.contains(&secs) => Some(Duration::from_secs(secs)),
                _ => self.fail(
                    name,
                    format!(
                        "`{}` is not a number of seconds from {} to {}; leave it unset for {}",
                        raw.escape_debug(),
                        range.start(),
                        range.end(),
                        default.as_secs()
                    ),
                ),
            },
        }
    }

    /// An http(s) URL: https, or http for a loopback host only.
    fn base_url(&mut self, name: &'static str, raw: &str, example: &str) -> Option<Url> {
        match parse_base_url(raw) {
            Ok(url) => Some(url),
            Err(why) => self.fail(name, format!("{why}; e.g. {example}")),
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut r = Reader {
            lookup,
            errors: Vec::new(),
        };

        let logto_endpoint = r
            .required(
                "LOGTO_ENDPOINT",
                "set it to your Logto endpoint, e.g. https://abc123.logto.app",
            )
            .and_then(|raw| {
                r.base_url(
                    "LOGTO_ENDPOINT",
                    &raw,
                    "https://abc123.logto.app (from the Logto Console)",
                )
            });
        let logto_endpoint = match logto_endpoint {
            // The issuer pasted in place of the endpoint would make every URL `/oidc/oidc/...`.
            Some(url) if url.path().trim_end_matches('/').ends_with("/oidc") => r.fail(
                "LOGTO_ENDPOINT",
                format!(
                    "`{url}` is the issuer; set the endpoint without `/oidc`, e.g. {}",
                    url.as_str().trim_end_matches('/').trim_end_matches("/oidc")
                ),
            ),
            other => other,
        };
        let app_id = r.required(
            "LOGTO_APP_ID",
            "copy the App ID of your Traditional web application from the Logto Console",
        );
        let app_secret = r
            .required(
                "LOGTO_APP_SECRET",
                "copy the App secret of your Traditional web application from the Logto Console",
            )
            .map(ClientSecret::new);

        let app_base_url = match r.get("APP_BASE_URL") {
            None => parse_base_url("http://localhost:3000").ok(),
            Some(raw) => r.base_url(
                "APP_BASE_URL",
                &raw,
                "https://app.example.com (the public URL of this app)",
            ),
        };
        // Every route, cookie and redirect URI is at the root of the host.
        let app_base_url = match app_base_url {
            Some(url) if url.path() != "/" => r.fail(
                "APP_BASE_URL",
                format!(
                    "`{url}` has a path; the app is served at the root of its host: use {}",
                    url.origin().ascii_serialization()
                ),
            ),
            other => other,
        };

        let host = r.parsed(
            "HOST",
            IpAddr::from([127, 0, 0, 1]),
            "an IP address; use e.g. 127.0.0.1 or 0.0.0.0",
        );
        let port = r.parsed("PORT", 3000u16, "a port number; use a number from 0 to 65535");

        let session_secret = match r.get("SESSION_SECRET") {
            None => None,
            Some(raw) if raw.chars().count() < SESSION_SECRET_MIN_LEN => r.fail(
                "SESSION_SECRET",
                format!(
                    "is {} characters long; it needs at least {SESSION_SECRET_MIN_LEN} (e.g. the output of `openssl rand -hex 32`)",
                    raw.chars().count()
                ),
            ),
            Some(raw) => Some(Secret::new(raw)),
        };

        // Spaces separate scopes; commas are read as separators too, a common slip.
        let scopes = r
            .get("LOGTO_SCOPES")
            .map(|raw| split_words(&raw.replace(',', " ")))
            .unwrap_or_else(|| vec!["email".into(), "identities".into()]);
        for scope in &scopes {
            if !scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
                r.fail::<()>(
                    "LOGTO_SCOPES",
                    format!(
                        "`{}` is not a valid scope; separate scopes with spaces",
                        scope.escape_debug()
                    ),
                );
            }
        }
        let scopes = dedup(
            scopes
                .into_iter()
                .filter(|s| !BASE_SCOPES.contains(&s.as_str()))
                .collect(),
        );

        let resources = r
            .get("LOGTO_RESOURCES")
            .map(|raw| split_words(&raw))
            .unwrap_or_default();
        for resource in &resources {
            if Url::parse(resource).is_err() {
                r.fail::<()>(
                    "LOGTO_RESOURCES",
                    format!(
                        "`{}` is not an absolute URI; use the API identifier from the Logto Console, e.g. https://api.example.com",
                        resource.escape_debug()
                    ),
                );
            }
        }
        let resources = dedup(resources);

        let session_store = match r.get("SESSION_STORE").as_deref() {
            None | Some("cookie") => Some(SessionStoreKind::Cookie),
            Some("redis") => match r.get("REDIS_URL") {
                Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                    Some(SessionStoreKind::Redis { url: Secret::new(url) })
                }
                Some(_) => r.fail(
                    "REDIS_URL",
                    "must start with redis:// or rediss://, e.g. redis://127.0.0.1:6379",
                ),
                None => r.fail(
                    "REDIS_URL",
                    "is not set but SESSION_STORE=redis needs it, e.g. redis://127.0.0.1:6379",
                ),
            },
            Some(other) => r.fail(
                "SESSION_STORE",
                format!(
                    "`{}` is not a session store; use `cookie` or `redis`",
                    other.escape_debug()
                ),
            ),
        };

        let http_timeout = r.seconds("LOGTO_HTTP_TIMEOUT_SECS", DEFAULT_HTTP_TIMEOUT, HTTP_TIMEOUT_SECS);
        let session_max_age = r.seconds("SESSION_MAX_AGE_SECS", DEFAULT_SESSION_MAX_AGE, SESSION_MAX_AGE_SECS);
        let userinfo_max_age = r.seconds(
            "LOGTO_USERINFO_MAX_AGE_SECS",
            DEFAULT_USERINFO_MAX_AGE,
            USERINFO_MAX_AGE_SECS,
        );

        let api_required_scopes = r
            .get("LOGTO_API_REQUIRED_SCOPES")
            .map(|raw| dedup(split_words(&raw.replace(',', " "))))
            .unwrap_or_default();
        let api = match r.get("LOGTO_API_RESOURCE") {
            None if api_required_scopes.is_empty() => Some(None),
            None => r.fail(
                "LOGTO_API_REQUIRED_SCOPES",
                "is set but LOGTO_API_RESOURCE is not; set the API resource indicator, e.g. https://api.example.com",
            ),
            Some(resource) if Url::parse(&resource).is_ok() => Some(Some(ApiConfig {
                resource,
                required_scopes: api_required_scopes,
            })),
            Some(resource) => r.fail(
                "LOGTO_API_RESOURCE",
                format!(
                    "`{}` is not an absolute URI; use the API identifier from the Logto Console, e.g. https://api.example.com",
                    resource.escape_debug()
                ),
            ),
        };

        let metrics_addr = match r.get("METRICS_ADDR") {
            None => Some(None),
            Some(raw) => match raw.parse::<SocketAddr>() {
                Ok(addr) if Some(addr.port()) == port && Some(addr.ip()) == host => r.fail(
                    "METRICS_ADDR",
                    "is the public listen address; metrics need a port of their own, e.g. 127.0.0.1:9100",
                ),
                Ok(addr) => Some(Some(addr)),
                Err(_) => r.fail(
                    "METRICS_ADDR",
                    format!(
                        "`{}` is not an address and port, e.g. 127.0.0.1:9100",
                        raw.escape_debug()
                    ),
                ),
            },
        };

        let (
            Some(logto_endpoint),
            Some(app_id),
            Some(app_secret),
            Some(app_base_url),
            Some(host),
            Some(port),
            Some(session_store),
            Some(http_timeout),
            Some(session_max_age),
            Some(userinfo_max_age),
            Some(api),
            Some(metrics_addr),
        ) = (
            logto_endpoint,
            app_id,
            app_secret,
            app_base_url,
            host,
            port,
            session_store,
            http_timeout,
            session_max_age,
            userinfo_max_age,
            api,
            metrics_addr,
        )
        else {
            return Err(ConfigErrors(r.errors));
        };
        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        Ok(Config {
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
            session_max_age,
            userinfo_max_age,
            api,
            metrics_addr,
        })
    }

    /// What is allowed but probably not meant, one line each, for the log at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        // Behind a proxy the ports differ by design; on a loopback host the browser talks to the
        // app directly, so a different port means the redirect URI points nowhere.
        if is_loopback(&self.app_base_url) && self.app_base_url.port_or_known_default() != Some(self.port) {
            warnings.push(format!(
                "PORT is {} but APP_BASE_URL ({}) is on another port: Logto will send the browser back to {}",
                self.port,
                self.app_base_url.origin().ascii_serialization(),
                self.redirect_uri()
            ));
        }
        warnings
    }

    /// The OpenID issuer: `{LOGTO_ENDPOINT}/oidc`.
    pub fn issuer(&self) -> String {
        format!("{}/oidc", self.logto_endpoint.as_str().trim_end_matches('/'))
    }

    /// Where Logto sends the browser back after sign-in: `{APP_BASE_URL}/callback`.
    pub fn redirect_uri(&self) -> Url {
        self.app_url("/callback")
    }

    /// Where Logto sends the browser back after sign-out: `{APP_BASE_URL}/`.
    pub fn post_logout_redirect_uri(&self) -> Url {
        self.app_url("/")
    }

    /// Where Logto posts back-channel logout tokens: `{APP_BASE_URL}/backchannel-logout`.
    pub fn backchannel_logout_uri(&self) -> Url {
        self.app_url("/backchannel-logout")
    }

    /// A path of this app as a full URL.
    pub fn app_url(&self, path: &str) -> Url {
        let mut url = self.app_base_url.clone();
        url.set_path(path);
        url
    }

    /// Whether the app is served over https (so cookies must be `Secure`, and HSTS is sent).
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

/// Parses an http(s) URL without credentials, query or fragment. Plain http is allowed only for
/// loopback hosts (local development): anywhere else the client secret, codes and tokens would
/// travel in clear.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let shown = raw.escape_debug();
    let url = Url::parse(raw).map_err(|_| format!("`{shown}` is not a URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{shown}` must start with https://"));
    }
    if url.host().is_none() {
        return Err(format!("`{shown}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{shown}` must not carry credentials, a query or a fragment"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(format!(
            "`{shown}` must use https (http is only for localhost, 127.0.0.0/8 and [::1])"
        ));
    }
    Ok(url)
}

/// Whether a URL's host is this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigErrors> {
        let mut vars = REQUIRED.to_vec();
        vars.extend_from_slice(extra);
        config(&vars)
    }

    /// The variables named by the errors of a configuration.
    fn refused(extra: &[(&'static str, &'static str)]) -> Vec<&'static str> {
        with(extra).unwrap_err().0.iter().map(|e| e.variable).collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = config(&REQUIRED).unwrap();
        assert_eq!(config.issuer(), "https://abc123.logto.app/oidc");
        assert_eq!(config.redirect_uri().as_str(), "http://localhost:3000/callback");
        assert_eq!(config.post_logout_redirect_uri().as_str(), "http://localhost:3000/");
        assert_eq!(
            config.backchannel_logout_uri().as_str(),
            "http://localhost:3000/backchannel-logout"
        );
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.port, 3000);
        assert_eq!(config.scopes, vec!["email", "identities"]);
        assert!(config.resources.is_empty());
        assert_eq!(config.session_store, SessionStoreKind::Cookie);
        assert!(config.session_secret.is_none());
        assert!(!config.is_https());
        assert_eq!(config.http_timeout, Duration::from_secs(10));
        assert_eq!(config.session_max_age, Duration::from_secs(1_209_600));
        assert_eq!(config.userinfo_max_age, Duration::from_secs(60));
        assert_eq!(config.api, None);
        assert_eq!(config.metrics_addr, None);
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn durations_are_configurable_within_bounds() {
        assert_eq!(
            with(&[("LOGTO_HTTP_TIMEOUT_SECS", "3")])
                .unwrap()
                .http_timeout
                .as_secs(),
            3
        );
        assert_eq!(
            with(&[("LOGTO_HTTP_TIMEOUT_SECS", " 300 ")])
                .unwrap()
                .http_timeout
                .as_secs(),
            300
        );
        assert_eq!(
            with(&[("LOGTO_HTTP_TIMEOUT_SECS", "")]).unwrap().http_timeout,
            DEFAULT_HTTP_TIMEOUT
        );
        assert_eq!(
            with(&[("SESSION_MAX_AGE_SECS", "5")])
                .unwrap()
                .session_max_age
                .as_secs(),
            5
        );
        assert_eq!(
            with(&[("LOGTO_USERINFO_MAX_AGE_SECS", "0")]).unwrap().userinfo_max_age,
            Duration::ZERO
        );
        for bad in ["0", "301", "-1", "1.5", "10s", "ten"] {
            let errors = with(&[("LOGTO_HTTP_TIMEOUT_SECS", bad)]).unwrap_err();
            assert_eq!(errors.0.len(), 1, "{bad}");
            assert_eq!(errors.0[0].variable, "LOGTO_HTTP_TIMEOUT_SECS", "{bad}");
            assert!(errors.0[0].problem.contains("from 1 to 300"), "{bad}");
        }
        assert_eq!(refused(&[("SESSION_MAX_AGE_SECS", "0")]), ["SESSION_MAX_AGE_SECS"]);
        assert_eq!(
            refused(&[("LOGTO_USERINFO_MAX_AGE_SECS", "-1")]),
            ["LOGTO_USERINFO_MAX_AGE_SECS"]
        );
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
    fn http_is_refused_except_for_loopback_hosts() {
        assert_eq!(
            refused(&[("APP_BASE_URL", "http://app.example.test")]),
            ["APP_BASE_URL"]
        );
        let errors = config(&[
            ("LOGTO_ENDPOINT", "http://logto.example.test"),
            ("LOGTO_APP_ID", "app-id"),
            ("LOGTO_APP_SECRET", "app-secret"),
        ])
        .unwrap_err();
        assert_eq!(errors.0[0].variable, "LOGTO_ENDPOINT");
        assert!(errors.0[0].problem.contains("must use https"), "{errors}");
        for local in [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://127.1.2.3",
            "http://[::1]:3000",
            "https://app.example.test",
        ] {
            let mut vars = REQUIRED.to_vec();
            vars.push(("APP_BASE_URL", local));
            vars[0] = ("LOGTO_ENDPOINT", local);
            assert!(config(&vars).is_ok(), "{local}");
        }
        assert_eq!(
            refused(&[("APP_BASE_URL", "http://localhost.example.test")]),
            ["APP_BASE_URL"]
        );
    }

    #[test]
    fn a_base_url_with_a_path_or_the_issuer_as_endpoint_is_refused() {
        let errors = with(&[("APP_BASE_URL", "https://app.example.test/app")]).unwrap_err();
        assert_eq!(errors.0[0].variable, "APP_BASE_URL");
        assert!(errors.0[0].problem.contains("use https://app.example.test"), "{errors}");
        assert!(with(&[("APP_BASE_URL", "https://app.example.test/")]).is_ok());
        let errors = config(&[
            ("LOGTO_ENDPOINT", "https://abc123.logto.app/oidc/"),
            ("LOGTO_APP_ID", "app-id"),
            ("LOGTO_APP_SECRET", "app-secret"),
        ])
        .unwrap_err();
        assert_eq!(errors.0[0].variable, "LOGTO_ENDPOINT");
        assert!(
            errors.0[0].problem.contains("e.g. https://abc123.logto.app"),
            "{errors}"
        );
    }

    #[test]
    fn redis_store_needs_a_redis_url() {
        assert_eq!(refused(&[("SESSION_STORE", "redis")]), ["REDIS_URL"]);
        assert!(matches!(
            with(&[("SESSION_STORE", "redis"), ("REDIS_URL", "redis://127.0.0.1:6379")])
                .unwrap()
                .session_store,
            SessionStoreKind::Redis { .. }
        ));
    }

    #[test]
    fn scopes_are_split_on_spaces_and_commas_without_repeating_the_base_ones() {
        let config = with(&[
            ("LOGTO_SCOPES", "openid email,roles  email"),
            ("APP_BASE_URL", "https://app.example.com/"),
        ])
        .unwrap();
        assert_eq!(config.scopes, vec!["email", "roles"]);
        assert!(config.is_https());
        assert_eq!(config.redirect_uri().as_str(), "https://app.example.com/callback");
    }

    #[test]
    fn the_session_secret_counts_characters() {
        // 64 characters of two bytes each: 128 bytes, still 64 characters.
        let long: &'static str = "é".repeat(64).leak();
        assert!(with(&[("SESSION_SECRET", long)]).is_ok());
        let short: &'static str = "é".repeat(40).leak();
        let errors = with(&[("SESSION_SECRET", short)]).unwrap_err();
        assert!(errors.0[0].problem.contains("is 40 characters long"), "{errors}");
    }

    #[test]
    fn the_api_and_metrics_are_off_unless_set() {
        let config = with(&[
            ("LOGTO_API_RESOURCE", "https://api.example.com"),
            ("LOGTO_API_REQUIRED_SCOPES", "read:messages write:messages"),
            ("METRICS_ADDR", "127.0.0.1:9100"),
        ])
        .unwrap();
        let api = config.api.unwrap();
        assert_eq!(api.resource, "https://api.example.com");
        assert_eq!(api.required_scopes, ["read:messages", "write:messages"]);
        assert_eq!(config.metrics_addr, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(refused(&[("LOGTO_API_RESOURCE", "api")]), ["LOGTO_API_RESOURCE"]);
        assert_eq!(
            refused(&[("LOGTO_API_REQUIRED_SCOPES", "read:messages")]),
            ["LOGTO_API_REQUIRED_SCOPES"]
        );
        assert_eq!(refused(&[("METRICS_ADDR", "9100")]), ["METRICS_ADDR"]);
        assert_eq!(refused(&[("METRICS_ADDR", "127.0.0.1:3000")]), ["METRICS_ADDR"]);
    }

    #[test]
    fn a_port_other_than_the_local_base_urls_is_warned_about() {
        let config = with(&[("PORT", "3001")]).unwrap();
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("PORT is 3001"), "{warnings:?}");
        // Behind a proxy the ports differ by design.
        let config = with(&[("PORT", "3001"), ("APP_BASE_URL", "https://app.example.com")]).unwrap();
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = with(&[(
            "SESSION_SECRET",
            "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret-s3cret-s3cret-s3cret-64",
        )])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("app-secret") && !debug.contains("s3cret"), "{debug}");
    }
}
