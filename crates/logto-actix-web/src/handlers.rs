//! The handlers [`LogtoAuth::configure`](crate::LogtoAuth::configure) mounts: read the request,
//! run the web core's flow, answer its decision.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::SignInOptions;
use logto_web::Redirect;

use crate::auth::LogtoAuth;
use crate::error::AuthErrorResponse;
use crate::session::ActixSession;

/// Starts a sign-in with `options`; `way_in` names the route, for the counters.
pub(crate) async fn sign_in(
    req: HttpRequest,
    auth: LogtoAuth,
    options: SignInOptions,
    way_in: String,
) -> Result<HttpResponse, AuthErrorResponse> {
    let ui_locales = auth.ui_locales(&req);
    let redirect = auth
        .web()
        .start_sign_in(ActixSession::of(&req), req.query_string(), options, &way_in, ui_locales)
        .await?;
    Ok(see_other(&redirect))
}

/// Finishes a sign-in.
pub(crate) async fn callback(req: HttpRequest, auth: LogtoAuth) -> Result<HttpResponse, AuthErrorResponse> {
    let redirect = auth
        .web()
        .finish_sign_in(ActixSession::of(&req), req.query_string())
        .await?;
    Ok(see_other(&redirect))
}

/// Signs out (CSRF-protected).
pub(crate) async fn sign_out(
    req: HttpRequest,
    body: web::Bytes,
    auth: LogtoAuth,
) -> Result<HttpResponse, AuthErrorResponse> {
    let redirect = auth.web().sign_out(ActixSession::of(&req), &body).await?;
    Ok(see_other(&redirect))
}

/// Chooses the active organization (CSRF-protected).
pub(crate) async fn choose_organization(
    req: HttpRequest,
    body: web::Bytes,
    auth: LogtoAuth,
) -> Result<HttpResponse, AuthErrorResponse> {
    let redirect = auth.web().choose_organization(ActixSession::of(&req), &body).await?;
    Ok(see_other(&redirect))
}

/// Logto's back-channel logout.
pub(crate) async fn backchannel_logout(body: web::Bytes, auth: LogtoAuth) -> Result<HttpResponse, AuthErrorResponse> {
    auth.web().backchannel_logout(&body).await?;
    Ok(HttpResponse::Ok().finish())
}

/// A decision of the web core as a `303 See Other`.
pub fn see_other(redirect: &Redirect) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, redirect.location.as_str()))
        .finish()
}
