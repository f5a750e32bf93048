//! Rules of the app's site that both binaries (actix and axum) follow, as plain functions over
//! strings so that each framework only reads its request: one host name for every page, pages
//! without trailing slashes, and where "Sign in again" leads.

use std::sync::Arc;

use logto_web::LogtoWeb;
use logto_web::util::{first_param, safe_return_to};
use url::Url;

use crate::is_loopback;

/// The origin pages are served on, from `APP_BASE_URL`. Cookies belong to a host, so a sign-in
/// started on `localhost` cannot finish on `127.0.0.1`: page requests on another name are sent to
/// the same path on `APP_BASE_URL` before anything reads or writes the session. Cheap to clone
/// (the middleware of each framework takes its own copy with every request).
#[derive(Clone, Debug)]
pub struct CanonicalHost(Arc<Site>);

/// What a [`CanonicalHost`] knows of the site, shared by its clones.
#[derive(Debug)]
struct Site {
    base: Url,
    /// `base`'s host and port as a `Host` header names it (`127.0.0.1:3000`): the usual request
    /// matches it as text and is answered without parsing a URL.
    authority: String,
    /// The routes of sign-in that a person opens: every sign-in route and sign-out (the crates
    /// own those paths).
    auth_pages: Vec<String>,
}

impl CanonicalHost {
    /// The canonical host of `app_base_url`, for an app whose sign-in routes are `web`'s.
    pub fn new(app_base_url: &Url, web: &LogtoWeb) -> Self {
        let mut auth_pages: Vec<String> = web.sign_in_routes().into_iter().map(|(path, _)| path).collect();
        auth_pages.push(web.sign_out_path().to_owned());
        let host = app_base_url.host_str().unwrap_or_default();
        let authority = match app_base_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Self(Arc::new(Site {
            base: app_base_url.clone(),
            authority,
            auth_pages,
        }))
    }

    /// Where a request should go instead (a 302), if it is a page opened (`GET`/`HEAD`:
    /// `get_or_head`) on another host name than `APP_BASE_URL`'s. `host` is the name the browser
    /// asked for (`None`: unknown, left alone); machines' paths, forms and the callback are never
    /// moved. A loopback name in front of a public base URL is a proxy or a health check: left alone.
    pub fn redirect_for(&self, get_or_head: bool, host: Option<&str>, path_and_query: &str) -> Option<String> {
        let path = path_and_query.split('?').next().unwrap_or_default();
        if !get_or_head || !self.is_page(path) {
            return None;
        }
        if host.is_some_and(|host| host.eq_ignore_ascii_case(&self.0.authority)) {
            return None;
        }
        let requested = Url::parse(&format!("{}://{}/", self.0.base.scheme(), host?)).ok()?;
        if requested.host() == self.0.base.host()
            && requested.port_or_known_default() == self.0.base.port_or_known_default()
        {
            return None;
        }
        if is_loopback(&requested) && !is_loopback(&self.0.base) {
            return None;
        }
        Some(format!(
            "{}{path_and_query}",
            self.0.base.origin().ascii_serialization()
        ))
    }
}

impl CanonicalHost {
    /// The pages a person opens (not `/healthz`, `/readyz`, `/backchannel-logout`, `/api/…`,
    /// static files or the callback).
    fn is_page(&self, path: &str) -> bool {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        matches!(path, "/" | "/profile") || path.starts_with("/lang/") || self.0.auth_pages.iter().any(|p| p == path)
    }
}

/// `path` without its trailing slashes (and with its query), when that is another path of this
/// site: never `/`, never a way off the site such as `//evil.example`. A page asked for as
/// `/profile/` moves (301) there.
pub fn without_trailing_slash(path: &str, query: &str) -> Option<String> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() == path.len() || trimmed.is_empty() {
        return None;
    }
    let target = if query.is_empty() {
        trimmed.to_owned()
    } else {
        format!("{trimmed}?{query}")
    };
    (safe_return_to(Some(&target)) == target).then_some(target)
}

/// Where an error page's "Sign in again" leads: the crate's sign-in path, back to the page the
/// failed request's `return_to` named (a same-site path only).
pub fn sign_in_again(sign_in_path: &str, query: &str) -> String {
    match first_param(query.as_bytes(), "return_to").map(|r| safe_return_to(Some(&r))) {
        Some(return_to) if return_to != "/" => {
            let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
            format!("{sign_in_path}?return_to={encoded}")
        }
        _ => sign_in_path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sign-in routes as the apps configure them.
    fn web() -> LogtoWeb {
        let config = logto_client::LogtoConfig::builder(
            Url::parse("https://tenant.logto.app").unwrap(),
            "app",
            logto_client::ClientSecret::new("secret"),
            Url::parse("http://127.0.0.1:3000/callback").unwrap(),
        )
        .build();
        LogtoWeb::builder(logto_client::LogtoClient::new(config).unwrap())
            .sign_in_route("/sign-up", logto_client::SignInOptions::register())
            .sign_in_route(
                "/sign-in/huggingface",
                logto_client::SignInOptions::direct(logto_client::DirectSignIn::hugging_face()),
            )
            .build()
    }

    fn redirect(base: &str, get_or_head: bool, host: &str, path: &str) -> Option<String> {
        CanonicalHost::new(&Url::parse(base).unwrap(), &web()).redirect_for(get_or_head, Some(host), path)
    }

    #[test]
    fn pages_on_another_name_go_to_the_same_path_on_app_base_url() {
        let base = "http://127.0.0.1:3000";
        assert_eq!(
            redirect(base, true, "localhost:3000", "/sign-in?return_to=%2Fprofile").as_deref(),
            Some("http://127.0.0.1:3000/sign-in?return_to=%2Fprofile")
        );
        assert_eq!(
            redirect("http://localhost:3000", true, "127.0.0.1:3000", "/").as_deref(),
            Some("http://localhost:3000/")
        );
        assert_eq!(
            redirect("https://example.com", true, "www.example.com", "/lang/es").as_deref(),
            Some("https://example.com/lang/es")
        );
        assert_eq!(redirect(base, true, "127.0.0.1:3000", "/"), None);
        assert_eq!(redirect("https://Example.com", true, "example.COM:443", "/"), None);
        assert_eq!(redirect("https://example.com", true, "EXAMPLE.com", "/"), None);
        assert_eq!(redirect("http://[::1]:3000", true, "[::1]:3000", "/"), None);
        assert_eq!(
            redirect("http://[::1]:3000", true, "[::1]:3001", "/").as_deref(),
            Some("http://[::1]:3000/")
        );
    }

    #[test]
    fn machines_forms_the_callback_and_proxies_are_left_alone() {
        let base = "http://127.0.0.1:3000";
        for path in [
            "/healthz",
            "/readyz",
            "/backchannel-logout",
            "/api/me",
            "/static/app.css",
            "/callback?code=x",
        ] {
            assert_eq!(redirect(base, true, "localhost:3000", path), None, "{path}");
        }
        assert_eq!(redirect(base, false, "localhost:3000", "/sign-out"), None);
        assert_eq!(redirect("https://app.example.com", true, "127.0.0.1:3000", "/"), None);
        let canonical = CanonicalHost::new(&Url::parse(base).unwrap(), &web());
        assert_eq!(canonical.redirect_for(true, None, "/"), None, "no host: left alone");
    }

    #[test]
    fn a_trailing_slash_moves_to_the_same_path_of_this_site_only() {
        assert_eq!(without_trailing_slash("/profile/", "").as_deref(), Some("/profile"));
        assert_eq!(
            without_trailing_slash("/profile//", "a=1").as_deref(),
            Some("/profile?a=1")
        );
        for stays in ["/", "//", "/profile", "//evil.example/", "/\\evil.example/"] {
            assert_eq!(without_trailing_slash(stays, ""), None, "{stays}");
        }
    }

    #[test]
    fn sign_in_again_goes_back_to_a_same_site_page_only() {
        assert_eq!(
            sign_in_again("/sign-in", "return_to=%2Fprofile"),
            "/sign-in?return_to=%2Fprofile"
        );
        assert_eq!(
            sign_in_again("/sign-in", "return_to=https%3A%2F%2Fevil.example"),
            "/sign-in"
        );
        assert_eq!(sign_in_again("/login", ""), "/login");
    }
}
