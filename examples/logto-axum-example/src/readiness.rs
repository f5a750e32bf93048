//! `/readyz`: whether this instance can sign people in now — Logto's discovery loaded, Redis
//! (when used) answering. `/healthz` stays liveness only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use logto_axum::LogtoAxum;

use crate::error_page::KeepBody;

/// How often a probe may try to load Logto's discovery while it is missing: probes come every few
/// seconds from every load balancer, and must not become a flood on a struggling Logto.
pub const DISCOVERY_RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// What the probe checks.
pub struct Readiness {
    logto: LogtoAxum,
    redis: bool,
    last_discovery_attempt: Mutex<Option<Instant>>,
}

impl Readiness {
    /// The probe of this sign-in; `redis`: the session store is Redis, and must answer.
    pub fn new(logto: LogtoAxum, redis: bool) -> Self {
        Self {
            logto,
            redis,
            last_discovery_attempt: Mutex::new(None),
        }
    }

    /// Why the instance is not ready, or `None`.
    async fn not_ready(&self) -> Option<&'static str> {
        let client = self.logto.client();
        if client.cached_metadata().await.is_none() {
            if !self.may_try_discovery() {
                return Some("Logto's discovery is not loaded yet");
            }
            if let Err(e) = client.metadata().await {
                log::warn!("readiness: Logto's discovery could not be loaded: {e}");
                return Some("Logto's discovery could not be loaded");
            }
        }
        if self.redis
            && let Err(e) = self.logto.web().store().ping().await
        {
            log::warn!("readiness: Redis does not answer: {e}");
            return Some("Redis does not answer");
        }
        None
    }

    fn may_try_discovery(&self) -> bool {
        let mut last = self.last_discovery_attempt.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < DISCOVERY_RETRY_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// `GET /readyz`: 200 `ready`, or 503 with the reason in plain text.
pub async fn readyz(State(readiness): State<Arc<Readiness>>) -> Response {
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match readiness.not_ready().await {
        None => (plain, "ready").into_response(),
        Some(reason) => {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, plain, format!("not ready: {reason}")).into_response();
            response.extensions_mut().insert(KeepBody);
            response
        }
    }
}
