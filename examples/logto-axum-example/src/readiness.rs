//! `GET /readyz`: whether this instance can sign people in, for load balancers (the shared
//! [`Readiness`] decides). `/healthz` stays liveness only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error_page::KeepBody;

pub use logto_app_config::readiness::Readiness;

/// 200 `ready`, or 503 with the reason in plain text.
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
