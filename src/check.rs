//! `logto-actix check`: the configuration checked against the world, without starting the
//! server. One line per check (`ok …`, or `FAIL` with what is wrong and how to fix it, naming the
//! variable), then the URIs to register in Logto's console.

use std::time::Duration;

use logto_actix_web::logto_web::StoreError;
use logto_actix_web::util::error_chain;
use logto_actix_web::{DEFAULT_REDIS_TIMEOUT, RedisMode, RedisStore};
use logto_client::{LogtoClient, LogtoError};
use tokio::time::{Instant, timeout_at};

use crate::config::{Config, RedisSettings, SessionStoreKind};

/// How long past `LOGTO_HTTP_TIMEOUT_SECS` the whole check may take: each call to Logto is bounded
/// by that timeout, and the calls after discovery share this margin.
const MARGIN: Duration = Duration::from_secs(3);

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed; what was seen.
    Ok(String),
    /// It failed; what is wrong and how to fix it.
    Fail(String),
    /// Allowed, but probably not meant.
    Warn(String),
    /// Not checked, because an earlier check failed.
    Skip(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok(text) => write!(f, "ok    {text}"),
            Outcome::Fail(text) => write!(f, "FAIL  {text}"),
            Outcome::Warn(text) => write!(f, "warn  {text}"),
            Outcome::Skip(text) => write!(f, "skip  {text}"),
        }
    }
}

/// Runs every check and prints one line per check, then the URIs to register; `true` when every
/// check passed.
pub async fn run(config: &Config) -> bool {
    let outcomes = checks(config).await;
    for outcome in &outcomes {
        println!("{outcome}");
    }
    println!();
    println!("Register these in Logto's console (Applications > this app):");
    println!("  Redirect URI:                  {}", config.redirect_uri());
    println!("  Post sign-out redirect URI:    {}", config.post_logout_redirect_uri());
    println!("  Back-channel logout URI:       {}", config.backchannel_logout_uri());
    let failed = outcomes.iter().filter(|o| matches!(o, Outcome::Fail(_))).count();
    println!();
    if failed == 0 {
        println!("all checks passed");
    } else {
        println!("{failed} check(s) failed");
    }
    failed == 0
}

/// Every check, in the order they are printed.
pub async fn checks(config: &Config) -> Vec<Outcome> {
    let mut outcomes = base_url(config);
    let deadline = Instant::now() + config.logto.http_timeout + MARGIN;
    let (logto, redis) = tokio::join!(logto(config, deadline), redis(config));
    outcomes.extend(logto);
    outcomes.extend(redis);
    outcomes
}

fn base_url(config: &Config) -> Vec<Outcome> {
    let url = config.server.base_url.origin().ascii_serialization();
    let mut outcomes = vec![if config.is_https() {
        Outcome::Ok(format!(
            "APP_BASE_URL {url}: https, so cookies are Secure and HSTS is sent"
        ))
    } else {
        Outcome::Ok(format!(
            "APP_BASE_URL {url}: plain http on this machine, for local development only \
             (in production set APP_BASE_URL to the https URL people use)"
        ))
    }];
    outcomes.extend(config.warnings().into_iter().map(Outcome::Warn));
    outcomes
}

async fn logto(config: &Config, deadline: Instant) -> Vec<Outcome> {
    let client = match LogtoClient::new(config.client_config()) {
        Ok(client) => client,
        Err(e) => return vec![Outcome::Fail(format!("cannot build the HTTP client for Logto: {e}"))],
    };
    let issuer = client.issuer().to_owned();
    let discovery = match timeout_at(deadline, client.metadata()).await {
        Ok(Ok(_)) => Outcome::Ok(format!("LOGTO_ENDPOINT: discovery answers with the issuer {issuer}")),
        Ok(Err(e)) => {
            return vec![
                Outcome::Fail(format!(
                    "LOGTO_ENDPOINT: {}; check LOGTO_ENDPOINT (e.g. https://abc123.logto.app, without /oidc) and \
                     that Logto is reachable from here",
                    error_chain(&e)
                )),
                skipped(),
            ];
        }
        Err(_) => return vec![Outcome::Fail(too_slow("LOGTO_ENDPOINT: discovery")), skipped()],
    };
    let (keys, credentials) = tokio::join!(
        timeout_at(deadline, client.load_keys()),
        timeout_at(deadline, client.check_credentials())
    );
    let keys = match keys {
        Ok(Ok(0)) => Outcome::Fail(
            "LOGTO_ENDPOINT: Logto's JWKS holds no key this app can verify ID tokens with (ES384 or RS256)".into(),
        ),
        Ok(Ok(n)) => Outcome::Ok(format!("LOGTO_ENDPOINT: the JWKS holds {n} usable signing key(s)")),
        Ok(Err(e)) => Outcome::Fail(format!("LOGTO_ENDPOINT: the JWKS does not load: {}", error_chain(&e))),
        Err(_) => Outcome::Fail(too_slow("LOGTO_ENDPOINT: the JWKS")),
    };
    let credentials = match credentials {
        Ok(Ok(())) => Outcome::Ok(format!(
            "LOGTO_APP_ID and LOGTO_APP_SECRET: Logto accepts the credentials of app {}",
            config.logto.app_id.escape_debug()
        )),
        Ok(Err(LogtoError::Rejected { code, .. })) if code == "invalid_client" => Outcome::Fail(
            "LOGTO_APP_SECRET: Logto refused the client credentials (invalid_client); copy LOGTO_APP_ID and \
             LOGTO_APP_SECRET from the app's page in Logto's console (a \"Traditional web\" app)"
                .into(),
        ),
        Ok(Err(e)) => Outcome::Fail(format!(
            "LOGTO_APP_SECRET: the client credentials could not be checked: {}; check LOGTO_APP_ID and \
             LOGTO_APP_SECRET",
            error_chain(&e)
        )),
        Err(_) => Outcome::Fail(too_slow("LOGTO_APP_SECRET: the credentials check")),
    };
    vec![discovery, keys, credentials]
}

async fn redis(config: &Config) -> Option<Outcome> {
    let SessionStoreKind::Redis(settings) = &config.session.store else {
        return None;
    };
    // As the server connects at start-up: connection and PING, each bounded.
    let outcome = match RedisStore::connect_to(&settings.target(), "REDIS_URL", DEFAULT_REDIS_TIMEOUT).await {
        Ok(_) => Outcome::Ok(match &settings.mode {
            RedisMode::Standalone => "REDIS_URL: Redis answers PING".into(),
            RedisMode::Sentinel { master } => format!(
                "REDIS_URL, REDIS_SENTINEL_MASTER: the Sentinels name the primary of `{}`, and it answers PING",
                master.escape_debug()
            ),
            RedisMode::Cluster => "REDIS_URL: the Redis Cluster answers PING".into(),
        }),
        Err(e) => Outcome::Fail(format!(
            "REDIS_URL: Redis cannot be used ({e}); {}",
            redis_hint(&e, settings)
        )),
    };
    Some(outcome)
}

/// What to check when Redis cannot be used, by the cause: the CA for a certificate, the
/// credentials for a refused password, else where Redis runs.
pub fn redis_hint(error: &StoreError, settings: &RedisSettings) -> &'static str {
    let what = error.what.as_str();
    if what.starts_with("TLS:") && what.contains("another host name") {
        "check the host name in REDIS_URL: it must be one Redis's certificate names"
    } else if what.starts_with("TLS:") && settings.ca.is_some() {
        "check REDIS_CA_FILE: it must hold the CA that signed Redis's certificate"
    } else if what.starts_with("TLS:") {
        "set REDIS_CA_FILE to the CA that signed Redis's certificate (it is neither in the platform's store nor in the bundled roots)"
    } else if what.contains("user name or password") || what.contains("needs a password") {
        "check the user and password in REDIS_URL (redis://user:password@host:port)"
    } else {
        match settings.mode {
            RedisMode::Sentinel { .. } => {
                "check REDIS_URL (the Sentinels), REDIS_SENTINEL_MASTER and that they run and are reachable from here"
            }
            _ => "check REDIS_URL and that Redis runs and is reachable from here",
        }
    }
}

fn skipped() -> Outcome {
    Outcome::Skip("the JWKS and the client credentials (LOGTO_APP_ID, LOGTO_APP_SECRET): they need discovery".into())
}

fn too_slow(what: &str) -> String {
    format!("{what} did not answer in time; check that Logto is reachable from here, or raise LOGTO_HTTP_TIMEOUT_SECS")
}
