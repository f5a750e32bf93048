//! This app's own JSON API (`LOGTO_API_RESOURCE`, `LOGTO_API_REQUIRED_SCOPES`).

use super::reader::{Reader, dedup, is_absolute_uri, not_an_absolute_uri, split_scopes};

/// This app's own JSON API (`/api/…`), protected by Logto access tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSettings {
    /// The API resource indicator its access tokens must be for (`LOGTO_API_RESOURCE`).
    pub resource: String,
    /// Scopes an access token must carry for `/api/me` (`LOGTO_API_REQUIRED_SCOPES`).
    pub required_scopes: Vec<String>,
}

impl ApiSettings {
    /// Reads the section: `Some(None)` when the API is off (`LOGTO_API_RESOURCE` unset), `None`
    /// when a value is wrong (the reader has the problem).
    pub(super) fn read(r: &mut Reader<'_>) -> Option<Option<Self>> {
        let required_scopes = r
            .get("LOGTO_API_REQUIRED_SCOPES")
            .map(|raw| dedup(split_scopes(&raw)))
            .unwrap_or_default();
        match r.get("LOGTO_API_RESOURCE") {
            None if required_scopes.is_empty() => Some(None),
            None => r.fail(
                "LOGTO_API_REQUIRED_SCOPES",
                "is set but LOGTO_API_RESOURCE is not; set the API resource indicator, e.g. https://api.example.com",
            ),
            Some(resource) if is_absolute_uri(&resource) => Some(Some(Self {
                resource,
                required_scopes,
            })),
            Some(resource) => r.fail("LOGTO_API_RESOURCE", not_an_absolute_uri(&resource)),
        }
    }
}
