//! The web core's errors as actix responses: the status the core decides, the core's log line,
//! and for sign-in errors an [`AuthErrorKind`](logto_web::AuthErrorKind) in the response's
//! extensions for the app's error page to put into words.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use logto_web::{ApiError, AuthError};

/// A [`AuthError`] answered by actix-web: what handlers and extractors of this crate return.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct AuthErrorResponse(#[from] pub AuthError);

impl ResponseError for AuthErrorResponse {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(location) = self.0.redirect() {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        self.0.report();
        let mut response = HttpResponse::build(self.status_code()).finish();
        response.extensions_mut().insert(self.0.kind());
        response
    }
}

/// A marker in a response's extensions: its body is an API's answer (JSON), which an app's error
/// pages must leave as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiResponse;

/// An [`ApiError`] answered by actix-web as RFC 6750 says, with its JSON body.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiErrorResponse(#[from] pub ApiError);

impl ResponseError for ApiErrorResponse {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.0.report();
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = self.0.challenge() {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        let mut response = response.content_type("application/json").body(self.0.body());
        response.extensions_mut().insert(ApiResponse);
        response
    }
}
