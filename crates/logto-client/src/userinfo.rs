//! Userinfo (`/oidc/me`): its claims, Logto's extended ones among them (the linked social
//! identities); the client reads it with [`LogtoClient::fetch_userinfo`](crate::LogtoClient::fetch_userinfo).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The connector target of Logto's Hugging Face connector.
pub const HUGGING_FACE: &str = "huggingface";

/// Claims returned by Logto's userinfo endpoint. It serializes back to the same JSON, so a
/// session can keep it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserInfo {
    /// Must equal the ID token's `sub`.
    pub sub: String,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// Logto username (not a social provider's one).
    #[serde(default)]
    pub username: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether Logto verified the email.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Social identities by connector target (`identities` scope).
    #[serde(default)]
    pub identities: BTreeMap<String, Identity>,
    /// Role names (`roles` scope).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Organization ids (`urn:logto:scope:organizations` scope).
    #[serde(default)]
    pub organizations: Vec<String>,
    /// The user's organizations with their names (`urn:logto:scope:organizations` scope, Logto
    /// 1.12+). See [`UserInfo::organization_memberships`] for them with the user's roles.
    #[serde(default)]
    pub organization_data: Vec<OrganizationData>,
    /// The user's organization roles as sent, `"<organization id>:<role name>"`
    /// (`urn:logto:scope:organization_roles` scope); parsed by [`UserInfo::organization_roles`].
    #[serde(default, rename = "organization_roles")]
    pub organization_role_claims: Vec<String>,
    /// Free-form custom data (`custom_data` scope).
    #[serde(default)]
    pub custom_data: Option<Value>,
}

/// One organization as userinfo's `organization_data` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationData {
    /// The organization's id.
    pub id: String,
    /// Its name, as set in Logto's console.
    #[serde(default)]
    pub name: Option<String>,
    /// Its description, if any.
    #[serde(default)]
    pub description: Option<String>,
}

/// One role of the user in one organization, from an `organization_roles` entry
/// `"<organization id>:<role name>"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrganizationRole {
    /// The organization's id.
    pub organization_id: String,
    /// The role's name, e.g. `admin`.
    pub role: String,
}

impl OrganizationRole {
    /// Parses `"<organization id>:<role name>"`, split at the first `:` (organization ids have
    /// none; a role name may). `None` when either part is empty or there is no `:`.
    pub fn parse(entry: &str) -> Option<Self> {
        let (organization_id, role) = entry.split_once(':')?;
        (!organization_id.is_empty() && !role.is_empty()).then(|| OrganizationRole {
            organization_id: organization_id.to_owned(),
            role: role.to_owned(),
        })
    }
}

/// Parses role entries, leaving out malformed ones.
pub(crate) fn parse_roles(entries: &[String]) -> Vec<OrganizationRole> {
    entries
        .iter()
        .filter_map(|entry| OrganizationRole::parse(entry))
        .collect()
}

/// One of the user's organizations: its id, its name when Logto sent one, and the user's roles
/// in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationMembership {
    /// The organization's id.
    pub id: String,
    /// Its name (`None` without `organization_data`: show the id then).
    pub name: Option<String>,
    /// Its description, if any.
    pub description: Option<String>,
    /// The user's role names in it, in Logto's order.
    pub roles: Vec<String>,
}

impl OrganizationMembership {
    /// The name, or the id when there is no name.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().filter(|name| !name.is_empty()).unwrap_or(&self.id)
    }
}

/// One linked social identity, as Logto keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Identity {
    /// The user's id at the social provider.
    #[serde(default)]
    pub user_id: Option<String>,
    /// What the connector mapped from the social profile.
    #[serde(default)]
    pub details: IdentityDetails,
}

/// The connector's view of the social profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IdentityDetails {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The social provider's own userinfo, as received.
    #[serde(default)]
    pub raw_data: Option<Value>,
}

/// A social account linked through one of Logto's connectors, read safely: the username only if
/// it looks like one, the avatar only over https.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialIdentity {
    /// The connector target, e.g. `huggingface`.
    pub target: String,
    /// The username at the provider (`preferred_username`, or `login`/`username`), if sent.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL (https only).
    pub avatar: Option<String>,
}

impl UserInfo {
    /// The account linked through the connector `target`, if any. Its username lives only in
    /// the connector's raw data (for Hugging Face,
    /// `identities.huggingface.details.rawData.preferred_username`): Logto does not map it to
    /// its own `username`.
    pub fn social_identity(&self, target: &str) -> Option<SocialIdentity> {
        let identity = self.identities.get(target)?;
        let raw = identity.details.raw_data.as_ref();
        let raw_str = |key: &str| raw.and_then(|r| r.get(key)).and_then(Value::as_str).map(str::to_owned);
        let username = ["preferred_username", "login", "username"]
            .into_iter()
            .find_map(raw_str)
            .filter(|u| is_plain_username(u));
        Some(SocialIdentity {
            target: target.to_owned(),
            username,
            name: identity.details.name.clone().or_else(|| raw_str("name")),
            avatar: identity
                .details
                .avatar
                .clone()
                .or_else(|| raw_str("picture"))
                .filter(|a| is_https_url(a)),
        })
    }

    /// The linked Hugging Face account, if any.
    pub fn hugging_face(&self) -> Option<SocialIdentity> {
        self.social_identity(HUGGING_FACE)
    }

    /// The user's organization roles, parsed; malformed entries are left out.
    pub fn organization_roles(&self) -> Vec<OrganizationRole> {
        parse_roles(&self.organization_role_claims)
    }

    /// Whether the user is a member of the organization `id` (by `organizations`, or
    /// `organization_data` when only that was sent).
    pub fn is_member_of(&self, id: &str) -> bool {
        self.organizations.iter().any(|org| org == id) || self.organization_data.iter().any(|org| org.id == id)
    }

    /// The user's organizations, each with its name (from `organization_data`) and the user's
    /// roles in it (from `organization_roles`), in the order of `organizations` then of
    /// `organization_data`, each once. An organization without data has no name: show its id.
    pub fn organization_memberships(&self) -> Vec<OrganizationMembership> {
        let mut ids: Vec<&str> = Vec::new();
        for id in self
            .organizations
            .iter()
            .map(String::as_str)
            .chain(self.organization_data.iter().map(|org| org.id.as_str()))
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let roles = self.organization_roles();
        ids.into_iter()
            .map(|id| {
                let data = self.organization_data.iter().find(|org| org.id == id);
                OrganizationMembership {
                    id: id.to_owned(),
                    name: data.and_then(|org| org.name.clone()),
                    description: data.and_then(|org| org.description.clone()),
                    roles: roles
                        .iter()
                        .filter(|role| role.organization_id == id)
                        .map(|role| role.role.clone())
                        .collect(),
                }
            })
            .collect()
    }
}

/// Usernames of letters, digits, `-`, `_` and `.` only: anything else is not put into a link.
fn is_plain_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 96
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether `url` is an https URL: only those are shown as images, so no `javascript:` or
/// `data:` URL reaches a page.
pub fn is_https_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.scheme() == "https")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_hugging_face_username_from_raw_data() {
        let info: UserInfo = serde_json::from_value(serde_json::json!({
            "sub": "u1", "username": null,
            "identities": {"huggingface": {"userId": "hf-1", "details": {
                "id": "hf-1", "name": "Ada", "avatar": "https://cdn.example/a.png",
                "rawData": {"preferred_username": "ada-hf"}}}}
        }))
        .unwrap();
        let hf = info.hugging_face().unwrap();
        assert_eq!(hf.username.as_deref(), Some("ada-hf"));
        assert_eq!(hf.avatar.as_deref(), Some("https://cdn.example/a.png"));
        assert_eq!(info.username, None);
    }

    #[test]
    fn odd_usernames_and_avatars_are_dropped() {
        let info: UserInfo = serde_json::from_value(serde_json::json!({
            "sub": "u1",
            "identities": {"huggingface": {"details": {"avatar": "javascript:alert(1)",
                "rawData": {"preferred_username": "../evil"}}}}
        }))
        .unwrap();
        let hf = info.hugging_face().unwrap();
        assert_eq!(hf.username, None);
        assert_eq!(hf.avatar, None);
    }

    #[test]
    fn organizations_are_read_with_their_names_and_the_users_roles() {
        let info: UserInfo = serde_json::from_value(serde_json::json!({
            "sub": "u1",
            "organizations": ["org-a", "org-b"],
            "organization_data": [
                {"id": "org-a", "name": "Acme", "description": "Rockets"},
                {"id": "org-c", "name": "Only in data", "description": null}
            ],
            "organization_roles": ["org-a:admin", "org-a:member", "org-b:viewer", "broken", ":x", "org-b:a:b"]
        }))
        .unwrap();
        let memberships = info.organization_memberships();
        assert_eq!(
            memberships,
            vec![
                OrganizationMembership {
                    id: "org-a".into(),
                    name: Some("Acme".into()),
                    description: Some("Rockets".into()),
                    roles: vec!["admin".into(), "member".into()],
                },
                OrganizationMembership {
                    id: "org-b".into(),
                    name: None,
                    description: None,
                    roles: vec!["viewer".into(), "a:b".into()],
                },
                OrganizationMembership {
                    id: "org-c".into(),
                    name: Some("Only in data".into()),
                    description: None,
                    roles: vec![],
                },
            ]
        );
        assert_eq!(memberships[1].display_name(), "org-b");
        assert!(info.is_member_of("org-c") && !info.is_member_of("org-d"));
        assert_eq!(info.organization_roles().len(), 4);
    }

    #[test]
    fn other_connectors_are_read_the_same_way() {
        let info: UserInfo = serde_json::from_value(serde_json::json!({
            "sub": "u1",
            "identities": {"github": {"details": {"rawData": {"login": "octo"}}}}
        }))
        .unwrap();
        assert_eq!(
            info.social_identity("github").unwrap().username.as_deref(),
            Some("octo")
        );
        assert!(info.hugging_face().is_none());
    }
}
