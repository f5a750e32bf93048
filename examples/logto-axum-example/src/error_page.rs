//! Every failure as a plain English page: the web core's errors by their `AuthErrorKind` (which
//! `logto-axum` puts in the response's extensions), unknown paths, wrong methods. The operator
//! has the cause in the log; the reader a short message and a way on, never internals.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use logto_app_config::site::sign_in_again;
use logto_axum::{ApiResponse, AuthErrorKind, AxumSession, LogtoAxum};

use crate::pages::{escape, page};

/// A marker in a response's extensions: its body is meant as it is (e.g. `/readyz`'s reason).
#[derive(Clone, Copy, Debug)]
pub struct KeepBody;

/// A marker: the page was made already (by the layer inside the session).
#[derive(Clone, Copy, Debug)]
struct Rendered;

/// Replaces the body of an error response with its page, keeping its status and headers (`Allow`
/// on a 405, the cookies a handler set).
pub async fn render(req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or_default().to_owned();
    let session = req.extensions().get::<AxumSession>().cloned();
    let logto = req.extensions().get::<LogtoAxum>().cloned();
    // The crate owns the sign-in path; outside the session layer it is not known, and not offered.
    let sign_in_path = logto.as_ref().map(|logto| logto.web().sign_in_path().to_owned());
    let response = next.run(req).await;
    let status = response.status();
    let extensions = response.extensions();
    if !(status.is_client_error() || status.is_server_error())
        || extensions.get::<ApiResponse>().is_some()
        || extensions.get::<KeepBody>().is_some()
        || extensions.get::<Rendered>().is_some()
    {
        return response;
    }
    let (title, message, offer_sign_in) = match extensions.get::<AuthErrorKind>() {
        Some(kind) => auth_text(*kind),
        None => status_text(status),
    };
    // A signed-in reader is not asked to sign in again.
    let signed_in = match (logto, session) {
        (Some(logto), Some(session)) => matches!(logto.web().signed_in_user(session, None), Ok(Some(_))),
        _ => false,
    };
    let mut body = format!(
        "<h1>{title}</h1>\n<p>{message}</p>\n<p>Error {}</p>\n<p>",
        status.as_u16()
    );
    if let Some(sign_in_path) = sign_in_path.filter(|_| offer_sign_in && !signed_in) {
        body.push_str(&format!(
            r#"<a href="{}">Sign in again</a> · "#,
            escape(&sign_in_again(&sign_in_path, &query))
        ));
    }
    body.push_str(r#"<a href="/">Back to home</a></p>"#);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.extensions.insert(Rendered);
    Response::from_parts(parts, Body::from(page(title, &body)))
}

/// The words for a sign-in failure, and whether signing in again is the way on.
fn auth_text(kind: AuthErrorKind) -> (&'static str, &'static str, bool) {
    match kind {
        AuthErrorKind::Denied => (
            "Sign-in did not finish",
            "The sign-in service could not complete your sign-in. Please try again.",
            true,
        ),
        AuthErrorKind::Expired => (
            "Sign-in expired",
            "This sign-in took too long. Please start again.",
            true,
        ),
        AuthErrorKind::InvalidCallback => (
            "This sign-in link is not valid",
            "It may have been used already, or it was not started in this browser. Please sign in again.",
            true,
        ),
        AuthErrorKind::InvalidGrant => (
            "This sign-in link is not valid",
            "It has been used already or has expired. Please sign in again.",
            true,
        ),
        AuthErrorKind::LogtoUnavailable => (
            "The sign-in service is not answering",
            "We could not reach the sign-in service or it answered in a way we could not trust. \
             Please try again in a minute.",
            true,
        ),
        AuthErrorKind::Csrf => (
            "Please use the sign-out button",
            "That request did not come from this site's sign-out form, so nothing was changed.",
            false,
        ),
        AuthErrorKind::SignInRequired => ("Please sign in", "This page needs you to sign in.", true),
        AuthErrorKind::BadLogoutToken => ("Bad request", "The request could not be understood.", false),
        AuthErrorKind::SessionUnavailable => (
            "Temporarily unavailable",
            "We cannot reach your session right now. Please try again in a moment.",
            false,
        ),
        _ => (
            "Something went wrong",
            "We could not finish your request. Please try again.",
            false,
        ),
    }
}

/// The words for a status without a sign-in failure behind it.
fn status_text(status: StatusCode) -> (&'static str, &'static str, bool) {
    match status {
        StatusCode::NOT_FOUND => ("Page not found", "There is no page at this address.", false),
        StatusCode::METHOD_NOT_ALLOWED => ("Not allowed", "This page cannot be used that way.", false),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Temporarily unavailable",
            "We cannot reach your session right now. Please try again in a moment.",
            false,
        ),
        s if s.is_client_error() => ("Bad request", "The request could not be understood.", false),
        _ => (
            "Something went wrong",
            "We could not finish your request. Please try again.",
            false,
        ),
    }
}
