//! The sessions themselves, and the index from Logto's `sid`/`sub` to them that back-channel
//! logouts use.

use std::collections::HashMap;
use std::time::Duration;

use super::{RedisStore, Request, hex};
use crate::error::StoreError;
use crate::keys::{TOKENS, UNAVAILABLE, USER};
use crate::store::SessionState;
use crate::user::SessionUser;

/// Updates a session without losing a rotated refresh token or a fresh access token, and never
/// brings back a deleted signed-in session. KEYS[1] the session; ARGV[1] the new state (JSON map
/// of JSON strings), ARGV[2] TTL seconds, ARGV[3] "1" when the state has a user. Returns 0 when
/// nothing was written because the session is gone.
const UPDATE_SCRIPT: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then
  if ARGV[3] == '1' then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
local new = cjson.decode(ARGV[1])
local old = cjson.decode(current)
local ot, nt = old['tokens'], new['tokens']
if type(ot) == 'string' and type(nt) == 'string' and ot ~= nt then
  local o, n = cjson.decode(ot), cjson.decode(nt)
  local base, other = n, o
  if (tonumber(o['g']) or 0) > (tonumber(n['g']) or 0) then base, other = o, n end
  local by, order = {}, {}
  for _, list in ipairs({base['access_tokens'], other['access_tokens']}) do
    if type(list) == 'table' then
      for _, t in ipairs(list) do
        local seen = by[t['a']]
        if seen == nil then table.insert(order, t['a']) end
        if seen == nil or (tonumber(t['o']) or 0) > (tonumber(seen['o']) or 0) then by[t['a']] = t end
      end
    end
  end
  local merged = {}
  for _, a in ipairs(order) do table.insert(merged, by[a]) end
  if #merged > 0 then base['access_tokens'] = merged else base['access_tokens'] = nil end
  new['tokens'] = cjson.encode(base)
  redis.call('SET', KEYS[1], cjson.encode(new), 'EX', ARGV[2])
  return 2
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"#;

impl RedisStore {
    pub(super) async fn load_state(&self, id: &str) -> Result<Option<SessionState>, StoreError> {
        // An error here must not read as "signed out": the request gets a session marked
        // unavailable instead, which the flows answer with a 503, and which is never written back.
        let Ok(json) = self
            .cmd::<Option<String>>("load session", redis::cmd("GET").arg(session_key(id)))
            .await
        else {
            return Ok(Some(HashMap::from([(UNAVAILABLE.to_owned(), "true".to_owned())])));
        };
        // A value that does not parse is a session of another version: signed out.
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    pub(super) async fn save_state(&self, state: &SessionState, ttl: Duration) -> Result<String, StoreError> {
        let json = serde_json::to_string(state).map_err(|e| self.logged(format!("save session: {e}")))?;
        let key = hex(&rand::random::<[u8; 32]>());
        let ttl = self.ttl_for(state, ttl);
        self.cmd::<()>(
            "save session",
            redis::cmd("SET").arg(session_key(&key)).arg(json).arg("EX").arg(ttl),
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
        let json = serde_json::to_string(state).map_err(|e| self.logged(format!("update session: {e}")))?;
        let ttl = self.ttl_for(state, ttl);
        let has_user = if state.contains_key(USER) || state.contains_key(TOKENS) {
            "1"
        } else {
            "0"
        };
        let written: i64 = self
            .cmd(
                "update session",
                redis::cmd("EVAL")
                    .arg(UPDATE_SCRIPT)
                    .arg(1)
                    .arg(session_key(id))
                    .arg(json)
                    .arg(ttl)
                    .arg(has_user),
            )
            .await?;
        if written == 0 {
            log::info!("a session ended meanwhile (sign-out or logout) was not written back");
        }
        Ok(id.to_owned())
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
            let sid_key = sid_index(sid);
            let mut pipe = redis::pipe();
            pipe.cmd("SADD").arg(&sid_key).arg(key).ignore();
            pipe.cmd("EXPIRE").arg(&sid_key).arg(ttl).ignore();
            self.run::<()>("index", Request::Pipe(&pipe)).await?;
        }
        // Every session of the user, and apart those without a Logto session id: a logout that
        // names a `sid` ends that Logto session and only the user's sessions no `sid` can reach.
        let mut sub_keys = vec![sub_index(&user.sub, true)];
        if user.sid.is_none() {
            sub_keys.push(sub_index(&user.sub, false));
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

fn user_of(state: &SessionState) -> Option<SessionUser> {
    state.get(USER).and_then(|json| serde_json::from_str(json).ok())
}

/// The key of session `id`.
pub(super) fn session_key(id: &str) -> String {
    format!("logto:session:{id}")
}

/// The index of a Logto session's sessions.
pub(super) fn sid_index(sid: &str) -> String {
    format!("logto:sid:{sid}")
}

/// The index of a user's sessions: all of them, or only those without a Logto session id.
pub(super) fn sub_index(sub: &str, all: bool) -> String {
    if all {
        format!("logto:sub:{sub}")
    } else {
        format!("logto:sub-nosid:{sub}")
    }
}
