//! This app's own JSON API (`LOGTO_API_RESOURCE`, `LOGTO_API_REQUIRED_SCOPES`).

use logto_web::OrganizationPolicy;

use super::reader::{Reader, dedup, is_absolute_uri, not_an_absolute_uri, split_scopes};

/// This app's own JSON API (`/api/…`), protected by Logto access tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSettings {
    /// The API resource indicator its access tokens must be for (`LOGTO_API_RESOURCE`).
    pub resource: String,
    /// Scopes an access token must carry for `/api/me` (`LOGTO_API_REQUIRED_SCOPES`).
    pub required_scopes: Vec<String>,
    /// What `/api/me` does with organization tokens (`LOGTO_API_ORGANIZATIONS`).
    pub organizations: OrganizationPolicy,
}

impl ApiSettings {
    /// Reads the section: `Some(None)` when the API is off (`LOGTO_API_RESOURCE` unset), `None`
    /// when a value is wrong (the reader has the problem).
    pub(super) fn read(r: &mut Reader<'_>) -> Option<Option<Self>> {
        let required_scopes = r
            .get("LOGTO_API_REQUIRED_SCOPES")
            .map(|raw| dedup(split_scopes(&raw)))
            .unwrap_or_default();
        let organizations_set = r.get("LOGTO_API_ORGANIZATIONS").is_some();
        let organizations = match r.get("LOGTO_API_ORGANIZATIONS") {
            None => Some(OrganizationPolicy::Refuse),
            Some(raw) => match OrganizationPolicy::from_name(&raw.to_ascii_lowercase()) {
                Some(policy) => Some(policy),
                None => r.fail(
                    "LOGTO_API_ORGANIZATIONS",
                    format!(
                        "`{}` is not refuse, accept or require; leave it unset for refuse",
                        raw.escape_debug()
                    ),
                ),
            },
        };
        let without_resource =
            "is set but LOGTO_API_RESOURCE is not; set the API resource indicator, e.g. https://api.example.com";
        match r.get("LOGTO_API_RESOURCE") {
            None if required_scopes.is_empty() && !organizations_set => Some(None),
            None => {
                if !required_scopes.is_empty() {
                    r.fail::<()>("LOGTO_API_REQUIRED_SCOPES", without_resource);
                }
                // A wrong value was reported already: one line for it.
                if organizations_set && organizations.is_some() {
                    r.fail::<()>("LOGTO_API_ORGANIZATIONS", without_resource);
                }
                None
            }
            Some(resource) if is_absolute_uri(&resource) => Some(Some(Self {
                resource,
                required_scopes,
                organizations: organizations?,
            })),
            Some(resource) => r.fail("LOGTO_API_RESOURCE", not_an_absolute_uri(&resource)),
        }
    }
}
