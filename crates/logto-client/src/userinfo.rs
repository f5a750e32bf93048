//! Userinfo (`/oidc/me`): Logto's extended claims, the linked social identities among them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The connector target of Logto's Hugging Face connector.
pub const HUGGING_FACE: &str = "huggingface";

/// Claims returned by Logto's userinfo endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// Free-form custom data (`custom_data` scope).
    #[serde(default)]
    pub custom_data: Option<Value>,
}

/// One linked social identity, as Logto keeps it.
#[derive(Debug, Clone, Default, Deserialize)]
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
#[derive(Debug, Clone, Default, Deserialize)]
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
