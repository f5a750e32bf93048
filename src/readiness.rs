//! `GET /readyz`: whether this instance can sign people in, for load balancers (the shared
//! [`Readiness`] decides). `/healthz` stays liveness only.

use actix_web::{HttpResponse, web};

use crate::error_page::KeepBody;

pub use crate::config::readiness::{DISCOVERY_RETRY_INTERVAL, Readiness};

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
