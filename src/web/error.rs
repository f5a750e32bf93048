//! Every failure, mapped to a status and a page in one place. The operator gets the cause in
//! the log; the user gets a short message and a way back, never internals.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError, web};

use crate::logto::{CallbackError, CallbackOutcome, LogtoError};

use super::i18n::{ErrorText, Locale};
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

/// What the error page says: a message key, turned into words in the visitor's language when
/// the page is rendered (see [`super::i18n`]).
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage {
    /// Heading and explanation.
    pub text: ErrorText,
    /// Whether "Sign in again" is a useful way on.
    pub offer_sign_in: bool,
}

impl AppError {
    fn page(&self) -> ErrorPage {
        let page = |text, offer_sign_in| ErrorPage { text, offer_sign_in };
        match self {
            // A cancelled sign-in never gets here: the callback sends it home with a notice.
            AppError::Callback(CallbackError::Denied { .. }) => page(ErrorText::Denied, true),
            AppError::Callback(CallbackError::Expired) => page(ErrorText::Expired, true),
            AppError::Callback(_) => page(ErrorText::InvalidLink, true),
            AppError::Logto(e) if e.is_invalid_grant() => page(ErrorText::UsedCode, true),
            AppError::Logto(LogtoError::NotRequested(_)) => page(ErrorText::Internal, false),
            AppError::Logto(_) => page(ErrorText::ServiceDown, true),
            AppError::Csrf => page(ErrorText::Csrf, false),
            AppError::SignInRequired { .. } => page(ErrorText::SignInRequired, true),
            AppError::LogoutToken(_) => page(ErrorText::BadRequest, false),
            AppError::Session(_) | AppError::SessionTooLarge(_) | AppError::Template(_) => {
                page(ErrorText::Internal, false)
            }
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
    let locale = Locale::of_request(res.request());
    let templates = res.request().app_data::<web::Data<Templates>>().cloned();
    let body = templates
        .and_then(|t| t.error_page(locale, status, &page).ok())
        .unwrap_or_else(|| {
            let (title, message) = locale.error(page.text);
            format!("{title}\n\n{message}\n")
        });
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
    let text = match status {
        StatusCode::NOT_FOUND => ErrorText::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorText::MethodNotAllowed,
        s if s.is_client_error() => ErrorText::BadRequest,
        _ => ErrorText::Internal,
    };
    ErrorPage {
        text,
        offer_sign_in: false,
    }
}
