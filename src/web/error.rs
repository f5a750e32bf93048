//! Every failure, mapped to a status and a page in one place. The operator gets the cause in
//! the log; the user gets a short message and a way back, never internals.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError, web};

use crate::logto::{CallbackError, CallbackOutcome, LogtoError};

use super::templates::Templates;

/// Errors of the web side.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The callback was refused before Logto was asked.
    #[error("callback refused: {0}")]
    Callback(#[from] CallbackError),
    /// Logto failed, refused, or sent something that did not verify.
    #[error("Logto: {0}")]
    Logto(#[from] LogtoError),
    /// A protected page was asked for without a session.
    #[error("sign-in required")]
    SignInRequired {
        /// Where to come back to after sign-in.
        return_to: String,
    },
    /// A back-channel logout request without a valid logout token.
    #[error("back-channel logout refused: {0}")]
    LogoutToken(LogtoError),
    /// A state-changing form came without the session's CSRF token.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// The session could not be written.
    #[error("session: {0}")]
    Session(String),
    /// The session would not fit in a cookie.
    #[error("session state of {0} bytes exceeds the cookie budget")]
    SessionTooLarge(usize),
    /// A page could not be rendered.
    #[error("template: {0}")]
    Template(#[from] tera::Error),
}

impl From<CallbackOutcome> for AppError {
    fn from(outcome: CallbackOutcome) -> Self {
        match outcome {
            CallbackOutcome::Refused(e) => AppError::Callback(e),
            CallbackOutcome::Logto(e) => AppError::Logto(e),
        }
    }
}

/// What the error page says.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage {
    /// Heading.
    pub title: &'static str,
    /// One or two sentences a person understands.
    pub message: &'static str,
    /// Whether "Sign in again" is a useful way on.
    pub offer_sign_in: bool,
}

impl AppError {
    fn page(&self) -> ErrorPage {
        let page = |title, message, offer_sign_in| ErrorPage {
            title,
            message,
            offer_sign_in,
        };
        match self {
            AppError::Callback(CallbackError::Denied { error, .. }) if error == "access_denied" => page(
                "Sign-in cancelled",
                "You cancelled signing in, so you are still signed out.",
                true,
            ),
            AppError::Callback(CallbackError::Denied { .. }) => page(
                "Sign-in did not finish",
                "The sign-in service could not complete your sign-in. Please try again.",
                true,
            ),
            AppError::Callback(CallbackError::Expired) => page(
                "Sign-in expired",
                "This sign-in took too long. Please start again.",
                true,
            ),
            AppError::Callback(_) => page(
                "This sign-in link is not valid",
                "It may have been used already, or it was not started in this browser. Please sign in again.",
                true,
            ),
            AppError::Logto(e) if e.is_invalid_grant() => page(
                "This sign-in link is not valid",
                "It has been used already or has expired. Please sign in again.",
                true,
            ),
            AppError::Logto(LogtoError::NotRequested(_)) => page(
                "Something went wrong",
                "We could not finish your request. Please try again.",
                false,
            ),
            AppError::Logto(_) => page(
                "The sign-in service is not answering",
                "We could not reach the sign-in service or it answered in a way we could not trust. Please try again in a minute.",
                true,
            ),
            AppError::Csrf => page(
                "Please use the sign-out button",
                "That request did not come from this site's sign-out form, so nothing was changed.",
                false,
            ),
            AppError::SignInRequired { .. } => page("Please sign in", "This page needs you to sign in.", true),
            AppError::LogoutToken(_) => page("Bad request", "The logout token is not valid.", false),
            AppError::Session(_) | AppError::SessionTooLarge(_) | AppError::Template(_) => page(
                "Something went wrong",
                "We could not finish your request. Please try again.",
                false,
            ),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Callback(_) => StatusCode::BAD_REQUEST,
            // A code Logto calls invalid was stale or replayed: the user's request, not Logto, was bad.
            AppError::Logto(e) if e.is_invalid_grant() => StatusCode::BAD_REQUEST,
            // The app asked for a token it never requested: its configuration, not Logto, is wrong.
            AppError::Logto(LogtoError::NotRequested(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Logto(_) => StatusCode::BAD_GATEWAY,
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            // Logto could not be asked for its keys: try again later. Anything else: a bad token.
            AppError::LogoutToken(LogtoError::Unreachable { .. } | LogtoError::BadResponse { .. }) => {
                StatusCode::BAD_GATEWAY
            }
            AppError::LogoutToken(_) => StatusCode::BAD_REQUEST,
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::Session(_) | AppError::SessionTooLarge(_) | AppError::Template(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::SignInRequired { return_to } = self {
            let location = format!("/sign-in?return_to={}", urlencode(return_to));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        // The Display text names the failing step and reason, never a token or secret.
        if status.is_server_error() {
            log::error!("{status}: {self}");
        } else {
            log::warn!("{status}: {self}");
        }
        let mut response = HttpResponse::build(status).finish();
        response.extensions_mut().insert(self.page());
        response
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Renders the error page for every 4xx/5xx response, whether it came from [`AppError`] or
/// from actix itself (unknown route, wrong method, unreadable form).
pub fn render_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    let page = res
        .response()
        .extensions()
        .get::<ErrorPage>()
        .copied()
        .unwrap_or_else(|| default_page(status));
    let templates = res.request().app_data::<web::Data<Templates>>().cloned();
    let body = templates
        .and_then(|t| t.error_page(status, &page).ok())
        .unwrap_or_else(|| format!("{}\n\n{}\n", page.title, page.message));
    let (req, res) = res.into_parts();
    let mut response = HttpResponse::with_body(status, body).map_into_boxed_body();
    // Keep what middleware set so far (cookies, security headers); replace the body's type.
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let response: HttpResponse<EitherBody<B, BoxBody>> = response.map_into_right_body();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response)))
}

fn default_page(status: StatusCode) -> ErrorPage {
    let page = |title, message| ErrorPage {
        title,
        message,
        offer_sign_in: false,
    };
    match status {
        StatusCode::NOT_FOUND => page("Page not found", "There is no page at this address."),
        StatusCode::METHOD_NOT_ALLOWED => page("Not allowed", "This page cannot be used that way."),
        s if s.is_client_error() => page("Bad request", "The request could not be understood."),
        _ => page(
            "Something went wrong",
            "We could not finish your request. Please try again.",
        ),
    }
}
