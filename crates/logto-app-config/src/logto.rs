//! The Logto application this app signs in with (`LOGTO_*` but the API's variables).

use std::ops::RangeInclusive;
use std::time::Duration;

use logto_client::{ClientSecret, protocol::BASE_SCOPES};
use url::Url;

use super::reader::{Reader, dedup, is_absolute_uri, not_an_absolute_uri, split_scopes, split_words};

/// Timeout of each call to Logto when `LOGTO_HTTP_TIMEOUT_SECS` is not set.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepted `LOGTO_HTTP_TIMEOUT_SECS`: 0 would fail every call, and a timeout of minutes lets a
/// hanging Logto hold a worker's connections for that long.
pub const HTTP_TIMEOUT_SECS: RangeInclusive<u64> = 1..=300;

/// `LOGTO_USERINFO_MAX_AGE_SECS` when not set.
pub const DEFAULT_USERINFO_MAX_AGE: Duration = Duration::from_secs(60);

/// Accepted `LOGTO_USERINFO_MAX_AGE_SECS`: up to a day.
pub const USERINFO_MAX_AGE_SECS: RangeInclusive<u64> = 0..=24 * 3600;

/// `LOGTO_SCOPES` when not set.
const DEFAULT_SCOPES: [&str; 2] = ["email", "identities"];

/// The Logto application and what is asked of Logto.
#[derive(Clone, Debug)]
pub struct LogtoSettings {
    /// Logto endpoint, e.g. `https://abc123.logto.app` (`LOGTO_ENDPOINT`).
    pub endpoint: Url,
    /// App ID of the Logto "Traditional web" application (`LOGTO_APP_ID`).
    pub app_id: String,
    /// App secret of that application (`LOGTO_APP_SECRET`).
    pub app_secret: ClientSecret,
    /// Extra scopes requested besides `openid offline_access profile` (`LOGTO_SCOPES`).
    pub scopes: Vec<String>,
    /// API resource indicators requested at sign-in (`LOGTO_RESOURCES`).
    pub resources: Vec<String>,
    /// Timeout of every call to Logto (`LOGTO_HTTP_TIMEOUT_SECS`).
    pub http_timeout: Duration,
    /// How old the userinfo shown on `/profile` may be; zero: read on every view
    /// (`LOGTO_USERINFO_MAX_AGE_SECS`).
    pub userinfo_max_age: Duration,
}

impl LogtoSettings {
    /// Reads the section; `None` when a value is missing or wrong (the reader has the problems).
    pub(super) fn read(r: &mut Reader<'_>) -> Option<Self> {
        let endpoint = endpoint(r);
        let app_id = r.required(
            "LOGTO_APP_ID",
            "copy the App ID of your Traditional web application from the Logto Console",
        );
        let app_secret = r
            .required(
                "LOGTO_APP_SECRET",
                "copy the App secret of your Traditional web application from the Logto Console",
            )
            .map(ClientSecret::new);
        let scopes = scopes(r);
        let resources = resources(r);
        let http_timeout = r.seconds("LOGTO_HTTP_TIMEOUT_SECS", DEFAULT_HTTP_TIMEOUT, HTTP_TIMEOUT_SECS);
        let userinfo_max_age = r.seconds(
            "LOGTO_USERINFO_MAX_AGE_SECS",
            DEFAULT_USERINFO_MAX_AGE,
            USERINFO_MAX_AGE_SECS,
        );
        Some(Self {
            endpoint: endpoint?,
            app_id: app_id?,
            app_secret: app_secret?,
            scopes,
            resources,
            http_timeout: http_timeout?,
            userinfo_max_age: userinfo_max_age?,
        })
    }
}

/// `LOGTO_ENDPOINT`: required, https (or http on this machine), and not the issuer.
fn endpoint(r: &mut Reader<'_>) -> Option<Url> {
    let raw = r.required(
        "LOGTO_ENDPOINT",
        "set it to your Logto endpoint, e.g. https://abc123.logto.app",
    )?;
    let url = r.base_url(
        "LOGTO_ENDPOINT",
        &raw,
        "https://abc123.logto.app (from the Logto Console)",
    )?;
    // The issuer pasted in place of the endpoint would make every URL `/oidc/oidc/...`.
    if url.path().trim_end_matches('/').ends_with("/oidc") {
        return r.fail(
            "LOGTO_ENDPOINT",
            format!(
                "`{url}` is the issuer; set the endpoint without `/oidc`, e.g. {}",
                url.as_str().trim_end_matches('/').trim_end_matches("/oidc")
            ),
        );
    }
    Some(url)
}

/// `LOGTO_SCOPES`: separated by spaces (or commas), each checked, without the base scopes that
/// are always requested, without repeats.
fn scopes(r: &mut Reader<'_>) -> Vec<String> {
    let scopes = r
        .get("LOGTO_SCOPES")
        .map(|raw| split_scopes(&raw))
        .unwrap_or_else(|| DEFAULT_SCOPES.map(str::to_owned).to_vec());
    for scope in &scopes {
        // RFC 6749's scope-token: printable ASCII without `"` and `\`.
        if !scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
            r.fail::<()>(
                "LOGTO_SCOPES",
                format!(
                    "`{}` is not a valid scope; separate scopes with spaces",
                    scope.escape_debug()
                ),
            );
        }
    }
    dedup(
        scopes
            .into_iter()
            .filter(|s| !BASE_SCOPES.contains(&s.as_str()))
            .collect(),
    )
}

/// `LOGTO_RESOURCES`: absolute URIs separated by spaces, without repeats; none when unset.
fn resources(r: &mut Reader<'_>) -> Vec<String> {
    let resources = r
        .get("LOGTO_RESOURCES")
        .map(|raw| split_words(&raw))
        .unwrap_or_default();
    for resource in &resources {
        if !is_absolute_uri(resource) {
            r.fail::<()>("LOGTO_RESOURCES", not_an_absolute_uri(resource));
        }
    }
    dedup(resources)
}
