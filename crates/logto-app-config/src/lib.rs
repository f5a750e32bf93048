//! Typed configuration of the Logto sign-in apps (the actix app and the axum example), read once
//! from the environment and validated at start-up. Framework-free, so both binaries read the
//! same variables with the same checks and the same error lines; with them, what else both
//! binaries decide alike: [`log_hints`], the [`site`]'s rules and [`readiness`].
//!
//! Each section reads its own variables. Every problem is collected, so an operator sees all of
//! them in one run, one line each, naming the variable and how to fix it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use url::Url;

use logto_client::{Clock, LogtoClient, LogtoConfig, SystemClock};

mod api;
mod base_url;
pub mod launch;
pub mod log_hints;
mod logto;
mod metrics;
mod reader;
pub mod readiness;
mod server;
mod session;
pub mod shutdown;
pub mod site;

pub use api::ApiSettings;
pub use base_url::is_loopback;
pub use logto::{
    DEFAULT_HTTP_TIMEOUT, DEFAULT_USERINFO_MAX_AGE, HTTP_TIMEOUT_SECS, LogtoSettings, USERINFO_MAX_AGE_SECS,
};
pub use server::ServerSettings;
pub use session::{
    DEFAULT_SESSION_MAX_AGE, RedisSettings, SESSION_MAX_AGE_SECS, SESSION_SECRET_MIN_LEN, SessionSettings,
    SessionStoreKind,
};

use reader::Reader;

/// A secret value that never appears in `Debug` output or logs.
#[derive(Clone)]
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

/// The whole application configuration, by section.
#[derive(Clone, Debug)]
pub struct Config {
    /// The Logto application and what is asked of Logto (`LOGTO_*`).
    pub logto: LogtoSettings,
    /// The listener and the public URL (`APP_BASE_URL`, `HOST`, `PORT`).
    pub server: ServerSettings,
    /// The session cookie's key, the store and the sessions' lifetime (`SESSION_*`, `REDIS_URL`).
    pub session: SessionSettings,
    /// This app's own API, when `LOGTO_API_RESOURCE` is set.
    pub api: Option<ApiSettings>,
    /// Where Prometheus metrics are served, when `METRICS_ADDR` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the app reads the time: the system clock (no variable sets it); tests put in a
    /// clock they move forward instead of waiting out token lifetimes and maximum ages.
    pub time: TimeSource,
}

/// The clock every expiry of the app reads (token freshness, session and userinfo ages, through
/// the Logto client): one time source, so that tests can move it.
#[derive(Clone)]
pub struct TimeSource(pub Arc<dyn Clock>);

impl Default for TimeSource {
    fn default() -> Self {
        Self(Arc::new(SystemClock))
    }
}

impl fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeSource(now = {})", self.0.now())
    }
}

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
        let mut r = Reader::new(&lookup);
        // Every section is read whatever the others found, so that every problem is reported.
        let logto = LogtoSettings::read(&mut r);
        let (server, listen) = ServerSettings::read(&mut r);
        let session = SessionSettings::read(&mut r);
        let api = ApiSettings::read(&mut r);
        let metrics_addr = metrics::read(&mut r, listen);
        match (logto, server, session, api, metrics_addr) {
            (Some(logto), Some(server), Some(session), Some(api), Some(metrics_addr)) if r.is_clean() => Ok(Config {
                logto,
                server,
                session,
                api,
                metrics_addr,
                time: TimeSource::default(),
            }),
            _ => Err(ConfigErrors(r.into_errors())),
        }
    }

    /// What is allowed but probably not meant, one line each, for the log at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let base_url = &self.server.base_url;
        let port = self.server.listen.port();
        // Behind a proxy the ports differ by design; on a loopback host the browser talks to the
        // app directly, so a different port means the redirect URI points nowhere.
        if is_loopback(base_url) && base_url.port_or_known_default() != Some(port) {
            warnings.push(format!(
                "PORT is {port} but APP_BASE_URL ({}) is on another port: Logto will send the browser back to {}",
                base_url.origin().ascii_serialization(),
                self.redirect_uri()
            ));
        }
        warnings
    }

    /// The OpenID issuer: `{LOGTO_ENDPOINT}/oidc`, as the Logto client derives it.
    pub fn issuer(&self) -> String {
        self.client_config().issuer()
    }

    /// Where Logto sends the browser back after sign-in: `{APP_BASE_URL}/callback`.
    pub fn redirect_uri(&self) -> Url {
        self.server.url("/callback")
    }

    /// Where Logto sends the browser back after sign-out: `{APP_BASE_URL}/`.
    pub fn post_logout_redirect_uri(&self) -> Url {
        self.server.url("/")
    }

    /// Where Logto posts back-channel logout tokens: `{APP_BASE_URL}/backchannel-logout`.
    pub fn backchannel_logout_uri(&self) -> Url {
        self.server.url("/backchannel-logout")
    }

    /// Whether the app is served over https (so cookies must be `Secure`, and HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.server.is_https()
    }

    /// The Logto client of this configuration, reading the time from [`Config::time`].
    pub fn logto_client(&self) -> Result<LogtoClient, logto_client::LogtoError> {
        Ok(LogtoClient::new(self.client_config())?.with_clock(self.time.0.clone()))
    }

    /// What the Logto client needs: the application, its redirect URIs, scopes and resources.
    pub fn client_config(&self) -> LogtoConfig {
        let logto = &self.logto;
        LogtoConfig::builder(
            logto.endpoint.clone(),
            logto.app_id.clone(),
            logto.app_secret.clone(),
            self.redirect_uri(),
        )
        .post_sign_out_redirect_uri(self.post_logout_redirect_uri())
        .scopes(logto.scopes.clone())
        .resources(logto.resources.clone())
        .timeout(logto.http_timeout)
        .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

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
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.logto.scopes, vec!["email", "identities"]);
        assert!(config.logto.resources.is_empty());
        assert!(matches!(config.session.store, SessionStoreKind::Cookie));
        assert!(config.session.secret.is_none());
        assert!(!config.is_https());
        assert_eq!(config.logto.http_timeout, Duration::from_secs(10));
        assert_eq!(config.session.max_age, Duration::from_secs(1_209_600));
        assert_eq!(config.logto.userinfo_max_age, Duration::from_secs(60));
        assert_eq!(config.api, None);
        assert_eq!(config.metrics_addr, None);
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn durations_are_configurable_within_bounds() {
        assert_eq!(
            with(&[("LOGTO_HTTP_TIMEOUT_SECS", "3")])
                .unwrap()
                .logto
                .http_timeout
                .as_secs(),
            3
        );
        assert_eq!(
            with(&[("LOGTO_HTTP_TIMEOUT_SECS", " 300 ")])
                .unwrap()
                .logto
                .http_timeout
                .as_secs(),
            300
        );
        assert_eq!(
            with(&[("LOGTO_HTTP_TIMEOUT_SECS", "")]).unwrap().logto.http_timeout,
            DEFAULT_HTTP_TIMEOUT
        );
        assert_eq!(
            with(&[("SESSION_MAX_AGE_SECS", "5")])
                .unwrap()
                .session
                .max_age
                .as_secs(),
            5
        );
        assert_eq!(
            with(&[("LOGTO_USERINFO_MAX_AGE_SECS", "0")])
                .unwrap()
                .logto
                .userinfo_max_age,
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
    fn every_section_reports_its_problems_in_the_same_run() {
        // METRICS_ADDR is checked against the listen address even though APP_BASE_URL, in the
        // same section as HOST and PORT, is wrong.
        assert_eq!(
            refused(&[
                ("LOGTO_SCOPES", "email a\"b"),
                ("APP_BASE_URL", "https://app.example.test/app"),
                ("SESSION_MAX_AGE_SECS", "0"),
                ("LOGTO_API_RESOURCE", "api"),
                ("METRICS_ADDR", "127.0.0.1:3000"),
            ]),
            [
                "LOGTO_SCOPES",
                "APP_BASE_URL",
                "SESSION_MAX_AGE_SECS",
                "LOGTO_API_RESOURCE",
                "METRICS_ADDR"
            ]
        );
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
    fn every_redis_problem_is_reported_in_one_run() {
        assert_eq!(
            refused(&[
                ("SESSION_STORE", "redis"),
                ("REDIS_URL", "redis://a:6379,redis://b:6379"),
                ("REDIS_MODE", "sentinel"),
                ("REDIS_CA_FILE", "/nonexistent/ca.pem"),
            ]),
            ["REDIS_SENTINEL_MASTER", "REDIS_CA_FILE"]
        );
        assert_eq!(
            refused(&[
                ("SESSION_STORE", "redis"),
                ("REDIS_URL", "redis://a:6379,redis://b:6379"),
                ("REDIS_MODE", "primary"),
            ]),
            ["REDIS_MODE"]
        );
        assert_eq!(
            refused(&[
                ("SESSION_STORE", "redis"),
                ("REDIS_URL", "redis://a:6379,redis://b:6379")
            ]),
            ["REDIS_URL"]
        );
        let config = with(&[
            ("SESSION_STORE", "redis"),
            ("REDIS_URL", "rediss://u:p@a:6379, rediss://u:p@b:6379"),
            ("REDIS_MODE", "sentinel"),
            ("REDIS_SENTINEL_MASTER", "mymaster"),
        ])
        .unwrap();
        let SessionStoreKind::Redis(redis) = &config.session.store else {
            panic!("a Redis store");
        };
        let target = redis.target();
        assert_eq!(target.urls, ["rediss://u:p@a:6379", "rediss://u:p@b:6379"]);
        assert_eq!(
            target.mode,
            logto_web::RedisMode::Sentinel {
                master: "mymaster".into()
            }
        );
        let shown = format!("{:?}", config.session);
        assert!(!shown.contains("u:p@"), "{shown}");
    }

    #[test]
    fn redis_store_needs_a_redis_url() {
        assert_eq!(refused(&[("SESSION_STORE", "redis")]), ["REDIS_URL"]);
        assert!(matches!(
            with(&[("SESSION_STORE", "redis"), ("REDIS_URL", "redis://127.0.0.1:6379")])
                .unwrap()
                .session
                .store,
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
        assert_eq!(config.logto.scopes, vec!["email", "roles"]);
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
    fn the_api_organization_policy_is_refuse_unless_set_and_checked() {
        use logto_web::OrganizationPolicy;
        let api = |policy: Option<&'static str>| {
            let mut vars = vec![("LOGTO_API_RESOURCE", "https://api.example.com")];
            vars.extend(policy.map(|p| ("LOGTO_API_ORGANIZATIONS", p)));
            with(&vars).unwrap().api.unwrap().organizations
        };
        assert_eq!(api(None), OrganizationPolicy::Refuse);
        assert_eq!(api(Some("accept")), OrganizationPolicy::Accept);
        assert_eq!(api(Some("Require")), OrganizationPolicy::Require);
        assert_eq!(
            refused(&[
                ("LOGTO_API_RESOURCE", "https://api.example.com"),
                ("LOGTO_API_ORGANIZATIONS", "yes")
            ]),
            ["LOGTO_API_ORGANIZATIONS"]
        );
        assert_eq!(
            refused(&[("LOGTO_API_ORGANIZATIONS", "accept")]),
            ["LOGTO_API_ORGANIZATIONS"]
        );
        // A wrong value is one problem, whether or not the API is on.
        assert_eq!(
            refused(&[
                ("LOGTO_API_ORGANIZATIONS", "maybe"),
                ("LOGTO_API_REQUIRED_SCOPES", "read:a")
            ]),
            ["LOGTO_API_ORGANIZATIONS", "LOGTO_API_REQUIRED_SCOPES"]
        );
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
