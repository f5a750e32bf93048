//! One host name for every page a person opens (the rule is the shared
//! [`CanonicalHost`](crate::config::site::CanonicalHost)): page requests on another name are sent
//! to the same path on `APP_BASE_URL` before anything else reads or writes the session.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

pub use crate::config::site::CanonicalHost;

/// Where a request should go instead, if it is a page request on another host name.
fn redirect_for(canonical: &CanonicalHost, req: &ServiceRequest) -> Option<String> {
    let get_or_head = matches!(*req.method(), Method::GET | Method::HEAD);
    // No host named at all (HTTP/1.0): nothing to compare. A proxy's X-Forwarded-Host or
    // Forwarded host counts: it is the name the browser used.
    let named = req.headers().contains_key(header::HOST) || req.uri().authority().is_some();
    let path_and_query = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    if let Some(host) = named.then(|| plain_host(req)).flatten() {
        return canonical.redirect_for(get_or_head, Some(host), path_and_query);
    }
    let info = req.connection_info();
    let host = named.then(|| info.host());
    canonical.redirect_for(get_or_head, host, path_and_query)
}

/// The host as actix-web's `connection_info().host()` finds it when no proxy header names one:
/// `Host`, else the request line's authority. `None` when a proxy header is there (then
/// `connection_info` reads it), or neither gives a host. `connection_info` also formats the
/// peer's address, ~3k instructions on every request (bench/README.md).
fn plain_host(req: &ServiceRequest) -> Option<&str> {
    let headers = req.headers();
    if headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-host") {
        return None;
    }
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| req.uri().authority().map(|authority| authority.as_str()))
}

/// The middleware (`actix_web::middleware::from_fn`): a 302 to `APP_BASE_URL` for a page request
/// on another host name, else the request as it came.
pub async fn redirect_to_canonical_host(
    canonical: CanonicalHost,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(location) = redirect_for(&canonical, &req) {
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
    use url::Url;

    fn redirect(base: &str, method: Method, headers: &[(&str, &str)], path: &str) -> Option<String> {
        let config = logto_client::LogtoConfig::builder(
            Url::parse("https://tenant.logto.app").unwrap(),
            "app",
            logto_client::ClientSecret::new("secret"),
            Url::parse("http://127.0.0.1:3000/callback").unwrap(),
        )
        .build();
        let web = logto_actix_web::logto_web::LogtoWeb::builder(logto_client::LogtoClient::new(config).unwrap())
            .sign_in_route("/sign-up", logto_client::SignInOptions::register())
            .build();
        let canonical = CanonicalHost::new(&Url::parse(base).unwrap(), &web);
        let mut req = TestRequest::default().method(method).uri(path);
        for header in headers {
            req = req.insert_header(*header);
        }
        redirect_for(&canonical, &req.to_srv_request())
    }

    #[test]
    fn the_host_a_browser_or_its_proxy_named_is_the_one_compared() {
        let base = "http://127.0.0.1:3000";
        assert_eq!(
            redirect(base, Method::GET, &[("host", "localhost:3000")], "/profile").as_deref(),
            Some("http://127.0.0.1:3000/profile")
        );
        assert_eq!(
            redirect(
                base,
                Method::GET,
                &[("host", "127.0.0.1:3000"), ("x-forwarded-host", "localhost:3000")],
                "/"
            )
            .as_deref(),
            Some("http://127.0.0.1:3000/")
        );
        assert_eq!(
            redirect(base, Method::POST, &[("host", "localhost:3000")], "/sign-out"),
            None
        );
        assert_eq!(redirect(base, Method::GET, &[], "/"), None, "no host named");
        assert_eq!(
            redirect(
                base,
                Method::GET,
                &[("host", "localhost:3000"), ("forwarded", "host=127.0.0.1:3000")],
                "/"
            ),
            None,
            "a Forwarded host counts"
        );
        assert_eq!(
            redirect(base, Method::GET, &[("host", "127.0.0.1:3000")], "/profile"),
            None
        );
    }
}
