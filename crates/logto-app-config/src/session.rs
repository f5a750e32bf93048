//! Where sessions live and how long they last (`SESSION_*`, `REDIS_URL`, `REDIS_MODE`,
//! `REDIS_SENTINEL_MASTER`, `REDIS_CA_FILE`).

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use logto_web::{RedisMode, RedisTarget};

use super::Secret;
use super::reader::Reader;

/// Minimum length of `SESSION_SECRET`, in characters. The whole secret is used: the cookie key
/// is derived from all of it.
pub const SESSION_SECRET_MIN_LEN: usize = 64;

/// `SESSION_MAX_AGE_SECS` when not set: the web core's default, 14 days (the lifetime of Logto's
/// refresh tokens).
pub use logto_web::limits::DEFAULT_SESSION_MAX_AGE;

/// Accepted `SESSION_MAX_AGE_SECS`: up to a year.
pub const SESSION_MAX_AGE_SECS: RangeInclusive<u64> = 1..=365 * 24 * 3600;

/// Where session state lives.
#[derive(Clone, Debug)]
pub enum SessionStoreKind {
    /// Everything in the encrypted, signed cookie.
    Cookie,
    /// The cookie holds only a session id; the state lives in Redis.
    Redis(RedisSettings),
}

impl SessionStoreKind {
    /// The store's name as `SESSION_STORE` spells it: `cookie` or `redis`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Redis(_) => "redis",
        }
    }
}

/// How to reach Redis (`REDIS_URL`, `REDIS_MODE`, `REDIS_SENTINEL_MASTER`, `REDIS_CA_FILE`).
#[derive(Clone, Debug)]
pub struct RedisSettings {
    /// The URL(s) as set: one server, the Sentinels or the Cluster's seed nodes, comma-separated
    /// (may hold a password).
    pub url: Secret,
    /// Standalone, Sentinel (with the master's name) or Cluster.
    pub mode: RedisMode,
    /// The private CA to trust for `rediss://`, and its PEM as read at start-up.
    pub ca: Option<(PathBuf, Vec<u8>)>,
}

impl RedisSettings {
    /// What the session store connects to.
    pub fn target(&self) -> RedisTarget {
        RedisTarget {
            urls: split_urls(self.url.expose()),
            mode: self.mode.clone(),
            ca_pem: self.ca.as_ref().map(|(_, pem)| pem.clone()),
        }
    }
}

fn split_urls(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The session cookie's key, the store and the sessions' lifetime.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// Key material for the session cookie; `None` means a random key per start (`SESSION_SECRET`).
    pub secret: Option<Secret>,
    /// Where session state lives (`SESSION_STORE`, `REDIS_URL`).
    pub store: SessionStoreKind,
    /// Absolute lifetime of a session from sign-in (`SESSION_MAX_AGE_SECS`).
    pub max_age: Duration,
}

impl SessionSettings {
    /// Reads the section; `None` when a value is wrong (the reader has the problems).
    pub(super) fn read(r: &mut Reader<'_>) -> Option<Self> {
        let secret = secret(r);
        let store = store(r);
        let max_age = r.seconds("SESSION_MAX_AGE_SECS", DEFAULT_SESSION_MAX_AGE, SESSION_MAX_AGE_SECS);
        Some(Self {
            secret: secret?,
            store: store?,
            max_age: max_age?,
        })
    }
}

/// `SESSION_SECRET`: unset (a random key), or at least [`SESSION_SECRET_MIN_LEN`] characters.
fn secret(r: &mut Reader<'_>) -> Option<Option<Secret>> {
    let Some(raw) = r.get("SESSION_SECRET") else {
        return Some(None);
    };
    let length = raw.chars().count();
    if length < SESSION_SECRET_MIN_LEN {
        return r.fail(
            "SESSION_SECRET",
            format!(
                "is {length} characters long; it needs at least {SESSION_SECRET_MIN_LEN} (e.g. the output of `openssl rand -hex 32`)"
            ),
        );
    }
    Some(Some(Secret::new(raw)))
}

/// `SESSION_STORE`, and the `REDIS_*` settings when the store is Redis.
fn store(r: &mut Reader<'_>) -> Option<SessionStoreKind> {
    match r.get("SESSION_STORE").as_deref() {
        None | Some("cookie") => Some(SessionStoreKind::Cookie),
        Some("redis") => redis(r).map(SessionStoreKind::Redis),
        Some(other) => r.fail(
            "SESSION_STORE",
            format!(
                "`{}` is not a session store; use `cookie` or `redis`",
                other.escape_debug()
            ),
        ),
    }
}

/// Every `REDIS_*` problem at once, each naming its variable.
fn redis(r: &mut Reader<'_>) -> Option<RedisSettings> {
    let mode = redis_mode(r);
    let url = redis_url(r, mode.as_ref());
    let ca = redis_ca(r, url.as_deref());
    Some(RedisSettings {
        url: Secret::new(url?),
        mode: mode?,
        ca: ca?,
    })
}

/// `REDIS_MODE` (and `REDIS_SENTINEL_MASTER` with `sentinel`).
fn redis_mode(r: &mut Reader<'_>) -> Option<RedisMode> {
    let master = r.get("REDIS_SENTINEL_MASTER").filter(|m| !m.trim().is_empty());
    match r.get("REDIS_MODE").as_deref() {
        None | Some("standalone") => Some(RedisMode::Standalone),
        Some("cluster") => Some(RedisMode::Cluster),
        Some("sentinel") => match master {
            Some(master) => Some(RedisMode::Sentinel { master }),
            None => r.fail(
                "REDIS_SENTINEL_MASTER",
                "is not set but REDIS_MODE=sentinel needs it: the master's name in Sentinel, e.g. mymaster",
            ),
        },
        Some(other) => r.fail(
            "REDIS_MODE",
            format!(
                "`{}` is not a Redis mode; use `standalone`, `sentinel` or `cluster`",
                other.escape_debug()
            ),
        ),
    }
}

/// `REDIS_URL`: one URL, or in Sentinel and Cluster mode several, comma-separated.
fn redis_url(r: &mut Reader<'_>, mode: Option<&RedisMode>) -> Option<String> {
    let Some(raw) = r.get("REDIS_URL") else {
        return r.fail(
            "REDIS_URL",
            "is not set but SESSION_STORE=redis needs it, e.g. redis://127.0.0.1:6379",
        );
    };
    let urls = split_urls(&raw);
    if urls.is_empty() {
        return r.fail("REDIS_URL", "is empty; e.g. redis://127.0.0.1:6379");
    }
    // Each URL is named by its position: it may hold a password.
    for (at, url) in urls.iter().enumerate() {
        let scheme_ok = url.starts_with("redis://") || url.starts_with("rediss://");
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()));
        if !scheme_ok || parsed.is_none() {
            return r.fail(
                "REDIS_URL",
                format!(
                    "URL {} of {} must be redis://[user:password@]host:port[/db] or rediss://… (TLS), e.g. \
                     redis://127.0.0.1:6379",
                    at + 1,
                    urls.len()
                ),
            );
        }
    }
    if urls.len() > 1 && mode == Some(&RedisMode::Standalone) {
        return r.fail(
            "REDIS_URL",
            format!(
                "lists {} URLs but REDIS_MODE is standalone; set REDIS_MODE=sentinel or cluster, or give one URL",
                urls.len()
            ),
        );
    }
    if urls.iter().any(|u| u.starts_with("rediss://")) && urls.iter().any(|u| u.starts_with("redis://")) {
        return r.fail(
            "REDIS_URL",
            "mixes redis:// and rediss://; use one of them for every URL",
        );
    }
    Some(raw)
}

/// `REDIS_CA_FILE`: a readable PEM file with at least one certificate, for `rediss://`.
fn redis_ca(r: &mut Reader<'_>, url: Option<&str>) -> Option<Option<(PathBuf, Vec<u8>)>> {
    let Some(path) = r.get("REDIS_CA_FILE").filter(|p| !p.trim().is_empty()) else {
        return Some(None);
    };
    if url.is_some_and(|u| !u.contains("rediss://")) {
        return r.fail(
            "REDIS_CA_FILE",
            "is set but REDIS_URL does not use TLS; use rediss://… or unset REDIS_CA_FILE",
        );
    }
    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(e) => {
            return r.fail(
                "REDIS_CA_FILE",
                format!("`{}` cannot be read: {e}", path.escape_debug()),
            );
        }
    };
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return r.fail(
            "REDIS_CA_FILE",
            format!(
                "`{}` holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA that signed Redis's certificate",
                path.escape_debug()
            ),
        );
    }
    Some(Some((PathBuf::from(path), pem)))
}
