//! The app's own pages: home, profile, the sign-out question, the language switcher, health and
//! the stylesheet. Sign-in, the callback and sign-out itself are logto-actix-web's.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use logto_actix_web::logto_web::Redirect;
use logto_actix_web::util::{first_param, safe_return_to};
use logto_actix_web::{AuthError, OptionalUser, SignedInUser, get_or_head, see_other};
use logto_client::Audience;

use crate::config::site::without_trailing_slash;
use crate::error_page::PageError;
use crate::i18n::{LangCookieSecure, Locale, Ui};
use crate::templates::{Notice, OrganizationView, ProfileView, Templates, TokenSummary, UserView};

/// Where the organization switcher posts (logto-actix-web's route, the web core's flow).
pub const ORGANIZATION_PATH: &str = "/organization";

/// Registers the app's pages (the sign-out question is given to `LogtoAuth`, which owns the path).
/// Each path is one resource answering `GET` and `HEAD`, so another method gets 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(get_or_head().to(home)))
        .service(web::resource("/profile").route(get_or_head().to(profile)))
        .service(web::resource("/lang/{tag}").route(get_or_head().to(switch_language)))
        .service(web::resource("/healthz").route(get_or_head().to(healthz)))
        .service(web::resource("/static/app.css").route(get_or_head().to(stylesheet)))
        .service(web::resource(FAVICON).route(get_or_head().to(favicon)))
        // Asked for by clients that do not read the pages' `<link rel="icon">`.
        .service(web::resource("/favicon.ico").route(get_or_head().to(|| async { moved(FAVICON) })))
        .default_service(web::to(no_such_page));
}

/// Where the site's icon is served (and linked from every page).
const FAVICON: &str = "/static/favicon.svg";

type Pages = web::Data<Templates>;

async fn home(req: HttpRequest, ui: Ui, user: OptionalUser, pages: Pages) -> Result<HttpResponse, PageError> {
    // Notices speak to a signed-out visitor ("you are still signed out"); a reload after signing
    // in must not contradict the page.
    let notice = Notice::from_param(first_param(req.query_string().as_bytes(), "notice").as_deref())
        .filter(|_| user.0.is_none());
    let view = user.0.as_ref().map(|u| UserView::of(&u.user));
    let csrf_token = user.0.as_ref().map(|u| u.csrf_token.as_str());
    html(pages.home(&ui, view.as_ref(), csrf_token, notice)?)
}

/// The question before signing out: the form posts to logto-actix-web's sign-out.
pub async fn sign_out_page(ui: Ui, user: OptionalUser, pages: Pages) -> Result<HttpResponse, PageError> {
    match user.0 {
        Some(signed_in) => html(pages.sign_out(&ui, &UserView::of(&signed_in.user), Some(&signed_in.csrf_token))?),
        None => Ok(see_other(&Redirect::to("/"))),
    }
}

async fn profile(mut signed_in: SignedInUser, ui: Ui, pages: Pages) -> Result<HttpResponse, PageError> {
    signed_in.revalidate_user().await?;
    let configured = signed_in.client().config().resources().to_vec();
    let mut resources = Vec::new();
    for resource in &configured {
        let token = signed_in.access_token(&Audience::Resource(resource.clone())).await?;
        resources.push(TokenSummary::of(resource, &token, signed_in.client().now()));
    }
    let (organization_token, organization_resources) = match active_organization_tokens(&signed_in, &configured).await {
        Ok(tokens) => tokens,
        // Logto no longer gives this user the organization: it left the session; show the rest.
        Err(AuthError::OrganizationDenied(_)) => {
            signed_in.reload_user();
            (None, Vec::new())
        }
        Err(e) => return Err(e.into()),
    };
    let organizations = OrganizationView::all_of(&signed_in.user);
    let view = ProfileView {
        user: UserView::of(&signed_in.user),
        resources: &resources,
        organizations: &organizations,
        organization_token: organization_token.as_ref(),
        organization_resources: &organization_resources,
    };
    html(pages.profile(&ui, &view, Some(&signed_in.csrf_token))?)
}

/// The active organization's token and its token for each API resource of `resources`; none
/// without an active organization. Each expiry is counted from after its token came (a time
/// taken before a grant would show a fresh 60-minute token as "61 min").
async fn active_organization_tokens(
    signed_in: &SignedInUser,
    resources: &[String],
) -> Result<(Option<TokenSummary>, Vec<TokenSummary>), AuthError> {
    let Some(active) = signed_in.user.active_organization().map(|org| org.id.clone()) else {
        return Ok((None, Vec::new()));
    };
    let token = signed_in.access_token(&Audience::Organization(active.clone())).await?;
    let organization_token = TokenSummary::of(&active, &token, signed_in.client().now());
    let mut scoped = Vec::with_capacity(resources.len());
    for resource in resources {
        let token = signed_in
            .access_token(&Audience::organization_resource(resource.clone(), active.clone()))
            .await?;
        scoped.push(TokenSummary::of(resource, &token, signed_in.client().now()));
    }
    Ok((Some(organization_token), scoped))
}

/// The language switcher: remembers the choice in a cookie and goes back to the page it was
/// used on (a same-site path only).
async fn switch_language(
    req: HttpRequest,
    tag: web::Path<String>,
    secure: web::Data<LangCookieSecure>,
) -> HttpResponse {
    let Some(locale) = Locale::from_tag(&tag).filter(|l| l.tag().eq_ignore_ascii_case(&tag)) else {
        return HttpResponse::NotFound().finish();
    };
    let return_to = safe_return_to(first_param(req.query_string().as_bytes(), "return_to").as_deref());
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, return_to))
        .cookie(locale.cookie(secure.0))
        .finish()
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../static/app.css"))
}

async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../static/favicon.svg"))
}

/// No route matched: a page asked for with a trailing slash (`/profile/`) moves to the path
/// without it; anything else is 404 (the error page says so).
async fn no_such_page(req: HttpRequest) -> HttpResponse {
    if matches!(*req.method(), Method::GET | Method::HEAD)
        && let Some(target) = without_trailing_slash(req.path(), req.query_string())
    {
        return moved(&target);
    }
    HttpResponse::NotFound().finish()
}

fn moved(location: &str) -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn html(body: Vec<u8>) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
