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
    /// A Logto organization, by id.
    Organization(String),
}

impl Audience {
    /// A short, unique key for caches: `""`, the resource URI, or `urn:logto:organization:<id>`.
    pub fn key(&self) -> String {
        match self {
            Audience::Userinfo => String::new(),
            Audience::Resource(resource) => resource.clone(),
            Audience::Organization(id) => format!("{ORGANIZATION_AUDIENCE_PREFIX}{id}"),
        }
    }
}
