//! Middleware of the app's own: the host-name redirect to `APP_BASE_URL`'s host (the shared
//! [`CanonicalHost`] rule), and the security headers on every response.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use logto_app_config::site::CanonicalHost;
use url::Url;

/// The host the browser asked for: from `Forwarded`, `X-Forwarded-Host` or `Host`, in that order.
fn requested_host(headers: &HeaderMap) -> Option<String> {
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split([';', ',']).find_map(|part| {
                part.trim()
                    .strip_prefix("host=")
                    .map(|h| h.trim_matches('"').to_owned())
            })
        });
    forwarded
        .or_else(|| header_str(headers, "x-forwarded-host").map(|h| h.split(',').next().unwrap_or(h).trim().to_owned()))
        .or_else(|| header_str(headers, "host").map(str::to_owned))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Sends a page opened on another host name to the same path on `APP_BASE_URL`'s (302).
pub async fn redirect_to_canonical_host(State(canonical): State<CanonicalHost>, req: Request, next: Next) -> Response {
    let get_or_head = matches!(*req.method(), Method::GET | Method::HEAD);
    let host = requested_host(req.headers()).or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let path_and_query = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    if let Some(location) = canonical.redirect_for(get_or_head, host.as_deref(), path_and_query)
        && let Ok(location) = HeaderValue::try_from(location)
    {
        return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
    }
    next.run(req).await
}

/// The headers every response carries.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
    /// The headers for an app signing in with the Logto at `logto_endpoint` (the only other place
    /// forms may post to); HSTS when it is served over https.
    pub fn new(logto_endpoint: &Url, https: bool) -> Self {
        let logto_origin = logto_endpoint.origin().ascii_serialization();
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' {logto_origin}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        let mut headers = vec![
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::try_from(csp)
                    .unwrap_or(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            // Pages show who is signed in: no cache may keep them.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ];
        if https {
            headers.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            ));
        }
        Self { headers }
    }
}

/// Adds the security headers a response does not set itself.
pub async fn security_headers(State(security): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    for (name, value) in &security.headers {
        if !response.headers().contains_key(name) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}
