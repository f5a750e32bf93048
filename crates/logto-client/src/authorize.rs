//! Starting a sign-in: what to ask Logto for, and what to keep until the callback answers.

use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use serde::{Deserialize, Serialize};

use crate::client::LogtoClient;
use crate::config::Prompt;
use crate::error::{LogtoError, SignInOptionError};
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

/// A kind of identifier Logto's sign-in form may ask for (`identifier`, Logto 1.20+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A username.
    Username,
}

impl Identifier {
    /// The value Logto expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Identifier::Email => "email",
            Identifier::Phone => "phone",
            Identifier::Username => "username",
        }
    }
}

/// Authorization parameters the client sets itself, or through a typed option of
/// [`SignInOptions`] (whose values are checked): [`SignInOptions::with_extra_param`] refuses them.
pub const RESERVED_PARAMETERS: [&str; 18] = [
    // The protocol's own.
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "redirect_uri",
    "client_id",
    "response_type",
    "scope",
    "resource",
    // Typed options: one invalid Logto value makes Logto ignore all of them.
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "first_screen",
    "interaction_mode",
    "identifier",
    "direct_sign_in",
    "organization_id",
];

/// What one sign-in asks Logto for, beyond the client's configured scopes and resources. Built
/// with its `with_*` methods; checked by [`SignInOptions::check`] (and by
/// [`crate::LogtoClient::sign_in`]), so that only values Logto accepts are sent: one invalid Logto
/// parameter makes Logto ignore all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInOptions {
    /// The screen Logto opens with.
    pub first_screen: Option<FirstScreen>,
    /// Skip Logto's page for this way in.
    pub direct_sign_in: Option<DirectSignIn>,
    /// Languages for Logto's pages, space-separated BCP 47 tags (e.g. `es`).
    pub ui_locales: Option<String>,
    /// An identifier to pre-fill (`login_hint`), e.g. an email address.
    pub login_hint: Option<String>,
    /// The identifiers Logto's form asks for (`identifier`, Logto 1.20+); empty: the tenant's.
    pub identifiers: Vec<Identifier>,
    /// The `prompt` of this sign-in, replacing the configured one; empty: the configured one.
    /// Without [`Prompt::Consent`] Logto issues no refresh token.
    pub prompt: Vec<Prompt>,
    /// Most seconds since the user last authenticated at Logto (`max_age`): older, Logto asks
    /// again, and the ID token's `auth_time` is checked at the callback.
    pub max_age: Option<u64>,
    /// The organization to sign in to (`organization_id`, Logto 1.19+).
    pub organization_id: Option<String>,
    /// Further parameters, sent as given (never one of [`RESERVED_PARAMETERS`]).
    pub extra_params: Vec<(String, String)>,
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

    /// The same options, opening Logto on `screen`.
    pub fn with_first_screen(mut self, screen: FirstScreen) -> Self {
        self.first_screen = Some(screen);
        self
    }

    /// The same options, going straight to `target`.
    pub fn with_direct_sign_in(mut self, target: DirectSignIn) -> Self {
        self.direct_sign_in = Some(target);
        self
    }

    /// The same options, pre-filling `hint` (an email address, phone number or username).
    pub fn with_login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// The same options, with Logto's form asking for these identifiers (each sent once).
    pub fn with_identifiers(mut self, identifiers: impl IntoIterator<Item = Identifier>) -> Self {
        for identifier in identifiers {
            if !self.identifiers.contains(&identifier) {
                self.identifiers.push(identifier);
            }
        }
        self
    }

    /// The same options, adding `prompt` to this sign-in's prompts (which replace the
    /// configured one). E.g. [`Prompt::Login`] and [`Prompt::Consent`] to make the user sign in
    /// again and still get a refresh token.
    pub fn with_prompt(mut self, prompt: Prompt) -> Self {
        if !self.prompt.contains(&prompt) {
            self.prompt.push(prompt);
        }
        self
    }

    /// The same options, asking that the user authenticated at most `max_age` ago (whole
    /// seconds); the callback refuses an ID token whose `auth_time` is older, or missing.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// The same options, signing in to the organization `id`.
    pub fn with_organization_id(mut self, id: impl Into<String>) -> Self {
        self.organization_id = Some(id.into());
        self
    }

    /// The same options, with one more authorization parameter. [`SignInOptions::check`]
    /// refuses the protocol's own and those a typed option covers ([`RESERVED_PARAMETERS`]).
    pub fn with_extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// Checks every value before anything is sent: the free-form ones (`login_hint`,
    /// `ui_locales`, the organization id, extra parameters) must be fit to send, and an extra
    /// parameter must not be reserved or repeated.
    pub fn check(&self) -> Result<(), SignInOptionError> {
        let fit = |name: &str, value: &str| {
            if value.is_empty() || value.len() > 2048 || value.chars().any(char::is_control) {
                Err(SignInOptionError::InvalidValue(name.to_owned()))
            } else {
                Ok(())
            }
        };
        // Empty ones are simply not sent, as before they were checked.
        if let Some(hint) = self.login_hint.as_deref().filter(|h| !h.is_empty()) {
            fit("login_hint", hint)?;
        }
        if let Some(locales) = self.ui_locales.as_deref().filter(|l| !l.is_empty()) {
            fit("ui_locales", locales)?;
        }
        if let Some(id) = &self.organization_id
            && !valid_target(id)
        {
            return Err(SignInOptionError::InvalidOrganizationId);
        }
        for (i, (name, value)) in self.extra_params.iter().enumerate() {
            let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
            if name.is_empty() || name.len() > 64 || !name.bytes().all(plain) {
                return Err(SignInOptionError::InvalidParameterName(name.clone()));
            }
            if RESERVED_PARAMETERS.contains(&name.as_str()) {
                return Err(SignInOptionError::ReservedParameter(name.clone()));
            }
            if self.extra_params[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(SignInOptionError::RepeatedParameter(name.clone()));
            }
            fit(name, value)?;
        }
        Ok(())
    }

    /// The authorization parameters of these options, checked, in a fixed order (extra ones
    /// last). The prompt is left to the client, which knows the configured one.
    pub(crate) fn parameters(&self) -> Result<Vec<(&'static str, String)>, SignInOptionError> {
        self.check()?;
        let mut params: Vec<(&'static str, String)> = Vec::new();
        if let Some(screen) = self.first_screen {
            params.push(("first_screen", screen.as_str().to_owned()));
        }
        if let Some(target) = &self.direct_sign_in {
            params.push(("direct_sign_in", target.as_str().to_owned()));
        }
        if !self.identifiers.is_empty() {
            let names: Vec<&str> = self.identifiers.iter().map(|i| i.as_str()).collect();
            params.push(("identifier", names.join(" ")));
        }
        if let Some(id) = &self.organization_id {
            params.push(("organization_id", id.clone()));
        }
        if let Some(locales) = self.ui_locales.as_deref().filter(|l| !l.is_empty()) {
            params.push(("ui_locales", locales.to_owned()));
        }
        if let Some(hint) = self.login_hint.as_deref().filter(|h| !h.is_empty()) {
            params.push(("login_hint", hint.to_owned()));
        }
        if let Some(max_age) = self.max_age {
            params.push(("max_age", max_age.to_string()));
        }
        Ok(params)
    }

    /// The extra parameters, once [`SignInOptions::check`] passed.
    pub(crate) fn extra(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra_params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
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
    /// The `max_age` asked for, which the ID token's `auth_time` must honour.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_age: Option<u64>,
}

impl PendingSignIn {
    /// When it started, seconds since the epoch.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// The `max_age` this sign-in asked for, in seconds.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
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

/// An authorization request: where to send the browser, and what to keep until the callback.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// Logto's authorization URL with every parameter.
    pub url: url::Url,
    /// What the callback will be checked against.
    pub pending: PendingSignIn,
}

impl LogtoClient {
    /// Starts a sign-in: PKCE (S256), a random `state` and `nonce`, the configured `prompt` (or
    /// this sign-in's), every scope and resource, and the options of this sign-in, checked first
    /// ([`SignInOptions::check`]: an unfit one is [`LogtoError::InvalidSignInOptions`], and
    /// nothing is sent). Send the browser to the URL; keep the pending sign-in (never in clear in
    /// the browser) until the callback.
    pub async fn sign_in(&self, options: &SignInOptions) -> Result<AuthorizationRequest, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(pkce_challenge)
            .add_scopes(self.config.all_scopes().into_iter().map(Scope::new))
            .add_extra_param("nonce", nonce.secret().clone());
        let prompt = if options.prompt.is_empty() {
            self.config.prompt.map(|prompt| prompt.as_str().to_owned())
        } else {
            Some(options.prompt.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" "))
        };
        if let Some(prompt) = prompt {
            request = request.add_extra_param("prompt", prompt);
        }
        for resource in self.config.sign_in_resources() {
            request = request.add_extra_param("resource", resource);
        }
        // Only valid values are sent (the types and `parameters` see to it): one invalid Logto
        // parameter makes Logto ignore them all.
        for (name, value) in options.parameters()? {
            request = request.add_extra_param(name, value);
        }
        for (name, value) in options.extra() {
            request = request.add_extra_param(name.to_owned(), value.to_owned());
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url,
            pending: PendingSignIn {
                state: State::new(state.secret().clone()),
                pkce_verifier: PkceVerifier::new(pkce_verifier.secret().clone()),
                nonce: Nonce::new(nonce.secret().clone()),
                started_at: self.now(),
                return_to: None,
                way_in: None,
                max_age: options.max_age,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fit_options_are_sent() {
        let options = SignInOptions::sign_in()
            .with_identifiers([Identifier::Email, Identifier::Username, Identifier::Email])
            .with_login_hint("ada@example.com")
            .with_organization_id("org-a")
            .with_max_age(Duration::from_secs(300))
            .with_extra_param("one_time_token", "abc");
        let params = options.parameters().unwrap();
        assert!(params.contains(&("identifier", "email username".into())));
        assert!(params.contains(&("max_age", "300".into())));
        assert!(params.contains(&("organization_id", "org-a".into())));

        for reserved in RESERVED_PARAMETERS {
            assert_eq!(
                SignInOptions::sign_in().with_extra_param(reserved, "x").check(),
                Err(SignInOptionError::ReservedParameter(reserved.into()))
            );
        }
        let bad = [
            SignInOptions::sign_in().with_extra_param("a b", "x"),
            SignInOptions::sign_in().with_extra_param("a", ""),
            SignInOptions::sign_in()
                .with_extra_param("a", "x")
                .with_extra_param("a", "y"),
            SignInOptions::sign_in().with_login_hint("a\r\nb"),
            SignInOptions::sign_in().with_organization_id("org a"),
            SignInOptions::sign_in().with_organization_id(""),
        ];
        for options in bad {
            assert!(options.check().is_err(), "{options:?}");
        }
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
