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
            logouts.seen_jti.retain(|_, at| *at > cutoff);
        }
        if logouts.seen_jti.insert(logout.jti.clone(), now).is_some() {
            return false;
        }
        self.any.store(true, Ordering::Release);
        // A session id names one Logto session; a user id, every session of the user that began
        // before the token. A token with both counts for both.
        if let Some(sid) = &logout.sid {
            logouts.by_sid.insert(sid.clone(), logout.issued_at);
        }
        if let Some(sub) = &logout.sub {
            logouts.by_sub.insert(sub.clone(), logout.issued_at);
        }
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
        by_sid || by_sub
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(sid: &str, signed_in_at: u64) -> SessionUser {
        serde_json::from_value(serde_json::json!({ "sub": "user-1", "sid": sid, "signed_in_at": signed_in_at }))
            .unwrap()
    }

    #[test]
    fn a_logout_naming_both_sid_and_sub_ends_the_logto_session_and_the_users_older_sessions() {
        let registry = LogoutRegistry::default();
        let logout = Logout {
            sub: Some("user-1".into()),
            sid: Some("sid-a".into()),
            issued_at: 1_000,
            jti: "jti-1".into(),
        };
        assert!(registry.record(&logout, 1_000));
        assert!(registry.has_ended(&user("sid-a", 1_500)), "by sid");
        assert!(
            registry.has_ended(&user("sid-b", 900)),
            "by sub, begun before the logout"
        );
        assert!(!registry.has_ended(&user("sid-b", 1_100)), "begun after the logout");
        assert!(!registry.record(&logout, 1_001), "a replayed token changes nothing");
    }
}
