//! Who is signed in: what the session keeps of a user, from verified claims and userinfo, with
//! every field bounded so that the session stays small.

use logto_client::{IdTokenClaims, SignedIn, SocialIdentity, UserInfo};
use serde::{Deserialize, Serialize};

/// Most linked social identities kept in the session.
const MAX_IDENTITIES: usize = 4;

/// Most organization ids kept in the session.
const MAX_ORGANIZATIONS: usize = 20;

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
    /// Ids of the user's organizations (`urn:logto:scope:organizations` scope).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
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

    /// The same user, updated from userinfo read at `now` (sign-in time and Logto session kept).
    pub fn updated_from(&self, userinfo: &UserInfo, now: u64) -> Self {
        let mut user = Self::from_userinfo(userinfo, None);
        user.signed_in_at = self.signed_in_at;
        user.sid = self.sid.clone();
        user.userinfo_at = now;
        user
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
                .organizations
                .iter()
                .filter(|id| id.len() <= 64)
                .take(MAX_ORGANIZATIONS)
                .cloned()
                .collect(),
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
}

fn bounded(value: Option<&String>, max: usize) -> Option<String> {
    value.filter(|v| v.len() <= max).cloned()
}
