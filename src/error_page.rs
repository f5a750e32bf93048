//! Every failure, mapped to a page in one place: the library's [`AuthError`]s (by their
//! [`AuthErrorKind`]), the app's own, and actix's (unknown route, wrong method, unreadable form).
//! The operator gets the cause in the log; the user a short message in their language and a way
//! on, never internals.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{FromRequest, HttpResponse, ResponseError, web};
use logto_actix_web::{ApiResponse, AuthError, AuthErrorKind, AuthErrorResponse, LogtoAuth, OptionalUser};

use crate::config::site::sign_in_again;
use crate::i18n::{ErrorText, Locale};
use crate::templates::Templates;

/// Errors of the app's own pages.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Sign-in, the session or Logto failed.
    #[error(transparent)]
    Auth(#[from] AuthErrorResponse),
    /// A page could not be rendered.
    #[error("template: {0}")]
    Template(#[from] tera::Error),
}

impl From<AuthError> for PageError {
    fn from(error: AuthError) -> Self {
        PageError::Auth(error.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Auth(e) => e.status_code(),
            PageError::Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Auth(e) => e.error_response(),
            PageError::Template(e) => {
                log::error!("500: template: {e}");
                let mut response = HttpResponse::InternalServerError().finish();
                response.extensions_mut().insert(ErrorText::Internal);
                response
            }
        }
    }
}

/// The words for a failure of sign-in, and whether "Sign in again" is a useful way on.
fn auth_page(kind: AuthErrorKind) -> (ErrorText, bool) {
    match kind {
        AuthErrorKind::Denied => (ErrorText::Denied, true),
        AuthErrorKind::Expired => (ErrorText::Expired, true),
        AuthErrorKind::InvalidCallback => (ErrorText::InvalidLink, true),
        AuthErrorKind::InvalidGrant => (ErrorText::UsedCode, true),
        AuthErrorKind::LogtoUnavailable => (ErrorText::ServiceDown, true),
        AuthErrorKind::Csrf => (ErrorText::Csrf, false),
        AuthErrorKind::SignInRequired => (ErrorText::SignInRequired, true),
        AuthErrorKind::BadLogoutToken => (ErrorText::BadRequest, false),
        AuthErrorKind::Misconfigured | AuthErrorKind::Session => (ErrorText::Internal, false),
        AuthErrorKind::SessionUnavailable => (ErrorText::SessionUnavailable, false),
        AuthErrorKind::NotAMember | AuthErrorKind::OrganizationDenied => (ErrorText::NotAMember, false),
        _ => (ErrorText::Internal, false),
    }
}

fn status_page(status: StatusCode) -> ErrorText {
    match status {
        StatusCode::NOT_FOUND => ErrorText::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorText::MethodNotAllowed,
        s if s.is_client_error() => ErrorText::BadRequest,
        _ => ErrorText::Internal,
    }
}

/// Marks an error response whose body is meant for machines (e.g. `/readyz`'s plain-text
/// reason): it is kept as it is, not replaced by a page.
pub struct KeepBody;

/// Renders the error page for every 4xx/5xx response, except those meant for machines: the API's
/// keep their JSON, `/readyz` its plain text.
pub fn render_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    Ok(ErrorHandlerResponse::Response(error_page(res)))
}

/// The response with its page (or as it is, when it is meant for machines).
pub fn error_page<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B, BoxBody>> {
    if res.response().extensions().contains::<KeepBody>() || res.response().extensions().get::<ApiResponse>().is_some()
    {
        return res.map_into_left_body();
    }
    let status = res.status();
    let (text, offer_sign_in) = {
        let extensions = res.response().extensions();
        match (extensions.get::<AuthErrorKind>(), extensions.get::<ErrorText>()) {
            (Some(kind), _) => auth_page(*kind),
            (None, Some(text)) => (*text, false),
            (None, None) => (status_page(status), false),
        }
    };
    let request = res.request();
    let locale = Locale::of_request(request);
    // The header and the ways on fit who is reading: a signed-in person is not asked to sign in.
    let signed_in = matches!(OptionalUser::extract(request).into_inner(), Ok(OptionalUser(Some(_))));
    // The sign-in path is the crate's (`LogtoAuth` is configured on every app of this server).
    let sign_in_href = (offer_sign_in && !signed_in)
        .then(|| request.app_data::<LogtoAuth>())
        .flatten()
        .map(|auth| sign_in_again(auth.web().sign_in_path(), request.query_string()));
    let templates = request.app_data::<web::Data<Templates>>().cloned();
    let body = templates
        .and_then(|t| {
            t.error_page(locale, status, text, signed_in, sign_in_href.as_deref())
                .ok()
        })
        .unwrap_or_else(|| {
            let (title, message) = locale.error(text);
            format!("{title}\n\n{message}\n")
        });
    let (req, res) = res.into_parts();
    let mut response = HttpResponse::with_body(status, body).map_into_boxed_body();
    // Keep the headers the response already has (`Allow` on a 405, cookies a handler set);
    // replace the body's type. The security headers are added outside, after this.
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
    ServiceResponse::new(req, response)
}
