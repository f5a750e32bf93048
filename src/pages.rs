//! The app's own pages: home, profile, the sign-out question, the language switcher, health and
//! the stylesheet. Sign-in, the callback and sign-out itself are logto-actix-web's.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_actix_web::{OptionalUser, SignedInUser, first_param, safe_return_to};
use logto_client::Audience;

use crate::error_page::PageError;
use crate::i18n::{LangCookieSecure, Locale, Ui};
use crate::templates::{Notice, ProfileView, Templates, TokenSummary, UserView};

/// Organizations listed with their tokens on the profile page; each costs a token request.
const MAX_ORGANIZATIONS_SHOWN: usize = 10;

/// Registers the app's pages (the sign-out question is given to `LogtoAuth`, which owns the path).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/profile", web::get().to(profile))
        .route("/lang/{tag}", web::get().to(switch_language))
        .route("/healthz", web::get().to(healthz))
        .route("/static/app.css", web::get().to(stylesheet));
}

type Pages = web::Data<Templates>;

async fn home(req: HttpRequest, ui: Ui, user: OptionalUser, pages: Pages) -> Result<HttpResponse, PageError> {
    let notice = Notice::from_param(first_param(req.query_string().as_bytes(), "notice").as_deref());
    let view = user.0.as_ref().map(|u| UserView::of(&u.user));
    let csrf_token = user.0.as_ref().map(|u| u.csrf_token.as_str());
    html(pages.home(&ui, view.as_ref(), csrf_token, notice)?)
}

/// The question before signing out: the form posts to logto-actix-web's sign-out.
pub async fn sign_out_page(ui: Ui, user: OptionalUser, pages: Pages) -> Result<HttpResponse, PageError> {
    match user.0 {
        Some(signed_in) => html(pages.sign_out(&ui, &UserView::of(&signed_in.user), Some(&signed_in.csrf_token))?),
        None => Ok(see_other("/")),
    }
}

async fn profile(mut signed_in: SignedInUser, ui: Ui, pages: Pages) -> Result<HttpResponse, PageError> {
    signed_in.revalidate_user().await?;
    let now = signed_in.client().now();
    let mut resources = Vec::new();
    for resource in signed_in.client().config().resources.clone() {
        let token = signed_in.access_token(&Audience::Resource(resource.clone())).await?;
        resources.push(TokenSummary::of(&resource, &token, now));
    }
    let mut organizations = Vec::new();
    if signed_in.client().organizations_enabled() {
        let shown: Vec<String> = signed_in
            .user
            .organizations
            .iter()
            .take(MAX_ORGANIZATIONS_SHOWN)
            .cloned()
            .collect();
        for id in &shown {
            let token = signed_in.access_token(&Audience::Organization(id.clone())).await?;
            organizations.push(TokenSummary::of(id, &token, now));
        }
    }
    let view = ProfileView {
        user: UserView::of(&signed_in.user),
        resources: &resources,
        organizations: &organizations,
    };
    html(pages.profile(&ui, &view, Some(&signed_in.csrf_token))?)
}

/// The language switcher: remembers the choice in a cookie and goes back to the page it was
/// used on (a same-site path only).
async fn switch_language(
    req: HttpRequest,
    tag: web::Path<String>,
    secure: web::Data<LangCookieSecure>,
) -> HttpResponse {
    let Some(locale) = Locale::from_tag(&tag).filter(|l| l.tag() == tag.as_str()) else {
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

fn html(body: String) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
