//! The pages, rendered with Tera from templates compiled into the binary (so the app runs
//! from any working directory). Tera escapes every value: no template uses `| safe`.
//!
//! Templates write their texts as `{{ t.key }}`. Those are filled in once per language at
//! start-up (HTML-escaped, as Tera would escape them), giving one compiled set per language: a
//! page then costs no per-request copy of the ~80 texts. Every page also gets the language tag as
//! `lang` and the switcher's links as `languages`.

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

/// The template sources, compiled into the binary.
const SOURCES: [(&str, &str); 7] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("profile.html", include_str!("../../templates/profile.html")),
    ("token_facts.html", include_str!("../../templates/token_facts.html")),
    ("sign_out.html", include_str!("../../templates/sign_out.html")),
    ("sign_out_form.html", include_str!("../../templates/sign_out_form.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// The compiled templates, one set per language (in the order of [`Locale::ALL`]).
pub struct Templates {
    by_locale: Vec<(Locale, Tera)>,
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
        let mut by_locale = Vec::with_capacity(Locale::ALL.len());
        for &locale in Locale::ALL.iter() {
            let texts = serde_json::to_value(locale.messages()).map_err(|e| tera::Error::msg(e.to_string()))?;
            let mut tera = Tera::default();
            for (name, source) in SOURCES {
                tera.add_raw_template(name, &localize(name, source, &texts)?)?;
            }
            by_locale.push((locale, tera));
        }
        Ok(Self { by_locale })
    }

    fn tera(&self, locale: Locale) -> &Tera {
        self.by_locale
            .iter()
            .find(|(l, _)| *l == locale)
            .map(|(_, tera)| tera)
            .unwrap_or(&self.by_locale[0].1)
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
        self.tera(ui.locale).render("home.html", &context)
    }

    /// The profile page.
    pub fn profile(&self, ui: &Ui, view: &ProfileView<'_>, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = page_context(ui);
        context.insert("user", view.user);
        context.insert("resources", view.resources);
        context.insert("organizations", view.organizations);
        context.insert("csrf_token", &csrf_token);
        self.tera(ui.locale).render("profile.html", &context)
    }

    /// The sign-out confirmation.
    pub fn sign_out(&self, ui: &Ui, user: &SessionUser, csrf_token: Option<&str>) -> Result<String, tera::Error> {
        let mut context = page_context(ui);
        context.insert("user", user);
        context.insert("csrf_token", &csrf_token);
        self.tera(ui.locale).render("sign_out.html", &context)
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
        self.tera(locale).render("error.html", &context)
    }
}

/// Replaces each `{{ t.key }}` of a template with that text, HTML-escaped. A key that does not
/// exist stops the app at start-up.
fn localize(name: &str, source: &str, texts: &serde_json::Value) -> Result<String, tera::Error> {
    const OPEN: &str = "{{ t.";
    const CLOSE: &str = " }}";
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find(CLOSE)
            .ok_or_else(|| tera::Error::msg(format!("{name}: unclosed `{{{{ t.`")))?;
        let key = &after[..end];
        let text = texts
            .get(key)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| tera::Error::msg(format!("{name}: no text `{key}`")))?;
        // Escaped here as Tera escapes values; `{` is escaped too, so no text can open a tag.
        out.push_str(&tera::escape_html(text).replace('{', "&#123;"));
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_filled_in_escaped_and_unknown_keys_refused() {
        let texts = serde_json::json!({ "hello": "Tom & <Jerry> {{x}}" });
        let page = localize("p", "<p>{{ t.hello }}</p>", &texts).unwrap();
        assert_eq!(page, "<p>Tom &amp; &lt;Jerry&gt; &#123;&#123;x}}</p>");
        assert!(localize("p", "{{ t.missing }}", &texts).is_err());
    }

    #[test]
    fn every_template_compiles_in_every_language() {
        assert!(Templates::new().is_ok());
    }
}
