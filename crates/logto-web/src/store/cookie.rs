//! [`CookieStore`]: the whole session in the cookie. The adapter's cookie layer encrypts and
//! authenticates it; this store only turns the state into the cookie's text and back, and keeps
//! in this process what a cookie cannot carry: back-channel logouts, and the single-flight
//! refresh.
//!
//! The text is each entry's name and JSON value with their lengths ([`encode`]), not a JSON
//! object of JSON strings: every cookie byte is decoded, decrypted and parsed on each request, and
//! JSON in JSON escapes every quote and must unescape the values again (bench/PROFILE.md). A JSON
//! state (cookies written before) is still read. The Redis store seals the same text.

use std::sync::Arc;
use std::time::Duration;

use logto_client::{Audience, Logout, LogtoClient, RefreshToken, Refreshed};

use super::{SessionState, SessionStore, StoreFuture};
use crate::error::{AuthError, StoreError};
use crate::logout::LogoutRegistry;
use crate::user::SessionUser;

/// Sessions kept whole in the (encrypted) cookie. Logouts are remembered in this process, for as
/// long as a session can live: for one instance. Cheap to clone.
#[derive(Clone)]
pub struct CookieStore {
    logouts: Arc<LogoutRegistry>,
}

impl CookieStore {
    /// A store remembering logouts for `max_age`, the sessions' maximum age.
    pub fn new(max_age: Duration) -> Self {
        CookieStore {
            logouts: Arc::new(LogoutRegistry::new(max_age)),
        }
    }
}

impl Default for CookieStore {
    fn default() -> Self {
        Self::new(crate::limits::DEFAULT_SESSION_MAX_AGE)
    }
}

/// Marks the length-prefixed text of [`encode`]; a JSON state starts with `{`.
const ENCODED: &str = "s1;";

/// The state as the cookie's text: [`ENCODED`], then per entry the byte length of its name, `:`,
/// the name, the byte length of its value, `:`, the value.
pub(super) fn encode(state: &SessionState) -> String {
    let size = state.iter().map(|(k, v)| k.len() + v.len() + 12).sum::<usize>();
    let mut out = String::with_capacity(ENCODED.len() + size);
    out.push_str(ENCODED);
    for (name, value) in state {
        for part in [name, value] {
            out.push_str(itoa(part.len()).as_str());
            out.push(':');
            out.push_str(part);
        }
    }
    out
}

/// A length as decimal text, without `format!`'s machinery.
fn itoa(mut n: usize) -> Digits {
    let mut digits = Digits {
        buf: [0; 20],
        start: 20,
    };
    loop {
        digits.start -= 1;
        digits.buf[digits.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return digits;
        }
    }
}

struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        // ASCII digits only.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

/// The state of a cookie's text; `None` when it is neither [`encode`]'s text nor a JSON state.
pub(super) fn decode(text: &str) -> Option<SessionState> {
    let Some(mut rest) = text.strip_prefix(ENCODED) else {
        return serde_json::from_str(text).ok();
    };
    let mut state = SessionState::with_capacity(4);
    // One length-prefixed part: its text, and what follows it.
    fn part(rest: &str) -> Option<(&str, &str)> {
        let (length, after) = rest.split_once(':')?;
        if length.is_empty() || length.len() > 10 || !length.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let length: usize = length.parse().ok()?;
        Some((after.get(..length)?, after.get(length..)?))
    }
    while !rest.is_empty() {
        let (name, after) = part(rest)?;
        let (value, after) = part(after)?;
        state.insert(name.to_owned(), value.to_owned());
        rest = after;
    }
    Some(state)
}

impl SessionStore for CookieStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<SessionState>, StoreError>> {
        // A cookie that decrypted but does not parse is a session of another version: signed out.
        Box::pin(async move { Ok(decode(id)) })
    }

    fn save<'a>(&'a self, state: &'a SessionState, _: Duration) -> StoreFuture<'a, Result<String, StoreError>> {
        Box::pin(async move { Ok(encode(state)) })
    }

    fn update<'a>(
        &'a self,
        _: &'a str,
        state: &'a SessionState,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<String, StoreError>> {
        self.save(state, ttl)
    }

    fn update_ttl<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn record_logout<'a>(&'a self, logout: &'a Logout, now: u64) -> StoreFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(self.logouts.record(logout, now)) })
    }

    fn is_ended(&self, user: &SessionUser) -> bool {
        self.logouts.has_ended(user)
    }

    fn refresh<'a>(
        &'a self,
        client: &'a LogtoClient,
        refresh_token: &'a RefreshToken,
        audience: &'a Audience,
        sub: &'a str,
    ) -> StoreFuture<'a, Result<Refreshed, AuthError>> {
        Box::pin(async move { Ok(client.refresh(refresh_token, audience, sub).await?) })
    }

    fn ping(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn state_in_cookie(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entries: &[(&str, &str)]) -> SessionState {
        entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_state_reads_back_as_written() {
        let written = state(&[
            ("user", r#"{"sub":"u","name":"Zoë \"Z\" 12:3"}"#),
            ("csrf", r#""ab""#),
            ("", ""),
            ("tokens", &"é:".repeat(600)),
        ]);
        let text = encode(&written);
        assert!(text.len() < serde_json::to_string(&written).unwrap().len());
        assert_eq!(decode(&text), Some(written));
        assert_eq!(decode(&encode(&SessionState::new())), Some(SessionState::new()));
    }

    #[test]
    fn a_json_state_of_an_older_cookie_still_reads() {
        let written = state(&[("user", r#"{"sub":"u"}"#), ("csrf", r#""ab""#)]);
        assert_eq!(decode(&serde_json::to_string(&written).unwrap()), Some(written));
    }

    #[test]
    fn text_that_is_cut_or_miscounted_is_no_session() {
        let text = encode(&state(&[("user", r#"{"sub":"u"}"#)]));
        for cut in 1..text.len() {
            if text.is_char_boundary(cut) && cut != ENCODED.len() {
                assert_eq!(decode(&text[..cut]), None, "cut at {cut}");
            }
        }
        for bad in [
            "s1;4:user",
            "s1;x:user1:1",
            "s1;+4:user1:1",
            "s1;1:é1:1",
            "s1;99999999999:a",
            "garbage",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
