//! What an access token is for.

use serde::{Deserialize, Serialize};

/// Logto's audience prefix for organization tokens.
pub const ORGANIZATION_AUDIENCE_PREFIX: &str = "urn:logto:organization:";

/// What an access token is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Audience {
    /// Logto's userinfo endpoint (an opaque token).
    Userinfo,
    /// An API resource indicator requested at sign-in.
    Resource(String),
    /// A Logto organization, by id: an organization token (audience
    /// `urn:logto:organization:<id>`), whose scopes are the user's organization permissions.
    Organization(String),
    /// An API resource within one organization (Logto 1.16+): a token whose audience is the
    /// resource and whose `organization_id` claim is the organization, with the API permissions
    /// of the user's roles in that organization as scopes. Asked with both `resource` and
    /// `organization_id` on the refresh grant.
    OrganizationResource {
        /// The API resource indicator, requested at sign-in.
        resource: String,
        /// The organization's id.
        organization_id: String,
    },
}

impl Audience {
    /// A short, unique key for caches: `""`, the resource URI, `urn:logto:organization:<id>`,
    /// or `<resource URI>#urn:logto:organization:<id>` for a resource within an organization (a
    /// resource indicator never has a fragment, RFC 8707, so no key is another's).
    pub fn key(&self) -> String {
        match self {
            Audience::Userinfo => String::new(),
            Audience::Resource(resource) => resource.clone(),
            Audience::Organization(id) => format!("{ORGANIZATION_AUDIENCE_PREFIX}{id}"),
            Audience::OrganizationResource {
                resource,
                organization_id,
            } => format!("{resource}#{ORGANIZATION_AUDIENCE_PREFIX}{organization_id}"),
        }
    }

    /// A resource within an organization.
    pub fn organization_resource(resource: impl Into<String>, organization_id: impl Into<String>) -> Self {
        Audience::OrganizationResource {
            resource: resource.into(),
            organization_id: organization_id.into(),
        }
    }

    /// The organization this audience is within, if any.
    pub fn organization_id(&self) -> Option<&str> {
        match self {
            Audience::Organization(id)
            | Audience::OrganizationResource {
                organization_id: id, ..
            } => Some(id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_audience_has_its_own_key() {
        let keys = [
            Audience::Userinfo.key(),
            Audience::Resource("https://api.example.com".into()).key(),
            Audience::Organization("org-a".into()).key(),
            Audience::organization_resource("https://api.example.com", "org-a").key(),
            Audience::organization_resource("https://api.example.com", "org-b").key(),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(keys[3], "https://api.example.com#urn:logto:organization:org-a");
    }
}
