//! The pages, rendered with Tera from templates compiled into the binary (so the app runs
//! from any working directory). Tera escapes every value: no template uses `| safe`.
//!
//! Templates write their texts as `{{ t.key }}`. Those are filled in once per language at
//! start-up (HTML-escaped, as Tera would escape them), giving one compiled set per language: a
//! page then costs no per-request copy of the ~80 texts. The language switcher is written into
//! each set at start-up too (`<!-- language links -->` in `base.html`), leaving only this page's
//! `return_to` to fill in. Every page gets `lang`, `return_to`, `signed_in` and `on_profile`.
//!
//! The home page's user is handed to Tera as flat, ready-made values (`display_name`, `initial`,
//! …) rather than as an object the template digs into: each `a.b` lookup and each filter costs
//! Tera allocations on every render, and rendering was half of the signed-in home page's cost
//! (bench/PROFILE.md).

use std::cell::RefCell;

use actix_web::http::StatusCode;
use logto_actix_web::SessionUser;
use logto_client::{AccessToken, AccessTokenClaims, protocol::HUGGING_FACE};

use serde::Serialize;
use tera::{Context, Tera};
use unicode_segmentation::UnicodeSegmentation;

use crate::i18n::{ErrorText, Locale, Ui};

/// What the pages show of the signed-in user.
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    /// How the pages name the user: name, else username, else email, else the user id.
    pub display_name: &'a str,
    /// Logto user id.
    pub sub: &'a str,
    /// Full name.
    pub name: Option<&'a str>,
    /// Email address.
    pub email: Option<&'a str>,
    /// Avatar URL (https only).
    pub picture: Option<&'a str>,
    /// Logto username.
    pub username: Option<&'a str>,
    /// Role names.
    pub roles: &'a [String],
    /// The linked Hugging Face account.
    pub huggingface: Option<HuggingFaceView<'a>>,
    /// The name of the active organization, shown in the header.
    pub active_organization: Option<&'a str>,
}

/// The Hugging Face account, with a link to its profile.
#[derive(Debug, Serialize)]
pub struct HuggingFaceView<'a> {
    /// The Hugging Face username.
    pub username: Option<&'a str>,
    /// Display name.
    pub name: Option<&'a str>,
    /// Avatar URL (https only).
    pub avatar: Option<&'a str>,
    /// `https://huggingface.co/<username>`.
    pub profile_url: Option<String>,
}

impl<'a> UserView<'a> {
    /// The view of a session's user.
    pub fn of(user: &'a SessionUser) -> Self {
        UserView {
            display_name: user.display_name(),
            sub: &user.sub,
            name: user.name.as_deref(),
            email: user.email.as_deref(),
            picture: user.picture.as_deref(),
            username: user.username.as_deref(),
            roles: &user.roles,
            huggingface: user.identity(HUGGING_FACE).map(|hf| HuggingFaceView {
                username: hf.username.as_deref(),
                name: hf.name.as_deref(),
                avatar: hf.avatar.as_deref(),
                // The username is letters, digits, `-`, `_` and `.` only (logto-client checks).
                profile_url: hf.username.as_ref().map(|u| format!("https://huggingface.co/{u}")),
            }),
            active_organization: user.active_organization().map(|org| org.display_name()),
        }
    }
}

/// What the profile page shows of one access token: never the token itself.
#[derive(Debug, Serialize)]
pub struct TokenSummary {
    /// What the token was asked for (resource URI or organization id).
    pub name: String,
    /// Audiences in the token.
    pub audience: Vec<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Seconds until it expires.
    pub expires_in: Option<u64>,
    /// The same in whole minutes, rounded up (what the page shows).
    pub expires_in_minutes: Option<u64>,
}

impl TokenSummary {
    /// Summarizes `token`, obtained for `name`, at `now`. The token came straight from Logto's
    /// token endpoint, so its claims are read without verifying it.
    pub fn of(name: &str, token: &AccessToken, now: u64) -> Self {
        let claims = AccessTokenClaims::read_unverified(token);
        let expires_in = claims
            .as_ref()
            .and_then(|c| c.expires_at)
            .map(|exp| exp.saturating_sub(now));
        TokenSummary {
            name: name.to_owned(),
            audience: claims.as_ref().map(|c| c.audience.clone()).unwrap_or_default(),
            scopes: claims.as_ref().map(|c| c.scopes.clone()).unwrap_or_default(),
            expires_in,
            expires_in_minutes: expires_in.map(|s| s.div_ceil(60)),
        }
    }
}

/// One of the user's organizations on the profile page.
#[derive(Debug, Serialize)]
pub struct OrganizationView<'a> {
    /// Its id (the switcher's form value).
    pub id: &'a str,
    /// Its name, else its id.
    pub name: &'a str,
    /// The user's roles in it.
    pub roles: &'a [String],
    /// Whether it is the active organization.
    pub active: bool,
}

impl<'a> OrganizationView<'a> {
    /// Every organization of `user`, the active one marked.
    pub fn all_of(user: &'a SessionUser) -> Vec<Self> {
        user.organizations
            .iter()
            .map(|org| OrganizationView {
                id: &org.id,
                name: org.display_name(),
                roles: &org.roles,
                active: user.active_organization.as_deref() == Some(org.id.as_str()),
            })
            .collect()
    }
}

/// What the profile page shows.
pub struct ProfileView<'a> {
    /// The user, from fresh userinfo.
    pub user: UserView<'a>,
    /// One summary per configured API resource.
    pub resources: &'a [TokenSummary],
    /// The user's organizations, with names and roles.
    pub organizations: &'a [OrganizationView<'a>],
    /// The active organization's token (none, or one).
    pub organization_token: Option<&'a TokenSummary>,
    /// The active organization's token for each configured API resource.
    pub organization_resources: &'a [TokenSummary],
}

/// The template sources, compiled into the binary.
const SOURCES: [(&str, &str); 7] = [
    ("base.html", include_str!("../templates/base.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("profile.html", include_str!("../templates/profile.html")),
    ("token_facts.html", include_str!("../templates/token_facts.html")),
    ("sign_out.html", include_str!("../templates/sign_out.html")),
    ("sign_out_form.html", include_str!("../templates/sign_out_form.html")),
    ("error.html", include_str!("../templates/error.html")),
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
    /// The local session ended, but Logto could not be reached to end its own.
    SignedOutLocally,
}

impl Notice {
    /// The notice named in `?notice=`; unknown names show nothing.
    pub fn from_param(value: Option<&str>) -> Option<Notice> {
        match value {
            Some("cancelled") => Some(Notice::Cancelled),
            Some("signed_out_locally") => Some(Notice::SignedOutLocally),
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
            let links = language_links(locale);
            for (name, source) in SOURCES {
                let source = source.replace(LANGUAGE_LINKS, &links);
                tera.add_raw_template(name, &localize(name, &source, &texts)?)?;
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

    /// Renders `name` in `locale`'s set as UTF-8 bytes for the response body. Tera writes UTF-8
    /// only; `Tera::render` would check the whole page again to make it a `String` (~2k
    /// instructions on the home page), and start from a smaller buffer than a page needs.
    fn render(&self, locale: Locale, name: &str, context: &Context) -> Result<Vec<u8>, tera::Error> {
        let mut page = Vec::with_capacity(PAGE_CAPACITY);
        self.tera(locale).render_to(name, context, &mut page)?;
        Ok(page)
    }

    /// The home page, signed in or out, with an optional notice.
    pub fn home(
        &self,
        ui: &Ui,
        user: Option<&UserView<'_>>,
        csrf_token: Option<&str>,
        notice: Option<Notice>,
    ) -> Result<Vec<u8>, tera::Error> {
        let t = ui.locale.messages();
        let (notice_title, notice_text) = match notice {
            Some(Notice::Cancelled) => (Some(t.cancelled_title), Some(t.cancelled_text)),
            Some(Notice::SignedOutLocally) => (Some(t.signed_out_locally_title), Some(t.signed_out_locally_text)),
            None => (None, None),
        };
        kept_context(Page::Home, |context| {
            // Every key, every time (null when it does not apply): the context is kept between
            // renders, so nothing of an earlier visitor may be left in it.
            set_page(context, ui, user.is_some(), false);
            set_text(context, "initial", user.map(|u| initial(u.display_name)).as_deref());
            set_text(context, "display_name", user.map(|u| u.display_name));
            set_text(context, "picture", user.and_then(|u| u.picture));
            set_text(context, "email", user.and_then(|u| u.email));
            let hf_username = user.and_then(|u| u.huggingface.as_ref()).and_then(|hf| hf.username);
            set_text(context, "hf_username", hf_username);
            set_text(context, "active_org", user.and_then(|u| u.active_organization));
            set_text(context, "csrf_token", csrf_token.filter(|_| user.is_some()));
            set_text(context, "notice_title", notice_title);
            set_text(context, "notice_text", notice_text);
            self.render(ui.locale, "home.html", context)
        })
    }

    /// The profile page.
    pub fn profile(&self, ui: &Ui, view: &ProfileView<'_>, csrf_token: Option<&str>) -> Result<Vec<u8>, tera::Error> {
        kept_context(Page::Profile, |context| {
            // Every key, every time, as on the home page.
            set_page(context, ui, true, true);
            // Flat values, as on the home page: Tera's dotted lookups and filters cost allocations.
            let user = &view.user;
            set_text(context, "name", Some(user.name.unwrap_or(NONE)));
            set_text(context, "email", Some(user.email.unwrap_or(NONE)));
            set_text(context, "username", Some(user.username.unwrap_or(NONE)));
            set_text(context, "sub", Some(user.sub));
            let roles = (!user.roles.is_empty()).then(|| user.roles.join(", "));
            set_text(context, "roles", roles.as_deref());
            set_bool(context, "hf", user.huggingface.is_some());
            let hf = user.huggingface.as_ref();
            let hf_initial = hf.map(|hf| initial(hf.username.or(hf.name).unwrap_or("?")));
            set_text(context, "hf_initial", hf_initial.as_deref());
            set_text(context, "hf_avatar", hf.and_then(|hf| hf.avatar));
            set_text(context, "hf_username", hf.and_then(|hf| hf.username));
            set_text(context, "hf_name", hf.map(|hf| hf.name.unwrap_or(NONE)));
            set_text(context, "hf_profile_url", hf.and_then(|hf| hf.profile_url.as_deref()));
            set_text(context, "active_org", user.active_organization);
            context.insert("resources", view.resources);
            context.insert("organizations", view.organizations);
            context.insert(
                "organization_tokens",
                &view.organization_token.into_iter().collect::<Vec<_>>(),
            );
            context.insert("organization_resources", view.organization_resources);
            set_text(context, "csrf_token", csrf_token);
            self.render(ui.locale, "profile.html", context)
        })
    }

    /// The sign-out confirmation.
    pub fn sign_out(&self, ui: &Ui, user: &UserView<'_>, csrf_token: Option<&str>) -> Result<Vec<u8>, tera::Error> {
        let mut context = page_context(ui, true);
        context.insert("user", user);
        context.insert("active_org", &user.active_organization);
        context.insert("csrf_token", &csrf_token);
        self.render(ui.locale, "sign_out.html", &context)
    }

    /// The one error page. Its language switcher returns home: the failed URL (a spent
    /// callback, say) is not worth going back to. `signed_in` gives the signed-in header;
    /// `sign_in_href`, when given, is offered as "Sign in again".
    pub fn error_page(
        &self,
        locale: Locale,
        status: StatusCode,
        text: ErrorText,
        signed_in: bool,
        sign_in_href: Option<&str>,
    ) -> Result<String, tera::Error> {
        let ui = Ui {
            locale,
            here: "/".to_owned(),
        };
        let (title, message) = locale.error(text);
        let mut context = page_context(&ui, signed_in);
        context.insert("status", &status.as_u16());
        context.insert("title", title);
        context.insert("message", message);
        context.insert("sign_in_href", &sign_in_href);
        self.tera(locale).render("error.html", &context)
    }
}

/// Replaces each `{{ t.key }}` of a template (spaces inside the braces optional) with that text,
/// HTML-escaped. A key that does not exist, or a text used any other way (in a filter, a test, a
/// `{% %}` tag), stops the app at start-up: `t` is not in the pages' context, so Tera would only
/// fail when the page is rendered.
fn localize(name: &str, source: &str, texts: &serde_json::Value) -> Result<String, tera::Error> {
    let error = |what: String| tera::Error::msg(format!("{name}: {what}"));
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let inside = &rest[start + 2..];
        let end = inside.find("}}").ok_or_else(|| error("unclosed `{{`".into()))?;
        let expression = inside[..end].trim();
        match expression.strip_prefix("t.") {
            Some(key) => {
                let text = texts
                    .get(key)
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| error(format!("no text `{key}` (write texts as {{{{ t.key }}}} alone)")))?;
                // Escaped here as Tera escapes values; `{` is escaped too, so no text can open a tag.
                out.push_str(&tera::escape_html(text).replace('{', "&#123;"));
            }
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &inside[end + 2..];
    }
    out.push_str(rest);
    if let Some(misuse) = text_reference(&out) {
        return Err(error(format!("`{misuse}`: write texts as {{{{ t.key }}}} alone")));
    }
    Ok(out)
}

/// A `t.` reference left inside a Tera tag or expression, if any.
fn text_reference(source: &str) -> Option<String> {
    let mut rest = source;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let end = after.find(close).unwrap_or(after.len());
        let block = &after[1..end];
        let mut previous = ' ';
        for (i, c) in block.char_indices() {
            if c == 't'
                && block[i..].starts_with("t.")
                && !(previous.is_alphanumeric() || previous == '_' || previous == '.')
            {
                return Some(block.trim().to_owned());
            }
            previous = c;
        }
        rest = &after[end.min(after.len())..];
    }
    None
}

/// Room a page starts with: the signed-in home page is ~3 KB, the profile page ~5 KB.
const PAGE_CAPACITY: usize = 8 * 1024;

/// What the profile page shows for a fact the user does not have.
const NONE: &str = "—";

/// Where `base.html` wants the language switcher's items.
const LANGUAGE_LINKS: &str = "<!-- language links -->";

/// The switcher's items for pages in `current`: one link per language, the current one marked.
/// Only `return_to`, this page's address, is left for Tera to fill in.
fn language_links(current: Locale) -> String {
    let mut out = String::new();
    for &locale in Locale::ALL.iter() {
        let tag = locale.tag();
        // The language's name in that language, as people look for it.
        let name = match locale {
            Locale::En => "English",
            Locale::Es => "Español",
        };
        let marked = if locale == current {
            r#" aria-current="true""#
        } else {
            ""
        };
        out.push_str(&format!(
            "          <li><a href=\"/lang/{tag}?return_to={{{{ return_to }}}}\" lang=\"{tag}\" hreflang=\"{tag}\" \
             data-lang=\"{tag}\"{marked}>{}</a></li>\n",
            tera::escape_html(name)
        ));
    }
    out
}

/// What every page gets: its language, its own address for the switcher's links, and whether
/// someone is signed in (the header's profile link).
fn page_context(ui: &Ui, signed_in: bool) -> Context {
    let mut context = Context::new();
    set_page(&mut context, ui, signed_in, false);
    // Every variable a template tests is set, if only to false or null: Tera answers a lookup of a
    // missing one by formatting an error message, even where `{% if %}` then reads it as false.
    context.insert("active_org", &None::<&str>);
    context
}

/// The pages whose context is kept between renders ([`kept_context`]).
#[derive(Clone, Copy)]
enum Page {
    Home = 0,
    Profile = 1,
}

/// Runs `render` with this thread's context for `page`, kept from its last render: the signed-in
/// pages are asked for again and again by the same people, and building a context (a map of
/// owned keys and JSON values) and dropping it cost ~8k instructions a page; setting a value
/// that did not change costs a lookup ([`set_text`]). `render` must set every key the page's
/// template reads, each time.
fn kept_context<R>(page: Page, render: impl FnOnce(&mut Context) -> R) -> R {
    thread_local! {
        static KEPT: RefCell<[Option<Context>; 2]> = const { RefCell::new([None, None]) };
    }
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        render(kept[page as usize].get_or_insert_with(Context::new))
    })
}

/// Sets `key` to `value` (null for `None`), unless it holds that already.
fn set_text(context: &mut Context, key: &str, value: Option<&str>) {
    let same = match (context.get(key), value) {
        (Some(serde_json::Value::String(kept)), Some(value)) => kept == value,
        (Some(serde_json::Value::Null), None) => true,
        _ => false,
    };
    if !same {
        context.insert(key, &value);
    }
}

/// Sets `key` to `value`, unless it holds that already.
fn set_bool(context: &mut Context, key: &str, value: bool) {
    if context.get(key).and_then(serde_json::Value::as_bool) != Some(value) {
        context.insert(key, &value);
    }
}

/// What every page gets (see [`page_context`]), set in a new or a kept context.
fn set_page(context: &mut Context, ui: &Ui, signed_in: bool, on_profile: bool) {
    set_text(context, "lang", Some(ui.locale.tag()));
    let return_to: String = url::form_urlencoded::byte_serialize(ui.here.as_bytes()).collect();
    set_text(context, "return_to", Some(&return_to));
    set_bool(context, "signed_in", signed_in);
    set_bool(context, "on_profile", on_profile);
}

/// The avatar's stand-in letter: the first character as a reader sees it (a grapheme), upper case.
fn initial(name: &str) -> String {
    name.graphemes(true).next().unwrap_or("").to_uppercase()
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
    fn a_text_written_another_way_or_missing_stops_start_up() {
        let texts = serde_json::json!({ "brand": "Logto sign-in" });
        assert_eq!(
            localize("p", "<b>{{t.brand}}</b>", &texts).unwrap(),
            "<b>Logto sign-in</b>"
        );
        assert!(localize("p", "{{ t.brnad }}", &texts).is_err(), "misspelt key");
        assert!(localize("p", "{{ t.brand | upper }}", &texts).is_err(), "in a filter");
        assert!(
            localize("p", "{% if t.brand %}x{% endif %}", &texts).is_err(),
            "in a tag"
        );
        assert!(
            localize("p", "{{ user.t.name }}{{ at.brand }}", &texts).is_ok(),
            "not a text"
        );
    }

    fn text(page: Vec<u8>) -> String {
        String::from_utf8(page).expect("Tera writes UTF-8")
    }

    fn demo_user() -> SessionUser {
        serde_json::from_value(serde_json::json!({
            "sub": "user-1", "name": "Ada <Lovelace>", "email": "ada@example.com", "username": "ada",
            "picture": "https://cdn.example/a.png", "roles": ["admin"], "signed_in_at": 1,
            "identities": [{"target": "huggingface", "username": "ada-hf", "name": "Ada",
                            "avatar": "https://cdn.example/hf.png"}],
            "organizations": [{"i": "org-a", "n": "Acme <Corp>", "r": ["admin"]}, {"i": "org-b"}],
            "active_org": "org-a"
        }))
        .unwrap()
    }

    /// Every page in every language, with data in every field: a template that compiles but
    /// fails to render (an unknown variable, a wrong filter) fails here, not in front of a visitor.
    #[test]
    fn every_page_renders_in_every_language() {
        let templates = Templates::new().unwrap();
        let user = demo_user();
        let view = UserView::of(&user);
        let token = TokenSummary {
            name: "https://api.example.com".into(),
            audience: vec!["https://api.example.com".into()],
            scopes: vec!["read:items".into()],
            expires_in: Some(3600),
            expires_in_minutes: Some(60),
        };
        for locale in Locale::ALL {
            let ui = Ui {
                locale,
                here: "/profile".into(),
            };
            let messages = locale.messages();
            let pages = [
                text(templates.home(&ui, None, None, Some(Notice::Cancelled)).unwrap()),
                text(templates.home(&ui, Some(&view), Some("csrf"), None).unwrap()),
                text(
                    templates
                        .profile(
                            &ui,
                            &ProfileView {
                                user: UserView::of(&user),
                                resources: std::slice::from_ref(&token),
                                organizations: &OrganizationView::all_of(&user),
                                organization_token: Some(&token),
                                organization_resources: std::slice::from_ref(&token),
                            },
                            Some("csrf"),
                        )
                        .unwrap(),
                ),
                text(templates.sign_out(&ui, &view, Some("csrf")).unwrap()),
                templates
                    .error_page(
                        locale,
                        StatusCode::BAD_GATEWAY,
                        ErrorText::ServiceDown,
                        false,
                        Some("/sign-in?return_to=%2Fprofile"),
                    )
                    .unwrap(),
                text(templates.home(&ui, None, None, Some(Notice::SignedOutLocally)).unwrap()),
            ];
            for page in &pages {
                assert!(!page.contains("{{") && !page.contains("{%"), "{page}");
                assert!(page.contains(&tera::escape_html(messages.brand)), "{page}");
                assert!(!page.contains("Ada <Lovelace>"), "escaped: {page}");
            }
            let profile = pages[2].replace("&#x2F;", "/");
            assert!(pages[1].contains(r#"data-initial="A""#) && pages[1].contains("ada-hf"));
            assert!(profile.contains("@ada-hf") && profile.contains("https://huggingface.co/ada-hf"));
        }
    }

    #[test]
    fn the_switcher_marks_the_current_language_and_links_back_here() {
        let templates = Templates::new().unwrap();
        let ui = Ui {
            locale: Locale::Es,
            here: "/?notice=cancelled".to_owned(),
        };
        let page = text(templates.home(&ui, None, None, None).unwrap());
        assert!(
            page.contains(r#"<a href="/lang/en?return_to=%2F%3Fnotice%3Dcancelled" lang="en""#),
            "{page}"
        );
        assert!(
            page.contains(r#"data-lang="es" aria-current="true">Español</a>"#),
            "{page}"
        );
        assert!(!page.contains(r#"data-lang="en" aria-current"#), "{page}");
    }

    /// The home and profile contexts are kept between renders on a thread: what one visitor's page
    /// showed must never reach the next visitor's.
    #[test]
    fn nothing_of_one_visitors_page_is_left_on_the_next() {
        let templates = Templates::new().unwrap();
        let ui = Ui {
            locale: Locale::En,
            here: "/".into(),
        };
        let ada = demo_user();
        let bob: SessionUser =
            serde_json::from_value(serde_json::json!({ "sub": "user-2", "signed_in_at": 1 })).unwrap();
        let profile = |user: &SessionUser, csrf: &str| {
            text(
                templates
                    .profile(
                        &ui,
                        &ProfileView {
                            user: UserView::of(user),
                            resources: &[],
                            organizations: &OrganizationView::all_of(user),
                            organization_token: None,
                            organization_resources: &[],
                        },
                        Some(csrf),
                    )
                    .unwrap(),
            )
        };
        let first = text(
            templates
                .home(&ui, Some(&UserView::of(&ada)), Some("csrf-ada"), None)
                .unwrap(),
        );
        assert!(first.contains("ada@example.com") && first.contains("csrf-ada") && first.contains("ada-hf"));
        assert!(profile(&ada, "csrf-ada").contains("ada-hf"));
        let pages = [
            text(
                templates
                    .home(&ui, Some(&UserView::of(&bob)), Some("csrf-bob"), None)
                    .unwrap(),
            ),
            profile(&bob, "csrf-bob"),
            text(templates.home(&ui, None, None, None).unwrap()),
        ];
        for page in &pages {
            for ada_s in [
                "ada@example.com",
                "csrf-ada",
                "ada-hf",
                "cdn.example",
                "Lovelace",
                "Acme",
            ] {
                assert!(!page.contains(ada_s), "{ada_s} left over: {page}");
            }
        }
        assert!(pages[0].contains("csrf-bob") && pages[0].contains("user-2"));
        assert!(!pages[2].contains("csrf-bob") && !pages[2].contains("user-2"));
    }

    #[test]
    fn initials_are_whole_characters_in_upper_case() {
        assert_eq!(initial("ada"), "A");
        assert_eq!(initial("\u{e9}mile"), "\u{c9}");
        // e + combining acute accent: one grapheme, kept whole.
        assert_eq!(initial("e\u{301}mile"), "E\u{301}");
        assert_eq!(initial(""), "");
    }
}
