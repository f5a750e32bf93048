//! The single-flight refresh across instances: a short lock per refresh token, the result — or
//! the failure — shared with the requests that waited for it for [`LogtoClient::REFRESH_SHARE_WINDOW`], and not longer.
//!
//! The keys of one refresh token share a hash tag (`{slot}`): in a Cluster they sit on one node,
//! so the result and the rotated token are written together.

use std::time::Duration;

use logto_client::{Audience, Endpoint, IssuedAccessToken, LogtoClient, LogtoError, RefreshToken, Refreshed};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RedisStore, Request, hex};
use crate::error::{AuthError, StoreError};

/// How long a refresh may hold its session's lock: longer than any refresh takes (a refresh that
/// outlives it is a Logto timeout, and the next request tries again).
const LOCK_TTL: Duration = Duration::from_secs(30);

/// How often a request waiting for another instance's refresh looks for its result.
const POLL: Duration = Duration::from_millis(50);

/// Deletes a lock only if this request still holds it.
const UNLOCK_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// A refresh result shared through Redis with the requests that waited for it.
#[derive(Serialize, Deserialize)]
struct SharedRefresh {
    refresh_token: RefreshToken,
    access_token: IssuedAccessToken,
}

/// A failed refresh shared through Redis: the requests already waiting get it instead of sending
/// their own grant; after `invalid_grant` (final) every request of the window gets it.
#[derive(Serialize, Deserialize)]
struct SharedFailure {
    /// When it failed, in milliseconds since the epoch.
    at_ms: u64,
    /// Logto's OAuth error code, when Logto refused.
    code: Option<String>,
    /// Logto's description, or what else went wrong (never a token).
    detail: Option<String>,
}

impl SharedFailure {
    fn of(error: &LogtoError) -> Self {
        let (code, detail) = match error {
            LogtoError::Rejected { code, description, .. } => (Some(code.clone()), description.clone()),
            other => (None, Some(other.to_string())),
        };
        Self {
            at_ms: now_ms(),
            code,
            detail,
        }
    }

    fn is_final(&self) -> bool {
        self.code.as_deref() == Some("invalid_grant")
    }

    fn into_error(self) -> LogtoError {
        match self.code {
            Some(code) => LogtoError::Rejected {
                endpoint: Endpoint::Token,
                code,
                description: self.detail,
            },
            None => LogtoError::InvalidResponse {
                endpoint: Endpoint::Token,
                detail: format!(
                    "the refresh this request waited for failed: {}",
                    self.detail.unwrap_or_default()
                ),
            },
        }
    }
}

/// The keys of one refresh token's slot.
struct SlotKeys {
    result: String,
    rotated: String,
    failed: String,
    lock: String,
}

impl SlotKeys {
    fn new(refresh_token: &RefreshToken, audience: &Audience) -> Self {
        let slot = hex(&Sha256::digest(refresh_token.secret().as_bytes()));
        let audience_hash = hex(&Sha256::digest(audience.key().as_bytes()));
        Self {
            result: format!("logto:refresh:{{{slot}}}:result:{}", &audience_hash[..32]),
            rotated: format!("logto:refresh:{{{slot}}}:rotated"),
            failed: format!("logto:refresh:{{{slot}}}:failed"),
            lock: format!("logto:refresh:{{{slot}}}:lock"),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RedisStore {
    /// A sealed refresh value opened, or `None` (counted and logged) when it does not open.
    fn open_value(&self, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let plain = self.sealer.open(name, sealed);
        if plain.is_none() {
            self.refused_value("refresh result");
        }
        plain
    }

    /// A refresh for `audience`, one grant per refresh token at a time across every instance: the
    /// request that takes the lock asks Logto, the others wait for its result in Redis. A request
    /// for another audience that comes within the share window presents the rotated token.
    pub(super) async fn refresh_coordinated(
        &self,
        client: &LogtoClient,
        refresh_token: &RefreshToken,
        audience: &Audience,
        sub: &str,
    ) -> Result<Refreshed, AuthError> {
        let keys = SlotKeys::new(refresh_token, audience);
        let arrived_ms = now_ms();
        let holder = hex(&rand::random::<[u8; 16]>());
        let deadline = tokio::time::Instant::now() + LOCK_TTL + self.timeout;
        loop {
            if let Some(shared) = self.shared(&keys, arrived_ms).await? {
                return shared.map_err(AuthError::from);
            }
            let locked: Option<String> = self
                .cmd(
                    "refresh lock",
                    redis::cmd("SET")
                        .arg(&keys.lock)
                        .arg(&holder)
                        .arg("NX")
                        .arg("PX")
                        .arg(LOCK_TTL.as_millis() as u64),
                )
                .await?;
            if locked.is_some() {
                let outcome = self
                    .refresh_locked(client, refresh_token, audience, sub, &keys, arrived_ms)
                    .await;
                // Unlocking is best effort: the lock expires anyway.
                let _ = self
                    .cmd::<i64>(
                        "refresh unlock",
                        redis::cmd("EVAL")
                            .arg(UNLOCK_SCRIPT)
                            .arg(1)
                            .arg(&keys.lock)
                            .arg(&holder),
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
        keys: &SlotKeys,
        arrived_ms: u64,
    ) -> Result<Refreshed, AuthError> {
        // The holder before us may have finished between our look and our lock.
        if let Some(shared) = self.shared(keys, arrived_ms).await? {
            return shared.map_err(AuthError::from);
        }
        let rotated: Option<Vec<u8>> = self.cmd("refresh", redis::cmd("GET").arg(&keys.rotated)).await?;
        let rotated = rotated.and_then(|sealed| self.open_value(&keys.rotated, &sealed));
        let presented = rotated
            .and_then(|plain| String::from_utf8(plain).ok())
            .map(RefreshToken::new)
            .unwrap_or_else(|| refresh_token.clone());
        let window = LogtoClient::REFRESH_SHARE_WINDOW.as_secs().max(1);
        let refreshed = match client.refresh_grant(&presented, audience, sub).await {
            Ok(refreshed) => refreshed,
            Err(error) => {
                // Shared so that the requests waiting for this one do not each send a grant in
                // turn (after `invalid_grant`, each would present the revoked token again).
                if let Ok(json) = serde_json::to_string(&SharedFailure::of(&error)) {
                    let _ = self
                        .cmd::<()>(
                            "refresh failure",
                            redis::cmd("SET").arg(&keys.failed).arg(json).arg("EX").arg(window),
                        )
                        .await;
                }
                return Err(error.into());
            }
        };
        let shared = SharedRefresh {
            refresh_token: refreshed.refresh_token.clone(),
            access_token: refreshed.access_token.clone(),
        };
        let json = serde_json::to_vec(&shared).map_err(|e| self.logged(format!("refresh: {e}")))?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("SET")
            .arg(&keys.result)
            .arg(self.sealer.seal(&keys.result, &json))
            .arg("EX")
            .arg(window)
            .ignore();
        pipe.cmd("DEL").arg(&keys.failed).ignore();
        if !refreshed.refresh_token.matches(&presented) || !presented.matches(refresh_token) {
            pipe.cmd("SET")
                .arg(&keys.rotated)
                .arg(
                    self.sealer
                        .seal(&keys.rotated, refreshed.refresh_token.secret().as_bytes()),
                )
                .arg("EX")
                .arg(window)
                .ignore();
        }
        self.run::<()>("refresh result", Request::Pipe(&pipe)).await?;
        Ok(refreshed)
    }

    /// A result to share, or a failure that applies to a request that arrived at `arrived_ms`.
    async fn shared(
        &self,
        keys: &SlotKeys,
        arrived_ms: u64,
    ) -> Result<Option<Result<Refreshed, LogtoError>>, StoreError> {
        let sealed: Option<Vec<u8>> = self.cmd("refresh", redis::cmd("GET").arg(&keys.result)).await?;
        if let Some(shared) = sealed
            .and_then(|sealed| self.open_value(&keys.result, &sealed))
            .and_then(|json| serde_json::from_slice::<SharedRefresh>(&json).ok())
        {
            return Ok(Some(Ok(Refreshed::new(
                shared.access_token,
                shared.refresh_token,
                None,
            ))));
        }
        let json: Option<String> = self.cmd("refresh", redis::cmd("GET").arg(&keys.failed)).await?;
        Ok(json
            .and_then(|json| serde_json::from_str::<SharedFailure>(&json).ok())
            .filter(|failure| failure.is_final() || failure.at_ms >= arrived_ms)
            .map(|failure| Err(failure.into_error())))
    }
}
