//! Starting a sign-in: what to ask Logto for, and what to keep until the callback answers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::callback::CallbackParams;
use crate::error::CallbackError;
use crate::secret::{Nonce, PkceVerifier, State};

/// How long a started sign-in may take before its callback is refused.
pub const PENDING_SIGN_IN_TTL: Duration = Duration::from_secs(10 * 60);

/// Which screen Logto opens with (`first_screen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstScreen {
    /// The sign-in form (Logto's default).
    SignIn,
    /// The registration form.
    Register,
    /// Password reset.
    ResetPassword,
    /// The sign-in form, asking only for the identifier first.
    IdentifierSignIn,
    /// The registration form, asking only for the identifier first.
    IdentifierRegister,
    /// Enterprise single sign-on.
    SingleSignOn,
}

impl FirstScreen {
    /// The value Logto expects.
    pub fn as_str(self) -> &'static str {
        match self {
            FirstScreen::SignIn => "sign_in",
            FirstScreen::Register => "register",
            FirstScreen::ResetPassword => "reset_password",
            FirstScreen::IdentifierSignIn => "identifier:sign_in",
            FirstScreen::IdentifierRegister => "identifier:register",
            FirstScreen::SingleSignOn => "single_sign_on",
        }
    }
}

/// Skip Logto's page and go straight to one way in (`direct_sign_in`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectSignIn(String);

impl DirectSignIn {
    /// A social connector by its target, e.g. `huggingface`, `github`, `google`. `None` for a
    /// target Logto would refuse: one invalid Logto parameter makes it ignore all of them.
    pub fn social(target: &str) -> Option<Self> {
        valid_target(target).then(|| Self(format!("social:{target}")))
    }

    /// An enterprise SSO connector by its id.
    pub fn sso(connector_id: &str) -> Option<Self> {
        valid_target(connector_id).then(|| Self(format!("sso:{connector_id}")))
    }

    /// Logto's Hugging Face connector.
    pub fn hugging_face() -> Self {
        Self("social:huggingface".to_owned())
    }

    /// The parameter's value, e.g. `social:huggingface`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_target(target: &str) -> bool {
    !target.is_empty()
        && target.len() <= 128
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What one sign-in asks Logto for, beyond the client's configured scopes and resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInOptions {
    /// The screen Logto opens with.
    pub first_screen: Option<FirstScreen>,
    /// Skip Logto's page for this way in.
    pub direct_sign_in: Option<DirectSignIn>,
    /// Languages for Logto's pages, space-separated BCP 47 tags (e.g. `es`).
    pub ui_locales: Option<String>,
    /// An identifier to pre-fill (`login_hint`).
    pub login_hint: Option<String>,
}

impl SignInOptions {
    /// Logto's sign-in form.
    pub fn sign_in() -> Self {
        Self::default()
    }

    /// Logto's registration form.
    pub fn register() -> Self {
        Self {
            first_screen: Some(FirstScreen::Register),
            ..Self::default()
        }
    }

    /// Straight to one way in.
    pub fn direct(target: DirectSignIn) -> Self {
        Self {
            direct_sign_in: Some(target),
            ..Self::default()
        }
    }

    /// The same options, with Logto's pages in `ui_locales`.
    pub fn with_ui_locales(mut self, ui_locales: impl Into<String>) -> Self {
        self.ui_locales = Some(ui_locales.into());
        self
    }
}

/// A sign-in this client started, kept (server-side or in an encrypted cookie) until its
/// callback arrives. It holds the PKCE verifier and nonce: it must never reach the browser in
/// clear.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    #[serde(rename = "s")]
    pub(crate) state: State,
    #[serde(rename = "v")]
    pub(crate) pkce_verifier: PkceVerifier,
    #[serde(rename = "n")]
    pub(crate) nonce: Nonce,
    #[serde(rename = "t")]
    pub(crate) started_at: u64,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub(crate) return_to: Option<String>,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub(crate) way_in: Option<String>,
}

impl PendingSignIn {
    /// When it started, seconds since the epoch.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// Where the app wants to go once this sign-in finishes (the client does not read it).
    pub fn return_to(&self) -> Option<&str> {
        self.return_to.as_deref()
    }

    /// Remembers where to go once this sign-in finishes.
    pub fn set_return_to(&mut self, return_to: impl Into<String>) {
        self.return_to = Some(return_to.into());
    }

    /// Which way in the app started this sign-in by (e.g. its route), kept until the callback
    /// for the app's counters; the client does not read it.
    pub fn way_in(&self) -> Option<&str> {
        self.way_in.as_deref()
    }

    /// Remembers which way in this sign-in started by.
    pub fn set_way_in(&mut self, way_in: impl Into<String>) {
        self.way_in = Some(way_in.into());
    }
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// The sign-ins one browser started and has not finished: several tabs may each start one.
/// Only the newest [`PendingSignIns::MAX`] are kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PendingSignIns(Vec<PendingSignIn>);

impl PendingSignIns {
    /// Most sign-ins kept at once; the oldest is forgotten beyond this.
    pub const MAX: usize = 3;

    /// Adds a started sign-in.
    pub fn push(&mut self, pending: PendingSignIn) {
        self.0.push(pending);
        let excess = self.0.len().saturating_sub(Self::MAX);
        self.0.drain(..excess);
    }

    /// Takes out the sign-in a callback answers, by its `state` (compared in constant time), so
    /// that the callback works once. Done before anything else: whatever happens next, the
    /// callback cannot be replayed.
    pub fn take(&mut self, params: &CallbackParams) -> Result<PendingSignIn, CallbackError> {
        let state = params.state.as_deref().ok_or(CallbackError::MissingState)?;
        let index = self
            .0
            .iter()
            .position(|p| p.state.matches(state))
            .ok_or(CallbackError::UnknownState)?;
        Ok(self.0.remove(index))
    }

    /// Whether no sign-in is waiting.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many sign-ins are waiting.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// An authorization request: where to send the browser, and what to keep until the callback.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// Logto's authorization URL with every parameter.
    pub url: url::Url,
    /// What the callback will be checked against.
    pub pending: PendingSignIn,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(state: &str) -> PendingSignIn {
        PendingSignIn {
            state: State::new(state),
            pkce_verifier: PkceVerifier::new("v"),
            nonce: Nonce::new("n"),
            started_at: 0,
            return_to: None,
            way_in: None,
        }
    }

    fn callback(state: Option<&str>) -> CallbackParams {
        CallbackParams {
            state: state.map(str::to_owned),
            ..CallbackParams::default()
        }
    }

    #[test]
    fn a_callback_takes_its_own_sign_in_once() {
        let mut all = PendingSignIns::default();
        all.push(pending("a"));
        all.push(pending("b"));
        assert_eq!(all.take(&callback(Some("b"))).unwrap().state.secret(), "b");
        assert_eq!(all.take(&callback(Some("b"))).unwrap_err(), CallbackError::UnknownState);
        assert_eq!(all.take(&callback(None)).unwrap_err(), CallbackError::MissingState);
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn only_the_newest_three_sign_ins_are_kept() {
        let mut all = PendingSignIns::default();
        for state in ["1", "2", "3", "4"] {
            all.push(pending(state));
        }
        assert_eq!(all.len(), PendingSignIns::MAX);
        assert_eq!(all.take(&callback(Some("1"))).unwrap_err(), CallbackError::UnknownState);
        assert!(all.take(&callback(Some("4"))).is_ok());
    }

    #[test]
    fn direct_sign_in_targets_are_checked() {
        assert_eq!(DirectSignIn::social("huggingface"), Some(DirectSignIn::hugging_face()));
        assert_eq!(DirectSignIn::sso("abc_1-2").unwrap().as_str(), "sso:abc_1-2");
        for bad in ["", "a b", "x&first_screen=register", "é"] {
            assert_eq!(DirectSignIn::social(bad), None, "{bad:?}");
        }
    }
}
