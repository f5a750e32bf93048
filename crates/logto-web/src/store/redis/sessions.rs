//! The sessions themselves, and the index from Logto's `sid`/`sub` to them that back-channel
//! logouts use.

use std::collections::HashMap;
use std::time::Duration;

use super::sealed::Sealer;
use super::{RedisStore, Request, hex};
use crate::error::StoreError;
use crate::keys::{TOKENS, UNAVAILABLE, USER};
use crate::store::SessionState;
// The cookie store's text of a state: smaller than JSON and parsed without unescaping.
use crate::store::cookie::{decode, encode};
use crate::user::SessionUser;

/// Writes a session only if it is still at the generation the writer read (optimistic
/// concurrency: the merge happens in Rust, where the value can be opened). KEYS[1] the session;
/// ARGV[1] the new value, ARGV[2] TTL seconds, ARGV[3] "1" when the state has a user, ARGV[4] the
/// generation read ("" when there was no value). Returns 1 written, 0 not written because the
/// session is gone (never brought back), -1 changed meanwhile (read again and merge).
const WRITE_IF_UNCHANGED: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then
  if ARGV[3] == '1' then return 0 end
  if ARGV[4] ~= '' then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if string.match(current, '^(%d+):') ~= ARGV[4] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"#;

/// How many times an update reads, merges and tries again when other writers keep winning.
const UPDATE_ATTEMPTS: usize = 8;

impl RedisStore {
    pub(super) async fn load_state(&self, id: &str) -> Result<Option<SessionState>, StoreError> {
        // An error here must not read as "signed out": the request gets a session marked
        // unavailable instead, which the flows answer with a 503, and which is never written back.
        let Ok(value) = self
            .cmd::<Option<Vec<u8>>>("load session", redis::cmd("GET").arg(session_key(id)))
            .await
        else {
            return Ok(Some(HashMap::from([(UNAVAILABLE.to_owned(), "true".to_owned())])));
        };
        Ok(value.and_then(|value| self.open_kept(id, &value)))
    }

    /// The state of a stored session value, opened once: every request of a signed-in browser
    /// reads its session, mostly the same value again, and opening it (AES-GCM, then parsing) was
    /// ~9k of the Redis home page's ~113k instructions. Kept by the session's id and the whole
    /// value: another value (written by any instance) is opened anew, and the id is the seal's
    /// associated data, so a value copied under another session's key opens there no more than
    /// it would unkept.
    fn open_kept(&self, id: &str, value: &[u8]) -> Option<SessionState> {
        let mut kept_as = Vec::with_capacity(4 + id.len() + value.len());
        // The id's length first: no id and value run together the same as another pair.
        kept_as.extend_from_slice(&u32::try_from(id.len()).unwrap_or(u32::MAX).to_le_bytes());
        kept_as.extend_from_slice(id.as_bytes());
        kept_as.extend_from_slice(value);
        if let Some(state) = self.opened.get(&kept_as) {
            return Some(SessionState::clone(&state));
        }
        let (_, state) = self.open_session(id, value)?;
        self.opened.insert(&kept_as, state.clone());
        Some(state)
    }

    /// The generation and state of a stored session value; `None` (signed out) when it does not
    /// open: changed in Redis, sealed with another secret, or of another version.
    fn open_session(&self, id: &str, value: &[u8]) -> Option<(u64, SessionState)> {
        let opened = split_generation(value).and_then(|(generation, sealed)| {
            let plain = self.sealer.open(&session_key(id), sealed)?;
            Some((generation, decode(std::str::from_utf8(&plain).ok()?)?))
        });
        if opened.is_none() {
            self.refused_value("session");
        }
        opened
    }

    /// A session value as stored: its generation in clear (for the write check), then sealed.
    fn seal_session(&self, id: &str, generation: u64, state: &SessionState) -> Result<Vec<u8>, StoreError> {
        let mut value = format!("{generation}:").into_bytes();
        value.extend(self.sealer.seal(&session_key(id), encode(state).as_bytes()));
        Ok(value)
    }

    pub(super) async fn save_state(&self, state: &SessionState, ttl: Duration) -> Result<String, StoreError> {
        let key = hex(&rand::random::<[u8; 32]>());
        let value = self.seal_session(&key, 1, state)?;
        let ttl = self.ttl_for(state, ttl);
        self.cmd::<()>(
            "save session",
            redis::cmd("SET").arg(session_key(&key)).arg(value).arg("EX").arg(ttl),
        )
        .await?;
        if let Some(user) = user_of(state) {
            self.index(&key, &user).await?;
        }
        Ok(key)
    }

    pub(super) async fn update_state(
        &self,
        id: &str,
        state: &SessionState,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        if state.contains_key(UNAVAILABLE) {
            return Err(StoreError {
                store: self.name.clone(),
                what: "the session could not be read, so it is not written".to_owned(),
            });
        }
        let ttl = self.ttl_for(state, ttl);
        let has_user = if state.contains_key(USER) || state.contains_key(TOKENS) {
            "1"
        } else {
            "0"
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let current: Option<Vec<u8>> = self
                .cmd("update session", redis::cmd("GET").arg(session_key(id)))
                .await?;
            let mut next = state.clone();
            let (read, generation) = match current.as_deref().map(|value| self.open_session(id, value)) {
                None => (String::new(), 1),
                // A value that does not open was refused at load: it is not merged, only replaced
                // by a state without a user (sign-out), never by a signed-in one.
                Some(None) if has_user == "1" => return Ok(id.to_owned()),
                Some(None) => (
                    split_generation(current.as_deref().unwrap_or_default())
                        .map(|(g, _)| g.to_string())
                        .unwrap_or_default(),
                    1,
                ),
                Some(Some((generation, old))) => {
                    merge_tokens(&old, &mut next);
                    (generation.to_string(), generation + 1)
                }
            };
            let value = self.seal_session(id, generation, &next)?;
            let written: i64 = self
                .cmd(
                    "update session",
                    redis::cmd("EVAL")
                        .arg(WRITE_IF_UNCHANGED)
                        .arg(1)
                        .arg(session_key(id))
                        .arg(value)
                        .arg(ttl)
                        .arg(has_user)
                        .arg(read),
                )
                .await?;
            match written {
                1 => return Ok(id.to_owned()),
                0 => {
                    log::info!("a session ended meanwhile (sign-out or logout) was not written back");
                    return Ok(id.to_owned());
                }
                _ => continue,
            }
        }
        Err(self.logged("update session: other writers kept changing it".to_owned()))
    }

    /// Keeps session `id` for `ttl` more, never past its maximum age: the shorter TTL set at
    /// write time wins.
    pub(super) async fn extend(&self, id: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("EXPIRE");
        cmd.arg(session_key(id)).arg(ttl.as_secs().max(1)).arg("LT");
        self.cmd::<()>("extend session", &cmd).await
    }

    pub(super) async fn delete_state(&self, id: &str) -> Result<(), StoreError> {
        self.cmd::<()>("delete session", redis::cmd("DEL").arg(session_key(id)))
            .await
    }

    /// Adds a signed-in session to the index of its Logto session and user. One pipeline per
    /// index key: in a Cluster the keys live on different nodes.
    async fn index(&self, key: &str, user: &SessionUser) -> Result<(), StoreError> {
        let ttl = self.max_age_secs();
        if let Some(sid) = &user.sid {
            let sid_key = sid_index(&self.sealer, sid);
            let mut pipe = redis::pipe();
            pipe.cmd("SADD").arg(&sid_key).arg(key).ignore();
            pipe.cmd("EXPIRE").arg(&sid_key).arg(ttl).ignore();
            self.run::<()>("index", Request::Pipe(&pipe)).await?;
        }
        // Every session of the user, and apart those without a Logto session id: a logout that
        // names a `sid` ends that Logto session and only the user's sessions no `sid` can reach.
        let mut sub_keys = vec![sub_index(&self.sealer, &user.sub, true)];
        if user.sid.is_none() {
            sub_keys.push(sub_index(&self.sealer, &user.sub, false));
        }
        for sub_key in &sub_keys {
            let mut pipe = redis::pipe();
            pipe.cmd("ZADD").arg(sub_key).arg(user.signed_in_at).arg(key).ignore();
            // Entries of sessions past their maximum age go; the set lives as long as its newest.
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(sub_key)
                .arg("-inf")
                .arg(format!("({}", user.signed_in_at.saturating_sub(ttl)))
                .ignore();
            pipe.cmd("EXPIRE").arg(sub_key).arg(ttl).ignore();
            self.run::<()>("index", Request::Pipe(&pipe)).await?;
        }
        Ok(())
    }

    /// Seconds a session written now may live: its TTL, never past its maximum age.
    fn ttl_for(&self, state: &SessionState, ttl: Duration) -> u64 {
        let ttl = ttl.as_secs().max(1);
        match user_of(state) {
            Some(user) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let left = (user.signed_in_at + self.max_age_secs()).saturating_sub(now);
                ttl.min(left).max(1)
            }
            None => ttl,
        }
    }
}

/// The clear generation and the sealed rest of a stored session value.
fn split_generation(value: &[u8]) -> Option<(u64, &[u8])> {
    let colon = value.iter().position(|b| *b == b':')?;
    let generation = std::str::from_utf8(&value[..colon]).ok()?.parse().ok()?;
    Some((generation, &value[colon + 1..]))
}

/// Keeps, of two writes of one session's tokens, the refresh token of the higher token generation
/// (a rotated refresh token is never put back) and, per audience, the access token obtained last.
fn merge_tokens(old: &SessionState, new: &mut SessionState) {
    let (Some(old_tokens), Some(new_tokens)) = (old.get(TOKENS), new.get(TOKENS)) else {
        return;
    };
    if old_tokens == new_tokens {
        return;
    }
    let (Ok(old_tokens), Ok(new_tokens)) = (
        serde_json::from_str::<serde_json::Value>(old_tokens),
        serde_json::from_str::<serde_json::Value>(new_tokens),
    ) else {
        return;
    };
    let number = |value: &serde_json::Value, field: &str| value.get(field).and_then(|v| v.as_u64()).unwrap_or(0);
    let (mut base, other) = if number(&old_tokens, "g") > number(&new_tokens, "g") {
        (old_tokens, new_tokens)
    } else {
        (new_tokens, old_tokens)
    };
    let mut merged: Vec<serde_json::Value> = Vec::new();
    for token in [&base, &other]
        .into_iter()
        .filter_map(|tokens| tokens.get("access_tokens").and_then(|list| list.as_array()))
        .flatten()
    {
        match merged.iter_mut().find(|seen| seen.get("a") == token.get("a")) {
            Some(seen) if number(token, "o") > number(seen, "o") => *seen = token.clone(),
            Some(_) => {}
            None => merged.push(token.clone()),
        }
    }
    if let Some(base) = base.as_object_mut() {
        if merged.is_empty() {
            base.remove("access_tokens");
        } else {
            base.insert("access_tokens".to_owned(), serde_json::Value::Array(merged));
        }
    }
    new.insert(TOKENS.to_owned(), base.to_string());
}

fn user_of(state: &SessionState) -> Option<SessionUser> {
    state.get(USER).and_then(|json| serde_json::from_str(json).ok())
}

/// The key of session `id`.
pub(super) fn session_key(id: &str) -> String {
    format!("logto:session:{id}")
}

/// The index of a Logto session's sessions.
pub(super) fn sid_index(sealer: &Sealer, sid: &str) -> String {
    format!("logto:sid:{}", sealer.index_name(sid))
}

/// The index of a user's sessions: all of them, or only those without a Logto session id.
pub(super) fn sub_index(sealer: &Sealer, sub: &str, all: bool) -> String {
    let name = sealer.index_name(sub);
    if all {
        format!("logto:sub:{name}")
    } else {
        format!("logto:sub-nosid:{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(json: serde_json::Value) -> SessionState {
        HashMap::from([(TOKENS.to_owned(), json.to_string())])
    }

    #[test]
    fn a_merge_keeps_the_newer_refresh_token_and_the_fresher_access_token_per_audience() {
        // Stored: rotated (generation 2), a fresh token for "api". The writer read generation 1.
        let stored = tokens(serde_json::json!({
            "refresh_token": "rotated", "g": 2,
            "access_tokens": [{"a": "api", "t": "new-api", "o": 20, "e": 99}]
        }));
        let mut written = tokens(serde_json::json!({
            "refresh_token": "old", "g": 1,
            "access_tokens": [
                {"a": "api", "t": "old-api", "o": 10, "e": 50},
                {"a": "", "t": "fresh-userinfo", "o": 30, "e": 99}
            ]
        }));
        merge_tokens(&stored, &mut written);
        let merged: serde_json::Value = serde_json::from_str(&written[TOKENS]).unwrap();
        assert_eq!(
            merged["refresh_token"], "rotated",
            "a rotated refresh token is never put back"
        );
        let by_audience = |a: &str| {
            merged["access_tokens"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["a"] == a)
                .map(|t| t["t"].clone())
        };
        assert_eq!(by_audience("api").unwrap(), "new-api");
        assert_eq!(by_audience("").unwrap(), "fresh-userinfo");
    }
}
