//! The public URLs of the configuration (`LOGTO_ENDPOINT`, `APP_BASE_URL`): https, or plain http
//! on this machine only.

use url::{Host, Url};

/// Parses an http(s) URL without credentials, query or fragment. Plain http is allowed only for
/// loopback hosts (local development): anywhere else the client secret, codes and tokens would
/// travel in clear.
pub(super) fn parse(raw: &str) -> Result<Url, String> {
    let shown = raw.escape_debug();
    let url = Url::parse(raw).map_err(|_| format!("`{shown}` is not a URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{shown}` must start with https://"));
    }
    if url.host().is_none() {
        return Err(format!("`{shown}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{shown}` must not carry credentials, a query or a fragment"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(format!(
            "`{shown}` must use https (http is only for localhost, 127.0.0.0/8 and [::1])"
        ));
    }
    Ok(url)
}

/// Whether a URL's host is this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
