//! The headers every response carries: a content security policy, no framing, no sniffing, no
//! referrer, no caching, and HSTS behind https.

use actix_web::middleware::DefaultHeaders;
use url::Url;

/// How long browsers keep to https for this site once they saw it over https (one year).
const HSTS: &str = "max-age=31536000";

/// The security headers of this app, built once from the configuration.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    csp: String,
    https: bool,
}

impl SecurityHeaders {
    /// The headers for this app: `https` when it is served over https; `logto_endpoint`, where
    /// the sign-out form's redirect goes on to.
    pub fn new(logto_endpoint: &Url, https: bool) -> Self {
        Self {
            csp: content_security_policy(logto_endpoint),
            https,
        }
    }

    /// The middleware adding them to every response.
    pub fn middleware(&self) -> DefaultHeaders {
        let headers = if self.https {
            // Only behind https: over plain http (loopback development) browsers ignore it anyway.
            DefaultHeaders::new().add(("Strict-Transport-Security", HSTS))
        } else {
            DefaultHeaders::new()
        };
        headers
            .add(("Content-Security-Policy", self.csp.clone()))
            .add(("X-Content-Type-Options", "nosniff"))
            .add(("X-Frame-Options", "DENY"))
            // The callback URL carries a code: never send it on as a referrer.
            .add(("Referrer-Policy", "no-referrer"))
            .add(("Cache-Control", "no-store"))
    }
}

/// No scripts at all; styles and forms only from this site, except that the sign-out form's
/// redirect goes on to Logto, which `form-action` must allow.
fn content_security_policy(logto_endpoint: &Url) -> String {
    let logto_origin = logto_endpoint.origin().ascii_serialization();
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' {logto_origin}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}
