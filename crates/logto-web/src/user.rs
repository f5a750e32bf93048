//! Who is signed in: what the session keeps of a user, from verified claims and userinfo, with
//! every field bounded so that the session stays small.

use logto_client::{IdTokenClaims, SignedIn, SocialIdentity, UserInfo};
use serde::{Deserialize, Serialize};

/// Most linked social identities kept in the session.
const MAX_IDENTITIES: usize = 4;

/// Most organizations kept in the session.
const MAX_ORGANIZATIONS: usize = 20;

/// Longest organization name kept, in characters; a longer one is cut.
const MAX_ORGANIZATION_NAME_CHARS: usize = 128;

/// Most roles kept per organization.
const MAX_ORGANIZATION_ROLES: usize = 10;

/// Longest organization id or role name kept, in bytes; a longer one is left out.
const MAX_ORGANIZATION_ID_BYTES: usize = 64;

/// One of the user's organizations, as the session keeps it: its id, its name (when userinfo
/// gave one, scope `urn:logto:scope:organizations`) and the user's roles in it (scope
/// `urn:logto:scope:organization_roles`). Short field names: it travels in the cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOrganization {
    /// The organization's id.
    #[serde(rename = "i")]
    pub id: String,
    /// Its name, at most 128 characters; `None` when Logto sent no `organization_data`.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's roles in it, at most 10.
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl SessionOrganization {
    /// The name to show: its name, else its id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Reads organizations as sessions of every version kept them: full entries, or bare ids.
fn organizations_of_any_version<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SessionOrganization>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Id(String),
        Full(SessionOrganization),
    }
    let stored = Vec::<Stored>::deserialize(deserializer)?;
    Ok(stored
        .into_iter()
        .map(|entry| match entry {
            Stored::Id(id) => SessionOrganization {
                id,
                name: None,
                roles: Vec::new(),
            },
            Stored::Full(organization) => organization,
        })
        .collect())
}

/// The signed-in user, as the session keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Logto user id.
    pub sub: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Avatar URL (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Logto username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Role names (`roles` scope).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Linked social accounts (`identities` scope), e.g. Hugging Face.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<SocialIdentity>,
    /// The user's organizations (`urn:logto:scope:organizations` scope), with names and the
    /// user's roles (`urn:logto:scope:organization_roles`) when userinfo has them.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "organizations_of_any_version"
    )]
    pub organizations: Vec<SessionOrganization>,
    /// The organization the user chose to act in (one of `organizations`), if any.
    #[serde(rename = "active_org", default, skip_serializing_if = "Option::is_none")]
    pub active_organization: Option<String>,
    /// When this was last read from userinfo, seconds since the epoch.
    #[serde(default)]
    pub userinfo_at: u64,
    /// When the user signed in, seconds since the epoch.
    pub signed_in_at: u64,
    /// Logto's session id, when Logto sends one (back-channel logout by session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl SessionUser {
    /// What the session keeps of a user who just signed in.
    pub fn from_sign_in(signed_in: &SignedIn, now: u64) -> Self {
        let mut user = Self::from_userinfo(&signed_in.userinfo, Some(&signed_in.id_token));
        user.signed_in_at = now;
        user.userinfo_at = now;
        user.sid = bounded(signed_in.id_token.sid.as_ref(), 128);
        user
    }

    /// The same user, updated from userinfo read at `now` (sign-in time and Logto session kept;
    /// the active organization too, while the user is still a member of it).
    pub fn updated_from(&self, userinfo: &UserInfo, now: u64) -> Self {
        let mut user = Self::from_userinfo(userinfo, None);
        user.signed_in_at = self.signed_in_at;
        user.sid = self.sid.clone();
        user.userinfo_at = now;
        user.active_organization = self
            .active_organization
            .clone()
            .filter(|id| user.organization(id).is_some());
        user
    }

    /// The organization `id`, if the user is a member of it.
    pub fn organization(&self, id: &str) -> Option<&SessionOrganization> {
        self.organizations.iter().find(|org| org.id == id)
    }

    /// The active organization, if one is chosen.
    pub fn active_organization(&self) -> Option<&SessionOrganization> {
        self.active_organization.as_deref().and_then(|id| self.organization(id))
    }

    /// The same user without the organization `id` (and without it as the active one): Logto
    /// refused its tokens, so the user is no longer a member.
    pub fn without_organization(mut self, id: &str) -> Self {
        self.organizations.retain(|org| org.id != id);
        if self.active_organization.as_deref() == Some(id) {
            self.active_organization = None;
        }
        self
    }

    /// The ids of the organizations whose membership differs in `other` (left, joined, or
    /// other roles): their cached tokens no longer say what Logto would.
    pub fn organizations_changed_in(&self, other: &SessionUser) -> Vec<String> {
        let mut changed: Vec<String> = Vec::new();
        for org in &self.organizations {
            if other.organization(&org.id).is_none_or(|now| now.roles != org.roles) {
                changed.push(org.id.clone());
            }
        }
        for org in &other.organizations {
            if self.organization(&org.id).is_none() {
                changed.push(org.id.clone());
            }
        }
        changed
    }

    /// Whether `other` says the same about the user, whenever each was read from userinfo.
    pub fn same_apart_from_read_time(&self, other: &SessionUser) -> bool {
        let mut other = other.clone();
        other.userinfo_at = self.userinfo_at;
        *self == other
    }

    /// The account linked through the connector `target` (e.g. `huggingface`), if any.
    pub fn identity(&self, target: &str) -> Option<&SocialIdentity> {
        self.identities.iter().find(|i| i.target == target)
    }

    /// The name to greet the user by: name, else username, else email, else the user id.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.username.as_deref())
            .or(self.email.as_deref())
            .unwrap_or(&self.sub)
    }

    /// From userinfo, and the ID token where userinfo is silent.
    fn from_userinfo(info: &UserInfo, claims: Option<&IdTokenClaims>) -> Self {
        let from_claims = |pick: fn(&IdTokenClaims) -> Option<&String>| claims.and_then(pick);
        let picture = info
            .picture
            .as_ref()
            .or(from_claims(|c| c.picture.as_ref()))
            .filter(|p| logto_client::util::is_https_url(p));
        SessionUser {
            sub: info.sub.clone(),
            name: bounded(info.name.as_ref().or(from_claims(|c| c.name.as_ref())), 200),
            email: bounded(info.email.as_ref().or(from_claims(|c| c.email.as_ref())), 254),
            picture: bounded(picture, 1024),
            username: bounded(info.username.as_ref().or(from_claims(|c| c.username.as_ref())), 128),
            roles: info.roles.iter().take(20).filter(|r| r.len() <= 64).cloned().collect(),
            identities: info
                .identities
                .keys()
                .take(MAX_IDENTITIES)
                .filter(|target| target.len() <= 64)
                .filter_map(|target| info.social_identity(target))
                .map(|mut identity| {
                    identity.name = bounded(identity.name.as_ref(), 200);
                    identity.avatar = bounded(identity.avatar.as_ref(), 1024);
                    identity
                })
                .collect(),
            organizations: info
                .organization_memberships()
                .into_iter()
                .filter(|org| org.id.len() <= MAX_ORGANIZATION_ID_BYTES)
                .take(MAX_ORGANIZATIONS)
                .map(|org| SessionOrganization {
                    name: org.name.map(|name| cut_chars(&name, MAX_ORGANIZATION_NAME_CHARS)),
                    roles: org
                        .roles
                        .into_iter()
                        .filter(|role| role.len() <= MAX_ORGANIZATION_ID_BYTES)
                        .take(MAX_ORGANIZATION_ROLES)
                        .collect(),
                    id: org.id,
                })
                .collect(),
            active_organization: None,
            userinfo_at: 0,
            signed_in_at: 0,
            sid: None,
        }
    }

    /// Drops the pictures, which can be fetched again: the first thing to go when the session
    /// must shrink.
    pub(crate) fn without_pictures(mut self) -> Self {
        self.picture = None;
        for identity in &mut self.identities {
            identity.avatar = None;
        }
        self
    }

    /// Keeps the organizations' ids only (names and roles are read again with userinfo): what
    /// goes when pictures were not enough to shrink the session.
    pub(crate) fn with_organization_ids_only(mut self) -> Self {
        for org in &mut self.organizations {
            org.name = None;
            org.roles.clear();
        }
        self
    }
}

/// At most `max` characters of `value`, cut on a character boundary.
fn cut_chars(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((end, _)) => value[..end].to_owned(),
        None => value.to_owned(),
    }
}

fn bounded(value: Option<&String>, max: usize) -> Option<String> {
    value.filter(|v| v.len() <= max).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn userinfo(value: serde_json::Value) -> UserInfo {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn organizations_keep_names_and_roles_within_bounds() {
        let many: Vec<String> = (0..30).map(|n| format!("org-{n}")).collect();
        let roles: Vec<String> = (0..15).map(|n| format!("org-0:role-{n}")).collect();
        let info = userinfo(json!({
            "sub": "u",
            "organizations": many,
            "organization_data": [{ "id": "org-0", "name": "ñ".repeat(200) }, { "id": "org-1", "name": "Beta" }],
            "organization_roles": roles,
        }));
        let user = SessionUser::from_userinfo(&info, None);
        assert_eq!(user.organizations.len(), MAX_ORGANIZATIONS);
        let first = &user.organizations[0];
        assert_eq!(
            first.name.as_ref().unwrap().chars().count(),
            MAX_ORGANIZATION_NAME_CHARS
        );
        assert_eq!(first.roles.len(), MAX_ORGANIZATION_ROLES);
        assert_eq!(user.organizations[1].display_name(), "Beta");
        assert_eq!(
            user.organizations[2].display_name(),
            "org-2",
            "the id when no name was sent"
        );
    }

    #[test]
    fn an_active_organization_the_user_left_is_cleared_on_update() {
        let before = userinfo(json!({ "sub": "u", "organizations": ["a", "b"] }));
        let mut user = SessionUser::from_userinfo(&before, None);
        user.active_organization = Some("b".into());
        let kept = user.updated_from(&before, 10);
        assert_eq!(kept.active_organization().map(|o| o.id.as_str()), Some("b"));
        let after = userinfo(json!({ "sub": "u", "organizations": ["a"], "organization_roles": ["a:admin"] }));
        let updated = user.updated_from(&after, 20);
        assert_eq!(updated.active_organization, None);
        assert_eq!(
            user.organizations_changed_in(&updated),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }

    #[test]
    fn sessions_that_kept_bare_organization_ids_still_read() {
        let user: SessionUser = serde_json::from_value(
            json!({ "sub": "u", "signed_in_at": 1, "organizations": ["a", {"i": "b", "n": "B"}] }),
        )
        .unwrap();
        assert_eq!(user.organizations[0].id, "a");
        assert_eq!(user.organizations[1].display_name(), "B");
    }
}
