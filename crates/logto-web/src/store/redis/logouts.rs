//! Back-channel logouts: the sessions a logout names are deleted for every instance, and the
//! logout token's id is remembered so that Logto's retry of the same token is "already received".

use logto_client::Logout;

use super::RedisStore;
use super::sessions::{session_key, sid_index, sub_index};
use crate::error::StoreError;

impl RedisStore {
    /// Ends, for every instance, the sessions a verified back-channel logout names: those of its
    /// Logto session (`sid`), and those of its user (`sub`) that began before it — when the token
    /// also names a `sid`, only the user's sessions that carry none (another Logto session of the
    /// user stays, as Back-Channel Logout 1.0 section 2.7 asks). `false` when the same logout token
    /// was received before.
    ///
    /// The token id is marked last, after the sessions and then their index entries are gone: if
    /// Redis fails on the way the answer is 503, and Logto's retry does the whole job again
    /// instead of being told "already received" while the sessions live on.
    pub(super) async fn end_sessions(&self, logout: &Logout) -> Result<bool, StoreError> {
        let jti_key = format!("logto:jti:{}", logout.jti);
        let seen: bool = self.cmd("logout token id", redis::cmd("EXISTS").arg(&jti_key)).await?;
        if seen {
            return Ok(false);
        }
        let sid_key = logout.sid.as_deref().map(|sid| sid_index(&self.sealer, sid));
        let sub_key = logout
            .sub
            .as_deref()
            .map(|sub| sub_index(&self.sealer, sub, logout.sid.is_none()));
        let mut sessions: Vec<String> = Vec::new();
        if let Some(sid_key) = &sid_key {
            sessions.extend(
                self.cmd::<Vec<String>>("logout by sid", redis::cmd("SMEMBERS").arg(sid_key))
                    .await?,
            );
        }
        if let Some(sub_key) = &sub_key {
            sessions.extend(
                self.cmd::<Vec<String>>(
                    "logout by sub",
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(sub_key)
                        .arg("-inf")
                        .arg(logout.issued_at),
                )
                .await?,
            );
        }
        // One key per command: in a Cluster the sessions live on different nodes.
        for session in &sessions {
            self.cmd::<()>("logout", redis::cmd("DEL").arg(session_key(session)))
                .await?;
        }
        if let Some(sid_key) = &sid_key {
            self.cmd::<()>("logout by sid", redis::cmd("DEL").arg(sid_key)).await?;
        }
        if let Some(sub_key) = &sub_key {
            self.cmd::<()>(
                "logout by sub",
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(sub_key)
                    .arg("-inf")
                    .arg(logout.issued_at),
            )
            .await?;
        }
        let first: Option<String> = self
            .cmd(
                "logout token id",
                redis::cmd("SET")
                    .arg(&jti_key)
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(self.max_age_secs()),
            )
            .await?;
        if first.is_none() {
            // Another delivery of the same token did the same work at the same time.
            return Ok(false);
        }
        log::info!("back-channel logout ended {} session(s) in Redis", sessions.len());
        Ok(true)
    }
}
