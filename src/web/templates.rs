//! The pages, rendered with Tera from templates compiled into the binary (so the app runs
//! from any working directory). Tera escapes every value: no template uses `| safe`.
//!
//! Every page gets the texts of its language as `t`, the language tag as `lang`, and the
//! switcher's links as `languages`.

use actix_web::http::StatusCode;
use serde::Serialize;
use tera::{Context, Tera};

use super::error::ErrorPage;
use super::i18n::{Locale, Ui};
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

/// A notice shown at the top of the home page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The user cancelled at Logto.
    Cancelled,
}

impl Notice {
    /// The notice named in `?notice=`; unknown names show nothing.
    pub fn from_param(value: Option<&str>) -> Option<Notice> {
        match value {
            Some("cancelled") => Some(Notice::Cancelled),
            _ => None,
        }
    }
}

impl Templates {
    /// Compiles every template; a broken template stops the app at start-up, not at first use.
    pub fn new() -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        tera.add_raw_templates(vec![
            ("base.html", include_str!("../../templates/base.html")),
            ("home.html", include_str!("../../templates/home.html")),
            ("profile.html", include_str!("../../templates/profile.html")),
            ("token_facts.html", include_str!("../../templates/token_facts.html")),
            ("sign_out.html", include_str!("../../templates/sign_out.html")),
            ("error.html", include_str!("../../templates/error.html")),
        ])?;
        Ok(Self { tera })
    }

    /// The home page, signed in or out, with an optional notice.
    pub fn home(
        &self,
        ui: &Ui,
        user: Option<&SessionUser>,
        csrf_token: Option<&str>,
        notice: Option<Notice>,
    ) -> Result<String, tera::Error> {
        let mut context = page_context(ui);
        context.insert("user", &user);
        context.insert("csrf_token", &csrf_token);
        if let Some(Notice::Cancelled) = notice {
            let t = ui.locale.messages();
            context.insert("notice_title", t.cancelled_title);
            context.insert("notice_text", t.cancelled_text);
        }
        self.tera.render("home.html", &context)
    }

    /// The profile page.
    pub fn profile(&self, ui: &Ui, view: &ProfileView<'_>, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = page_context(ui);
        context.insert("user", view.user);
        context.insert("resources", view.resources);
        context.insert("organizations", view.organizations);
        context.insert("csrf_token", &csrf_token);
        self.tera.render("profile.html", &context)
    }

    /// The sign-out confirmation.
    pub fn sign_out(&self, ui: &Ui, user: &SessionUser, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = page_context(ui);
        context.insert("user", user);
        context.insert("csrf_token", &csrf_token);
        self.tera.render("sign_out.html", &context)
    }

    /// The one error page. Its language switcher returns home: the failed URL (a spent
    /// callback, say) is not worth going back to.
    pub fn error_page(&self, locale: Locale, status: StatusCode, page: &ErrorPage) -> Result<String, tera::Error> {
        let ui = Ui {
            locale,
            here: "/".to_owned(),
        };
        let (title, message) = locale.error(page.text);
        let mut context = page_context(&ui);
        context.insert("status", &status.as_u16());
        context.insert("title", title);
        context.insert("message", message);
        context.insert("offer_sign_in", &page.offer_sign_in);
        self.tera.render("error.html", &context)
    }
}

/// One entry of the language switcher.
#[derive(Serialize)]
struct LanguageLink {
    tag: &'static str,
    /// The language's name in that language, as people look for it.
    name: &'static str,
    href: String,
    current: bool,
}

fn page_context(ui: &Ui) -> Context {
    let mut context = Context::new();
    context.insert("t", ui.locale.messages());
    context.insert("lang", ui.locale.tag());
    context.insert("here", &ui.here);
    let return_to: String = url::form_urlencoded::byte_serialize(ui.here.as_bytes()).collect();
    let languages: Vec<LanguageLink> = Locale::ALL
        .iter()
        .map(|&locale| LanguageLink {
            tag: locale.tag(),
            name: match locale {
                Locale::En => "English",
                Locale::Es => "Español",
            },
            href: format!("/lang/{}?return_to={return_to}", locale.tag()),
            current: locale == ui.locale,
        })
        .collect();
    context.insert("languages", &languages);
    context
}
