//! One host name for every page a person opens: cookies belong to a host, so a sign-in started
//! on `localhost` cannot finish on `127.0.0.1`. Page requests on another name are sent to the
//! same path on `APP_BASE_URL` before anything else reads or writes the session.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use url::Url;

use logto_actix_web::logto_web::LogtoWeb;

use crate::config::is_loopback;

/// The origin pages are served on, from `APP_BASE_URL`.
#[derive(Clone, Debug)]
pub struct CanonicalHost {
    base: Url,
    /// The routes the crate mounts that a person opens: every sign-in route, and sign-out.
    auth_pages: Vec<String>,
}

impl CanonicalHost {
    /// Pages are served on `app_base_url`'s host and port; `web` names the sign-in and sign-out
    /// routes (the crate owns those paths).
    pub fn new(app_base_url: &Url, web: &LogtoWeb) -> Self {
        let mut auth_pages: Vec<String> = web.sign_in_routes().into_iter().map(|(path, _)| path).collect();
        auth_pages.push(web.sign_out_path().to_owned());
        Self {
            base: app_base_url.clone(),
            auth_pages,
        }
    }

    /// Where a request should go instead, if it is a page request on another host name.
    ///
    /// Only a browser's page views move: what machines call (`/healthz`, `/readyz`,
    /// `/backchannel-logout`, `/api/…`, the stylesheet and icons) is served on any name, and so is
    /// the callback, which must finish where its sign-in started (its cookie is there; Logto sends
    /// it to `APP_BASE_URL` anyway, now that sign-in always starts there). Forms (`POST`) are never
    /// redirected.
    fn redirect_for(&self, req: &ServiceRequest) -> Option<String> {
        if !matches!(*req.method(), Method::GET | Method::HEAD) || !self.is_page(req.path()) {
            return None;
        }
        // No host named at all (HTTP/1.0): nothing to compare.
        if !req.headers().contains_key(header::HOST) && req.uri().authority().is_none() {
            return None;
        }
        // A proxy's X-Forwarded-Host or Forwarded host counts: it is the name the browser used.
        let info = req.connection_info();
        let requested = Url::parse(&format!("{}://{}/", self.base.scheme(), info.host())).ok()?;
        if requested.host() == self.base.host()
            && requested.port_or_known_default() == self.base.port_or_known_default()
        {
            return None;
        }
        // A proxy that passes its own upstream address (`Host: 127.0.0.1:3000`) in front of a
        // public APP_BASE_URL would otherwise redirect to itself forever.
        if is_loopback(&requested) && !is_loopback(&self.base) {
            return None;
        }
        let path_and_query = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        Some(format!("{}{path_and_query}", self.base.origin().ascii_serialization()))
    }
}

impl CanonicalHost {
    /// The paths a person opens in the address bar or through the app's links.
    fn is_page(&self, path: &str) -> bool {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        matches!(path, "/" | "/profile") || path.starts_with("/lang/") || self.auth_pages.iter().any(|p| p == path)
    }
}

/// The middleware (`actix_web::middleware::from_fn`): a 302 to `APP_BASE_URL` for a page request
/// on another host name, else the request as it came.
pub async fn redirect_to_canonical_host(
    canonical: CanonicalHost,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(location) = canonical.redirect_for(&req) {
        let response = HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .finish();
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use logto_actix_web::{ClientSecret, LogtoClient, LogtoConfig, SignInOptions};

    /// The crate's routes as the app configures them, with the default sign-in at `sign_in_path`.
    fn web(sign_in_path: &str) -> LogtoWeb {
        let config = LogtoConfig::builder(
            Url::parse("https://tenant.logto.app").unwrap(),
            "app",
            ClientSecret::new("secret"),
            Url::parse("http://127.0.0.1:3000/callback").unwrap(),
        )
        .build();
        LogtoWeb::builder(LogtoClient::new(config).unwrap())
            .sign_in_path(sign_in_path)
            .sign_in_route("/sign-up", SignInOptions::register())
            .build()
    }

    fn redirect(base: &str, method: Method, host: &str, path: &str) -> Option<String> {
        let canonical = CanonicalHost::new(&Url::parse(base).unwrap(), &web("/sign-in"));
        let req = TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header((header::HOST, host))
            .to_srv_request();
        canonical.redirect_for(&req)
    }

    #[test]
    fn pages_on_another_name_go_to_the_same_path_on_app_base_url() {
        let base = "http://127.0.0.1:3000";
        assert_eq!(
            redirect(base, Method::GET, "localhost:3000", "/sign-in?return_to=%2Fprofile").as_deref(),
            Some("http://127.0.0.1:3000/sign-in?return_to=%2Fprofile")
        );
        assert_eq!(
            redirect("http://localhost:3000", Method::HEAD, "127.0.0.1:3000", "/").as_deref(),
            Some("http://localhost:3000/")
        );
        assert_eq!(
            redirect("https://example.com", Method::GET, "www.example.com", "/lang/es").as_deref(),
            Some("https://example.com/lang/es")
        );
        for same in ["127.0.0.1:3000", "127.0.0.1:3000"] {
            assert_eq!(redirect(base, Method::GET, same, "/"), None);
        }
        assert_eq!(
            redirect("https://Example.com", Method::GET, "example.COM:443", "/"),
            None
        );
    }

    #[test]
    fn the_sign_in_routes_are_the_crates() {
        let canonical = CanonicalHost::new(&Url::parse("http://127.0.0.1:3000").unwrap(), &web("/login"));
        let moves = |path: &str| {
            let req = TestRequest::get()
                .uri(path)
                .insert_header((header::HOST, "localhost:3000"))
                .to_srv_request();
            canonical.redirect_for(&req).is_some()
        };
        assert!(moves("/login?return_to=%2Fprofile"), "the configured sign-in path");
        assert!(moves("/sign-up"), "another sign-in route");
        assert!(moves("/sign-out"), "the sign-out page");
        assert!(!moves("/sign-in"), "not a route of this configuration");
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
            assert_eq!(redirect(base, Method::GET, "localhost:3000", path), None, "{path}");
        }
        assert_eq!(redirect(base, Method::POST, "localhost:3000", "/sign-out"), None);
        // A proxy passing its upstream address in front of a public APP_BASE_URL.
        assert_eq!(
            redirect("https://app.example.com", Method::GET, "127.0.0.1:3000", "/"),
            None
        );
    }
}
