//! The request handlers. Each is thin: read the request, ask the Logto client, keep the
//! result in the session, answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::logto::{Audience, CallbackError, CallbackOutcome, CallbackParams, FirstScreen, LogtoClient, LogtoError};

use super::error::AppError;
use super::extract::SignedInUser;
use super::i18n::{LangCookieSecure, Locale, Ui};
use super::logout::LogoutRegistry;
use super::return_to::safe_return_to;
use super::session::{AppSession, PendingAttempt, constant_time_eq, session_user};
use super::templates::{Notice, ProfileView, Templates};
use super::tokens::{TokenSummary, access_token, fresh_userinfo};

/// Organizations listed with their tokens on the profile page; each costs a token request.
const MAX_ORGANIZATIONS_SHOWN: usize = 10;

/// Registers every route of the contract.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/sign-in", web::get().to(sign_in))
        .route("/sign-up", web::get().to(sign_up))
        .route("/sign-in/huggingface", web::get().to(sign_in_huggingface))
        .route("/callback", web::get().to(callback))
        .route("/sign-out", web::get().to(sign_out_page))
        .route("/sign-out", web::post().to(sign_out))
        .route("/profile", web::get().to(profile))
        .route("/backchannel-logout", web::post().to(backchannel_logout))
        .route("/lang/{tag}", web::get().to(switch_language))
        .route("/healthz", web::get().to(healthz))
        .route("/static/app.css", web::get().to(stylesheet));
}

type Logto = web::Data<LogtoClient>;
type Pages = web::Data<Templates>;

async fn home(req: HttpRequest, ui: Ui, session: AppSession, pages: Pages) -> Result<HttpResponse, AppError> {
    let user = session.user();
    let notice = Notice::from_param(first_param(req.query_string().as_bytes(), "notice").as_deref());
    html(pages.home(&ui, user.as_ref(), session.csrf_token().as_deref(), notice)?)
}

/// The language switcher: remembers the choice in a cookie and goes back to the page it was
/// used on (a same-site path only).
async fn switch_language(
    req: HttpRequest,
    tag: web::Path<String>,
    secure: web::Data<LangCookieSecure>,
) -> Result<HttpResponse, AppError> {
    let Some(locale) = Locale::from_tag(&tag).filter(|l| l.tag() == tag.as_str()) else {
        return Ok(HttpResponse::NotFound().finish());
    };
    let return_to = safe_return_to(first_param(req.query_string().as_bytes(), "return_to").as_deref());
    let mut response = see_other(&return_to);
    response
        .add_cookie(&locale.cookie(secure.0))
        .map_err(|e| AppError::Session(e.to_string()))?;
    Ok(response)
}

async fn sign_in(req: HttpRequest, session: AppSession, logto: Logto) -> Result<HttpResponse, AppError> {
    start_sign_in(&req, &session, &logto, FirstScreen::SignIn).await
}

async fn sign_up(req: HttpRequest, session: AppSession, logto: Logto) -> Result<HttpResponse, AppError> {
    start_sign_in(&req, &session, &logto, FirstScreen::Register).await
}

async fn sign_in_huggingface(req: HttpRequest, session: AppSession, logto: Logto) -> Result<HttpResponse, AppError> {
    start_sign_in(&req, &session, &logto, FirstScreen::HuggingFace).await
}

async fn start_sign_in(
    req: &HttpRequest,
    session: &AppSession,
    logto: &LogtoClient,
    screen: FirstScreen,
) -> Result<HttpResponse, AppError> {
    let return_to = safe_return_to(first_param(req.query_string().as_bytes(), "return_to").as_deref());
    // Logto shows its pages in the language of ours.
    let ui_locales = Locale::of_request(req).tag();
    let request = logto
        .authorization_request_with_locale(screen, Some(ui_locales))
        .await?;
    session.push_pending(PendingAttempt {
        sign_in: request.pending,
        return_to,
    })?;
    Ok(see_other(&request.url))
}

async fn callback(req: HttpRequest, session: AppSession, logto: Logto) -> Result<HttpResponse, AppError> {
    let params = CallbackParams::parse(req.query_string())?;
    let state = params.state.as_deref().ok_or(CallbackError::MissingState)?;
    // Taken out before anything else: whatever happens next, this callback cannot be replayed.
    let attempt = session.take_pending(state)?.ok_or(CallbackError::UnknownState)?;
    let code = match logto.check_callback(&params, &attempt.sign_in).await {
        // Cancelling is a choice, not a failure: home, still signed out, with a word about it.
        Err(CallbackOutcome::Refused(CallbackError::Denied { error, .. })) if error == "access_denied" => {
            log::info!("sign-in cancelled at Logto");
            return Ok(see_other("/?notice=cancelled"));
        }
        result => result?,
    };
    let signed_in = logto.exchange_code(&code, &attempt.sign_in).await?;
    session.sign_in(session_user(&signed_in), &signed_in)?;
    log::info!("signed in: user {}", signed_in.id_token.sub);
    Ok(see_other(&attempt.return_to))
}

async fn sign_out_page(ui: Ui, session: AppSession, pages: Pages) -> Result<HttpResponse, AppError> {
    match session.user() {
        Some(user) => html(pages.sign_out(&ui, &user, session.csrf_token().as_deref())?),
        None => Ok(see_other("/")),
    }
}

async fn sign_out(body: web::Bytes, session: AppSession, logto: Logto) -> Result<HttpResponse, AppError> {
    if session.user().is_none() {
        return Ok(see_other("/"));
    }
    let provided = first_param(&body, "csrf_token");
    let valid = matches!((session.csrf_token(), provided), (Some(expected), Some(provided)) if constant_time_eq(&expected, &provided));
    if !valid {
        return Err(AppError::Csrf);
    }
    let refresh_token = session.refresh_token();
    session.purge();
    // The local session is gone whatever Logto says; its failures are logged, not shown.
    if let Some(refresh_token) = refresh_token
        && let Err(e) = logto.revoke_refresh_token(&refresh_token).await
    {
        log::warn!("sign-out: the refresh token was not revoked: {e}");
    }
    let target = match logto.end_session_url().await {
        Ok(Some(url)) => url,
        Ok(None) => "/".to_owned(),
        Err(e) => {
            log::warn!("sign-out: cannot end the Logto session: {e}");
            "/".to_owned()
        }
    };
    Ok(see_other(&target))
}

async fn profile(
    signed_in: SignedInUser,
    session: AppSession,
    logto: Logto,
    ui: Ui,
    pages: Pages,
) -> Result<HttpResponse, AppError> {
    let userinfo = fresh_userinfo(&session, &logto, &signed_in).await?;
    session.update_user(&userinfo)?;
    let mut resources = Vec::new();
    for resource in &logto.settings().resources {
        let token = access_token(&session, &logto, &signed_in, &Audience::Resource(resource.clone())).await?;
        resources.push(TokenSummary::of(resource, &token));
    }
    let mut organizations = Vec::new();
    if logto.organizations_enabled() {
        for id in userinfo.organizations.iter().take(MAX_ORGANIZATIONS_SHOWN) {
            let token = access_token(&session, &logto, &signed_in, &Audience::Organization(id.clone())).await?;
            organizations.push(TokenSummary::of(id, &token));
        }
    }
    let user = session.user().unwrap_or(signed_in.user);
    let view = ProfileView {
        user: &user,
        resources: &resources,
        organizations: &organizations,
    };
    html(pages.profile(&ui, &view, signed_in.csrf_token.as_deref())?)
}

/// Logto's back-channel logout: a signed logout token naming who signed out.
async fn backchannel_logout(
    body: web::Bytes,
    logto: Logto,
    registry: web::Data<LogoutRegistry>,
) -> Result<HttpResponse, AppError> {
    let token = first_param(&body, "logout_token").ok_or(AppError::LogoutToken(LogtoError::InvalidIdToken(
        "no logout_token".into(),
    )))?;
    let logout = logto.verify_logout_token(&token).await.map_err(AppError::LogoutToken)?;
    if registry.record(&logout) {
        log::info!(
            "back-channel logout for user {}",
            logout.sub.as_deref().unwrap_or("(by session id)")
        );
    }
    Ok(HttpResponse::Ok().finish())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/app.css"))
}

fn html(body: String) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The first value of a parameter in a query string or form body.
fn first_param(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
