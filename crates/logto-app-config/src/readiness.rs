//! Whether an instance can sign people in, for load balancers (`GET /readyz` of both binaries):
//! ready once Logto's discovery is loaded and the session store (when it is Redis) answers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use logto_web::LogtoWeb;

/// Shortest time between two discovery fetches started by the probe, so that a load balancer
/// polling a broken instance does not turn into a stream of requests to Logto.
pub const DISCOVERY_RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// What the readiness probe looks at; built once at start-up.
pub struct Readiness {
    web: LogtoWeb,
    ping_store: bool,
    last_discovery_attempt: Mutex<Option<Instant>>,
}

impl Readiness {
    /// Readiness of the sign-in `web`; `ping_store`: its session store is Redis, which must answer
    /// (the probe pings the store's own connection).
    pub fn new(web: LogtoWeb, ping_store: bool) -> Self {
        Self {
            web,
            ping_store,
            last_discovery_attempt: Mutex::new(None),
        }
    }

    /// Why the instance is not ready, for the probe's plain-text answer; `None` when it is. The
    /// cause goes to the log.
    pub async fn not_ready(&self) -> Option<&'static str> {
        let client = self.web.client();
        if client.cached_metadata().await.is_none() {
            if !self.may_try_discovery() {
                return Some("Logto's discovery is not loaded yet");
            }
            if let Err(e) = client.metadata().await {
                log::warn!("readiness: Logto's discovery could not be loaded: {e}");
                return Some("Logto's discovery could not be loaded");
            }
        }
        if self.ping_store
            && let Err(e) = self.web.store().ping().await
        {
            log::warn!("readiness: Redis does not answer: {e}");
            return Some("Redis does not answer");
        }
        None
    }

    /// Whether the probe may start a discovery fetch now (at most one per
    /// [`DISCOVERY_RETRY_INTERVAL`]).
    fn may_try_discovery(&self) -> bool {
        let mut last = self.last_discovery_attempt.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < DISCOVERY_RETRY_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}
