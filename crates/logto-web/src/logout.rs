//! Back-channel logout: Logto tells this app that a user (or one of their Logto sessions) signed
//! out elsewhere. Cookie sessions cannot be reached from the server, so the logout is remembered
//! here and every session it covers is ended the next time its cookie comes in.
//!
//! The registry lives in this process (the cookie store is for one process): a restart forgets
//! it. With the Redis store, logouts delete the sessions in Redis instead (`store/redis.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use logto_client::Logout;

use crate::user::SessionUser;

/// Most entries remembered (logouts and token ids together); past it the oldest go first.
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

impl Logouts {
    fn len(&self) -> usize {
        self.seen_jti.len() + self.by_sub.len() + self.by_sid.len() + self.by_sub_without_sid.len()
    }

    /// Forgets every entry from before `cutoff`.
    fn forget_before(&mut self, cutoff: u64) {
        self.by_sub.retain(|_, at| *at >= cutoff);
        self.by_sid.retain(|_, at| *at >= cutoff);
        self.by_sub_without_sid.retain(|_, at| *at >= cutoff);
        self.seen_jti.retain(|_, at| *at >= cutoff);
    }

    /// The time before which the entries of `times` must go so that about `keep` of them remain.
    fn cutoff_keeping<'a>(times: impl Iterator<Item = &'a u64>, keep: usize) -> u64 {
        let mut times: Vec<u64> = times.copied().collect();
        let drop = times.len().saturating_sub(keep);
        if drop == 0 {
            return 0;
        }
        let (_, nth, _) = times.select_nth_unstable(drop - 1);
        *nth + 1
    }
}

/// The logouts Logto announced, remembered as long as a session can live.
pub(crate) struct LogoutRegistry {
    logouts: Mutex<Logouts>,
    /// Whether any logout was ever recorded: until then, sessions need not even be read.
    any: AtomicBool,
    /// How long a logout matters: the sessions' maximum age.
    horizon_secs: u64,
}

impl LogoutRegistry {
    /// A registry for sessions that live at most `max_age`.
    pub(crate) fn new(max_age: Duration) -> Self {
        LogoutRegistry {
            logouts: Mutex::default(),
            any: AtomicBool::new(false),
            horizon_secs: max_age.as_secs().max(1),
        }
    }

    /// Remembers a logout; `false` when the same token was already received.
    pub(crate) fn record(&self, logout: &Logout, now: u64) -> bool {
        let mut logouts = self.logouts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if logouts.len() >= MAX_REMEMBERED {
            // What no session can outlive goes first; past the cap, the oldest go too, so that
            // memory stays bounded. That costs the oldest logouts: said once per pruning.
            logouts.forget_before(now.saturating_sub(self.horizon_secs));
            if logouts.len() >= MAX_REMEMBERED {
                // Token ids first: forgetting one only lets the same logout be recorded again.
                let keep = logouts.seen_jti.len() / 2;
                let cutoff = Logouts::cutoff_keeping(logouts.seen_jti.values(), keep);
                logouts.seen_jti.retain(|_, at| *at >= cutoff);
            }
            if logouts.len() >= MAX_REMEMBERED {
                let all = (logouts.by_sub.values())
                    .chain(logouts.by_sid.values())
                    .chain(logouts.by_sub_without_sid.values())
                    .chain(logouts.seen_jti.values());
                let cutoff = Logouts::cutoff_keeping(all, MAX_REMEMBERED * 9 / 10);
                logouts.forget_before(cutoff);
                log::warn!(
                    "back-channel logout registry full ({MAX_REMEMBERED} entries): forgot those before {cutoff}; \
                     use the Redis session store to keep every logout"
                );
            }
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

    /// Whether a logout covers this signed-in session.
    pub(crate) fn has_ended(&self, user: &SessionUser) -> bool {
        // Until a first logout, no session needs the lock.
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
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
        let registry = LogoutRegistry::new(Duration::from_secs(3600));
        let logout = Logout::new(Some("user-1".into()), Some("sid-1".into()), 200, "jti-1");
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

#[cfg(test)]
mod bounds {
    use super::*;

    fn logout(n: usize, at: u64) -> Logout {
        Logout::new(Some(format!("user-{n}")), None, at, format!("jti-{n}"))
    }

    #[test]
    fn the_size_cap_holds_under_a_flood_of_recent_logouts() {
        let registry = LogoutRegistry::new(Duration::from_secs(30 * 24 * 3600));
        let now = 1_000_000;
        for n in 0..(MAX_REMEMBERED / 2 + 10) {
            // All recent: no age-based pruning can help.
            registry.record(&logout(n, now), now + n as u64);
        }
        let len = registry.logouts.lock().unwrap().len();
        assert!(len <= MAX_REMEMBERED, "{len} entries kept");
    }

    #[test]
    fn a_logout_is_kept_as_long_as_the_session_maximum_age() {
        // 30 days: longer than the 14 days once hard-coded.
        let max_age = Duration::from_secs(30 * 24 * 3600);
        let registry = LogoutRegistry::new(max_age);
        let start = 1_000_000;
        registry.record(&logout(0, start), start);
        let user: SessionUser =
            serde_json::from_value(serde_json::json!({ "sub": "user-0", "signed_in_at": start - 10 })).unwrap();
        // Fill the registry, then come back 20 days later, so that pruning runs.
        for n in 1..(MAX_REMEMBERED / 2 + 1) {
            registry.record(&logout(n, start + 1), start + 1);
        }
        let later = start + 20 * 24 * 3600;
        registry.record(&logout(MAX_REMEMBERED, later), later);
        assert!(
            registry.has_ended(&user),
            "pruned a logout younger than the session maximum age"
        );
    }
}
