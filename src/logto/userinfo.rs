//! Userinfo (`/oidc/me`): Logto's extended claims, the Hugging Face identity among them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Claims returned by Logto's userinfo endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserInfo {
    /// Must equal the ID token's `sub`.
    pub sub: String,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// Logto username (not the Hugging Face one).
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

/// One linked social identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// A Hugging Face account linked through Logto's `huggingface` connector.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct HuggingFaceIdentity {
    /// The Hugging Face username (`preferred_username`), if Hugging Face sent it.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL (https only).
    pub avatar: Option<String>,
    /// Link to the Hugging Face profile page.
    pub profile_url: Option<String>,
}

impl UserInfo {
    /// The linked Hugging Face account. Its username lives only in the connector's raw
    /// data (`identities.huggingface.details.rawData.preferred_username`): Logto does not
    /// map it to its own `username`.
    pub fn huggingface(&self) -> Option<HuggingFaceIdentity> {
        let identity = self.identities.get("huggingface")?;
        let raw = identity.details.raw_data.as_ref();
        let raw_str = |key: &str| raw.and_then(|r| r.get(key)).and_then(Value::as_str).map(str::to_owned);
        let username = raw_str("preferred_username").filter(|u| is_hf_username(u));
        let profile_url = username.as_ref().map(|u| format!("https://huggingface.co/{u}"));
        Some(HuggingFaceIdentity {
            name: identity.details.name.clone().or_else(|| raw_str("name")),
            avatar: identity
                .details
                .avatar
                .clone()
                .or_else(|| raw_str("picture"))
                .filter(|a| is_https_url(a)),
            username,
            profile_url,
        })
    }
}

/// Hugging Face usernames are letters, digits, `-`, `_` and `.`; anything else is not
/// put into a link.
fn is_hf_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 96
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Only https images are shown, so no `javascript:` or `data:` URL reaches a page.
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
        let hf = info.huggingface().unwrap();
        assert_eq!(hf.username.as_deref(), Some("ada-hf"));
        assert_eq!(hf.profile_url.as_deref(), Some("https://huggingface.co/ada-hf"));
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
        let hf = info.huggingface().unwrap();
        assert_eq!(hf.username, None);
        assert_eq!(hf.avatar, None);
    }
}
