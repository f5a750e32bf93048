//! Back-channel logout: Logto tells this app that a user (or one of their Logto sessions) signed
//! out elsewhere. Cookie sessions cannot be reached from the server, so the logout is remembered
//! here and every session it covers is ended the next time its cookie comes in.
//!
//! The registry lives in this process (the cookie store is for one process): a restart forgets
//! it. With the Redis store, logouts delete the sessions in Redis instead (`redis_store.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use logto_client::Logout;

use crate::user::SessionUser;

/// How long a logout is remembered: as long as a session can live.
const REMEMBER_SECS: u64 = 14 * 24 * 3600;

/// Most logouts remembered; the oldest go first beyond this.
const MAX_REMEMBERED: usize = 100_000;

#[derive(Default)]
struct Logouts {
    /// User id → when they signed out everywhere.
    by_sub: HashMap<String, u64>,
    /// Logto session id → when it ended.
    by_sid: HashMap<String, u64>,
    /// User id of a logout that also named a session → when: ends the user's sessions that
    /// carry no session id (they cannot be found by it), not their other Logto sessions.
    by_sub_without_sid: HashMap<String, u64>,
    /// Token ids seen, against replays.
    seen_jti: HashMap<String, u64>,
}

/// The logouts Logto announced.
#[derive(Default)]
pub(crate) struct LogoutRegistry {
    logouts: Mutex<Logouts>,
    /// Whether any logout was ever recorded: until then, sessions need not even be read.
    any: AtomicBool,
}

impl LogoutRegistry {
    /// Remembers a logout; `false` when the same token was already received.
    pub(crate) fn record(&self, logout: &Logout, now: u64) -> bool {
        let mut logouts = self.logouts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if logouts.seen_jti.len() + logouts.by_sub.len() + logouts.by_sid.len() > MAX_REMEMBERED {
            let cutoff = now.saturating_sub(REMEMBER_SECS);
            logouts.by_sub.retain(|_, at| *at > cutoff);
            logouts.by_sid.retain(|_, at| *at > cutoff);
            logouts.by_sub_without_sid.retain(|_, at| *at > cutoff);
            logouts.seen_jti.retain(|_, at| *at > cutoff);
        }
        if logouts.seen_jti.insert(logout.jti.clone(), now).is_some() {
            return false;
        }
        self.any.store(true, Ordering::Release);
        match (&logout.sid, &logout.sub) {
            // A session id names one Logto session; a user id alone, every session of the user.
            (Some(sid), sub) => {
                if let Some(sub) = sub {
                    logouts.by_sub_without_sid.insert(sub.clone(), logout.issued_at);
                }
                logouts.by_sid.insert(sid.clone(), logout.issued_at)
            }
            (None, Some(sub)) => logouts.by_sub.insert(sub.clone(), logout.issued_at),
            (None, None) => None,
        };
        true
    }

    /// Whether any logout was recorded in this process.
    pub(crate) fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// Whether a logout covers this signed-in session.
    pub(crate) fn has_ended(&self, user: &SessionUser) -> bool {
        let logouts = self.logouts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let by_sid = user.sid.as_ref().is_some_and(|sid| logouts.by_sid.contains_key(sid));
        let by_sub = logouts.by_sub.get(&user.sub).is_some_and(|at| user.signed_in_at <= *at);
        let by_sub_without_sid = user.sid.is_none()
            && logouts
                .by_sub_without_sid
                .get(&user.sub)
                .is_some_and(|at| user.signed_in_at <= *at);
        by_sid || by_sub || by_sub_without_sid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(sub: &str, sid: Option<&str>) -> SessionUser {
        serde_json::from_value(serde_json::json!({ "sub": sub, "sid": sid, "signed_in_at": 100 })).unwrap()
    }

    #[test]
    fn a_logout_naming_both_sid_and_sub_records_both() {
        let registry = LogoutRegistry::default();
        let logout = Logout {
            sub: Some("user-1".into()),
            sid: Some("sid-1".into()),
            issued_at: 200,
            jti: "jti-1".into(),
        };
        assert!(registry.record(&logout, 200));
        assert!(registry.has_ended(&user("user-1", Some("sid-1"))), "the session named");
        assert!(
            registry.has_ended(&user("user-1", None)),
            "a session of the user without a session id"
        );
        assert!(
            !registry.has_ended(&user("user-1", Some("sid-2"))),
            "another Logto session of the user stays"
        );
        assert!(!registry.has_ended(&user("user-2", None)), "another user stays");
    }
}
