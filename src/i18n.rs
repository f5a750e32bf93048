//! English and Spanish. The language is the visitor's choice from the switcher (kept in the
//! `lang` cookie), else the best match in `Accept-Language`, else English.
//!
//! Every text of every page is a field of [`Messages`], and each language is one `const` of it:
//! a text missing in one language is a compile error, not an English word on a Spanish page.

use std::future::{Ready, ready};

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::Serialize;

use logto_actix_web::util::safe_return_to;

/// Name of the cookie that remembers the switcher's choice, over http.
pub const LANG_COOKIE: &str = "lang";

/// Its name behind https: the `__Host-` prefix makes browsers refuse it unless it is `Secure`,
/// set by this host alone and for every path, so a sibling subdomain cannot plant one.
pub const SECURE_LANG_COOKIE: &str = "__Host-lang";

/// The name of the language cookie, `Secure` or not.
pub fn lang_cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_LANG_COOKIE } else { LANG_COOKIE }
}

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// English, the default.
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Locale {
    /// Every language, in the switcher's order.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Es];

    /// The BCP 47 tag: `<html lang>`, the cookie value, the `/lang/{tag}` path and Logto's `ui_locales`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
        }
    }

    /// The language named by a tag (`es`, `es-MX`, `EN`); `None` for a language we do not have.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "es" => Some(Locale::Es),
            _ => None,
        }
    }

    /// The best language of an `Accept-Language` header: highest `q` first, ties in header order.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(Locale, f32)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(locale) = parts.next().and_then(Locale::from_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((locale, q));
            }
        }
        best.map(|(locale, _)| locale)
    }

    /// The language of a request: the language cookie (under its name for this app's scheme),
    /// else `Accept-Language`, else English.
    pub fn of_request(req: &HttpRequest) -> Locale {
        let secure = req
            .app_data::<actix_web::web::Data<LangCookieSecure>>()
            .is_some_and(|secure| secure.0);
        if let Some(locale) = req
            .cookie(lang_cookie_name(secure))
            .and_then(|c| Locale::from_tag(c.value()))
        {
            return locale;
        }
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Locale::from_accept_language)
            .unwrap_or_default()
    }

    /// The cookie that remembers this choice for a year. HttpOnly (no script reads it) and Lax,
    /// like the session cookie, so it is there on the return from Logto.
    pub fn cookie(self, secure: bool) -> Cookie<'static> {
        Cookie::build(lang_cookie_name(secure), self.tag())
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::days(365))
            .finish()
    }

    /// Every text of the pages in this language.
    pub fn messages(self) -> &'static Messages {
        match self {
            Locale::En => &EN,
            Locale::Es => &ES,
        }
    }

    /// Heading and explanation of an error page.
    pub fn error(self, text: ErrorText) -> (&'static str, &'static str) {
        use ErrorText::*;
        match (self, text) {
            (Locale::En, Denied) => (
                "Sign-in did not finish",
                "The sign-in service could not complete your sign-in. Please try again.",
            ),
            (Locale::Es, Denied) => (
                "No se completó el inicio de sesión",
                "El servicio de inicio de sesión no pudo completarlo. Inténtalo de nuevo.",
            ),
            (Locale::En, Expired) => ("Sign-in expired", "This sign-in took too long. Please start again."),
            (Locale::Es, Expired) => (
                "El inicio de sesión caducó",
                "Este inicio de sesión tardó demasiado. Vuelve a empezar.",
            ),
            (Locale::En, InvalidLink) => (
                "This sign-in link is not valid",
                "It may have been used already, or it was not started in this browser. Please sign in again.",
            ),
            (Locale::Es, InvalidLink) => (
                "Este enlace de inicio de sesión no es válido",
                "Puede que ya se haya usado o que no se abriera en este navegador. Vuelve a iniciar sesión.",
            ),
            (Locale::En, UsedCode) => (
                "This sign-in link is not valid",
                "It has been used already or has expired. Please sign in again.",
            ),
            (Locale::Es, UsedCode) => (
                "Este enlace de inicio de sesión no es válido",
                "Ya se usó o ha caducado. Vuelve a iniciar sesión.",
            ),
            (Locale::En, ServiceDown) => (
                "The sign-in service is not answering",
                "We could not reach the sign-in service or it answered in a way we could not trust. \
                 Please try again in a minute.",
            ),
            (Locale::Es, ServiceDown) => (
                "El servicio de inicio de sesión no responde",
                "No pudimos contactar con el servicio de inicio de sesión o su respuesta no era de fiar. \
                 Inténtalo de nuevo en un minuto.",
            ),
            (Locale::En, Csrf) => (
                "Please use the sign-out button",
                "That request did not come from this site's sign-out form, so nothing was changed.",
            ),
            (Locale::Es, Csrf) => (
                "Usa el botón de cerrar sesión",
                "Esa petición no vino del formulario de cierre de sesión de este sitio, así que no se cambió nada.",
            ),
            (Locale::En, SignInRequired) => ("Please sign in", "This page needs you to sign in."),
            (Locale::Es, SignInRequired) => ("Inicia sesión", "Necesitas iniciar sesión para ver esta página."),
            (Locale::En, Internal) => (
                "Something went wrong",
                "We could not finish your request. Please try again.",
            ),
            (Locale::Es, Internal) => (
                "Algo salió mal",
                "No pudimos completar tu petición. Inténtalo de nuevo.",
            ),
            (Locale::En, SessionUnavailable) => (
                "Temporarily unavailable",
                "We cannot reach your session right now. Please try again in a moment.",
            ),
            (Locale::Es, SessionUnavailable) => (
                "No disponible por un momento",
                "Ahora mismo no podemos acceder a tu sesión. Inténtalo de nuevo en un momento.",
            ),
            (Locale::En, NotFound) => ("Page not found", "There is no page at this address."),
            (Locale::Es, NotFound) => ("Página no encontrada", "No hay ninguna página en esta dirección."),
            (Locale::En, MethodNotAllowed) => ("Not allowed", "This page cannot be used that way."),
            (Locale::Es, MethodNotAllowed) => ("No permitido", "Esta página no se puede usar de esa forma."),
            (Locale::En, BadRequest) => ("Bad request", "The request could not be understood."),
            (Locale::Es, BadRequest) => ("Petición incorrecta", "No pudimos entender la petición."),
            (Locale::En, NotAMember) => (
                "Not one of your organizations",
                "You are not a member of that organization, so nothing was changed.",
            ),
            (Locale::Es, NotAMember) => (
                "No es una de tus organizaciones",
                "No eres miembro de esa organización, así que no se cambió nada.",
            ),
        }
    }
}

/// Taking the language as a handler argument.
impl FromRequest for Locale {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Locale::of_request(req)))
    }
}

/// What every page needs besides its own data: the language, and the same-site path the
/// language switcher returns to.
#[derive(Debug, Clone)]
pub struct Ui {
    /// The language of the page.
    pub locale: Locale,
    /// This page's path and query, already checked by [`safe_return_to`].
    pub here: String,
}

impl Ui {
    /// The language and path of a request.
    pub fn of_request(req: &HttpRequest) -> Ui {
        let here = req.uri().path_and_query().map(|pq| pq.as_str());
        Ui {
            locale: Locale::of_request(req),
            here: safe_return_to(here),
        }
    }
}

impl FromRequest for Ui {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Ui::of_request(req)))
    }
}

/// Whether the `lang` cookie is `Secure`: set once at start-up from `APP_BASE_URL`.
#[derive(Debug, Clone, Copy)]
pub struct LangCookieSecure(pub bool);

/// What an error page says, independent of language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorText {
    /// Logto refused the sign-in for a reason other than the user cancelling.
    Denied,
    /// The callback came after the sign-in's time was up.
    Expired,
    /// Unknown, missing or replayed state; wrong issuer; no code.
    InvalidLink,
    /// Logto called the code invalid (used or expired).
    UsedCode,
    /// Logto unreachable or untrustworthy.
    ServiceDown,
    /// A form without the session's CSRF token.
    Csrf,
    /// A protected page without a session.
    SignInRequired,
    /// Our own failure.
    Internal,
    /// The session store (Redis) is down or does not answer.
    SessionUnavailable,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// Any other 4xx.
    BadRequest,
    /// An organization was chosen that the user is not a member of.
    NotAMember,
}

/// Every text the pages show, in one language.
#[derive(Debug, Serialize)]
pub struct Messages {
    /// The site's name in the header.
    pub brand: &'static str,
    /// Skip link for keyboard users.
    pub skip_to_content: &'static str,
    /// Label of the language switcher.
    pub language: &'static str,
    /// Label of the account navigation.
    pub account: &'static str,
    /// Link to the profile.
    pub profile: &'static str,
    /// Signed-out home: heading.
    pub welcome: &'static str,
    /// Signed-out home: what signing in is for.
    pub welcome_lead: &'static str,
    /// Button: the sign-in form.
    pub sign_in: &'static str,
    /// Button: the registration form.
    pub create_account: &'static str,
    /// Button: Hugging Face.
    pub continue_with_hf: &'static str,
    /// Separator between the form buttons and Hugging Face.
    pub or: &'static str,
    /// Signed-in home: page title.
    pub welcome_back: &'static str,
    /// Before the user's name.
    pub signed_in_as: &'static str,
    /// Label of the Hugging Face account.
    pub hf_account: &'static str,
    /// Button: the profile page.
    pub view_profile: &'static str,
    /// Button: sign out.
    pub sign_out: &'static str,
    /// Profile: heading.
    pub your_profile: &'static str,
    /// Profile field.
    pub name: &'static str,
    /// Profile field.
    pub email: &'static str,
    /// Profile field.
    pub username: &'static str,
    /// Profile field.
    pub user_id: &'static str,
    /// Profile field.
    pub roles: &'static str,
    /// Profile: link to the Hugging Face profile.
    pub hf_profile: &'static str,
    /// Profile: no Hugging Face account.
    pub no_hf: &'static str,
    /// Profile: heading of the API resource tokens.
    pub api_access: &'static str,
    /// Profile: an API resource.
    pub resource: &'static str,
    /// Profile: heading of the organization tokens.
    pub organizations: &'static str,
    /// Profile: an organization.
    pub organization: &'static str,
    /// Profile: the label of the active organization; header: before its name (for screen readers).
    pub active_organization: &'static str,
    /// Profile: the badge of the active organization.
    pub active: &'static str,
    /// Profile: before the user's roles in an organization.
    pub your_roles: &'static str,
    /// Profile: the button that makes an organization the active one.
    pub switch_to: &'static str,
    /// Profile: heading of the active organization's tokens.
    pub active_organization_access: &'static str,
    /// Profile: no organization chosen yet.
    pub no_active_organization: &'static str,
    /// Profile: a token's audience.
    pub audience: &'static str,
    /// Profile: a token's scopes.
    pub scopes: &'static str,
    /// Profile: time until a token expires.
    pub expires_in: &'static str,
    /// Profile: the unit of that time, after the number.
    pub minutes: &'static str,
    /// Button: home.
    pub home: &'static str,
    /// Sign-out page: heading.
    pub sign_out_question: &'static str,
    /// Sign-out page: stay.
    pub stay_signed_in: &'static str,
    /// Error page: sign in again.
    pub sign_in_again: &'static str,
    /// Error page: back home.
    pub back_home: &'static str,
    /// Error page: before the status code.
    pub error_code: &'static str,
    /// Home notice after the user cancelled at Logto: heading.
    pub cancelled_title: &'static str,
    /// Home notice after the user cancelled at Logto: text.
    pub cancelled_text: &'static str,
    /// Home notice after a sign-out that could not reach Logto: heading.
    pub signed_out_locally_title: &'static str,
    /// Home notice after a sign-out that could not reach Logto: text.
    pub signed_out_locally_text: &'static str,
}

const EN: Messages = Messages {
    brand: "Logto sign-in",
    skip_to_content: "Skip to content",
    language: "Language",
    account: "Account",
    profile: "Profile",
    welcome: "Welcome",
    welcome_lead: "Sign in to see your profile.",
    sign_in: "Sign in",
    create_account: "Create account",
    continue_with_hf: "Continue with Hugging Face",
    or: "or",
    welcome_back: "Welcome back",
    signed_in_as: "Signed in as",
    hf_account: "Hugging Face",
    view_profile: "View profile",
    sign_out: "Sign out",
    your_profile: "Your profile",
    name: "Name",
    email: "Email",
    username: "Username",
    user_id: "User ID",
    roles: "Roles",
    hf_profile: "Profile",
    no_hf: "No Hugging Face account is linked.",
    api_access: "API access",
    resource: "Resource",
    organizations: "Organizations",
    organization: "Organization",
    active_organization: "Active organization",
    active: "Active",
    your_roles: "Your roles",
    switch_to: "Make active",
    active_organization_access: "Active organization's access",
    no_active_organization: "Choose an organization to see its access tokens.",
    audience: "Audience",
    scopes: "Scopes",
    expires_in: "Expires in",
    minutes: "min",
    home: "Home",
    sign_out_question: "Sign out?",
    stay_signed_in: "Stay signed in",
    sign_in_again: "Sign in again",
    back_home: "Back to home",
    error_code: "Error",
    cancelled_title: "Sign-in cancelled",
    cancelled_text: "You cancelled signing in, so you are still signed out.",
    signed_out_locally_title: "Signed out of this app",
    signed_out_locally_text: "The sign-in service could not be reached, so you may still be signed in there. \
                              Sign out there too when it is back, or close the browser.",
};

const ES: Messages = Messages {
    brand: "Acceso con Logto",
    skip_to_content: "Saltar al contenido",
    language: "Idioma",
    account: "Cuenta",
    profile: "Perfil",
    welcome: "Te damos la bienvenida",
    welcome_lead: "Inicia sesión para ver tu perfil.",
    sign_in: "Iniciar sesión",
    create_account: "Crear cuenta",
    continue_with_hf: "Continuar con Hugging Face",
    or: "o",
    welcome_back: "Hola de nuevo",
    signed_in_as: "Sesión iniciada como",
    hf_account: "Hugging Face",
    view_profile: "Ver perfil",
    sign_out: "Cerrar sesión",
    your_profile: "Tu perfil",
    name: "Nombre",
    email: "Correo electrónico",
    username: "Nombre de usuario",
    user_id: "ID de usuario",
    roles: "Roles",
    hf_profile: "Perfil",
    no_hf: "No hay ninguna cuenta de Hugging Face vinculada.",
    api_access: "Acceso a API",
    resource: "Recurso",
    organizations: "Organizaciones",
    organization: "Organización",
    active_organization: "Organización activa",
    active: "Activa",
    your_roles: "Tus roles",
    switch_to: "Activar",
    active_organization_access: "Acceso de la organización activa",
    no_active_organization: "Elige una organización para ver sus tokens de acceso.",
    audience: "Audiencia",
    scopes: "Permisos",
    expires_in: "Caduca en",
    minutes: "min",
    home: "Inicio",
    sign_out_question: "¿Cerrar sesión?",
    stay_signed_in: "Seguir con la sesión iniciada",
    sign_in_again: "Volver a iniciar sesión",
    back_home: "Volver al inicio",
    error_code: "Error",
    cancelled_title: "Inicio de sesión cancelado",
    cancelled_text: "Cancelaste el inicio de sesión, así que sigues sin sesión iniciada.",
    signed_out_locally_title: "Sesión cerrada en esta aplicación",
    signed_out_locally_text: "No se pudo contactar con el servicio de inicio de sesión, así que puede que tu sesión \
                              siga abierta allí. Ciérrala también cuando vuelva a funcionar, o cierra el navegador.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tags_and_accept_language() {
        assert_eq!(Locale::from_tag("es-MX"), Some(Locale::Es));
        assert_eq!(Locale::from_tag("EN"), Some(Locale::En));
        assert_eq!(Locale::from_tag("fr"), None);
        assert_eq!(
            Locale::from_accept_language("es-ES,es;q=0.9,en;q=0.8"),
            Some(Locale::Es)
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR, en;q=0.5, es;q=0.7"),
            Some(Locale::Es)
        );
        assert_eq!(Locale::from_accept_language("de, fr;q=0.9"), None);
        assert_eq!(Locale::from_accept_language("es;q=0, en"), Some(Locale::En));
        assert_eq!(Locale::from_accept_language("*"), None);
    }

    #[test]
    fn spanish_differs_from_english_where_it_should() {
        assert_ne!(Locale::Es.messages().sign_in, Locale::En.messages().sign_in);
        assert_ne!(
            Locale::Es.error(ErrorText::NotFound),
            Locale::En.error(ErrorText::NotFound)
        );
    }
}
