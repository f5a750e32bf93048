//! Where this app listens and the public URL people reach it at (`APP_BASE_URL`, `HOST`, `PORT`).

use std::net::{IpAddr, SocketAddr};

use url::Url;

use super::base_url;
use super::reader::Reader;

/// `APP_BASE_URL` when not set.
const DEFAULT_BASE_URL: &str = "http://localhost:3000";

/// The listener and the public URL.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Public URL of this app: an origin, without a path (`APP_BASE_URL`).
    pub base_url: Url,
    /// Listen address (`HOST`, `PORT`).
    pub listen: SocketAddr,
}

impl ServerSettings {
    /// Reads the section: the public URL, then the listen address; `None` when a value is wrong
    /// (the reader has the problems).
    ///
    /// The listen address is returned on its own as well, when it is valid, so that
    /// `METRICS_ADDR` is checked against it even when `APP_BASE_URL` is wrong.
    pub(super) fn read(r: &mut Reader<'_>) -> (Option<Self>, Option<SocketAddr>) {
        let base_url = base_url_of_app(r);
        let listen = listen(r);
        let settings = match (base_url, listen) {
            (Some(base_url), Some(listen)) => Some(Self { base_url, listen }),
            _ => None,
        };
        (settings, listen)
    }

    /// A path of this app as a full URL.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(path);
        url
    }

    /// Whether the app is served over https (so cookies must be `Secure`, and HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

/// `APP_BASE_URL`: https (or http on this machine), an origin without a path.
fn base_url_of_app(r: &mut Reader<'_>) -> Option<Url> {
    let url = match r.get("APP_BASE_URL") {
        None => base_url::parse(DEFAULT_BASE_URL).ok(),
        Some(raw) => r.base_url(
            "APP_BASE_URL",
            &raw,
            "https://app.example.com (the public URL of this app)",
        ),
    }?;
    // Every route, cookie and redirect URI is at the root of the host.
    if url.path() != "/" {
        return r.fail(
            "APP_BASE_URL",
            format!(
                "`{url}` has a path; the app is served at the root of its host: use {}",
                url.origin().ascii_serialization()
            ),
        );
    }
    Some(url)
}

/// `HOST` and `PORT`: both are read, so that both are reported when both are wrong.
fn listen(r: &mut Reader<'_>) -> Option<SocketAddr> {
    let host = r.parsed(
        "HOST",
        IpAddr::from([127, 0, 0, 1]),
        "an IP address; use e.g. 127.0.0.1 or 0.0.0.0",
    );
    let port = r.parsed("PORT", 3000u16, "a port number; use a number from 0 to 65535");
    Some(SocketAddr::new(host?, port?))
}
