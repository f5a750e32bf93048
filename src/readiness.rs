//! `GET /readyz`: whether this instance can sign people in, for load balancers. Ready once
//! Logto's discovery is loaded and Redis (when used) answers; `/healthz` stays liveness only.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use logto_actix_web::{LogtoAuth, RedisStore, SessionStore};

use crate::error_page::KeepBody;

/// Shortest time between two discovery fetches started by the probe, so that a load balancer
/// polling a broken instance does not turn into a stream of requests to Logto.
pub const DISCOVERY_RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// What the readiness probe looks at; built once at start-up.
pub struct Readiness {
    auth: LogtoAuth,
    redis: Option<RedisStore>,
    last_discovery_attempt: Mutex<Option<Instant>>,
}

impl Readiness {
    /// Readiness of the app signing in through `auth`, with its Redis session store when used.
    pub fn new(auth: LogtoAuth, redis: Option<RedisStore>) -> Self {
        Self {
            auth,
            redis,
            last_discovery_attempt: Mutex::new(None),
        }
    }

    /// `None` when ready, else why not, in plain words for the operator.
    pub async fn not_ready(&self) -> Option<&'static str> {
        let client = self.auth.client();
        if client.cached_metadata().await.is_none() {
            if !self.may_try_discovery() {
                return Some("Logto's discovery is not loaded yet");
            }
            if let Err(e) = client.metadata().await {
                log::warn!("readiness: Logto's discovery could not be loaded: {e}");
                return Some("Logto's discovery could not be loaded");
            }
        }
        if let Some(redis) = &self.redis
            && let Err(e) = redis.ping().await
        {
            log::warn!("readiness: Redis does not answer: {e}");
            return Some("Redis does not answer");
        }
        None
    }

    /// Whether the probe may fetch discovery now (at most once per [`DISCOVERY_RETRY_INTERVAL`]).
    fn may_try_discovery(&self) -> bool {
        let mut last = self.last_discovery_attempt.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < DISCOVERY_RETRY_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// 200 `ready`, or 503 with the reason in plain text.
pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    match readiness.not_ready().await {
        None => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready"),
        Some(reason) => {
            let mut response = HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body(format!("not ready: {reason}"));
            response.extensions_mut().insert(KeepBody);
            response
        }
    }
}
