//! A bounded `PING` to Redis, for readiness and `check`. Its own small client, made once, apart
//! from the session store: a probe must answer within its bound whatever the store's
//! connection manager is doing (it retries with back-off for minutes).

use std::time::Duration;

/// Redis errors seen by the probe, by `op`.
pub const REDIS_ERRORS: &str = "app_redis_errors_total";

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
pub enum RedisProbeError {
    /// No connection or no answer within the bound.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection or the command failed.
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    /// Something answered, but not `PONG`.
    #[error("unexpected answer to PING")]
    NotPong,
}

/// Sends `PING` to one Redis, each time on a fresh connection, within a bound.
#[derive(Clone)]
pub struct RedisProbe {
    client: redis::Client,
    timeout: Duration,
}

impl RedisProbe {
    /// A probe of the Redis at `url` (`redis://…`); nothing is connected yet.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RedisProbeError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            timeout,
        })
    }

    /// Connects and sends `PING`, all within the probe's bound.
    pub async fn ping(&self) -> Result<(), RedisProbeError> {
        let result = match tokio::time::timeout(self.timeout, self.send_ping()).await {
            Ok(result) => result,
            Err(_) => Err(RedisProbeError::Timeout(self.timeout)),
        };
        if result.is_err() {
            metrics::counter!(REDIS_ERRORS, "op" => "ping").increment(1);
        }
        result
    }

    async fn send_ping(&self) -> Result<(), RedisProbeError> {
        let mut connection = self.client.get_multiplexed_async_connection().await?;
        let answer: String = redis::cmd("PING").query_async(&mut connection).await?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(RedisProbeError::NotPong)
        }
    }
}
