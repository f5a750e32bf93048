//! The handlers [`LogtoAuth::configure`](crate::LogtoAuth::configure) mounts. Each is thin: read
//! the request, ask the Logto client, keep the result in the session, answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::{
    CallbackError, CallbackParams, LogtoError, SignInError, SignInOptions, TokenError, TokenKind, constant_time_eq,
};

use crate::auth::LogtoAuth;
use crate::error::AuthError;
use crate::return_to::{first_param, safe_return_to};
use crate::session::LogtoSession;
use crate::user::SessionUser;

/// Starts a sign-in with `options` and sends the browser to Logto; `?return_to=` (a same-site
/// path, else `/`) is where the callback will send it afterwards. `way_in` names the route, for
/// the counters.
pub(crate) async fn sign_in(
    req: HttpRequest,
    auth: LogtoAuth,
    mut options: SignInOptions,
    way_in: String,
) -> Result<HttpResponse, AuthError> {
    let return_to = safe_return_to(first_param(req.query_string().as_bytes(), "return_to").as_deref());
    if let Some(ui_locales) = auth.ui_locales(&req) {
        options.ui_locales = Some(ui_locales);
    }
    let mut request = auth.client().sign_in(&options).await?;
    request.pending.set_return_to(return_to);
    request.pending.set_way_in(way_in.as_str());
    let session = LogtoSession::of_available(&req)?;
    let mut pending = session.pending();
    pending.push(request.pending);
    session.set_pending(&pending)?;
    crate::telemetry::sign_in_started(&way_in);
    Ok(see_other(request.url.as_str()))
}

/// Finishes a sign-in, then sends the browser where the sign-in said. A person who cancelled at
/// Logto goes to the configured page instead, still signed out.
pub(crate) async fn callback(req: HttpRequest, auth: LogtoAuth) -> Result<HttpResponse, AuthError> {
    let params = CallbackParams::parse(req.query_string())?;
    let session = LogtoSession::of_available(&req)?;
    // Taken out before anything else: whatever happens next, this callback cannot be replayed.
    let mut pending = session.pending();
    let attempt = match pending.take(&params) {
        Ok(attempt) => attempt,
        // Another tab's sign-in finished first and spent this one: the person is signed in, and
        // this callback redeems nothing, so it goes home rather than to an error page.
        Err(CallbackError::UnknownState) if auth.current_user(&session).is_some() => {
            log::info!("callback of a sign-in already spent while signed in: sent home");
            return Ok(see_other("/"));
        }
        Err(e) => return Err(e.into()),
    };
    session.set_pending(&pending)?;
    let client = auth.client();
    let signed_in = match client.finish_sign_in(&params, &attempt).await {
        Ok(signed_in) => signed_in,
        // Cancelling is a choice, not a failure.
        Err(SignInError::Callback(e)) if e.is_cancelled() => {
            log::info!("sign-in cancelled at Logto");
            return Ok(see_other(auth.cancelled_redirect()));
        }
        Err(e) => return Err(e.into()),
    };
    let user = SessionUser::from_sign_in(&signed_in, client.now());
    session.sign_in(&user, &signed_in)?;
    log::info!("signed in: user {}", crate::log_safe(&user.sub));
    crate::telemetry::sign_in_finished(&auth, attempt.way_in());
    Ok(see_other(attempt.return_to().unwrap_or("/")))
}

/// Ends the session (CSRF-protected), revokes the refresh token, and sends the browser to
/// Logto's end-session endpoint, which returns it to the post sign-out URI.
pub(crate) async fn sign_out(req: HttpRequest, body: web::Bytes, auth: LogtoAuth) -> Result<HttpResponse, AuthError> {
    let session = LogtoSession::of_available(&req)?;
    if auth.current_user(&session).is_none() {
        return Ok(see_other("/"));
    }
    let provided = first_param(&body, "csrf_token");
    let valid = matches!(
        (session.csrf_token(), provided),
        (Some(expected), Some(provided)) if constant_time_eq(&expected, &provided)
    );
    if !valid {
        // Most often a tab older than this session (signed out and in again elsewhere). Asking
        // again with a fresh form changes nothing, so a cross-site form still signs no one out.
        if let Some(page) = auth.sign_out_page_path() {
            log::info!("sign-out form without this session's CSRF token: asked again");
            return Ok(see_other(page));
        }
        return Err(AuthError::Csrf);
    }
    let refresh_token = session.refresh_token();
    session.purge();
    // The local session is gone whatever Logto says; its failures are logged, not shown.
    let client = auth.client();
    let mut reached = true;
    if let Some(refresh_token) = refresh_token
        && let Err(e) = client.revoke(&refresh_token).await
    {
        log::warn!(
            "sign-out: the refresh token was not revoked: {}",
            crate::error::chain(&e)
        );
        reached = !unreachable(&e);
    }
    // Sending the browser to an end-session page that does not answer would end its visit on
    // the browser's own error page: home, with the app's word that Logto's session may be open.
    let target = if !reached {
        auth.unreachable_sign_out_redirect().to_owned()
    } else {
        match client.end_session_url().await {
            Ok(Some(url)) => url.to_string(),
            Ok(None) => "/".to_owned(),
            Err(e) => {
                log::warn!("sign-out: cannot end the Logto session: {}", crate::error::chain(&e));
                auth.unreachable_sign_out_redirect().to_owned()
            }
        }
    };
    Ok(see_other(&target))
}

/// Whether Logto did not answer (or answered with a server error), as opposed to refusing.
fn unreachable(error: &LogtoError) -> bool {
    match error {
        LogtoError::Unreachable { .. } => true,
        LogtoError::HttpStatus { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Logto's back-channel logout: a signed logout token naming who signed out. Their sessions end
/// the next time their cookie comes in.
pub(crate) async fn backchannel_logout(body: web::Bytes, auth: LogtoAuth) -> Result<HttpResponse, AuthError> {
    let token = first_param(&body, "logout_token").ok_or(AuthError::LogoutToken(LogtoError::InvalidToken {
        kind: TokenKind::LogoutToken,
        reason: TokenError::Malformed,
    }))?;
    let client = auth.client();
    let logout = client
        .verify_logout_token(&token)
        .await
        .map_err(AuthError::LogoutToken)?;
    crate::telemetry::backchannel_logout();
    if auth.record_logout(&logout).await? {
        log::info!(
            "back-channel logout for user {}",
            crate::log_safe(logout.sub.as_deref().unwrap_or("(by session id)"))
        );
    }
    Ok(HttpResponse::Ok().finish())
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
