//! Where sessions live and how long they last (`SESSION_*`, `REDIS_URL`).

use std::ops::RangeInclusive;
use std::time::Duration;

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
    Redis {
        /// Connection URL, e.g. `redis://127.0.0.1:6379`.
        url: Secret,
    },
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

/// `SESSION_STORE`, and `REDIS_URL` when the store is Redis.
fn store(r: &mut Reader<'_>) -> Option<SessionStoreKind> {
    match r.get("SESSION_STORE").as_deref() {
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
    }
}
