//! `/api/me`: who an access token for `LOGTO_API_RESOURCE` belongs to, as JSON. Refusals are the
//! web core's RFC 6750 answers (through `logto-axum`'s `ApiRejection`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use logto_axum::{ApiResponse, BearerToken};
use serde::Serialize;

/// The answer of `/api/me`.
#[derive(Serialize)]
pub struct Me {
    sub: String,
    client_id: String,
    scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<String>,
}

/// `GET /api/me`: the token's subject, client, scopes and organization.
pub async fn me(token: BearerToken) -> Json<Me> {
    let token = token.token;
    Json(Me {
        sub: token.sub,
        client_id: token.client_id,
        scopes: token.scopes,
        organization_id: token.organization_id,
    })
}

/// An unknown path under `/api`: JSON, not a page.
pub async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found")
}

/// A method `/api/me` does not take: JSON, not a page.
pub async fn method_not_allowed() -> Response {
    let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    response.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("GET,HEAD"),
    );
    response
}

fn json_error(status: StatusCode, code: &str) -> Response {
    let mut response = (status, Json(serde_json::json!({ "error": code }))).into_response();
    response.extensions_mut().insert(ApiResponse);
    response
}
