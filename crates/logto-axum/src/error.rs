//! The web core's errors as axum responses: the status the core decides, the core's log line,
//! and for sign-in errors an [`AuthErrorKind`](logto_web::AuthErrorKind) in the response's
//! extensions for the app's error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use logto_web::{ApiError, AuthError};

/// An [`AuthError`] answered by axum: the rejection of this crate's extractors and the error of
/// its handlers. A sign-in required is a `303` to the sign-in route; anything else its status with
/// an empty body and the [`AuthErrorKind`](logto_web::AuthErrorKind) in the extensions, for an
/// error-page layer to put into words.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct AuthRejection(#[from] pub AuthError);

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let Some(location) = self.0.redirect() {
            return see_other(location);
        }
        self.0.report();
        let status = StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(self.0.kind());
        response
    }
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        // Locations come from the core (same-site paths, Logto's URLs): never unencodable.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A marker in a response's extensions: its body is an API's answer (JSON), which an app's error
/// pages must leave as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiResponse;

/// An [`ApiError`] answered by axum as RFC 6750 says, with its JSON body.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiRejection(#[from] pub ApiError);

impl IntoResponse for ApiRejection {
    fn into_response(self) -> Response {
        self.0.report();
        let status = StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            self.0.body(),
        )
            .into_response();
        if let Some(challenge) = self.0.challenge().and_then(|c| HeaderValue::try_from(c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response.extensions_mut().insert(ApiResponse);
        response
    }
}
