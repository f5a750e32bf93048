//! Sessions in Redis, shared by every instance and kept across restarts (feature `redis`).
//!
//! [`RedisStore`] is a [`SessionStore`] over the `redis` crate, and more:
//! - every call to Redis is bounded by a timeout, and a failure is one log line naming the store
//!   (its URL without password) and the cause, and a [`StoreError`] (503) for the request;
//! - an index from Logto's `sid` and `sub` to session keys, so a back-channel logout deletes the
//!   sessions it names at once, for every instance (and a restart cannot bring them back);
//! - writes that cannot lose a rotated refresh token: a session is updated by a script that keeps
//!   the tokens of the higher generation and, per audience, the newer access token; a session
//!   that was deleted (signed out, logged out) is never written back;
//! - the single-flight refresh across instances: a short lock per refresh token, the result
//!   shared with the requests that waited for [`LogtoClient::REFRESH_SHARE_WINDOW`], and not longer.
//!
//! Keys (all under `logto:`) expire: sessions with their TTL (capped by the maximum age), the
//! index and logout token ids with the maximum age, refresh results with the share window.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use logto_client::{Audience, IssuedAccessToken, Logout, LogtoClient, RefreshToken, Refreshed};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{SessionState, SessionStore, StoreFuture};
use crate::error::{AuthError, FAILURE_LOG_INTERVAL, StoreError};
use crate::keys::{TOKENS, UNAVAILABLE, USER};
use crate::limits::DEFAULT_SESSION_MAX_AGE;
use crate::log_limit::{Admit, LogLimiter, suppressed_note};
use crate::user::SessionUser;

/// One line per interval for the store's failures: an outage must not flood the log.
static STORE_LOG: LazyLock<LogLimiter> = LazyLock::new(|| LogLimiter::new(FAILURE_LOG_INTERVAL));

/// Default bound of each call to Redis: a request that needs the session answers within a few
/// of them even when Redis hangs.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(1000);

/// How long a refresh may hold its session's lock: longer than any refresh takes (a refresh that
/// outlives it is a Logto timeout, and the next request tries again).
const LOCK_TTL: Duration = Duration::from_secs(30);

/// How often a request waiting for another instance's refresh looks for its result.
const POLL: Duration = Duration::from_millis(50);

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

/// Deletes a lock only if this request still holds it.
const UNLOCK_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Sessions, logouts and refreshes in Redis. Cheap to clone (one multiplexed connection that
/// reconnects by itself); build it once, outside `HttpServer::new`.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisStore {
    connection: ConnectionManager,
    /// The store as the operator knows it, for log lines: never the password.
    name: String,
    timeout: Duration,
    max_age: Duration,
}

/// A refresh result shared through Redis with the requests that waited for it.
#[derive(Serialize, Deserialize)]
struct SharedRefresh {
    refresh_token: RefreshToken,
    access_token: IssuedAccessToken,
}

impl RedisStore {
    /// Connects to `url` and checks that Redis answers (`PING`, so that a missing or wrong
    /// password is found now), within `timeout`; `label` names the setting the URL came from
    /// (e.g. `REDIS_URL`) in every error and log line. Each later call is bounded by `timeout`.
    pub async fn connect(url: &str, label: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let name = format!("{label} {}", redacted(url));
        let fail = |what: String| StoreError {
            store: name.clone(),
            what,
        };
        let client = redis::Client::open(url).map_err(|e| fail(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(timeout.as_millis() as u64);
        let connection = tokio::time::timeout(timeout * 2, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| fail(format!("no connection within {} ms", (timeout * 2).as_millis())))?
            .map_err(|e| fail(e.to_string()))?;
        let store = RedisStore {
            connection,
            name,
            timeout,
            max_age: DEFAULT_SESSION_MAX_AGE,
        };
        store.call::<String>(&mut redis::cmd("PING"), "ping").await?;
        Ok(store)
    }

    /// Caps every session's life at `max_age` from sign-in (the same as
    /// [`LogtoWebBuilder::session_max_age`](crate::LogtoWebBuilder::session_max_age)), so that
    /// nothing is kept longer than it can be used.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Runs one command within the timeout; a failure is logged once, naming the store.
    async fn call<T: FromRedisValue>(&self, cmd: &mut Cmd, what: &str) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        let outcome = match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        Err(self.logged(format!("{what}: {outcome}")))
    }

    fn max_age_secs(&self) -> u64 {
        self.max_age.as_secs().max(1)
    }

    /// Adds a signed-in session to the index of its Logto session and user.
    async fn index(&self, key: &str, user: &SessionUser) -> Result<(), StoreError> {
        let ttl = self.max_age_secs();
        let mut pipe = redis::pipe();
        if let Some(sid) = &user.sid {
            let sid_key = format!("logto:sid:{sid}");
            pipe.cmd("SADD").arg(&sid_key).arg(key).ignore();
            pipe.cmd("EXPIRE").arg(&sid_key).arg(ttl).ignore();
        }
        // Every session of the user, and apart those without a Logto session id: a logout that
        // names a `sid` ends that Logto session and only the user's sessions no `sid` can reach.
        let mut sub_keys = vec![sub_index(&user.sub, true)];
        if user.sid.is_none() {
            sub_keys.push(sub_index(&user.sub, false));
        }
        for sub_key in &sub_keys {
            pipe.cmd("ZADD").arg(sub_key).arg(user.signed_in_at).arg(key).ignore();
            // Entries of sessions past their maximum age go; the set lives as long as its newest.
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(sub_key)
                .arg("-inf")
                .arg(format!("({}", user.signed_in_at.saturating_sub(ttl)))
                .ignore();
            pipe.cmd("EXPIRE").arg(sub_key).arg(ttl).ignore();
        }
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut connection)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.logged(format!("index: {e}"))),
            Err(_) => Err(self.logged(format!("index: no answer within {} ms", self.timeout.as_millis()))),
        }
    }

    /// A failure: counted every time, logged at most once per interval.
    fn logged(&self, what: String) -> StoreError {
        crate::telemetry::session_store_error();
        let error = StoreError {
            store: self.name.clone(),
            what: what.replace(['\n', '\r'], " "),
        };
        if let Admit::Log { suppressed } = STORE_LOG.admit("redis") {
            log::error!(
                "{error} (sessions cannot be read or written until Redis answers){}",
                suppressed_note(suppressed, FAILURE_LOG_INTERVAL)
            );
        }
        error
    }

    /// Ends, for every instance, the sessions a verified back-channel logout names: those of its
    /// Logto session (`sid`), and those of its user (`sub`) that began before it — when the token
    /// also names a `sid`, only the user's sessions that carry none (another Logto session of the
    /// user stays, as Back-Channel Logout 1.0 section 2.7 asks). `false` when the same logout token
    /// was received before.
    async fn end_sessions(&self, logout: &Logout) -> Result<bool, StoreError> {
        let ttl = self.max_age_secs();
        let first: Option<String> = self
            .call(
                redis::cmd("SET")
                    .arg(format!("logto:jti:{}", logout.jti))
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl),
                "logout token id",
            )
            .await?;
        if first.is_none() {
            return Ok(false);
        }
        let mut sessions: Vec<String> = Vec::new();
        if let Some(sid) = &logout.sid {
            let sid_key = format!("logto:sid:{sid}");
            sessions.extend(
                self.call::<Vec<String>>(redis::cmd("SMEMBERS").arg(&sid_key), "logout by sid")
                    .await?,
            );
            self.call::<()>(redis::cmd("DEL").arg(&sid_key), "logout by sid")
                .await?;
        }
        if let Some(sub) = &logout.sub {
            let sub_key = sub_index(sub, logout.sid.is_none());
            sessions.extend(
                self.call::<Vec<String>>(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(&sub_key)
                        .arg("-inf")
                        .arg(logout.issued_at),
                    "logout by sub",
                )
                .await?,
            );
            self.call::<()>(
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(&sub_key)
                    .arg("-inf")
                    .arg(logout.issued_at),
                "logout by sub",
            )
            .await?;
        }
        if !sessions.is_empty() {
            let keys: Vec<String> = sessions.iter().map(|k| session_key(k)).collect();
            self.call::<()>(redis::cmd("DEL").arg(keys), "logout").await?;
        }
        log::info!("back-channel logout ended {} session(s) in Redis", sessions.len());
        Ok(true)
    }

    /// A refresh for `audience`, one grant per refresh token at a time across every instance: the
    /// request that takes the lock asks Logto, the others wait for its result in Redis. A request
    /// for another audience that comes within the share window presents the rotated token.
    async fn refresh_coordinated(
        &self,
        client: &LogtoClient,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, AuthError> {
        let slot = hex(&Sha256::digest(refresh_token.secret().as_bytes()));
        let audience_hash = hex(&Sha256::digest(audience.key().as_bytes()));
        let result_key = format!("logto:refresh:{slot}:result:{}", &audience_hash[..32]);
        let rotated_key = format!("logto:refresh:{slot}:rotated");
        let lock_key = format!("logto:refresh:{slot}:lock");
        let holder = hex(&rand::random::<[u8; 16]>());
        let deadline = tokio::time::Instant::now() + LOCK_TTL + self.timeout;
        loop {
            if let Some(shared) = self.shared(&result_key).await? {
                return Ok(shared);
            }
            let locked: Option<String> = self
                .call(
                    redis::cmd("SET")
                        .arg(&lock_key)
                        .arg(&holder)
                        .arg("NX")
                        .arg("PX")
                        .arg(LOCK_TTL.as_millis() as u64),
                    "refresh lock",
                )
                .await?;
            if locked.is_some() {
                let outcome = self
                    .refresh_locked(client, refresh_token, audience, sub, &result_key, &rotated_key)
                    .await;
                // Unlocking is best effort: the lock expires anyway.
                let _ = self
                    .call::<i64>(
                        redis::cmd("EVAL").arg(UNLOCK_SCRIPT).arg(1).arg(&lock_key).arg(&holder),
                        "refresh unlock",
                    )
                    .await;
                return outcome;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self
                    .logged("refresh: another instance held the refresh lock too long".into())
                    .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn refresh_locked(
        &self,
        client: &LogtoClient,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
        result_key: &str,
        rotated_key: &str,
    ) -> Result<Refreshed, AuthError> {
        // The holder before us may have finished between our look and our lock.
        if let Some(shared) = self.shared(result_key).await? {
            return Ok(shared);
        }
        let rotated: Option<String> = self.call(redis::cmd("GET").arg(rotated_key), "refresh").await?;
        let presented = rotated.map(RefreshToken::new).unwrap_or_else(|| refresh_token.clone());
        let refreshed = client.refresh_grant(&presented, audience, sub).await?;
        let shared = SharedRefresh {
            refresh_token: refreshed.refresh_token.clone(),
            access_token: refreshed.access_token.clone(),
        };
        let json = serde_json::to_string(&shared).map_err(|e| self.logged(format!("refresh: {e}")))?;
        let window = LogtoClient::REFRESH_SHARE_WINDOW.as_secs().max(1);
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg(result_key).arg(json).arg("EX").arg(window).ignore();
        if !refreshed.refresh_token.matches(&presented) || !presented.matches(refresh_token) {
            pipe.cmd("SET")
                .arg(rotated_key)
                .arg(refreshed.refresh_token.secret())
                .arg("EX")
                .arg(window)
                .ignore();
        }
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut connection)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.logged(format!("refresh result: {e}")).into()),
            Err(_) => {
                return Err(self
                    .logged(format!(
                        "refresh result: no answer within {} ms",
                        self.timeout.as_millis()
                    ))
                    .into());
            }
        }
        Ok(refreshed)
    }

    async fn shared(&self, result_key: &str) -> Result<Option<Refreshed>, StoreError> {
        let json: Option<String> = self.call(redis::cmd("GET").arg(result_key), "refresh").await?;
        Ok(json
            .and_then(|json| serde_json::from_str::<SharedRefresh>(&json).ok())
            .map(|shared| Refreshed::new(shared.access_token, shared.refresh_token, None)))
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

fn session_key(key: &str) -> String {
    format!("logto:session:{key}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The URL with its password (if any) replaced, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

impl RedisStore {
    async fn load_state(&self, id: &str) -> Result<Option<SessionState>, StoreError> {
        // An error here must not read as "signed out": the request gets a session marked
        // unavailable instead, which the flows answer with a 503, and which is never written back.
        let Ok(json) = self
            .call::<Option<String>>(redis::cmd("GET").arg(session_key(id)), "load session")
            .await
        else {
            return Ok(Some(HashMap::from([(UNAVAILABLE.to_owned(), "true".to_owned())])));
        };
        // A value that does not parse is a session of another version: signed out.
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn save_state(&self, state: &SessionState, ttl: Duration) -> Result<String, StoreError> {
        let json = serde_json::to_string(state).map_err(|e| self.logged(format!("save session: {e}")))?;
        let key = hex(&rand::random::<[u8; 32]>());
        let ttl = self.ttl_for(state, ttl);
        self.call::<()>(
            redis::cmd("SET").arg(session_key(&key)).arg(json).arg("EX").arg(ttl),
            "save session",
        )
        .await?;
        if let Some(user) = user_of(state) {
            self.index(&key, &user).await?;
        }
        Ok(key)
    }

    async fn update_state(&self, id: &str, state: &SessionState, ttl: Duration) -> Result<String, StoreError> {
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
            .call(
                redis::cmd("EVAL")
                    .arg(UPDATE_SCRIPT)
                    .arg(1)
                    .arg(session_key(id))
                    .arg(json)
                    .arg(ttl)
                    .arg(has_user),
                "update session",
            )
            .await?;
        if written == 0 {
            log::info!("a session ended meanwhile (sign-out or logout) was not written back");
        }
        Ok(id.to_owned())
    }
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<SessionState>, StoreError>> {
        Box::pin(self.load_state(id))
    }

    fn save<'a>(&'a self, state: &'a SessionState, ttl: Duration) -> StoreFuture<'a, Result<String, StoreError>> {
        Box::pin(self.save_state(state, ttl))
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        state: &'a SessionState,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<String, StoreError>> {
        Box::pin(self.update_state(id, state, ttl))
    }

    fn update_ttl<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, Result<(), StoreError>> {
        // Never extends a session past its maximum age: the shorter TTL set at write time wins.
        Box::pin(async move {
            let mut cmd = redis::cmd("EXPIRE");
            cmd.arg(session_key(id)).arg(ttl.as_secs().max(1)).arg("LT");
            self.call::<()>(&mut cmd, "extend session").await
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.call::<()>(redis::cmd("DEL").arg(session_key(id)), "delete session")
                .await
        })
    }

    fn record_logout<'a>(&'a self, logout: &'a Logout, _: u64) -> StoreFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.end_sessions(logout))
    }

    fn is_ended(&self, _: &SessionUser) -> bool {
        // Logouts delete the sessions they name: what is still here was not ended.
        false
    }

    fn refresh<'a>(
        &'a self,
        client: &'a LogtoClient,
        refresh_token: &'a RefreshToken,
        audience: &'a Audience,
        sub: &'a str,
    ) -> StoreFuture<'a, Result<Refreshed, AuthError>> {
        Box::pin(self.refresh_coordinated(client, refresh_token, audience, sub))
    }

    fn ping(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(async { self.call::<String>(&mut redis::cmd("PING"), "ping").await.map(|_| ()) })
    }
}

/// The index of a user's sessions: all of them, or only those without a Logto session id.
fn sub_index(sub: &str, all: bool) -> String {
    if all {
        format!("logto:sub:{sub}")
    } else {
        format!("logto:sub-nosid:{sub}")
    }
}
