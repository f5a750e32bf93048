//! The app's JSON API under `/api`, served only when `LOGTO_API_RESOURCE` is set: authorized by
//! Logto access tokens for that resource alone, never by the session cookie.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use logto_actix_web::{ApiResponse, BearerToken, LogtoAuth, ProtectedApi, RequireScopes};
use serde::Serialize;

use crate::config::ApiSettings;

/// Where the API lives.
pub const API_PREFIX: &str = "/api";

/// Mounts `/api/me` for `config`'s resource, sharing the sign-in client's cache of Logto's keys.
pub fn configure(config: &ApiSettings, auth: &LogtoAuth) -> impl FnOnce(&mut web::ServiceConfig) + 'static {
    let api = ProtectedApi::with_web(auth.web(), config.resource.clone());
    let me_requires = RequireScopes::new(config.required_scopes.clone()).organizations(config.organizations);
    move |cfg| {
        cfg.service(
            web::scope(API_PREFIX)
                .app_data(api)
                .service(
                    web::resource("/me")
                        .app_data(me_requires)
                        .route(web::get().to(me))
                        .default_service(web::to(|| async { json_error(StatusCode::METHOD_NOT_ALLOWED) })),
                )
                .default_service(web::to(|| async { json_error(StatusCode::NOT_FOUND) })),
        );
    }
}

/// `GET /api/me`: who the token was issued to, through which app, with what scopes.
#[derive(Serialize)]
struct Me<'a> {
    sub: &'a str,
    client_id: &'a str,
    scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
}

async fn me(token: BearerToken) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        sub: &token.sub,
        client_id: &token.client_id,
        scopes: &token.scopes,
        organization_id: token.organization_id.as_deref(),
    })
}

/// The API's own answer for an unknown path or method, in JSON like the rest of it.
fn json_error(status: StatusCode) -> HttpResponse {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        _ => "method_not_allowed",
    };
    let mut response = HttpResponse::build(status).json(serde_json::json!({ "error": code }));
    response.extensions_mut().insert(ApiResponse);
    response
}

/// Drops the request's cookies on API paths, ahead of the session middleware: the API is
/// authorized by tokens alone, so a browser's session cookie can neither authorize a call
/// (no CSRF through the API) nor cost a session load, and no session cookie is set in return.
pub async fn without_cookies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    if path == API_PREFIX || path.starts_with("/api/") {
        req.headers_mut().remove(header::COOKIE);
    }
    next.call(req).await
}
