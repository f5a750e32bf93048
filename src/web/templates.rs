//! The pages, rendered with Tera from templates compiled into the binary (so the app runs
//! from any working directory). Tera escapes every value: no template uses `| safe`.

use actix_web::http::StatusCode;
use serde::Serialize;
use tera::{Context, Tera};

use super::error::ErrorPage;
use super::session::SessionUser;
use super::tokens::TokenSummary;

/// What the profile page shows.
pub struct ProfileView<'a> {
    /// The user, from fresh userinfo.
    pub user: &'a SessionUser,
    /// One summary per configured API resource.
    pub resources: &'a [TokenSummary],
    /// One summary per organization.
    pub organizations: &'a [TokenSummary],
}

/// The compiled templates.
pub struct Templates {
    tera: Tera,
}

impl Templates {
    /// Compiles every template; a broken template stops the app at start-up, not at first use.
    pub fn new() -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        tera.add_raw_templates(vec![
            ("base.html", include_str!("../../templates/base.html")),
            ("home.html", include_str!("../../templates/home.html")),
            ("profile.html", include_str!("../../templates/profile.html")),
            ("sign_out.html", include_str!("../../templates/sign_out.html")),
            ("error.html", include_str!("../../templates/error.html")),
        ])?;
        Ok(Self { tera })
    }

    /// The home page, signed in or out.
    pub fn home(&self, user: Option<&SessionUser>, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = Context::new();
        context.insert("user", &user);
        context.insert("csrf_token", &csrf_token);
        self.tera.render("home.html", &context)
    }

    /// The profile page.
    pub fn profile(&self, view: &ProfileView<'_>, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = Context::new();
        context.insert("user", view.user);
        context.insert("resources", view.resources);
        context.insert("organizations", view.organizations);
        context.insert("csrf_token", &csrf_token);
        self.tera.render("profile.html", &context)
    }

    /// The sign-out confirmation.
    pub fn sign_out(&self, user: &SessionUser, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = Context::new();
        context.insert("user", user);
        context.insert("csrf_token", &csrf_token);
        self.tera.render("sign_out.html", &context)
    }

    /// The one error page.
    pub fn error_page(&self, status: StatusCode, page: &ErrorPage) -> Result<String, tera::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            status: u16,
            title: &'a str,
            message: &'a str,
            offer_sign_in: bool,
        }
        let view = View {
            status: status.as_u16(),
            title: page.title,
            message: page.message,
            offer_sign_in: page.offer_sign_in,
        };
        self.tera.render("error.html", &Context::from_serialize(view)?)
    }
}
